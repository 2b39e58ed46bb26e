// Coordinator: amending a cluster route's quantity (docs/cluster.md, "Amending a route's
// quantity"). The node that keeps the route's shortfall work records the new whole quantity;
// what the route gains is left to route, what it loses comes off what is left to route first.
// Below what the shares hold, every share gives up what it holds free — all but what it has
// filled and its open children may still fill, in whole lots of its node's venues — and what
// the route is still to trade beyond what they keep is left to route again: its next sub-route
// splits it at one λ across every node's venues as they stand, as one node's amendment re-plans
// its whole remainder.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/cluster/coordinator.h"
#include "exo/fixed_point.h"
#include "exo/log.h"
#include "exo/status_macros.h"

namespace exo::daemon::cluster {
namespace {

using namespace exoroute::v1;  // NOLINT: the wire types of this file.

// One node's plan of the route or of one of its sub-routes, as its node answered for it.
struct Share {
  std::string plan_id;
  NodeLink* link = nullptr;
  int64_t quantity = 0, filled = 0, open = 0, lot = 0;
  PlanStatus status = PLAN_STATUS_UNSPECIFIED;
  // What a cut may take: the share's rest beyond what has filled and open children may still
  // fill, in whole lots (none from a share that no longer works).
  int64_t Cuttable() const {
    if (status != PLAN_STATUS_WORKING || lot <= 0) return 0;
    const int64_t free = std::max<int64_t>(0, quantity - filled - open);
    return free / lot * lot;
  }
};

// Every node's plan of the route and of its first `sub_routes` sub-routes, newest first (then
// by node). UNAVAILABLE when a node could not be asked — a cut needs every share's figures.
absl::StatusOr<std::vector<Share>> SharesOf(const std::vector<NodeLink*>& all, const std::string& route_id,
                                            uint32_t sub_routes) {
  std::vector<Share> out;
  for (uint32_t n = sub_routes + 1; n >= 1; --n) {
    const std::string id = n == 1 ? route_id : SubRouteId(route_id, n);
    ProgressRequest req;
    req.set_route_id(id);
    auto replies = FanOut(all, [&req](size_t) -> const ProgressRequest& { return req; });
    for (size_t i = 0; i < all.size(); ++i) {
      const absl::StatusOr<ProgressReply>& r = replies[i];
      if (absl::IsNotFound(r.status())) continue;
      if (!r.ok()) {
        return absl::UnavailableError(absl::StrCat("quantity: node ", all[i]->node_id(),
                                                   " could not be asked for its share of \"", id,
                                                   "\" (nothing amended): ", WithoutNode(r.status(), all[i]->node_id())));
      }
      if (r->status() == PLAN_STATUS_UNSPECIFIED) continue;  // The work's keeper, without a share.
      out.push_back(Share{id, all[i], r->quantity(), r->filled_quantity(), r->open_quantity(), r->lot(), r->status()});
    }
  }
  return out;
}

// The node that keeps the route's work, asked to record `to`; its refusal as it named it, or
// UNAVAILABLE when it could not be asked.
absl::StatusOr<AmendShareReply> AskKeeper(NodeLink* keeper, const AmendShareRequest& to) {
  const std::string& node = keeper->node_id();
  absl::StatusOr<AmendShareReply> r = FanOut({keeper}, [&to](size_t) -> const AmendShareRequest& { return to; })[0];
  if (!r.ok()) {
    if (!absl::IsUnavailable(r.status()) && !absl::IsDeadlineExceeded(r.status()) && !absl::IsCancelled(r.status())) {
      return absl::Status(r.status().code(), WithoutNode(r.status(), node));  // Its refusal, naming the field.
    }
    return absl::UnavailableError(absl::StrCat("quantity: node ", node, ", which keeps route \"", to.route_id(),
                                               "\"'s shortfall work, could not be asked: ", r.status().message()));
  }
  if (!r->has_shortfall_work() || r->shortfall_work().coordinator() != node) {
    return absl::InternalError(absl::StrCat("quantity: node ", node, " answered for route \"", to.route_id(),
                                            "\"'s shortfall work as ", r->shortfall_work().coordinator(),
                                            ": not followed (its answer may not be the route's)"));
  }
  return r;
}

}  // namespace

std::string Coordinator::Units(const RouterEngine& engine, const std::string& symbol, int64_t units) {
  const Instrument* inst = engine.FindInstrument(symbol);
  return inst != nullptr ? FormatDecimal(units, inst->qty_scale()) : absl::StrCat(units, " units");
}

absl::Status Coordinator::ResizeLocked(const std::string& route_id, const AmendPlanRequest& amendment,
                                       const RouterEngine& engine, AmendPlanResponse* resp) {
  EXO_ASSIGN_OR_RETURN(const GetRouteResponse now, ProgressLocked(route_id, engine));
  if (!now.has_shortfall_work()) {
    // A node that could not be asked may be the one that keeps the work (it is down): the
    // change waits for it, rather than being refused as if the route had no work.
    std::vector<std::string> unasked;
    for (const NodeProgress& n : now.nodes()) {
      if (!n.error().empty()) unasked.push_back(absl::StrCat("node ", n.node(), " could not be asked (", n.error(), ")"));
    }
    if (!unasked.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "quantity: ", absl::StrJoin(unasked, "; "), ": it may keep route \"", route_id,
          "\"'s shortfall work, which a change of its quantity needs (nothing amended; send it again once it is back)"));
    }
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
  const std::vector<NodeLink*> all = AllLinks();
  const auto keeper = std::find_if(all.begin(), all.end(), [&](NodeLink* l) { return l->node_id() == holder; });
  if (keeper == all.end()) {
    return absl::FailedPreconditionError(absl::StrCat("quantity: route \"", route_id, "\"'s shortfall work is kept by node ",
                                                      holder, ", which is not in this node's cluster"));
  }
  const int64_t want = amendment.quantity();
  const std::string& symbol = now.symbol();
  auto units = [&](int64_t u) { return Units(engine, symbol, u); };
  // Below what the shares hold: the least the shares can come to, known before anything changes.
  const ShortfallWork& before = now.shortfall_work();
  const int64_t held_before = before.order_quantity() - before.shortfall();
  std::vector<Share> shares;
  if (before.order_quantity() > 0 && want < held_before) {
    EXO_ASSIGN_OR_RETURN(shares, SharesOf(all, route_id, before.sub_routes()));
    int64_t cuttable = 0;
    for (const Share& s : shares) cuttable += s.Cuttable();
    if (held_before - cuttable > want) {
      return absl::FailedPreconditionError(absl::StrCat(
          "quantity: ", units(want), " is below what route \"", route_id, "\"'s shares have filled and their open "
          "children may still fill, in whole lots (", units(held_before - cuttable), " of the ", units(held_before),
          " they hold): amend to at least ", units(held_before - cuttable), ", or cancel the route"));
    }
  }
  // The keeper records the new quantity, or — below what the shares hold — what they hold, so
  // that nothing more is routed while they are cut.
  AmendShareRequest to;
  to.set_route_id(route_id);
  to.set_quantity(want);
  to.set_at_least_shares(true);
  to.set_reason(amendment.reason());
  EXO_ASSIGN_OR_RETURN(AmendShareReply kept, AskKeeper(*keeper, to));
  const int64_t held = kept.shortfall_work().order_quantity() - kept.shortfall_work().shortfall();
  *resp->mutable_shortfall_work() = kept.shortfall_work();
  resp->set_changed(kept.changed());
  if (want >= held) {
    if (kept.changed()) {
      LogInfo("route %s: quantity amended to %s: %s left to route (by %s)", route_id, units(want),
              units(kept.shortfall_work().shortfall()), holder);
    }
    return absl::OkStatus();
  }
  // Every share gives up what it holds free; the rest beyond what they keep is routed again.
  if (shares.empty()) {
    EXO_ASSIGN_OR_RETURN(shares, SharesOf(all, route_id, kept.shortfall_work().sub_routes()));
  }
  int64_t cut = 0;
  for (const Share& s : shares) {
    const int64_t take = s.Cuttable();
    if (take <= 0) continue;
    AmendShareRequest share;
    share.set_route_id(s.plan_id);
    share.set_share_quantity(s.quantity - take);
    share.set_reason(amendment.reason().empty() ? absl::StrCat("route cut to ", units(want)) : amendment.reason());
    absl::StatusOr<AmendShareReply> r = FanOut({s.link}, [&share](size_t) -> const AmendShareRequest& { return share; })[0];
    NodeAmend* n = resp->add_nodes();
    n->set_node(s.link->node_id());
    if (!r.ok() || !r->changed()) {  // (Filled meanwhile, say: the next shares give what this one did not.)
      n->set_error(absl::StrCat(s.plan_id, " not cut by ", units(take), ": ",
                                r.ok() ? "the node recorded no change" : WithoutNode(r.status(), s.link->node_id())));
      continue;
    }
    n->set_changed(r->changed());
    n->set_status(r->status());
    cut += take;
  }
  int64_t now_held = held, left = 0;
  if (cut > 0) {
    // The keeper records the quantity asked and what the shares gave up: what they no longer
    // hold of it is left to route (the whole of what they hold when they gave up more than
    // `want` allows, a share having filled or sent a child meanwhile).
    AmendShareRequest after;
    after.set_route_id(route_id);
    after.set_quantity(want);
    after.set_shares_cut(cut);
    after.set_at_least_shares(true);
    after.set_reason(amendment.reason());
    absl::StatusOr<AmendShareReply> recorded = AskKeeper(*keeper, after);
    if (!recorded.ok()) {
      // The shares were cut; the record still names what they held, and nothing is left to
      // route. GetRoute's shortfall reads the difference until the keeper is asked again.
      LogError("route %s: its shares gave up %s, but node %s could not record it (nothing of it is routed again): %s",
               route_id, units(cut), holder, recorded.status().ToString());
      resp->mutable_shortfall_work()->set_order_quantity(held - cut);
      now_held = held - cut;
    } else {
      *resp->mutable_shortfall_work() = recorded->shortfall_work();
      now_held = recorded->shortfall_work().order_quantity();
      left = recorded->shortfall_work().shortfall();
    }
    resp->set_changed(true);
  }
  LogInfo("route %s: quantity amended to %s%s: its shares gave up the %s they held free, %s of it left to route again "
          "(by %s, at one price across the nodes)",
          route_id, units(now_held),
          now_held > want ? absl::StrCat(" (", units(want), " asked: the rest had filled or was at venues meanwhile)") : "",
          units(cut), units(left), holder);
  return absl::OkStatus();
}

}  // namespace exo::daemon::cluster
