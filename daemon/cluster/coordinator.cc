#include "daemon/cluster/coordinator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/message_differencer.h"
#include "exo/fixed_point.h"
#include "exo/log.h"
#include "exo/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "daemon/cluster/secure_sum.h"
#include "daemon/crash_point.h"
#include "daemon/risk_limits.h"
#include "daemon/solve_inputs.h"
#include "solver/exact_dual.h"
#include "solver/solver.h"
#include "solver/internal/ordered_double.h"

namespace exo::daemon::cluster {
namespace {

using namespace exoroute::v1;  // NOLINT: the wire types of this file.

}  // namespace

namespace {

// What a node refuses of a client's order (RouterEngine::CheckRoutable), for a cluster: the
// quantity must be a multiple of the smallest lot over every node's usable venues, some venue
// must be usable, and every venue named in the lists must be some node's (checked only when
// every node answered: a dropped node's venues are unknown here).
absl::Status CheckClusterOrder(const ParentOrder& order, int64_t smallest_lot, const std::set<std::string>& listed,
                               bool all_nodes_answered, const RouterEngine& engine) {
  if (all_nodes_answered) {
    for (const auto* list : {&order.allowed_venues(), &order.denied_venues()}) {
      for (int i = 0; i < list->size(); ++i) {
        if (listed.count((*list)[i]) > 0) continue;
        return absl::InvalidArgumentError(absl::StrCat(
            "order.", list == &order.allowed_venues() ? "allowed_venues" : "denied_venues", "[", i,
            "]: unknown venue \"", (*list)[i], "\" (no node of the cluster has it)"));
      }
    }
  }
  if (smallest_lot == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no venue of the cluster can trade ", order.symbol(), " for this order (allowed_venues / denied_venues)"));
  }
  if (order.quantity() % smallest_lot != 0) {
    const exoroute::v1::Instrument* inst = engine.FindInstrument(order.symbol());
    const uint32_t scale = inst != nullptr ? inst->qty_scale() : 0;
    return absl::InvalidArgumentError(absl::StrCat(
        "order.quantity: ", FormatDecimal(order.quantity(), scale), " is not a multiple of the smallest lot (",
        FormatDecimal(smallest_lot, scale), ") of the venues it may use"));
  }
  return absl::OkStatus();
}

// The key of a route's sums among the coordinator's last ones: its symbol and side.
std::string SupplyKey(const ParentOrder& order) { return absl::StrCat(order.symbol(), "/", order.side()); }

// The λ to ask with Prepare, by sums (λ, S(λ)) earlier searches got (S: the middle of S_lo and
// S_hi), in the order to ask them: the closest λ below where they cross `quantity` and the
// closest above — if the books have not moved, λ* lies between them — then the mean marginal
// cost of the supply between those two (λ* itself when it is one price level) and where that
// supply would reach the quantity under the quantile step's density (solver::SupplyQuantile).
// Only the one of the first two there is when the quantity is beyond what the sums cover.
std::vector<double> Opening(const SearchSums& sums, int64_t quantity) {
  auto supply = [](const SearchSums::value_type& p) {
    return (static_cast<double>(p.second.lo) + static_cast<double>(p.second.hi)) / 2;
  };
  const auto q = static_cast<double>(quantity);
  const SearchSums::value_type* below = nullptr;  // The largest λ with S < q,
  const SearchSums::value_type* above = nullptr;  // the smallest with S >= q.
  for (const auto& p : sums) {
    if (supply(p) < q) {
      if (below == nullptr || p.first > below->first) below = &p;
    } else if (above == nullptr || p.first < above->first) {
      above = &p;
    }
  }
  if (below == nullptr || above == nullptr || above->first <= below->first) {
    if (below != nullptr) return {below->first};
    if (above != nullptr) return {above->first};
    return {};
  }
  std::vector<double> out = {below->first, above->first};
  // The supply those sums left between the two: its quantity and mean marginal cost.
  const int64_t undecided = above->second.lo - below->second.hi;
  if (undecided <= 0) return out;
  const double mean = (above->second.cost_lo - below->second.cost_hi) / static_cast<double>(undecided);
  const double f = std::clamp((q - static_cast<double>(below->second.hi)) / static_cast<double>(undecided), 0.0, 1.0);
  for (const double l : {mean, solver::SupplyQuantile(below->first, above->first, mean, f)}) {
    if (l > below->first && l < above->first && l != out.back()) out.push_back(l);
  }
  return out;
}

// Exact steps over breakpoints after a noisy search (each one an exact release).
constexpr int kMaxExactSteps = 16;

// Errors that mean "this node has nothing to offer for this order", not that it failed.
// Why a node that answered Prepare must not take part in this node's routes, if it must not:
// it speaks another peer protocol (another release: a release before the field ignores it and
// answers 0), or has the order's instrument at other scales (the order's quantity and every
// price would mean something else there).
absl::Status Incompatible(const PrepareReply& r, const std::string& node, const std::string& symbol,
                          const RouterEngine& engine) {
  if (r.protocol() != ClusterNode::kPeerProtocol) {
    return absl::UnimplementedError(absl::StrCat("node ", node, " speaks peer protocol ", r.protocol(), ", this node ",
                                                 ClusterNode::kPeerProtocol,
                                                 " (run one exoroute release on every node of a cluster)"));
  }
  const Instrument* own = engine.FindInstrument(symbol);
  if (own != nullptr &&
      (r.instrument().qty_scale() != own->qty_scale() || r.instrument().price_scale() != own->price_scale())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node ", node, " has ", symbol, " at qty_scale ", r.instrument().qty_scale(), ", price_scale ",
        r.instrument().price_scale(), "; this node at qty_scale ", own->qty_scale(), ", price_scale ",
        own->price_scale(), " (instruments must agree across the cluster)"));
  }
  return absl::OkStatus();
}

// A Prepare reply's plain prices: the cheapest and dearest marginal cost are numbers (+inf and
// -inf for a node with no usable venue), the cheapest not above the dearest. A node that
// answers otherwise is faulty: its summary would bracket the search wrongly.
absl::Status MalformedSummary(const PrepareReply& r, const std::string& node) {
  const double lo = r.min_cost(), hi = r.max_cost();
  const bool none = lo == std::numeric_limits<double>::infinity() && hi == -std::numeric_limits<double>::infinity();
  if (none || (std::isfinite(lo) && std::isfinite(hi) && lo <= hi)) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("node ", node, " answered a malformed Prepare: min_cost ", lo, ", max_cost ",
                                          hi, " (numbers, min_cost <= max_cost, or +inf and -inf for no venue)"));
}

bool TakesNoPart(const absl::Status& s) {
  return absl::IsFailedPrecondition(s) || absl::IsInvalidArgument(s) || absl::IsNotFound(s);
}

// Every node's best price for a banded order (BestPrice): the best of them (0 if none has
// one), and per node OK or why it takes no part, and whether that is a failure (logged, and
// subject to the failure policy) rather than a node that cannot trade the order.
struct BestPrices {
  int64_t best = 0;                    // On the order's side.
  int64_t best_bid = 0, best_ask = 0;  // Over every node's usable venues (0: none).
  std::vector<absl::Status> why;
  std::vector<bool> failed;
};

BestPrices AskBestPrices(const std::vector<NodeLink*>& live, const std::string& route_id, const ParentOrder& order,
                         RouteMode mode) {
  BestPriceRequest ask;
  ask.set_route_id(route_id);
  *ask.mutable_order() = order;
  ask.set_mode(mode);
  ask.set_protocol(ClusterNode::kPeerProtocol);
  auto named = FanOut(live, [&ask](size_t) -> const BestPriceRequest& { return ask; });
  const bool buy = order.side() == SIDE_BUY;
  BestPrices out;
  for (size_t i = 0; i < named.size(); ++i) {
    absl::Status why = named[i].status();
    bool failed = named[i].ok() || !TakesNoPart(why);
    if (why.ok()) {
      for (const int64_t p : {named[i]->price(), named[i]->best_bid(), named[i]->best_ask()}) {
        if (p < 0 || p > kMaxUnits) {
          why = absl::InternalError(absl::StrCat("node ", live[i]->node_id(), " named best price ", p,
                                                 ", not within 0..2^53: refused"));
          break;
        }
      }
    }
    // A node of a release before BestPrice reads the call as an empty one.
    if (absl::IsInvalidArgument(why) && absl::StrContains(why.message(), "call: empty")) {
      why = absl::FailedPreconditionError(absl::StrCat(
          "node ", live[i]->node_id(), " does not know BestPrice, which an order with an urgency or arrival band needs: it "
          "speaks an older peer protocol than this node's ", ClusterNode::kPeerProtocol,
          " (run one exoroute release on every node of a cluster)"));
      failed = true;
    }
    out.why.push_back(why);
    out.failed.push_back(failed);
    if (!why.ok()) continue;
    const int64_t p = named[i]->price();
    if (p > 0 && (out.best == 0 || (buy ? p < out.best : p > out.best))) out.best = p;
    out.best_bid = std::max(out.best_bid, named[i]->best_bid());
    const int64_t ask = named[i]->best_ask();
    if (ask > 0 && (out.best_ask == 0 || ask < out.best_ask)) out.best_ask = ask;
  }
  return out;
}

}  // namespace

SearchSums Coordinator::RecentSums(const std::string& key) {
  std::deque<KeptSums>& kept = recent_sums_[key];
  const auto now = std::chrono::steady_clock::now();
  while (!kept.empty() && now - kept.front().at > kSumsKeptFor) kept.pop_front();
  SearchSums out;
  for (const KeptSums& s : kept) out.insert(out.end(), s.sums.begin(), s.sums.end());
  return out;
}

void Coordinator::KeepSums(const std::string& key, SearchSums sums) {
  if (sums.empty()) return;
  std::deque<KeptSums>& kept = recent_sums_[key];
  kept.push_back({std::chrono::steady_clock::now(), std::move(sums)});
  if (kept.size() > kSumsKept) kept.pop_front();
}

std::vector<NodeLink*> Coordinator::AllLinks() const {
  std::vector<NodeLink*> all;
  for (const auto& l : links_) all.push_back(l.get());
  return all;
}

namespace {

// The status a node's plans of a route and its sub-routes show together: the one that still
// works, else the one ended last in this order of precedence.
PlanStatus Together(PlanStatus a, PlanStatus b) {
  static constexpr PlanStatus kOrder[] = {PLAN_STATUS_WORKING, PLAN_STATUS_CANCELLING, PLAN_STATUS_PLANNED,
                                          PLAN_STATUS_FAILED,  PLAN_STATUS_CANCELLED,  PLAN_STATUS_EXPIRED,
                                          PLAN_STATUS_COMPLETED};
  for (PlanStatus s : kOrder) {
    if (a == s || b == s) return s;
  }
  return a != PLAN_STATUS_UNSPECIFIED ? a : b;
}

// A node's word on the work on a route's shortfall: only the node that works it speaks for it,
// and never of more sub-routes than any could place (a faulty node's answer is not followed).
constexpr uint32_t kMostSubRoutes = 100000;  // More than any route's work could place.

bool Credible(const ShortfallWork& w, const std::string& node, const std::string& route_id) {
  if (w.coordinator() == node && w.sub_routes() <= kMostSubRoutes) return true;
  LogWarning("route %s: node %s answered for the work on its shortfall as %s with %d sub-routes: not followed",
             route_id, node, w.coordinator(), w.sub_routes());
  return false;
}

// The nodes of `all` but the `unasked`.
std::vector<NodeLink*> Asked(const std::vector<NodeLink*>& all, const std::set<std::string>& unasked) {
  std::vector<NodeLink*> asked;
  for (NodeLink* link : all) {
    if (unasked.count(link->node_id()) == 0) asked.push_back(link);
  }
  return asked;
}

// The sub-routes of `route_id` that some node of `all` but the `unasked` has a working share of
// (ProgressRequest.list_sub_routes), ascending: what a cancel or an amendment reaches while the
// node that numbers them (the one that works the route's shortfall) could not be asked. (Never
// a number no route's work could reach: a faulty node's answer is not followed that far.)
std::vector<uint32_t> WorkingSubRoutes(const std::string& route_id, const std::vector<NodeLink*>& all,
                                       const std::set<std::string>& unasked) {
  const std::vector<NodeLink*> asked = Asked(all, unasked);
  ProgressRequest req;
  req.set_route_id(route_id);
  req.set_list_sub_routes(true);
  auto replies = FanOut(asked, [&req](size_t) -> const ProgressRequest& { return req; });
  std::set<uint32_t> subs;
  for (const auto& r : replies) {
    if (!r.ok()) continue;
    for (uint32_t n : r->working_sub_routes()) {
      if (n >= 2 && n <= kMostSubRoutes + 1) subs.insert(n);
    }
  }
  return std::vector<uint32_t>(subs.begin(), subs.end());
}

}  // namespace

absl::StatusOr<CancelPlanResponse> Coordinator::Cancel(const std::string& id, const std::string& reason,
                                                      RouterEngine* engine) {
  std::lock_guard<std::mutex> lock(mu_);  // After a route in progress: its plans exist then.
  return CancelLocked(id, reason, engine, /*resending=*/nullptr, nullptr);
}

absl::StatusOr<CancelPlanResponse> Coordinator::CancelLocked(const std::string& id, const std::string& reason,
                                                            RouterEngine* engine, const CancelNotice* resending,
                                                            bool* reached) {
  // A sub-route is part of its route: cancelling one cancels them all and ends the work.
  const std::string plan_id = RouteOf(id);
  const std::vector<NodeLink*> all = AllLinks();
  // A cancel sent again says which node the client's came through (at most 256 characters, as
  // any cancel's reason); its notices keep the client's own reason.
  std::string share_reason = reason;
  if (resending != nullptr) {
    std::string noted = absl::StrCat("cancelled through ", resending->via(), " while the node that works the route could "
                                     "not be asked", reason.empty() ? "" : absl::StrCat(": ", reason));
    if (noted.size() <= 256) share_reason = std::move(noted);
  }
  CancelPlanResponse resp;
  std::map<std::string, NodeCancel> by_node;
  bool cancelled = false;
  std::vector<std::string> finished, unreachable;  // Why the other nodes' plans were not cancelled.
  std::set<std::string> unasked;                   // The nodes that could not be asked.
  // Cancels every node's plan of `id`: the route first (the node that works its shortfall ends
  // that work before it answers, so no sub-route starts after), then each sub-route it placed.
  // True when some node answered that it has (or had) a plan of `id`.
  auto cancel = [&](const std::string& route, bool parent) {
    bool held = false;
    CancelRouteRequest req;
    req.set_route_id(route);
    req.set_reason(share_reason);
    auto replies = FanOut(all, [&req](size_t) -> const CancelRouteRequest& { return req; });
    for (size_t i = 0; i < all.size(); ++i) {
      const absl::StatusOr<CancelRouteReply>& r = replies[i];
      if (absl::IsNotFound(r.status())) continue;  // This node took no share.
      if (r.ok() && parent && r->has_shortfall_work() && Credible(r->shortfall_work(), all[i]->node_id(), route)) {
        *resp.mutable_shortfall_work() = r->shortfall_work();
      }
      // The holder of the work answers OK without a share, or with one that had finished.
      const absl::Status outcome = !r.ok()                       ? r.status()
                                   : !r->not_cancelled().empty() ? absl::FailedPreconditionError(r->not_cancelled())
                                                                 : absl::OkStatus();
      if (r.ok() && outcome.ok() && r->status() == PLAN_STATUS_UNSPECIFIED) continue;
      NodeCancel& n = by_node[all[i]->node_id()];
      n.set_node(all[i]->node_id());
      if (outcome.ok()) {
        n.set_status(Together(n.status(), r->status()));
        cancelled = held = true;
        continue;
      }
      held = held || absl::IsFailedPrecondition(outcome);
      if (n.error().empty()) n.set_error(WithoutNode(outcome, all[i]->node_id()));
      (absl::IsFailedPrecondition(outcome) ? finished : unreachable).push_back(std::string(outcome.message()));
      if (!absl::IsFailedPrecondition(outcome)) unasked.insert(all[i]->node_id());
    }
    return held;
  };
  cancel(plan_id, /*parent=*/true);
  // The node that works the route answered, or every node did: nothing is left to notice.
  if (reached != nullptr) *reached = resp.has_shortfall_work() || unasked.empty();
  if (resp.has_shortfall_work()) {
    for (uint32_t k = 0; k < resp.shortfall_work().sub_routes(); ++k) cancel(SubRouteId(plan_id, k + 2), false);
  } else if (!unreachable.empty()) {
    // A node that could not be asked may work the route's shortfall: its sub-routes are
    // cancelled as far as the nodes asked hold working shares of them (it finishes the cancel
    // when it is back).
    const size_t unreachable_before = unreachable.size();
    for (uint32_t n : WorkingSubRoutes(plan_id, all, unasked)) cancel(SubRouteId(plan_id, n), false);
    unreachable.resize(unreachable_before);  // (The same node, asked again for each.)
    // That node may work the route's shortfall with no share left to cancel anywhere (every one
    // had finished, or none was taken yet): every node asked keeps a notice of the cancel,
    // which it finds when it is back and ends its work on (coordinator_shortfall.cc).
    LeaveCancelNotices(plan_id, reason, all, unasked, resending, &resp);
  }
  for (auto& [node, n] : by_node) *resp.add_nodes() = std::move(n);  // In node order.
  if (resp.nodes().empty() && !resp.has_shortfall_work()) {
    return absl::NotFoundError(absl::StrCat("plan \"", plan_id, "\" not found on any node of the cluster"));
  }
  // Nothing cancelled: a node that could not be asked may still be working, which the caller
  // must know, unless the nodes asked keep a notice for it; else every plan had finished.
  // (Ending the shortfall's work is a cancel.)
  if (resp.shortfall_work().state() == ShortfallWork::STATE_CANCELLED || !resp.noticed_on().empty()) cancelled = true;
  if (!cancelled && !unreachable.empty()) return absl::UnavailableError(absl::StrJoin(unreachable, "; "));
  if (!cancelled && finished.empty()) {  // No share anywhere, and the shortfall's work had ended.
    return absl::FailedPreconditionError(absl::StrCat("route \"", plan_id, "\": nothing to cancel (no node holds a share, and ",
                                                      resp.shortfall_work().coordinator(),
                                                      "'s work on its shortfall had ended)"));
  }
  if (!cancelled) return absl::FailedPreconditionError(finished.front());
  if (absl::StatusOr<Plan> own = engine->GetPlan(id); own.ok()) *resp.mutable_plan() = *std::move(own);
  return resp;
}

namespace {

// Why a notice kept by `kept` of the nodes of `all` (the `unasked` could not be asked) can be
// missed, or "" when it cannot: the node that works the route routes only when a majority
// answers it, which meets every set of at least half the nodes. `then`: what follows.
std::string ShortOfHalf(const std::vector<std::string>& kept, const std::vector<NodeLink*>& all,
                        const std::set<std::string>& unasked, const char* what, const std::string& then) {
  if (2 * kept.size() >= all.size()) return "";
  const std::string who = unasked.size() == 1 ? *unasked.begin() : absl::StrCat("one of ", absl::StrJoin(unasked, ", "));
  if (kept.empty()) {
    return absl::StrCat("no node keeps a notice of the ", what, ": the node that works the route, if ", who,
                        " does, misses it; ", then);
  }
  return absl::StrCat("the notice of the ", what, " is kept by ", absl::StrJoin(kept, ", "), " only, ", kept.size(),
                      " of the cluster's ", all.size(), " nodes: the node that works the route, if ", who,
                      " does, could miss it should it come back reaching a majority without ",
                      kept.size() == 1 ? kept.front() : "them", "; ", then);
}

// Asks every node of `all` but the `unasked` to keep a notice (`req`, its leave_notice set): the
// nodes that did, in node order. `what` names the notice for the log (nothing logged when
// `quiet`).
template <typename Request>
std::vector<std::string> LeaveNotices(const std::vector<NodeLink*>& all, const std::set<std::string>& unasked,
                                      const Request& req, const char* what, bool quiet) {
  const std::vector<NodeLink*> asked = Asked(all, unasked);
  auto replies = FanOut(asked, [&req](size_t) -> const Request& { return req; });
  std::vector<std::string> kept;
  for (size_t i = 0; i < asked.size(); ++i) {
    if (replies[i].ok() && replies[i]->noticed()) {
      kept.push_back(asked[i]->node_id());
    } else if (!quiet) {
      LogWarning("route %s: node %s keeps no notice of its %s: %s", req.route_id(), asked[i]->node_id(), what,
                 replies[i].ok() ? "it does not know how (an older release)" : replies[i].status().ToString());
    }
  }
  std::sort(kept.begin(), kept.end());
  if (!kept.empty() && !quiet) {
    LogInfo("route %s: %s could not be asked: %s keep a notice of its %s, which the route's work there finds when it "
            "is back", req.route_id(), absl::StrJoin(unasked, ", "), absl::StrJoin(kept, ", "), what);
  }
  return kept;
}

}  // namespace

void Coordinator::LeaveCancelNotices(const std::string& route_id, const std::string& reason,
                                     const std::vector<NodeLink*>& all, const std::set<std::string>& unasked,
                                     const CancelNotice* resending, CancelPlanResponse* resp) {
  CancelRouteRequest req;
  req.set_route_id(route_id);
  req.set_reason(reason);
  req.set_leave_notice(true);
  req.set_via(resending != nullptr ? resending->via() : node_id_);  // The node the client's cancel came to.
  const bool resent = resending != nullptr;
  const std::vector<std::string> kept = LeaveNotices(all, unasked, req, "cancel", resent);
  for (const std::string& node : kept) resp->add_noticed_on(node);
  resp->set_notice_warning(ShortOfHalf(kept, all, unasked, "cancel",
                                       kept.empty() ? "send the cancel again once they are back"
                                                    : "the nodes that keep it send the cancel again until it reaches "
                                                      "that node, or every node answers"));
  if (!resp->notice_warning().empty() && !resent) LogWarning("route %s: %s", route_id, resp->notice_warning());
}

void Coordinator::LeaveTermsNotices(const AmendShareRequest& terms, const std::vector<NodeLink*>& all,
                                    const std::set<std::string>& unasked, AmendPlanResponse* resp) {
  AmendShareRequest req = terms;
  req.set_leave_notice(true);
  req.set_via(node_id_);
  const std::vector<std::string> kept = LeaveNotices(all, unasked, req, "new terms", /*quiet=*/false);
  for (const std::string& node : kept) resp->add_noticed_on(node);
  resp->set_notice_warning(ShortOfHalf(kept, all, unasked, "new terms",
                                       kept.empty() ? "send the amendment again once they are back"
                                                    : "the nodes that keep it send the new terms again until every "
                                                      "node keeps them"));
  if (!resp->notice_warning().empty()) LogWarning("route %s: %s", terms.route_id(), resp->notice_warning());
}

void Coordinator::ResendNoticedCancels(RouterEngine* engine, int64_t now_ns) {
  for (const std::string& id : shortfall_->UndeliveredCancels()) {
    absl::StatusOr<std::optional<CancelNotice>> notice = shortfall_->CancelNoticeOf(id);
    if (!notice.ok() || !notice->has_value()) continue;  // (Unreadable: still a cancel to every Prepare here.)
    bool reached = false;
    absl::StatusOr<CancelPlanResponse> sent;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sent = CancelLocked(id, (*notice)->reason(), engine, &**notice, &reached);
    }
    if (!reached) continue;
    if (absl::Status s = shortfall_->MarkCancelDelivered(id, now_ns); !s.ok()) {
      LogError("route %s: the cancel noted here reached every node it must, but that cannot be recorded (it is sent "
               "again): %s", id, s.ToString());
      continue;
    }
    const bool keeper = sent.ok() && sent->has_shortfall_work();
    LogInfo("route %s: the cancel noted here (through %s) reached %s", id, (*notice)->via(),
            keeper ? absl::StrCat("node ", sent->shortfall_work().coordinator(), ", which works the route")
                   : std::string("every node"));
  }
}

void Coordinator::ResendNoticedTerms(int64_t now_ns) {
  for (const std::string& id : shortfall_->UndeliveredTerms()) {
    absl::StatusOr<std::optional<TermsNotice>> notice = shortfall_->TermsNoticeOf(id);
    if (!notice.ok() || !notice->has_value()) continue;
    AmendShareRequest req = (*notice)->terms();
    req.set_route_id(id);
    req.set_leave_notice(true);
    req.set_via((*notice)->via());
    req.set_amended_ns((*notice)->amended_ns());
    std::vector<std::string> kept;
    size_t others = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const std::vector<NodeLink*> all = AllLinks();
      others = all.size() - 1;
      kept = LeaveNotices(all, {node_id_}, req, "new terms", /*quiet=*/true);
      // Logged as the nodes that keep it grow (from none, after this node's start).
      std::vector<std::string>& known = terms_kept_by_[id];
      std::vector<std::string> added;
      std::set_difference(kept.begin(), kept.end(), known.begin(), known.end(), std::back_inserter(added));
      if (!added.empty()) {
        LogInfo("route %s: the new terms noted here (through %s) are kept by %s too", id, (*notice)->via(),
                absl::StrJoin(added, ", "));
      }
      known = kept;
    }
    if (kept.size() < others) continue;
    if (absl::Status s = shortfall_->MarkTermsDelivered(id, (*notice)->amended_ns(), now_ns); !s.ok()) {
      LogError("route %s: every node keeps the new terms noted here, but that cannot be recorded (they are sent "
               "again): %s", id, s.ToString());
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      terms_kept_by_.erase(id);
    }
    LogInfo("route %s: every node keeps the new terms noted here (through %s): no longer sent again", id,
            (*notice)->via());
  }
}

absl::StatusOr<AmendPlanResponse> Coordinator::Amend(const AmendPlanRequest& amendment, RouterEngine* engine) {
  // A sub-route is part of its route: amending one amends them all and the work's later ones.
  const std::string route_id = RouteOf(amendment.plan_id());
  std::lock_guard<std::mutex> lock(mu_);  // After a route in progress: its plans exist then.
  const std::vector<NodeLink*> all = AllLinks();
  AmendPlanResponse resp;
  std::map<std::string, NodeAmend> by_node;
  absl::Status first_error;  // Of a node that did not amend its share.
  bool amended = false;      // Some node took the new terms (or had them).
  // A new quantity first (coordinator_resize.cc): refused, nothing is amended.
  if (amendment.quantity() != 0) {
    EXO_RETURN_IF_ERROR(ResizeLocked(route_id, amendment, *engine, &resp));
    const bool terms = amendment.has_limit_price() || amendment.remove_limit() ||
                       amendment.urgency() != URGENCY_UNSPECIFIED;
    if (!terms) {
      if (absl::StatusOr<Plan> own = engine->GetPlan(amendment.plan_id()); own.ok()) *resp.mutable_plan() = *std::move(own);
      return resp;
    }
    amended = true;
    for (NodeAmend& cut : *resp.mutable_nodes()) {  // The shares it cut: one entry per node with the terms'.
      NodeAmend& n = by_node[cut.node()];
      n.set_node(cut.node());
      n.set_changed(n.changed() || cut.changed());
      n.set_status(Together(n.status(), cut.status()));
      if (n.error().empty()) n.set_error(cut.error());
    }
    resp.clear_nodes();
  }
  std::vector<std::string> unreachable;  // Nodes that could not be asked, with why.
  std::set<std::string> unasked;         // Those nodes.
  // The new terms, for the share (or notice) of `route`.
  auto terms_for = [&amendment](const std::string& route) {
    AmendShareRequest req;
    req.set_route_id(route);
    if (amendment.has_limit_price()) req.set_limit_price(amendment.limit_price());
    req.set_remove_limit(amendment.remove_limit());
    req.set_urgency(amendment.urgency());
    req.set_reason(amendment.reason());
    return req;
  };
  // Amends every node's share of `id`: the route first (the node that works its shortfall
  // gives its sub-routes still to come the new terms before it answers), then each sub-route.
  // True when some node answered that it has (or had) a plan of `id`.
  auto amend = [&](const std::string& route, bool parent) {
    bool held = false;
    const AmendShareRequest req = terms_for(route);
    auto replies = FanOut(all, [&req](size_t) -> const AmendShareRequest& { return req; });
    for (size_t i = 0; i < all.size(); ++i) {
      const absl::StatusOr<AmendShareReply>& r = replies[i];
      if (absl::IsNotFound(r.status())) continue;  // This node took no share.
      if (r.ok() && parent && r->has_shortfall_work() && Credible(r->shortfall_work(), all[i]->node_id(), route)) {
        *resp.mutable_shortfall_work() = r->shortfall_work();
        if (r->shortfall_work().state() == ShortfallWork::STATE_OPEN) {  // Its later sub-routes take the terms.
          resp.set_changed(resp.changed() || r->changed());
          amended = true;
        }
      }
      // The holder of the work answers OK without a share, or with one that had finished.
      const absl::StatusOr<AmendShareReply> outcome =
          r.ok() && !r->not_amended().empty() ? absl::FailedPreconditionError(r->not_amended()) : r;
      if (outcome.ok() && outcome->status() == PLAN_STATUS_UNSPECIFIED) continue;
      NodeAmend& n = by_node[all[i]->node_id()];
      n.set_node(all[i]->node_id());
      if (outcome.ok()) {
        n.set_changed(n.changed() || r->changed());
        n.set_status(Together(n.status(), r->status()));
        resp.set_changed(resp.changed() || r->changed());
        amended = held = true;
        continue;
      }
      // A node of a release before the call reads it as an empty one.
      const absl::Status& failed = outcome.status();
      held = held || absl::IsFailedPrecondition(failed);
      if (parent && (absl::IsUnavailable(failed) || absl::IsDeadlineExceeded(failed) || absl::IsCancelled(failed))) {
        unreachable.push_back(std::string(failed.message()));
        unasked.insert(all[i]->node_id());
      }
      const bool older = absl::IsInvalidArgument(failed) && absl::StrContains(failed.message(), "call: empty");
      if (n.error().empty()) {
        n.set_error(older ? absl::StrCat("node ", all[i]->node_id(),
                                         " does not know how to amend its share: it speaks an older peer protocol "
                                         "(run one exoroute release on every node of a cluster)")
                          : WithoutNode(failed, all[i]->node_id()));
      }
      if (first_error.ok()) first_error = absl::Status(failed.code(), absl::StrCat("node ", n.node(), ": ", n.error()));
    }
    return held;
  };
  amend(route_id, /*parent=*/true);
  if (resp.has_shortfall_work()) {
    for (uint32_t k = 0; k < resp.shortfall_work().sub_routes(); ++k) amend(SubRouteId(route_id, k + 2), false);
  } else if (!unreachable.empty()) {
    // A node that could not be asked may work the route's shortfall: its sub-routes are
    // amended as far as the nodes asked hold working shares of them, found as a cancel finds
    // them (that node takes the terms from them when it is back: AdoptLaterTerms).
    for (uint32_t n : WorkingSubRoutes(route_id, all, unasked)) amend(SubRouteId(route_id, n), false);
    // No share took the terms (every one had finished, or none was taken yet): every node asked
    // keeps a notice of them, which that node takes when it is back (AdoptLaterTerms).
    if (!amended) {
      LeaveTermsNotices(terms_for(route_id), all, unasked, &resp);
      if (!resp.noticed_on().empty()) amended = true;
      resp.set_changed(resp.changed() || amended);
    }
  }
  for (auto& [node, n] : by_node) *resp.add_nodes() = std::move(n);  // In node order.
  if (resp.nodes().empty() && !resp.has_shortfall_work()) {
    return absl::NotFoundError(absl::StrCat("plan \"", route_id, "\" not found on any node of the cluster"));
  }
  if (!amended && first_error.ok()) {  // No share anywhere, and the shortfall's work had ended.
    return absl::FailedPreconditionError(absl::StrCat("route \"", route_id, "\": nothing to amend (no node holds a share, and ",
                                                      resp.shortfall_work().coordinator(),
                                                      "'s work on its shortfall had ended)"));
  }
  // Nothing amended: a node that could not be asked may still be working, which the caller
  // must know before a finished share's refusal.
  if (!amended && !unreachable.empty()) return absl::UnavailableError(absl::StrJoin(unreachable, "; "));
  if (!amended) return first_error;
  if (absl::StatusOr<Plan> own = engine->GetPlan(amendment.plan_id()); own.ok()) *resp.mutable_plan() = *std::move(own);
  for (const NodeAmend& n : resp.nodes()) {
    if (!n.error().empty()) LogWarning("route %s: node %s did not amend its share: %s", amendment.plan_id(), n.node(), n.error());
  }
  return resp;
}

namespace {

// Notional per whole unit of the instrument over `quantity`, as a plan's average_price; 0 when
// there is none: nothing filled, or figures no plan could have (a faulty node's).
int64_t AveragePrice(int64_t notional, int64_t quantity, int64_t qty_unit) {
  if (quantity <= 0 || notional < 0 || qty_unit <= 0) return 0;
  const __int128 average = static_cast<__int128>(notional) * qty_unit / quantity;
  if (average >= std::numeric_limits<int64_t>::max()) return 0;
  return MulDivRound(notional, qty_unit, quantity);
}

}  // namespace

absl::StatusOr<GetRouteResponse> Coordinator::Progress(const std::string& route_id, const RouterEngine& engine,
                                                       Missed* missed) {
  std::lock_guard<std::mutex> lock(mu_);  // After a route in progress: its plans exist then.
  return ProgressLocked(route_id, engine, missed);
}

absl::StatusOr<GetRouteResponse> Coordinator::ProgressLocked(const std::string& route_id, const RouterEngine& engine,
                                                             Missed* missed) {
  const std::vector<NodeLink*> all = AllLinks();
  GetRouteResponse resp;
  std::map<std::string, NodeProgress> by_node;
  bool found = false, settled = true;
  bool priced = true;  // Every node with fills told what they cost.
  std::set<std::string> unpriced;  // Nodes with fills whose cost some plan did not tell.
  // Adds every node's plan of `id` (the route, or one of its sub-routes) to the nodes' totals.
  auto add = [&](const std::string& id, bool parent) {
    ProgressRequest req;
    req.set_route_id(id);
    auto replies = FanOut(all, [&req](size_t) -> const ProgressRequest& { return req; });
    for (size_t i = 0; i < all.size(); ++i) {
      const absl::StatusOr<ProgressReply>& r = replies[i];
      if (parent && missed != nullptr && all[i]->node_id() != node_id_ && (r.ok() || absl::IsNotFound(r.status()))) {
        ++missed->peers_answered;
      }
      if (absl::IsNotFound(r.status())) continue;  // This node took no share.
      const std::string& node = all[i]->node_id();
      if (!r.ok()) {
        NodeProgress& n = by_node[node];
        n.set_node(node);
        if (n.error().empty()) n.set_error(WithoutNode(r.status(), node));
        settled = false;
        continue;
      }
      if (parent) {
        if (r->has_shortfall_work() && Credible(r->shortfall_work(), node, id)) {
          *resp.mutable_shortfall_work() = r->shortfall_work();
        }
        if (r->has_cancel_notice()) resp.add_cancel_noticed_on(node);
        if (missed != nullptr && r->has_cancel_notice() &&
            (missed->cancel.route_id().empty() || r->cancel_notice().noted_ns() < missed->cancel.noted_ns())) {
          missed->cancel = r->cancel_notice();
        }
        if (missed != nullptr && r->terms_notice().amended_ns() > missed->terms.amended_ns()) {
          missed->terms = r->terms_notice();
        }
        // (Every node recorded the same order; one that did not record it answers 0.)
        resp.set_order_quantity(std::max(resp.order_quantity(), r->order_quantity()));
        if (resp.symbol().empty()) resp.set_symbol(r->symbol());
        if (resp.routed_by().empty()) resp.set_routed_by(r->routed_by());  // (Every share records the same.)
      }
      if (r->status() == PLAN_STATUS_UNSPECIFIED) continue;  // The shortfall's holder, without a share.
      found = true;
      if (missed != nullptr && r->amended_ns() > missed->share.amended_ns()) missed->share = *r;
      NodeProgress& n = by_node[node];
      n.set_node(node);
      n.set_status(Together(n.status(), r->status()));
      n.set_quantity(n.quantity() + r->quantity());
      n.set_filled_quantity(n.filled_quantity() + r->filled_quantity());
      resp.set_quantity(resp.quantity() + r->quantity());
      resp.set_filled_quantity(resp.filled_quantity() + r->filled_quantity());
      settled = settled && r->settled();
      int64_t notional = 0, fees = 0, node_notional = 0, node_fees = 0;
      if (!r->has_filled_notional() || r->filled_notional() < 0 ||
          __builtin_add_overflow(resp.filled_notional(), r->filled_notional(), &notional) ||
          __builtin_add_overflow(resp.fees(), r->fees(), &fees) ||
          __builtin_add_overflow(n.filled_notional(), r->filled_notional(), &node_notional) ||
          __builtin_add_overflow(n.fees(), r->fees(), &node_fees)) {
        if (r->filled_quantity() != 0) {  // (A node of an older release, or a faulty one.)
          priced = false;
          unpriced.insert(node);
        }
        continue;
      }
      n.set_filled_notional(node_notional);
      n.set_fees(node_fees);
      resp.set_filled_notional(notional);
      resp.set_fees(fees);
    }
  };
  add(route_id, /*parent=*/true);
  // The whole quantity as amended since, from the node that keeps the work (0: recorded
  // before amendments were).
  if (resp.shortfall_work().order_quantity() > 0) resp.set_order_quantity(resp.shortfall_work().order_quantity());
  for (uint32_t k = 0; k < resp.shortfall_work().sub_routes(); ++k) add(SubRouteId(route_id, k + 2), false);
  if (!found && by_node.empty() && !resp.has_shortfall_work() && resp.cancel_noticed_on().empty()) {
    return absl::NotFoundError(absl::StrCat("route \"", route_id,
                                            "\" not found on any node of the cluster (a route no node took a share "
                                            "of leaves no plan: its Route answer said so)"));
  }
  std::sort(resp.mutable_cancel_noticed_on()->begin(), resp.mutable_cancel_noticed_on()->end());  // In node order.
  const exoroute::v1::Instrument* inst = engine.FindInstrument(resp.symbol());
  for (auto& [node, n] : by_node) {  // In node order.
    if (inst != nullptr && unpriced.count(node) == 0) {
      n.set_average_price(AveragePrice(n.filled_notional(), n.filled_quantity(), Pow10(inst->qty_scale())));
    }
    *resp.add_nodes() = std::move(n);
  }
  const bool working_shortfall = resp.shortfall_work().state() == ShortfallWork::STATE_OPEN;
  resp.set_settled((found || resp.has_shortfall_work()) && settled && !working_shortfall);
  // What no node took: known when every node answered (a node not heard from may hold a share).
  const bool all_answered =
      std::none_of(resp.nodes().begin(), resp.nodes().end(), [](const NodeProgress& n) { return !n.error().empty(); });
  if (resp.order_quantity() >= resp.quantity() && all_answered) resp.set_shortfall(resp.order_quantity() - resp.quantity());
  if (priced && all_answered && inst != nullptr) {
    resp.set_average_price(AveragePrice(resp.filled_notional(), resp.filled_quantity(), Pow10(inst->qty_scale())));
  }
  return resp;
}

void Coordinator::RecordLeftOut(const std::string& node, const std::string& route_id, std::string reason) {
  std::lock_guard<std::mutex> lock(left_out_mu_);
  left_out_[node] = LeftOut{route_id, std::move(reason)};
}

void Coordinator::RecordTookPart(const std::string& node) {
  std::lock_guard<std::mutex> lock(left_out_mu_);
  left_out_.erase(node);
}

std::optional<std::string> Coordinator::Silent(const std::string& node) const {
  for (const auto& link : links_) {
    if (link->node_id() == node) return link->silent();
  }
  return std::nullopt;
}

std::optional<Coordinator::LeftOut> Coordinator::LastLeftOut(const std::string& node) const {
  std::lock_guard<std::mutex> lock(left_out_mu_);
  auto it = left_out_.find(node);
  if (it == left_out_.end()) return std::nullopt;
  return it->second;
}

Coordinator::CallTotals Coordinator::Totals(const std::string& node) const {
  CallTotals t;
  for (const auto& link : links_) {
    if (link->node_id() != node) continue;
    for (int kind = 1; kind <= PeerCall::kProgress; ++kind) {
      LatencyHistogram::Snapshot s = link->latency(static_cast<PeerCall::CallCase>(kind)).Read();
      t.calls += s.count;
      t.sum_ns += s.sum_ns;
    }
  }
  return t;
}

std::vector<HistogramMetric> Coordinator::CallLatency() const {
  static constexpr std::pair<PeerCall::CallCase, const char*> kCalls[] = {
      {PeerCall::kPrepare, "prepare"},       {PeerCall::kEvaluate, "evaluate"},
      {PeerCall::kNextBreakpoint, "next_breakpoint"}, {PeerCall::kSplitTies, "split_ties"},
      {PeerCall::kCheckLimits, "check_limits"}, {PeerCall::kExecute, "execute"},
      {PeerCall::kAbort, "abort"}, {PeerCall::kCancel, "cancel"}, {PeerCall::kProgress, "progress"},
      {PeerCall::kBestPrice, "best_price"}, {PeerCall::kAmend, "amend"}};
  std::vector<HistogramMetric> out;
  for (const auto& link : links_) {
    for (const auto& [kind, name] : kCalls) {
      HistogramMetric& h = out.emplace_back();
      h.name = "exoroute_peer_call_seconds";
      h.help = "Cluster calls of this node's routes, from sending a call to having the node's answer (the coordinator's own node included).";
      h.labels = absl::StrCat("node=\"", EscapeLabelValue(link->node_id()), "\",call=\"", name, "\"");
      h.data = link->latency(kind).Read();
    }
  }
  return out;
}

Coordinator::Coordinator(std::string node_id, std::vector<std::unique_ptr<NodeLink>> links,
                         NodeFailurePolicy policy, bool noisy, NodeFailurePolicy on_exhausted)
    : node_id_(std::move(node_id)),
      links_(std::move(links)),
      policy_(policy),
      noisy_(noisy),
      on_exhausted_(on_exhausted),
      check_thread_([this] { CheckSilentNodes(); }) {}

void Coordinator::CheckSilentNodes() {
  std::unique_lock<std::mutex> lock(check_mu_);
  while (!check_cv_.wait_for(lock, NodeLink::kCheckSilentEvery, [this] { return check_stop_; })) {
    lock.unlock();
    for (const auto& link : links_) {
      if (link->CheckIfSilent()) LogInfo("node %s answers again: it is asked again", link->node_id());
    }
    lock.lock();
  }
}

// One cluster route as the coordinator runs it (Coordinator::Route): the nodes still taking
// part, the route's record, and the split as far as it is fixed. An attempt's steps — Prepare,
// Search, SplitTies, CheckLimits — each go on, end the route with an error, or have it start
// again from Prepare (restart(): a node dropped, keys to fetch again, a venue left out for a
// limit); Execute then has every node fix and record its share. Serialised by the
// coordinator's lock, as Route is.
class Coordinator::Run {
 public:
  Run(Coordinator* c, const ParentOrder& order, RouteMode mode, RouterEngine* engine, std::string routed_by)
      : c_(*c), order_(order), mode_(mode), engine_(engine), routed_by_(std::move(routed_by)), route_id_(order.id()),
        quantity_(order.quantity()) {
    live_ = c_.AllLinks();
    record_.set_route_id(route_id_);
    record_.set_coordinator(c_.node_id_);
    record_.set_order_quantity(quantity_);
  }

  // The route's price bands, fixed once from every node's best prices (BestPrice).
  absl::Status FixBands();
  // Opens the route on every live node and checks their summaries (the order over the whole
  // cluster, the nodes' keys and capacities).
  absl::Status Prepare(uint32_t attempt);
  // The dual search over the nodes' masked sums: λ*, and the tie to split there.
  absl::Status Search();
  // Splits the tie at λ* by one broadcast fraction, then the remainder lot by lot.
  absl::Status SplitTies();
  // The limits no sum can enforce (a venue's minimum child size, the order's venue limit).
  absl::Status CheckLimits();
  // Every node fixes its own share at λ* and records it under the route id.
  RouteResponse Execute();

  // The last step left the route to start again from Prepare.
  bool restart() const { return restart_; }
  // Prepare refused the route because some node already has a plan under its id.
  bool id_taken() const { return id_taken_; }
  // Node failures restart at most a few times; each venue a limit drops restarts once more.
  size_t max_attempts() const {
    return 2 * c_.links_.size() + 2 + static_cast<size_t>(record_.venues_dropped_size());
  }

 private:
  void AbortAll() {
    for (NodeLink* l : live_) AbortOn(l, route_id_);
  }
  // Leaves node `i` out of the route, or fails the route, per policy.
  absl::Status Drop(size_t i, const absl::Status& why, bool failure);
  // Node i's share as the coordinator fixes it (without the route's record).
  FixedDual FixedFor(size_t i) const {
    FixedDual f;
    f.set_lambda(price_.lambda);
    f.set_tie_need(tie_need_);
    f.set_tie_total(tie_total_);
    f.set_pool(pool_);
    for (const TieLots& t : remainder_[i]) *f.add_remainder() = t;
    return f;
  }
  // Every node's reply of a fan-out; if a node failed, it is dropped and the route starts
  // again (restart set, the replies then incomplete), or the route fails, per policy.
  template <typename Replies>
  auto AllOrDrop(Replies replies) {
    using Reply = typename Replies::value_type::value_type;
    absl::StatusOr<std::vector<Reply>> out = std::vector<Reply>();
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i].ok()) {
        if (absl::Status s = Drop(i, replies[i].status(), true); !s.ok()) out = s;
        restart_ = true;
        break;
      }
      out->push_back(*std::move(replies[i]));
    }
    return out;
  }

  Coordinator& c_;
  const ParentOrder& order_;
  const RouteMode mode_;
  RouterEngine* const engine_;
  const std::string routed_by_;  // Who sent the order ("" = not known): every share records it.
  const std::string route_id_;
  const int64_t quantity_;
  std::vector<NodeLink*> live_;  // The nodes still taking part.
  // Of those, the ones whose trading is halted (PrepareReply.halted): they answer with no usable
  // venue, so that their working quantity counts, and take no share.
  std::set<std::string> halted_;
  ClusterRoute record_;
  bool refresh_keys_ = false;
  bool restart_ = false;
  bool id_taken_ = false;
  // What this attempt's Prepare got, for its later steps.
  std::vector<double> opening_;
  std::vector<absl::StatusOr<PrepareReply>> prepared_;
  bool noisy_ = false;      // Some node noises its sums.
  bool min_sizes_ = false;  // Some venue's minimum child size is above one lot.
  solver::GroupSummary total_;
  std::optional<ClusterOracle> oracle_;
  // The split as far as it is fixed.
  solver::DualPrice price_;
  int64_t tie_need_ = 0, tie_total_ = 0;
  TiePool pool_ = TIE_POOL_AT_LAMBDA;
  std::vector<std::vector<TieLots>> remainder_;
};

absl::Status Coordinator::Run::Drop(size_t i, const absl::Status& why, bool failure) {
  NodeDropped* d = record_.add_dropped();
  d->set_node(live_[i]->node_id());
  d->set_reason(std::string(why.message()));
  c_.RecordLeftOut(d->node(), route_id_, d->reason());
  // (A node that went silent is not sent the abort: its session of the route expires there.)
  AbortOn(live_[i], route_id_);
  // Logged when it fails, not again for each route while it is silent.
  const bool silent = why.GetPayload(NodeLink::kSilentPayload).has_value();
  if (failure && !silent) LogWarning("route %s: dropping node %s: %s", route_id_, live_[i]->node_id(), why.ToString());
  live_.erase(live_.begin() + static_cast<long>(i));
  if (absl::IsResourceExhausted(why) && c_.on_exhausted_ == NODE_FAILURE_POLICY_FAIL_ROUTE) {
    AbortAll();
    return absl::ResourceExhaustedError(absl::StrCat(
        "route ", route_id_, ": ", why.message(), " (cluster.privacy.on_exhausted = FAIL_ROUTE)"));
  }
  if (failure && !absl::IsResourceExhausted(why) && c_.policy_ == NODE_FAILURE_POLICY_FAIL_ROUTE) {
    AbortAll();
    return absl::UnavailableError(absl::StrCat("route ", route_id_, ": ", why.message(),
                                               " (cluster.on_node_failure = FAIL_ROUTE)"));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::Run::FixBands() {
  // An urgency band is over the best price of every node's venues, an arrival band over their
  // mid: each node names its best prices (BestPrice, in plain) and every node cuts its venues at
  // the limits taken from them, as one node over all the venues would. Fixed once per route: a
  // node dropped later does not move them (as one node's band stays when a venue is dropped for
  // a limit).
  const uint32_t band = UrgencyBandBps(engine_->config().routing(), order_.urgency());
  if (band > 0 || order_.arrival_band_bps() > 0) {
    const BestPrices named = AskBestPrices(live_, route_id_, order_, mode_);
    for (size_t i = 0, k = 0; k < named.why.size(); ++k) {
      if (named.why[k].ok()) {
        ++i;
        continue;
      }
      EXO_RETURN_IF_ERROR(Drop(i, named.why[k], named.failed[k]));
    }
    const bool buy = order_.side() == SIDE_BUY;
    std::optional<int64_t> limit;
    if (order_.has_limit_price()) limit = order_.limit_price();
    if (order_.arrival_band_bps() > 0) {
      // Nothing is walked unprotected: without a two-sided market there is no mid to fix it at.
      if (named.best_bid == 0 || named.best_ask == 0) {
        AbortAll();
        return absl::FailedPreconditionError(absl::StrCat(
            "order.arrival_band_bps: no two-sided market over the cluster's venues to fix the arrival mid from "
            "(best bid ", named.best_bid, ", best ask ", named.best_ask, "); route again when there is one"));
      }
      const int64_t mid = MulDivRound(static_cast<__int128>(named.best_bid) + named.best_ask, 1, 2);
      limit = solver::PriceBandLimit(mid, order_.arrival_band_bps(), buy, limit);
      record_.set_arrival_limit(*limit);
    }
    // The urgency band from the best price, when that lies within the arrival limit (one node
    // has no usable venue otherwise, and so no band).
    if (band > 0) record_.set_band_bps(band);
    if (band > 0 && named.best > 0 && solver::TighterLimit(named.best, limit, buy) == named.best) {
      record_.set_band_limit(solver::PriceBandLimit(named.best, band, buy, limit));
    }
  }
  return absl::OkStatus();
}

absl::Status Coordinator::Run::Prepare(uint32_t attempt) {
  restart_ = false;
  PrepareRequest prep;
  prep.set_route_id(route_id_);
  *prep.mutable_order() = order_;
  prep.set_mode(mode_);
  prep.set_attempt(attempt);
  prep.set_refresh_keys(refresh_keys_);
  prep.set_protocol(ClusterNode::kPeerProtocol);
  prep.set_band_limit(record_.band_limit());
  prep.set_arrival_limit(record_.arrival_limit());
  *prep.mutable_excluded() = record_.venues_dropped();
  std::vector<std::string> ids;
  for (NodeLink* l : live_) ids.push_back(l->node_id());
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) prep.add_participants(id);
  // This node's working-quantity limits on the order count what every node's executed plans
  // may still fill: each node answers its own, masked, so that only the total is learned.
  std::vector<AppliedRiskLimit> working_limits;
  if (mode_ == ROUTE_MODE_EXECUTE) {
    for (AppliedRiskLimit& r : RiskLimitsOn(engine_->config(), order_.symbol(), routed_by_)) {
      if (r.limit->max_working_quantity() > 0) working_limits.push_back(std::move(r));
    }
  }
  for (const AppliedRiskLimit& r : working_limits) prep.add_working_of(r.limit->client());
  // The search's opening λ, asked with Prepare (round trips saved): the cluster's summary is
  // not known yet, but the sums of this coordinator's recent searches of the symbol and side
  // are — cluster totals the nodes already released, so λ made of them disclose nothing new.
  opening_ = Opening(c_.RecentSums(SupplyKey(order_)), quantity_);
  for (double l : opening_) prep.add_opening(l);
  prepared_ = FanOut(live_, [&prep](size_t) -> const PrepareRequest& { return prep; });
  for (size_t i = 0, k = 0; k < prepared_.size() && !restart_; ++k) {
    absl::StatusOr<PrepareReply>& r = prepared_[k];
    absl::Status why = r.ok() ? Incompatible(*r, live_[i]->node_id(), order_.symbol(), *engine_) : r.status();
    if (why.ok()) why = MalformedSummary(*r, live_[i]->node_id());
    if (why.ok() && r->working_size() != prep.working_of_size()) {
      why = absl::InternalError(absl::StrCat("node ", live_[i]->node_id(), " answered ", r->working_size(),
                                             " working quantities for the ", prep.working_of_size(), " asked"));
    }
    if (!why.ok()) {
      // A node that cannot take part changes the participants, and the others' masks no
      // longer cancel: start again without it. (A node whose venues are all unusable stays
      // a participant: it answers masked zeros.) One that answered but is incompatible is
      // a failure, as one that did not answer is.
      EXO_RETURN_IF_ERROR(Drop(i, why, r.ok() || !TakesNoPart(why)));
      restart_ = true;
      continue;
    }
    ++i;
  }
  if (live_.empty()) {
    std::string why;
    for (const auto& d : record_.dropped()) absl::StrAppend(&why, why.empty() ? "" : "; ", d.node(), ": ", d.reason());
    return absl::FailedPreconditionError(absl::StrCat("no node can route ", order_.symbol(), ": ", why));
  }
  if (restart_) return absl::OkStatus();
  // A route id is a plan id on every node: one that some node has already is taken.
  for (const auto& r : prepared_) {
    if (!r->has_plan() && !r->cancel_noticed()) continue;
    AbortAll();
    id_taken_ = r->has_plan();
    return r->has_plan() ? absl::AlreadyExistsError(absl::StrCat(
                               "order.id: plan \"", route_id_, "\" already exists on node ", r->node(),
                               " (a route under this id was routed through another node, or through this one before "
                               "it restarted, which kept no answer to give again: GetRoute \"", RouteOf(route_id_),
                               "\" on any node tells how it stands)"))
                         : absl::AlreadyExistsError(absl::StrCat("order.id: route \"", RouteOf(route_id_),
                                                                 "\" was cancelled: node ", r->node(),
                                                                 " keeps a notice of it"));
  }
  // A participant the others cannot reach for its key is left out too (it is down, or cut
  // off from them), and the route starts again without it.
  for (const auto& r : prepared_) {
    for (const NodeUnreachable& u : r->unreachable()) {
      auto it = std::find_if(live_.begin(), live_.end(), [&](NodeLink* l) { return l->node_id() == u.node(); });
      if (it == live_.end()) continue;
      EXO_RETURN_IF_ERROR(Drop(static_cast<size_t>(it - live_.begin()),
                               absl::UnavailableError(absl::StrCat("unreachable from ", r->node(), ": ", u.reason())),
                               true));
      restart_ = true;
    }
  }
  if (restart_) return absl::OkStatus();
  // Every node must have masked with the keys the others actually hold, else the masks would
  // not cancel: on a mismatch (a peer restarted with a new key) fetch keys again.
  std::map<std::string, std::string> fingerprints;
  for (const auto& r : prepared_) fingerprints[r->node()] = r->key_fingerprint();
  bool keys_agree = true;
  for (const auto& r : prepared_) {
    for (const KeyUse& u : r->keys_used()) keys_agree = keys_agree && fingerprints[u.node()] == u.fingerprint();
  }
  if (!keys_agree) {
    if (refresh_keys_) return absl::UnavailableError("cluster nodes disagree on their mask keys");
    refresh_keys_ = true;
    restart_ = true;
    return absl::OkStatus();
  }
  // A halted node answers with no usable venue and takes no share: it is named as left out
  // (once per route, whatever the attempts), not dropped — its working quantity still counts.
  for (const auto& r : prepared_) {
    if (r->halted().empty() || !halted_.insert(r->node()).second) continue;
    NodeDropped* d = record_.add_dropped();
    d->set_node(r->node());
    d->set_reason(r->halted().substr(0, 1024));
    c_.RecordLeftOut(d->node(), route_id_, d->reason());
  }
  // The working-quantity limits over the cluster's total (the masks cancel in the sum).
  for (int k = 0; k < prep.working_of_size(); ++k) {
    uint64_t sum = 0;
    for (const auto& r : prepared_) sum += r->working(k);
    const auto working = static_cast<int64_t>(sum);
    if (working < 0 || working > kMaxUnits) {
      AbortAll();
      return absl::InternalError(absl::StrCat("the cluster's working quantity of ", order_.symbol(), " summed to ", working,
                                              ", not within 0..2^53: some node answered wrongly (nothing routed)"));
    }
    const RiskLimit& limit = *working_limits[static_cast<size_t>(k)].limit;
    if (working + quantity_ <= limit.max_working_quantity()) continue;
    AbortAll();
    const std::string& sym = order_.symbol();
    auto qty = [&](int64_t u) { return Coordinator::Units(*engine_, sym, u); };
    return engine_->RefuseWorking(
        order_, limit.client(),
        absl::ResourceExhaustedError(absl::StrCat(
            "order.quantity: ", qty(quantity_), " ", sym, " more would take the quantity the cluster's executed ", sym,
            " plans", limit.client().empty() ? "" : absl::StrCat(" from client ", limit.client()), " may still fill to ",
            qty(working + quantity_), ", over this node's limit of ", qty(limit.max_working_quantity()), " (",
            working_limits[static_cast<size_t>(k)].name, ".max_working_quantity): ", qty(working),
            " is working on the cluster's nodes now; retry when plans have filled or ended")));
  }
  // The order as one node would check it, over the whole cluster's venues: the quantity a
  // multiple of the smallest lot it may use, every venue it names somebody's.
  int64_t smallest_lot = 0;
  std::set<std::string> listed;
  for (const auto& r : prepared_) {
    if (r->smallest_lot() > 0 && (smallest_lot == 0 || r->smallest_lot() < smallest_lot)) smallest_lot = r->smallest_lot();
    listed.insert(r->listed_venues().begin(), r->listed_venues().end());
  }
  if (absl::Status bad = CheckClusterOrder(order_, smallest_lot, listed, record_.dropped_size() == 0, *engine_); !bad.ok()) {
    AbortAll();
    return bad;
  }
  // The sums are noisy if any node noises its own: then the search ends at a bracket and the
  // plan is fixed from exact (masked) totals, as on a cluster where every node noises. Fixing
  // it from noisy totals could place more than the order.
  noisy_ = c_.noisy_ || std::any_of(prepared_.begin(), prepared_.end(), [](const auto& r) { return r->noisy(); });
  total_ = solver::GroupSummary();
  total_.min_cost = std::numeric_limits<double>::infinity();
  total_.max_cost = -total_.min_cost;
  uint64_t capacity = 0;
  uint128 total_cost = 0;
  min_sizes_ = false;
  for (const auto& r : prepared_) {
    min_sizes_ = min_sizes_ || r->min_sizes();
    capacity += r->capacity();
    total_cost += FromWire(r->total_cost());
    total_.min_cost = std::min(total_.min_cost, r->min_cost());
    total_.max_cost = std::max(total_.max_cost, r->max_cost());
  }
  total_.capacity = static_cast<int64_t>(capacity);
  total_.total_cost = FixedToCost(total_cost);
  // No node has a usable venue (the marginal costs, sent in plain, bound none): the capacity
  // is 0, whatever noise the nodes added to it (a noisy capacity above the order would send
  // the search over no venue at all).
  if (!std::isfinite(total_.min_cost)) total_.capacity = 0;
  // What the venues of the cluster hold: within 0..2^61 units (a noisy total by the noise
  // either side), its cost finite. Else some node answers wrongly (which, the masked sum
  // cannot tell).
  if (!(total_.capacity < kFarUnits && total_.capacity > (noisy_ ? -kFarUnits : -1)) || !std::isfinite(total_.total_cost)) {
    AbortAll();
    return absl::InternalError(absl::StrCat("route ", route_id_, ": the nodes' capacities add up to ", total_.capacity,
                                            " units costing ", total_.total_cost, ": some node answers wrongly"));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::Run::Search() {
  // The opening rounds, summed over the nodes' replies (each node answers them all, or its
  // Prepare fails).
  for (const auto& r : prepared_) {
    if (r->opening_size() == static_cast<int>(opening_.size())) continue;
    AbortAll();
    return absl::InternalError(absl::StrCat("route ", route_id_, ": node ", r->node(), " answered ",
                                            r->opening_size(), " of ", opening_.size(), " opening rounds"));
  }
  std::vector<std::pair<double, ClusterOracle::Summed>> opened;
  for (size_t k = 0; k < opening_.size(); ++k) {
    opened.push_back({opening_[k], ClusterOracle::Total(prepared_, [k](const auto& r) -> const EvaluateReply& {
                        return r->opening(static_cast<int>(k));
                      })});
  }
  oracle_.emplace(route_id_, live_, std::move(opened), total_.capacity, noisy_);
  // Without noise every round also asks two λ the search may take next (docs/cluster.md);
  // with noise each λ asked would spend privacy budget whether the search takes it or not.
  solver::SearchOptions options;
  options.approximate = noisy_;
  options.opening = opening_;
  options.lookahead = !noisy_;
  options.finish = solver::SearchFinish::kStepAndBisect;
  absl::StatusOr<solver::DualPrice> found = solver::FindDualPrice(*oracle_, total_, quantity_, options);
  if (!found.ok()) {
    if (oracle_->failed() >= live_.size()) return found.status();
    EXO_RETURN_IF_ERROR(Drop(oracle_->failed(), found.status(), true));
    restart_ = true;
    return absl::OkStatus();
  }
  price_ = *std::move(found);
  c_.KeepSums(SupplyKey(order_), oracle_->answers());
  if (!std::isfinite(price_.lambda)) {
    // No node has a usable venue (every group empty, the cluster's capacity 0 above): the
    // search took "all there is" at the dearest marginal cost of none. Every node places
    // nothing at any λ; the whole order is the route's shortfall, and no node keeps a plan of
    // it. (Was: the search's answer reset, so that the tie split asked for the whole order
    // out of a tie of 0 and every node refused it.)
    price_.lambda = 0;
  }
  // The tie at λ*: one fraction for every node, then the remainder lot by lot by venue id.
  tie_need_ = price_.takes_all ? 1 : quantity_ - price_.lo;
  tie_total_ = price_.takes_all ? 1 : price_.hi - price_.lo;
  pool_ = TIE_POOL_AT_LAMBDA;
  // (Whenever some venue is usable: a noisy capacity can be 0, or below the order, with venues
  // that hold more — "take all there is" then needs the exact totals as much as any λ.)
  if (noisy_ && std::isfinite(total_.min_cost) && std::isfinite(total_.max_cost)) {
    // The search saw noisy sums: fix the plan from the exact (masked) totals at its λ, so that
    // it never places more than the order, nor more than the venues offer at that price.
    // The noisy search ends at the lower end of its bracket (or at a noisy λ*). From there,
    // with exact (masked) totals — at most kMaxExactSteps releases in all — one step up over
    // the next breakpoint (usually λ*), then bisections of what is left of the bracket by
    // count of doubles, then steps again, until the venues offer the order's quantity. (With
    // an impact term every lot is a breakpoint: steps alone closed only that many lots of
    // the noise's gap.) The bracket's upper end is asked first: if the noise put it below
    // λ*, the lower end moves there and the upper end as far again above.
    absl::StatusOr<solver::LocalProblem::Response> exact = oracle_->EvaluateExact(price_.lambda);
    double upper = price_.upper;
    bool above = false;    // The exact totals at `upper` reach past the quantity: up_lo.
    int64_t up_lo = 0;
    int retained = 0;      // Illinois: which end the last interpolation kept (-1 lower, +1 upper).
    double weight_lo = 1, weight_up = 1;
    const double start = price_.lambda;
    // With no upper end known above λ* and the venues still short of the order at λ, the
    // next upper end at least doubles the distance from the start and goes half again past
    // where the exact totals at the last two λ, extended in a line, reach the order (with an
    // impact term the supply is nearly linear there). Doubling alone took ~16 releases from
    // a noisy bracket 10^-5 wide to a λ* 0.3 away, and the releases ran out ~10^5 units short.
    auto reach_past = [&](double before, int64_t before_hi) {
      upper = price_.lambda + (price_.lambda - start);
      if (exact.ok() && exact->hi > before_hi && price_.lambda > before) {
        const double per_lambda = static_cast<double>(exact->hi - before_hi) / (price_.lambda - before);
        upper = std::max(upper, price_.lambda + 1.5 * static_cast<double>(quantity_ - exact->hi) / per_lambda);
      }
    };
    for (int step = 0; step < kMaxExactSteps && exact.ok() && exact->hi < quantity_; ++step) {
      const int64_t lo_key = solver::internal::OrderedKey(price_.lambda);
      const int64_t up_key = solver::internal::OrderedKey(upper);
      if (step > 0 && upper > price_.lambda && solver::internal::DoublesApart(lo_key, up_key) > 1) {
        double at_lambda = upper;
        if (above) {
          // Regula falsi on the exact totals at both ends (Illinois: an end kept twice in a
          // row counts half), kept strictly inside the bracket, else the middle by count.
          const double f_lo = weight_lo * static_cast<double>(quantity_ - exact->hi);
          const double f_up = weight_up * static_cast<double>(up_lo - quantity_);
          at_lambda = price_.lambda + (upper - price_.lambda) * (f_lo / (f_lo + f_up));
          if (!(at_lambda > price_.lambda && at_lambda < upper)) {
            at_lambda = solver::internal::FromOrderedKey(solver::internal::MidKey(lo_key, up_key));
          }
        }
        absl::StatusOr<solver::LocalProblem::Response> at = oracle_->EvaluateExact(at_lambda);
        if (!at.ok() || at->hi < quantity_ || at->lo <= quantity_) {
          const double before = price_.lambda;
          const int64_t before_hi = exact->hi;
          price_.lambda = at_lambda;  // Below λ* (the finish goes on from there), or λ* itself.
          exact = std::move(at);
          if (!above) reach_past(before, before_hi);
          weight_lo = 1;
          weight_up = retained == -1 ? weight_up / 2 : 1;
          retained = -1;
        } else {
          upper = at_lambda;
          up_lo = at->lo;
          weight_up = 1;
          weight_lo = above && retained == 1 ? weight_lo / 2 : 1;
          retained = above ? 1 : 0;
          above = true;
        }
        continue;
      }
      absl::StatusOr<double> next = oracle_->NextBreakpoint(price_.lambda);
      if (!next.ok()) {
        exact = next.status();
        break;
      }
      if (!std::isfinite(*next)) break;  // Everything is taken: the rest is shortfall.
      const double before = price_.lambda;
      const int64_t before_hi = exact->hi;
      price_.lambda = *next;
      exact = oracle_->EvaluateExact(price_.lambda);
      // A step past the upper end, still short: that end was below λ* too.
      if (!above && price_.lambda >= upper && exact.ok() && exact->hi < quantity_) reach_past(before, before_hi);
    }
    if (!exact.ok()) {
      if (oracle_->failed() >= live_.size()) return exact.status();
      EXO_RETURN_IF_ERROR(Drop(oracle_->failed(), exact.status(), true));
      restart_ = true;
      return absl::OkStatus();
    }
    price_.takes_all = false;
    price_.lo = exact->lo;
    price_.hi = exact->hi;
    if (quantity_ < exact->lo) {  // Stopped above λ*: scale what lies below down to the order.
      pool_ = TIE_POOL_BELOW_LAMBDA;
      tie_need_ = quantity_;
      tie_total_ = exact->lo;
    } else {  // Within the tie, or short of the order (then take all there is at λ).
      tie_total_ = exact->hi - exact->lo;
      tie_need_ = std::min(quantity_ - exact->lo, tie_total_);
    }
  }
  return absl::OkStatus();
}

absl::Status Coordinator::Run::SplitTies() {
  SplitTiesRequest split;
  split.set_pool(pool_);
  split.set_route_id(route_id_);
  split.set_lambda(price_.lambda);
  split.set_tie_need(tie_need_);
  split.set_tie_total(tie_total_);
  auto split_all = [&] {
    return AllOrDrop(FanOut(live_, [&split](size_t) -> const SplitTiesRequest& { return split; }));
  };
  // A node's spare lots are its venues' (a venue id, a lot of 1..2^53 units, 1..spare_cap
  // lots): a node that names others is faulty, dropped as one that failed (restart).
  auto drop_bad_spares = [&](const std::vector<SplitTiesReply>& replies) -> absl::Status {
    for (size_t i = 0; i < replies.size(); ++i) {
      for (const SpareLots& sp : replies[i].spare()) {
        if (!sp.venue().empty() && sp.lot() >= 1 && sp.lot() <= kMaxUnits && sp.lots() >= 1 &&
            sp.lots() <= split.spare_cap()) {
          continue;
        }
        restart_ = true;
        return Drop(i, absl::InternalError(absl::StrCat("node ", live_[i]->node_id(), " named spare lots of venue \"",
                                                        sp.venue(), "\" (", sp.lots(), " lots of ", sp.lot(),
                                                        " units, at most ", split.spare_cap(), " asked): refused")),
                    true);
      }
    }
    return absl::OkStatus();
  };
  // With at most one venue tied at λ* and one lot size over the cluster, the fraction alone
  // places the whole tie (that venue takes tie_need, whole lots of it): no tie call then. The
  // count of tied venues comes masked with every round; nodes that noise their sums do not
  // release it, and a noisy search fixes its plan from exact totals (above) anyway.
  int64_t lot_min = 0, lot_max = 0;  // Over the usable venues of every node.
  for (const auto& r : prepared_) {
    if (r->usable_lot_min() > 0 && (lot_min == 0 || r->usable_lot_min() < lot_min)) lot_min = r->usable_lot_min();
    lot_max = std::max(lot_max, r->usable_lot_max());
  }
  const bool one_tie = !noisy_ && !price_.takes_all && pool_ == TIE_POOL_AT_LAMBDA && oracle_->tied_last() <= 1 &&
                       lot_min > 0 && lot_min == lot_max && tie_need_ % lot_min == 0;
  remainder_.assign(live_.size(), {});
  if (!one_tie) {
    // The first tie call also asks which tied venues could take one more lot (one at most
    // each): that places the remainder whenever it needs no more than one lot per venue, which
    // is always so with one lot size; otherwise a second call asks for up to `rest` lots each.
    split.set_spare_cap(1);
    uint64_t placed = 0;  // Masked replies: only the sum is meaningful.
    EXO_ASSIGN_OR_RETURN(std::vector<SplitTiesReply> split_replies, split_all());
    if (restart_) return absl::OkStatus();
    EXO_RETURN_IF_ERROR(drop_bad_spares(split_replies));
    if (restart_) return absl::OkStatus();
    for (const SplitTiesReply& r : split_replies) placed += r.placed();
    const int64_t target = pool_ == TIE_POOL_BELOW_LAMBDA ? quantity_ : std::min(quantity_, price_.hi);
    if (placed > static_cast<uint64_t>(target)) {
      // The fraction places at most the target: more is a faulty node's (which, the masked sum cannot tell).
      AbortAll();
      return absl::InternalError(absl::StrCat("route ", route_id_, ": the nodes placed ", placed, " units of a tie of ",
                                              target, ": some node answers wrongly"));
    }
    const int64_t rest = price_.takes_all ? 0 : target - static_cast<int64_t>(placed);
    // The remainder lot by lot in venue-id order over the spare lots the nodes named; true when
    // all of it found a place.
    auto assign_remainder = [&](const std::vector<SplitTiesReply>& replies) {
      struct Spare {
        solver::SpareVenue venue;
        size_t node;
      };
      std::vector<Spare> spare;
      for (size_t i = 0; i < replies.size(); ++i) {
        for (const SpareLots& s : replies[i].spare()) spare.push_back({{s.venue(), s.lot(), s.lots()}, i});
      }
      std::stable_sort(spare.begin(), spare.end(), [](const Spare& a, const Spare& b) {
        return a.venue.venue < b.venue.venue;
      });
      std::vector<solver::SpareVenue> order_by_venue;
      for (const Spare& s : spare) order_by_venue.push_back(s.venue);
      std::vector<int64_t> lots = solver::AssignRemainder(order_by_venue, rest);
      remainder_.assign(live_.size(), {});
      int64_t given = 0;
      for (size_t k = 0; k < spare.size(); ++k) {
        if (lots[k] == 0) continue;
        TieLots t;
        t.set_venue(spare[k].venue.venue);
        t.set_lots(lots[k]);
        remainder_[spare[k].node].push_back(std::move(t));
        given += lots[k] * spare[k].venue.lot;
      }
      return given == rest;
    };
    if (rest > 0 && !assign_remainder(split_replies)) {
      split.set_spare_cap(rest);
      EXO_ASSIGN_OR_RETURN(std::vector<SplitTiesReply> spare_replies, split_all());
      if (restart_) return absl::OkStatus();
      EXO_RETURN_IF_ERROR(drop_bad_spares(spare_replies));
      if (restart_) return absl::OkStatus();
      assign_remainder(spare_replies);
    }
  }
  return absl::OkStatus();
}

absl::Status Coordinator::Run::CheckLimits() {
  // The limits no sum can enforce — a venue's minimum child size, the order's venue limit —
  // are checked on the split as the nodes would fix it: masked counts first, and only when a
  // limit binds each node's candidate. The one to drop goes as Solve drops it on one node
  // (docs/cluster.md), and the search starts again without it.
  if (order_.max_venues() > 0 || min_sizes_) {
    auto check_all = [&](LimitReveal reveal) {
      return AllOrDrop(FanOut(live_, [&](size_t i) {
        LimitsRequest check;
        check.set_route_id(route_id_);
        *check.mutable_fixed_dual() = FixedFor(i);
        check.set_reveal(reveal);
        return check;
      }));
    };
    EXO_ASSIGN_OR_RETURN(std::vector<LimitsReply> counts, check_all(LIMIT_REVEAL_NONE));
    if (restart_) return absl::OkStatus();
    uint64_t used = 0, below_min = 0;
    for (const LimitsReply& r : counts) {
      used += r.used();
      below_min += r.below_min();
    }
    const LimitReveal reveal = below_min > 0                                            ? LIMIT_REVEAL_BELOW_MIN
                               : order_.max_venues() > 0 && used > order_.max_venues() ? LIMIT_REVEAL_SMALLEST
                                                                                     : LIMIT_REVEAL_NONE;
    if (reveal != LIMIT_REVEAL_NONE) {
      EXO_ASSIGN_OR_RETURN(std::vector<LimitsReply> candidates, check_all(reveal));
      if (restart_) return absl::OkStatus();
      const VenueShare* pick = nullptr;  // Smallest share; ties: the higher venue id goes.
      for (const LimitsReply& r : candidates) {
        if (!r.has_candidate()) continue;
        const VenueShare& c = r.candidate();
        if (pick == nullptr || c.quantity() < pick->quantity() ||
            (c.quantity() == pick->quantity() && c.venue() > pick->venue())) {
          pick = &c;
        }
      }
      if (pick == nullptr) {
        AbortAll();
        return absl::InternalError(absl::StrCat("route ", route_id_, ": a venue limit binds but no node named a venue to drop"));
      }
      VenueExclusion* x = record_.add_venues_dropped();
      x->set_venue(pick->venue());
      x->set_reason(pick->reason());
      restart_ = true;
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

RouteResponse Coordinator::Run::Execute() {
  // Every node fixes its own share at λ* and records it under the route id.
  record_.set_rounds(price_.rounds);
  for (NodeLink* l : live_) record_.add_nodes(l->node_id());
  std::sort(record_.mutable_nodes()->begin(), record_.mutable_nodes()->end());
  RouteResponse response;
  ClusterRouteSummary* summary = response.mutable_cluster();
  summary->set_lambda(price_.lambda);
  int64_t given = 0;
  std::vector<ExecuteRequest> execs(live_.size());
  for (size_t i = 0; i < live_.size(); ++i) {
    ExecuteRequest& exec = execs[i];
    exec.set_route_id(route_id_);
    exec.set_routed_by(routed_by_);
    FixedDual* f = exec.mutable_fixed_dual();
    *f = FixedFor(i);
    *f->mutable_route() = record_;
    if (live_[i]->node_id() == c_.node_id_) {
      for (double l : price_.trajectory) f->mutable_route()->add_lambda_trajectory(l);
    }
  }
  // Every node records its share at once (each one's durable write is its own).
  auto executed = FanOut(live_, [&execs](size_t i) -> const ExecuteRequest& { return execs[i]; });
  for (size_t i = 0; i < live_.size(); ++i) {
    absl::StatusOr<ExecuteReply>& r = executed[i];
    NodeShare* share = summary->add_shares();
    share->set_node(live_[i]->node_id());
    if (!r.ok()) {
      // Other nodes may already act on their shares: this one's becomes shortfall, reported.
      LogWarning("route %s: node %s failed to take its share: %s", route_id_, live_[i]->node_id(),
                 r.status().ToString());
      NodeDropped* d = record_.add_dropped();
      d->set_node(live_[i]->node_id());
      d->set_reason(absl::StrCat("failed to take its share: ", r.status().message()));
      d->set_in_doubt(true);  // (No answer is no proof: it may have recorded the share before it failed.)
      c_.RecordLeftOut(d->node(), route_id_, d->reason());
      continue;
    }
    share->set_plan_id(r->plan_id());
    if (r->quantity() < 0 || r->quantity() > quantity_ - given) {
      // The shares the coordinator fixed add up to at most the order: a node that says it took
      // more (or less than nothing) is faulty. Its plan, if any, is named; its share is not counted.
      const std::string why = absl::StrCat("answered that it took ", r->quantity(), " units, not within 0..",
                                           quantity_ - given, " (what the order has left): not counted");
      LogWarning("route %s: node %s %s", route_id_, live_[i]->node_id(), why);
      NodeDropped* d = record_.add_dropped();
      d->set_node(live_[i]->node_id());
      d->set_reason(why);
      c_.RecordLeftOut(d->node(), route_id_, d->reason());
      continue;
    }
    if (halted_.count(live_[i]->node_id()) == 0) c_.RecordTookPart(live_[i]->node_id());
    share->set_quantity(r->quantity());
    given += r->quantity();
  }
  std::sort(summary->mutable_shares()->begin(), summary->mutable_shares()->end(),
            [](const NodeShare& a, const NodeShare& b) { return a.node() < b.node(); });
  summary->set_shortfall(quantity_ - given);
  *summary->mutable_route() = record_;
  summary->set_shortfall_worked(c_.OpenShortfall(order_, mode_, routed_by_, *summary, *engine_));
  CrashPoint(kCrashClusterRouteExecuted);
  if (absl::StatusOr<Plan> own = engine_->GetPlan(route_id_); own.ok()) *response.mutable_plan() = *own;
  if (IsSubRouteId(route_id_)) return response;  // The coordinator's own: no client retries it.
  c_.Remember(order_, mode_, response);
  return response;
}

void Coordinator::Remember(const ParentOrder& order, RouteMode mode, const RouteResponse& response) {
  Answered& kept = answered_[order.id()] = Answered{order, mode, response};
  kept.response.clear_plan();  // A retry is answered with the plan as it is then.
  answered_order_.push_back(order.id());
  if (answered_order_.size() > kRemembered) {
    answered_.erase(answered_order_.front());
    answered_order_.pop_front();
  }
}

absl::StatusOr<RouteResponse> Coordinator::RebuildAnswerLocked(const ParentOrder& order, RouteMode mode,
                                                                RouterEngine* engine, const absl::Status& refusal) {
  const std::string& route_id = order.id();
  if (IsSubRouteId(route_id)) return refusal;
  const std::vector<NodeLink*> all = AllLinks();  // (This node's first: its own record is taken first.)
  ProgressRequest req;
  req.set_route_id(route_id);
  const auto replies = FanOut(all, [&req](size_t) -> const ProgressRequest& { return req; });
  std::map<std::string, int64_t> held;  // The shares, by node.
  const ProgressReply* record = nullptr;
  bool worked = false;
  for (size_t i = 0; i < all.size(); ++i) {
    if (absl::IsNotFound(replies[i].status())) continue;
    if (!replies[i].ok()) return refusal;  // A node not heard from may hold a share.
    const ProgressReply& r = *replies[i];
    worked = worked || (r.has_shortfall_work() && Credible(r.shortfall_work(), all[i]->node_id(), route_id));
    if (r.status() == PLAN_STATUS_UNSPECIFIED) continue;  // No share there.
    held[all[i]->node_id()] = r.quantity();
    if (record == nullptr && r.route().route_id() == route_id && r.order_quantity() > 0) record = &r;
  }
  // (None: shares recorded before the route's record named the order. Amended since: the order
  // as first routed is not what the shares hold now.)
  if (record == nullptr || record->amended_ns() > 0) return refusal;
  ParentOrder recorded = record->terms();
  recorded.set_quantity(record->order_quantity());
  if (record->mode() != mode || !google::protobuf::util::MessageDifferencer::Equals(recorded, order)) {
    return absl::AlreadyExistsError(absl::StrCat("order.id: plan \"", route_id, "\" already exists with a different order"));
  }
  RouteResponse response;
  ClusterRouteSummary* summary = response.mutable_cluster();
  *summary->mutable_route() = record->route();
  summary->mutable_route()->clear_lambda_trajectory();  // (Kept in the coordinator's record, never in the answer.)
  summary->set_lambda(record->lambda());
  int64_t given = 0;
  for (const std::string& node : record->route().nodes()) {  // (Sorted.)
    NodeShare* share = summary->add_shares();
    share->set_node(node);
    if (auto it = held.find(node); it != held.end()) {
      share->set_quantity(it->second);
      share->set_plan_id(route_id);
      given += it->second;
    }
  }
  summary->set_shortfall(std::max<int64_t>(0, order.quantity() - given));
  summary->set_shortfall_worked(worked && summary->shortfall() > 0);  // (As the first answer said.)
  LogInfo("route %s: retried, and this node kept no answer to it: answered from what the nodes recorded with their "
          "shares (%s)", route_id, absl::StrJoin(record->route().nodes(), ", "));
  Remember(order, mode, response);
  if (absl::StatusOr<Plan> own = engine->GetPlan(route_id); own.ok()) *response.mutable_plan() = *std::move(own);
  return response;
}

absl::StatusOr<RouteResponse> Coordinator::Route(const ParentOrder& order, RouteMode mode,
                                                 RouterEngine* engine, const std::string& routed_by) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string& route_id = order.id();
  // A route this node answered before under the id: kept in memory, or — an executed GTC or GTT
  // route — with its shortfall record, synced before the answer went out, so that a client whose
  // answer was lost to this node's crash gets it on a retry after the restart.
  std::optional<Answered> before;
  if (auto it = answered_.find(route_id); it != answered_.end()) {
    before = it->second;
  } else if (shortfall_ != nullptr && !IsSubRouteId(route_id)) {
    absl::StatusOr<std::optional<ShortfallRecord>> held = shortfall_->Record(route_id);
    if (held.ok() && held->has_value() && (*held)->has_answered()) {
      before = Answered{(*held)->routed_order(), ROUTE_MODE_EXECUTE, RouteResponse()};
      *before->response.mutable_cluster() = (*held)->answered();
    }
  }
  if (before) {
    if (before->mode == mode && google::protobuf::util::MessageDifferencer::Equals(before->order, order)) {
      RouteResponse again = std::move(before->response);  // An idempotent retry: this node's plan as it is now.
      if (absl::StatusOr<Plan> own = engine->GetPlan(route_id); own.ok()) *again.mutable_plan() = *std::move(own);
      return again;
    }
    return absl::AlreadyExistsError(absl::StrCat("order.id: plan \"", route_id, "\" already exists with a different order"));
  }
  // This node's risk limits on the whole order, before any node is asked (each node takes its
  // share without checking it again). Routes are one at a time here: none can slip in between.
  EXO_RETURN_IF_ERROR(engine->CheckRisk(order, mode, routed_by));
  Run run(this, order, mode, engine, routed_by);
  EXO_RETURN_IF_ERROR(run.FixBands());
  // Each attempt opens the route on every live node; a node failing mid-way is dropped and the
  // search starts again on fresh sessions (the nodes' answers depend on their books only).
  for (uint32_t attempt = 0;; ++attempt) {
    if (attempt > run.max_attempts()) return absl::InternalError("cluster route did not converge");
    if (absl::Status prepared = run.Prepare(attempt); !prepared.ok()) {
      // Routed before under the id (through another node, or through this one before it
      // restarted): a retry of the same order gets the answer the nodes' records give.
      if (run.id_taken()) return RebuildAnswerLocked(order, mode, engine, prepared);
      return prepared;
    }
    if (run.restart()) continue;
    EXO_RETURN_IF_ERROR(run.Search());
    if (run.restart()) continue;
    EXO_RETURN_IF_ERROR(run.SplitTies());
    if (run.restart()) continue;
    EXO_RETURN_IF_ERROR(run.CheckLimits());
    if (run.restart()) continue;
    return run.Execute();
  }
}

}  // namespace exo::daemon::cluster
