// SimVenue: a simulated venue for development, demos and tests.
//
// Per symbol it keeps a synthetic L2 book driven by a seeded generator: every update interval
// the levels are redrawn around a mid that is the market's starting mid, plus the symbol's common
// move (SimCommonPrice, shared by the node's sim venues of that symbol, so that they move
// together as real venues do), plus the venue's own deviation: a walk of -1, 0 or +1 tick a step
// that stays within `spread_ticks` of the common price (so venues starting at one mid are never
// crossed against each other, at most locked). Each symbol has its own mid, tick and level size
// where the market sets them. With a clock that stands still, the same seed gives the same book
// path step for step. Alternatively it serves fixed book snapshots loaded from a
// file. Child orders (limit IOC) are matched against the current book after the configured
// latency: they fill level by level up to their limit (partial fills), consume the liquidity
// they take until the next book move, pay the venue's taker fee, and the unfilled remainder is
// cancelled. One thread per venue does both the book moves and the matching.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sim/sim_common_price.h"
#include "adapters/venue_adapter.h"
#include "exo/clock.h"
#include "exoroute/v1/config.pb.h"

namespace exo::adapters {

// How often a sim venue's books move: its config's update interval, 0 = 100 ms.
int64_t UpdateIntervalMs(const exoroute::v1::SimVenueConfig& config);

class SimVenue final : public VenueAdapter {
 public:
  struct Options {
    std::string venue_id;
    exoroute::v1::SimVenueConfig config;
    std::vector<exoroute::v1::Instrument> instruments;  // The symbols this venue trades.
    // Lot size per symbol: displayed sizes are whole lots, as on a real venue (default 1).
    std::map<std::string, int64_t> lot_sizes;
    // Per symbol, where a market's book differs from `config` (MarketConfig.sim; 0 = config's).
    std::map<std::string, exoroute::v1::SimMarketConfig> market_sim;
    // Per symbol, the common move shared with the node's other sim venues of it; a symbol without
    // one gets a walk of its own (seed, tick and update interval of this venue).
    std::map<std::string, std::shared_ptr<SimCommonPrice>> common_prices;
    double fee_bps = 0;
    Clock* clock = nullptr;
    // When non-empty: serve these books (by symbol) instead of synthetic ones.
    std::map<std::string, exoroute::v1::VenueBook> fixed_books;
  };

  explicit SimVenue(Options options);
  ~SimVenue() override;

  const std::string& venue_id() const override { return options_.venue_id; }
  std::string kind() const override { return "sim"; }
  absl::Status Start(EventSink sink) override;
  void Stop() override;
  exoroute::v1::AdapterState state() const override;
  std::shared_ptr<const exoroute::v1::VenueBook> Book(std::string_view symbol) const override;
  absl::Status Send(const exoroute::v1::ChildOrder& child, std::string_view symbol) override;
  absl::Status Cancel(std::string_view cl_ord_id) override;
  uint64_t children_sent() const override;
  uint64_t fills() const override;
  void SetFeeBps(double fee_bps) override { fee_bps_.store(fee_bps); }

  // Moves every book one step. Called by the venue's thread; callable directly before Start.
  void Step();

 private:
  struct Market {
    exoroute::v1::Instrument instrument;
    int64_t start = 0, tick = 0, level_size = 0, lot = 1;  // This market's, resolved at construction.
    std::shared_ptr<SimCommonPrice> common;
    int64_t own = 0;  // The venue's deviation from the common price, in ticks.
    int64_t mid = 0;
    std::shared_ptr<exoroute::v1::VenueBook> book;
  };
  struct Pending {
    std::chrono::steady_clock::time_point due;
    exoroute::v1::ChildOrder child;
    std::string symbol;
  };

  void Run();
  void StepLocked();
  void RedrawLocked(Market& m);
  std::vector<ExecutionEvent> MatchLocked(const Pending& p);

  Options options_;
  std::atomic<double> fee_bps_;  // options_.fee_bps until SetFeeBps.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Market> markets_;  // Guarded by mu_.
  std::vector<Pending> pending_;           // Guarded by mu_.
  std::mt19937_64 rng_;                    // Guarded by mu_.
  uint64_t steps_ = 0, exec_seq_ = 0, sent_ = 0, fills_ = 0;
  bool running_ = false, stopping_ = false;
  EventSink sink_;
  std::thread thread_;
};

}  // namespace exo::adapters
