// Re-plan delta size on real engine runs: 16 simulated venues with latency (books move while
// children travel), a RocksDB store in a temp dir, parent orders from a quarter of the
// displayed depth to 2.5 times it, executed to completion. For every re-plan delta, its canonical size is compared with the same
// decision recorded as a full plan (re-solved from the recorded inputs). Prints the figures.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "daemon/config.h"
#include "daemon/router_engine.h"
#include "daemon/venue_factory.h"
#include "solver/solver.h"
#include "store/delta_codec.h"

using namespace exoroute::v1;  // NOLINT

int main() {
  char tmpl[] = "/tmp/exo-replan-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto config = *exo::daemon::LoadConfig("");
  config.set_data_dir(dir);
  config.mutable_routing()->set_replan_interval_ms(5);
  VenueConfig proto_venue = config.venues(0);
  config.clear_venues();
  for (int i = 0; i < 16; ++i) {
    VenueConfig v = proto_venue;
    char id[16];
    std::snprintf(id, sizeof(id), "SIM-%02d", i);
    v.set_id(id);
    v.set_taker_fee_bps(0.5 * (i % 6));
    v.mutable_sim()->set_seed(100 + i);
    v.mutable_sim()->set_mid_price(6500000 + 50 * (i % 5));
    v.mutable_sim()->set_level_size(5000000 + 1000000 * (i % 7));
    // Books move while children travel, so some come back partly filled and the rest re-plans.
    v.mutable_sim()->set_latency_ms(4 + i % 5);
    v.mutable_sim()->set_update_interval_ms(5);
    *config.add_venues() = v;
  }
  exo::store::StoreOptions so;
  so.path = dir + "/db";
  so.node_id = config.node_id();
  auto store = *exo::store::OpenRocksDeltaStore(so);
  auto venues = *exo::daemon::MakeVenues(config, exo::SystemClock());
  exo::daemon::RouterEngine engine(config, store.get(), std::move(venues), exo::SystemClock());
  if (!engine.Recover().ok() || !engine.Start().ok()) return 1;

  const int kOrders = 20;
  for (int n = 0; n < kOrders; ++n) {
    ParentOrder o;
    o.set_id("replan-" + std::to_string(n));
    o.set_symbol("BTC-USD");
    o.set_side(n % 2 ? SIDE_SELL : SIDE_BUY);
    // A quarter of what the 16 books show to 2.5 times it.
    o.set_quantity(n % 4 == 3 ? 3000000000 : 300000000 + 100000000 * n);
    o.set_time_in_force(TIME_IN_FORCE_GTC);
    if (!engine.Route(o, ROUTE_MODE_EXECUTE).ok()) return 1;
    uint32_t seen = 0;
    for (int i = 0; i < 2000; ++i) {
      auto p = engine.AwaitVersion(o.id(), seen, absl::Milliseconds(100));
      if (!p.ok() || p->settled) break;
      seen = p->version;
    }
  }
  engine.Stop();

  std::vector<size_t> replan, full, first;
  (void)store->Scan(1, 0, [&](const PlanDelta& d, std::string_view canonical) {
    if (!d.has_allocated()) return true;
    if (!d.allocated().replan()) {
      first.push_back(canonical.size());
      return true;
    }
    SolveInput in;
    in.ParseFromString(*store->GetInputs(d.inputs_digest()));
    auto decision = exo::solver::Solve(in);
    PlanDelta as_full = d;
    as_full.clear_hash();
    as_full.clear_prev_hash();
    *as_full.mutable_allocated() = exo::solver::ToPlanAllocated(*decision, in.previous(), false);
    replan.push_back(canonical.size());
    full.push_back(exo::store::EncodeCanonical(as_full).size());
    return true;
  });
  auto median = [](std::vector<size_t> v) {
    if (v.empty()) return size_t{0};
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("orders %d, first allocations %zu (median %zu bytes), re-plans %zu\n", kOrders,
              first.size(), median(first), replan.size());
  auto pct = [](size_t a, size_t b) { return b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  std::printf("re-plan delta: median %zu bytes = %.0f%% of a first (full) allocation, %.0f%% of the "
              "same decision recorded as a replacement (median %zu bytes)\n",
              median(replan), pct(median(replan), median(first)), pct(median(replan), median(full)),
              median(full));
  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
