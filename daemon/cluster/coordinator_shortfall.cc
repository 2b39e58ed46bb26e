// Coordinator: working an executed route's shortfall (docs/cluster.md, "Working a shortfall").
#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/cluster/coordinator.h"
#include "daemon/crash_point.h"
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
  record.set_created_ns(engine.NowNs());
  record.mutable_work()->set_coordinator(node_id_);
  record.mutable_work()->set_shortfall(summary.shortfall());
  *record.mutable_routed_order() = order;
  *record.mutable_answered() = summary;
  for (const NodeDropped& d : summary.route().dropped()) {
    if (!d.in_doubt()) continue;
    ShareInDoubt* doubt = record.add_in_doubt();
    doubt->set_node(d.node());
    doubt->set_route_id(order.id());
  }
  record.mutable_answered()->set_shortfall_worked(summary.shortfall() > 0);  // (As returned below.)
  // Kept even when nothing is short: an amendment of the route's quantity may leave some.
  if (absl::Status s = shortfall_->Open(std::move(record)); !s.ok()) {
    LogError("route %s: its shortfall of %s cannot be recorded, so it is not worked (nor its quantity amendable): %s",
             order.id(), Coordinator::Units(engine, order.symbol(), summary.shortfall()), s.ToString());
    return false;
  }
  if (summary.shortfall() == 0) return false;
  LogInfo("route %s: %s short; routed again until placed, cancelled or expired", order.id(),
          Coordinator::Units(engine, order.symbol(), summary.shortfall()));
  return true;
}

void Coordinator::AdoptLaterTerms(const std::string& route_id, const Missed& missed) {
  // (Each step reads the record again: the share's terms may have moved its terms_ns.)
  auto adopt = [&](const AmendShareRequest& terms, int64_t amended_ns, const char* from) {
    absl::StatusOr<std::optional<ShortfallRecord>> held = shortfall_->Record(route_id);
    if (!held.ok() || !held->has_value() || amended_ns <= (*held)->terms_ns()) return;
    bool changed = false;
    absl::StatusOr<std::optional<ShortfallWork>> amended = shortfall_->Amend(route_id, terms, amended_ns, &changed);
    if (!amended.ok()) {
      LogError("route %s: its %s later terms cannot be recorded: %s", route_id, from, amended.status().ToString());
      return;
    }
    if (!changed || !amended->has_value()) return;
    absl::StatusOr<std::optional<ShortfallRecord>> now = shortfall_->Record(route_id);
    if (!now.ok() || !now->has_value()) return;
    const ParentOrder& order = (*now)->order();
    LogInfo("route %s: %s amended while this node could not be asked: its sub-routes take the terms (limit %s, "
            "urgency %s)", route_id, from, order.has_limit_price() ? absl::StrCat(order.limit_price()) : "none",
            Urgency_Name(order.urgency()));
  };
  if (missed.share.amended_ns() > 0) {
    AmendShareRequest terms;
    terms.set_route_id(route_id);
    if (missed.share.terms().has_limit_price()) {
      terms.set_limit_price(missed.share.terms().limit_price());
    } else {
      terms.set_remove_limit(true);
    }
    terms.set_urgency(missed.share.terms().urgency());
    adopt(terms, missed.share.amended_ns(), "its shares were");
  }
  if (missed.terms.amended_ns() > 0) adopt(missed.terms.terms(), missed.terms.amended_ns(), "it was (a notice)");
}

void Coordinator::WorkShortfallsOnce(RouterEngine* engine, int64_t now_ns) {
  if (shortfall_ == nullptr) return;
  ResendNoticedCancels(engine, now_ns);
  ResendNoticedTerms(now_ns);
  for (const std::string& id : shortfall_->OpenRoutes()) {
    // Every node's shares of the route and of its sub-routes, asked once: whether one was
    // cancelled, and the terms of the one amended last.
    Missed missed;
    const absl::StatusOr<GetRouteResponse> now = Progress(id, *engine, &missed);
    AdoptLaterTerms(id, missed);
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
                Coordinator::Units(*engine, record.order().symbol(), record.work().shortfall()));
      }
      continue;
    }
    // A cancel that could not reach this node (it was down) still cancelled the shares it
    // reached and left a notice on the nodes it reached: a share cancelled on any node, or a
    // notice, ends the work, and the cancel is finished here — every node's plans of the route
    // and its sub-routes, this node's own among them.
    if (now.ok()) {
      const bool cancelled = !now->cancel_noticed_on().empty() ||
                             std::any_of(now->nodes().begin(), now->nodes().end(), [](const NodeProgress& n) {
                               return n.status() == PLAN_STATUS_CANCELLED || n.status() == PLAN_STATUS_CANCELLING;
                             });
      if (cancelled) {
        end(0, "");  // (The cancel below waits for no attempt in flight.)
        // The shares' recorded reason: the notice's, with the node it came through (at most
        // 256 characters, as any cancel's).
        std::string why = "cancelled on another node while the node that works its shortfall could not be asked";
        if (const CancelNotice& n = missed.cancel; !n.route_id().empty()) {
          const std::string noted = absl::StrCat("cancelled through ", n.via(), " while ", node_id_, " could not be asked",
                                                 n.reason().empty() ? "" : absl::StrCat(": ", n.reason()));
          why = noted.size() <= 256 ? noted : !n.reason().empty() ? n.reason() : why;
        }
        // (Ended here first: the cancel below finds it ended and does not log it again.)
        if (absl::StatusOr<std::optional<ShortfallWork>> s = shortfall_->Finish(id, ShortfallWork::STATE_CANCELLED); !s.ok()) {
          LogError("route %s: the end of its shortfall's work cannot be recorded: %s", id, s.status().ToString());
        }
        absl::StatusOr<CancelPlanResponse> done = Cancel(id, why, engine);
        LogInfo("route %s: %s: its shortfall is no longer routed%s", id,
                now->cancel_noticed_on().empty()
                    ? "a node's share of it was cancelled"
                    : absl::StrCat("a cancel was noted on ", absl::StrJoin(now->cancel_noticed_on(), ", "), " (", why, ")"),
                done.ok() ? "" : absl::StrCat(" (", done.status().ToString(), ")"));
        continue;
      }
    }
    // A node whose Execute failed may hold its share all the same: nothing more is routed until
    // it says what it holds, which is then counted as placed.
    if (record.in_doubt_size() > 0) {
      const std::string waiting = ResolveDoubts(record, *engine);
      if (!waiting.empty()) {
        if (waiting != record.work().last_error()) LogWarning("route %s: %s", id, waiting);
        end(0, waiting);
        continue;
      }
      absl::StatusOr<std::optional<ShortfallRecord>> now_held = shortfall_->Record(id);
      if (!now_held.ok() || !now_held->has_value() || (*now_held)->work().state() != ShortfallWork::STATE_OPEN) {
        end(0, "");  // Placed whole by the shares in doubt (or ended meanwhile).
        continue;
      }
      record = **now_held;
    }
    // Too few other nodes answered (down, or this node cut off from them) for this node and
    // them to be a majority of the cluster: a cancel sent meanwhile may have left its notice on
    // the others only, unseen — nothing is routed until a majority answers. (A notice kept by
    // at least half the nodes meets every majority.)
    if (2 * (missed.peers_answered + 1) <= links_.size()) {
      const std::string why = absl::StrCat(
          missed.peers_answered == 0 ? "no other node answered" : absl::StrCat("only ", missed.peers_answered, " other node(s) answered"),
          ": nothing is routed until a majority of the cluster does (a cancel sent meanwhile could be missed)");
      if (why != record.work().last_error()) {
        LogWarning("route %s: %s still short: %s", id, Coordinator::Units(*engine, record.order().symbol(),
                                                                          record.work().shortfall()), why);
      }
      end(0, why);
      continue;
    }
    const ParentOrder sub = SubOrder(record, now_ns);
    absl::StatusOr<RouteResponse> routed = Route(sub, ROUTE_MODE_EXECUTE, engine, record.routed_by());
    int64_t placed = 0;
    std::string error;
    std::vector<ShareInDoubt> doubts;  // Nodes whose Execute of the sub-route failed.
    if (absl::IsAlreadyExists(routed.status())) {
      // The nodes hold this sub-route already: this node stopped after it was routed and before
      // it was recorded here (a crash). What its shares took is counted now, as if just placed.
      if (absl::StatusOr<GetRouteResponse> held = Progress(sub.id(), *engine); held.ok() && held->quantity() > 0) {
        placed = std::min(held->quantity(), sub.quantity());
        LogWarning("route %s: sub-route %s was routed before this node last stopped: its %s counted", id, sub.id(),
                   Coordinator::Units(*engine, sub.symbol(), placed));
      } else {
        error = routed.status().ToString();
      }
    } else if (!routed.ok()) {
      error = routed.status().ToString();
    } else {
      placed = std::clamp<int64_t>(sub.quantity() - routed->cluster().shortfall(), 0, sub.quantity());
      if (placed == 0) error = "no node's venues took any of it";
      for (const NodeDropped& d : routed->cluster().route().dropped()) {
        if (!d.in_doubt()) continue;
        ShareInDoubt doubt;
        doubt.set_node(d.node());
        doubt.set_route_id(sub.id());
        doubts.push_back(std::move(doubt));
      }
    }
    if (placed > 0) {
      CrashPoint(kCrashSubRouteRouted);
      LogInfo("route %s: sub-route %s placed %s of the %s short", id, sub.id(), Coordinator::Units(*engine, sub.symbol(), placed),
              Coordinator::Units(*engine, sub.symbol(), sub.quantity()));
    } else if (error != record.work().last_error()) {
      LogInfo("route %s: %s still short: %s", id, Coordinator::Units(*engine, sub.symbol(), sub.quantity()), error);
    }
    if (absl::Status s = shortfall_->End(id, placed, error, now_ns, doubts); !s.ok()) {
      LogError("route %s: the shortfall's work cannot be recorded: %s", id, s.ToString());
    }
  }
}

absl::StatusOr<int64_t> Coordinator::ShareHeld(const std::string& node, const std::string& route_id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<NodeLink*> one;
  for (NodeLink* l : AllLinks()) {
    if (l->node_id() == node) one.push_back(l);
  }
  if (one.empty()) return absl::FailedPreconditionError(absl::StrCat("node ", node, " is not in this node's cluster"));
  ProgressRequest req;
  req.set_route_id(route_id);
  std::vector<absl::StatusOr<ProgressReply>> replies =
      FanOut(one, [&req](size_t) -> const ProgressRequest& { return req; });
  if (absl::IsNotFound(replies[0].status())) return 0;  // It took none.
  if (!replies[0].ok()) return replies[0].status();
  return replies[0]->status() == PLAN_STATUS_UNSPECIFIED ? 0 : std::max<int64_t>(0, replies[0]->quantity());
}

std::string Coordinator::ResolveDoubts(const ShortfallRecord& record, const RouterEngine& engine) {
  const std::string& id = record.order().id();
  for (const ShareInDoubt& doubt : record.in_doubt()) {
    absl::StatusOr<int64_t> held = ShareHeld(doubt.node(), doubt.route_id());
    if (!held.ok()) {
      return absl::StrCat("node ", doubt.node(), " did not answer its Execute of route ", doubt.route_id(),
                          " and may hold a share of it: nothing more is routed until it says (", held.status().message(),
                          ")");
    }
    if (absl::Status s = shortfall_->ResolveDoubt(id, doubt, *held); !s.ok()) {
      return absl::StrCat("the share of node ", doubt.node(), " in ", doubt.route_id(), " cannot be recorded: ", s.message());
    }
    if (*held > 0) {
      LogWarning("route %s: node %s holds a share of %s of %s, which it did not answer for at Execute: counted as placed",
                 id, doubt.node(), Coordinator::Units(engine, record.order().symbol(), *held), doubt.route_id());
    } else {
      LogInfo("route %s: node %s took no share of %s (its Execute failed): nothing to count", id, doubt.node(),
              doubt.route_id());
    }
  }
  return "";
}

void Coordinator::WorkShortfalls(ShortfallLedger* ledger, RouterEngine* engine, uint32_t retry_ms, bool open_new) {
  shortfall_ = ledger;
  open_shortfalls_ = open_new;
  const auto every = std::chrono::milliseconds(retry_ms > 0 ? retry_ms : 1000);
  ledger->SetOnMoreToRoute([this] { WakeShortfallWork(); });
  shortfall_thread_ = std::thread([this, engine, every] {
    std::unique_lock<std::mutex> lock(shortfall_stop_mu_);
    for (;;) {
      shortfall_stop_cv_.wait_for(lock, every, [this] { return shortfall_stop_ || shortfall_wake_; });
      if (shortfall_stop_) break;
      shortfall_wake_ = false;
      lock.unlock();
      WorkShortfallsOnce(engine, engine->NowNs());
      lock.lock();
    }
  });
}

void Coordinator::WakeShortfallWork() {
  {
    std::lock_guard<std::mutex> lock(shortfall_stop_mu_);
    shortfall_wake_ = true;
  }
  shortfall_stop_cv_.notify_all();
}

void Coordinator::StopShortfallWork() {
  if (shortfall_ != nullptr) shortfall_->SetOnMoreToRoute(nullptr);  // (Waits for a wake under way.)
  {
    std::lock_guard<std::mutex> lock(shortfall_stop_mu_);
    shortfall_stop_ = true;
  }
  shortfall_stop_cv_.notify_all();
  if (shortfall_thread_.joinable()) shortfall_thread_.join();
}

Coordinator::~Coordinator() {
  StopShortfallWork();
  {
    std::lock_guard<std::mutex> lock(check_mu_);
    check_stop_ = true;
  }
  check_cv_.notify_all();
  if (check_thread_.joinable()) check_thread_.join();
}

}  // namespace exo::daemon::cluster
