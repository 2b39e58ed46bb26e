#include "daemon/config_reload.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/config.h"
#include "daemon/decision_audit.h"
#include "daemon/governance.h"
#include "exo/clock.h"
#include "exo/deterministic.h"
#include "exo/sha256.h"
#include "google/protobuf/util/json_util.h"
#include "tests/testing/parent_order.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_engine.h"

namespace {

using exo::daemon::CheckReloadable;
using exo::daemon::ConfigReloader;
using exo::testing::TempDir;
using namespace exoroute::v1;  // NOLINT

constexpr int64_t kBtc = 100'000'000;

DaemonConfig Default() {
  absl::StatusOr<DaemonConfig> c = exo::daemon::LoadConfig("");
  REQUIRE(c.ok());
  return *c;
}

// The failure's message, or "" when `s` is OK.
std::string Why(const absl::Status& s) { return std::string(s.message()); }

// Writes `config` as JSON to `path`; false if it could not (no assertion: a test's worker
// thread calls it, and Catch2 v2 takes assertions from the test's own thread only).
bool WriteConfigFile(const std::string& path, const DaemonConfig& config) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(config, &json).ok()) return false;
  std::ofstream out(path);
  out << json;
  return static_cast<bool>(out);
}

void WriteConfig(const std::string& path, const DaemonConfig& config) { REQUIRE(WriteConfigFile(path, config)); }

ParentOrder Buy(const std::string& id, int64_t qty) { return exo::testing::BtcParentOrder(id, SIDE_BUY, qty); }

// The fee the input of `plan_id`'s first decision gave `venue` (-1 when it names no such venue).
double DecisionFee(const exo::store::DeltaStore& store, const std::string& plan_id, const std::string& venue) {
  absl::StatusOr<SolveInput> in = exo::testing::FirstDecisionInput(store, plan_id);
  REQUIRE(in.ok());
  for (const VenueInput& v : in->venues()) {
    if (v.venue() == venue) return v.fee_bps();
  }
  return -1;
}

// A node on the embedded default's sim venues whose config is the file `path`.
struct ReloadableNode {
  explicit ReloadableNode(const std::string& dir, const std::function<void(DaemonConfig*)>& configure = nullptr)
      : path(dir + "/exorouted.json") {
    absl::StatusOr<DaemonConfig> c = exo::testing::TestNodeConfig(dir);
    REQUIRE(c.ok());
    if (configure) configure(&*c);
    WriteConfig(path, *c);
    absl::StatusOr<DaemonConfig> loaded = exo::daemon::LoadConfig(path);  // As exorouted reads it.
    REQUIRE(loaded.ok());
    config = *loaded;
    absl::StatusOr<exo::testing::TestEngine> started = exo::testing::StartTestEngine(config);
    REQUIRE(started.ok());
    node = *std::move(started);
    // As exorouted records the config it starts with.
    REQUIRE(exo::daemon::RecordConfigApplied(config, *node.engine, *node.store).ok());
    reloader = std::make_unique<ConfigReloader>(path, node.engine.get(), node.store.get(), exo::SystemClock());
  }
  std::string path;
  DaemonConfig config;  // As started.
  exo::testing::TestEngine node;
  std::unique_ptr<ConfigReloader> reloader;
};

}  // namespace

TEST_CASE("a running node takes only risk limits, urgency bands, method, interval and venues' terms from a reload", "[config][reload]") {
  const DaemonConfig now = Default();
  DaemonConfig next = now;
  RiskLimit* limit = next.add_risk();
  limit->set_symbol("BTC-USD");
  limit->set_max_order_quantity(5 * kBtc);
  next.mutable_routing()->set_low_urgency_band_bps(7);
  next.mutable_routing()->set_normal_urgency_band_bps(3);
  next.mutable_venues(0)->set_taker_fee_bps(1.5);
  next.mutable_venues(1)->set_impact_bps(4);
  next.mutable_venues(2)->set_max_book_age_ms(900);
  next.mutable_routing()->set_method(SOLVER_METHOD_ADMM);
  next.mutable_routing()->set_replan_interval_ms(99);
  next.mutable_routing()->set_reject_backoff_ms(250);
  next.mutable_routing()->set_child_timeout_ms(2500);
  next.mutable_routing()->set_settle_approvals(2);
  next.mutable_store()->set_checkpoint_every_deltas(500);
  next.mutable_access()->add_trade("desk-a");  // Who may call what: put on, changed or taken off.
  CHECK(CheckReloadable(now, next).ok());
  CHECK(CheckReloadable(next, now).ok());
  CHECK(CheckReloadable(now, now).ok());

  // Each change below takes a restart: refused, naming it, whatever reloadable change is with it.
  struct Case {
    const char* what;
    std::function<void(DaemonConfig*)> change;
    const char* named;
  };
  const std::vector<Case> cases = {
      {"the API address", [](DaemonConfig* c) { c->mutable_listen()->set_address("127.0.0.1:1"); },
       "modified: listen.address: \"127.0.0.1:50551\" -> \"127.0.0.1:1\""},
      {"a venue added", [](DaemonConfig* c) { *c->add_venues() = c->venues(0); c->mutable_venues(3)->set_id("SIM-D"); },
       "added: venues[3]"},
      {"a venue removed", [](DaemonConfig* c) { c->mutable_venues()->RemoveLast(); }, "deleted: venues[2]"},
      {"a lot size", [](DaemonConfig* c) { c->mutable_venues(1)->mutable_markets(0)->set_lot_size(7); },
       "venues[1].markets[0].lot_size"},
      {"an instrument's scale", [](DaemonConfig* c) { c->mutable_instruments(0)->set_qty_scale(6); },
       "instruments[0].qty_scale"},
      {"a store bound", [](DaemonConfig* c) { c->mutable_store()->set_max_wal_mib(99); }, "store.max_wal_mib"},
      {"a sim venue's book", [](DaemonConfig* c) { c->mutable_venues(0)->mutable_sim()->set_depth(21); },
       "venues[0].sim.depth: 20 -> 21"},
      {"the node id", [](DaemonConfig* c) { c->set_node_id("node-2"); }, "node_id"},
  };
  for (const Case& c : cases) {
    DaemonConfig bad = next;
    c.change(&bad);
    const absl::Status s = CheckReloadable(now, bad);
    INFO(c.what << ": " << s);
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(Why(s).find(c.named) != std::string::npos);
    CHECK(Why(s).rfind("takes a restart: ", 0) == 0);
    CHECK(Why(s).find("nothing applied") != std::string::npos);
    // The reloadable changes that came with it are not what it names.
    CHECK(Why(s).find("modified: venues[0].taker_fee_bps") == std::string::npos);
    CHECK(Why(s).find("modified: risk") == std::string::npos);
  }
}

TEST_CASE("a reload puts new risk limits and fees in force for the next decision, recorded in the chain first",
          "[config][reload]") {
  TempDir dir;
  ReloadableNode n(dir.path());
  REQUIRE(n.node.engine->Route(Buy("before", 6 * kBtc), ROUTE_MODE_PLAN_ONLY).ok());
  CHECK(DecisionFee(*n.node.store, "before", "SIM-A") == 2.0);

  DaemonConfig next = n.config;
  RiskLimit* limit = next.add_risk();
  limit->set_symbol("BTC-USD");
  limit->set_max_order_quantity(5 * kBtc);
  next.mutable_venues(0)->set_taker_fee_bps(1.5);
  WriteConfig(n.path, next);

  // A dry run says what would change and changes nothing.
  const uint64_t head = n.node.store->Head().sequence();
  absl::StatusOr<ReloadConfigResponse> dry = n.reloader->Reload(/*dry_run=*/true, "by a test");
  REQUIRE(dry.ok());
  CHECK(dry->changed());
  CHECK(dry->sequence() == 0);
  CHECK(dry->change().find("modified: venues[0].taker_fee_bps: 2 -> 1.5") != std::string::npos);
  CHECK(dry->change().find("added: risk[0]") != std::string::npos);
  CHECK(n.node.store->Head().sequence() == head);
  CHECK(n.node.engine->config().venues(0).taker_fee_bps() == 2.0);
  CHECK(n.reloader->Status().reloads_applied() == 0);

  absl::StatusOr<ReloadConfigResponse> applied = n.reloader->Reload(/*dry_run=*/false, "by a test");
  REQUIRE(applied.ok());
  CHECK(applied->changed());
  CHECK(applied->path() == n.path);
  CHECK(applied->change() == dry->change());
  CHECK(applied->sequence() == head + 1);
  // The chain's event is the config now in force, stored whole with what changed.
  bool found = false;
  REQUIRE(n.node.store->Scan(applied->sequence(), applied->sequence(), [&](const PlanDelta& d, std::string_view) {
    found = true;
    CHECK(d.governance().kind() == GOVERNANCE_KIND_CONFIG_APPLIED);
    CHECK(d.governance().detail() == applied->change() + " (reloaded by a test)");
    absl::StatusOr<std::string> stored = n.node.store->GetInputs(d.inputs_digest());
    REQUIRE(stored.ok());
    CHECK(*stored == exo::SerializeDeterministic(n.node.engine->config()));
    return true;
  }).ok());
  CHECK(found);

  // The new limit refuses what the old one let through; the next decision prices SIM-A at 1.5.
  const absl::StatusOr<Plan> refused = n.node.engine->Route(Buy("after-big", 6 * kBtc), ROUTE_MODE_PLAN_ONLY);
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(Why(refused.status()).find("(risk[0].max_order_quantity)") != std::string::npos);
  REQUIRE(n.node.engine->Route(Buy("after", 2 * kBtc), ROUTE_MODE_PLAN_ONLY).ok());
  CHECK(DecisionFee(*n.node.store, "after", "SIM-A") == 1.5);
  CHECK(DecisionFee(*n.node.store, "after", "SIM-B") == 1.0);
  // The status the node reports.
  const ConfigStatus status = n.reloader->Status();
  CHECK(status.path() == n.path);
  CHECK(status.reloads_applied() == 1);
  CHECK(status.reloads_refused() == 0);
  CHECK(status.last_applied_ns() > 0);
  CHECK(status.digest() == exo::DigestToString(exo::Sha256Of(exo::SerializeDeterministic(next))));
  for (const auto& v : n.node.engine->VenueStatuses()) {
    if (v.venue() == "SIM-A") CHECK(v.fee_bps() == 1.5);
  }

  // The same file again: nothing to change, nothing recorded.
  const uint64_t later = n.node.store->Head().sequence();
  absl::StatusOr<ReloadConfigResponse> again = n.reloader->Reload(/*dry_run=*/false, "by a test");
  REQUIRE(again.ok());
  CHECK_FALSE(again->changed());
  CHECK(n.node.store->Head().sequence() == later);
  CHECK(n.reloader->Status().reloads_applied() == 1);
}

TEST_CASE("a reload that changes what takes a restart, or a file that does not load, applies nothing",
          "[config][reload]") {
  TempDir dir;
  ReloadableNode n(dir.path());
  const uint64_t head = n.node.store->Head().sequence();

  DaemonConfig next = n.config;
  next.mutable_venues(0)->set_taker_fee_bps(1.5);
  next.mutable_listen()->set_address("127.0.0.1:1");
  WriteConfig(n.path, next);
  absl::StatusOr<ReloadConfigResponse> r = n.reloader->Reload(false, "by a test");
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Why(r.status()).rfind(absl::StrCat("config ", n.path, ": takes a restart: modified: listen.address"), 0) == 0);
  CHECK(n.node.engine->config().venues(0).taker_fee_bps() == 2.0);  // Not even the fee.
  CHECK(n.node.store->Head().sequence() == head);
  ConfigStatus status = n.reloader->Status();
  CHECK(status.reloads_refused() == 1);
  CHECK(status.last_refused() == Why(r.status()));

  std::ofstream(n.path) << "{\"node_id\": ";
  r = n.reloader->Reload(false, "by a test");
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Why(r.status()).rfind(absl::StrCat("config ", n.path, ": not valid JSON"), 0) == 0);

  DaemonConfig unknown = n.config;  // A risk limit on an instrument the node does not have.
  unknown.add_risk()->set_symbol("DOGE-USD");
  unknown.mutable_risk(0)->set_max_order_quantity(1);
  WriteConfig(n.path, unknown);
  r = n.reloader->Reload(false, "by a test");
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Why(r.status()).find("risk[0].symbol") != std::string::npos);

  std::filesystem::remove(n.path);
  r = n.reloader->Reload(false, "by a test");
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Why(r.status()) == absl::StrCat("config ", n.path, ": No such file or directory"));
  CHECK(n.reloader->Status().reloads_refused() == 4);
  CHECK(n.node.store->Head().sequence() == head);
  CHECK(exo::SerializeDeterministic(n.node.engine->config()) == exo::SerializeDeterministic(n.config));

  // A good file again: applied, and the warning is gone.
  next.mutable_listen()->set_address(n.config.listen().address());
  WriteConfig(n.path, next);
  r = n.reloader->Reload(false, "by a test");
  REQUIRE(r.ok());
  CHECK(r->changed());
  status = n.reloader->Status();
  CHECK(status.reloads_applied() == 1);
  CHECK(status.last_refused().empty());

  // A node started on its embedded default has no file to read again.
  ConfigReloader embedded("", n.node.engine.get(), n.node.store.get(), exo::SystemClock());
  r = embedded.Reload(false, "by a test");
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Why(r.status()).find("embedded default config") != std::string::npos);
}

TEST_CASE("decisions made while the config is reloaded each read one whole config", "[config][reload]") {
  TempDir dir;
  ReloadableNode n(dir.path());
  // Two configs that differ in two venues' fees: a decision must see both fees of one of them.
  DaemonConfig a = n.config, b = n.config;
  b.mutable_venues(0)->set_taker_fee_bps(1.5);
  b.mutable_venues(1)->set_taker_fee_bps(0.5);
  std::atomic<bool> done{false};
  std::thread reloads([&] {
    for (int i = 0; !done.load(); ++i) {
      // (A test thread cannot REQUIRE: a failure shows as fees from neither config below.)
      if (WriteConfigFile(n.path, i % 2 == 0 ? b : a)) (void)n.reloader->Reload(false, "by a test");
    }
  });
  std::vector<std::string> ids;
  for (int i = 0; i < 150; ++i) {
    ids.push_back(absl::StrCat("o", i));
    const absl::StatusOr<Plan> p = n.node.engine->Route(Buy(ids.back(), kBtc), ROUTE_MODE_PLAN_ONLY);
    REQUIRE(p.ok());
  }
  done = true;
  reloads.join();
  int with_a = 0, with_b = 0;
  for (const std::string& id : ids) {
    const double fa = DecisionFee(*n.node.store, id, "SIM-A"), fb = DecisionFee(*n.node.store, id, "SIM-B");
    INFO(id << ": SIM-A " << fa << ", SIM-B " << fb);
    CHECK(((fa == 2.0 && fb == 1.0) || (fa == 1.5 && fb == 0.5)));
    (fa == 2.0 ? with_a : with_b) += 1;
  }
  INFO("decisions under the first config " << with_a << ", under the second " << with_b);
  CHECK(with_a + with_b == 150);
  CHECK(n.reloader->Status().reloads_refused() == 0);
}

TEST_CASE("a reloaded solver method decides the next decision, and a reloaded re-plan interval the next tick",
          "[config][reload]") {
  TempDir dir;
  // A minute between ticks: a GTT order's expiry (enforced by the tick) waits for it.
  ReloadableNode n(dir.path(), [](DaemonConfig* c) { c->mutable_routing()->set_replan_interval_ms(60'000); });
  REQUIRE(n.node.engine->Route(Buy("exact", kBtc), ROUTE_MODE_PLAN_ONLY).ok());
  ParentOrder gtt = Buy("gtt", kBtc);
  gtt.set_limit_price(100);  // Out of reach: it rests until it expires.
  gtt.set_time_in_force(TIME_IN_FORCE_GTT);
  gtt.set_expire_after_ms(50);
  REQUIRE(n.node.engine->Route(gtt, ROUTE_MODE_EXECUTE).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(n.node.engine->GetPlan("gtt")->status() == PLAN_STATUS_WORKING);  // No tick yet.

  DaemonConfig next = n.config;
  next.mutable_routing()->set_method(SOLVER_METHOD_ADMM);
  next.mutable_routing()->set_replan_interval_ms(10);
  WriteConfig(n.path, next);
  absl::StatusOr<ReloadConfigResponse> applied = n.reloader->Reload(/*dry_run=*/false, "by a test");
  REQUIRE(applied.ok());
  CHECK(applied->change().find("routing.method: SOLVER_METHOD_ADMM") !=
        std::string::npos);
  CHECK(applied->change().find("modified: routing.replan_interval_ms: 60000 -> 10") != std::string::npos);
  // The tick thread, woken, expires the order now, not a minute after its last wait began.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (n.node.engine->GetPlan("gtt")->status() == PLAN_STATUS_WORKING && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(n.node.engine->GetPlan("gtt")->status() == PLAN_STATUS_EXPIRED);

  REQUIRE(n.node.engine->Route(Buy("admm", kBtc), ROUTE_MODE_PLAN_ONLY).ok());
  CHECK(n.node.engine->GetPlan("exact")->last_solve().method() == SOLVER_METHOD_EXACT);
  CHECK(n.node.engine->GetPlan("admm")->last_solve().method() == SOLVER_METHOD_ADMM);
  absl::StatusOr<SolveInput> in = exo::testing::FirstDecisionInput(*n.node.store, "admm");
  REQUIRE(in.ok());
  CHECK(in->method() == SOLVER_METHOD_ADMM);  // Recorded: replay decides as it was decided.
  CHECK(exo::daemon::VerifyDecisions(*n.node.store, 0, 0).ok);
}

TEST_CASE("a reloaded checkpoint interval is the next tick's", "[config][reload]") {
  TempDir dir;
  ReloadableNode n(dir.path());  // 100 000 deltas between checkpoints: none in this test.
  const uint64_t at_start = n.node.engine->checkpoint_sequence();
  for (int i = 0; i < 5; ++i) REQUIRE(n.node.engine->Route(Buy(absl::StrCat("c", i), kBtc), ROUTE_MODE_PLAN_ONLY).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // Four ticks.
  CHECK(n.node.engine->checkpoint_sequence() == at_start);

  DaemonConfig next = n.config;
  next.mutable_store()->set_checkpoint_every_deltas(4);
  WriteConfig(n.path, next);
  absl::StatusOr<ReloadConfigResponse> applied = n.reloader->Reload(/*dry_run=*/false, "by a test");
  REQUIRE(applied.ok());
  CHECK(applied->change() == "modified: store.checkpoint_every_deltas: 100000 -> 4");
  const uint64_t head = n.node.store->Head().sequence();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (n.node.engine->checkpoint_sequence() < head && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(n.node.engine->checkpoint_sequence() >= head);
}
