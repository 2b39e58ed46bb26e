// Adapter conformance: the same checks, run against every adapter that claims a contract.
//
//   marketdata.l2book/1.0  books sorted best-first and not crossed, sequence non-decreasing,
//                          updates applied in order, trouble (gap, stall) reported through
//                          BookProblem and recovered without help.
//   execution.report/1.0   the order lifecycle through the real engine and store, with the
//                          exact PlanDeltas expected: fills, an IOC larger than the book, cancel,
//                          a rejected child.
// Adapters: the simulated venue (both contracts) and the WebSocket feed venue (books only,
// served by the local test exchange). A FIX venue joins when it exists.
#include <catch2/catch.hpp>
#include <thread>
#include <fstream>
#include <functional>
#include <optional>

#include <boost/asio/ip/tcp.hpp>

#include "adapters/fix/fix_engine.h"
#include "adapters/fix/fix_venue.h"
#include "adapters/sim/sim_venue.h"
#include "adapters/ws/ws_feed_venue.h"
#include "daemon/config.h"
#include "daemon/router_engine.h"
#include "tests/adapters/feed_server.h"
#include "tests/adapters/recorded_binance_venue.h"
#include "tests/testing/free_port.h"
#include "tests/testing/recorded_feeds.h"
#include "tests/testing/temp_dir.h"

using namespace exoroute::v1;  // NOLINT
using exo::adapters::VenueAdapter;

namespace {

using exo::testing::WaitFor;

// Book-contract checks on whatever the adapter shows now.
void CheckBookShape(const VenueBook& b) {
  for (int i = 1; i < b.bids_size(); ++i) CHECK(b.bids(i).price() < b.bids(i - 1).price());
  for (int i = 1; i < b.asks_size(); ++i) CHECK(b.asks(i).price() > b.asks(i - 1).price());
  for (const auto& l : b.bids()) CHECK(l.size() > 0);
  for (const auto& l : b.asks()) CHECK(l.size() > 0);
  if (b.bids_size() > 0 && b.asks_size() > 0) CHECK(b.bids(0).price() < b.asks(0).price());
  CHECK(b.receive_time_ns() > 0);
}

// Watches a symbol's book for a while: shape on every look, sequence never going back.
void WatchBooks(VenueAdapter& venue, const std::string& symbol, int looks) {
  uint64_t last_seq = 0;
  int seen = 0;
  for (int i = 0; i < looks; ++i) {
    if (auto b = venue.Book(symbol)) {
      ++seen;
      CheckBookShape(*b);
      CHECK(b->sequence() >= last_seq);
      last_seq = b->sequence();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  CHECK(seen > 0);
}

class Clock1 : public exo::Clock {
 public:
  int64_t NowNs() const override { return exo::SystemClock()->NowNs(); }
};

struct Recorded {
  std::string snapshot;
  std::vector<std::string> frames;
};

const Recorded& Binance() {
  static const Recorded r{exo::testing::RecordedBinanceSnapshot("NKNUSDT"),
                          exo::testing::RecordedFrames("BINANCE.ws.1.0")};
  return r;
}

}  // namespace

TEST_CASE("marketdata.l2book/1.0: the simulated venue", "[conformance][book]") {
  static Clock1 clock;
  exo::adapters::SimVenue::Options o;
  o.venue_id = "SIM";
  o.config.set_seed(3);
  o.config.set_mid_price(100000);
  o.config.set_tick_size(10);
  o.config.set_depth(10);
  o.config.set_level_size(1000);
  o.config.set_update_interval_ms(2);
  Instrument i;
  i.set_symbol("X");
  o.instruments.push_back(i);
  o.clock = &clock;
  exo::adapters::SimVenue venue(o);
  REQUIRE(venue.Start([](exo::adapters::ExecutionEvent) {}).ok());
  WatchBooks(venue, "X", 100);
  CHECK(venue.BookProblem("X").empty());
  venue.Stop();
}

TEST_CASE("marketdata.l2book/1.0: the WebSocket feed venue", "[conformance][book]") {
  // The recorded stream with one update lost (a gap), then silence (a stall).
  exo::testing::FeedServer::Options so;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = Binance().snapshot;
  so.script = [](int connection) {
    exo::testing::FeedServer::Script s;
    int depth = 0;
    for (const auto& f : Binance().frames) {
      bool d = f.find("nknusdt@depth") != std::string::npos;
      if (connection == 0 && d && ++depth == 30) continue;
      s.frames.push_back(f);
    }
    s.frame_interval_ms = 1;
    return s;
  };
  exo::testing::FeedServer server(so);
  static Clock1 clock;
  exo::adapters::ws::WsFeedVenue venue(
      exo::testing::RecordedBinanceVenue("BIN", server.port(), /*stall_timeout_ms=*/400, &clock));
  REQUIRE(venue.Start(nullptr).ok());
  // Gap: detected and reported, then resynced by itself.
  REQUIRE(WaitFor([&] { return venue.resyncs() >= 1; }));
  // Stall: the feed is dropped and comes back; meanwhile the problem is reported.
  std::string seen;
  REQUIRE(WaitFor([&] {
    std::string p = venue.BookProblem("NKN-USDT");
    if (!p.empty()) seen = p;
    return server.websocket_connections() >= 2 && venue.BookProblem("NKN-USDT").empty();
  }));
  CHECK_FALSE(seen.empty());
  WatchBooks(venue, "NKN-USDT", 50);
  venue.Stop();
}

namespace {

// The engine, a real store and one trading venue with a fixed book: 5 @ 100, 5 @ 101 (asks).
struct LifecycleNode {
  explicit LifecycleNode(const std::string& dir) {
    config = *exo::daemon::LoadConfig("");
    config.set_data_dir(dir);
    config.clear_instruments();
    auto* inst = config.add_instruments();
    inst->set_symbol("X");
    config.clear_venues();
    auto* v = config.add_venues();
    v->set_id("V");
    v->set_taker_fee_bps(10);
    v->set_max_book_age_ms(60000);
    auto* m = v->add_markets();
    m->set_symbol("X");
    m->set_lot_size(1);
    v->mutable_sim()->set_update_interval_ms(5);
    v->mutable_sim()->set_max_order_quantity(9);
    VenueBook book;
    for (auto [p, s] : {std::pair{100, 5}, {101, 5}}) {
      auto* l = book.add_asks();
      l->set_price(p);
      l->set_size(s);
    }
    auto* b = book.add_bids();
    b->set_price(99);
    b->set_size(5);
    config.mutable_routing()->set_replan_interval_ms(5);
    exo::store::StoreOptions so;
    so.path = dir + "/db";
    so.node_id = config.node_id();
    store = *exo::store::OpenRocksDeltaStore(so);
    exo::adapters::SimVenue::Options o;
    o.venue_id = "V";
    o.config = v->sim();
    o.instruments.push_back(*inst);
    o.fee_bps = 10;
    o.clock = exo::SystemClock();
    o.fixed_books["X"] = book;
    std::vector<exo::daemon::RouterEngine::Venue> venues;
    venues.push_back({*v, std::make_unique<exo::adapters::SimVenue>(o)});
    adapter = venues.back().adapter.get();
    engine = std::make_unique<exo::daemon::RouterEngine>(config, store.get(), std::move(venues), exo::SystemClock());
    REQUIRE(engine->Recover().ok());
    REQUIRE(engine->Start().ok());
  }
  // The kinds of the plan's deltas once it has settled, e.g. "created allocated child_sent".
  std::vector<std::string> Kinds(const std::string& id) {
    uint32_t seen = 0;
    for (int i = 0; i < 400; ++i) {
      auto p = engine->AwaitVersion(id, seen, absl::Milliseconds(50));
      REQUIRE(p.ok());
      if (p->settled) break;
      seen = p->version;
    }
    std::vector<std::string> kinds;
    REQUIRE(store->ScanPlan(id, 1, [&](const PlanDelta& d, std::string_view) {
      switch (d.change_case()) {
        case PlanDelta::kCreated: kinds.push_back("created"); break;
        case PlanDelta::kAllocated: kinds.push_back(d.allocated().replan() ? "replanned" : "allocated"); break;
        case PlanDelta::kChildSent: kinds.push_back("child_sent"); break;
        case PlanDelta::kFill: kinds.push_back("fill " + std::to_string(d.fill().quantity()) + "@" + std::to_string(d.fill().price())); break;
        case PlanDelta::kChildDone: kinds.push_back("child_done " + d.child_done().reason()); break;
        case PlanDelta::kCancelRequested: kinds.push_back("cancel_requested"); break;
        case PlanDelta::kFinished: kinds.push_back("finished " + PlanStatus_Name(d.finished().status())); break;
        default: break;
      }
      return true;
    }).ok());
    return kinds;
  }
  DaemonConfig config;
  std::unique_ptr<exo::store::DeltaStore> store;
  exo::adapters::VenueAdapter* adapter = nullptr;
  std::unique_ptr<exo::daemon::RouterEngine> engine;
};

ParentOrder Order(const std::string& id, int64_t qty, TimeInForce tif, std::optional<int64_t> limit = {}) {
  ParentOrder o;
  o.set_id(id);
  o.set_symbol("X");
  o.set_side(SIDE_BUY);
  o.set_quantity(qty);
  o.set_time_in_force(tif);
  if (limit) o.set_limit_price(*limit);
  return o;
}

using Kinds = std::vector<std::string>;

}  // namespace

TEST_CASE("execution.report/1.0: the simulated venue's order lifecycle, delta by delta",
          "[conformance][orders]") {
  exo::testing::TempDir dir;
  LifecycleNode n(dir.path());
  SECTION("new -> fills -> done -> completed") {
    REQUIRE(n.engine->Route(Order("full", 7, TIME_IN_FORCE_GTC), ROUTE_MODE_EXECUTE).ok());
    CHECK(n.Kinds("full") == Kinds{"created", "allocated", "child_sent", "fill 5@100", "fill 2@101",
                                   "child_done filled", "finished PLAN_STATUS_COMPLETED"});
  }
  SECTION("an IOC order larger than the book within its limit: what is shown fills, the rest expires") {
    REQUIRE(n.engine->Route(Order("part", 7, TIME_IN_FORCE_IOC, 100), ROUTE_MODE_EXECUTE).ok());
    CHECK(n.Kinds("part") == Kinds{"created", "allocated", "child_sent", "fill 5@100",
                                   "child_done filled", "finished PLAN_STATUS_EXPIRED"});
    CHECK(n.engine->GetPlan("part")->filled_quantity() == 5);
  }
  SECTION("cancel a working order") {
    REQUIRE(n.engine->Route(Order("wait", 3, TIME_IN_FORCE_GTC, 50), ROUTE_MODE_EXECUTE).ok());
    REQUIRE(n.engine->Cancel("wait", "test").ok());
    CHECK(n.Kinds("wait") == Kinds{"created", "allocated", "cancel_requested",
                                   "finished PLAN_STATUS_CANCELLED"});
  }
  SECTION("a child the venue rejects") {
    REQUIRE(n.engine->Route(Order("rej", 10, TIME_IN_FORCE_IOC), ROUTE_MODE_EXECUTE).ok());
    CHECK(n.Kinds("rej") == Kinds{"created", "allocated", "child_sent",
                                  "child_done rejected: quantity 10 above the venue's maximum order size 9",
                                  "finished PLAN_STATUS_EXPIRED"});
  }
  SECTION("a venue that is down is not sent anything") {
    n.adapter->Stop();
    REQUIRE(n.engine->Route(Order("down", 3, TIME_IN_FORCE_IOC), ROUTE_MODE_EXECUTE).ok());
    CHECK(n.Kinds("down") == Kinds{"created", "allocated", "finished PLAN_STATUS_EXPIRED"});
    const std::string why = n.engine->GetPlan("down")->exclusions(0).reason();
    INFO(why);
    CHECK(why.rfind("venue DOWN", 0) == 0);  // Then what `status` says of the connection, if anything.
  }
}

namespace {

using exo::testing::FreePort;

}  // namespace

std::string FixDictionary() { return std::string(EXO_SOURCE_DIR) + "/deploy/fix/FIX44.xml"; }

// The test FIX venue's side of the session on `port` (acceptor VENUE, the node EXO), its store
// under `dir`.
exo::fix::SessionConfig TestVenueSide(int port, const std::string& dir) {
  exo::fix::SessionConfig venue_side;
  venue_side.port = port;
  venue_side.sender_comp_id = "VENUE";
  venue_side.target_comp_id = "EXO";
  venue_side.data_dictionary = FixDictionary();
  venue_side.store_dir = dir + "/venue-store";
  return venue_side;
}

// The engine with a FIX venue ("FIXV", books from "V") against the test FIX venue, over real
// QuickFIX sessions validated with the FIX 4.4 dictionary.
struct FixNode {
  FixNode(const std::string& dir, std::vector<exo::fix::FixTestVenue::Level> venue_asks,
          const std::string& time_in_force = "", long long venue_max_qty = 0,
          bool market_data = false)
      : node(dir), fix_market_data(market_data) {
    const std::string dictionary = FixDictionary();
    const int port = FreePort();
    std::string error;
    venue = exo::fix::FixTestVenue::Create(TestVenueSide(port, dir), std::move(venue_asks), {{"99", "5"}}, &error,
                                           venue_max_qty);
    INFO(error);
    REQUIRE(venue);
    REQUIRE(venue->Start(&error));

    fix_port = port;
    fix_dictionary = dictionary;
    fix_tif = time_in_force;
    store_root = dir;
    Restart();
  }
  // (Re)creates the FIX venue and the engine on the same store, as after a restart.
  void Restart() {
    StopNode();
    StartNode();
  }
  // The node goes down (its FIX session logs out); the venue stays up.
  void StopNode() {
    if (node.engine) {
      node.engine->Stop();
      node.engine.reset();  // The old FIX session must be gone: QuickFIX registers sessions by id.
    }
  }
  void StartNode() {
    DaemonConfig config = node.config;
    auto* fv = config.add_venues();
    fv->set_id("FIXV");
    fv->set_taker_fee_bps(10);
    if (!fix_market_data) fv->set_book_from("V");
    fv->set_max_book_age_ms(60000);
    fv->add_markets()->CopyFrom(config.venues(0).markets(0));
    auto* f = fv->mutable_fix();
    f->set_market_data(fix_market_data);
    f->set_host("127.0.0.1");
    f->set_port(fix_port);
    f->set_sender_comp_id("EXO");
    f->set_target_comp_id("VENUE");
    f->set_data_dictionary(fix_dictionary);
    f->set_time_in_force(fix_tif);
    f->set_status_poll_ms(fix_status_poll_ms);
    exo::adapters::FixVenue::Options o;
    o.venue_id = "FIXV";
    o.config = *f;
    o.instruments.push_back(config.instruments(0));
    o.fee_bps = 10;
    o.store_dir = store_root + "/exo-fix-store";
    o.clock = exo::SystemClock();
    exo::adapters::SimVenue::Options so;
    so.venue_id = "V";
    so.config = config.venues(0).sim();
    so.instruments.push_back(config.instruments(0));
    so.clock = exo::SystemClock();
    VenueBook book;  // What the router sees for both venues: 5 @ 100, 5 @ 101.
    for (auto [p, sz] : {std::pair{100, 5}, {101, 5}}) {
      auto* l = book.add_asks();
      l->set_price(p);
      l->set_size(sz);
    }
    so.fixed_books["X"] = book;
    std::vector<exo::daemon::RouterEngine::Venue> venues;
    venues.push_back({config.venues(0), std::make_unique<exo::adapters::SimVenue>(so)});
    venues.push_back({*fv, std::make_unique<exo::adapters::FixVenue>(o)});
    fix_adapter = venues.back().adapter.get();
    node.engine = std::make_unique<exo::daemon::RouterEngine>(config, node.store.get(), std::move(venues),
                                                              exo::SystemClock());
    REQUIRE(node.engine->Recover().ok());
    REQUIRE(node.engine->Start().ok());
    REQUIRE(WaitFor([&] { return fix_adapter->state() == ADAPTER_STATE_UP; }));
  }
  ~FixNode() {
    node.engine->Stop();
    venue->Stop();
  }
  static ParentOrder OnlyFix(ParentOrder o) {
    o.add_allowed_venues("FIXV");
    return o;
  }
  // Routes `id`, an executed GTC order of 5 at the FIX venue only, and waits until the venue has
  // its child (resting there when the venue offers nothing at its limit).
  void RouteResting(const std::string& id) {
    const int before = venue->orders_received();
    REQUIRE(node.engine->Route(OnlyFix(Order(id, 5, TIME_IN_FORCE_GTC)), ROUTE_MODE_EXECUTE).ok());
    REQUIRE(WaitFor([&] { return venue->orders_received() == before + 1; }));
  }
  LifecycleNode node;
  std::unique_ptr<exo::fix::FixTestVenue> venue;
  exo::adapters::VenueAdapter* fix_adapter = nullptr;
  int fix_port = 0;
  std::string fix_dictionary, fix_tif, store_root;
  uint32_t fix_status_poll_ms = 0;  // fix.status_poll_ms (set, then Restart).
  bool fix_market_data = false;
};

TEST_CASE("marketdata.l2book/1.0: a FIX venue's own market data (W snapshot, X refresh)",
          "[conformance][book][fix]") {
  exo::testing::TempDir dir;
  FixNode f(dir.path(), {{"100", "5"}, {"101", "2"}}, "", 0, /*market_data=*/true);
  auto* venue = f.fix_adapter;
  REQUIRE(WaitFor([&] { return venue->Book("X") != nullptr; }));
  auto book = venue->Book("X");
  CheckBookShape(*book);
  REQUIRE(book->asks_size() == 2);
  CHECK(book->asks(0).price() == 100);
  CHECK(book->asks(0).size() == 5);
  CHECK(book->bids(0).price() == 99);
  CHECK(venue->BookProblem("X").empty());
  // Routed on its own book, then the venue's refresh shows what the fills took.
  auto& n = f.node;
  REQUIRE(n.engine->Route(FixNode::OnlyFix(Order("md1", 6, TIME_IN_FORCE_GTC)), ROUTE_MODE_EXECUTE).ok());
  CHECK(n.Kinds("md1") == Kinds{"created", "allocated", "child_sent", "fill 5@100", "fill 1@101",
                                "child_done filled", "finished PLAN_STATUS_COMPLETED"});
  REQUIRE(WaitFor([&] {
    auto b = venue->Book("X");
    return b && b->asks_size() == 1 && b->asks(0).price() == 101 && b->asks(0).size() == 1;
  }));
  WatchBooks(*venue, "X", 20);
}

TEST_CASE("execution.report/1.0: a FIX 4.4 venue's order lifecycle, delta by delta",
          "[conformance][orders][fix]") {
  exo::testing::TempDir dir;
  // The FIX venue's own book is thinner than what the router sees (5@100, 5@101), so a child
  // can come back partly filled with the remainder cancelled by the venue.
  FixNode f(dir.path(), {{"100", "5"}, {"101", "2"}});
  auto& n = f.node;
  SECTION("new -> fills -> done -> completed over FIX") {
    REQUIRE(n.engine->Route(FixNode::OnlyFix(Order("fx1", 7, TIME_IN_FORCE_GTC)), ROUTE_MODE_EXECUTE).ok());
    CHECK(n.Kinds("fx1") == Kinds{"created", "allocated", "child_sent", "fill 5@100", "fill 2@101",
                                  "child_done filled", "finished PLAN_STATUS_COMPLETED"});
    CHECK(f.venue->orders_received() == 1);
    CHECK(n.engine->GetPlan("fx1")->fees() == 1);  // 10 bp of 702, rounded.
  }
  SECTION("partial fill over FIX, the venue cancels the IOC remainder") {
    REQUIRE(n.engine->Route(FixNode::OnlyFix(Order("fx2", 10, TIME_IN_FORCE_IOC)), ROUTE_MODE_EXECUTE).ok());
    CHECK(n.Kinds("fx2") == Kinds{"created", "allocated", "child_sent", "fill 5@100", "fill 2@101",
                                  "child_done cancelled: ioc remainder", "finished PLAN_STATUS_EXPIRED"});
    auto plan = n.engine->GetPlan("fx2");
    REQUIRE(plan.ok());
    CHECK(plan->filled_quantity() == 7);
  }
}

TEST_CASE("execution.report/1.0: cancelling a resting FIX order", "[conformance][orders][fix]") {
  exo::testing::TempDir dir;
  // The venue only offers at 105: a Day child limited at 100 rests there until cancelled.
  FixNode f(dir.path(), {{"105", "5"}}, /*time_in_force=*/"0");
  auto& n = f.node;
  f.RouteResting("fx3");
  REQUIRE(n.engine->Cancel("fx3", "desk says stop").ok());
  CHECK(n.Kinds("fx3") == Kinds{"created", "allocated", "child_sent", "cancel_requested",
                                "child_done cancelled: cancelled on request",
                                "finished PLAN_STATUS_CANCELLED"});
}

TEST_CASE("execution.report/1.0: a FIX venue rejects an order", "[conformance][orders][fix]") {
  exo::testing::TempDir dir;
  FixNode f(dir.path(), {{"100", "5"}, {"101", "5"}}, "", /*venue_max_qty=*/4);
  auto& n = f.node;
  REQUIRE(n.engine->Route(FixNode::OnlyFix(Order("fx4", 5, TIME_IN_FORCE_IOC)), ROUTE_MODE_EXECUTE).ok());
  CHECK(n.Kinds("fx4") == Kinds{"created", "allocated", "child_sent",
                                "child_done rejected: order quantity above the venue maximum",
                                "finished PLAN_STATUS_EXPIRED"});
}

TEST_CASE("after a restart, open FIX children are reconciled with the venue, never re-sent",
          "[conformance][orders][fix][recovery]") {
  exo::testing::TempDir dir;
  FixNode f(dir.path(), {{"105", "5"}}, /*time_in_force=*/"0");  // The child will rest.
  f.RouteResting("fx5");
  // The node stops with the child resting at the venue, and comes back on the same store.
  f.Restart();
  auto plan = f.node.engine->GetPlan("fx5");
  REQUIRE(plan.ok());
  REQUIRE(plan->children_size() == 1);
  CHECK_FALSE(plan->children(0).done());  // Re-adopted, not written off as lost.
  // It is still the venue's live order: cancelling the plan cancels it there.
  REQUIRE(f.node.engine->Cancel("fx5", "after restart").ok());
  CHECK(f.node.Kinds("fx5") == Kinds{"created", "allocated", "child_sent", "cancel_requested",
                                     "child_done cancelled: cancelled on request",
                                     "finished PLAN_STATUS_CANCELLED"});
  CHECK(f.venue->orders_received() == 1);  // Nothing was sent twice.
}

TEST_CASE("execution.report/1.0: a FIX venue expires a resting order at the end of its day",
          "[conformance][orders][fix]") {
  exo::testing::TempDir dir;
  // The venue only offers at 105: a Day child limited at 100 rests there until the venue's day ends.
  FixNode f(dir.path(), {{"105", "5"}}, /*time_in_force=*/"0");
  auto& n = f.node;
  f.RouteResting("fx5");
  REQUIRE(f.venue->ExpireResting() == 1);
  // The child ends as expired with nothing filled; the order itself is good till cancelled, so
  // the remainder goes out again as a new child on the next day's session.
  REQUIRE(WaitFor([&] { return f.venue->orders_received() == 2; }));
  auto plan = n.engine->GetPlan("fx5");
  REQUIRE(plan.ok());
  CHECK(plan->filled_quantity() == 0);
  CHECK(plan->status() == PLAN_STATUS_WORKING);
  int open = 0, expired = 0;
  for (const auto& c : plan->children()) {
    if (!c.done()) ++open;
    if (c.done() && c.done_reason() == "expired") ++expired;
  }
  CHECK(open == 1);
  CHECK(expired == 1);
  REQUIRE(n.engine->Cancel("fx5", "desk says stop").ok());
  CHECK(n.Kinds("fx5") == Kinds{"created", "allocated", "child_sent", "child_done expired",
                                "replanned", "child_sent", "cancel_requested",
                                "child_done cancelled: cancelled on request",
                                "finished PLAN_STATUS_CANCELLED"});
}

// The plan `id`, sent to the FIX venue as one resting child of 5, completed from one fill of 5 at
// 100 recorded once, however its reports reached the node.
void CheckFilledOnceAt100(FixNode& f, const std::string& id) {
  CHECK(f.node.Kinds(id) == Kinds{"created", "allocated", "child_sent", "fill 5@100", "child_done filled",
                                  "finished PLAN_STATUS_COMPLETED"});
  auto plan = f.node.engine->GetPlan(id);
  REQUIRE(plan.ok());
  CHECK(plan->filled_quantity() == 5);
}

TEST_CASE("a FIX child whose reports were lost: asked where it stands, its fill and end are reported once",
          "[conformance][orders][fix]") {
  exo::testing::TempDir dir;
  FixNode f(dir.path(), {{"105", "5"}}, /*time_in_force=*/"0");  // The child will rest.
  f.RouteResting("fx9");
  f.venue->DropReports(true);  // From here the venue's reports are lost on the way.
  REQUIRE(f.venue->FillResting("100") == 1);
  CHECK(f.fix_adapter->AskStatus("fx9.99").code() == absl::StatusCode::kNotFound);  // Not a child it holds.
  auto plan = f.node.engine->GetPlan("fx9");
  REQUIRE(plan.ok());
  REQUIRE(plan->children_size() == 1);
  CHECK_FALSE(plan->children(0).done());  // Nothing has reached the node.
  REQUIRE(f.fix_adapter->AskStatus(plan->children(0).order().cl_ord_id()).ok());
  CheckFilledOnceAt100(f, "fx9");
}

TEST_CASE("a resting FIX child whose reports were lost is recovered by the node's status poll, if configured",
          "[conformance][orders][fix]") {
  exo::testing::TempDir dir;
  FixNode f(dir.path(), {{"105", "5"}}, /*time_in_force=*/"0");  // The children will rest.
  auto rest_and_fill_silently = [&](const std::string& id) {
    f.RouteResting(id);
    f.venue->DropReports(true);
    REQUIRE(f.venue->FillResting("100") == 1);
    f.venue->DropReports(false);
  };
  // Without the poll (the default): a resting child is never overdue, and nothing asks.
  rest_and_fill_silently("fx10");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto plan = f.node.engine->GetPlan("fx10");
  REQUIRE(plan.ok());
  CHECK_FALSE(plan->children(0).done());
  // With fix.status_poll_ms 1000: asked within a second or two, its fill and end recorded once.
  f.fix_status_poll_ms = 1000;
  f.Restart();  // (The restart also reconciles fx10 with the venue: it completes.)
  CheckFilledOnceAt100(f, "fx10");
  rest_and_fill_silently("fx11");
  CheckFilledOnceAt100(f, "fx11");
}

TEST_CASE("a FIX child asked about again and again while the session is down is asked once at logon",
          "[conformance][orders][fix]") {
  exo::testing::TempDir dir;
  const int port = FreePort();
  std::string error;
  auto venue = exo::fix::FixTestVenue::Create(TestVenueSide(port, dir.path()), {{"105", "5"}}, {}, &error);
  REQUIRE(venue);
  REQUIRE(venue->Start(&error));
  exo::adapters::FixVenue::Options o;
  o.venue_id = "FIXV";
  o.config.set_host("127.0.0.1");
  o.config.set_port(port);
  o.config.set_sender_comp_id("EXO");
  o.config.set_target_comp_id("VENUE");
  o.config.set_data_dictionary(FixDictionary());
  Instrument x;
  x.set_symbol("X");
  o.instruments.push_back(x);
  o.store_dir = dir.path() + "/exo-fix-store";
  o.clock = exo::SystemClock();
  exo::adapters::FixVenue fix(o);
  ChildOrder child;
  child.set_cl_ord_id("p.2");
  child.set_venue("FIXV");
  child.set_side(SIDE_BUY);
  child.set_quantity(5);
  child.set_limit_price(105);
  REQUIRE(fix.Reconcile(child, "X", 0).ok());  // Open before the session is up, as after a restart.
  for (int i = 0; i < 3; ++i) REQUIRE(fix.AskStatus("p.2").ok());  // Each child timeout while down.
  CHECK(fix.AskStatus("p.3").code() == absl::StatusCode::kNotFound);
  REQUIRE(fix.Start([](exo::adapters::ExecutionEvent) {}).ok());
  REQUIRE(WaitFor([&] { return venue->status_requests() >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // Any more would have gone out with it.
  CHECK(venue->status_requests() == 1);
  fix.Stop();
  venue->Stop();
}

TEST_CASE("a fill the venue reported while the node was down is recorded once after it returns",
          "[conformance][orders][fix][recovery]") {
  exo::testing::TempDir dir;
  FixNode f(dir.path(), {{"105", "5"}}, /*time_in_force=*/"0");  // The child will rest.
  f.RouteResting("fx6");
  f.StopNode();
  // While the node is away the market comes to the resting order: the venue's execution report
  // waits in its FIX store, to be resent when the session is back (a sequence gap to the node).
  REQUIRE(f.venue->FillResting("100") == 1);
  f.StartNode();
  CheckFilledOnceAt100(f, "fx6");  // Once: the resent report and the status answer agree.
  CHECK(f.venue->orders_received() == 1);
}

TEST_CASE("a trade the venue reports after a cancel, while the node was down, is recorded after it returns",
          "[conformance][orders][fix][recovery]") {
  exo::testing::TempDir dir;
  FixNode f(dir.path(), {{"105", "5"}}, /*time_in_force=*/"0");  // The child will rest.
  auto& n = f.node;
  f.RouteResting("fx8");
  REQUIRE(n.engine->Cancel("fx8", "desk says stop").ok());
  REQUIRE(WaitFor([&] {
    auto p = n.engine->GetPlan("fx8");
    return p.ok() && p->status() == PLAN_STATUS_CANCELLED;
  }));
  f.StopNode();
  // The venue had matched 2 of it before the cancel reached the book, and says so now: the report
  // waits in its FIX store and is resent at logon, to a node that holds the order no more.
  REQUIRE(f.venue->ReportTradeAfterCancel("100", "2"));
  f.StartNode();
  REQUIRE(WaitFor([&] {
    auto p = n.engine->GetPlan("fx8");
    return p.ok() && p->filled_quantity() == 2;
  }));
  CHECK(n.Kinds("fx8") == Kinds{"created", "allocated", "child_sent", "cancel_requested",
                                "child_done cancelled: cancelled on request", "finished PLAN_STATUS_CANCELLED",
                                "fill 2@100"});
  CHECK(n.engine->late_fills() == 1);
  CHECK(n.engine->unknown_executions() == 0);
  CHECK(n.engine->GetPlan("fx8")->status() == PLAN_STATUS_CANCELLED);
  // The same report once more (as a venue unsure it was delivered): not taken twice.
  REQUIRE(f.venue->RepeatLastFill());
  REQUIRE(WaitFor([&] { return n.engine->duplicate_executions() == 1; }));
  CHECK(n.engine->GetPlan("fx8")->filled_quantity() == 2);
}

TEST_CASE("a fill report the venue sends twice is recorded once", "[conformance][orders][fix]") {
  exo::testing::TempDir dir;
  // The venue has 2 at 100: a Day child for 5 limited at 100 fills 2 and rests with 3 open.
  FixNode f(dir.path(), {{"100", "2"}}, /*time_in_force=*/"0");
  auto& n = f.node;
  REQUIRE(n.engine->Route(FixNode::OnlyFix(Order("fx7", 5, TIME_IN_FORCE_GTC)), ROUTE_MODE_EXECUTE).ok());
  REQUIRE(WaitFor([&] {
    auto p = n.engine->GetPlan("fx7");
    return p.ok() && p->filled_quantity() == 2;
  }));
  // The partial fill's report comes again (PossResend, same ExecID) while the child is open.
  REQUIRE(f.venue->RepeatLastFill());
  REQUIRE(WaitFor([&] { return n.engine->duplicate_executions() == 1; }));
  // And again after a restart: the recorded execution ids come back from the store.
  f.Restart();
  REQUIRE(f.venue->RepeatLastFill());
  REQUIRE(WaitFor([&] { return n.engine->duplicate_executions() == 1; }));
  REQUIRE(n.engine->Cancel("fx7", "desk says stop").ok());
  CHECK(n.Kinds("fx7") == Kinds{"created", "allocated", "child_sent", "fill 2@100",
                                "cancel_requested", "child_done cancelled: cancelled on request",
                                "finished PLAN_STATUS_CANCELLED"});
  CHECK(n.engine->GetPlan("fx7")->filled_quantity() == 2);
  CHECK(n.engine->unknown_executions() == 0);
}
