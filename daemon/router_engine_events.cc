// RouterEngine's threads: execution reports from the venues, the event loop, dead man's
// switches that fire, the tick that re-plans waiting plans, and waiting for a plan's next
// version.
#include "daemon/router_engine.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "daemon/internal/router_engine_internal.h"
#include "daemon/plan_fold.h"
#include "exo/fixed_point.h"
#include "exo/log.h"
#include "exo/status_macros.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT
using store::PendingDelta;
using internal::FillOutOfBounds;

absl::StatusOr<RouterEngine::PlanProgress> RouterEngine::AwaitVersion(
    const std::string& plan_id, uint32_t seen_version, absl::Duration timeout) const {
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<PlanRecord> rec, ExistingRecord(plan_id));
  std::unique_lock<std::mutex> lock(watch_mu_);
  watch_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
    return rec->version.load() > seen_version || draining_.load();
  });
  return PlanProgress{rec->version.load(), rec->settled.load()};
}

void RouterEngine::OnExecution(adapters::ExecutionEvent event) {
  std::lock_guard<std::mutex> lock(events_mu_);
  events_.push_back(std::move(event));
  ++events_received_;
  events_cv_.notify_one();
}

bool RouterEngine::AwaitExecutionsHandled(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(events_mu_);
  const uint64_t target = events_received_;
  return events_handled_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                                     [&] { return events_handled_ >= target; });
}

std::string RouterEngine::ExecutionKey(const std::string& cl_ord_id, const std::string& exec_id) {
  std::string key = cl_ord_id;
  key.push_back('\0');
  key += exec_id;
  return key;
}

void RouterEngine::NoteExecution(const PlanDelta& d, PlanRecord& rec) {
  if (d.has_fill() && !d.fill().exec_id().empty()) {
    rec.exec_ids.insert(ExecutionKey(d.fill().cl_ord_id(), d.fill().exec_id()));
  }
}

void RouterEngine::HandleExecution(const adapters::ExecutionEvent& e) {
  if (e.type == adapters::ExecutionEvent::Type::kUnknown) {
    ++unknown_executions_;
    LogWarning("%s from %s for %s ignored", e.reason, e.venue, e.cl_ord_id);
    return;
  }
  const std::string plan_id = internal::PlanIdOfChild(e.cl_ord_id);
  std::shared_ptr<PlanRecord> rec;
  if (!plan_id.empty()) {
    absl::StatusOr<std::shared_ptr<PlanRecord>> found = FindRecord(plan_id);
    if (!found.ok()) {
      // Nothing is recorded: the report is lost to this node (the venue's own record keeps it).
      LogError("execution for %s from %s not recorded: %s", e.cl_ord_id, e.venue, found.status().ToString());
      return;
    }
    rec = *std::move(found);
  }
  if (!rec) {
    ++unknown_executions_;
    LogWarning("execution for unknown child %s from %s ignored", e.cl_ord_id, e.venue);
    return;
  }
  std::lock_guard<std::mutex> lock(rec->mu);
  const ChildState* child = nullptr;
  for (const auto& c : rec->plan.children()) {
    if (c.order().cl_ord_id() == e.cl_ord_id) child = &c;
  }
  if (child != nullptr && child->order().venue() != e.venue) {
    ++unknown_executions_;
    LogWarning("execution for %s from %s ignored: the child was sent to %s", e.cl_ord_id, e.venue,
               child->order().venue());
    return;
  }
  if (child != nullptr && child->done() && absl::StartsWith(child->done_reason(), kSettledReasonPrefix)) {
    // An operator settled the child: a report now either agrees with the settlement (the end
    // the node asked for when settling, of what was left) or shows it missed something.
    const bool is_fill = e.type == adapters::ExecutionEvent::Type::kFill;
    if (is_fill && !e.exec_id.empty() && rec->exec_ids.count(ExecutionKey(e.cl_ord_id, e.exec_id)) > 0) {
      ++duplicate_executions_;
      LogInfo("fill %s on settled child %s from %s already recorded: the repeat is ignored", e.exec_id, e.cl_ord_id,
              e.venue);
      return;
    }
    if (!is_fill && e.canceled_quantity == child->order().quantity() - child->filled_quantity()) {
      LogInfo("end of %s from %s (%s) agrees with its settlement", e.cl_ord_id, e.venue, e.reason);
      return;
    }
    ++unknown_executions_;
    LogError("%s for %s from %s NOT APPLIED: an operator settled the child before it (%s); reconcile with the venue "
             "again",
             is_fill ? absl::StrCat("fill ", e.exec_id, " (quantity ", e.quantity, " at price ", e.price, ", fee ",
                                    e.fee, ")")
                     : absl::StrCat("end report (", e.canceled_quantity, " unfilled, settled: ",
                                    child->order().quantity() - child->filled_quantity(), ")"),
             e.cl_ord_id, e.venue, child->done_reason());
    return;
  }
  if (child == nullptr) {
    ++unknown_executions_;
    LogWarning("execution for unknown child %s from %s ignored", e.cl_ord_id, e.venue);
    return;
  }
  // A report after the child's end: a fill is still recorded (it traded; see below), a second
  // end is not (the first stands).
  const bool late = child->done();
  if (late && e.type != adapters::ExecutionEvent::Type::kFill) {
    ++unknown_executions_;
    LogWarning("end report for %s from %s (%s) after its end (%s): ignored", e.cl_ord_id, e.venue, e.reason,
               child->done_reason());
    return;
  }
  if (e.type == adapters::ExecutionEvent::Type::kFill && !e.exec_id.empty() &&
      rec->exec_ids.count(ExecutionKey(e.cl_ord_id, e.exec_id)) > 0) {
    ++duplicate_executions_;
    LogInfo("fill %s on %s from %s already recorded: the repeat is ignored", e.exec_id,
            e.cl_ord_id, e.venue);
    return;
  }
  // The fill as the plan takes it: a fill of an order its adapter no longer held counts only
  // what the venue's count (cum_quantity) adds to the plan's, its fee in proportion.
  int64_t quantity = e.quantity;
  int64_t fee = e.fee;
  if (e.type == adapters::ExecutionEvent::Type::kFill && e.cum_quantity >= 0) {
    if (e.symbol != rec->plan.order().symbol()) {
      ++unknown_executions_;
      LogWarning("fill %s on %s from %s not applied: the venue names %s, the plan trades %s", e.exec_id,
                 e.cl_ord_id, e.venue, e.symbol, rec->plan.order().symbol());
      return;
    }
    quantity = std::min(e.quantity, e.cum_quantity - child->filled_quantity());
    if (quantity <= 0) {
      ++unknown_executions_;
      LogWarning("fill %s on %s from %s not applied: the venue counts %d filled with it, the plan has %d already",
                 e.exec_id, e.cl_ord_id, e.venue, e.cum_quantity, child->filled_quantity());
      return;
    }
    if (quantity < e.quantity) {
      fee = MulDivRound(e.fee, quantity, e.quantity);
      LogWarning("fill %s on %s from %s: %d of its %d taken (the venue counts %d filled with it, the plan had %d)",
                 e.exec_id, e.cl_ord_id, e.venue, quantity, e.quantity, e.cum_quantity, child->filled_quantity());
    }
  }
  PendingDelta pd;
  pd.delta = NewDelta(rec->plan, clock_->NowNs());
  std::optional<ChildOutcomes::Outcome> outcome;  // A child's last report: how it ended.
  const std::string venue = child->order().venue();
  if (e.type == adapters::ExecutionEvent::Type::kFill) {
    if (std::string why = FillOutOfBounds(rec->plan, quantity, e.price, fee); !why.empty()) {
      ++unknown_executions_;
      LogWarning("fill %s on %s from %s not applied: %s", e.exec_id, e.cl_ord_id, e.venue, why);
      return;
    }
    if (late) {
      // The venue said the child ended, then reports a trade of it: the plan takes it (its fills,
      // notional and fees; a plan still working decides the rest on it, one settled keeps its
      // status and reason), and the operator is told.
      ++late_fills_;
      const std::string settled =
          IsSettled(rec->plan) ? absl::StrCat("; plan ", rec->plan.plan_id(), " had settled (",
                                              internal::StatusName(rec->plan.status()), "): its fills count it now")
                               : "";
      LogError("late fill %s on %s from %s, after its end (%s): recorded as reported (it traded)%s", e.exec_id,
               e.cl_ord_id, e.venue, child->done_reason(), settled);
    }
    if (child->filled_quantity() + quantity > child->order().quantity()) {
      ++overfills_;
      LogError("overfill on %s from %s: %d + %d > %d (recorded as reported: it traded)", e.cl_ord_id, e.venue,
               child->filled_quantity(), quantity, child->order().quantity());
    }
    Fill* f = pd.delta.mutable_fill();
    f->set_cl_ord_id(e.cl_ord_id);
    f->set_venue(e.venue);
    f->set_quantity(quantity);
    f->set_price(e.price);
    f->set_fee(fee);
    f->set_exec_id(e.exec_id);
  } else {
    outcome = ChildOutcomes::Of(child->filled_quantity(), child->order().quantity(), e.reason);
    ChildDone* d = pd.delta.mutable_child_done();
    d->set_cl_ord_id(e.cl_ord_id);
    d->set_venue(e.venue);
    d->set_canceled_quantity(e.canceled_quantity);
    d->set_reason(e.reason);
  }
  std::vector<PendingDelta> prefix;
  prefix.push_back(std::move(pd));
  // The child's end is counted once recorded, before its plan (settled by it, maybe) is seen.
  absl::Status s = Drive(*rec, std::move(prefix), [&] {
    if (outcome) child_outcomes_.Done(venue, e.cl_ord_id, *outcome, ChildOutcomes::Clock::now());
  });
  if (!s.ok()) LogError("plan %s: %s", rec->plan.plan_id(), s.ToString());
}

void RouterEngine::EventLoop() {
  std::unique_lock<std::mutex> lock(events_mu_);
  while (true) {
    events_cv_.wait(lock, [&] { return stopping_.load() || !events_.empty(); });
    if (stopping_ && events_.empty()) return;
    adapters::ExecutionEvent e = std::move(events_.front());
    events_.pop_front();
    lock.unlock();
    HandleExecution(e);
    lock.lock();
    ++events_handled_;
    events_handled_cv_.notify_all();
  }
}

void RouterEngine::SetRouteCanceller(RouteCanceller canceller) {
  std::lock_guard<std::mutex> lock(route_canceller_mu_);
  route_canceller_ = std::move(canceller);
}

void RouterEngine::CancelDisconnected() {
  if (draining_) return;
  RouteCanceller route_canceller;
  {
    std::lock_guard<std::mutex> lock(route_canceller_mu_);
    route_canceller = route_canceller_;
  }
  if (config().has_cluster() && !route_canceller) return;  // The cluster is not running yet.
  for (const DisconnectCancels::DuePlan& due : disconnects_.TakeDue(DisconnectCancels::Clock::now())) {
    const std::string reason = absl::StrCat("cancelled on disconnect: the watch that asked for it ended before it "
                                            "settled, and none came back within ", due.grace.count(), " ms");
    // (On a cluster node: the route on every node, each call within the cluster's round deadline.)
    absl::StatusOr<Plan> p = route_canceller ? route_canceller(due.plan_id, reason) : Cancel(due.plan_id, reason);
    // (A plan that settled meanwhile, or is being cancelled already, is left as it is.)
    if (p.ok() && absl::StartsWith(p->reason(), "cancelled on disconnect")) {
      ++disconnect_cancels_;
      LogWarning("plan %s cancelled on disconnect: its cancel_on_disconnect watch ended and none came back within %d ms",
                 due.plan_id, static_cast<int>(due.grace.count()));
    } else if (p.status().code() != absl::StatusCode::kFailedPrecondition) {
      LogError("plan %s: cancel on disconnect: %s", due.plan_id, p.status().ToString());
    }
  }
}

void RouterEngine::TickLoop() {
  while (!stopping_) {
    {
      // The interval in force now: a reload that changes it wakes this wait (ApplyConfig).
      const auto interval = std::chrono::milliseconds(config().routing().replan_interval_ms());
      std::unique_lock<std::mutex> lock(stop_mu_);
      stop_cv_.wait_for(lock, interval, [&] { return stopping_.load() || config_applied_; });
      config_applied_ = false;
    }
    if (stopping_) return;
    EvictSettled();
    CancelDisconnected();
    MaybeCheckpoint();
    std::vector<std::shared_ptr<PlanRecord>> working;
    {
      std::lock_guard<std::mutex> pl(plans_mu_);
      for (auto& [id, rec] : plans_) {
        if (!rec->settled.load() && rec->version.load() > 0) working.push_back(rec);
      }
    }
    for (auto& rec : working) {
      std::lock_guard<std::mutex> pl(rec->mu);
      absl::Status s = Drive(*rec, {});
      if (!s.ok()) LogError("plan %s: %s", rec->plan.plan_id(), s.ToString());
    }
  }
}

}  // namespace exo::daemon
