// The shortfalls a cluster coordinator works: what the ledger keeps on disk, and how a cancel or
// an amendment meets an attempt in flight.
#include "daemon/cluster/shortfall_ledger.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/testing/temp_dir.h"

namespace {

using exo::daemon::cluster::IsSubRouteId;
using exo::daemon::cluster::ShortfallLedger;
using exo::daemon::cluster::SubRouteId;
using exo::testing::TempDir;
using namespace exoroute::v1;  // NOLINT

std::unique_ptr<exo::store::DeltaStore> OpenStore(const std::string& path, bool read_only = false) {
  exo::store::StoreOptions o;
  o.path = path;
  o.node_id = "n1";
  o.create_if_missing = true;
  o.read_only = read_only;
  auto s = exo::store::OpenRocksDeltaStore(o);
  REQUIRE(s.ok());
  return *std::move(s);
}

ShortfallRecord Short(const std::string& id, int64_t shortfall) {
  ShortfallRecord r;
  r.mutable_order()->set_id(id);
  r.mutable_order()->set_symbol("BTC-USD");
  r.mutable_order()->set_side(SIDE_BUY);
  r.mutable_order()->set_quantity(10 * shortfall);
  r.mutable_order()->set_limit_price(6500000);
  r.mutable_order()->set_time_in_force(TIME_IN_FORCE_GTC);
  r.set_routed_by("desk-a");
  r.mutable_work()->set_coordinator("n1");
  r.mutable_work()->set_shortfall(shortfall);
  return r;
}

// The record `ledger` holds of `id` (it must hold one).
ShortfallRecord Held(const ShortfallLedger& ledger, const std::string& id) {
  auto r = ledger.Record(id);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  return **r;
}

std::unique_ptr<ShortfallLedger> Load(exo::store::DeltaStore* s) {
  auto l = ShortfallLedger::Load(s);
  REQUIRE(l.ok());
  return *std::move(l);
}

}  // namespace

TEST_CASE("sub-route ids add ~n to the route's", "[shortfall]") {
  CHECK(SubRouteId("r-1", 2) == "r-1~2");
  CHECK(IsSubRouteId("r-1~2"));
  CHECK_FALSE(IsSubRouteId("r-1"));
}

TEST_CASE("a shortfall's work is recorded at each step that changes it and read back after a restart", "[shortfall]") {
  TempDir dir;
  {
    auto store = OpenStore(dir / "db");
    auto ledger = Load(store.get());
    REQUIRE(ledger->Open(Short("a", 300)).ok());
    REQUIRE(ledger->Open(Short("b", 50)).ok());
    CHECK(ledger->OpenRoutes() == std::vector<std::string>{"a", "b"});
    CHECK(Held(*ledger, "a").work().state() == ShortfallWork::STATE_OPEN);
    CHECK_FALSE(ledger->Record("c")->has_value());
    // An attempt that placed 120 of a's 300: one sub-route, 180 left.
    ShortfallRecord taken;
    REQUIRE(ledger->Begin("a", &taken));
    CHECK(taken.work().shortfall() == 300);
    CHECK_FALSE(ledger->Begin("a", &taken));  // One attempt at a time.
    REQUIRE(ledger->End("a", 120, "", 1000).ok());
    // One that placed nothing says why, and numbers no sub-route.
    REQUIRE(ledger->Begin("a", &taken));
    REQUIRE(ledger->End("a", 0, "no node's venues took any of it", 2000).ok());
    const ShortfallWork a = Held(*ledger, "a").work();
    CHECK(a.sub_routes() == 1);
    CHECK(a.shortfall() == 180);
    CHECK(a.last_error() == "no node's venues took any of it");
    CHECK(a.last_attempt_ns() == 2000);
    // b placed whole: done, no longer open.
    REQUIRE(ledger->Begin("b", &taken));
    REQUIRE(ledger->End("b", 50, "", 3000).ok());
    CHECK(Held(*ledger, "b").work().state() == ShortfallWork::STATE_DONE);
    CHECK(ledger->OpenRoutes() == std::vector<std::string>{"a"});
    CHECK_FALSE(ledger->Begin("b", &taken));
  }
  // Read back (the last attempt's error is not recorded: only attempts that placed something
  // and the work's end are).
  auto store = OpenStore(dir / "db");
  auto ledger = Load(store.get());
  CHECK(ledger->OpenRoutes() == std::vector<std::string>{"a"});
  CHECK(Held(*ledger, "a").work().shortfall() == 180);
  CHECK(Held(*ledger, "a").work().sub_routes() == 1);
  CHECK(Held(*ledger, "a").routed_by() == "desk-a");
  CHECK(Held(*ledger, "b").work().state() == ShortfallWork::STATE_DONE);
  // Amended terms and a cancel are recorded too.
  AmendShareRequest terms;
  terms.set_route_id("a");
  terms.set_remove_limit(true);
  terms.set_urgency(URGENCY_LOW);
  bool changed = false;
  auto amended = ledger->Amend("a", terms, 1, &changed);
  REQUIRE(amended.ok());
  REQUIRE(amended->has_value());
  CHECK(changed);
  REQUIRE(ledger->Amend("a", terms, 1, &changed).ok());
  CHECK_FALSE(changed);  // The same terms again.
  auto none = ledger->Amend("zz", terms, 1, &changed);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  auto cancelled = ledger->Finish("a", ShortfallWork::STATE_CANCELLED);
  REQUIRE(cancelled.ok());
  CHECK((*cancelled)->state() == ShortfallWork::STATE_CANCELLED);
  CHECK(ledger->OpenRoutes().empty());
  // Ending ended work changes nothing.
  CHECK((*ledger->Finish("b", ShortfallWork::STATE_CANCELLED))->state() == ShortfallWork::STATE_DONE);
  ledger.reset();
  store.reset();
  auto ro = OpenStore(dir / "db", /*read_only=*/true);
  auto again = Load(ro.get());
  const ShortfallRecord a = Held(*again, "a");
  CHECK(a.work().state() == ShortfallWork::STATE_CANCELLED);
  CHECK_FALSE(a.order().has_limit_price());
  CHECK(a.order().urgency() == URGENCY_LOW);
}

TEST_CASE("a cancel waits for the attempt in flight, so that no sub-route starts after it", "[shortfall]") {
  TempDir dir;
  auto store = OpenStore(dir / "db");
  auto ledger = Load(store.get());
  REQUIRE(ledger->Open(Short("a", 300)).ok());
  ShortfallRecord taken;
  REQUIRE(ledger->Begin("a", &taken));
  std::atomic<bool> finished{false};
  ShortfallWork::State seen = ShortfallWork::STATE_UNSPECIFIED;
  uint32_t seen_subs = 0;
  std::thread cancel([&] {
    auto w = ledger->Finish("a", ShortfallWork::STATE_CANCELLED);
    if (w.ok() && w->has_value()) {
      seen = (*w)->state();
      seen_subs = (*w)->sub_routes();
    }
    finished = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(finished.load());  // Held by the attempt.
  REQUIRE(ledger->End("a", 100, "", 1).ok());  // It placed a sub-route meanwhile.
  cancel.join();
  CHECK(finished.load());
  CHECK(seen == ShortfallWork::STATE_CANCELLED);
  CHECK(seen_subs == 1);  // The cancel knows the sub-route the attempt placed.
  CHECK_FALSE(ledger->Begin("a", &taken));
}

TEST_CASE("a route's new quantity moves only what is left to route, never below what its shares hold", "[shortfall]") {
  TempDir dir;
  // What the check saw last, and a refusal it may give.
  int64_t seen_quantity = 0, seen_placed = -1;
  absl::Status refuse = absl::OkStatus();
  const ShortfallLedger::ResizeCheck check = [&](const ShortfallRecord&, const ShortfallRecord& next, int64_t placed) {
    seen_quantity = next.order().quantity();
    seen_placed = placed;
    if (!refuse.ok()) return refuse;
    if (next.order().quantity() < placed) return absl::FailedPreconditionError("below the shares");
    return absl::OkStatus();
  };
  bool changed = false;
  {
    auto store = OpenStore(dir / "db");
    auto ledger = Load(store.get());
    // "whole": 500 placed by the route itself, nothing short: kept DONE, its quantity 500.
    ShortfallRecord placed_whole = Short("whole", 0);
    placed_whole.mutable_order()->set_quantity(500);
    REQUIRE(ledger->Open(placed_whole).ok());
    const ShortfallRecord whole = Held(*ledger, "whole");
    CHECK(whole.work().state() == ShortfallWork::STATE_DONE);
    CHECK(whole.work().order_quantity() == 500);
    CHECK(ledger->OpenRoutes().empty());
    auto grown = ledger->Resize("whole", {600}, check, &changed);  // It may grow later: 100 to route.
    REQUIRE(grown.ok());
    CHECK((*grown)->state() == ShortfallWork::STATE_OPEN);
    CHECK((*grown)->shortfall() == 100);
    REQUIRE(ledger->Finish("whole", ShortfallWork::STATE_CANCELLED).ok());
    // "a": 3000 ordered, 300 short, so 2700 placed.
    REQUIRE(ledger->Open(Short("a", 300)).ok());
    CHECK(Held(*ledger, "a").work().order_quantity() == 3000);
    // Whenever a new quantity leaves more to route, the coordinator's worker is woken.
    int wakes = 0;
    ledger->SetOnMoreToRoute([&wakes] { ++wakes; });
    // Up by 200: 500 left, still open.
    auto up = ledger->Resize("a", {3200}, check, &changed);
    CHECK(wakes == 1);
    REQUIRE(up.ok());
    REQUIRE(up->has_value());
    CHECK(changed);
    CHECK(seen_quantity == 3200);
    CHECK(seen_placed == 2700);
    CHECK((*up)->shortfall() == 500);
    CHECK((*up)->order_quantity() == 3200);
    CHECK((*up)->state() == ShortfallWork::STATE_OPEN);
    // Down to what the shares hold: nothing left, DONE (and nothing to wake for).
    auto down = ledger->Resize("a", {2700}, check, &changed);
    CHECK(wakes == 1);
    ledger->SetOnMoreToRoute(nullptr);
    REQUIRE(down.ok());
    CHECK((*down)->shortfall() == 0);
    CHECK((*down)->state() == ShortfallWork::STATE_DONE);
    CHECK(ledger->OpenRoutes().empty());
    // Below it: the check's refusal, and nothing changes.
    auto below = ledger->Resize("a", {2600}, check, &changed);
    CHECK(below.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(below.status().message()) == "below the shares");
    CHECK_FALSE(changed);
    CHECK(Held(*ledger, "a").order().quantity() == 2700);
    // A refusal of the check (a risk limit) changes nothing either.
    refuse = absl::FailedPreconditionError("quantity: over the limit");
    CHECK(ledger->Resize("a", {9000}, check, &changed).status().message() == "quantity: over the limit");
    refuse = absl::OkStatus();
    CHECK(Held(*ledger, "a").work().state() == ShortfallWork::STATE_DONE);
    // Up again: open again, the last attempt's error cleared.
    auto again = ledger->Resize("a", {2750}, check, &changed);
    REQUIRE(again.ok());
    CHECK((*again)->state() == ShortfallWork::STATE_OPEN);
    CHECK((*again)->shortfall() == 50);
    CHECK(ledger->OpenRoutes() == std::vector<std::string>{"a"});
    // The same quantity: nothing recorded.
    REQUIRE(ledger->Resize("a", {2750}, check, &changed).ok());
    CHECK_FALSE(changed);
    // No record: nullopt; a cancelled route's quantity no longer changes.
    auto none = ledger->Resize("zz", {10}, check, &changed);
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
    REQUIRE(ledger->Open(Short("c", 10)).ok());
    REQUIRE(ledger->Finish("c", ShortfallWork::STATE_CANCELLED).ok());
    auto ended = ledger->Resize("c", {200}, check, &changed);
    CHECK(ended.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(ended.status().message()) == "quantity: route \"c\" was cancelled: its quantity can no longer change");
  }
  // Durable: read back after a restart.
  auto store = OpenStore(dir / "db");
  auto ledger = Load(store.get());
  const ShortfallRecord a = Held(*ledger, "a");
  CHECK(a.order().quantity() == 2750);
  CHECK(a.work().order_quantity() == 2750);
  CHECK(a.work().shortfall() == 50);
  CHECK(a.work().state() == ShortfallWork::STATE_OPEN);
}

TEST_CASE("a new quantity waits for the attempt in flight and counts what it placed", "[shortfall]") {
  TempDir dir;
  auto store = OpenStore(dir / "db");
  auto ledger = Load(store.get());
  REQUIRE(ledger->Open(Short("a", 300)).ok());  // 3000 ordered, 2700 placed.
  ShortfallRecord taken;
  REQUIRE(ledger->Begin("a", &taken));
  std::atomic<bool> finished{false};
  int64_t left = -1, placed_seen = -1;
  std::thread resize([&] {
    bool changed = false;
    auto w = ledger->Resize("a", {2900}, [&](const ShortfallRecord&, const ShortfallRecord&, int64_t placed) {
      placed_seen = placed;
      return absl::OkStatus();
    }, &changed);
    if (w.ok() && w->has_value()) left = (*w)->shortfall();
    finished = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(finished.load());  // Held by the attempt.
  REQUIRE(ledger->End("a", 150, "", 1).ok());  // Its sub-route placed 150: 2850 held.
  resize.join();
  CHECK(placed_seen == 2850);
  CHECK(left == 50);
}

TEST_CASE("a record that does not parse is refused by name", "[shortfall]") {
  TempDir dir;
  auto store = OpenStore(dir / "db");
  REQUIRE(store->PutRecord("shortfall/r-9", "\xff\xff not a record").ok());
  auto l = ShortfallLedger::Load(store.get());
  CHECK(l.status().code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(l.status().message()) == "the store's shortfall record of route \"r-9\" does not parse (15 bytes)");
}

TEST_CASE("a cancel's notice is kept on disk, the first of a route stands, and one that does not parse is refused",
          "[shortfall]") {
  TempDir dir;
  {
    auto store = OpenStore(dir / "db");
    auto ledger = Load(store.get());
    REQUIRE(ledger->CancelNoticeOf("r-1").ok());
    CHECK_FALSE(ledger->CancelNoticeOf("r-1")->has_value());
    CancelNotice first;
    first.set_route_id("r-1");
    first.set_reason("desk closing");
    first.set_via("n2");
    first.set_noted_ns(1000);
    REQUIRE(ledger->KeepCancelNotice(first).ok());
    CancelNotice later = first;
    later.set_reason("again");
    later.set_noted_ns(2000);
    REQUIRE(ledger->KeepCancelNotice(later).ok());
    // A notice is not a shortfall's work: nothing opens, nothing is worked.
    CHECK(ledger->OpenRoutes().empty());
    CHECK_FALSE(ledger->Record("r-1")->has_value());
  }
  auto store = OpenStore(dir / "db");
  auto ledger = Load(store.get());
  auto held = ledger->CancelNoticeOf("r-1");
  REQUIRE(held.ok());
  REQUIRE(held->has_value());
  CHECK((*held)->reason() == "desk closing");
  CHECK((*held)->via() == "n2");
  CHECK((*held)->noted_ns() == 1000);
  CHECK_FALSE(ledger->CancelNoticeOf("r-2")->has_value());
  REQUIRE(store->PutRecord("cancel_notice/r-3", "\xff\xff garbage").ok());
  auto bad = ledger->CancelNoticeOf("r-3");
  CHECK(bad.status().code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(bad.status().message()) == "the store's notice of route \"r-3\"'s cancel does not parse (10 bytes)");
}

TEST_CASE("a cancel's notice is sent again until marked delivered, which a restart keeps, and the notice stays",
          "[shortfall]") {
  TempDir dir;
  {
    auto store = OpenStore(dir / "db");
    auto ledger = Load(store.get());
    CHECK(ledger->UndeliveredCancels().empty());
    for (const char* id : {"r-2", "r-1"}) {
      CancelNotice n;
      n.set_route_id(id);
      n.set_via("n2");
      REQUIRE(ledger->KeepCancelNotice(n).ok());
    }
    CHECK(ledger->UndeliveredCancels() == std::vector<std::string>{"r-1", "r-2"});
    REQUIRE(ledger->MarkCancelDelivered("r-1", 5000).ok());
    CHECK(ledger->UndeliveredCancels() == std::vector<std::string>{"r-2"});
    const std::vector<CancelNotice> listed = ledger->UndeliveredCancelNotices();  // (Status lists them.)
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].route_id() == "r-2");
    CHECK(listed[0].via() == "n2");
    CHECK(ledger->MarkCancelDelivered("r-9", 5000).code() == absl::StatusCode::kNotFound);
    // The same notice kept again (another node's cancel sent again) is not sent again.
    CancelNotice again;
    again.set_route_id("r-1");
    again.set_via("n3");
    REQUIRE(ledger->KeepCancelNotice(again).ok());
    CHECK(ledger->UndeliveredCancels() == std::vector<std::string>{"r-2"});
  }
  {
    auto store = OpenStore(dir / "db");
    auto ledger = Load(store.get());
    CHECK(ledger->UndeliveredCancels() == std::vector<std::string>{"r-2"});
    auto held = ledger->CancelNoticeOf("r-1");
    REQUIRE(held.ok());
    REQUIRE(held->has_value());  // Still a cancel to every Prepare of the route.
    CHECK((*held)->delivered_ns() == 5000);
    CHECK((*held)->via() == "n2");
    REQUIRE(store->PutRecord("cancel_notice/r-3", "\xff\xff garbage").ok());
  }
  auto store = OpenStore(dir / "db");
  auto l = ShortfallLedger::Load(store.get());
  CHECK(l.status().code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(l.status().message()) == "the store's notice of route \"r-3\"'s cancel does not parse (10 bytes)");
}

TEST_CASE("new terms' notices are merged: the last limit and urgency given stand, kept on disk", "[shortfall]") {
  TempDir dir;
  {
    auto store = OpenStore(dir / "db");
    auto ledger = Load(store.get());
    CHECK_FALSE(ledger->TermsNoticeOf("r-1")->has_value());
    AmendShareRequest limit;
    limit.set_route_id("r-1");
    limit.set_limit_price(6400000);
    limit.set_reason("lower");
    REQUIRE(ledger->KeepTermsNotice(limit, "n2", 1000).ok());
    AmendShareRequest urgency;
    urgency.set_route_id("r-1");
    urgency.set_urgency(URGENCY_HIGH);
    REQUIRE(ledger->KeepTermsNotice(urgency, "n3", 2000).ok());
    auto merged = ledger->TermsNoticeOf("r-1");
    REQUIRE(merged.ok());
    REQUIRE(merged->has_value());
    CHECK((*merged)->terms().limit_price() == 6400000);  // Kept: the second set no limit.
    CHECK((*merged)->terms().urgency() == URGENCY_HIGH);
    CHECK((*merged)->via() == "n3");
    CHECK((*merged)->amended_ns() == 2000);
    // The limit removed: a market order from then on.
    AmendShareRequest market;
    market.set_route_id("r-1");
    market.set_remove_limit(true);
    REQUIRE(ledger->KeepTermsNotice(market, "n2", 3000).ok());
  }
  auto store = OpenStore(dir / "db");
  auto ledger = Load(store.get());
  auto held = ledger->TermsNoticeOf("r-1");
  REQUIRE(held.ok());
  REQUIRE(held->has_value());
  CHECK_FALSE((*held)->terms().has_limit_price());
  CHECK((*held)->terms().remove_limit());
  CHECK((*held)->terms().urgency() == URGENCY_HIGH);
  CHECK((*held)->amended_ns() == 3000);
  CHECK(ledger->OpenRoutes().empty());
  REQUIRE(store->PutRecord("terms_notice/r-3", "\xff\xff garbage").ok());
  CHECK(ledger->TermsNoticeOf("r-3").status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("a notice of new terms sent again keeps its time: a later one held stands, an earlier one is merged, and it "
          "is sent again until every node keeps it as it stands",
          "[shortfall]") {
  TempDir dir;
  {
    auto store = OpenStore(dir / "db");
    auto ledger = Load(store.get());
    CHECK(ledger->UndeliveredTerms().empty());
    // Noted here at 5000 (a client's amendment): a high urgency.
    AmendShareRequest urgency;
    urgency.set_route_id("r-1");
    urgency.set_urgency(URGENCY_HIGH);
    REQUIRE(ledger->KeepTermsNotice(urgency, "n3", 5000).ok());
    CHECK(ledger->UndeliveredTerms() == std::vector<std::string>{"r-1"});
    // Another node's notice sent again, amended at 4000, before: this one stands.
    AmendShareRequest older;
    older.set_route_id("r-1");
    older.set_limit_price(6400000);
    older.set_urgency(URGENCY_LOW);
    older.set_amended_ns(4000);
    REQUIRE(ledger->KeepTermsNotice(older, "n2", 9000).ok());
    auto held = ledger->TermsNoticeOf("r-1");
    REQUIRE(held.ok());
    REQUIRE(held->has_value());
    CHECK_FALSE((*held)->terms().has_limit_price());
    CHECK((*held)->terms().urgency() == URGENCY_HIGH);
    CHECK((*held)->via() == "n3");
    CHECK((*held)->amended_ns() == 5000);
    // One amended at 6000, later: merged, at its own time (not this node's clock).
    AmendShareRequest later = older;
    later.set_urgency(URGENCY_UNSPECIFIED);
    later.set_amended_ns(6000);
    REQUIRE(ledger->KeepTermsNotice(later, "n2", 9000).ok());
    held = ledger->TermsNoticeOf("r-1");
    REQUIRE(held.ok());
    CHECK((*held)->terms().limit_price() == 6400000);
    CHECK((*held)->terms().urgency() == URGENCY_HIGH);  // Kept: the later one set none.
    CHECK((*held)->via() == "n2");
    CHECK((*held)->amended_ns() == 6000);
    // Every node keeping it as amended at 5000 marks nothing: it stands at 6000 now.
    REQUIRE(ledger->MarkTermsDelivered("r-1", 5000, 9500).ok());
    CHECK(ledger->UndeliveredTerms() == std::vector<std::string>{"r-1"});
    CHECK(ledger->MarkTermsDelivered("r-2", 5000, 9500).code() == absl::StatusCode::kNotFound);
  }
  {
    // Still sent again after a restart; then every node keeps it as it stands.
    auto store = OpenStore(dir / "db");
    auto ledger = Load(store.get());
    CHECK(ledger->UndeliveredTerms() == std::vector<std::string>{"r-1"});
    REQUIRE(ledger->MarkTermsDelivered("r-1", 6000, 9600).ok());
    CHECK(ledger->UndeliveredTerms().empty());
    CHECK((*ledger->TermsNoticeOf("r-1"))->delivered_ns() == 9600);
  }
  auto store = OpenStore(dir / "db");
  {
    auto ledger = Load(store.get());
    CHECK(ledger->UndeliveredTerms().empty());
    // New terms merged in later: sent again from the start.
    AmendShareRequest market;
    market.set_route_id("r-1");
    market.set_remove_limit(true);
    REQUIRE(ledger->KeepTermsNotice(market, "n2", 9700).ok());
    CHECK(ledger->UndeliveredTerms() == std::vector<std::string>{"r-1"});
    CHECK((*ledger->TermsNoticeOf("r-1"))->delivered_ns() == 0);
    CHECK((*ledger->TermsNoticeOf("r-1"))->amended_ns() == 9700);
    // One sent again from a node whose clock is ahead (at 20000), then a client's amendment
    // here at 9800: the client's is later than the one held.
    AmendShareRequest ahead = market;
    ahead.set_remove_limit(false);
    ahead.set_urgency(URGENCY_LOW);
    ahead.set_amended_ns(20000);
    REQUIRE(ledger->KeepTermsNotice(ahead, "n3", 9750).ok());
    AmendShareRequest high;
    high.set_route_id("r-1");
    high.set_urgency(URGENCY_HIGH);
    REQUIRE(ledger->KeepTermsNotice(high, "n2", 9800).ok());
    CHECK((*ledger->TermsNoticeOf("r-1"))->amended_ns() == 20001);
    CHECK((*ledger->TermsNoticeOf("r-1"))->terms().urgency() == URGENCY_HIGH);
  }
  REQUIRE(store->PutRecord("terms_notice/r-3", "\xff\xff garbage").ok());
  auto l = ShortfallLedger::Load(store.get());
  CHECK(l.status().code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(l.status().message()) == "the store's notice of route \"r-3\"'s new terms does not parse (10 bytes)");
}
