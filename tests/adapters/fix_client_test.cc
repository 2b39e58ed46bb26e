// The FIX layer (exo_fix) against the test FIX venue over a real QuickFIX session.
#include "adapters/fix/fix_engine.h"
#include "adapters/fix/fix_venue.h"

#include <catch2/catch.hpp>
#include <algorithm>
#include <mutex>

#include "tests/testing/free_port.h"
#include "tests/testing/raw_fix_peer.h"
#include "tests/testing/recorded_feeds.h"
#include "tests/testing/temp_dir.h"

namespace {

// One end of a session on 127.0.0.1:`port`, its sequence numbers kept in `store_dir`.
exo::fix::SessionConfig Session(const std::string& sender, const std::string& target, int port,
                                const std::string& store_dir) {
  exo::fix::SessionConfig c;
  c.port = port;
  c.sender_comp_id = sender;
  c.target_comp_id = target;
  c.store_dir = store_dir;
  return c;
}

// FixVenue "FIXV" (CompID E) trading BTC-USD (prices in cents, sizes in 1e-8) with venue V on
// a free port of 127.0.0.1.
exo::adapters::FixVenue::Options FixVenueOptions(const std::string& store_dir) {
  exo::adapters::FixVenue::Options o;
  o.venue_id = "FIXV";
  o.config.set_host("127.0.0.1");
  o.config.set_port(exo::testing::FreePort());
  o.config.set_sender_comp_id("E");
  o.config.set_target_comp_id("V");
  o.store_dir = store_dir;
  exoroute::v1::Instrument btc;
  btc.set_symbol("BTC-USD");
  btc.set_price_scale(2);
  btc.set_qty_scale(8);
  o.instruments.push_back(btc);
  return o;
}

// The same venue taking its book from the session (market_data), the FIX 4.4 dictionary checked.
exo::adapters::FixVenue::Options MarketDataVenueOptions(const std::string& store_dir) {
  exo::adapters::FixVenue::Options o = FixVenueOptions(store_dir);
  o.config.set_market_data(true);
  o.config.set_data_dictionary(std::string(EXO_SOURCE_DIR) + "/deploy/fix/FIX44.xml");
  return o;
}

// The MarketDataRequests `venue` has received of `kind`: "|263=1|" subscriptions, "|263=0|"
// snapshots only.
int MarketDataRequests(exo::testing::RawFixPeer& venue, const char* kind) {
  int n = 0;
  for (const auto& m : venue.received()) {
    n += m.find("|35=V|") != std::string::npos && m.find(kind) != std::string::npos ? 1 : 0;
  }
  return n;
}

// A FixVenue and the raw venue its session logs on to, listening before the venue starts (and
// outliving it).
struct FixVenueSession {
  explicit FixVenueSession(const exo::adapters::FixVenue::Options& o)
      : venue(static_cast<int>(o.config.port()), "V", "E"), fix(o) {
    REQUIRE(venue.listening());
  }
  exo::testing::RawFixPeer venue;
  exo::adapters::FixVenue fix;
};

// A FixVenueSession taking market data, logged on and subscribed, whose first snapshot the venue
// sent with an entry no book can hold (kBad: an ask at price 0), and which asked for another at once.
struct RefusedSnapshot : FixVenueSession {
  static constexpr const char* kBad =
      "35=W|262=FIXV-md|55=BTC-USD|268=2|269=0|270=64999.00|271=1.5|269=1|270=0|271=2|";
  explicit RefusedSnapshot(const std::string& store_dir) : FixVenueSession(MarketDataVenueOptions(store_dir)) {
    REQUIRE(fix.Start([](exo::adapters::ExecutionEvent) {}).ok());
    REQUIRE(exo::testing::WaitFor([&] { return MarketDataRequests(venue, "|263=1|") == 1; }));
    venue.Send(kBad);
    REQUIRE(exo::testing::WaitFor([&] { return SnapshotAsks() == 1; }));
  }
  // Snapshot-only MarketDataRequests the venue has received.
  int SnapshotAsks() { return MarketDataRequests(venue, "|263=0|"); }
};

// What an execution event says when it refuses its report (kUnknown), or "(applied)" for one
// that applies it: a refusal checked in one line.
std::string Refusal(const exo::adapters::ExecutionEvent& e) {
  return e.type == exo::adapters::ExecutionEvent::Type::kUnknown ? e.reason : "(applied)";
}

// A FixVenueSession started and logged on, keeping the execution events it reports.
class OrderEntrySession {
 public:
  explicit OrderEntrySession(const exo::adapters::FixVenue::Options& o) : session_(o) {
    REQUIRE(session_.fix.Start([this](exo::adapters::ExecutionEvent e) {
                             std::lock_guard<std::mutex> l(mu_);
                             events_.push_back(std::move(e));
                           }).ok());
    REQUIRE(exo::testing::WaitFor(
        [&] { return session_.fix.state() == exoroute::v1::ADAPTER_STATE_UP && session_.venue.logged_on(); }));
  }
  ~OrderEntrySession() { session_.fix.Stop(); }  // Its threads stop before the events go.
  exo::testing::RawFixPeer& venue() { return session_.venue; }
  exo::adapters::FixVenue& fix() { return session_.fix; }
  // Sends `id` (buy 1 BTC at 65001.00) and waits until the venue has it.
  void SendChild(const std::string& id) {
    exoroute::v1::ChildOrder child;
    child.set_cl_ord_id(id);
    child.set_venue("FIXV");
    child.set_side(exoroute::v1::SIDE_BUY);
    child.set_quantity(100000000);
    child.set_limit_price(6500100);
    REQUIRE(session_.fix.Send(child, "BTC-USD").ok());
    REQUIRE(exo::testing::WaitFor([&] {
      for (const auto& m : session_.venue.received()) {
        if (m.find("|35=D|") != std::string::npos && m.find("|11=" + id + "|") != std::string::npos) return true;
      }
      return false;
    }));
  }
  // The events reported once there are `n`.
  std::vector<exo::adapters::ExecutionEvent> Events(size_t n) {
    REQUIRE(exo::testing::WaitFor([&] {
      std::lock_guard<std::mutex> l(mu_);
      return events_.size() >= n;
    }));
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<exo::adapters::ExecutionEvent> events_;
  FixVenueSession session_;  // After the events: destroyed first.
};

}  // namespace

TEST_CASE("a cancel for an order the venue no longer has comes back as an OrderCancelReject",
          "[fix]") {
  exo::testing::TempDir dir;
  const int port = exo::testing::FreePort();
  const exo::fix::SessionConfig venue = Session("V", "E", port, dir / "venue");
  const exo::fix::SessionConfig client = Session("E", "V", port, dir / "client");
  std::string error;
  auto v = exo::fix::FixTestVenue::Create(venue, {{"100", "5"}}, {}, &error);
  REQUIRE(v);
  REQUIRE(v->Start(&error));
  std::mutex mu;
  std::vector<std::string> rejects;
  std::vector<exo::fix::ExecReport> reports;
  exo::fix::FixClient::Callbacks cb;
  cb.on_cancel_reject = [&](const std::string& id, const std::string& orig, const std::string& text) {
    std::lock_guard<std::mutex> l(mu);
    rejects.push_back(id + " " + orig + " " + text);
  };
  cb.on_exec_report = [&](const exo::fix::ExecReport& r) {
    std::lock_guard<std::mutex> l(mu);
    reports.push_back(r);
  };
  auto c = exo::fix::FixClient::Create(client, cb, &error);
  REQUIRE(c);
  REQUIRE(c->Start(&error));
  REQUIRE(exo::testing::WaitFor([&] { return c->logged_on(); }));
  // An IOC order fills at once; cancelling it afterwards is too late.
  REQUIRE(c->SendNewOrder("o1", "X", true, "2", "100", "3", &error));
  REQUIRE(exo::testing::WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return !reports.empty() && reports.back().ord_status == "2";
  }));
  REQUIRE(c->SendCancel("o1-C", "o1", "X", true, "2", &error));
  REQUIRE(exo::testing::WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return !rejects.empty();
  }));
  CHECK(rejects[0] == "o1-C o1 too late to cancel");
  CHECK(reports[0].last_qty == "2.00000000");
  CHECK(reports[0].exec_type == "F");
  c->Stop();
  v->Stop();
}

TEST_CASE("an order the venue asks to be resent is gap-filled and never sent twice, a cancel is resent", "[fix]") {
  exo::testing::TempDir dir;
  exo::fix::SessionConfig client = Session("E", "V", exo::testing::FreePort(), dir / "client");
  exo::testing::RawFixPeer venue(client.port, "V", "E");
  REQUIRE(venue.listening());
  std::string error;
  auto c = exo::fix::FixClient::Create(client, exo::fix::FixClient::Callbacks(), &error);
  REQUIRE(c);
  REQUIRE(c->Start(&error));
  REQUIRE(exo::testing::WaitFor([&] { return c->logged_on() && venue.logged_on(); }));
  // Sequence numbers 2 and 3: an order, then a cancel of it.
  REQUIRE(c->SendNewOrder("o1", "X", true, "2", "100", "0", &error));
  REQUIRE(c->SendCancel("o1-C", "o1", "X", true, "2", &error));
  auto count = [&](const std::string& part) {
    const std::vector<std::string> got = venue.received();
    return std::count_if(got.begin(), got.end(), [&](const std::string& m) { return m.find(part) != std::string::npos; });
  };
  REQUIRE(exo::testing::WaitFor([&] { return count("|35=F|") == 1; }));
  // The venue says it missed both (a ResendRequest from 2 on).
  venue.Send("35=2|7=2|16=0|");
  REQUIRE(exo::testing::WaitFor([&] { return count("|35=F|") == 2; }));
  const std::vector<std::string> got = venue.received();
  for (const std::string& m : got) UNSCOPED_INFO(m);
  CHECK(count("|35=D|") == 1);  // The order went out once.
  CHECK(count("|35=4|") == 1);  // In its place, a gap fill to sequence number 3 ...
  CHECK(count("|123=Y|") == 1);
  CHECK(count("|36=3|") == 1);
  CHECK(count("|43=Y|") == 2);  // ... and the cancel again, both flagged as possible duplicates.
  c->Stop();
}

TEST_CASE("a garbled message from a FIX venue is rejected with the field named, the session stays up",
          "[fix]") {
  // With and without a data dictionary (without one QuickFIX checks no field's format: the
  // session's own code must refuse what it cannot read, not throw past QuickFIX).
  const bool dictionary = GENERATE(true, false);
  INFO("data dictionary: " << dictionary);
  exo::testing::TempDir dir;
  exo::fix::SessionConfig client = Session("E", "V", exo::testing::FreePort(), dir / "client");
  if (dictionary) client.data_dictionary = std::string(EXO_SOURCE_DIR) + "/deploy/fix/FIX44.xml";
  exo::testing::RawFixPeer venue(client.port, "V", "E");
  REQUIRE(venue.listening());
  std::mutex mu;
  std::vector<std::string> seen;
  exo::fix::FixClient::Callbacks cb;
  cb.on_md_snapshot = [&](const std::string& symbol, const std::vector<exo::fix::MdEntry>& entries) {
    std::lock_guard<std::mutex> l(mu);
    seen.push_back("W " + symbol + " " + std::to_string(entries.size()));
  };
  cb.on_cancel_reject = [&](const std::string& id, const std::string& orig, const std::string& text) {
    std::lock_guard<std::mutex> l(mu);
    seen.push_back("9 " + id + " " + orig + " " + text);
  };
  std::string error;
  auto c = exo::fix::FixClient::Create(client, cb, &error);
  REQUIRE(c);
  REQUIRE(c->Start(&error));
  REQUIRE(exo::testing::WaitFor([&] { return c->logged_on() && venue.logged_on(); }));
  // NoMDEntries that is not a number (sequence number 2), then messages that are fine.
  venue.Send("35=W|55=X|268=abc|269=0|270=100|271=5|");
  venue.Send("35=9|11=c1|41=o1|37=NONE|39=8|434=1|58=too late|");
  if (dictionary) venue.Send("35=W|55=X|268=1|269=0|270=100|271=5|");
  auto rejected = [&] {
    for (const auto& m : venue.received()) {
      if (m.find("|35=3|") != std::string::npos) return m;
    }
    return std::string();
  };
  REQUIRE(exo::testing::WaitFor([&] { return !rejected().empty(); }));
  INFO(rejected());
  CHECK(rejected().find("|45=2|") != std::string::npos);   // The garbled message, by its MsgSeqNum,
  CHECK(rejected().find("|371=268|") != std::string::npos);  // the field (NoMDEntries),
  CHECK(rejected().find("|373=6|") != std::string::npos);    // and why: incorrect data format.
  const std::vector<std::string> expected =
      dictionary ? std::vector<std::string>{"9 c1 o1 too late", "W X 1"} : std::vector<std::string>{"9 c1 o1 too late"};
  CHECK(exo::testing::WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return seen.size() >= expected.size();
  }));
  std::lock_guard<std::mutex> l(mu);
  CHECK(seen == expected);
  CHECK(c->logged_on());
  c->Stop();
}

TEST_CASE("a FIX venue's fill of no quantity or price, or unreadable, is refused with the reason, a good one is taken",
          "[fix]") {
  exo::testing::TempDir dir;
  OrderEntrySession session(FixVenueOptions(dir / "fix"));
  session.SendChild("p1.2");
  auto fill = [&](const std::string& exec_id, const std::string& qty, const std::string& px) {
    session.venue().Send("35=8|37=v1|11=p1.2|17=" + exec_id + "|150=F|39=1|55=BTC-USD|54=1|32=" + qty + "|31=" + px +
               "|151=1|14=0|6=0|");
  };
  fill("e1", "-0.5", "65000");
  fill("e2", "abc", "65000");
  fill("e3", "0.5", "0");
  fill("e4", "0.5", "65000.10");
  fill("e5", "90000000000", "65000");  // 9·10^18 units: readable, beyond any order (2^53).
  const std::vector<exo::adapters::ExecutionEvent> events = session.Events(5);
  REQUIRE(events.size() == 5);
  using Type = exo::adapters::ExecutionEvent::Type;
  CHECK(Refusal(events[0]) == "unreadable fill (LastQty \"-0.5\", LastPx \"65000\")");
  CHECK(Refusal(events[1]) == "unreadable fill (LastQty \"abc\", LastPx \"65000\")");
  CHECK(Refusal(events[2]) == "unreadable fill (LastQty \"0.5\", LastPx \"0\")");
  CHECK(events[3].type == Type::kFill);
  CHECK(events[3].cl_ord_id == "p1.2");
  CHECK(events[3].quantity == 50000000);
  CHECK(events[3].price == 6500010);
  CHECK(events[3].exec_id == "e4");
  CHECK(Refusal(events[4]) == "fill beyond 2^53 units (LastQty \"90000000000\", LastPx \"65000\")");
  CHECK(session.fix().fills() == 1);
}

TEST_CASE("a FIX venue's trade correction or bust is refused naming the execution, fills it counted but never "
          "reported are taken at the average price, a fill after the order's end is still taken once, done for day "
          "ends",
          "[fix]") {
  exo::testing::TempDir dir;
  OrderEntrySession session(FixVenueOptions(dir / "fix"));
  exo::testing::RawFixPeer& venue = session.venue();
  session.SendChild("p7.1");
  auto report = [&](const std::string& fields) {
    venue.Send("35=8|37=v7|11=p7.1|55=BTC-USD|54=1|" + fields);
  };
  report("17=e1|150=F|39=1|32=0.25|31=65000|151=0.75|14=0.25|6=65000|");
  report("17=e2|150=H|19=e1|39=0|32=0.25|31=65000|151=1|14=0|6=0|");                // The venue busts e1.
  report("17=e3|150=G|19=e1|39=1|32=0.2|31=64999|151=0.8|14=0.2|6=64999|");         // Then corrects it.
  // Cancelled, counting 0.5 filled where 0.25 was reported: the other 0.25 is taken at AvgPx.
  report("17=e4|150=4|39=4|151=0|14=0.5|6=65000.5|");
  // That fill's own report, late: counted by the cancel's CumQty already, so not taken again.
  report("17=e4b|150=F|39=4|32=0.25|31=65001|151=0|14=0.5|6=65000.5|");
  report("17=e5|150=F|39=4|32=0.1|31=65001|151=0|14=0.6|6=65000.7|");  // A trade reported after the end.
  report("17=e6|150=4|39=4|151=0|14=0.6|6=65000.7|");                   // The end again.
  venue.Send("35=8|37=v8|11=p9.9|17=e7|150=F|39=1|55=BTC-USD|54=1|32=0.1|31=65000|151=0|14=0.1|6=65000|");
  // An order a status answer says 0.3 filled (taken at AvgPx), then the fill's own report, late:
  // counted by the answer already; a later fill counts for what its CumQty adds.
  session.SendChild("p7.3");
  venue.Send("35=8|37=v10|11=p7.3|17=s1|150=I|39=1|55=BTC-USD|54=1|151=0.7|14=0.3|6=65000|");
  venue.Send("35=8|37=v10|11=p7.3|17=f1|150=F|39=1|55=BTC-USD|54=1|32=0.3|31=65000|151=0.7|14=0.3|6=65000|");
  venue.Send("35=8|37=v10|11=p7.3|17=f2|150=F|39=1|55=BTC-USD|54=1|32=0.1|31=65002|151=0.6|14=0.4|6=65000.5|");
  // Another order the venue is done with for the day (OrdStatus 3): it ends, the rest unfilled.
  session.SendChild("p7.2");
  venue.Send("35=8|37=v9|11=p7.2|17=e8|150=3|39=3|55=BTC-USD|54=1|151=0|14=0|6=0|58=session close|");
  const std::vector<exo::adapters::ExecutionEvent> events = session.Events(13);
  REQUIRE(events.size() == 13);
  using Type = exo::adapters::ExecutionEvent::Type;
  CHECK(events[0].type == Type::kFill);
  CHECK(events[0].exec_id == "e1");
  CHECK(events[0].quantity == 25000000);
  CHECK(events[0].cum_quantity == -1);  // Of an order held: counted here.
  CHECK(Refusal(events[1]) == "trade cancel (a bust) (ExecType H) of execution \"e1\", now LastQty \"0.25\" at LastPx "
                              "\"65000\": not applied, the plan keeps the fill as recorded; reconcile with the venue");
  CHECK(Refusal(events[2]) == "trade correction (ExecType G) of execution \"e1\", now LastQty \"0.2\" at LastPx "
                              "\"64999\": not applied, the plan keeps the fill as recorded; reconcile with the venue");
  CHECK(events[3].type == Type::kFill);
  CHECK(events[3].exec_id == "cum:e4");
  CHECK(events[3].quantity == 25000000);
  CHECK(events[3].price == 6500050);
  CHECK(events[4].type == Type::kDone);
  CHECK(events[4].reason == "cancelled");
  CHECK(events[4].canceled_quantity == 50000000);
  // Out of order: counted, so that it is reconciled.
  CHECK(Refusal(events[5]) == "fill \"e4b\" (LastQty \"0.25\", CumQty \"0.5\") counted already by an earlier report's "
                              "CumQty: not taken again");
  CHECK(events[6].type == Type::kFill);  // The engine records it as a late fill.
  CHECK(events[6].exec_id == "e5");
  CHECK(events[6].quantity == 10000000);
  CHECK(events[6].price == 6500100);
  CHECK(Refusal(events[7]) == "execution report after the order's end (ExecType 4, OrdStatus 4): ignored");
  // An order this session does not hold: its trade goes to the engine with the venue's count.
  CHECK(events[8].type == Type::kFill);
  CHECK(events[8].cl_ord_id == "p9.9");
  CHECK(events[8].quantity == 10000000);
  CHECK(events[8].cum_quantity == 10000000);
  CHECK(events[8].symbol == "BTC-USD");
  CHECK(events[9].type == Type::kFill);
  CHECK(events[9].exec_id == "status:s1");
  CHECK(events[9].quantity == 30000000);
  CHECK(Refusal(events[10]) == "fill \"f1\" (LastQty \"0.3\", CumQty \"0.3\") counted already by an earlier report's "
                               "CumQty: not taken again");
  CHECK(events[11].type == Type::kFill);
  CHECK(events[11].exec_id == "f2");
  CHECK(events[11].quantity == 10000000);
  CHECK(events[11].price == 6500200);
  CHECK(events[12].type == Type::kDone);
  CHECK(events[12].cl_ord_id == "p7.2");
  CHECK(events[12].reason == "done for day: session close");
  CHECK(events[12].canceled_quantity == 100000000);
  CHECK(session.fix().fills() == 6);
}

TEST_CASE("a FIX fill of an order the session does not hold goes to the engine with the venue's CumQty, or is refused "
          "saying why",
          "[fix]") {
  exo::testing::TempDir dir;
  OrderEntrySession session(FixVenueOptions(dir / "fix"));
  exo::testing::RawFixPeer& venue = session.venue();
  auto report = [&](const std::string& id, const std::string& fields) {
    venue.Send("35=8|37=v1|11=" + id + "|54=1|" + fields);
  };
  report("old.3", "17=x1|150=F|39=4|55=BTC-USD|32=0.2|31=65000.5|151=0|14=0.7|6=65000|");
  report("old.4", "17=x2|150=F|39=4|55=ETH-USD|32=0.2|31=3000|151=0|14=0.2|6=3000|");
  report("old.5", "17=x3|150=F|39=4|55=BTC-USD|32=0.2|31=65000|151=0|14=0.1|6=65000|");  // CumQty below LastQty.
  report("old.6", "17=x4|150=F|39=4|55=BTC-USD|32=0.2|31=65000|151=0|6=65000|");         // No CumQty.
  report("old.7", "17=x5|150=4|39=4|55=BTC-USD|151=0|14=0|6=0|");
  report("old.8", "17=x6|150=F|39=4|32=0.2|31=65000|151=0|14=0.2|6=65000|");  // No Symbol.
  const std::vector<exo::adapters::ExecutionEvent> events = session.Events(6);
  REQUIRE(events.size() == 6);
  using Type = exo::adapters::ExecutionEvent::Type;
  CHECK(events[0].type == Type::kFill);
  CHECK(events[0].exec_id == "x1");
  CHECK(events[0].quantity == 20000000);
  CHECK(events[0].price == 6500050);
  CHECK(events[0].cum_quantity == 70000000);
  CHECK(events[0].symbol == "BTC-USD");
  CHECK(Refusal(events[1]) ==
        "fill of an order this session does not hold, in \"ETH-USD\", which this venue does not trade: not taken");
  CHECK(Refusal(events[2]) == "fill of an order this session does not hold, unreadable (LastQty \"0.2\", LastPx "
                              "\"65000\", CumQty \"0.1\"): not taken");
  CHECK(Refusal(events[3]) == "fill of an order this session does not hold, unreadable (LastQty \"0.2\", LastPx "
                              "\"65000\", CumQty \"\"): not taken");
  CHECK(Refusal(events[4]) == "unknown execution report (ExecType 4)");
  CHECK(Refusal(events[5]) == "fill of an order this session does not hold, naming no Symbol (55): not taken");
  CHECK(session.fix().fills() == 1);
}

TEST_CASE("a FIX market data entry no book can hold leaves the book unusable with the reason and asks for a snapshot",
          "[fix]") {
  // Before: a negative size, a zero price or a size beyond any order went into the book.
  const auto [bad, why] = GENERATE(table<std::string, std::string>({
      {"270=65001.00|271=-2", "MDEntrySize \"-2\" not within 0..2^53 units"},
      {"270=0|271=2", "MDEntryPx \"0\" not within 1..2^53 units"},
      {"270=65001.00|271=100000000", "MDEntrySize \"100000000\" not within 0..2^53 units"},
      {"270=65001.001|271=2", "MDEntryPx \"65001.001\": "},
  }));
  INFO("entry: " << bad);
  exo::testing::TempDir dir;
  FixVenueSession session(MarketDataVenueOptions(dir / "fix"));
  exo::testing::RawFixPeer& venue = session.venue;
  exo::adapters::FixVenue& fix = session.fix;
  REQUIRE(fix.Start([](exo::adapters::ExecutionEvent) {}).ok());
  auto requests = [&](const char* kind) { return MarketDataRequests(venue, kind); };
  REQUIRE(exo::testing::WaitFor([&] { return requests("|263=1|") == 1; }));
  CHECK(fix.BookProblem("BTC-USD") == "waiting for the FIX market data snapshot");
  venue.Send("35=W|262=FIXV-md|55=BTC-USD|268=2|269=0|270=64999.00|271=1.5|269=1|270=65001.00|271=2|");
  REQUIRE(exo::testing::WaitFor([&] { return fix.Book("BTC-USD") != nullptr; }));
  CHECK(fix.Book("BTC-USD")->asks(0).size() == 200000000);

  venue.Send("35=X|262=FIXV-md|268=1|279=1|269=1|55=BTC-USD|" + bad + "|");
  REQUIRE(exo::testing::WaitFor([&] { return !fix.BookProblem("BTC-USD").empty(); }));
  const std::string problem = fix.BookProblem("BTC-USD");
  CHECK(problem.rfind("FIX market data entry refused (" + why, 0) == 0);
  CHECK(problem.find("waiting for a snapshot") != std::string::npos);
  CHECK(fix.Book("BTC-USD") == nullptr);
  // A snapshot asked for again, and only that: the subscription goes on.
  REQUIRE(exo::testing::WaitFor([&] { return requests("|263=0|") == 1; }));
  CHECK(requests("|263=1|") == 1);
  // Updates before it change nothing: the book is not known until then.
  venue.Send("35=X|262=FIXV-md|268=1|279=1|269=1|55=BTC-USD|270=65001.00|271=3|");
  venue.Send("35=W|262=FIXV-md|55=BTC-USD|268=2|269=0|270=64998.00|271=1|269=1|270=65002.00|271=4|");
  REQUIRE(exo::testing::WaitFor([&] { return fix.Book("BTC-USD") != nullptr; }));
  CHECK(fix.BookProblem("BTC-USD").empty());
  const auto book = fix.Book("BTC-USD");
  REQUIRE(book->asks_size() == 1);
  CHECK(book->asks(0).price() == 6500200);
  CHECK(book->asks(0).size() == 400000000);
  CHECK(book->bids(0).price() == 6499800);
  fix.Stop();
}

TEST_CASE("a FIX book waiting for a snapshot is asked for one again at the venue's heartbeats when its messages stop",
          "[fix]") {
  // Before: only the venue's market data for the symbol brought another ask; a quiet symbol's
  // book stayed unusable until the next logon.
  exo::testing::TempDir dir;
  RefusedSnapshot s(dir / "fix");
  // The answer never comes, nor anything else for the symbol; the session only keeps alive.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // Past the first back-off, 0.25 s.
  s.venue.Send("35=0|");
  REQUIRE(exo::testing::WaitFor([&] { return s.SnapshotAsks() == 2; }));
  s.venue.Send("35=0|");  // Within the next back-off (0.5 s): not asked again.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(s.SnapshotAsks() == 2);
  s.venue.Send("35=W|262=FIXV-md|55=BTC-USD|268=2|269=0|270=64998.00|271=1|269=1|270=65002.00|271=4|");
  REQUIRE(exo::testing::WaitFor([&] { return s.fix.Book("BTC-USD") != nullptr; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  s.venue.Send("35=0|");  // The book is whole: nothing to ask.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(s.SnapshotAsks() == 2);
  CHECK(s.fix.BookProblem("BTC-USD").empty());
  s.fix.Stop();
}

TEST_CASE("a FIX snapshot no book can hold is asked for again, backing off while the venue keeps sending it",
          "[fix]") {
  // Before: a refused snapshot was asked for again only at the next logon.
  exo::testing::TempDir dir;
  RefusedSnapshot s(dir / "fix");
  CHECK(s.fix.BookProblem("BTC-USD") == "FIX market data entry refused (MDEntryPx \"0\" not within 1..2^53 units); "
                                      "waiting for a snapshot");
  CHECK(s.fix.Book("BTC-USD") == nullptr);
  // The venue answers with the same bad snapshot, and goes on sending updates: asked again, but
  // backing off (0.25 s, 0.5 s, 1 s...), not at every message.
  const auto sent = std::chrono::steady_clock::now();
  s.venue.Send(RefusedSnapshot::kBad);
  for (int k = 0; k < 60; ++k) {
    s.venue.Send("35=X|262=FIXV-md|268=1|279=1|269=1|55=BTC-USD|270=65001.00|271=3|");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(exo::testing::WaitFor([&] { return s.SnapshotAsks() >= 2; }));
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  // 0.25 s, then 0.5 s, then 1 s, ... apart: within `elapsed_s` at most this many more.
  int bound = 1;
  for (double at = 0.25, wait = 0.5; at <= elapsed_s + 0.05; at += wait, wait *= 2) ++bound;
  INFO("asks " << s.SnapshotAsks() << " within " << elapsed_s << " s");
  CHECK(s.SnapshotAsks() <= bound);
  CHECK(s.SnapshotAsks() < 10);  // Not one per message.
  CHECK(s.fix.Book("BTC-USD") == nullptr);
  // A snapshot taken whole restores the book.
  s.venue.Send("35=W|262=FIXV-md|55=BTC-USD|268=2|269=0|270=64998.00|271=1|269=1|270=65002.00|271=4|");
  REQUIRE(exo::testing::WaitFor([&] { return s.fix.Book("BTC-USD") != nullptr; }));
  CHECK(s.fix.BookProblem("BTC-USD").empty());
  CHECK(s.fix.Book("BTC-USD")->asks(0).price() == 6500200);
  s.fix.Stop();
}