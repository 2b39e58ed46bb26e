// Coordinator: working an executed route's shortfall (docs/cluster.md, "Working a shortfall").
#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/cluster/coordinator.h"
#include "exo/fixed_point.h"
#include "exo/log.h"
#include "exo/status_macros.h"

namespace exo::daemon::cluster {
namespace {

using namespace exoroute::v1;  // NOLINT: the wire types of this file.

// The sub-route that routes what is left of `record`'s order at `now_ns`: the parent's terms as
// they stand (amendments included), its arrival limit kept (the arrival mid is the parent's),
// a GTT order's deadline unchanged.
ParentOrder SubOrder(const ShortfallRecord& record, int64_t now_ns) {
  ParentOrder sub = record.order();
  sub.set_id(SubRouteId(record.order().id(), record.work().sub_routes() + 2));
  sub.set_quantity(record.work().shortfall());
  if (sub.time_in_force() == TIME_IN_FORCE_GTT) {
    const int64_t left_ms = (record.created_ns() + record.order().expire_after_ms() * 1'000'000 - now_ns) / 1'000'000;
    sub.set_expire_after_ms(std::max<int64_t>(1, left_ms));
  }
  if (record.arrival_limit() > 0) {
    const bool buy = sub.side() == SIDE_BUY;
    if (!sub.has_limit_price() || (buy ? record.arrival_limit() < sub.limit_price() : record.arrival_limit() > sub.limit_price())) {
      sub.set_limit_price(record.arrival_limit());
    }
    sub.set_arrival_band_bps(0);
  }
  return sub;
}

// `units` of the order's instrument as a decimal, for the log (raw units without the instrument).
std::string Qty(const RouterEngine& engine, const std::string& symbol, int64_t units) {
  const Instrument* inst = engine.FindInstrument(symbol);
  return inst != nullptr ? FormatDecimal(units, inst->qty_scale()) : absl::StrCat(units, " units");
}

bool Expired(const ShortfallRecord& record, int64_t now_ns) {
  return record.order().time_in_force() == TIME_IN_FORCE_GTT &&
         now_ns >= record.created_ns() + record.order().expire_after_ms() * 1'000'000;
}

}  // namespace

bool Coordinator::OpenShortfall(const ParentOrder& order, RouteMode mode, const std::string& routed_by,
                                const ClusterRouteSummary& summary, const RouterEngine& engine) {
  if (shortfall_ == nullptr || !open_shortfalls_ || mode != ROUTE_MODE_EXECUTE || summary.shortfall() < 0 ||
      IsSubRouteId(order.id())) {
    return false;
  }
  if (order.time_in_force() != TIME_IN_FORCE_GTC && order.time_in_force() != TIME_IN_FORCE_GTT) return false;
  ShortfallRecord record;
  *record.mutable_order() = order;
  record.set_routed_by(routed_by);
  record.set_arrival_limit(summary.route().arrival_limit());
  record.set_created_ns(absl::GetCurrentTimeNanos());
  record.mutable_work()->set_coordinator(node_id_);
  record.mutable_work()->set_shortfall(summary.shortfall());
  // Kept even when nothing is short: an amendment of the route's quantity may leave some.
  if (absl::Status s = shortfall_->Open(std::move(record)); !s.ok()) {
    LogError("route %s: its shortfall of %s cannot be recorded, so it is not worked (nor its quantity amendable): %s",
             order.id(), Qty(engine, order.symbol(), summary.shortfall()), s.ToString());
    return false;
  }
  if (summary.shortfall() == 0) return false;
  LogInfo("route %s: %s short; routed again until placed, cancelled or expired", order.id(),
          Qty(engine, order.symbol(), summary.shortfall()));
  return true;
}

absl::Status Coordinator::ResizeLocked(const std::string& route_id, const AmendPlanRequest& amendment,
                                       const RouterEngine& engine, AmendPlanResponse* resp) {
  EXO_ASSIGN_OR_RETURN(const GetRouteResponse now, ProgressLocked(route_id, engine));
  if (!now.has_shortfall_work()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "quantity: no node keeps the shortfall work of route \"", route_id,
        "\", which a change of its quantity needs: only an executed GTC or GTT cluster route has it (not a plan-only or "
        "IOC one, nor one routed with cluster.leave_shortfall or before 2026-12-05); its limit and urgency can be "
        "amended, or cancel it and route the rest again"));
  }
  const bool cancelled = std::any_of(now.nodes().begin(), now.nodes().end(), [](const NodeProgress& n) {
    return n.status() == PLAN_STATUS_CANCELLED || n.status() == PLAN_STATUS_CANCELLING;
  });
  if (cancelled) {
    return absl::FailedPreconditionError(
        absl::StrCat("quantity: route \"", route_id, "\" was cancelled: its quantity can no longer change"));
  }
  if (now.settled()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "quantity: route \"", route_id, "\" already finished on every node: nothing to amend (route a new order)"));
  }
  const std::string& holder = now.shortfall_work().coordinator();
  NodeLink* link = nullptr;
  for (NodeLink* l : AllLinks()) {
    if (l->node_id() == holder) link = l;
  }
  if (link == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("quantity: route \"", route_id, "\"'s shortfall work is kept by node ",
                                                      holder, ", which is not in this node's cluster"));
  }
  AmendShareRequest req;
  req.set_route_id(route_id);
  req.set_quantity(amendment.quantity());
  req.set_reason(amendment.reason());
  absl::StatusOr<AmendShareReply> r = FanOut({link}, [&req](size_t) -> const AmendShareRequest& { return req; })[0];
  if (!r.ok()) {
    if (!absl::IsUnavailable(r.status()) && !absl::IsDeadlineExceeded(r.status()) && !absl::IsCancelled(r.status())) {
      return absl::Status(r.status().code(), WithoutNode(r.status(), holder));  // Its refusal, naming the field.
    }
    return absl::UnavailableError(absl::StrCat("quantity: node ", holder, ", which keeps route \"", route_id,
                                               "\"'s shortfall work, could not be asked (nothing amended): ",
                                               r.status().message()));
  }
  if (!r->has_shortfall_work() || r->shortfall_work().coordinator() != holder) {
    return absl::InternalError(absl::StrCat("quantity: node ", holder, " answered for route \"", route_id,
                                            "\"'s shortfall work as ", r->shortfall_work().coordinator(),
                                            ": not followed (its answer may not be the route's)"));
  }
  *resp->mutable_shortfall_work() = r->shortfall_work();
  resp->set_changed(r->changed());
  if (r->changed()) {
    LogInfo("route %s: quantity amended to %s: %s left to route (by %s)", route_id,
            Qty(engine, now.symbol(), amendment.quantity()), Qty(engine, now.symbol(), r->shortfall_work().shortfall()),
            holder);
  }
  return absl::OkStatus();
}

void Coordinator::WorkShortfallsOnce(RouterEngine* engine, int64_t now_ns) {
  if (shortfall_ == nullptr) return;
  for (const std::string& id : shortfall_->OpenRoutes()) {
    ShortfallRecord record;
    if (!shortfall_->Begin(id, &record)) continue;  // Ended meanwhile.
    auto end = [&](int64_t placed, const std::string& error) {
      if (absl::Status s = shortfall_->End(id, placed, error, now_ns); !s.ok()) {
        LogError("route %s: the shortfall's work cannot be recorded: %s", id, s.ToString());
      }
    };
    if (Expired(record, now_ns)) {
      end(0, "");
      if (auto s = shortfall_->Finish(id, ShortfallWork::STATE_EXPIRED); s.ok()) {
        LogInfo("route %s: its GTT deadline passed with %s unplaced: no longer routed", id,
                Qty(*engine, record.order().symbol(), record.work().shortfall()));
      }
      continue;
    }
    // A cancel that could not reach this node (it was down) still cancelled the shares it
    // reached: a share cancelled on any node ends the work, and the cancel is finished here —
    // every node's plans of the route and its sub-routes, this node's own among them.
    if (absl::StatusOr<GetRouteResponse> now = Progress(id, *engine); now.ok()) {
      const bool cancelled = std::any_of(now->nodes().begin(), now->nodes().end(), [](const NodeProgress& n) {
        return n.status() == PLAN_STATUS_CANCELLED || n.status() == PLAN_STATUS_CANCELLING;
      });
      if (cancelled) {
        end(0, "");  // (The cancel below waits for no attempt in flight.)
        absl::StatusOr<CancelPlanResponse> done =
            Cancel(id, "cancelled on another node while the node that works its shortfall could not be asked", engine);
        LogInfo("route %s: a node's share of it was cancelled: its shortfall is no longer routed%s", id,
                done.ok() ? "" : absl::StrCat(" (", done.status().ToString(), ")"));
        continue;
      }
    }
    const ParentOrder sub = SubOrder(record, now_ns);
    absl::StatusOr<RouteResponse> routed = Route(sub, ROUTE_MODE_EXECUTE, engine, record.routed_by());
    int64_t placed = 0;
    std::string error;
    if (absl::IsAlreadyExists(routed.status())) {
      // The nodes hold this sub-route already: this node stopped after it was routed and before
      // it was recorded here (a crash). What its shares took is counted now, as if just placed.
      if (absl::StatusOr<GetRouteResponse> held = Progress(sub.id(), *engine); held.ok() && held->quantity() > 0) {
        placed = std::min(held->quantity(), sub.quantity());
        LogWarning("route %s: sub-route %s was routed before this node last stopped: its %s counted", id, sub.id(),
                   Qty(*engine, sub.symbol(), placed));
      } else {
        error = routed.status().ToString();
      }
    } else if (!routed.ok()) {
      error = routed.status().ToString();
    } else {
      placed = std::clamp<int64_t>(sub.quantity() - routed->cluster().shortfall(), 0, sub.quantity());
      if (placed == 0) error = "no node's venues took any of it";
    }
    if (placed > 0) {
      LogInfo("route %s: sub-route %s placed %s of the %s short", id, sub.id(), Qty(*engine, sub.symbol(), placed),
              Qty(*engine, sub.symbol(), sub.quantity()));
    } else if (error != record.work().last_error()) {
      LogInfo("route %s: %s still short: %s", id, Qty(*engine, sub.symbol(), sub.quantity()), error);
    }
    end(placed, error);
  }
}

void Coordinator::WorkShortfalls(ShortfallLedger* ledger, RouterEngine* engine, uint32_t retry_ms, bool open_new) {
  shortfall_ = ledger;
  open_shortfalls_ = open_new;
  const auto every = std::chrono::milliseconds(retry_ms > 0 ? retry_ms : 1000);
  shortfall_thread_ = std::thread([this, engine, every] {
    std::unique_lock<std::mutex> lock(shortfall_stop_mu_);
    while (!shortfall_stop_cv_.wait_for(lock, every, [this] { return shortfall_stop_; })) {
      lock.unlock();
      WorkShortfallsOnce(engine, absl::GetCurrentTimeNanos());
      lock.lock();
    }
  });
}

void Coordinator::StopShortfallWork() {
  {
    std::lock_guard<std::mutex> lock(shortfall_stop_mu_);
    shortfall_stop_ = true;
  }
  shortfall_stop_cv_.notify_all();
  if (shortfall_thread_.joinable()) shortfall_thread_.join();
}

Coordinator::~Coordinator() { StopShortfallWork(); }

}  // namespace exo::daemon::cluster
