#include "daemon/plan_fold.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "exo/fixed_point.h"
#include "solver/solver.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT

bool IsTerminal(PlanStatus s) {
  return s == PLAN_STATUS_COMPLETED || s == PLAN_STATUS_CANCELLED || s == PLAN_STATUS_EXPIRED ||
         s == PLAN_STATUS_FAILED;
}

bool IsSettled(const Plan& p) {
  return IsTerminal(p.status()) || (p.status() == PLAN_STATUS_PLANNED && p.version() >= 2);
}

int OpenChildren(const Plan& plan) {
  return static_cast<int>(std::count_if(plan.children().begin(), plan.children().end(),
                                        [](const ChildState& c) { return !c.done(); }));
}

namespace {

ChildState* FindChild(Plan* plan, const std::string& cl_ord_id) {
  for (auto& c : *plan->mutable_children()) {
    if (c.order().cl_ord_id() == cl_ord_id) return &c;
  }
  return nullptr;
}

void MergeAllocations(const PlanAllocated& a, Plan* plan) {
  std::map<std::string, Allocation> by_venue;
  if (a.incremental()) {
    for (const auto& x : plan->allocations()) by_venue[x.venue()] = x;
  }
  for (const auto& x : a.allocations()) {
    if (x.quantity() == 0) {
      by_venue.erase(x.venue());
    } else {
      by_venue[x.venue()] = x;
    }
  }
  plan->clear_allocations();
  for (auto& [venue, x] : by_venue) *plan->add_allocations() = std::move(x);
}

}  // namespace

void ApplyDelta(const PlanDelta& d, Plan* plan) {
  switch (d.change_case()) {
    case PlanDelta::kCreated:
      plan->set_plan_id(d.plan_id());
      *plan->mutable_order() = d.created().order();
      plan->set_mode(d.created().mode());
      *plan->mutable_instrument() = d.created().instrument();
      plan->set_status(d.created().mode() == ROUTE_MODE_EXECUTE ? PLAN_STATUS_WORKING
                                                                 : PLAN_STATUS_PLANNED);
      plan->set_created_time_ns(d.event_time_ns());
      plan->set_routed_by(d.created().routed_by());
      break;
    case PlanDelta::kAllocated: {
      const PlanAllocated& a = d.allocated();
      MergeAllocations(a, plan);
      plan->set_shortfall(a.shortfall());
      plan->set_expected_cost(a.expected_cost());
      *plan->mutable_last_solve() = a.stats();
      *plan->mutable_exclusions() = a.exclusions();
      if (a.replan()) plan->set_replans(plan->replans() + 1);
      if (!a.replan()) plan->set_arrival_mid(a.mid_price());
      if (a.stats().arrival_limit() != 0) plan->set_arrival_limit(a.stats().arrival_limit());
      plan->set_expected_average_price(a.expected_average_price());
      plan->set_expected_slippage_cbps(a.slippage_cbps());
      break;
    }
    case PlanDelta::kChildSent: {
      ChildState* c = plan->add_children();
      *c->mutable_order() = d.child_sent();
      c->set_sent_time_ns(d.event_time_ns());
      break;
    }
    case PlanDelta::kFill: {
      const Fill& f = d.fill();
      if (ChildState* c = FindChild(plan, f.cl_ord_id())) {
        c->set_filled_quantity(c->filled_quantity() + f.quantity());
      }
      plan->set_filled_quantity(plan->filled_quantity() + f.quantity());
      // The allocation in force is what the plan still intends: fills use it up, so a re-plan
      // records only the venues whose unfilled share actually moves.
      for (int i = 0; i < plan->allocations_size(); ++i) {
        Allocation* a = plan->mutable_allocations(i);
        if (a->venue() != f.venue()) continue;
        a->set_quantity(a->quantity() - std::min(a->quantity(), f.quantity()));
        if (a->quantity() == 0) plan->mutable_allocations()->DeleteSubrange(i, 1);
        break;
      }
      const int64_t qty_unit = Pow10(plan->instrument().qty_scale());
      plan->set_filled_notional(plan->filled_notional() +
                                MulDivRound(f.price(), f.quantity(), qty_unit));
      plan->set_fees(plan->fees() + f.fee());
      plan->set_average_price(
          MulDivRound(plan->filled_notional(), qty_unit, plan->filled_quantity()));
      if (plan->arrival_mid() > 0) {
        int64_t worse = plan->order().side() == SIDE_BUY ? plan->average_price() - plan->arrival_mid()
                                                          : plan->arrival_mid() - plan->average_price();
        plan->set_fill_slippage_cbps(MulDivRound(worse, 1'000'000, plan->arrival_mid()));
      }
      break;
    }
    case PlanDelta::kChildDone:
      if (ChildState* c = FindChild(plan, d.child_done().cl_ord_id())) {
        c->set_done(true);
        c->set_done_reason(d.child_done().reason());
        c->set_done_time_ns(d.event_time_ns());
      }
      break;
    case PlanDelta::kCancelRequested:
      plan->set_status(PLAN_STATUS_CANCELLING);
      plan->set_reason(d.cancel_requested().reason());
      break;
    case PlanDelta::kAmended: {
      const PlanAmended& a = d.amended();
      if (plan->amendments() == 0) *plan->mutable_routed_order() = plan->order();
      plan->set_amendments(plan->amendments() + 1);
      if (a.has_limit_price() || a.limit_removed() || a.urgency() != URGENCY_UNSPECIFIED) {
        plan->set_terms_amended_ns(d.event_time_ns());
      }
      plan->mutable_order()->set_quantity(a.quantity());
      // What the allocation in force leaves unplaced of the order's rest, as its last decision
      // counted it, follows the new quantity until the next decision (a resting plan makes none
      // while no book is within its limit).
      if (plan->last_solve().method() != SOLVER_METHOD_UNSPECIFIED) {
        int64_t in_force = 0;
        for (const Allocation& x : plan->allocations()) in_force += x.quantity();
        plan->set_shortfall(std::max<int64_t>(0, a.quantity() - plan->filled_quantity() - in_force));
      }
      if (a.has_limit_price()) plan->mutable_order()->set_limit_price(a.limit_price());
      if (a.limit_removed()) plan->mutable_order()->clear_limit_price();
      if (a.urgency() != URGENCY_UNSPECIFIED) plan->mutable_order()->set_urgency(a.urgency());
      // The arrival limit the first decision fixed is the band's price or the order's limit
      // then, whichever was tighter; the limit may now be looser or gone, so the band's own
      // price binds from here (from the mid it was fixed from: the plan's first decision's,
      // when that decision fixed it; otherwise the limit fixed stands, never looser).
      if (plan->arrival_limit() > 0 && plan->arrival_mid() > 0 && plan->order().arrival_band_bps() > 0) {
        plan->set_arrival_limit(solver::PriceBandLimit(plan->arrival_mid(), plan->order().arrival_band_bps(),
                                                       plan->order().side() == SIDE_BUY, std::nullopt));
      }
      break;
    }
    case PlanDelta::kFinished:
      plan->set_status(d.finished().status());
      plan->set_reason(d.finished().reason());
      break;
    case PlanDelta::kDisconnectArmed:
      plan->set_cancel_on_disconnect(true);
      plan->set_disconnect_grace_ms(d.disconnect_armed().grace_ms());
      break;
    case PlanDelta::kPrivacyRefused:  // A node event, not a plan's (Recover skips it).
    case PlanDelta::kGovernance:
    case PlanDelta::CHANGE_NOT_SET:
      break;
  }
  plan->set_version(d.plan_version());
  if (d.sequence() != 0) plan->set_last_sequence(d.sequence());
  plan->set_updated_time_ns(d.event_time_ns());
}

}  // namespace exo::daemon
