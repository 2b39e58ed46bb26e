// Pre-trade risk limits (DaemonConfig.risk): what a node refuses before it plans an order, with
// which code and words, and what it counts as working — across a restart too.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/testing/parent_order.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_engine.h"

using namespace exoroute::v1;  // NOLINT
using exo::testing::TempDir;

namespace {

constexpr int64_t kBtc = 100'000'000;  // BTC-USD quantity units (8 dp).

ParentOrder Btc(const std::string& id, int64_t qty, std::optional<int64_t> limit = std::nullopt) {
  return exo::testing::BtcParentOrder(id, SIDE_BUY, qty, limit);
}

// The default config's node with BTC-USD limited: 10 BTC an order, 500 000.00 USD of notional an
// order, 12 BTC working; its sim venues answer after a minute, so executed plans stay working.
DaemonConfig LimitedConfig(const std::string& dir, uint32_t sim_latency_ms = 60'000) {
  absl::StatusOr<DaemonConfig> c = exo::testing::TestNodeConfig(dir, sim_latency_ms);
  REQUIRE(c.ok());
  RiskLimit* r = c->add_risk();
  r->set_symbol("BTC-USD");
  r->set_max_order_quantity(10 * kBtc);
  r->set_max_order_notional(50'000'000);  // 500 000.00 USD in cents.
  r->set_max_working_quantity(12 * kBtc);
  return *c;
}

absl::Status RouteStatus(exo::daemon::RouterEngine& engine, const ParentOrder& o, RouteMode mode) {
  return engine.Route(o, mode).status();
}

}  // namespace

TEST_CASE("risk limits refuse an order over its size or its notional, naming the limit", "[risk]") {
  TempDir dir;
  auto t = exo::testing::StartTestEngine(LimitedConfig(dir.path()));
  REQUIRE(t.ok());
  auto& engine = *t->engine;

  absl::Status big = RouteStatus(engine, Btc("big", 11 * kBtc), ROUTE_MODE_PLAN_ONLY);
  CHECK(big.code() == absl::StatusCode::kInvalidArgument);
  CHECK(big.message() ==
        "order.quantity: 11.00000000 BTC-USD is over this node's limit of 10.00000000 per order (risk[0].max_order_quantity)");

  // A market order is valued at the mid of the node's books now (~65 000): 8 BTC is ~520 000.
  absl::Status dear = RouteStatus(engine, Btc("dear", 8 * kBtc), ROUTE_MODE_PLAN_ONLY);
  CHECK(dear.code() == absl::StatusCode::kInvalidArgument);
  CHECK(dear.message().find("order.quantity: 8.00000000 BTC-USD at ") == 0);
  CHECK(dear.message().find(" (the mid now) is a notional of ") != std::string::npos);
  CHECK(dear.message().find(", over this node's limit of 500000.00 per order (risk[0].max_order_notional)") !=
        std::string::npos);
  // A limit above the mid values it at the limit: 7 BTC at 80 000 is 560 000.00.
  absl::Status limit = RouteStatus(engine, Btc("limit", 7 * kBtc, 8'000'000), ROUTE_MODE_PLAN_ONLY);
  CHECK(limit.code() == absl::StatusCode::kInvalidArgument);
  CHECK(limit.message() ==
        "order.quantity: 7.00000000 BTC-USD at 80000.00 (its limit) is a notional of 560000.00, over this node's limit "
        "of 500000.00 per order (risk[0].max_order_notional)");
  // Within both (7 BTC at ~65 000 is ~455 000), and other instruments are not limited.
  CHECK(RouteStatus(engine, Btc("fine", 7 * kBtc), ROUTE_MODE_PLAN_ONLY).ok());
  ParentOrder eth = Btc("eth", 400'000'000);  // 400 ETH (6 dp).
  eth.set_symbol("ETH-USD");
  CHECK(RouteStatus(engine, eth, ROUTE_MODE_PLAN_ONLY).ok());

  const std::vector<RiskStatus> status = engine.RiskStatuses();
  REQUIRE(status.size() == 1);
  CHECK(status[0].limit().symbol() == "BTC-USD");
  CHECK(status[0].refused() == 3);
  CHECK(status[0].refused_by_limit().size() == 2);
  CHECK(status[0].refused_by_limit().at("max_order_quantity") == 1);
  CHECK(status[0].refused_by_limit().at("max_order_notional") == 2);
  CHECK(status[0].working_quantity() == 0);  // Plan-only plans send nothing.
}

TEST_CASE("a market order under a notional limit with no two-sided market to value it is refused, asking for a limit",
          "[risk]") {
  TempDir dir;
  DaemonConfig config = LimitedConfig(dir.path());
  // An instrument whose only venue shows asks and no bids: no mid to value a market order at.
  Instrument* sol = config.add_instruments();
  sol->set_symbol("SOL-USD");
  sol->set_price_scale(2);
  sol->set_qty_scale(6);
  const std::string books = dir.path() + "/sol-books.json";
  {
    std::ofstream(books) << R"({"books": [{"venue": "SIM-S", "symbol": "SOL-USD",
                                            "asks": [{"price": 15000, "size": 100000000}]}]})";
  }
  VenueConfig* venue = config.add_venues();
  venue->set_id("SIM-S");
  venue->mutable_sim()->set_book_file(books);
  MarketConfig* m = venue->add_markets();
  m->set_symbol("SOL-USD");
  m->set_lot_size(1000);
  RiskLimit* r = config.add_risk();
  r->set_symbol("SOL-USD");
  r->set_max_order_notional(1'000'000);  // 10 000.00 USD.
  auto t = exo::testing::StartTestEngine(config);
  REQUIRE(t.ok());
  ParentOrder market = Btc("sol-market", 5'000'000);  // 5 SOL.
  market.set_symbol("SOL-USD");
  absl::Status refused = RouteStatus(*t->engine, market, ROUTE_MODE_PLAN_ONLY);
  CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(refused.message() ==
        "order.limit_price: a market order of SOL-USD needs a two-sided market on this node to value it for "
        "risk[1].max_order_notional, and there is none now: give a limit price");
  const std::vector<RiskStatus> status = t->engine->RiskStatuses();
  REQUIRE(status.size() == 2);
  CHECK(status[1].limit().symbol() == "SOL-USD");
  CHECK(status[1].refused_by_limit().at("max_order_notional") == 1);
  // With a limit it is valued at the limit, within the limit here, and planned on the asks.
  market.set_id("sol-limited");
  market.set_limit_price(15'000);  // 150.00 USD: 750.00 of notional.
  absl::Status limited = RouteStatus(*t->engine, market, ROUTE_MODE_PLAN_ONLY);
  INFO(limited.ToString());
  CHECK(limited.ok());
}

TEST_CASE("an executed order over the working-quantity limit is refused while the plans work, retries and plan-only "
          "orders are not counted, and a restart counts what still works",
          "[risk]") {
  TempDir dir;
  {
    auto t = exo::testing::StartTestEngine(LimitedConfig(dir.path()));
    REQUIRE(t.ok());
    auto& engine = *t->engine;
    REQUIRE(RouteStatus(engine, Btc("w1", 7 * kBtc), ROUTE_MODE_EXECUTE).ok());
    absl::Status over = RouteStatus(engine, Btc("w2", 6 * kBtc), ROUTE_MODE_EXECUTE);
    CHECK(over.code() == absl::StatusCode::kResourceExhausted);
    CHECK(over.message() ==
          "order.quantity: 6.00000000 BTC-USD more would take the quantity this node's executed BTC-USD plans may "
          "still fill to 13.00000000, over its limit of 12.00000000 (risk[0].max_working_quantity): 7.00000000 is "
          "working now; retry when plans have filled or ended");
    CHECK(RouteStatus(engine, Btc("w2", 6 * kBtc), ROUTE_MODE_PLAN_ONLY).ok());  // Sends nothing.
    CHECK(RouteStatus(engine, Btc("w1", 7 * kBtc), ROUTE_MODE_EXECUTE).ok());    // A retry of w1: the same plan.
    CHECK(RouteStatus(engine, Btc("w3", 5 * kBtc), ROUTE_MODE_EXECUTE).ok());    // 12: at the limit.
    const std::vector<RiskStatus> status = engine.RiskStatuses();
    REQUIRE(status.size() == 1);
    CHECK(status[0].working_quantity() == 12 * kBtc);
    CHECK(status[0].refused() == 1);
    CHECK(status[0].refused_by_limit().size() == 1);
    CHECK(status[0].refused_by_limit().at("max_working_quantity") == 1);
  }
  // After a restart the working plans are read back and count as before.
  auto t = exo::testing::StartTestEngine(LimitedConfig(dir.path()));
  REQUIRE(t.ok());
  CHECK(t->engine->RiskStatuses()[0].working_quantity() == 12 * kBtc);
  CHECK(RouteStatus(*t->engine, Btc("w4", kBtc / 100), ROUTE_MODE_EXECUTE).code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("a plan that has filled no longer counts as working", "[risk]") {
  TempDir dir;
  auto t = exo::testing::StartTestEngine(LimitedConfig(dir.path(), /*sim_latency_ms=*/0));  // Fills at once.
  REQUIRE(t.ok());
  auto& engine = *t->engine;
  REQUIRE(RouteStatus(engine, Btc("f1", 7 * kBtc), ROUTE_MODE_EXECUTE).ok());
  absl::StatusOr<Plan> plan = engine.GetPlan("f1");
  for (int i = 0; i < 500 && plan.ok() && plan->status() != PLAN_STATUS_COMPLETED; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    plan = engine.GetPlan("f1");
  }
  REQUIRE(plan.ok());
  REQUIRE(plan->status() == PLAN_STATUS_COMPLETED);
  CHECK(engine.RiskStatuses()[0].working_quantity() == 0);
  CHECK(RouteStatus(engine, Btc("f2", 7 * kBtc), ROUTE_MODE_EXECUTE).ok());  // 7 + 7 > 12 had f1 still counted.
}

TEST_CASE("an order rate limit admits so many executed orders in any second and says when to retry", "[risk]") {
  TempDir dir;
  exoroute::v1::DaemonConfig config = LimitedConfig(dir.path());
  config.mutable_risk(0)->set_max_orders_per_second(2);
  auto t = exo::testing::StartTestEngine(config);
  REQUIRE(t.ok());
  auto& engine = *t->engine;
  // An order refused by another limit takes no place in the second.
  CHECK(RouteStatus(engine, Btc("big", 11 * kBtc), ROUTE_MODE_EXECUTE).code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(RouteStatus(engine, Btc("r1", kBtc), ROUTE_MODE_EXECUTE).ok());
  REQUIRE(RouteStatus(engine, Btc("r2", kBtc), ROUTE_MODE_EXECUTE).ok());
  const absl::Status third = RouteStatus(engine, Btc("r3", kBtc), ROUTE_MODE_EXECUTE);
  CHECK(third.code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(third.message())
            .rfind("order: this node admitted 2 executed BTC-USD orders in the last second, its limit "
                   "(risk[0].max_orders_per_second); retry in ",
                   0) == 0);
  const std::string ms = std::string(third.message()).substr(third.message().rfind("retry in ") + 9);
  CHECK(ms.size() > 3);
  CHECK(ms.substr(ms.size() - 3) == " ms");
  CHECK(std::stoi(ms) > 0);
  CHECK(std::stoi(ms) <= 1000);
  // Retries of admitted orders are answered, plan-only orders send nothing: neither is counted.
  CHECK(RouteStatus(engine, Btc("r1", kBtc), ROUTE_MODE_EXECUTE).ok());
  CHECK(RouteStatus(engine, Btc("look", kBtc), ROUTE_MODE_PLAN_ONLY).ok());
  CHECK(engine.GetPlan("r3").status().code() == absl::StatusCode::kNotFound);  // Nothing planned.
  const std::vector<RiskStatus> status = engine.RiskStatuses();
  REQUIRE(status.size() == 1);
  CHECK(status[0].orders_last_second() == 2);
  CHECK(status[0].refused_by_limit().at("max_orders_per_second") == 1);
  // Once the first admissions are a second old, the next order is admitted (waited for, with a
  // deadline: how long it takes is the machine's).
  absl::Status later = third;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!later.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    later = RouteStatus(engine, Btc("r3", kBtc), ROUTE_MODE_EXECUTE);
    if (!later.ok()) CHECK(later.code() == absl::StatusCode::kResourceExhausted);
  }
  CHECK(later.ok());
}

TEST_CASE("a client's own limits count only the orders it sent, on top of its instrument's, across a restart",
          "[risk]") {
  TempDir dir;
  DaemonConfig config = LimitedConfig(dir.path());  // risk[0]: 10 BTC an order, 12 working.
  config.mutable_tls()->set_require_client_cert(true);
  RiskLimit* a = config.add_risk();  // risk[1]: desk-a's own, 5 BTC working, 2 orders a second.
  a->set_symbol("BTC-USD");
  a->set_client("desk-a");
  a->set_max_working_quantity(5 * kBtc);
  a->set_max_orders_per_second(2);
  auto route = [](exo::daemon::RouterEngine& engine, const std::string& id, int64_t qty, const std::string& by) {
    return engine.Route(Btc(id, qty), ROUTE_MODE_EXECUTE, std::nullopt, by).status();
  };
  {
    auto t = exo::testing::StartTestEngine(config);
    REQUIRE(t.ok());
    auto& engine = *t->engine;
    REQUIRE(route(engine, "a1", 4 * kBtc, "desk-a").ok());
    absl::Status over = route(engine, "a2", 2 * kBtc, "desk-a");
    CHECK(over.code() == absl::StatusCode::kResourceExhausted);
    CHECK(over.message() ==
          "order.quantity: 2.00000000 BTC-USD more would take the quantity this node's executed BTC-USD plans from "
          "client desk-a may still fill to 6.00000000, over its limit of 5.00000000 (risk[1].max_working_quantity): "
          "4.00000000 is working now; retry when plans have filled or ended");
    // Another desk's orders are not desk-a's: only the instrument's limit counts them.
    REQUIRE(route(engine, "b1", 6 * kBtc, "desk-b").ok());
    over = route(engine, "b2", 3 * kBtc, "desk-b");
    CHECK(over.code() == absl::StatusCode::kResourceExhausted);
    CHECK(std::string(over.message()).find("(risk[0].max_working_quantity): 10.00000000 is working now") !=
          std::string::npos);
    // desk-a's rate: two executed orders a second, the refused one above took no place.
    REQUIRE(route(engine, "a3", kBtc / 2, "desk-a").ok());
    over = route(engine, "a4", kBtc / 10, "desk-a");
    CHECK(over.code() == absl::StatusCode::kResourceExhausted);
    CHECK(std::string(over.message())
              .rfind("order: this node admitted 2 executed BTC-USD orders from client desk-a in the last second, its "
                     "limit (risk[1].max_orders_per_second); retry in ",
                     0) == 0);
    CHECK(route(engine, "b3", kBtc / 10, "desk-b").ok());  // Not desk-a's window.
    // An amendment of desk-a's order is checked against desk-a's limits too.
    exoroute::v1::AmendPlanRequest more;
    more.set_plan_id("a1");
    more.set_quantity(5 * kBtc);
    bool changed = false;
    absl::StatusOr<Plan> amended = engine.Amend("a1", exo::daemon::RouterEngine::Amendment::Of(more), &changed);
    CHECK(amended.status().code() == absl::StatusCode::kResourceExhausted);
    CHECK(std::string(amended.status().message()).find("(risk[1].max_working_quantity)") != std::string::npos);
    const std::vector<RiskStatus> status = engine.RiskStatuses();
    REQUIRE(status.size() == 2);
    CHECK(status[0].working_quantity() == 4 * kBtc + kBtc / 2 + 6 * kBtc + kBtc / 10);
    CHECK(status[0].refused_by_limit().at("max_working_quantity") == 1);
    CHECK(status[1].limit().client() == "desk-a");
    CHECK(status[1].working_quantity() == 4 * kBtc + kBtc / 2);
    CHECK(status[1].orders_last_second() == 2);
    CHECK(status[1].refused_by_limit().at("max_working_quantity") == 2);  // a2, and a1's amendment.
    CHECK(status[1].refused_by_limit().at("max_orders_per_second") == 1);
  }
  // Read back after a restart: each plan's sender too, so desk-a's limit counts its plans again.
  auto t = exo::testing::StartTestEngine(config);
  REQUIRE(t.ok());
  CHECK(t->engine->RiskStatuses()[1].working_quantity() == 4 * kBtc + kBtc / 2);
  CHECK(route(*t->engine, "a5", kBtc, "desk-a").code() == absl::StatusCode::kResourceExhausted);
}
