// FixVenue: order entry at a venue over a FIX 4.4 session (QuickFIX, via exo_fix).
//
// Child orders go out as NewOrderSingle (limit, the configured TimeInForce, IOC by default);
// ExecutionReports come back as fills (ExecType F: LastQty/LastPx, parsed exactly) and, on a
// terminal OrdStatus (filled, cancelled, rejected, expired), as the child's completion with its
// unfilled quantity and reason. Session state drives the adapter state (UP while logged on), so a
// dropped session stops the router sending here and routes continue elsewhere. The venue's book
// comes from another adapter (VenueConfig.book_from). Thread-safe; events arrive on QuickFIX's
// threads.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "adapters/fix/fix_engine.h"
#include "adapters/venue_adapter.h"
#include "adapters/ws/l2_book.h"
#include "exo/clock.h"
#include "exo/log.h"
#include "exoroute/v1/config.pb.h"

namespace exo::adapters {

class FixVenue final : public VenueAdapter {
 public:
  // A book refused an entry: its snapshot is asked for at once, then again as the venue's
  // messages for it keep coming, after this doubled for each ask in a row, at most the second.
  static constexpr int kSnapshotAskMs = 250;
  static constexpr int kMaxSnapshotAskMs = 30'000;
  struct Options {
    std::string venue_id;
    exoroute::v1::FixVenueConfig config;
    std::vector<exoroute::v1::Instrument> instruments;
    double fee_bps = 0;
    std::string store_dir;  // QuickFIX FileStore: sequence numbers survive restarts.
    Clock* clock = nullptr;  // Receive times of market data.
    // Makes the FIX session (default: fix::FixClient::Create). Tests put a client without a
    // socket here and drive its callbacks with fix::DeliverRawMessage.
    std::function<std::unique_ptr<fix::FixClient>(const fix::SessionConfig&, fix::FixClient::Callbacks,
                                                  std::string* error)>
        client_factory;
  };

  explicit FixVenue(Options options);
  ~FixVenue() override;

  const std::string& venue_id() const override { return options_.venue_id; }
  std::string kind() const override { return "fix"; }
  absl::Status Start(EventSink sink) override;
  void Stop() override;
  exoroute::v1::AdapterState state() const override;
  std::shared_ptr<const exoroute::v1::VenueBook> Book(std::string_view symbol) const override;
  std::string BookProblem(std::string_view symbol) const override;
  absl::Status Send(const exoroute::v1::ChildOrder& child, std::string_view symbol) override;
  absl::Status Cancel(std::string_view cl_ord_id) override;
  std::string detail() const override;
  bool can_reconcile() const override { return true; }
  absl::Status Reconcile(const exoroute::v1::ChildOrder& child, std::string_view symbol,
                         int64_t filled) override;
  absl::Status AskStatus(std::string_view cl_ord_id) override;
  uint64_t children_sent() const override;
  uint64_t fills() const override;
  void SetFeeBps(double fee_bps) override { fee_bps_.store(fee_bps); }

 private:
  struct Open {
    exoroute::v1::ChildOrder child;
    std::string symbol;
    int64_t reported = 0;  // Quantity already reported as fills.
    // A fill was taken from a report's CumQty (TakeUnreported): a fill report arriving after it
    // counts only for what its own CumQty adds (UncountedQuantity).
    bool counted_by_cum = false;
  };
  void OnReport(const fix::ExecReport& r);
  // The fill `r` reports, of `quantity` at `price`, with the adapter's fee.
  ExecutionEvent FillEvent(const fix::ExecReport& r, const exoroute::v1::Instrument& inst, int64_t quantity,
                           int64_t price, std::string exec_id) const;
  // A fill (ExecType F) of an order this session does not hold: to the engine with the venue's
  // CumQty (ExecutionEvent::cum_quantity), or refused if unreadable or of a symbol not traded here.
  void TakeUnheldFill(const fix::ExecReport& r);
  // What `r` counts filled (CumQty) beyond `reported`, as one fill at the order's average price
  // (AvgPx) with exec id `exec_id_prefix` + ExecID (refused if unreadable): a fill whose own
  // report was lost. Returns what is reported now.
  int64_t TakeUnreported(const fix::ExecReport& r, const exoroute::v1::Instrument& inst, int64_t reported,
                         std::string_view exec_id_prefix);
  // Of a fill of `last_qty` reported after a CumQty was taken, or after the order's end (with
  // `reported` recorded by then): what is not counted yet (0: that CumQty counted it all).
  int64_t UncountedQuantity(const fix::ExecReport& r, const exoroute::v1::Instrument& inst, int64_t last_qty,
                           int64_t reported);
  // An execution report no plan can take (unknown order, unreadable fill): to the engine as kUnknown.
  void Refuse(const std::string& cl_ord_id, std::string why);
  void OnMarketData(const std::string& snapshot_symbol, const std::vector<fix::MdEntry>& entries);
  // A heartbeat from the venue: books still waiting for a snapshot are asked for one again once
  // their back-off has passed, so that a symbol whose messages stopped is not left unusable.
  void OnHeartbeat();
  // Of `symbols`, those whose book waits for a snapshot (none since logon, or an entry refused)
  // and may be asked for one now; each one's next ask backs off. Under mu_.
  std::vector<std::string> DueSnapshotAsks(const std::vector<std::string>& symbols,
                                           std::chrono::steady_clock::time_point now);
  // A snapshot-only MarketDataRequest for `symbols` (none: nothing sent).
  void AskSnapshots(const std::vector<std::string>& symbols);
  void SendPendingStatusRequests();
  const exoroute::v1::Instrument* InstrumentOf(const std::string& symbol) const;

  Options options_;
  std::atomic<double> fee_bps_;  // options_.fee_bps until SetFeeBps.
  std::unique_ptr<fix::FixClient> client_;
  EventSink sink_;
  mutable std::mutex mu_;
  // "FIX session down": at each failed logon while the venue is away, so one a minute at most.
  RepeatedWarning down_warning_;
  std::map<std::string, Open> open_;  // By ClOrdID. Guarded by mu_.
  // The last kEndedKept orders the venue reported ended, by ClOrdID, and their ids oldest first:
  // a fill reported after the end is still recognised. Guarded by mu_.
  static constexpr size_t kEndedKept = 4096;
  std::map<std::string, Open> ended_;
  std::deque<std::string> ended_order_;
  std::vector<std::string> pending_status_;  // To ask where they stand once logged on. Guarded by mu_.
  struct MdBook {
    ws::L2Book book;
    bool snapshot = false;  // A W has arrived since the last logon.
    int64_t receive_ns = 0;
    uint64_t updates = 0;
    // Set when an entry was refused (unreadable, price <= 0, size < 0, beyond 2^53 units): the
    // book no longer mirrors the venue's and is not routed on until the next snapshot.
    std::string refused;
    // Snapshots asked for since the last one taken, and when one may be asked again (at logon:
    // kMaxSnapshotAskMs on, the subscription having asked for one).
    uint32_t asks_in_a_row = 0;
    std::chrono::steady_clock::time_point next_ask;
  };
  std::map<std::string, MdBook> md_;  // By symbol, with market_data. Guarded by mu_.
  uint64_t snapshot_requests_ = 0;     // Snapshots asked for to rebuild a book. Guarded by mu_.
  bool started_ = false;
  uint64_t sent_ = 0, fills_ = 0;
};

}  // namespace exo::adapters
