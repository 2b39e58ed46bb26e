// Changes to a working plan from outside its own decisions: Cancel, SettleChild (an
// operator's settlement), ArmDisconnect (a dead man's switch) and Amend.
#include "daemon/router_engine.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/internal/router_engine_internal.h"
#include "daemon/plan_fold.h"
#include "exo/fixed_point.h"
#include "exo/log.h"
#include "exo/status_macros.h"
#include "google/protobuf/util/message_differencer.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT
using store::PendingDelta;
using internal::PlanNotFound;
using internal::StatusName;
using internal::FillOutOfBounds;

absl::StatusOr<Plan> RouterEngine::Cancel(const std::string& plan_id, const std::string& reason) {
  WriterGuard writing(this);
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<PlanRecord> rec, RecordToChange(plan_id));
  std::lock_guard<std::mutex> lock(rec->mu);
  const Plan& p = rec->plan;
  if (p.version() == 0) return PlanNotFound(plan_id);
  if (IsTerminal(p.status())) {
    return absl::FailedPreconditionError(absl::StrCat("plan \"", plan_id, "\" already finished: ",
                                                      StatusName(p.status())));
  }
  if (p.status() == PLAN_STATUS_CANCELLING) return p;
  std::string why = reason.empty() ? "cancelled by client" : reason;
  PendingDelta pd;
  pd.delta = NewDelta(p, clock_->NowNs());
  if (p.status() == PLAN_STATUS_PLANNED) {
    pd.delta.mutable_finished()->set_status(PLAN_STATUS_CANCELLED);
    pd.delta.mutable_finished()->set_reason(why);
  } else {
    pd.delta.mutable_cancel_requested()->set_reason(why);
  }
  std::vector<PendingDelta> prefix;
  prefix.push_back(std::move(pd));
  EXO_RETURN_IF_ERROR(Drive(*rec, std::move(prefix)));
  return rec->plan;
}

absl::StatusOr<Plan> RouterEngine::SettleChild(const std::string& plan_id, const Settlement& st) {
  WriterGuard writing(this);
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<PlanRecord> rec, RecordToChange(plan_id));
  std::lock_guard<std::mutex> lock(rec->mu);
  const Plan& p = rec->plan;
  if (p.version() == 0) return PlanNotFound(plan_id);
  if (p.mode() != ROUTE_MODE_EXECUTE) {
    return absl::FailedPreconditionError(absl::StrCat("plan_id: \"", plan_id, "\" is plan-only: it has no child to settle"));
  }
  const ChildState* child = nullptr;
  for (const ChildState& c : p.children()) {
    if (c.order().cl_ord_id() == st.cl_ord_id) child = &c;
  }
  if (child == nullptr) {
    return absl::NotFoundError(absl::StrCat("cl_ord_id: plan \"", plan_id, "\" has no child \"", st.cl_ord_id,
                                            "\" (its children: `exoroutectl plan show ", plan_id, "`)"));
  }
  if (child->done()) {
    return absl::FailedPreconditionError(absl::StrCat("cl_ord_id: child ", st.cl_ord_id, " has ended already (",
                                                      child->done_reason(), "): nothing to settle"));
  }
  const int64_t recorded = child->filled_quantity(), quantity = child->order().quantity();
  if (st.filled_quantity < recorded) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filled_quantity: ", st.filled_quantity, " is less than the ", recorded, " the plan has recorded for ",
        st.cl_ord_id, " (recorded fills stay: give the child's whole filled quantity)"));
  }
  if (st.filled_quantity > quantity) {
    return absl::InvalidArgumentError(absl::StrCat("filled_quantity: ", st.filled_quantity,
                                                   " is more than the child's quantity ", quantity));
  }
  const int64_t unrecorded = st.filled_quantity - recorded;
  if (unrecorded > 0 && st.price <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("price: required for the ", unrecorded,
                                                   " filled that the plan has not recorded (their average price)"));
  }
  if (unrecorded == 0 && (st.price != 0 || st.fee != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(st.price != 0 ? "price" : "fee", ": given, but filled_quantity ",
                                                   st.filled_quantity, " is what the plan has recorded: no fill to record"));
  }
  if (unrecorded > 0) {
    if (std::string why = FillOutOfBounds(p, unrecorded, st.price, st.fee); !why.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("price: the fill cannot be recorded: ", why));
    }
  }
  if (st.check_only) return rec->plan;
  const std::string venue = child->order().venue();
  std::vector<PendingDelta> prefix;
  if (unrecorded > 0) {
    PendingDelta pd;
    pd.delta = NewDelta(p, clock_->NowNs());
    Fill* f = pd.delta.mutable_fill();
    f->set_cl_ord_id(st.cl_ord_id);
    f->set_venue(venue);
    f->set_quantity(unrecorded);
    f->set_price(st.price);
    f->set_fee(st.fee);
    f->set_exec_id(kSettledExecId);
    prefix.push_back(std::move(pd));
  }
  const std::string reason = absl::StrCat(kSettledReasonPrefix, st.reason);
  PendingDelta done;
  done.delta = NewDelta(p, clock_->NowNs());
  ChildDone* d = done.delta.mutable_child_done();
  d->set_cl_ord_id(st.cl_ord_id);
  d->set_venue(venue);
  d->set_canceled_quantity(quantity - st.filled_quantity);
  d->set_reason(reason);
  prefix.push_back(std::move(done));
  const ChildOutcomes::Outcome outcome = ChildOutcomes::Of(st.filled_quantity, quantity, reason);
  // Asked first, so that a venue that does hold the child stops working it; whatever it
  // reports afterwards finds the child ended.
  if (auto* a = AdapterFor(venue)) {
    if (absl::Status s = a->Cancel(st.cl_ord_id); !s.ok() && !absl::IsNotFound(s)) {
      LogWarning("cancel %s at %s (settling it) failed: %s", st.cl_ord_id, venue, s.ToString());
    }
  }
  EXO_RETURN_IF_ERROR(Drive(*rec, std::move(prefix), [&] {
    child_outcomes_.Done(venue, st.cl_ord_id, outcome, ChildOutcomes::Clock::now());  // Before the plan is seen.
  }));
  LogWarning("child %s at %s settled by operator: filled %d of %d (%d not reported by the venue): %s", st.cl_ord_id,
             venue, st.filled_quantity, quantity, unrecorded, st.reason);
  return rec->plan;
}

namespace {

Urgency EffectiveUrgency(Urgency u) { return u == URGENCY_UNSPECIFIED ? URGENCY_NORMAL : u; }

// An order check's error as an amendment's: it names the AmendPlan field ("quantity: …"), not
// the order's ("order.quantity: …").
absl::Status AsAmendment(absl::Status s) {
  absl::string_view m = s.message();
  if (!absl::ConsumePrefix(&m, "order.")) return s;
  return absl::Status(s.code(), m);
}

}  // namespace

absl::Status RouterEngine::ArmDisconnect(const std::string& plan_id, std::chrono::milliseconds grace) {
  WriterGuard writing(this);
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<PlanRecord> rec, RecordToChange(plan_id));
  std::lock_guard<std::mutex> lock(rec->mu);
  const Plan& p = rec->plan;
  if (p.version() == 0) return PlanNotFound(plan_id);
  const auto grace_ms = static_cast<uint32_t>(grace.count());
  if (IsSettled(p) || (p.cancel_on_disconnect() && p.disconnect_grace_ms() == grace_ms)) return absl::OkStatus();
  PendingDelta pd;
  pd.delta = NewDelta(p, clock_->NowNs());
  pd.delta.mutable_disconnect_armed()->set_grace_ms(grace_ms);
  std::vector<PendingDelta> batch;
  batch.push_back(std::move(pd));
  return Commit(*rec, std::move(batch));
}

RouterEngine::Amendment RouterEngine::Amendment::Of(const AmendPlanRequest& r) {
  Amendment a;
  if (r.quantity() != 0) a.quantity = r.quantity();
  if (r.has_limit_price()) a.limit_price = r.limit_price();
  a.remove_limit = r.remove_limit();
  a.urgency = r.urgency();
  a.reason = r.reason();
  return a;
}

absl::StatusOr<Plan> RouterEngine::Amend(const std::string& plan_id, const Amendment& a, bool* changed) {
  *changed = false;
  WriterGuard writing(this);
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<PlanRecord> rec, RecordToChange(plan_id));
  std::unique_lock<std::mutex> rec_lock;
  ParentOrder next;
  {
    // plans_mu_ first (the lock order): the working-quantity limit is checked against every
    // plan in the same step as this one's new quantity takes effect.
    std::lock_guard<std::mutex> lock(plans_mu_);
    rec_lock = std::unique_lock<std::mutex>(rec->mu);
    const Plan& p = rec->plan;
    if (p.version() == 0) return PlanNotFound(plan_id);
    if (IsTerminal(p.status())) {
      return absl::FailedPreconditionError(absl::StrCat("plan \"", plan_id, "\" already finished: ",
                                                        StatusName(p.status()), "; nothing to amend"));
    }
    if (p.mode() != ROUTE_MODE_EXECUTE) {
      return absl::FailedPreconditionError(absl::StrCat(
          "plan \"", plan_id, "\" is plan-only: it works nothing to amend (route the order again)"));
    }
    if (p.status() == PLAN_STATUS_CANCELLING) {
      return absl::FailedPreconditionError(absl::StrCat("plan \"", plan_id, "\" is being cancelled: ", p.reason()));
    }
    next = p.order();
    if (a.quantity.has_value()) next.set_quantity(*a.quantity);
    if (a.limit_price.has_value()) next.set_limit_price(*a.limit_price);
    if (a.remove_limit) next.clear_limit_price();
    // Unset urgency is normal urgency: asking for the urgency the order already has is no change.
    if (a.urgency != URGENCY_UNSPECIFIED && EffectiveUrgency(a.urgency) != EffectiveUrgency(next.urgency())) {
      next.set_urgency(a.urgency);
    }
    if (google::protobuf::util::MessageDifferencer::Equals(next, p.order())) return p;  // Already so.
    const uint32_t qs = p.instrument().qty_scale();
    int64_t open = 0;  // What open children may still fill: sent, so not taken back by an amendment.
    for (const ChildState& c : p.children()) {
      if (!c.done()) open += std::max<int64_t>(0, c.order().quantity() - c.filled_quantity());
    }
    if (next.quantity() < p.filled_quantity() + open) {
      return absl::FailedPreconditionError(absl::StrCat(
          "quantity: ", FormatDecimal(next.quantity(), qs), " is below what plan \"", plan_id,
          "\" has filled (", FormatDecimal(p.filled_quantity(), qs), ") and its open children may still fill (",
          FormatDecimal(open, qs), "): amend to at least ", FormatDecimal(p.filled_quantity() + open, qs),
          ", or cancel the plan"));
    }
    // On a cluster node every plan is a node's share of a cluster route: its order's venue
    // lists may name other nodes' venues, and its quantity was fixed in this node's lots.
    EXO_RETURN_IF_ERROR(AsAmendment(config().has_cluster() ? CheckClusterShare(next) : CheckRoutable(next)));
    // A smaller order on the same terms only takes risk off: no limit refuses it (a notional
    // limit with no market to value the order by would, else).
    ParentOrder same_size = next;
    same_size.set_quantity(p.order().quantity());
    const bool only_smaller = next.quantity() < p.order().quantity() &&
                              google::protobuf::util::MessageDifferencer::Equals(same_size, p.order());
    RiskRefusal by;  // (The limits of the plan's sender too.)
    if (absl::Status risk = only_smaller ? absl::OkStatus() : CheckOrderRisk(next, p.routed_by(), &by); !risk.ok()) {
      return RiskRefused(next, by, AsAmendment(std::move(risk)), "amendment of plan");
    }
    // The working-quantity limit counts what the plan may still fill on its new terms (every
    // other plan's as ever: this plan's own is left out by its id).
    ParentOrder still = next;
    still.set_quantity(std::max<int64_t>(0, next.quantity() - p.filled_quantity()));
    absl::Status working = only_smaller ? absl::OkStatus() : CheckWorkingRiskLocked(still, p.mode(), p.routed_by(), &by);
    if (!working.ok()) return RiskRefused(next, by, AsAmendment(std::move(working)), "amendment of plan");
    // Counted from now, as a new route's: a route checked after this one sees it.
    rec->working_quantity = still.quantity();
  }
  const Plan& p = rec->plan;
  PendingDelta pd;
  pd.delta = NewDelta(p, clock_->NowNs());
  PlanAmended* amended = pd.delta.mutable_amended();
  amended->set_quantity(next.quantity());
  if (next.has_limit_price() &&
      (!p.order().has_limit_price() || next.limit_price() != p.order().limit_price())) {
    amended->set_limit_price(next.limit_price());
  }
  amended->set_limit_removed(p.order().has_limit_price() && !next.has_limit_price());
  if (next.urgency() != p.order().urgency()) amended->set_urgency(next.urgency());
  amended->set_reason(a.reason.empty() ? "amended by client" : a.reason);
  const uint32_t version = p.version();
  std::vector<PendingDelta> prefix;
  prefix.push_back(std::move(pd));
  absl::Status s = Drive(*rec, std::move(prefix));
  if (!s.ok() && rec->plan.version() == version) {
    NoteState(*rec);  // Nothing became durable: the plan's working quantity is what it was.
    return s;
  }
  *changed = true;
  if (!s.ok()) LogError("plan %s: %s", plan_id, s.ToString());
  return rec->plan;
}

}  // namespace exo::daemon
