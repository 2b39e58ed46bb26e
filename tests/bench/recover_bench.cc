// Start-up on a long chain: how long RouterEngine::Recover takes when it reads the whole chain
// once to find the working plans and count the rest (the deltas were appended after the last
// checkpoint, as after a crash), how much stays in memory after it, how long the stop's
// checkpoint takes, and the next start from it. The chain is made of copies of two real plans
// (each created + allocated with its inputs) under new plan ids, appended in batches: a settled
// plan-only route, and one plan in a hundred an executing order still working (waiting for its
// limit price). N plans for N in the arguments. Prints the figures.
// Then a cluster node's start-up on a long history of executed GTC routes: how long
// ShortfallLedger::Load takes to find the open shortfall work among N route records (one in a
// hundred open), and how many it found.
// Usage: exo_recover_bench [plans ...]   (default: 10000 100000)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon/cluster/shortfall_ledger.h"
#include "daemon/config.h"
#include "daemon/router_engine.h"
#include "daemon/venue_factory.h"
#include "store/table_check.h"

using namespace exoroute::v1;  // NOLINT

namespace {

// The embedded default config with a new empty data directory, /tmp/<prefix>-XXXXXX.
DaemonConfig InFreshDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  auto config = *exo::daemon::LoadConfig("");
  config.set_data_dir(mkdtemp(tmpl.data()));
  return config;
}

std::unique_ptr<exo::store::DeltaStore> OpenStore(const DaemonConfig& config) {
  exo::store::StoreOptions so;
  so.path = config.data_dir() + "/db";
  so.node_id = config.node_id();
  auto s = exo::store::OpenRocksDeltaStore(so);
  if (!s.ok()) {
    std::fprintf(stderr, "store: %s\n", s.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(s);
}

std::unique_ptr<exo::daemon::RouterEngine> MakeEngine(const DaemonConfig& config, exo::store::DeltaStore* store) {
  auto venues = exo::daemon::MakeVenues(config, exo::SystemClock());
  if (!venues.ok()) std::exit(1);
  return std::make_unique<exo::daemon::RouterEngine>(config, store, *std::move(venues), exo::SystemClock());
}

// Resident memory of this process, MiB (Linux: /proc/self/status VmRSS).
double ResidentMiB() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  double kib = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "VmRSS: %lf kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib / 1024;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {10'000, 100'000};
  for (const int plans : sizes) {
    const DaemonConfig config = InFreshDir("exo-recover");
    auto store = OpenStore(config);
    {
      auto engine = MakeEngine(config, store.get());
      if (!engine->Recover().ok() || !engine->Start().ok()) return 1;
      ParentOrder o;
      o.set_id("template");
      o.set_symbol("BTC-USD");
      o.set_side(SIDE_BUY);
      o.set_quantity(300'000'000);
      o.set_time_in_force(TIME_IN_FORCE_GTC);
      if (!engine->Route(o, ROUTE_MODE_PLAN_ONLY).ok()) return 1;
      o.set_id("waiting");
      o.set_limit_price(100);  // Far below the market: it stays working.
      if (!engine->Route(o, ROUTE_MODE_EXECUTE).ok()) return 1;
    }
    auto copy_of = [&](const std::string& id) {
      std::vector<exo::store::PendingDelta> route;
      (void)store->ScanPlan(id, 1, [&](const PlanDelta& d, std::string_view) {
        exo::store::PendingDelta pd;
        pd.delta = d;
        pd.delta.clear_sequence();
        pd.delta.clear_prev_hash();
        pd.delta.clear_hash();
        if (!d.inputs_digest().empty()) pd.inputs = *store->GetInputs(d.inputs_digest());
        pd.delta.clear_inputs_digest();
        route.push_back(std::move(pd));
        return true;
      });
      return route;
    };
    const std::vector<exo::store::PendingDelta> settled = copy_of("template"), waiting = copy_of("waiting");
    const auto filling = std::chrono::steady_clock::now();
    std::vector<exo::store::PendingDelta> batch;
    for (int p = 1; p < plans; ++p) {
      for (const auto& d : p % 100 == 0 ? waiting : settled) {  // One plan in a hundred still working.
        batch.push_back(d);
        batch.back().delta.set_plan_id("plan-" + std::to_string(p));  // Only the id changes.
      }
      if (batch.size() >= 2000 || p + 1 == plans) {
        if (!store->Append(std::move(batch)).ok()) return 1;
        batch.clear();
      }
    }
    const double fill_s = Seconds(filling);
    const uint64_t deltas = store->Head().sequence();
    store.reset();
    // What the open's check of the tables RocksDB reads before checking (store/table_check.h)
    // takes of it, alone: the manifest read, then each listed table's footer, metaindex and
    // properties.
    const auto checking = std::chrono::steady_clock::now();
    const std::string db_dir = config.data_dir() + "/db";
    auto live = exo::store::LiveTableFiles(db_dir);
    if (!live.ok()) return 1;
    for (const uint64_t n : *live) {
      char name[32];
      std::snprintf(name, sizeof name, "/%06llu.sst", static_cast<unsigned long long>(n));
      if (!exo::store::CheckTableFile(db_dir + name).ok()) return 1;
    }
    const double check_s = Seconds(checking);
    const auto opening = std::chrono::steady_clock::now();
    store = OpenStore(config);
    const double open_s = Seconds(opening);
    std::printf("table check at open: %zu tables, %.1f ms (in the store open below)\n", live->size(), check_s * 1e3);
    auto engine = MakeEngine(config, store.get());
    const auto recovering = std::chrono::steady_clock::now();
    if (!engine->Recover().ok()) return 1;
    const double recover_s = Seconds(recovering);
    uint64_t total = 0, working = 0;
    engine->CountPlans(&total, &working);
    // What one settled plan takes in memory when read back (protobuf's own count, without the
    // record and map around it): what every plan held in memory would take.
    auto one = engine->GetPlan("plan-1");
    const double each = one.ok() ? static_cast<double>(one->SpaceUsedLong()) : 0;
    std::printf("%d plans, %llu deltas (appended in %.1f s): store open %.3f s, Recover %.3f s (%.2f us a delta); "
                "plans counted %llu, in memory after %llu, resident %.0f MiB; one plan read back %.0f bytes "
                "(all %d held: %.0f MiB)\n",
                plans, static_cast<unsigned long long>(deltas), fill_s, open_s, recover_s,
                recover_s * 1e6 / static_cast<double>(deltas), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(engine->PlansInMemory()), ResidentMiB(), each, plans,
                each * plans / (1 << 20));
    // The next start: the engine's stop left a checkpoint at the head, so Recover reads no delta.
    const auto stopping = std::chrono::steady_clock::now();
    engine.reset();
    const double stop_s = Seconds(stopping);
    engine = MakeEngine(config, store.get());
    const auto restarting = std::chrono::steady_clock::now();
    if (!engine->Recover().ok() || !engine->recovery().from_checkpoint) return 1;
    const double restart_s = Seconds(restarting);
    engine->CountPlans(&total, &working);
    std::printf("  stop (writes the checkpoint: %llu working plans) %.4f s; the next start, from it at sequence "
                "%llu: Recover %.4f s, %llu deltas read, plans counted %llu, working %llu\n",
                static_cast<unsigned long long>(working), stop_s,
                static_cast<unsigned long long>(engine->recovery().checkpoint_sequence), restart_s,
                static_cast<unsigned long long>(engine->recovery().deltas_read), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(engine->PlansInMemory()));
    engine.reset();
    store.reset();
    std::filesystem::remove_all(config.data_dir());
  }
  for (const int routes : sizes) {
    const DaemonConfig config = InFreshDir("exo-ledger");
    auto store = OpenStore(config);
    const auto filling = std::chrono::steady_clock::now();
    {
      auto ledger = exo::daemon::cluster::ShortfallLedger::Load(store.get());
      if (!ledger.ok()) return 1;
      for (int r = 0; r < routes; ++r) {
        ShortfallRecord record;
        ParentOrder& o = *record.mutable_order();
        o.set_id("route-" + std::to_string(r));
        o.set_symbol("BTC-USD");
        o.set_side(SIDE_BUY);
        o.set_quantity(300'000'000);
        o.set_time_in_force(TIME_IN_FORCE_GTC);
        o.set_limit_price(6'500'000);
        record.set_routed_by("desk-a");
        record.set_created_ns(1'700'000'000'000'000'000 + r);
        record.mutable_work()->set_coordinator("n1");
        record.mutable_work()->set_shortfall(r % 100 == 0 ? 100'000'000 : 0);  // One in a hundred still open.
        if (!(*ledger)->Open(std::move(record)).ok()) return 1;
      }
    }
    const double fill_s = Seconds(filling);
    store.reset();
    store = OpenStore(config);
    const auto loading = std::chrono::steady_clock::now();
    auto ledger = exo::daemon::cluster::ShortfallLedger::Load(store.get());
    if (!ledger.ok()) return 1;
    const double load_s = Seconds(loading);
    std::printf("cluster shortfall ledger: %d route records (written in %.1f s), Load %.4f s, open work found %zu\n",
                routes, fill_s, load_s, (*ledger)->open_count());
    ledger->reset();
    store.reset();
    std::filesystem::remove_all(config.data_dir());
  }
  return 0;
}
