#include "tests/fuzz/fuzz_node.h"

#include <chrono>
#include <thread>

#include "daemon/cluster/shortfall_ledger.h"
#include "exo/clock.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/testing/test_engine.h"

namespace exo::fuzz {

const FuzzNode& Node(uint32_t sim_latency_ms) {
  static const FuzzNode node = [sim_latency_ms] {
    FuzzNode n;
    auto c = testing::TestNodeConfig(DataDir(), sim_latency_ms);
    FUZZ_CHECK(c.ok(), "%s", c.status().ToString().c_str());
    n.config = *c;
    testing::TestEngineHooks hooks;
    hooks.venues = [&n](std::vector<daemon::RouterEngine::Venue>* venues) {
      auto tap = std::make_unique<testing::TapVenue>(std::move((*venues)[0].adapter));
      n.sim_a = tap.get();
      (*venues)[0].adapter = std::move(tap);
    };
    auto started = testing::StartTestEngine(n.config, hooks);
    FUZZ_CHECK(started.ok(), "%s", started.status().ToString().c_str());
    n.store = started->store.release();
    n.engine = started->engine.release();
    exoroute::v1::ParentOrder probe;
    probe.set_symbol("BTC-USD");
    probe.set_side(exoroute::v1::SIDE_BUY);
    for (int i = 0; i < 300; ++i) {
      auto in = n.engine->SnapshotInput(probe, exoroute::v1::ROUTE_MODE_PLAN_ONLY);
      int with_book = 0;
      if (in.ok()) {
        for (const auto& v : in->venues()) with_book += v.book().receive_time_ns() > 0 ? 1 : 0;
        if (with_book == in->venues_size()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return n;
  }();
  return node;
}

daemon::cluster::ClusterNode& Cluster() {
  static daemon::cluster::ClusterNode* node = [] {
    const FuzzNode& n = Node();
    auto keys = daemon::cluster::PairKeys::Generate(n.config.node_id());
    FUZZ_CHECK(keys.ok(), "%s", keys.status().ToString().c_str());
    auto* k = keys->release();
    auto* directory = new daemon::cluster::KeyDirectory(k, 1000);
    auto* cluster = new daemon::cluster::ClusterNode(n.engine, k, directory, exoroute::v1::PrivacyConfig(), n.store,
                                                     SystemClock());
    // Its notices of cancels and new terms are kept as a daemon keeps them.
    auto ledger = daemon::cluster::ShortfallLedger::Load(n.store);
    FUZZ_CHECK(ledger.ok(), "%s", ledger.status().ToString().c_str());
    cluster->SetShortfallLedger(ledger->release());
    return cluster;
  }();
  return *node;
}

}  // namespace exo::fuzz
