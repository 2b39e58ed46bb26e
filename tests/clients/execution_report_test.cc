// The execution report folds a chain as the daemon does and reports each executed plan's
// figures, and totals a desk can check by hand.
#include "clients/exoroutectl/execution_report.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

using exo::ctl::ExecutionReport;
using exo::ctl::ExecutionRow;
using namespace exoroute::v1;  // NOLINT

namespace {

constexpr int64_t kBtc = 100'000'000;

// A chain under construction: each delta numbered in turn, each plan's versions in turn.
struct Chain {
  std::vector<PlanDelta> deltas;
  std::map<std::string, uint32_t> versions;
  PlanDelta& Next(const std::string& plan_id) {
    PlanDelta& d = deltas.emplace_back();
    d.set_sequence(deltas.size());
    d.set_plan_id(plan_id);
    d.set_plan_version(++versions[plan_id]);
    d.set_event_time_ns(1'700'000'000'000'000'000 + static_cast<int64_t>(deltas.size()) * 1'000'000);
    return d;
  }
  void Created(const std::string& id, Side side, int64_t qty, RouteMode mode = ROUTE_MODE_EXECUTE) {
    PlanCreated* c = Next(id).mutable_created();
    c->mutable_order()->set_id(id);
    c->mutable_order()->set_symbol("BTC-USD");
    c->mutable_order()->set_side(side);
    c->mutable_order()->set_quantity(qty);
    c->set_mode(mode);
    c->mutable_instrument()->set_symbol("BTC-USD");
    c->mutable_instrument()->set_price_scale(2);
    c->mutable_instrument()->set_qty_scale(8);
  }
  void Allocated(const std::string& id, int64_t mid) {
    PlanAllocated* a = Next(id).mutable_allocated();
    a->set_mid_price(mid);
    a->mutable_stats()->set_method(SOLVER_METHOD_EXACT);
  }
  void Child(const std::string& id, const std::string& cl_ord_id, const std::string& venue, int64_t qty) {
    ChildOrder* c = Next(id).mutable_child_sent();
    c->set_cl_ord_id(cl_ord_id);
    c->set_venue(venue);
    c->set_quantity(qty);
  }
  void Fill(const std::string& id, const std::string& cl_ord_id, const std::string& venue, int64_t qty,
            int64_t price, int64_t fee) {
    exoroute::v1::Fill* f = Next(id).mutable_fill();
    f->set_cl_ord_id(cl_ord_id);
    f->set_venue(venue);
    f->set_quantity(qty);
    f->set_price(price);
    f->set_fee(fee);
  }
  void Finished(const std::string& id, PlanStatus status) { Next(id).mutable_finished()->set_status(status); }
};

// Two buys and a sell (amended) executed, a plan-only plan and a node event between them.
Chain Sample() {
  Chain c;
  c.Created("b1", SIDE_BUY, kBtc);
  c.Allocated("b1", 6'500'000);
  c.Child("b1", "b1.3", "SIM-A", 6 * kBtc / 10);
  c.Child("b1", "b1.4", "SIM-B", 4 * kBtc / 10);
  c.Created("look", SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY);
  c.Allocated("look", 6'500'000);
  c.Fill("b1", "b1.3", "SIM-A", 6 * kBtc / 10, 6'501'000, 780);
  c.Fill("b1", "b1.4", "SIM-B", 4 * kBtc / 10, 6'502'000, 260);
  c.Finished("b1", PLAN_STATUS_COMPLETED);
  c.Next("node/governance").mutable_governance()->set_kind(GOVERNANCE_KIND_CONFIG_APPLIED);
  c.Created("s1", SIDE_SELL, 2 * kBtc);
  c.Allocated("s1", 6'500'000);
  c.Child("s1", "s1.3", "SIM-A", kBtc);
  c.Fill("s1", "s1.3", "SIM-A", kBtc, 6'499'000, 650);
  c.Next("s1").mutable_amended()->set_quantity(kBtc);
  c.Finished("s1", PLAN_STATUS_COMPLETED);
  c.Created("b2", SIDE_BUY, kBtc);
  c.Allocated("b2", 6'500'000);
  c.Child("b2", "b2.3", "SIM-C", kBtc);
  c.Fill("b2", "b2.3", "SIM-C", kBtc, 6'500'000, 0);  // At the mid: no slippage, no fee.
  return c;  // b2 still working.
}

std::vector<ExecutionRow> Report(const Chain& c, uint64_t from = 0, const std::string& symbol = "",
                                 int64_t since_ns = 0, int64_t until_ns = 0) {
  ExecutionReport r(from, symbol, since_ns, until_ns);
  for (const PlanDelta& d : c.deltas) r.Add(d);
  return r.Rows();
}

}  // namespace

TEST_CASE("the execution report has each executed plan's fills, price, slippage and fees", "[ctl][report]") {
  const std::vector<ExecutionRow> rows = Report(Sample());
  REQUIRE(rows.size() == 3);  // Not the plan-only plan, not the node event.
  const ExecutionRow& b1 = rows[0];
  CHECK(b1.plan_id == "b1");
  CHECK(b1.status == PLAN_STATUS_COMPLETED);
  CHECK(b1.filled == kBtc);
  CHECK(b1.average_price == 6'501'400);  // 0.6 × 65010 + 0.4 × 65020.
  CHECK(b1.arrival_mid == 6'500'000);
  CHECK(b1.slippage_cbps == 215);  // 14.00 over 65000.00: 2.15 bp worse.
  CHECK(b1.fees == 1040);
  CHECK(b1.filled_by_venue == std::vector<std::pair<std::string, int64_t>>{{"SIM-A", 6 * kBtc / 10}, {"SIM-B", 4 * kBtc / 10}});
  const ExecutionRow& s1 = rows[1];
  CHECK(s1.plan_id == "s1");
  CHECK(s1.quantity == kBtc);  // As amended.
  CHECK(s1.amendments == 1);
  CHECK(s1.slippage_cbps == 154);  // Sold 10.00 under the mid.
  CHECK(rows[2].plan_id == "b2");
  CHECK(rows[2].status == PLAN_STATUS_WORKING);

  // From a sequence on: plans created before it are left out, whatever their later deltas.
  const std::vector<ExecutionRow> later = Report(Sample(), 11);
  REQUIRE(later.size() == 2);
  CHECK(later[0].plan_id == "s1");
  CHECK(Report(Sample(), 0, "ETH-USD").empty());

  // By when the order arrived: from s1's arrival (delta 11) on, and before b2's (delta 17).
  const Chain c = Sample();
  const int64_t s1_at = c.deltas[10].event_time_ns(), b2_at = c.deltas[16].event_time_ns();
  REQUIRE(c.deltas[10].has_created());
  REQUIRE(c.deltas[16].has_created());
  const std::vector<ExecutionRow> window = Report(c, 0, "", s1_at, b2_at);
  REQUIRE(window.size() == 1);
  CHECK(window[0].plan_id == "s1");
  CHECK(Report(c, 0, "", b2_at + 1).empty());
}

TEST_CASE("the execution report's totals weigh slippage by notional, and its CSV is one plan a line", "[ctl][report]") {
  const std::vector<ExecutionRow> rows = Report(Sample());
  const std::string table = exo::ctl::RenderExecutionTable(rows);
  INFO(table);
  // Buys: (2.15 bp × 65014.00 + 0 × 65000.00) / 130014.00 = 1.07 bp; fees 10.40 of 130014.00 = 0.80 bp.
  CHECK(table.find("BTC-USD buy: 2 plans, filled 2.00000000 for 130014.00, slippage 1.07 bp (notional-weighted), "
                   "fees 10.40 (0.80 bp)\n") != std::string::npos);
  CHECK(table.find("BTC-USD sell: 1 plan, filled 1.00000000 for 64990.00, slippage 1.54 bp (notional-weighted), "
                   "fees 6.50 (1.00 bp)\n") != std::string::npos);
  CHECK(table.find("SIM-A 0.60000000, SIM-B 0.40000000") != std::string::npos);
  CHECK(table.find("(amended 1×)") != std::string::npos);
  CHECK(table.rfind("PLAN ", 0) == 0);

  const std::string csv = exo::ctl::RenderExecutionCsv(rows);
  CHECK(csv.rfind("plan_id,symbol,side,status,quantity,filled,average_price,arrival_mid,slippage_bps,fees,fee_bps,", 0) == 0);
  CHECK(csv.find(",filled_by_venue,routed_by\n") != std::string::npos);
  CHECK(csv.find("\nb1,BTC-USD,buy,COMPLETED,1.00000000,1.00000000,65014.00,65000.00,2.15,10.40,1.60,2,0,") !=
        std::string::npos);
  CHECK(csv.find(",SIM-A:0.60000000;SIM-B:0.40000000,\n") != std::string::npos);  // No sender known.
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 4);
  CHECK(exo::ctl::RenderExecutionTable({}) == "no executed plans in the range\n");
  const std::string json = exo::ctl::RenderExecutionJson(rows);
  CHECK(json.rfind("{\"plan_id\":\"b1\",\"symbol\":\"BTC-USD\",\"side\":\"buy\",\"status\":\"COMPLETED\","
                   "\"quantity\":\"1.00000000\",\"filled\":\"1.00000000\",\"average_price\":\"65014.00\","
                   "\"arrival_mid\":\"65000.00\",\"slippage_cbps\":215,\"fees\":\"10.40\",\"children\":2,"
                   "\"amendments\":0,", 0) == 0);
  CHECK(json.find("\"filled_by_venue\":{\"SIM-A\":\"0.60000000\",\"SIM-B\":\"0.40000000\"},\"routed_by\":\"\"}\n") !=
        std::string::npos);
  CHECK(std::count(json.begin(), json.end(), '\n') == 3);
  // No sender known: no per-client totals.
  CHECK(table.find(" by ") == std::string::npos);
}

TEST_CASE("the execution report names who sent each order, keeps one client's, and totals per client", "[ctl][report]") {
  Chain c = Sample();
  for (PlanDelta& d : c.deltas) {
    if (!d.has_created()) continue;
    // b1 and s1 from desk-a, b2 from a client whose name needs quoting in CSV and escaping in JSON.
    d.mutable_created()->set_routed_by(d.plan_id() == "b2" ? "desk \"b\", algo 2" : "desk-a");
  }
  std::vector<ExecutionRow> rows = Report(c);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].routed_by == "desk-a");
  const std::string table = exo::ctl::RenderExecutionTable(rows);
  INFO(table);
  CHECK(table.find("BTC-USD buy by desk-a: 1 plan, filled 1.00000000 for 65014.00, slippage 2.15 bp "
                   "(notional-weighted), fees 10.40 (1.60 bp)\n") != std::string::npos);
  CHECK(table.find("BTC-USD buy by desk \"b\", algo 2: 1 plan, filled 1.00000000 for 65000.00") != std::string::npos);
  CHECK(table.find("BTC-USD sell by desk-a: 1 plan") != std::string::npos);
  const std::string csv = exo::ctl::RenderExecutionCsv(rows);
  CHECK(csv.find(",SIM-C:1.00000000,\"desk \"\"b\"\", algo 2\"\n") != std::string::npos);
  CHECK(csv.find(",SIM-A:0.60000000;SIM-B:0.40000000,desk-a\n") != std::string::npos);
  const std::string json = exo::ctl::RenderExecutionJson(rows);
  CHECK(json.find("\"routed_by\":\"desk \\\"b\\\", algo 2\"}\n") != std::string::npos);
  // One client's plans only.
  ExecutionReport only(0, "", 0, 0, "desk-a");
  for (const PlanDelta& d : c.deltas) only.Add(d);
  std::vector<ExecutionRow> mine = only.Rows();
  REQUIRE(mine.size() == 2);
  CHECK(mine[0].plan_id == "b1");
  CHECK(mine[1].plan_id == "s1");
}

TEST_CASE("the execution report says what filled at each venue, its share, price and fees", "[ctl][report]") {
  ExecutionReport report(0, "");
  for (const PlanDelta& d : Sample().deltas) report.Add(d);
  const std::vector<exo::ctl::VenueFills> venues = report.ByVenue();
  REQUIRE(venues.size() == 3);
  CHECK(venues[0].venue == "SIM-A");
  CHECK(venues[0].filled == 16 * kBtc / 10);  // b1's 0.6 and s1's 1.
  CHECK(venues[0].notional == 10'399'600);    // 39006.00 + 64990.00.
  CHECK(venues[0].fees == 1430);
  CHECK(venues[0].fills == 2);
  const std::string table = exo::ctl::RenderExecutionTable(report.Rows(), venues);
  INFO(table);
  CHECK(table.find("BTC-USD at SIM-A: filled 1.60000000 (53.33 %) in 2 fills, avg 64997.50, fees 14.30 (1.38 bp)\n") !=
        std::string::npos);
  CHECK(table.find("BTC-USD at SIM-B: filled 0.40000000 (13.33 %) in 1 fill, avg 65020.00, fees 2.60 (1.00 bp)\n") !=
        std::string::npos);
  CHECK(table.find("BTC-USD at SIM-C: filled 1.00000000 (33.33 %) in 1 fill, avg 65000.00, fees 0.00 (0.00 bp)\n") !=
        std::string::npos);
  // Fills of plans the report leaves out are not counted.
  ExecutionReport later(11, "");
  for (const PlanDelta& d : Sample().deltas) later.Add(d);
  REQUIRE(later.ByVenue().size() == 2);
  CHECK(later.ByVenue()[0].filled == kBtc);  // s1's alone at SIM-A.
}
