// Amending a working plan's order (RouterEngine::Amend, RouterService.AmendPlan): the new terms
// are recorded before anything is decided on them, a plan never promises back what it has
// filled or sent, the order's checks and risk limits apply to the new terms, and a restart
// brings the amended plan back as it was.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <thread>

#include "daemon/decision_audit.h"
#include "daemon/plan_fold.h"
#include "daemon/router_engine.h"
#include "exo/deterministic.h"
#include "exo/fixed_point.h"
#include "absl/strings/str_cat.h"
#include "solver/solver.h"
#include "store/delta_codec.h"
#include "tests/testing/tap_venue.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_engine.h"

using exo::daemon::RouterEngine;
using exo::testing::TempDir;
using namespace exoroute::v1;  // NOLINT

namespace {

constexpr int64_t kBtc = 100'000'000;

ParentOrder BtcOrder(const std::string& id, Side side, int64_t qty) {
  ParentOrder o;
  o.set_id(id);
  o.set_symbol("BTC-USD");
  o.set_side(side);
  o.set_quantity(qty);
  o.set_time_in_force(TIME_IN_FORCE_GTC);
  return o;
}

RouterEngine::Amendment Quantity(int64_t qty, std::string reason = "") {
  RouterEngine::Amendment a;
  a.quantity = qty;
  a.reason = std::move(reason);
  return a;
}

RouterEngine::Amendment Limit(int64_t price) {
  RouterEngine::Amendment a;
  a.limit_price = price;
  return a;
}

// Waits on the engine (not a sleep) until the plan settles.
Plan WaitSettled(RouterEngine& engine, const std::string& id) {
  uint32_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto p = engine.AwaitVersion(id, seen, absl::Milliseconds(200));
    REQUIRE(p.ok());
    if (p->settled) break;
    seen = p->version;
  }
  auto plan = engine.GetPlan(id);
  REQUIRE(plan.ok());
  return *plan;
}

// The plan's deltas in the store, by kind name.
std::vector<PlanDelta> StoredDeltas(const exo::store::DeltaStore& store, const std::string& id) {
  std::vector<PlanDelta> out;
  REQUIRE(store.ScanPlan(id, 1, [&](const PlanDelta& d, std::string_view) {
                 out.push_back(d);
                 return true;
               }).ok());
  return out;
}

// The lowest ask among the node's BTC-USD books now.
int64_t BestAsk(RouterEngine& engine) {
  auto books = engine.SnapshotInput(BtcOrder("probe", SIDE_BUY, kBtc), ROUTE_MODE_EXECUTE);
  REQUIRE(books.ok());
  int64_t lowest = 0;
  for (const auto& v : books->venues()) {
    if (!v.book().asks().empty()) lowest = lowest == 0 ? v.book().asks(0).price() : std::min(lowest, v.book().asks(0).price());
  }
  REQUIRE(lowest > 0);
  return lowest;
}

// The version of the plan's amendment (the first), from its stored deltas.
uint32_t AmendedAt(const exo::store::DeltaStore& store, const std::string& id) {
  for (const PlanDelta& d : StoredDeltas(store, id)) {
    if (d.has_amended()) return d.plan_version();
  }
  FAIL("plan " << id << " has no amendment");
  return 0;
}

// The plan's children sent after its version `v` (a child's ClOrdID ends with the version of
// the delta that sent it).
std::vector<ChildState> ChildrenAfter(const Plan& p, uint32_t v) {
  std::vector<ChildState> out;
  for (const ChildState& c : p.children()) {
    const std::string& id = c.order().cl_ord_id();
    if (std::stoul(id.substr(id.rfind('.') + 1)) > v) out.push_back(c);
  }
  return out;
}

// A node whose books move every 20 ms and whose plans are looked at every 10 ms.
std::optional<exo::testing::TestEngine> StartFastNode(const std::string& dir, uint32_t sim_latency_ms = 0) {
  auto config = exo::testing::TestNodeConfig(dir, sim_latency_ms);
  REQUIRE(config.ok());
  for (auto& v : *config->mutable_venues()) v.mutable_sim()->set_update_interval_ms(20);
  config->mutable_routing()->set_replan_interval_ms(10);
  auto started = exo::testing::StartTestEngine(*config);
  REQUIRE(started.ok());
  return *std::move(started);
}

// A node whose first venue (SIM-A) reports what a test tells it to, its children staying open
// (sim latency one minute) until then.
struct TapNode {
  explicit TapNode(const std::string& dir, const std::function<void(DaemonConfig*)>& configure = nullptr) {
    auto c = exo::testing::TestNodeConfig(dir, /*sim_latency_ms=*/60'000);
    REQUIRE(c.ok());
    config = *c;
    if (configure) configure(&config);
    Open();
  }
  void Open() {
    auto started = exo::testing::StartTestEngine(config, exo::testing::TapFirstVenue(&venue));
    REQUIRE(started.ok());
    store = std::move(started->store);
    engine = std::move(started->engine);
  }
  void Close() {
    engine.reset();
    store.reset();
  }
  // Routes `order` at SIM-A alone, once its book is up; one child open.
  Plan RouteAtTap(ParentOrder order) {
    order.add_allowed_venues(venue->venue_id());
    absl::StatusOr<Plan> plan;
    for (int i = 0; i < 200; ++i) {
      plan = engine->Route(order, ROUTE_MODE_EXECUTE);
      if (plan.ok() && plan->children_size() > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(plan.ok());
    REQUIRE(plan->children_size() == 1);
    return *plan;
  }
  void Report(exo::adapters::ExecutionEvent e) {
    e.venue = venue->venue_id();
    venue->Report(std::move(e));
    REQUIRE(engine->AwaitExecutionsHandled(absl::Seconds(10)));
  }
  void Fill(const std::string& child, const std::string& exec_id, int64_t qty) {
    exo::adapters::ExecutionEvent e;
    e.type = exo::adapters::ExecutionEvent::Type::kFill;
    e.cl_ord_id = child;
    e.exec_id = exec_id;
    e.quantity = qty;
    e.price = 6'500'000;
    Report(std::move(e));
  }
  void Done(const std::string& child, int64_t canceled) {
    exo::adapters::ExecutionEvent e;
    e.type = exo::adapters::ExecutionEvent::Type::kDone;
    e.cl_ord_id = child;
    e.canceled_quantity = canceled;
    e.reason = "canceled by the venue";
    Report(std::move(e));
  }
  DaemonConfig config;
  exo::testing::TapVenue* venue = nullptr;
  std::unique_ptr<exo::store::DeltaStore> store;
  std::unique_ptr<RouterEngine> engine;
};

}  // namespace

TEST_CASE("a resting limit order amended to a reachable limit is decided on it at once and fills within it",
          "[amend]") {
  TempDir dir;
  auto config = exo::testing::TestNodeConfig(dir.path());
  REQUIRE(config.ok());
  auto started = exo::testing::StartTestEngine(*config);
  REQUIRE(started.ok());
  RouterEngine& engine = *started->engine;
  ParentOrder order = BtcOrder("rest", SIDE_BUY, kBtc / 10);
  order.set_limit_price(100);  // 1.00 USD: no book comes near it, so the plan waits.
  auto routed = engine.Route(order, ROUTE_MODE_EXECUTE);
  REQUIRE(routed.ok());
  REQUIRE(routed->status() == PLAN_STATUS_WORKING);
  REQUIRE(routed->children_size() == 0);

  const int64_t lowest = BestAsk(engine);
  const int64_t limit = lowest + 5'000;  // 50 USD above the best ask: within reach.
  RouterEngine::Amendment a = Limit(limit);
  a.reason = "chase the offer";
  bool changed = false;
  auto amended = engine.Amend("rest", a, &changed);
  REQUIRE(amended.ok());
  CHECK(changed);
  CHECK(amended->order().limit_price() == limit);
  CHECK(amended->amendments() == 1);
  CHECK(amended->routed_order().limit_price() == 100);
  CHECK(amended->children_size() > 0);  // Decided in the same call.

  const Plan done = WaitSettled(engine, "rest");
  CHECK(done.status() == PLAN_STATUS_COMPLETED);
  CHECK(done.filled_quantity() == kBtc / 10);
  for (const auto& c : done.children()) CHECK(c.order().limit_price() <= limit);

  // The amendment is recorded before the decision it led to, and every decision re-solves to
  // the bytes recorded.
  // (The order's first decision, on arrival, placed nothing within 1.00.)
  std::vector<PlanDelta> deltas = StoredDeltas(*started->store, "rest");
  auto at = std::find_if(deltas.begin(), deltas.end(), [](const PlanDelta& d) { return d.has_amended(); });
  REQUIRE(at != deltas.end());
  CHECK(at->amended().limit_price() == limit);
  CHECK(at->amended().quantity() == kBtc / 10);
  CHECK(at->amended().reason() == "chase the offer");
  CHECK(std::all_of(deltas.begin(), at, [](const PlanDelta& d) { return d.has_created() || d.has_allocated(); }));
  REQUIRE(at + 1 != deltas.end());
  CHECK((at + 1)->has_allocated());
  CHECK((at + 1)->allocated().allocations_size() > 0);
  auto report = exo::daemon::VerifyDecisions(*started->store, 0, 0);
  CHECK(report.error == "");
  CHECK(report.ok);
  CHECK(report.checked >= 2);
  CHECK(started->store->Verify(0, 0, nullptr).ok);

  // Amending a finished plan is refused, naming its state.
  auto late = engine.Amend("rest", Quantity(kBtc), &changed);
  CHECK(late.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(late.status().message() == "plan \"rest\" already finished: COMPLETED; nothing to amend");
  engine.Stop();
}

TEST_CASE("an amendment never takes back what has filled or is open at a venue, down to the fills completes",
          "[amend]") {
  TempDir dir;
  TapNode n(dir.path());
  const Plan routed = n.RouteAtTap(BtcOrder("work", SIDE_BUY, kBtc));
  const std::string first = routed.children(0).order().cl_ord_id();
  const int64_t sent = routed.children(0).order().quantity();
  n.Fill(first, "x1", kBtc / 4);

  bool changed = true;
  // Below what has filled plus what the open child may still fill: refused, saying the floor.
  auto below = n.engine->Amend("work", Quantity(kBtc / 2), &changed);
  CHECK(below.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(below.status().message() ==
        absl::StrCat("quantity: 0.50000000 is below what plan \"work\" has filled (0.25000000) and its open "
                     "children may still fill (", exo::FormatDecimal(sent - kBtc / 4, 8), "): amend to at least ",
                     exo::FormatDecimal(sent, 8), ", or cancel the plan"));
  CHECK(n.engine->GetPlan("work")->version() == routed.version() + 1);  // Only the fill since.

  // The same terms again: nothing recorded.
  auto same = n.engine->Amend("work", Quantity(kBtc), &changed);
  REQUIRE(same.ok());
  CHECK_FALSE(changed);
  CHECK(same->version() == routed.version() + 1);

  // Up: recorded at once; with the child still open nothing new is decided yet.
  auto up = n.engine->Amend("work", Quantity(2 * kBtc, "desk doubled"), &changed);
  REQUIRE(up.ok());
  CHECK(changed);
  CHECK(up->order().quantity() == 2 * kBtc);
  CHECK(up->routed_order().quantity() == kBtc);
  CHECK(up->children_size() == 1);

  // Halt the symbol, so the plan decides nothing more when its child ends; then the child ends.
  REQUIRE(n.engine->SetTrading(true, "test", RouterEngine::TradingScope::Symbol("BTC-USD")).ok());
  n.Done(first, sent - kBtc / 4);
  auto waiting = n.engine->GetPlan("work");
  REQUIRE(waiting.ok());
  CHECK(waiting->status() == PLAN_STATUS_WORKING);
  CHECK(waiting->filled_quantity() == kBtc / 4);

  // Nothing is open now: the floor is what has filled. Below it is refused; down to it completes.
  auto under = n.engine->Amend("work", Quantity(kBtc / 5), &changed);
  CHECK(under.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(under.status().message().find("amend to at least 0.25000000, or cancel the plan") != std::string::npos);
  auto down = n.engine->Amend("work", Quantity(kBtc / 4), &changed);
  REQUIRE(down.ok());
  CHECK(down->status() == PLAN_STATUS_COMPLETED);
  CHECK(down->reason() == "filled 0.25000000");
  CHECK(down->amendments() == 2);
  std::vector<PlanDelta> deltas = StoredDeltas(*n.store, "work");
  REQUIRE(deltas.size() >= 2);
  CHECK(deltas[deltas.size() - 2].has_amended());
  CHECK(deltas.back().has_finished());
  n.engine->Stop();
}

TEST_CASE("an amended plan comes back amended after a restart and the original route's retry is answered",
          "[amend][recovery]") {
  TempDir dir;
  TapNode n(dir.path());
  const Plan routed = n.RouteAtTap(BtcOrder("keep", SIDE_BUY, kBtc / 2));
  bool changed = false;
  RouterEngine::Amendment a = Quantity(kBtc);
  a.limit_price = 7'000'000;
  REQUIRE(n.engine->Amend("keep", a, &changed).ok());
  const Plan before = *n.engine->GetPlan("keep");
  n.Close();
  n.Open();
  auto after = n.engine->GetPlan("keep");
  REQUIRE(after.ok());
  CHECK(after->order().quantity() == kBtc);
  CHECK(after->order().limit_price() == 7'000'000);
  CHECK(after->amendments() == 1);
  CHECK(after->routed_order().quantity() == kBtc / 2);
  CHECK_FALSE(after->routed_order().has_limit_price());
  CHECK(after->version() >= before.version());
  // A client that retries its original Route gets the plan, as for any plan of its own.
  ParentOrder original = BtcOrder("keep", SIDE_BUY, kBtc / 2);
  original.add_allowed_venues(n.venue->venue_id());
  auto retry = n.engine->Route(original, ROUTE_MODE_EXECUTE);
  REQUIRE(retry.ok());
  CHECK(retry->order().quantity() == kBtc);
  // The amended order is not the one routed under the id.
  ParentOrder other = original;
  other.set_quantity(kBtc);
  CHECK(n.engine->Route(other, ROUTE_MODE_EXECUTE).status().code() == absl::StatusCode::kAlreadyExists);
  n.engine->Stop();
}

TEST_CASE("an amendment's new terms pass the order's checks and the risk limits, naming the field, and a smaller order always passes", "[amend][risk]") {
  TempDir dir;
  TapNode n(dir.path(), [](DaemonConfig* c) {
    RiskLimit* r = c->add_risk();
    r->set_symbol("BTC-USD");
    r->set_max_order_quantity(3 * kBtc);
    r->set_max_working_quantity(4 * kBtc);
  });
  n.RouteAtTap(BtcOrder("a", SIDE_BUY, kBtc));
  n.RouteAtTap(BtcOrder("b", SIDE_BUY, 2 * kBtc));
  bool changed = false;
  auto off_lot = n.engine->Amend("a", Quantity(kBtc + 1), &changed);
  CHECK(off_lot.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(off_lot.status().message().rfind("quantity: 1.00000001 is not a multiple of the smallest lot", 0) == 0);
  auto too_big = n.engine->Amend("a", Quantity(4 * kBtc), &changed);
  CHECK(too_big.status().message().rfind("quantity: 4.00000000 BTC-USD is over this node's limit of 3.00000000 per order "
                                         "(risk[0].max_order_quantity)", 0) == 0);
  // 1 + 2 working; "a" to 3 would make 5, over 4 ("a"'s own 1 is not counted twice).
  auto working = n.engine->Amend("a", Quantity(3 * kBtc), &changed);
  CHECK(working.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(working.status().message().find("(risk[0].max_working_quantity): 2.00000000 is working now") != std::string::npos);
  REQUIRE(n.engine->Amend("a", Quantity(2 * kBtc), &changed).ok());  // 2 + 2: within.
  const auto risk = n.engine->RiskStatuses();
  REQUIRE(risk.size() == 1);
  CHECK(risk[0].working_quantity() == 4 * kBtc);
  CHECK(risk[0].refused_by_limit().at("max_order_quantity") == 1);
  CHECK(risk[0].refused_by_limit().at("max_working_quantity") == 1);
  // Limits tightened below what works: a smaller order only takes risk off, and is never
  // refused; a larger one is.
  DaemonConfig tight = n.engine->config();
  tight.mutable_risk(0)->set_max_order_quantity(kBtc);
  tight.mutable_risk(0)->set_max_working_quantity(kBtc);
  REQUIRE(n.engine->ApplyConfig(tight).ok());
  auto smaller = n.engine->Amend("a", Quantity(kBtc + kBtc / 2), &changed);
  INFO(smaller.status().message());
  CHECK(smaller.ok());
  CHECK(n.engine->Amend("a", Quantity(kBtc + kBtc / 2 + kBtc / 10), &changed).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // Plan-only plans work nothing; unknown plans are not found; a cancelling plan is not amended.
  REQUIRE(n.engine->Route(BtcOrder("p", SIDE_BUY, kBtc), ROUTE_MODE_PLAN_ONLY).ok());
  CHECK(n.engine->Amend("p", Quantity(2 * kBtc), &changed).status().message() ==
        "plan \"p\" is plan-only: it works nothing to amend (route the order again)");
  CHECK(n.engine->Amend("nope", Quantity(kBtc), &changed).status().code() == absl::StatusCode::kNotFound);
  n.venue->HoldCancels();
  REQUIRE(n.engine->Cancel("b", "desk").ok());
  CHECK(n.engine->Amend("b", Quantity(kBtc), &changed).status().message() == "plan \"b\" is being cancelled: desk");
  n.engine->Stop();
}

TEST_CASE("a limit amended inside an order's fixed arrival limit binds every later decision", "[amend]") {
  TempDir dir;
  auto started = StartFastNode(dir.path());
  RouterEngine& engine = *started->engine;
  // More than every book holds, with a 10 % arrival band: each decision takes all it can
  // within the arrival limit, far beyond the books' 20 levels.
  ParentOrder order = BtcOrder("band", SIDE_BUY, 400 * kBtc);
  order.set_arrival_band_bps(1000);
  auto routed = engine.Route(order, ROUTE_MODE_EXECUTE);
  REQUIRE(routed.ok());
  REQUIRE(routed->arrival_limit() > 0);
  // Five USD above the mid at arrival: the books' 20 levels go 10 to 20 USD beyond it (and are
  // redrawn around a mid that moves a tick at a time), so the limit cuts into every book.
  REQUIRE(routed->arrival_mid() > 0);
  const int64_t limit = routed->arrival_mid() + 500;
  REQUIRE(limit < routed->arrival_limit());
  bool changed = false;
  auto amended = engine.Amend("band", Limit(limit), &changed);
  REQUIRE(amended.ok());
  const uint32_t at = AmendedAt(*started->store, "band");
  // The books refill every 20 ms; wait for decisions after the amendment.
  for (int i = 0; i < 500 && ChildrenAfter(*engine.GetPlan("band"), at).size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(engine.Cancel("band", "test over").ok());
  const Plan done = WaitSettled(engine, "band");
  const std::vector<ChildState> after = ChildrenAfter(done, at);
  REQUIRE(after.size() >= 1);
  CHECK(done.arrival_limit() == routed->arrival_limit());  // Still the plan's arrival limit.
  for (const ChildState& c : after) {
    INFO("child " << c.order().cl_ord_id());
    CHECK(c.order().limit_price() <= limit);
  }
  CHECK(exo::daemon::VerifyDecisions(*started->store, 0, 0).ok);
  engine.Stop();
}

TEST_CASE("an order amended to market is decided up to its arrival band's own price, not the limit it had",
          "[amend]") {
  TempDir dir;
  auto started = StartFastNode(dir.path());
  RouterEngine& engine = *started->engine;
  const int64_t lowest = BestAsk(engine);
  // More than every book holds, with a 10 % arrival band and a limit two USD above the best
  // ask: the limit is the tighter, so it is the arrival limit the first decision fixes.
  const int64_t old_limit = lowest + 200;
  ParentOrder order = BtcOrder("mkt", SIDE_BUY, 400 * kBtc);
  order.set_arrival_band_bps(1000);
  order.set_limit_price(old_limit);
  auto routed = engine.Route(order, ROUTE_MODE_EXECUTE);
  REQUIRE(routed.ok());
  REQUIRE(routed->arrival_mid() > 0);
  REQUIRE(routed->arrival_limit() == old_limit);
  const int64_t band = exo::solver::PriceBandLimit(routed->arrival_mid(), 1000, /*buy=*/true, std::nullopt);
  REQUIRE(band > old_limit + 10'000);

  RouterEngine::Amendment a;
  a.remove_limit = true;
  a.reason = "take it";
  bool changed = false;
  auto amended = engine.Amend("mkt", a, &changed);
  REQUIRE(amended.ok());
  CHECK(changed);
  CHECK_FALSE(amended->order().has_limit_price());
  CHECK(amended->routed_order().limit_price() == old_limit);
  const uint32_t at = AmendedAt(*started->store, "mkt");
  // The books refill every 20 ms; wait for decisions after the amendment.
  for (int i = 0; i < 500 && ChildrenAfter(*engine.GetPlan("mkt"), at).size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(engine.Cancel("mkt", "test over").ok());
  const std::vector<ChildState> after = ChildrenAfter(WaitSettled(engine, "mkt"), at);
  REQUIRE(after.size() >= 1);
  // Every child after the amendment within the band's own price, and some beyond the old limit
  // (the books go 10 to 20 USD past the mid): the arrival limit the first decision recorded was
  // the old limit, which no longer binds.
  bool beyond = false;
  for (const ChildState& c : after) {
    INFO("child " << c.order().cl_ord_id());
    CHECK(c.order().limit_price() <= band);
    beyond = beyond || c.order().limit_price() > old_limit;
  }
  CHECK(beyond);
  // Recorded as format 5, before the decisions on it; the audit's arrival-limit check agrees.
  bool found = false;
  REQUIRE(started->store->ScanPlan("mkt", 1, [&](const PlanDelta& d, std::string_view canonical) {
                     if (!d.has_amended()) return true;
                     found = true;
                     CHECK(d.amended().limit_removed());
                     CHECK_FALSE(d.amended().has_limit_price());
                     CHECK(d.amended().urgency() == URGENCY_UNSPECIFIED);
                     CHECK(d.amended().reason() == "take it");
                     CHECK(canonical[0] == exo::store::kCanonicalFormat5);
                     return true;
                   }).ok());
  CHECK(found);
  auto report = exo::daemon::VerifyDecisions(*started->store, 0, 0);
  CHECK(report.error == "");
  CHECK(report.ok);
  CHECK(started->store->Verify(0, 0, nullptr).ok);
  const Plan last = *engine.GetPlan("mkt");
  CHECK(last.arrival_limit() == band);  // The band's own price, since the amendment.
  engine.Stop();
  started->engine.reset();

  // The band still binds in the audit's eyes: a later decision recorded without it (appended
  // here as a faulty engine would have) is named, with the band's own price.
  absl::StatusOr<SolveInput> loose = exo::testing::FirstDecisionInput(*started->store, "mkt");
  REQUIRE(loose.ok());
  loose->set_arrival_band_bps(0);
  loose->clear_limit_price();
  *loose->mutable_previous() = last.allocations();
  auto unprotected = exo::solver::Solve(*loose);
  REQUIRE(unprotected.ok());
  PlanDelta faulty;
  faulty.set_plan_id("mkt");
  faulty.set_plan_version(last.version() + 1);
  faulty.set_event_time_ns(last.updated_time_ns() + 1);
  *faulty.mutable_allocated() = exo::solver::ToPlanAllocated(*unprotected, last.allocations(), /*replan=*/true);
  auto appended = started->store->Append({{faulty, exo::SerializeDeterministic(*loose)}});
  REQUIRE(appended.ok());
  report = exo::daemon::VerifyDecisions(*started->store, 0, 0);
  CHECK_FALSE(report.ok);
  CHECK(report.first_bad_sequence == appended->front().sequence());
  CHECK(report.error.rfind(absl::StrCat("plan mkt: decided without its arrival limit ", band, " (fixed at sequence "), 0) == 0);
}

TEST_CASE("an order amended from low to high urgency is decided without its band from then on, normal is unset",
          "[amend]") {
  TempDir dir;
  auto started = StartFastNode(dir.path());
  RouterEngine& engine = *started->engine;
  // Low urgency: each decision takes only what lies within 2 bp of the best price.
  ParentOrder order = BtcOrder("slow", SIDE_BUY, 400 * kBtc);
  order.set_urgency(URGENCY_LOW);
  auto routed = engine.Route(order, ROUTE_MODE_EXECUTE);
  REQUIRE(routed.ok());
  REQUIRE(routed->status() == PLAN_STATUS_WORKING);
  RouterEngine::Amendment a;
  a.urgency = URGENCY_HIGH;
  bool changed = false;
  auto amended = engine.Amend("slow", a, &changed);
  REQUIRE(amended.ok());
  CHECK(changed);
  CHECK(amended->order().urgency() == URGENCY_HIGH);
  CHECK(amended->routed_order().urgency() == URGENCY_LOW);
  // Asking again for what it has: nothing recorded.
  const uint32_t version = amended->version();
  REQUIRE(engine.Amend("slow", a, &changed).ok());
  CHECK_FALSE(changed);
  CHECK(engine.GetPlan("slow")->amendments() == 1);
  // Decided again once the children open at the amendment are done.
  const uint32_t at = AmendedAt(*started->store, "slow");
  for (int i = 0; i < 500 && ChildrenAfter(*engine.GetPlan("slow"), at).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(engine.Cancel("slow", "test over").ok());
  const Plan done = WaitSettled(engine, "slow");
  CHECK(done.version() > version);
  // Every decision before the amendment had a band limit; none after it.
  int banded = 0, unbanded = 0, amendments = 0;
  REQUIRE(started->store->ScanPlan("slow", 1, [&](const PlanDelta& d, std::string_view) {
                     if (d.has_amended()) {
                       ++amendments;
                       CHECK(d.amended().urgency() == URGENCY_HIGH);
                       CHECK_FALSE(d.amended().limit_removed());
                     } else if (d.has_allocated()) {
                       INFO("sequence " << d.sequence());
                       if (amendments == 0) {
                         CHECK(d.allocated().stats().price_band_limit() != 0);
                         ++banded;
                       } else {
                         CHECK(d.allocated().stats().price_band_limit() == 0);
                         ++unbanded;
                       }
                     }
                     return true;
                   }).ok());
  CHECK(amendments == 1);
  CHECK(banded >= 1);
  CHECK(unbanded >= 1);
  CHECK(exo::daemon::VerifyDecisions(*started->store, 0, 0).ok);

  // An order with no urgency is at normal urgency: amending it to normal changes nothing.
  TempDir dir2;
  TapNode n(dir2.path());
  n.RouteAtTap(BtcOrder("plain", SIDE_BUY, kBtc));
  RouterEngine::Amendment normal;
  normal.urgency = URGENCY_NORMAL;
  auto same = n.engine->Amend("plain", normal, &changed);
  REQUIRE(same.ok());
  CHECK_FALSE(changed);
  CHECK(same->amendments() == 0);
  CHECK(same->order().urgency() == URGENCY_UNSPECIFIED);
  engine.Stop();
}

TEST_CASE("random amendments of working plans never fill past the order and replay byte for byte", "[amend]") {
  TempDir dir;
  // Children answer after 3 ms, so amendments land while some are open and some not.
  auto started = StartFastNode(dir.path(), /*sim_latency_ms=*/3);
  RouterEngine& engine = *started->engine;
  std::mt19937_64 rng(20261204);
  auto pick = [&rng](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  const int64_t lot = 1'000'000;  // SIM-C's (the coarsest): every venue's a divisor.
  std::vector<std::string> ids;
  for (int k = 0; k < 8; ++k) {
    ParentOrder o = BtcOrder("r" + std::to_string(k), k % 2 ? SIDE_SELL : SIDE_BUY, pick(1, 3000) * lot);
    if (k % 3 == 0) o.set_limit_price(k % 2 ? 6'600'000 : 6'400'000);  // Out of reach: rests.
    if (k % 4 == 1) o.set_arrival_band_bps(50);
    REQUIRE(engine.Route(o, ROUTE_MODE_EXECUTE).ok());
    ids.push_back(o.id());
  }
  int applied = 0, refused = 0;
  for (int step = 0; step < 200; ++step) {
    const std::string& id = ids[pick(0, ids.size() - 1)];
    RouterEngine::Amendment a;
    if (pick(0, 2) > 0) a.quantity = pick(1, 3000) * lot;
    if (!a.quantity.has_value() || pick(0, 3) == 0) a.limit_price = pick(6'400'000, 6'600'000);
    if (a.limit_price.has_value() && pick(0, 4) == 0) {
      a.limit_price.reset();
      a.remove_limit = true;
    }
    if (pick(0, 3) == 0) a.urgency = static_cast<Urgency>(pick(1, 3));
    bool changed = false;
    absl::StatusOr<Plan> p = engine.Amend(id, a, &changed);
    if (p.ok()) {
      applied += changed;
      CHECK(p->filled_quantity() <= p->order().quantity());
    } else {
      ++refused;
      INFO(p.status().ToString());
      CHECK((p.status().code() == absl::StatusCode::kFailedPrecondition ||
             p.status().code() == absl::StatusCode::kInvalidArgument));
    }
    if (step % 20 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(15));
  }
  CHECK(applied > 20);
  for (const std::string& id : ids) (void)engine.Cancel(id, "test over");
  for (const std::string& id : ids) {
    const Plan p = WaitSettled(engine, id);
    INFO(id);
    CHECK(exo::daemon::IsTerminal(p.status()));
    CHECK(p.filled_quantity() <= p.order().quantity());
    int64_t children_filled = 0;
    for (const auto& c : p.children()) children_filled += c.filled_quantity();
    CHECK(children_filled == p.filled_quantity());
    if (p.status() == PLAN_STATUS_COMPLETED) CHECK(p.filled_quantity() == p.order().quantity());
  }
  CHECK(started->store->Verify(0, 0, nullptr).ok);
  auto decisions = exo::daemon::VerifyDecisions(*started->store, 0, 0);
  INFO(decisions.error);
  CHECK(decisions.ok);
  engine.Stop();
}
