// A real engine for tests and fuzz targets: the embedded default config's sim venues, a real
// RocksDB store under the config's data dir, the system clock (or a hook's); recovered and started. Hooks let
// a caller wrap the store (say, to slow its appends) or a venue adapter (a TapVenue) first.
// Errors come back as a status, so Catch tests REQUIRE it and fuzz targets FUZZ_CHECK it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/config.h"
#include "daemon/router_engine.h"
#include "tests/testing/tap_venue.h"
#include "daemon/venue_factory.h"
#include "exo/clock.h"
#include "store/delta_store.h"

namespace exo::testing {

// The embedded default config with its data in `dir` and its sim venues answering after
// `sim_latency_ms` (0: at once).
inline absl::StatusOr<exoroute::v1::DaemonConfig> TestNodeConfig(const std::string& dir, uint32_t sim_latency_ms = 0) {
  absl::StatusOr<exoroute::v1::DaemonConfig> c = daemon::LoadConfig("");
  if (!c.ok()) return c.status();
  c->set_data_dir(dir);
  for (auto& v : *c->mutable_venues()) v.mutable_sim()->set_latency_ms(sim_latency_ms);
  return c;
}

struct TestEngine {
  std::unique_ptr<store::DeltaStore> store;
  std::unique_ptr<daemon::RouterEngine> engine;  // Declared after the store: destroyed first.
};

struct TestEngineHooks {
  std::function<std::unique_ptr<store::DeltaStore>(std::unique_ptr<store::DeltaStore>)> store;
  std::function<void(std::vector<daemon::RouterEngine::Venue>*)> venues;
  Clock* clock = nullptr;  // The venues' and the engine's clock (null: the system clock).
};

// Hooks that wrap the config's first venue in a TapVenue (`*tap` points at it once started), so
// a test can report executions as that venue.
inline TestEngineHooks TapFirstVenue(TapVenue** tap) {
  TestEngineHooks hooks;
  hooks.venues = [tap](std::vector<daemon::RouterEngine::Venue>* venues) {
    auto wrapped = std::make_unique<TapVenue>(std::move((*venues)[0].adapter));
    *tap = wrapped.get();
    (*venues)[0].adapter = std::move(wrapped);
  };
  return hooks;
}

inline absl::StatusOr<TestEngine> StartTestEngine(const exoroute::v1::DaemonConfig& config,
                                                  const TestEngineHooks& hooks = {}) {
  store::StoreOptions so;
  so.path = config.data_dir() + "/db";
  so.node_id = config.node_id();
  absl::StatusOr<std::unique_ptr<store::DeltaStore>> s = store::OpenRocksDeltaStore(so);
  if (!s.ok()) return s.status();
  TestEngine t;
  t.store = hooks.store ? hooks.store(*std::move(s)) : *std::move(s);
  Clock* clock = hooks.clock != nullptr ? hooks.clock : SystemClock();
  absl::StatusOr<std::vector<daemon::RouterEngine::Venue>> venues = daemon::MakeVenues(config, clock);
  if (!venues.ok()) return venues.status();
  if (hooks.venues) hooks.venues(&*venues);
  t.engine = std::make_unique<daemon::RouterEngine>(config, t.store.get(), *std::move(venues), clock);
  if (absl::Status r = t.engine->Recover(); !r.ok()) return r;
  if (absl::Status r = t.engine->Start(); !r.ok()) return r;
  return t;
}

// The recorded input of plan `plan_id`'s first decision in `store` (NotFound without one,
// DataLoss when it is missing or does not parse).
inline absl::StatusOr<exoroute::v1::SolveInput> FirstDecisionInput(const store::DeltaStore& store,
                                                                   const std::string& plan_id) {
  absl::StatusOr<exoroute::v1::SolveInput> found = absl::NotFoundError(plan_id + ": no decision");
  absl::Status scanned = store.ScanPlan(plan_id, 1, [&](const exoroute::v1::PlanDelta& d, std::string_view) {
    if (!d.has_allocated()) return true;
    absl::StatusOr<std::string> raw = store.GetInputs(d.inputs_digest());
    exoroute::v1::SolveInput in;
    if (!raw.ok() || !in.ParseFromString(*raw)) {
      found = absl::DataLossError(plan_id + ": the first decision's inputs are missing or do not parse");
    } else {
      found = std::move(in);
    }
    return false;
  });
  if (!scanned.ok()) return scanned;
  return found;
}

}  // namespace exo::testing
