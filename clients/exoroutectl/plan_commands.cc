// exoroutectl's commands about orders: route, plan (list, show, cancel, amend, settle,
// books), watch and route-status.
#include "clients/exoroutectl/commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cpp/exoroute_client.h"
#include "clients/exoroutectl/args.h"
#include "clients/exoroutectl/render.h"
#include "daemon/config.h"
#include "daemon/solve_inputs.h"
#include "exo/clock.h"
#include "exo/fixed_point.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "solver/solver.h"
#include "store/delta_store.h"

namespace exo::ctl {

using namespace exoroute::v1;  // NOLINT

namespace {

// after, should the watch end before the plan settles; nullopt when not asked.
absl::StatusOr<std::optional<uint32_t>> DisconnectFlag(const Args& a) {
  if (!a.Has("cancel-on-disconnect")) {
    if (a.Has("grace-ms")) return absl::InvalidArgumentError("--grace-ms goes with --cancel-on-disconnect");
    return std::nullopt;
  }
  auto grace = a.GetUint("grace-ms", 0);
  if (!grace.ok()) return grace.status();
  return static_cast<uint32_t>(std::min<uint64_t>(*grace, UINT32_MAX));
}

// Streams a plan's deltas until it settles; prints each. With `cancel_on_disconnect_grace_ms`,
// the node cancels the plan if this watch ends first (this process stopped, say) and no other
// comes back within that grace.
absl::Status Watch(Context& c, const std::string& id, uint32_t from, bool print,
                   std::optional<uint32_t> cancel_on_disconnect_grace_ms = std::nullopt) {
  std::map<std::string, Instrument> instruments;
  InstrumentLookup lookup = [&](const std::string& plan_id) -> const Instrument* {
    auto it = instruments.find(plan_id);
    if (it != instruments.end()) return &it->second;
    auto p = FetchPlan(c, plan_id);
    if (!p.ok()) return nullptr;
    return &(instruments[plan_id] = p->instrument());
  };
  uint32_t next = from;
  // The node going away (a restart, a lost connection) ends no plan: its plans are recorded and
  // worked again from its start, so watch again as soon as it answers, from the next delta (a
  // `route --wait` waited through a restart then, instead of ending "watch again"). With a dead
  // man's switch this is also what keeps the plan: the switch is recorded and waits out its
  // grace from the node's start. So too when it went away before its first answer (it took the
  // watch and shut down): the CLI reached it before the watch (EnsureConnected), so a node not
  // there at all has already failed fast.
  FollowAgain again(c, absl::StrCat("watching ", id),
                    cancel_on_disconnect_grace_ms.has_value()
                        ? absl::StrCat(" (the plan is cancelled if no watch holds it within ",
                                       *cancel_on_disconnect_grace_ms, " ms of the node's start)")
                        : "");
  while (true) {
    WatchPlanRequest req;
    req.set_plan_id(id);
    req.set_from_version(next);
    if (cancel_on_disconnect_grace_ms.has_value()) {
      req.set_cancel_on_disconnect(true);
      req.set_disconnect_grace_ms(*cancel_on_disconnect_grace_ms);
    }
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = RouterService::NewStub(c.channel)->WatchPlan(ctx.get(), req);
    WatchPlanResponse msg;
    while (reader->Read(&msg)) {
      again.Answered(cancel_on_disconnect_grace_ms.has_value() ? " (its switch is held)" : "");
      next = std::max(next, msg.delta().plan_version() + 1);
      if (!print) continue;
      std::cout << (c.json ? ToJson(msg.delta()) : RenderDeltaLine(msg.delta(), lookup)) << std::endl;
    }
    absl::Status s = client::FromGrpc(reader->Finish());
    if (!again.After(&s)) return s;
  }
}

absl::StatusOr<GetRouteResponse> FetchRoute(Context& c, const std::string& id) {
  GetRouteRequest req;
  req.set_route_id(id);
  return Unary(c, &RouterService::Stub::GetRoute, req);
}

// Prints the route's progress; with its instrument when the caller has it (else the node is asked).
int PrintRoute(Context& c, const GetRouteResponse& r, const Instrument* known = nullptr) {
  if (c.json) {
    std::cout << ToJson(r) << "\n";
    return kExitOk;
  }
  if (known != nullptr) {
    std::cout << RenderRouteProgress(r, *known);
    return kExitOk;
  }
  auto status = FetchStatus(c);
  if (!status.ok()) return Fail(status.status());
  Instrument inst;
  for (const auto& i : status->instruments()) {
    if (i.symbol() == r.symbol()) inst = i;
  }
  std::cout << RenderRouteProgress(r, inst);
  return kExitOk;
}

// Follows route `id` (WatchRoute: an answer at each change, the nodes asked every `every_ms`, 0
// = the node's default) until it settles, or until `each` returns false for an answer. Returns
// the last answer (NOT_FOUND-style errors as the node gave them). The node going away (a restart),
// before its first answer too, ends nothing: it is followed again as soon as it answers, as Watch
// does (`each` is not asked again of an answer the same as the last).
absl::StatusOr<GetRouteResponse> FollowRoute(Context& c, const std::string& id, uint32_t every_ms,
                                             const std::function<bool(const GetRouteResponse&)>& each) {
  WatchRouteRequest req;
  req.set_route_id(id);
  req.set_interval_ms(every_ms);
  std::optional<GetRouteResponse> last;
  FollowAgain again(c, absl::StrCat("following ", id));
  while (true) {
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = RouterService::NewStub(c.channel)->WatchRoute(ctx.get(), req);
    bool first = true;  // (Of this stream: after the node went away, maybe the answer before.)
    for (GetRouteResponse r; reader->Read(&r);) {
      again.Answered();
      if (std::exchange(first, false) && last && r.SerializeAsString() == last->SerializeAsString()) continue;
      last = r;
      if (!each(r)) {
        ctx->TryCancel();
        while (reader->Read(&r)) {
        }
        reader->Finish();
        return *last;
      }
    }
    absl::Status s = client::FromGrpc(reader->Finish());
    if (s.ok()) break;
    if (!again.After(&s)) return s;
  }
  if (!last) return absl::InternalError(absl::StrCat("watch_route: the node ended the stream of ", id, " without an answer"));
  return *last;
}

// Whether some node could not be asked about the route (then it cannot be known settled).
bool Unanswered(const GetRouteResponse& r) {
  return std::any_of(r.nodes().begin(), r.nodes().end(), [](const NodeProgress& n) { return !n.error().empty(); });
}

// The nodes that could not be asked, with why ("n3 (failed to connect …)"), for a message.
std::string UnansweredNodes(const GetRouteResponse& r) {
  std::vector<std::string> nodes;
  for (const NodeProgress& n : r.nodes()) {
    if (!n.error().empty()) nodes.push_back(absl::StrCat(n.node(), " (", n.error(), ")"));
  }
  return absl::StrJoin(nodes, ", ");
}

// Whether every node that answered has ended its share (none working or cancelling) and no
// shortfall is worked: nothing more to wait for but the nodes that could not be asked.
bool AnsweredSharesEnded(const GetRouteResponse& r) {
  if (r.shortfall_work().state() == ShortfallWork::STATE_OPEN) return false;
  return std::all_of(r.nodes().begin(), r.nodes().end(), [](const NodeProgress& n) {
    return !n.error().empty() || (n.status() != PLAN_STATUS_WORKING && n.status() != PLAN_STATUS_CANCELLING &&
                                  n.status() != PLAN_STATUS_UNSPECIFIED);
  });
}

}  // namespace

int CmdRoute(Context& c) {
  const Args& a = c.args;
  for (const char* f : {"symbol", "side", "qty"}) {
    if (!a.Has(f)) return Usage(absl::StrCat("route: --", f, " is required"));
  }
  // What can be checked without the node first (a typo is a usage error even while it is down);
  // then the quantity and the limit, in the units of the instrument the node names.
  RouteRequest req;
  ParentOrder* o = req.mutable_order();
  std::string side = a.Get("side");
  if (side != "buy" && side != "sell") return Usage("route: --side must be buy or sell");
  o->set_side(side == "buy" ? SIDE_BUY : SIDE_SELL);
  std::string tif = a.Get("tif", a.Has("expire-ms") ? "gtt" : "gtc");
  if ((tif == "gtc" || tif == "ioc") && a.Has("expire-ms")) {
    // (It was dropped without a word: the order went GTC or IOC, as typed, with no deadline.)
    return Usage(absl::StrCat("route: --expire-ms goes with --tif gtt (or alone), not --tif ", tif));
  }
  if (tif == "gtc") {
    o->set_time_in_force(TIME_IN_FORCE_GTC);
  } else if (tif == "ioc") {
    o->set_time_in_force(TIME_IN_FORCE_IOC);
  } else if (tif == "gtt") {
    o->set_time_in_force(TIME_IN_FORCE_GTT);
    auto ms = a.GetUint("expire-ms", 0);
    if (!ms.ok()) return Usage(std::string(ms.status().message()));
    o->set_expire_after_ms(static_cast<int64_t>(*ms));
  } else {
    return Usage("route: --tif must be gtc, ioc or gtt");
  }
  if (absl::Status s = SetOrderFlags(a, o); !s.ok()) return Usage(std::string(s.message()));
  req.set_mode(a.Has("execute") ? ROUTE_MODE_EXECUTE : ROUTE_MODE_PLAN_ONLY);
  absl::StatusOr<std::optional<uint32_t>> disconnect = DisconnectFlag(a);
  if (!disconnect.ok()) return Usage(absl::StrCat("route: ", disconnect.status().message()));
  if (disconnect->has_value() && !(a.Has("wait") && a.Has("execute"))) {
    return Usage("route: --cancel-on-disconnect goes with --execute --wait (it is the wait's watch that holds the order)");
  }
  auto status = FetchStatus(c);
  if (!status.ok()) return Fail(status.status());
  const Instrument* inst = nullptr;
  std::vector<std::string> known;
  for (const auto& i : status->instruments()) {
    known.push_back(i.symbol());
    if (i.symbol() == a.Get("symbol")) inst = &i;
  }
  if (inst == nullptr) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "--symbol: unknown symbol \"", a.Get("symbol"), "\" (this node trades: ", absl::StrJoin(known, ", "), ")")));
  }
  o->set_id(a.Get("id", absl::StrCat("ctl-", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count())));
  o->set_symbol(inst->symbol());
  auto qty = PositiveDecimalFlag(a, "qty", inst->qty_scale());
  if (!qty.ok()) return Usage(absl::StrCat("route: ", qty.status().message()));
  o->set_quantity(*qty);
  if (a.Has("limit")) {
    auto px = PositiveDecimalFlag(a, "limit", inst->price_scale());
    if (!px.ok()) return Usage(absl::StrCat("route: ", px.status().message()));
    o->set_limit_price(*px);
  }

  RouteResponse resp;
  auto ctx = Rpc(c);
  auto st = RouterService::NewStub(c.channel)->Route(ctx.get(), req, &resp);
  if (!st.ok()) return Fail(client::FromGrpc(st));
  if (resp.has_cluster()) {
    std::cout << (c.json ? ToJson(resp) + "\n" : RenderClusterRoute(resp.cluster(), *inst));
    if (a.Has("wait") && req.mode() == ROUTE_MODE_EXECUTE) {
      // Until every node's share has settled, then each node's progress (JSON: a second line).
      // A node that cannot be asked (down at the route, or since) cannot be known to hold no
      // share: the wait goes on for the shares of those that answer, and ends when they have
      // ended, saying that the route is not known settled. (It ended at once, with no word of
      // why, while the other nodes' shares were still working.)
      bool said = false;
      absl::StatusOr<GetRouteResponse> progress = FollowRoute(c, o->id(), 0, [&](const GetRouteResponse& r) {
        if (!Unanswered(r)) return true;
        if (!said && !c.json) {
          std::cerr << "exoroutectl: route " << o->id() << ": cannot ask " << UnansweredNodes(r)
                    << "; waiting for the other nodes' shares" << std::endl;
          said = true;
        }
        return !AnsweredSharesEnded(r);
      });
      if (!progress.ok()) return Fail(progress.status());
      if (!c.json) std::cout << "\n";
      const int printed = PrintRoute(c, *progress, inst);  // (Not asked again: the node may be restarting.)
      if (!Unanswered(*progress)) return printed;
      std::cerr << "exoroutectl: route " << o->id() << ": every share that answered has ended, but "
                << UnansweredNodes(*progress) << " could not be asked: the route is not known settled (exoroutectl "
                << "route-status " << o->id() << " asks again)" << std::endl;
      return kExitError;
    }
    if (c.json || resp.plan().plan_id().empty()) return kExitOk;  // (This node's venues got nothing.)
  }
  if (!a.Has("wait") || req.mode() == ROUTE_MODE_PLAN_ONLY) return PrintPlan(c, resp.plan());
  if (auto s = Watch(c, o->id(), 1, /*print=*/false, *disconnect); !s.ok()) return Fail(s);
  // The plan as it settled: asked again, as the watch was, if the node went away just after.
  absl::StatusOr<Plan> final_plan = FetchPlan(c, o->id());
  for (FollowAgain again(c, absl::StrCat("asking for ", o->id())); !final_plan.ok();) {
    absl::Status s = final_plan.status();
    if (!again.After(&s)) return Fail(s);
    final_plan = FetchPlan(c, o->id());
  }
  return PrintPlan(c, *final_plan);
}

namespace {

int PlanBooksCmd(Context& c, const std::string& plan_id);

// Every plan the node is working (only --symbol's when given), page after page.
absl::StatusOr<std::vector<Plan>> FetchWorkingPlans(Context& c) {
  std::vector<Plan> out;
  ListPlansRequest req;
  req.set_symbol(c.args.Get("symbol"));
  req.set_routed_by(c.args.Get("client"));
  req.set_page_size(500);
  for (;;) {
    absl::StatusOr<ListPlansResponse> page = Unary(c, &RouterService::Stub::ListPlans, req);
    if (!page.ok()) return page.status();
    for (Plan& p : *page->mutable_plans()) out.push_back(std::move(p));
    if (page->next_page_token().empty()) return out;
    req.set_page_token(page->next_page_token());
  }
}

int PlanListCmd(Context& c) {
  absl::StatusOr<std::vector<Plan>> plans = FetchWorkingPlans(c);
  if (!plans.ok()) return Fail(plans.status());
  if (c.json) {
    for (const Plan& p : *plans) std::cout << ToJson(p) << "\n";
    return kExitOk;
  }
  std::cout << RenderPlanList(*plans, SystemClock()->NowNs());
  return kExitOk;
}

// `plan cancel --all`: cancels every plan the node is working (only --symbol's when given), one
// CancelPlan each. A plan that finished meanwhile is no failure; any other refusal is, reported,
// and the rest are still cancelled. Routes that arrive meanwhile are not in the list.
int PlanCancelAllCmd(Context& c) {
  absl::StatusOr<std::vector<Plan>> plans = FetchWorkingPlans(c);
  if (!plans.ok()) return Fail(plans.status());
  int cancelled = 0, finished = 0, failed = 0;
  for (const Plan& p : *plans) {
    CancelPlanRequest req;
    req.set_plan_id(p.plan_id());
    req.set_reason(c.args.Get("reason", "exoroutectl plan cancel --all"));
    absl::StatusOr<CancelPlanResponse> r = Unary(c, &RouterService::Stub::CancelPlan, req);
    if (!r.ok() && r.status().code() == absl::StatusCode::kFailedPrecondition) {
      ++finished;  // It finished between the list and the cancel.
      if (!c.json) std::cout << p.plan_id() << "  finished meanwhile: " << r.status().message() << "\n";
      continue;
    }
    if (!r.ok()) {
      ++failed;
      std::fprintf(stderr, "exoroutectl: plan %s not cancelled: %s: %s\n", p.plan_id().c_str(),
                   absl::StatusCodeToString(r.status().code()).c_str(), std::string(r.status().message()).c_str());
      continue;
    }
    ++cancelled;
    if (c.json) {
      std::cout << ToJson(*r) << "\n";
    } else if (!r->nodes().empty() || r->has_shortfall_work()) {
      std::cout << p.plan_id() << "  cluster route, on its nodes:\n" << RenderNodeCancels(*r);
    } else {
      std::cout << p.plan_id() << "  " << ShortStatus(r->plan().status()) << "\n";
    }
  }
  if (!c.json) {
    std::cout << cancelled << " cancelled, " << finished << " finished meanwhile, " << failed << " not cancelled\n";
  }
  return failed > 0 ? kExitError : kExitOk;
}

// `plan amend ID`: the new terms in the plan's own decimals (read from the plan first).
int PlanAmendCmd(Context& c, const std::string& id) {
  if (!c.args.Has("qty") && !c.args.Has("limit") && !c.args.Has("market") && !c.args.Has("urgency")) {
    return Usage("plan amend: give --qty, --limit, --market or --urgency (or several)");
  }
  if (c.args.Has("limit") && c.args.Has("market")) {
    return Usage("plan amend: --limit or --market, not both (a new limit, or none)");
  }
  absl::StatusOr<Urgency> urgency = UrgencyFlag(c.args);
  if (!urgency.ok()) return Usage(absl::StrCat("plan amend: ", urgency.status().message()));
  auto p = FetchPlan(c, id);
  if (absl::IsNotFound(p.status())) {
    // A cluster node with no share of the route: its instrument from the route and the node.
    absl::StatusOr<GetRouteResponse> route = FetchRoute(c, id);
    absl::StatusOr<StatusResponse> node = route.ok() ? FetchStatus(c) : route.status();
    if (route.ok() && node.ok()) {
      for (const Instrument& i : node->instruments()) {
        if (i.symbol() != route->symbol()) continue;
        Plan scales;  // Only its instrument is read below.
        *scales.mutable_instrument() = i;
        p = std::move(scales);
      }
    }
  }
  // A new limit or quantity is read in the instrument's decimals; a market order or an urgency
  // needs none (a route no reachable node holds a share of, while the node that works it is
  // down, has no instrument to read: the node may still keep a notice of its new terms).
  const bool scaled = c.args.Has("qty") || c.args.Has("limit");
  if (!p.ok() && (scaled || !absl::IsNotFound(p.status()))) {
    if (!absl::IsNotFound(p.status())) return Fail(p.status());
    return Fail(absl::NotFoundError(absl::StrCat(
        p.status().message(), " (nor a route any node that answered holds a share of, whose decimals --qty or --limit "
        "would be read in; --market and --urgency need none)")));
  }
  const uint32_t qty_scale = p.ok() ? p->instrument().qty_scale() : 0;
  AmendPlanRequest req;
  req.set_plan_id(id);
  req.set_reason(c.args.Get("reason"));
  if (c.args.Has("qty")) {
    auto qty = PositiveDecimalFlag(c.args, "qty", p->instrument().qty_scale());
    if (!qty.ok()) return Usage(absl::StrCat("plan amend: ", qty.status().message()));
    req.set_quantity(*qty);
  }
  if (c.args.Has("limit")) {
    auto px = PositiveDecimalFlag(c.args, "limit", p->instrument().price_scale());
    if (!px.ok()) return Usage(absl::StrCat("plan amend: ", px.status().message()));
    req.set_limit_price(*px);
  }
  req.set_remove_limit(c.args.Has("market"));
  req.set_urgency(*urgency);
  absl::StatusOr<AmendPlanResponse> amended = Unary(c, &RouterService::Stub::AmendPlan, req);
  if (!amended.ok()) return Fail(amended.status());
  if (c.json) {
    std::cout << ToJson(*amended) << "\n";
    return kExitOk;
  }
  if (!amended->changed()) std::cout << "plan " << id << " already has these terms: nothing amended\n";
  if (!amended->nodes().empty() || amended->has_shortfall_work()) {  // A cluster route: every node's share of it.
    std::cout << "cluster route " << id << " on its nodes:\n" << RenderNodeAmends(*amended, qty_scale);
    if (!amended->has_plan()) return kExitOk;
  }
  return PrintPlan(c, amended->plan());
}

// `plan settle ID CHILD --filled Q [--price P [--fee F]] --reason TEXT`: AdminService.SettleChild,
// in the plan's own decimals (read from the plan first).
int PlanSettleCmd(Context& c, const std::string& id) {
  const auto& w = c.args.words();
  if (w.size() != 4) return Usage("plan settle: expected `plan settle PLAN_ID CHILD_ID --filled Q --reason TEXT`");
  if (!c.args.Has("filled")) {
    return Usage("plan settle: --filled is required (the child's whole filled quantity as the venue states it; 0: none)");
  }
  if (!c.args.Has("reason")) return Usage("plan settle: --reason is required (it is recorded in the chain)");
  if (c.args.Has("fee") && !c.args.Has("price")) return Usage("plan settle: --fee goes with --price (a fill to record)");
  auto p = FetchPlan(c, id);
  if (!p.ok()) return Fail(p.status());
  const Instrument& inst = p->instrument();
  SettleChildRequest req;
  req.set_plan_id(id);
  req.set_cl_ord_id(w[3]);
  req.set_reason(c.args.Get("reason"));
  auto filled = ParseDecimal(c.args.Get("filled"), inst.qty_scale());
  if (!filled.ok()) return Usage(absl::StrCat("plan settle: --filled: ", filled.status().message()));
  if (*filled < 0) return Usage(absl::StrCat("plan settle: --filled: must be >= 0, got \"", c.args.Get("filled"), "\""));
  req.set_filled_quantity(*filled);
  if (c.args.Has("price")) {
    // (0 is the request's "no price": `--price 0` went as none, without a word.)
    auto px = PositiveDecimalFlag(c.args, "price", inst.price_scale());
    if (!px.ok()) return Usage(absl::StrCat("plan settle: ", px.status().message()));
    req.set_price(*px);
  }
  if (c.args.Has("fee")) {
    auto fee = ParseDecimal(c.args.Get("fee"), inst.price_scale());
    if (!fee.ok()) return Usage(absl::StrCat("plan settle: --fee: ", fee.status().message()));
    req.set_fee(*fee);
  }
  absl::StatusOr<SettleChildResponse> settled = Unary(c, &AdminService::Stub::SettleChild, req);
  if (!settled.ok()) return Fail(settled.status());
  if (c.json) {
    std::cout << ToJson(*settled) << "\n";
    return kExitOk;
  }
  if (settled->has_awaiting_approval()) {
    const SettleProposal& a = settled->awaiting_approval();
    std::cout << "settlement of child " << w[3] << " proposed by client " << a.proposed_by() << ": "
              << FormatDecimal(a.filled_quantity(), inst.qty_scale()) << " filled"
              << (a.price() != 0 ? absl::StrCat(" at ", FormatDecimal(a.price(), inst.price_scale())) : "")
              << (a.fee() != 0 ? absl::StrCat(", fee ", FormatDecimal(a.fee(), inst.price_scale())) : "")
              << "\nnothing is recorded until another operator (another client certificate) settles it with the same "
                 "figures (routing.settle_approvals 2)\n";
    return kExitOk;
  }
  std::cout << "child " << w[3] << " settled: " << FormatDecimal(*filled, inst.qty_scale()) << " filled (recorded)\n";
  return PrintPlan(c, settled->plan());
}

}  // namespace

int CmdPlan(Context& c) {
  const auto& w = c.args.words();
  if (w.size() == 2 && w[1] == "list") return PlanListCmd(c);
  if (w.size() == 2 && w[1] == "cancel" && c.args.Has("all")) return PlanCancelAllCmd(c);
  if (c.args.Has("all")) return Usage("plan: --all goes with `plan cancel` only");
  if (w.size() < 3) {
    return Usage("plan: expected `plan list`, `plan show ID`, `plan cancel ID|--all`, `plan amend ID`, `plan settle ID CHILD` or "
        "`plan books ID`");
  }
  if (w[1] == "books") return PlanBooksCmd(c, w[2]);
  if (w[1] == "show") {
    auto p = FetchPlan(c, w[2]);
    if (!p.ok()) return Fail(p.status());
    return PrintPlan(c, *p);
  }
  if (w[1] == "cancel") {
    CancelPlanRequest req;
    req.set_plan_id(w[2]);
    req.set_reason(c.args.Get("reason"));
    absl::StatusOr<CancelPlanResponse> cancelled = Unary(c, &RouterService::Stub::CancelPlan, req);
    if (!cancelled.ok()) return Fail(cancelled.status());
    const CancelPlanResponse& resp = *cancelled;
    if (c.json) {
      std::cout << ToJson(resp) << "\n";
      return kExitOk;
    }
    if (!resp.nodes().empty() || resp.has_shortfall_work()) {  // A cluster route: every node's plan of it.
      std::cout << "cluster route " << w[2] << " cancelled on its nodes:\n" << RenderNodeCancels(resp);
      if (!resp.has_plan()) return kExitOk;
    }
    return PrintPlan(c, resp.plan());
  }
  if (w[1] == "amend") return PlanAmendCmd(c, w[2]);
  if (w[1] == "settle") return PlanSettleCmd(c, w[2]);
  return Usage(absl::StrCat("plan: unknown subcommand \"", w[1], "\""));
}

int CmdRouteStatus(Context& c) {
  const auto& w = c.args.words();
  if (w.size() < 2) return Usage("route-status: expected a route id");
  if (!c.args.Has("follow")) {
    if (c.args.Has("every")) return Usage("route-status: --every goes with --follow");
    auto r = FetchRoute(c, w[1]);
    if (!r.ok()) return Fail(r.status());
    return PrintRoute(c, *r);
  }
  auto every = c.args.GetUint("every", 0);
  if (!every.ok()) return Usage(std::string(every.status().message()));
  if (c.args.Has("every") && (*every < 20 || *every > 60'000)) return Usage("route-status: --every takes 20..60000 (ms)");
  if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
  // The instruments (their scales, to print the route's figures), asked before the follow: a
  // call in the middle of it could meet the node gone (a restart) and end what the follow rides
  // out.
  google::protobuf::RepeatedPtrField<Instrument> instruments;
  if (!c.json) {
    absl::StatusOr<StatusResponse> status = FetchStatus(c);
    if (!status.ok()) return Fail(status.status());
    instruments.Swap(status->mutable_instruments());
  }
  // Each change as it comes: its summary line (JSON: the whole answer), then the whole table
  // once the route settles.
  std::optional<Instrument> inst;
  absl::StatusOr<GetRouteResponse> last =
      FollowRoute(c, w[1], static_cast<uint32_t>(*every), [&](const GetRouteResponse& r) {
        if (c.json) {
          std::cout << ToJson(r) << std::endl;
          return true;
        }
        if (!inst) {
          inst = Instrument();
          for (const auto& i : instruments) {
            if (i.symbol() == r.symbol()) *inst = i;
          }
        }
        const std::string table = RenderRouteProgress(r, *inst);
        std::cout << absl::FormatTime("%H:%M:%E3S  ", absl::Now(), absl::LocalTimeZone())
                  << table.substr(0, table.find('\n') + 1) << std::flush;
        return true;
      });
  if (!last.ok()) return Fail(last.status());
  if (!c.json) std::cout << "\n" << RenderRouteProgress(*last, *inst);
  return kExitOk;
}

int CmdWatch(Context& c) {
  const auto& w = c.args.words();
  if (w.size() < 2) return Usage("watch: expected a plan id");
  auto from = c.args.GetUint("from", 1);
  if (!from.ok()) return Usage(std::string(from.status().message()));
  absl::StatusOr<std::optional<uint32_t>> disconnect = DisconnectFlag(c.args);
  if (!disconnect.ok()) return Usage(absl::StrCat("watch: ", disconnect.status().message()));
  if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
  if (auto s = Watch(c, w[1], static_cast<uint32_t>(*from), true, *disconnect); !s.ok()) return Fail(s);
  return kExitOk;
}

namespace {

// `s` as one shell word (quoted when it needs to be), for commands printed to be pasted.
std::string ShellQuoted(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-+=:,@") ==
                        std::string::npos) {
    return s;
  }
  std::string quoted = "'";
  for (char ch : s) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return quoted + "'";
}

// `plan books ID [--version N] [--out FILE]`: the books a decision of the plan read (its
// recorded inputs: the first decision, or the one at plan version N) as a book file for
// `exoroutectl solve`, with the command that re-runs it there. From the node (Replay with
// inputs) or, with --data-dir, from its database.
int PlanBooksCmd(Context& c, const std::string& plan_id) {
  const Args& a = c.args;
  if (a.Has("config-out") && !a.Has("out")) return Usage("plan books: --config-out needs --out (its venues serve that file)");
  const bool last = a.Get("version") == "last";  // The plan's latest decision.
  auto version = last ? absl::StatusOr<uint64_t>(0) : a.GetUint("version", 0);
  if (!version.ok()) return Usage(absl::StrCat(version.status().message(), " (or \"last\")"));
  std::vector<uint32_t> decided;  // The plan's versions that are decisions.
  std::optional<SolveInput> chosen;
  uint64_t chosen_sequence = 0;
  Urgency urgency = URGENCY_UNSPECIFIED;  // The order's (its band is in each decision's input).
  auto take = [&](const PlanDelta& d, const SolveInput& in) {
    if (d.has_created()) urgency = d.created().order().urgency();
    if (!d.has_allocated()) return;
    decided.push_back(d.plan_version());
    if (last || (!chosen && (*version == 0 || d.plan_version() == *version))) {
      chosen = in;
      chosen_sequence = d.sequence();
    }
  };
  absl::Status read;
  if (a.Has("data-dir")) {
    auto st = OpenOffline(a.Get("data-dir"));
    if (!st.ok()) return Fail(st.status());
    store::DeltaStore& s = **st;
    bool any = false;
    absl::Status damaged;
    read = s.ScanPlan(plan_id, 1, [&](const PlanDelta& d, std::string_view) {
      any = true;
      if (!d.has_allocated()) {
        take(d, SolveInput());  // (The created delta: the order's urgency.)
        return true;
      }
      SolveInput in;
      absl::StatusOr<std::string> raw = s.GetInputs(d.inputs_digest());
      if (!raw.ok() || !in.ParseFromString(*raw)) {
        damaged = absl::DataLossError(absl::StrCat("delta ", d.sequence(), ": ",
                                                   raw.ok() ? "its recorded inputs do not parse" : raw.status().message()));
        return false;
      }
      take(d, in);
      return true;
    });
    if (read.ok()) read = damaged;
    if (read.ok() && !any) read = absl::NotFoundError(absl::StrCat("plan \"", plan_id, "\" not found"));
  } else {
    if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
    ReplayRequest req;
    req.set_plan_id(plan_id);
    req.set_include_inputs(true);
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = AuditService::NewStub(c.channel)->Replay(ctx.get(), req);
    ReplayResponse msg;
    while (reader->Read(&msg)) take(msg.delta(), msg.inputs());
    read = client::FromGrpc(reader->Finish());
  }
  if (!read.ok()) return Fail(read);
  if (!chosen) {
    return Fail(absl::NotFoundError(
        decided.empty() ? absl::StrCat("plan \"", plan_id, "\" has no decision yet")
                        : absl::StrCat("plan \"", plan_id, "\" has no decision at version ", *version,
                                       " (its decisions: versions ", absl::StrJoin(decided, ", "), ")")));
  }
  // The books of the venues the decision could use; the others are left out, with why.
  BookSnapshotFile file;
  std::vector<std::string> left_out;
  for (const VenueInput& v : chosen->venues()) {
    if (!v.exclusion().empty()) {
      left_out.push_back(absl::StrCat(v.venue(), " (", v.exclusion(), ")"));
      continue;
    }
    VenueBook* b = file.add_books();
    *b = v.book();
    b->set_venue(v.venue());
  }
  const Instrument& inst = chosen->instrument();
  const std::string side = chosen->side() == SIDE_BUY ? "buy" : "sell";
  const std::string path = a.Has("out") ? ShellQuoted(a.Get("out")) : "FILE";
  // With --config-out, a config with the decision's own venue terms (fees, lots, caps, impact,
  // book age, method), each venue serving the book file: the re-run needs no other config.
  std::string config_path;
  if (a.Has("config-out")) {
    DaemonConfig config;
    config.set_node_id("what-if");
    config.set_data_dir("./exoroute-what-if");
    config.mutable_listen()->set_address("127.0.0.1:0");
    *config.add_instruments() = inst;
    config.mutable_routing()->set_method(chosen->method());
    // The decision's price band, as the band of the order's urgency (a low band no wider).
    if (const uint32_t band = chosen->price_band_bps(); band > 0) {
      RoutingConfig* r = config.mutable_routing();
      if (urgency == URGENCY_LOW) {
        r->set_low_urgency_band_bps(band);
      } else {
        r->set_normal_urgency_band_bps(band);
        r->set_low_urgency_band_bps(std::min(band, daemon::kDefaultLowUrgencyBandBps));
      }
    }
    const std::string books_file = std::filesystem::absolute(a.Get("out")).string();
    for (const VenueInput& v : chosen->venues()) {
      VenueConfig* vc = config.add_venues();
      vc->set_id(v.venue());
      vc->set_taker_fee_bps(v.fee_bps());
      vc->set_max_book_age_ms(v.max_book_age_ms());
      vc->set_impact_bps(v.impact_bps());
      MarketConfig* m = vc->add_markets();
      m->set_symbol(inst.symbol());
      m->set_lot_size(v.lot_size());
      m->set_max_quantity(v.max_quantity());
      m->set_min_quantity(v.min_quantity());
      vc->mutable_sim()->set_book_file(books_file);
    }
    if (auto s = WriteJsonFile(c, file); !s.ok()) return Fail(s);  // The config's venues read it.
    const std::string json = ToJson(config);
    if (auto parsed = daemon::ParseConfig(json, a.Get("config-out")); !parsed.ok()) {
      return Fail(absl::InternalError(absl::StrCat("the decision's venue terms make no valid config: ", parsed.status().message())));
    }
    config_path = a.Get("config-out");
    if (auto s = WriteTextFile("config-out", config_path, json + "\n"); !s.ok()) return Fail(s);
  }
  std::string rerun = absl::StrCat("exoroutectl solve --books ", path, " --symbol ",
                                   inst.symbol(), " --side ", side, " --qty ", FormatDecimal(chosen->quantity(), inst.qty_scale()));
  // A cluster share's bands are the coordinator's, over every node's venues (SolveInput.band_limit,
  // arrival_limit): alone, this node's venues are cut at them as at a limit, with no band of their own.
  std::optional<int64_t> limit;
  if (chosen->has_limit_price()) limit = chosen->limit_price();
  for (const int64_t given : {chosen->band_limit(), chosen->arrival_limit()}) {
    if (given > 0) limit = solver::TighterLimit(given, limit, chosen->side() == SIDE_BUY);
  }
  if (limit) absl::StrAppend(&rerun, " --limit ", FormatDecimal(*limit, inst.price_scale()));
  if (chosen->max_venues() > 0) absl::StrAppend(&rerun, " --max-venues ", chosen->max_venues());
  // (The decision that fixed an arrival band; later ones carry its limit as their limit price.)
  if (chosen->arrival_band_bps() > 0) absl::StrAppend(&rerun, " --arrival-band-bps ", chosen->arrival_band_bps());
  if (chosen->band_limit() > 0) {
    absl::StrAppend(&rerun, " --urgency high");
  } else if (urgency != URGENCY_UNSPECIFIED) {
    absl::StrAppend(&rerun, " --urgency ", absl::AsciiStrToLower(Urgency_Name(urgency).substr(8)));
  }
  absl::StrAppend(&rerun, " --method ", chosen->method() == SOLVER_METHOD_ADMM ? "admm" : "exact", " --at ",
                  chosen->decision_time_ns());
  if (!config_path.empty()) absl::StrAppend(&rerun, " --config ", ShellQuoted(config_path));
  std::string summary = absl::StrCat("plan ", plan_id, ": the books its decision at sequence ", chosen_sequence, " read, ",
                                     Counted(file.books_size(), "venue", "venues"));
  if (!left_out.empty()) absl::StrAppend(&summary, "; left out then: ", absl::StrJoin(left_out, ", "));
  if (chosen->has_fixed_dual()) {
    // A cluster share: this node's venues at the coordinator's λ. Alone they answer another question.
    absl::StrAppend(&summary, "\na share of cluster route ", chosen->fixed_dual().route().route_id(),
                    " at its λ: these are this node's venues only (the other nodes' books stay there)",
                    chosen->band_limit() > 0
                        ? absl::StrCat(", cut at the route's band limit ",
                                       FormatDecimal(chosen->band_limit(), inst.price_scale()))
                        : "",
                    chosen->arrival_limit() > 0
                        ? absl::StrCat(", cut at the route's arrival limit ",
                                       FormatDecimal(chosen->arrival_limit(), inst.price_scale()))
                        : "",
                    "\nsolve them alone: ", rerun, "\n");
  } else {
    absl::StrAppend(&summary, "\nre-run it: ", rerun, "\n");
  }
  if (config_path.empty()) {
    absl::StrAppend(&summary, "(with the node's config as --config FILE, unless it runs the embedded default; or\n"
                              " --config-out FILE writes one with the decision's own venue terms)\n");
  }
  if (a.Has("out")) {
    if (auto s = WriteJsonFile(c, file); !s.ok()) return Fail(s);
    std::cout << summary;
  } else {
    std::cout << ToJson(file) << "\n";
    std::cerr << summary;
  }
  return kExitOk;
}
}  // namespace

}  // namespace exo::ctl
