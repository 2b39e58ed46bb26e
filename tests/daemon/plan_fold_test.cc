#include "daemon/plan_fold.h"

#include <catch2/catch.hpp>

#include <functional>

#include "solver/solver.h"

using exo::daemon::ApplyDelta;
using namespace exoroute::v1;  // NOLINT

namespace {

Allocation Alloc(const char* venue, int64_t q) {
  Allocation a;
  a.set_venue(venue);
  a.set_quantity(q);
  a.set_limit_price(100);
  return a;
}

PlanDelta Allocated(std::initializer_list<Allocation> xs, bool replan, bool incremental) {
  PlanDelta d;
  d.mutable_allocated()->set_replan(replan);
  d.mutable_allocated()->set_incremental(incremental);
  for (const auto& x : xs) *d.mutable_allocated()->add_allocations() = x;
  return d;
}

}  // namespace

TEST_CASE("fills use up the allocation in force, re-plans apply changes or replace", "[fold]") {
  Plan p;
  ApplyDelta(Allocated({Alloc("A", 10), Alloc("B", 5)}, false, false), &p);
  REQUIRE(p.allocations_size() == 2);
  PlanDelta fill;
  fill.mutable_fill()->set_venue("A");
  fill.mutable_fill()->set_quantity(4);
  fill.mutable_fill()->set_price(100);
  ApplyDelta(fill, &p);
  CHECK(p.allocations(0).quantity() == 6);
  fill.mutable_fill()->set_venue("B");
  fill.mutable_fill()->set_quantity(5);
  ApplyDelta(fill, &p);
  REQUIRE(p.allocations_size() == 1);  // B is used up.
  CHECK(p.filled_quantity() == 9);

  ApplyDelta(Allocated({Alloc("A", 0), Alloc("C", 6)}, true, true), &p);  // Incremental.
  REQUIRE(p.allocations_size() == 1);
  CHECK(p.allocations(0).venue() == "C");
  CHECK(p.replans() == 1);
  ApplyDelta(Allocated({Alloc("D", 6)}, true, false), &p);  // Replacement.
  REQUIRE(p.allocations_size() == 1);
  CHECK(p.allocations(0).venue() == "D");
}

TEST_CASE("a re-plan is recorded in whichever form takes fewer entries", "[fold][solver]") {
  google::protobuf::RepeatedPtrField<Allocation> previous;
  for (const char* v : {"A", "B", "C", "D"}) *previous.Add() = Alloc(v, 10);
  Decision one_moved;
  for (const char* v : {"A", "B", "C"}) *one_moved.add_allocations() = Alloc(v, 10);
  *one_moved.add_allocations() = Alloc("D", 12);
  auto inc = exo::solver::ToPlanAllocated(one_moved, previous, /*replan=*/true);
  CHECK(inc.incremental());
  REQUIRE(inc.allocations_size() == 1);
  CHECK(inc.allocations(0).venue() == "D");

  Decision all_new;
  *all_new.add_allocations() = Alloc("E", 40);
  auto rep = exo::solver::ToPlanAllocated(all_new, previous, /*replan=*/true);
  CHECK_FALSE(rep.incremental());  // 5 changes (4 drops + E) vs 1 entry: replace.
  REQUIRE(rep.allocations_size() == 1);
  CHECK_FALSE(exo::solver::ToPlanAllocated(all_new, previous, /*replan=*/false).incremental());
}

TEST_CASE("an amendment changes the order's quantity and limit and keeps the order as routed", "[fold]") {
  Plan p;
  PlanDelta created;
  ParentOrder* o = created.mutable_created()->mutable_order();
  o->set_id("a");
  o->set_quantity(10);
  o->set_limit_price(500);
  o->add_allowed_venues("A");
  created.mutable_created()->set_mode(ROUTE_MODE_EXECUTE);
  ApplyDelta(created, &p);
  CHECK_FALSE(p.has_routed_order());
  PlanDelta amended;
  amended.mutable_amended()->set_quantity(12);  // No limit given: the order's stays.
  ApplyDelta(amended, &p);
  CHECK(p.order().quantity() == 12);
  CHECK(p.order().limit_price() == 500);
  CHECK(p.amendments() == 1);
  CHECK(p.routed_order().quantity() == 10);
  amended.mutable_amended()->set_quantity(8);
  amended.mutable_amended()->set_limit_price(510);
  ApplyDelta(amended, &p);
  CHECK(p.order().quantity() == 8);
  CHECK(p.order().limit_price() == 510);
  CHECK(p.order().allowed_venues(0) == "A");  // Nothing else changes.
  CHECK(p.amendments() == 2);
  CHECK(p.routed_order().quantity() == 10);  // The first amendment's "before", kept.
  CHECK(p.routed_order().limit_price() == 500);
  CHECK(p.status() == PLAN_STATUS_WORKING);
  // To market, then an urgency: the limit goes, the urgency comes, the quantity is as given.
  PlanDelta market;
  market.mutable_amended()->set_quantity(8);
  market.mutable_amended()->set_limit_removed(true);
  ApplyDelta(market, &p);
  CHECK_FALSE(p.order().has_limit_price());
  CHECK(p.order().urgency() == URGENCY_UNSPECIFIED);
  PlanDelta urgent;
  urgent.mutable_amended()->set_quantity(8);
  urgent.mutable_amended()->set_urgency(URGENCY_HIGH);
  ApplyDelta(urgent, &p);
  CHECK_FALSE(p.order().has_limit_price());
  CHECK(p.order().urgency() == URGENCY_HIGH);
  CHECK(p.amendments() == 4);
  CHECK(p.routed_order().limit_price() == 500);
}

TEST_CASE("an amendment moves what the allocation in force leaves unplaced with the order's quantity", "[fold]") {
  Plan p;
  PlanDelta created;
  created.mutable_created()->mutable_order()->set_quantity(50);
  created.mutable_created()->set_mode(ROUTE_MODE_EXECUTE);
  ApplyDelta(created, &p);
  PlanDelta amended;
  amended.mutable_amended()->set_quantity(60);
  ApplyDelta(amended, &p);
  CHECK(p.shortfall() == 0);  // No decision yet: nothing was expected.
  // A decision placed 10 of 60 at venue A: 50 short.
  PlanDelta decided;
  Allocation* x = decided.mutable_allocated()->add_allocations();
  x->set_venue("A");
  x->set_quantity(10);
  decided.mutable_allocated()->set_shortfall(50);
  decided.mutable_allocated()->mutable_stats()->set_method(SOLVER_METHOD_EXACT);
  ApplyDelta(decided, &p);
  amended.mutable_amended()->set_quantity(40);  // 20 fewer: 30 short until the next decision.
  ApplyDelta(amended, &p);
  CHECK(p.shortfall() == 30);
  amended.mutable_amended()->set_quantity(5);  // Below the allocation in force: none short.
  ApplyDelta(amended, &p);
  CHECK(p.shortfall() == 0);
  amended.mutable_amended()->set_quantity(25);  // The allocation in force still places 10.
  ApplyDelta(amended, &p);
  CHECK(p.shortfall() == 15);
}

TEST_CASE("a plan keeps when its limit or urgency was last amended, not its quantity alone", "[fold]") {
  Plan p;
  PlanDelta created;
  created.mutable_created()->mutable_order()->set_quantity(50);
  ApplyDelta(created, &p);
  // An amendment at `at` to `quantity`, with what `terms` adds; then when the terms last changed.
  auto amend = [&p](int64_t at, int64_t quantity, const std::function<void(PlanAmended*)>& terms) {
    PlanDelta d;
    d.set_event_time_ns(at);
    d.mutable_amended()->set_quantity(quantity);
    terms(d.mutable_amended());
    ApplyDelta(d, &p);
    return p.terms_amended_ns();
  };
  CHECK(amend(1000, 50, [](PlanAmended* a) { a->set_limit_price(500); }) == 1000);
  CHECK(amend(2000, 40, [](PlanAmended*) {}) == 1000);  // A quantity alone (a share's cut): it stays.
  CHECK(amend(3000, 40, [](PlanAmended* a) { a->set_urgency(URGENCY_HIGH); }) == 3000);
  CHECK(amend(4000, 40, [](PlanAmended* a) { a->set_limit_removed(true); }) == 4000);
}

TEST_CASE("a dead man's switch armed is kept with its grace, and the plan is otherwise as it was", "[fold]") {
  Plan p;
  PlanDelta created;
  created.mutable_created()->mutable_order()->set_quantity(10);
  created.mutable_created()->set_mode(ROUTE_MODE_EXECUTE);
  created.set_plan_version(1);
  ApplyDelta(created, &p);
  CHECK_FALSE(p.cancel_on_disconnect());
  PlanDelta armed;
  armed.set_plan_version(2);
  armed.mutable_disconnect_armed()->set_grace_ms(0);  // A grace of 0 is armed all the same.
  ApplyDelta(armed, &p);
  CHECK(p.cancel_on_disconnect());
  CHECK(p.disconnect_grace_ms() == 0);
  CHECK(p.version() == 2);
  CHECK(p.status() == PLAN_STATUS_WORKING);
  CHECK(p.order().quantity() == 10);
  armed.set_plan_version(3);
  armed.mutable_disconnect_armed()->set_grace_ms(1500);  // Armed again with another grace: that one.
  ApplyDelta(armed, &p);
  CHECK(p.disconnect_grace_ms() == 1500);
}
