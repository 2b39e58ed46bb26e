#include "tests/fuzz/fuzz_node.h"

#include <chrono>
#include <thread>

#include "daemon/config.h"
#include "daemon/venue_factory.h"
#include "exo/clock.h"
#include "tests/fuzz/fuzz_target.h"

namespace exo::fuzz {

const FuzzNode& Node(uint32_t sim_latency_ms) {
  static const FuzzNode node = [sim_latency_ms] {
    FuzzNode n;
    auto c = daemon::LoadConfig("");
    FUZZ_CHECK(c.ok(), "%s", c.status().ToString().c_str());
    n.config = *c;
    n.config.set_data_dir(DataDir());
    for (auto& v : *n.config.mutable_venues()) v.mutable_sim()->set_latency_ms(sim_latency_ms);
    store::StoreOptions so;
    so.path = DataDir() + "/db";
    so.node_id = n.config.node_id();
    auto s = store::OpenRocksDeltaStore(so);
    FUZZ_CHECK(s.ok(), "%s", s.status().ToString().c_str());
    n.store = s->release();
    auto venues = daemon::MakeVenues(n.config, SystemClock());
    FUZZ_CHECK(venues.ok(), "%s", venues.status().ToString().c_str());
    auto tap = std::make_unique<testing::TapVenue>(std::move((*venues)[0].adapter));
    n.sim_a = tap.get();
    (*venues)[0].adapter = std::move(tap);
    n.engine = new daemon::RouterEngine(n.config, n.store, *std::move(venues), SystemClock());
    FUZZ_CHECK(n.engine->Recover().ok() && n.engine->Start().ok(), "engine start");
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

}  // namespace exo::fuzz
