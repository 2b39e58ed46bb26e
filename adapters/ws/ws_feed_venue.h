// WsFeedVenue: a market-data-only venue whose books come from an exchange WebSocket feed
// (Binance spot diff depth with REST snapshots, or Coinbase level2).
//
// It keeps one synced L2Book per configured market, resyncs by itself (Binance: a new REST
// snapshot; Coinbase: reconnect and re-subscribe) after a gap, a crossed book or a disconnect,
// and says why a book is unusable meanwhile (BookProblem), so the router excludes it with that
// reason and takes it back once in sync. Malformed frames are counted and logged, never fatal.
// It takes no orders. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/venue_adapter.h"
#include "adapters/ws/book_sync.h"
#include "adapters/ws/feed_connection.h"
#include "adapters/ws/feed_parser.h"
#include "exo/clock.h"
#include "exo/log.h"
#include "exoroute/v1/config.pb.h"

namespace exo::adapters::ws {

class WsFeedVenue final : public VenueAdapter {
 public:
  // A failed Binance snapshot is fetched again after this, doubled for each failure in a row.
  static constexpr int kSnapshotRetryMs = 250;
  static constexpr int kMaxSnapshotRetryMs = 30'000;
  struct Market {
    exoroute::v1::Instrument instrument;
    std::string feed_symbol;
  };
  struct Options {
    std::string venue_id;
    exoroute::v1::WsFeedConfig config;
    std::vector<Market> markets;
    Clock* clock = nullptr;
  };

  explicit WsFeedVenue(Options options);
  ~WsFeedVenue() override;

  const std::string& venue_id() const override { return options_.venue_id; }
  std::string kind() const override { return "ws_feed"; }
  absl::Status Start(EventSink sink) override;
  void Stop() override;
  exoroute::v1::AdapterState state() const override;
  std::shared_ptr<const exoroute::v1::VenueBook> Book(std::string_view symbol) const override;
  std::string BookProblem(std::string_view symbol) const override;
  bool can_trade() const override { return false; }
  std::string detail() const override;
  absl::Status Send(const exoroute::v1::ChildOrder&, std::string_view) override;
  absl::Status Cancel(std::string_view) override;
  uint64_t children_sent() const override { return 0; }
  uint64_t fills() const override { return 0; }

  uint64_t malformed_frames() const;
  uint64_t resyncs() const;

 private:
  struct Feed {
    Market market;
    Scales scales;
    BinanceBookSync binance;
    CoinbaseBookSync coinbase;
    int64_t last_update_ns = 0;
    uint64_t updates = 0;
    mutable std::shared_ptr<const exoroute::v1::VenueBook> cached;  // Rebuilt when stale.
    mutable uint64_t cached_at = UINT64_MAX;
    // Binance: snapshots that failed in a row (fetch, parse or sync) since the last good one,
    // the last one's reason, and when the worker fetches again (retry_pending).
    uint32_t snapshot_failures = 0;
    std::string snapshot_error;
    bool retry_pending = false;
    std::chrono::steady_clock::time_point retry_at;
  };

  bool binance() const;
  void OnOpen();
  void OnFrame(std::string_view frame);
  void OnClose(const absl::Status& why);
  // Queues a REST snapshot fetch for the snapshot worker (one thread, so resyncs never pile up
  // threads in a long-running daemon).
  void FetchSnapshot(const std::string& feed_symbol);
  // Fetches the queued snapshots; one that fails (the fetch, its parse, or a snapshot the
  // stream cannot carry on from) is fetched again after kSnapshotRetryMs, doubled for each
  // failure in a row up to kMaxSnapshotRetryMs, while the book still waits for one.
  void SnapshotWorker();
  // What the worker does with the answer to a snapshot fetch of `f` (under mu_).
  void TakeSnapshot(Feed& f, const std::string& url, const absl::StatusOr<std::string>& body, FeedParser& parser);
  SyncState StateOf(const Feed& f) const;
  Feed* FindByFeedSymbol(const std::string& s);
  const Feed* FindBySymbol(std::string_view symbol) const;

  Options options_;
  std::unique_ptr<FeedConnection> connection_;
  FeedParser parser_;  // Used only on the connection thread.
  std::map<std::string, Scales> scales_;  // By feed symbol.

  mutable std::mutex mu_;
  std::map<std::string, Feed> feeds_;  // By feed symbol. Guarded by mu_.
  bool connected_ = false, started_ = false, stopping_ = false;
  std::string last_close_;
  // "feed connection ended": at each failed reconnect while the feed is away, so one a minute at most.
  RepeatedWarning close_warning_;
  // "malformed frame ignored": a feed sending garbage would write a line per frame (status counts them all).
  RepeatedWarning malformed_warning_;
  uint64_t malformed_ = 0, resyncs_ = 0;
  std::condition_variable snapshot_cv_;
  std::deque<std::string> snapshot_queue_;  // Feed symbols to fetch. Guarded by mu_.
  std::thread snapshot_thread_;
};

}  // namespace exo::adapters::ws
