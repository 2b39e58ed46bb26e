// What resting limit orders cost a node: the engine's tick looks at every working plan (each
// routing.replan_interval_ms, 50 ms here); N executing buy orders wait with their limit far below
// the market on the embedded default's three simulated venues. Prints the process's CPU (as a
// share of one core) over two seconds for each N, and the re-plan decisions made meanwhile.
// Usage: exo_waiting_plans_bench [N ...]   (default: 0 1000 5000 20000)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "daemon/config.h"
#include "daemon/router_engine.h"
#include "daemon/venue_factory.h"

using namespace exoroute::v1;  // NOLINT

namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {0, 1000, 5000, 20000};
  char tmpl[] = "/tmp/exo-waiting-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  auto config = *exo::daemon::LoadConfig("");
  config.set_data_dir(dir);
  exo::store::StoreOptions so;
  so.path = dir + "/db";
  so.node_id = config.node_id();
  auto store = exo::store::OpenRocksDeltaStore(so);
  auto venues = exo::daemon::MakeVenues(config, exo::SystemClock());
  if (!store.ok() || !venues.ok()) return 1;
  exo::daemon::RouterEngine engine(config, store->get(), *std::move(venues), exo::SystemClock());
  if (!engine.Recover().ok() || !engine.Start().ok()) return 1;
  int made = 0;
  for (const int n : sizes) {
    for (; made < n; ++made) {
      ParentOrder o;
      o.set_id("waiting-" + std::to_string(made));
      o.set_symbol("BTC-USD");
      o.set_side(SIDE_BUY);
      o.set_quantity(100'000'000);
      o.set_limit_price(100);  // 1.00 against a market near 65000.00: it waits.
      o.set_time_in_force(TIME_IN_FORCE_GTC);
      if (!engine.Route(o, ROUTE_MODE_EXECUTE).ok()) return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const uint64_t replans = engine.decision_latency(true).Read().count;
    const double cpu = CpuSeconds();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    std::printf("%6d waiting plans: CPU %.1f %% of a core, %llu re-plan decisions in 2 s\n", n,
                (CpuSeconds() - cpu) / 2 * 100,
                static_cast<unsigned long long>(engine.decision_latency(true).Read().count - replans));
  }
  engine.Stop();
  std::filesystem::remove_all(dir);
  return 0;
}
