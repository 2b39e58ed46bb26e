// exoroutectl: the operator CLI for exorouted — status, route, plans, watch, replay and audit,
// online over gRPC/TLS or offline on a data directory. `exoroutectl --help` lists it all.
#include <unistd.h>

#include <chrono>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cpp/exoroute_client.h"
#include "clients/exoroutectl/args.h"
#include "clients/exoroutectl/execution_report.h"
#include "clients/exoroutectl/render.h"
#include "adapters/book_file.h"
#include "daemon/config.h"
#include "daemon/decision_audit.h"
#include "daemon/node_events.h"
#include "daemon/request_validation.h"
#include "daemon/risk_limits.h"
#include "daemon/solve_inputs.h"
#include "exo/clock.h"
#include "solver/solver.h"
#include "exo/fixed_point.h"
#include "exo/sha256.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "store/chain_link.h"
#include "store/delta_store.h"
#include "store/head_signature.h"
#include "store/delta_codec.h"
#include "store/merkle.h"
#include "absl/strings/escaping.h"
#include "google/protobuf/util/json_util.h"

namespace exo::ctl {
namespace {

using namespace exoroute::v1;  // NOLINT

constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitBadChain = 3;

constexpr char kHelp[] = R"(exoroutectl — operate an exorouted node

usage: exoroutectl [connection flags] COMMAND [flags]

commands:
  status                                node, venues, chain head, store
  budgets                               privacy budgets spent in the current window (cluster)
  books SYMBOL [--depth N]              the node's books of SYMBOL now, N levels a side (5;
                                        at most 50), as an order decided now reads them: the
                                        best bid and ask it would use, and why a buy or a
                                        sell would leave each venue out (stale, crossed…)
  route --symbol S --side buy|sell --qty Q [--limit P] [--id ID]
        [--tif gtc|ioc|gtt] [--expire-ms N] [--execute] [--allow A,B] [--deny C]
        [--max-venues N] [--urgency low|normal|high] [--arrival-band-bps N] [--wait]
        [--cancel-on-disconnect [--grace-ms N]]
                                        plan (and with --execute, trade) a parent order;
                                        Q and P are decimals ("1.5", "65000.25"); --urgency
                                        low takes only what lies within a band of the best
                                        price now and works the rest as the books refill;
                                        --arrival-band-bps N never walks past the mid at
                                        arrival ± N bp, however the books move later;
                                        --execute --wait --cancel-on-disconnect: leaving the
                                        wait (Ctrl-C) cancels the order (see watch)
  plan list [--symbol S]                the plans the node is working (not settled), by id
  plan show ID                          a plan's current state
  plan cancel ID [--reason TEXT]        cancel a working plan
  plan cancel --all [--symbol S] [--reason TEXT]
                                        cancel every plan the node is working (of S): exit 1
                                        if any could not be cancelled
  plan amend ID [--qty Q] [--limit P | --market] [--urgency U] [--reason TEXT]
                                        amend a working executed plan's order: Q is its new
                                        whole quantity (what has filled counts), P its new
                                        limit (--market: none; an arrival band still binds),
                                        U its new urgency; the rest is decided on them at once
                                        (children already at venues keep their terms)
  plan settle ID CHILD --filled Q [--price P [--fee F]] --reason TEXT
                                        end an open child its venue never reported the end
                                        of, as reconciled with the venue: Q its whole filled
                                        quantity (what the plan recorded counts), P the
                                        average price and F the fee of what it did not
                                        record; the plan works the rest again at once (halt
                                        the venue first to keep it out); recorded
  plan books ID [--version N|last] [--out FILE [--config-out FILE]]
                                        the books a decision of the plan read (the first, the
                                        one at version N, or the latest) as a book file for
                                        `solve` (and a config with its venue terms), and the
                                        command that re-runs it (also with --data-dir)
  watch ID [--from VERSION] [--cancel-on-disconnect [--grace-ms N]]
                                        stream a plan's deltas until it settles; with
                                        --cancel-on-disconnect the node cancels the plan if
                                        this watch ends first (Ctrl-C, a lost connection) and
                                        none comes back within N ms (0 by default); recorded,
                                        so it outlives a restart of the node, and this watch
                                        rides one out: it watches again as soon as the node
                                        answers (for up to 5 min)
  route-status ID                       a route's progress on every node that took a share
                                        (a cluster route; on one node: its plan)
  replay [--from N] [--to M | --plan ID] [--progress]
                                        stored deltas in sequence order
  replay --follow [--from N]            the same, then each delta as it is recorded, until
                                        Ctrl-C or the node stops (a live tail of the chain;
                                        the node's last words name where to follow again from)
  report [--from N] [--to M] [--symbol S] [--since T] [--until T] [--csv]
                                        the executed plans created in the range (T: RFC 3339
                                        or a UTC date, when the order arrived): filled, average
                                        price, slippage against the mid at arrival, fees, where
                                        they filled; totals per symbol and side, and per venue
                                        (also with --data-dir, offline)
  audit verify [--from N] [--to M] [--recompute] [--signed-head FILE [--public-key HEX]]
                                        check the hash chain (and re-solve decisions; and
                                        that it still has a head the node signed earlier)
  audit verify --follow [--from N]      check the node's chain link by link as it sends it,
                                        then each delta as it is recorded: a line each time
                                        it has caught up with the head; exit 1 at the first
                                        delta that does not check out, or when the node stops
  audit head [--out FILE]               the chain head (--out: the node's signed head, JSON,
                                        for an auditor to keep)
  audit prove --sequence N [--out FILE] proof that delta N is in the node's log (RFC 9162
                                        Merkle tree, signed tree head; JSON with --out)
  audit check-proof FILE [--public-key HEX]
                                        check a proof offline, without the log
  audit prove --from-size M [--out FILE]
                                        proof that the log's first M deltas are unchanged in
                                        it now (RFC 9162 consistency, signed new tree head)
  audit check-consistency FILE --kept OLD [--public-key HEX]
                                        check it offline against a tree head kept earlier
                                        (OLD: a proof file from an earlier `audit prove`)
  contracts [--dot]                     the Graph of Contracts (table, --json, or Graphviz)
  halt --reason TEXT [--venue V | --symbol S]
                                        stop trading on the node: no child order is sent, EXECUTE
                                        routes are refused; with --venue, at that venue only
                                        (executed plans decide without it); with --symbol, for
                                        that symbol's orders only; recorded in the chain, kept
                                        across restarts (open children stay open: plan cancel
                                        --all [--symbol S])
  resume --reason TEXT [--venue V | --symbol S]
                                        trade again (at that venue, in that symbol)
  backup NAME                           a consistent copy of the node's database and keys,
                                        made while it routes, in store.backup_dir/NAME
                                        (a data directory; check it with audit verify
                                        --data-dir)
  config reload [--dry-run]             read the node's config file again and apply what a
                                        running node can change (risk limits, urgency bands,
                                        solver method, re-plan and checkpoint intervals,
                                        venues' fees, impact, book age), recorded in the chain;
                                        anything else changed refuses it all (restart);
                                        --dry-run says what would change (exorouted: SIGHUP)
  config show [--at N]                  the config in force now, or when delta N was recorded,
                                        from the chain: a config file's JSON (also with
                                        --data-dir, offline)
  solve --books FILE --side buy|sell --qty Q [--symbol S] [--limit P] [--config FILE]
        [--method exact|admm] [--allow A,B] [--deny C] [--max-venues N] [--urgency U]
        [--arrival-band-bps N] [--at NS]
                                        what-if, offline: the plan the router would make on the
                                        books in FILE (docs/configuration.md has the format),
                                        with venue fees, lots, caps and method from the daemon
                                        config (default: the embedded one); --method overrides;
                                        the order's flags and checks are route's

output:      --json (JSON lines / objects instead of tables)
connection:  --endpoint HOST:PORT  (default: $EXOROUTE_ENDPOINT, ./exoroute-data/endpoint,
                                    or 127.0.0.1:50551)
             --ca FILE             (default: $EXOROUTE_CA or ./exoroute-data/certs/ca.pem)
             --cert FILE --key FILE  client certificate for mutual TLS
             --insecure            plaintext
             --timeout MS          connect/RPC deadline (default 5000)
offline:     --data-dir DIR        replay, report, audit, plan books and config show read
                                   DIR's database directly (read-only; works while the
                                   daemon runs)
exit codes:  0 ok, 1 error, 2 usage, 3 the chain or a decision does not verify
)";

struct Context {
  Args args;
  bool json = false;
  client::ConnectOptions conn;
  std::chrono::milliseconds timeout{5000};
  std::shared_ptr<grpc::Channel> channel;
};

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "exoroutectl: %s: %s\n", absl::StatusCodeToString(s.code()).c_str(),
               std::string(s.message()).c_str());
  return kExitError;
}

int Usage(const std::string& why) {
  std::fprintf(stderr, "exoroutectl: %s\n(see exoroutectl --help)\n", why.c_str());
  return kExitUsage;
}

std::unique_ptr<grpc::ClientContext> Rpc(const Context& c, bool streaming = false) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!streaming) ctx->set_deadline(std::chrono::system_clock::now() + c.timeout);
  return ctx;
}

absl::Status EnsureConnected(Context& c) {
  if (c.channel) return absl::OkStatus();
  auto ch = client::Connect(c.conn);
  if (!ch.ok()) return ch.status();
  c.channel = *ch;
  return absl::OkStatus();
}

// One unary call of a service's Stub on the node (connecting first), with the CLI's deadline.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Unary(Context& c,
                               grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                               const Request& req) {
  if (auto s = EnsureConnected(c); !s.ok()) return s;
  Stub stub(c.channel);
  Response resp;
  auto ctx = Rpc(c);
  if (grpc::Status st = (stub.*method)(ctx.get(), req, &resp); !st.ok()) return client::FromGrpc(st);
  return resp;
}

absl::StatusOr<StatusResponse> FetchStatus(Context& c) {
  return Unary(c, &AdminService::Stub::Status, StatusRequest());
}

int CmdStatus(Context& c) {
  auto r = FetchStatus(c);
  if (!r.ok()) return Fail(r.status());
  std::cout << (c.json ? ToJson(*r) + "\n" : RenderStatus(*r, SystemClock()->NowNs() / 1'000'000'000));
  return kExitOk;
}

// `books SYMBOL [--depth N]`: the node's books of one symbol now, as an executed order decided
// now reads them (GetBooks).
int CmdBooks(Context& c) {
  const auto& w = c.args.words();
  if (w.size() != 2) return Usage("books: expected one symbol (exoroutectl books BTC-USD)");
  auto depth = c.args.GetUint("depth", 0);
  if (!depth.ok()) return Usage(absl::StrCat("books: ", depth.status().message()));
  GetBooksRequest req;
  req.set_symbol(w[1]);
  req.set_depth(static_cast<uint32_t>(std::min<uint64_t>(*depth, UINT32_MAX)));
  auto r = Unary(c, &AdminService::Stub::GetBooks, req);
  if (!r.ok()) return Fail(r.status());
  std::cout << (c.json ? ToJson(*r) + "\n" : RenderBooks(*r));
  return kExitOk;
}

int CmdBudgets(Context& c) {
  auto r = FetchStatus(c);
  if (!r.ok()) return Fail(r.status());
  if (c.json) {
    StatusResponse only;
    only.set_node_id(r->node_id());
    *only.mutable_budgets() = r->budgets();
    std::cout << ToJson(only) << "\n";
    return kExitOk;
  }
  std::cout << RenderBudgets(*r);
  return kExitOk;
}

int PrintPlan(const Context& c, const Plan& p) {
  std::cout << (c.json ? ToJson(p) + "\n" : RenderPlan(p, SystemClock()->NowNs() / 1'000'000'000));
  return kExitOk;
}

absl::StatusOr<Plan> FetchPlan(Context& c, const std::string& id) {
  GetPlanRequest req;
  req.set_plan_id(id);
  absl::StatusOr<GetPlanResponse> resp = Unary(c, &RouterService::Stub::GetPlan, req);
  if (!resp.ok()) return resp.status();
  return resp->plan();
}

// --cancel-on-disconnect [--grace-ms N]: the grace a watch asks the node to cancel its plan
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
// How long a watch with a dead man's switch keeps trying to watch again after the node went away.
constexpr absl::Duration kRewatchFor = absl::Minutes(5);

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
  bool answered = false;  // The node answered this watch (a first delta came).
  std::optional<absl::Time> rewatch_until;  // Set while the node is away.
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
      answered = true;
      if (rewatch_until.has_value()) {
        std::cerr << "exoroutectl: watching " << id << " again (its switch is held)" << std::endl;
        rewatch_until.reset();
      }
      next = std::max(next, msg.delta().plan_version() + 1);
      if (!print) continue;
      std::cout << (c.json ? ToJson(msg.delta()) : RenderDeltaLine(msg.delta(), lookup)) << std::endl;
    }
    absl::Status s = client::FromGrpc(reader->Finish());
    // With a dead man's switch, the node going away (a restart, a lost connection) is not this
    // client going away: the switch is recorded and waits out its grace from the node's start,
    // so watch again as soon as the node answers, from the next delta.
    if (!cancel_on_disconnect_grace_ms.has_value() || !answered || !absl::IsUnavailable(s)) return s;
    if (!rewatch_until.has_value()) {
      rewatch_until = absl::Now() + kRewatchFor;
      std::cerr << "exoroutectl: the node went away (" << s.message() << "); watching " << id
                << " again as soon as it answers, for up to " << absl::FormatDuration(kRewatchFor)
                << " (the plan is cancelled if no watch holds it within " << *cancel_on_disconnect_grace_ms
                << " ms of the node's start)" << std::endl;
    }
    // (A node still draining answers at once, UNAVAILABLE again: no busy loop. A channel that
    // failed to connect waits for a call or this to try again.)
    absl::SleepFor(absl::Milliseconds(100));
    while (!c.channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(1))) {
      if (absl::Now() > *rewatch_until) return s;
    }
  }
}

absl::StatusOr<GetRouteResponse> FetchRoute(Context& c, const std::string& id) {
  GetRouteRequest req;
  req.set_route_id(id);
  return Unary(c, &RouterService::Stub::GetRoute, req);
}

int PrintRoute(Context& c, const GetRouteResponse& r) {
  if (c.json) {
    std::cout << ToJson(r) << "\n";
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

// --urgency low|normal|high ("low" -> URGENCY_LOW, and so on); unspecified when not given.
absl::StatusOr<Urgency> UrgencyFlag(const Args& a) {
  Urgency u = URGENCY_UNSPECIFIED;
  if (!a.Has("urgency")) return u;
  if (!Urgency_Parse(absl::StrCat("URGENCY_", absl::AsciiStrToUpper(a.Get("urgency"))), &u) ||
      u == URGENCY_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat("--urgency must be low, normal or high, got \"", a.Get("urgency"), "\""));
  }
  return u;
}

// An order's --allow A,B, --deny C, --max-venues N, --urgency low|normal|high and
// --arrival-band-bps N (route and solve).
absl::Status SetOrderFlags(const Args& a, ParentOrder* o) {
  for (const auto& v : absl::StrSplit(a.Get("allow"), ',', absl::SkipEmpty())) o->add_allowed_venues(std::string(v));
  for (const auto& v : absl::StrSplit(a.Get("deny"), ',', absl::SkipEmpty())) o->add_denied_venues(std::string(v));
  auto max_venues = a.GetUint("max-venues", 0);
  if (!max_venues.ok()) return max_venues.status();
  o->set_max_venues(static_cast<uint32_t>(*max_venues));
  absl::StatusOr<Urgency> urgency = UrgencyFlag(a);
  if (!urgency.ok()) return urgency.status();
  if (*urgency != URGENCY_UNSPECIFIED) o->set_urgency(*urgency);
  auto arrival = a.GetUint("arrival-band-bps", 0);
  if (!arrival.ok()) return arrival.status();
  if (*arrival > daemon::kMaxArrivalBandBps) {
    return absl::InvalidArgumentError(
        absl::StrCat("--arrival-band-bps must be <= ", daemon::kMaxArrivalBandBps, ", got ", *arrival));
  }
  o->set_arrival_band_bps(static_cast<uint32_t>(*arrival));
  return absl::OkStatus();
}

int CmdRoute(Context& c) {
  const Args& a = c.args;
  for (const char* f : {"symbol", "side", "qty"}) {
    if (!a.Has(f)) return Usage(absl::StrCat("route: --", f, " is required"));
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
  RouteRequest req;
  ParentOrder* o = req.mutable_order();
  o->set_id(a.Get("id", absl::StrCat("ctl-", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count())));
  o->set_symbol(inst->symbol());
  std::string side = a.Get("side");
  if (side != "buy" && side != "sell") return Usage("route: --side must be buy or sell");
  o->set_side(side == "buy" ? SIDE_BUY : SIDE_SELL);
  auto qty = ParseDecimal(a.Get("qty"), inst->qty_scale());
  if (!qty.ok()) return Usage(absl::StrCat("route: --qty: ", qty.status().message()));
  if (*qty <= 0) return Usage(absl::StrCat("route: --qty: must be > 0, got \"", a.Get("qty"), "\""));
  o->set_quantity(*qty);
  if (a.Has("limit")) {
    auto px = ParseDecimal(a.Get("limit"), inst->price_scale());
    if (!px.ok()) return Usage(absl::StrCat("route: --limit: ", px.status().message()));
    o->set_limit_price(*px);
  }
  std::string tif = a.Get("tif", a.Has("expire-ms") ? "gtt" : "gtc");
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

  RouteResponse resp;
  auto ctx = Rpc(c);
  auto st = RouterService::NewStub(c.channel)->Route(ctx.get(), req, &resp);
  if (!st.ok()) return Fail(client::FromGrpc(st));
  if (resp.has_cluster()) {
    if (c.json) {
      std::cout << ToJson(resp) << "\n";
      return kExitOk;
    }
    std::cout << RenderClusterRoute(resp.cluster(), *inst);
    if (a.Has("wait") && req.mode() == ROUTE_MODE_EXECUTE) {
      // Until every node's share has settled, then each node's progress.
      for (;;) {
        auto progress = FetchRoute(c, o->id());
        if (!progress.ok()) return Fail(progress.status());
        const bool unanswered = std::any_of(progress->nodes().begin(), progress->nodes().end(),
                                            [](const NodeProgress& n) { return !n.error().empty(); });
        if (progress->settled() || unanswered) {  // A node that cannot be asked cannot be waited for.
          std::cout << "\n";
          const int printed = PrintRoute(c, *progress);
          return unanswered ? kExitError : printed;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    if (resp.plan().plan_id().empty()) return kExitOk;  // This node's venues got nothing.
  }
  if (!a.Has("wait") || req.mode() == ROUTE_MODE_PLAN_ONLY) return PrintPlan(c, resp.plan());
  if (auto s = Watch(c, o->id(), 1, /*print=*/false, *disconnect); !s.ok()) return Fail(s);
  auto final_plan = FetchPlan(c, o->id());
  if (!final_plan.ok()) return Fail(final_plan.status());
  return PrintPlan(c, *final_plan);
}

int PlanBooksCmd(Context& c, const std::string& plan_id);

// Every plan the node is working (only --symbol's when given), page after page.
absl::StatusOr<std::vector<Plan>> FetchWorkingPlans(Context& c) {
  std::vector<Plan> out;
  ListPlansRequest req;
  req.set_symbol(c.args.Get("symbol"));
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
    } else if (!r->nodes().empty()) {
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
  if (!p.ok()) return Fail(p.status());
  AmendPlanRequest req;
  req.set_plan_id(id);
  req.set_reason(c.args.Get("reason"));
  if (c.args.Has("qty")) {
    auto qty = ParseDecimal(c.args.Get("qty"), p->instrument().qty_scale());
    if (!qty.ok()) return Usage(absl::StrCat("plan amend: --qty: ", qty.status().message()));
    if (*qty <= 0) return Usage(absl::StrCat("plan amend: --qty: must be > 0, got \"", c.args.Get("qty"), "\""));
    req.set_quantity(*qty);
  }
  if (c.args.Has("limit")) {
    auto px = ParseDecimal(c.args.Get("limit"), p->instrument().price_scale());
    if (!px.ok()) return Usage(absl::StrCat("plan amend: --limit: ", px.status().message()));
    if (*px <= 0) return Usage(absl::StrCat("plan amend: --limit: must be > 0, got \"", c.args.Get("limit"), "\""));
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
  req.set_filled_quantity(*filled);
  if (c.args.Has("price")) {
    auto px = ParseDecimal(c.args.Get("price"), inst.price_scale());
    if (!px.ok()) return Usage(absl::StrCat("plan settle: --price: ", px.status().message()));
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

int CmdPlan(Context& c) {
  const auto& w = c.args.words();
  if (w.size() == 2 && w[1] == "list") return PlanListCmd(c);
  if (w.size() == 2 && w[1] == "cancel" && c.args.Has("all")) return PlanCancelAllCmd(c);
  if (w.size() >= 2 && w[1] == "cancel" && c.args.Has("all")) {
    return Usage("plan cancel: either a plan id or --all, not both");
  }
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
    if (!resp.nodes().empty()) {  // A cluster route: every node's plan of it.
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
  auto r = FetchRoute(c, w[1]);
  if (!r.ok()) return Fail(r.status());
  return PrintRoute(c, *r);
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

// Offline: the data directory's database, opened read-only.
absl::StatusOr<std::unique_ptr<store::DeltaStore>> OpenOffline(const std::string& dir) {
  store::StoreOptions o;
  o.path = std::filesystem::exists(dir + "/db/CURRENT") ? dir + "/db" : dir;
  o.read_only = true;
  o.create_if_missing = false;
  o.verify_tail_on_open = 0;  // `audit verify` reports problems itself.
  return store::OpenRocksDeltaStore(o);
}

// `plan books ID [--version N] [--out FILE]`: the books a decision of the plan read (its
// recorded inputs: the first decision, or the one at plan version N) as a book file for
// `exoroutectl solve`, with the command that re-runs it there. From the node (Replay with
// inputs) or, with --data-dir, from its database.
absl::Status WriteJsonFile(const Context& c, const google::protobuf::Message& m);

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
    std::ofstream out(config_path);
    out << json << "\n";
    out.close();
    if (!out) return Fail(absl::PermissionDeniedError(absl::StrCat("--config-out: cannot write ", config_path)));
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
                                     file.books_size(), file.books_size() == 1 ? " venue" : " venues");
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

class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  void Update(uint64_t done, uint64_t total) {
    if (!enabled_ || total == 0) return;
    int pct = static_cast<int>(done * 100 / total);
    if (pct == last_ && done != total) return;
    last_ = pct;
    int bar = pct * 30 / 100;
    std::fprintf(stderr, "\r[%s%s] %3d%% %llu/%llu", std::string(bar, '#').c_str(),
                 std::string(30 - bar, '.').c_str(), pct, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total));
    if (done >= total) std::fputc('\n', stderr);
  }
  ~Progress() {
    if (enabled_ && last_ >= 0 && last_ < 100) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  int last_ = -1;
};

// --from N and --to M, a chain range (0: from the first, to the head).
absl::Status RangeFlags(const Args& a, uint64_t* from, uint64_t* to) {
  auto f = a.GetUint("from", 0);
  if (!f.ok()) return f.status();
  auto t = a.GetUint("to", 0);
  if (!t.ok()) return t.status();
  *from = *f;
  *to = *t;
  return absl::OkStatus();
}

int CmdReplay(Context& c) {
  const Args& a = c.args;
  uint64_t from = 0, to = 0;
  if (absl::Status range = RangeFlags(c.args, &from, &to); !range.ok()) return Usage(std::string(range.message()));
  if (a.Has("plan") && (a.Has("from") || a.Has("to"))) return Usage("replay: --plan excludes --from/--to");
  const bool follow = a.Has("follow");
  if (follow && (a.Has("plan") || a.Has("to") || a.Has("data-dir"))) {
    return Usage("replay: --follow follows the node's chain from --from N: not with --plan, --to or --data-dir");
  }
  Progress progress(!follow && !c.json && (a.Has("progress") || isatty(2)));
  std::map<std::string, Instrument> instruments;
  std::function<absl::StatusOr<Instrument>(const std::string&)> find_instrument;
  InstrumentLookup lookup = [&](const std::string& plan_id) -> const Instrument* {
    auto it = instruments.find(plan_id);
    if (it != instruments.end()) return &it->second;
    auto i = find_instrument(plan_id);
    return i.ok() ? &(instruments[plan_id] = *i) : nullptr;
  };
  uint64_t count = 0, first = 0;
  auto emit = [&](const PlanDelta& d, uint64_t head, const ClusterRoute* cluster) {
    if (d.has_created()) instruments[d.plan_id()] = d.created().instrument();
    std::cout << (c.json ? ToJson(d) : RenderDeltaLine(d, lookup)) << "\n";
    if (cluster != nullptr && !cluster->route_id().empty() && !c.json) {
      // Where the rest of the route lives: the same route id on the other nodes.
      std::cout << "    cluster route " << cluster->route_id() << " coordinated by " << cluster->coordinator()
                << ", nodes " << absl::StrJoin(cluster->nodes(), ",") << ", " << cluster->rounds() << " rounds";
      // The whole order the shares were cut from (recorded since 2026-12-03).
      if (const Instrument* inst = lookup(d.plan_id()); inst != nullptr && cluster->order_quantity() > 0) {
        std::cout << ", order " << FormatDecimal(cluster->order_quantity(), inst->qty_scale());
      }
      for (const auto& dn : cluster->dropped()) std::cout << "; dropped " << dn.node() << ": " << dn.reason();
      for (const auto& v : cluster->venues_dropped()) std::cout << "; left out " << v.venue() << ": " << v.reason();
      std::cout << "\n";
    }
    if (follow) std::cout.flush();  // A line as each delta comes, for whoever reads the pipe.
    if (count++ == 0) first = d.sequence();
    uint64_t last = to ? std::min<uint64_t>(to, head) : head;
    if (!a.Has("plan") && last >= first) progress.Update(d.sequence() - first + 1, last - first + 1);
  };
  absl::Status result;
  if (a.Has("data-dir")) {
    auto st = OpenOffline(a.Get("data-dir"));
    if (!st.ok()) return Fail(st.status());
    store::DeltaStore& s = **st;
    find_instrument = [&](const std::string& plan_id) -> absl::StatusOr<Instrument> {
      Instrument out;
      bool found = false;
      auto r = s.ScanPlan(plan_id, 1, [&](const PlanDelta& d, std::string_view) {
        found = d.has_created();
        if (found) out = d.created().instrument();
        return false;
      });
      if (!found) return absl::NotFoundError("no created delta");
      return out;
    };
    uint64_t head = s.Head().sequence();
    auto visit = [&](const PlanDelta& d, std::string_view) {
      ClusterRoute cluster;
      if (d.has_allocated() && !d.inputs_digest().empty()) {
        if (auto raw = s.GetInputs(d.inputs_digest()); raw.ok()) {
          SolveInput in;
          if (in.ParseFromString(*raw) && in.has_fixed_dual()) cluster = in.fixed_dual().route();
        }
      }
      emit(d, head, &cluster);
      return true;
    };
    result = a.Has("plan") ? s.ScanPlan(a.Get("plan"), 1, visit) : s.Scan(from, to ? to : head, visit);
    if (result.ok() && a.Has("plan") && count == 0) {
      result = absl::NotFoundError(absl::StrCat("plan \"", a.Get("plan"), "\" not found"));
    }
  } else {
    if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
    find_instrument = [&](const std::string& plan_id) -> absl::StatusOr<Instrument> {
      auto p = FetchPlan(c, plan_id);
      if (!p.ok()) return p.status();
      return p->instrument();
    };
    ReplayRequest req;
    req.set_include_cluster(true);
    if (a.Has("plan")) {
      req.set_plan_id(a.Get("plan"));
    } else {
      req.mutable_range()->set_from_sequence(from);
      req.mutable_range()->set_to_sequence(to);
      req.set_follow(follow);
    }
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = AuditService::NewStub(c.channel)->Replay(ctx.get(), req);
    ReplayResponse msg;
    while (reader->Read(&msg)) emit(msg.delta(), msg.head_sequence(), &msg.cluster());
    result = client::FromGrpc(reader->Finish());
  }
  std::cout.flush();
  if (!result.ok()) return Fail(result);
  if (!c.json) std::fprintf(stderr, "%llu deltas\n", static_cast<unsigned long long>(count));
  return kExitOk;
}

// A time as a user writes it: RFC 3339 ("2026-12-04T09:00:00Z", "…+01:00", fractions allowed)
// or a UTC date ("2026-12-04", its midnight). Unix ns.
absl::StatusOr<int64_t> ParseTimeFlag(const std::string& text) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err) ||
      absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) {
    return absl::ToUnixNanos(t);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("not a time: \"", text, "\" (RFC 3339, e.g. 2026-12-04T09:00:00Z, or a UTC date 2026-12-04)"));
}

// `report [--from N] [--to M] [--symbol S] [--since T] [--until T] [--csv]`: the executed plans
// created in the range, as the chain leaves them (ExecutionReport), from the node's Replay or,
// with --data-dir, its database.
int CmdReport(Context& c) {
  const Args& a = c.args;
  uint64_t from = 0, to = 0;
  if (absl::Status range = RangeFlags(c.args, &from, &to); !range.ok()) return Usage(std::string(range.message()));
  if (a.Has("csv") && c.json) return Usage("report: --csv or --json, not both");
  int64_t bounds[2] = {0, 0};  // --since, --until (Unix ns).
  const char* flags[2] = {"since", "until"};
  for (int i = 0; i < 2; ++i) {
    if (!a.Has(flags[i])) continue;
    absl::StatusOr<int64_t> t = ParseTimeFlag(a.Get(flags[i]));
    if (!t.ok()) return Usage(absl::StrCat("report: --", flags[i], ": ", t.status().message()));
    bounds[i] = *t;
  }
  ExecutionReport report(from, a.Get("symbol"), bounds[0], bounds[1]);
  absl::Status result;
  if (a.Has("data-dir")) {
    auto st = OpenOffline(a.Get("data-dir"));
    if (!st.ok()) return Fail(st.status());
    const uint64_t head = (*st)->Head().sequence();
    result = (*st)->Scan(from, to ? to : head, [&](const PlanDelta& d, std::string_view) {
      report.Add(d);
      return true;
    });
  } else {
    if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
    ReplayRequest req;
    req.mutable_range()->set_from_sequence(from);
    req.mutable_range()->set_to_sequence(to);
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = AuditService::NewStub(c.channel)->Replay(ctx.get(), req);
    ReplayResponse msg;
    while (reader->Read(&msg)) report.Add(msg.delta());
    result = client::FromGrpc(reader->Finish());
  }
  if (!result.ok()) return Fail(result);
  const std::vector<ExecutionRow> rows = report.Rows();
  if (c.json) {
    std::cout << RenderExecutionJson(rows);
    return kExitOk;
  }
  std::cout << (a.Has("csv") ? RenderExecutionCsv(rows) : RenderExecutionTable(rows, report.ByVenue()));
  return kExitOk;
}

int PrintVerify(const Context& c, const VerifyResponse& r, bool recompute, const std::string& signed_ok) {
  if (c.json) {
    std::cout << ToJson(r) << "\n";
  } else if (r.ok()) {
    std::cout << "OK: " << r.checked() << " deltas verified";
    if (recompute) {
      std::cout << ", " << r.decisions_checked() << (r.decisions_checked() == 1 ? " decision" : " decisions")
                << " re-solved identically";
    }
    std::cout << "; chain head " << r.head().sequence() << " " << ToHex(r.head().hash()) << "\n";
    if (!signed_ok.empty()) std::cout << "OK: " << signed_ok << "\n";
  } else {
    std::cout << "FAILED at sequence " << r.first_bad_sequence() << ": " << r.error() << "\n";
  }
  return r.ok() ? kExitOk : kExitBadChain;
}

// A signed head an auditor kept (`audit head --out`), and the key it must be signed with.
absl::StatusOr<SignedChainHead> ReadSignedHead(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--signed-head: cannot read ", path));
  std::string json((std::istreambuf_iterator<char>(in)), {});
  SignedChainHead h;
  if (auto s = google::protobuf::util::JsonStringToMessage(json, &h); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--signed-head ", path, ": not a signed chain head: ", s.message().as_string()));
  }
  return h;
}

// Checks that the chain (`local`, or the daemon's over `c`) still has `h` — the node's
// signature and the same hash at its sequence. The error says which.
absl::Status CheckSignedHead(Context& c, const store::DeltaStore* local, const SignedChainHead& h,
                             const std::string& pinned_key, const ChainHead& head) {
  if (auto s = store::VerifySignedHead(h, pinned_key); !s.ok()) return s;
  const uint64_t seq = h.head().sequence();
  if (seq > head.sequence()) {
    return absl::FailedPreconditionError(absl::StrCat("the chain ends at sequence ", head.sequence(),
                                                      ", before the signed head's ", seq, ": deltas were removed"));
  }
  std::string hash(32, '\0');  // An empty chain's head.
  if (seq > 0) {
    hash.clear();
    if (local != nullptr) {
      auto s = local->Scan(seq, seq, [&](const PlanDelta& d, std::string_view) {
        hash = d.hash();
        return false;
      });
      if (!s.ok()) return s;
    } else {
      ReplayRequest req;
      req.mutable_range()->set_from_sequence(seq);
      req.mutable_range()->set_to_sequence(seq);
      auto ctx = Rpc(c);
      auto reader = AuditService::NewStub(c.channel)->Replay(ctx.get(), req);
      ReplayResponse m;
      while (reader->Read(&m)) hash = m.delta().hash();
      if (auto st = reader->Finish(); !st.ok()) return client::FromGrpc(st);
    }
  }
  if (hash != h.head().hash()) {
    return absl::FailedPreconditionError(absl::StrCat("sequence ", seq, " has hash ", ToHex(hash), " but node ",
                                                      h.node_id(), " signed ", ToHex(h.head().hash()),
                                                      ": the chain was changed after the head was signed"));
  }
  return absl::OkStatus();
}

// With --out: `m` as JSON in that file.
absl::Status WriteJsonFile(const Context& c, const google::protobuf::Message& m) {
  if (!c.args.Has("out")) return absl::OkStatus();
  const std::string path = c.args.Get("out");
  std::ofstream out(path);
  out << ToJson(m) << "\n";
  out.close();
  if (!out) return absl::PermissionDeniedError(absl::StrCat("--out: cannot write ", path));
  return absl::OkStatus();
}

// A proof file (`audit prove --out`) as `T`; false if it is not one.
template <typename T>
bool ReadProofFile(const std::string& path, T* out, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = absl::StrCat("cannot read ", path);
    return false;
  }
  std::string json((std::istreambuf_iterator<char>(in)), {});
  auto s = google::protobuf::util::JsonStringToMessage(json, out);
  if (!s.ok()) *error = absl::StrCat(path, " is not a ", T::descriptor()->name(), ": ", s.message().as_string());
  return s.ok();
}

// --public-key HEX as 32 bytes ("" if absent); false if malformed.
bool PinnedKey(const Context& c, std::string* key) {
  if (!c.args.Has("public-key")) return true;
  const std::string hex = c.args.Get("public-key");
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return false;
  *key = absl::HexStringToBytes(hex);
  return true;
}

int ProofFailed(const absl::Status& s) {
  std::cout << "FAILED: " << s.message() << "\n";
  return kExitBadChain;
}

// `audit check-consistency FILE --kept OLD`: the tree head kept in OLD (signed, from an earlier
// proof) is the beginning of the tree FILE's signed head commits to. Offline.
int CheckConsistency(Context& c) {
  const auto& w = c.args.words();
  if (w.size() != 3 || !c.args.Has("kept")) {
    return Usage("audit check-consistency: expected FILE (from `audit prove --from-size`) and --kept OLD");
  }
  std::string pinned, error;
  if (!PinnedKey(c, &pinned)) return Usage("audit check-consistency: --public-key must be 64 hex digits");
  ConsistencyProof p;
  if (!ReadProofFile(w[2], &p, &error)) return Fail(absl::InvalidArgumentError(error));
  // The kept tree head: from an inclusion proof or an earlier consistency proof.
  std::string kept_node, kept_root, kept_key, kept_sig;
  uint64_t kept_size = 0;
  InclusionProof inclusion;
  ConsistencyProof earlier;
  std::string inclusion_error, consistency_error;
  if (ReadProofFile(c.args.Get("kept"), &inclusion, &inclusion_error)) {
    kept_node = inclusion.node_id(), kept_size = inclusion.tree_size(), kept_root = inclusion.root();
    kept_key = inclusion.public_key(), kept_sig = inclusion.signature();
  } else if (ReadProofFile(c.args.Get("kept"), &earlier, &consistency_error)) {
    kept_node = earlier.node_id(), kept_size = earlier.to_size(), kept_root = earlier.to_root();
    kept_key = earlier.public_key(), kept_sig = earlier.signature();
  } else {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--kept: ", inclusion_error)));
  }
  if (auto s = store::VerifyEd25519(kept_key, kept_sig, store::TreeHeadMessage(kept_node, kept_size, kept_root), pinned,
                                    "kept tree head");
      !s.ok()) {
    return ProofFailed(s);
  }
  if (kept_node != p.node_id()) {
    return ProofFailed(absl::FailedPreconditionError(
        absl::StrCat("the kept tree head is node ", kept_node, "'s, the proof node ", p.node_id(), "'s")));
  }
  if (kept_size != p.from_size() || kept_root != p.from_root()) {
    return ProofFailed(absl::FailedPreconditionError(absl::StrCat(
        "the node now gives the first ", p.from_size(), " deltas root ", ToHex(p.from_root()), "; the kept head says ",
        kept_size, " deltas, root ", ToHex(kept_root), ": the log was changed after the kept head was signed")));
  }
  std::vector<std::string> path(p.path().begin(), p.path().end());
  if (auto s = store::VerifyMerkleConsistency(p.from_size(), p.to_size(), p.from_root(), p.to_root(), path); !s.ok()) {
    return ProofFailed(s);
  }
  if (auto s = store::VerifyEd25519(p.public_key(), p.signature(), store::TreeHeadMessage(p.node_id(), p.to_size(), p.to_root()),
                                    pinned, "tree head");
      !s.ok()) {
    return ProofFailed(s);
  }
  std::cout << "OK: node " << p.node_id() << "'s log of " << p.to_size() << " deltas (root " << ToHex(p.to_root())
            << ") begins with the " << kept_size << " of the kept tree head, unchanged\n";
  return kExitOk;
}

// `audit prove`: an inclusion proof (--sequence N) or a consistency proof (--from-size M),
// from the daemon (it signs the tree head), printed and with --out written as JSON.
int ProveCmd(Context& c) {
  grpc::ClientContext ctx;  // The node reads its whole chain: no deadline.
  auto stub = AuditService::NewStub(c.channel);
  auto done = [&](const google::protobuf::Message& proof, const std::string& summary) {
    if (auto s = WriteJsonFile(c, proof); !s.ok()) return Fail(s);
    std::cout << (c.json ? ToJson(proof) : summary) << "\n";
    return kExitOk;
  };
  if (c.args.Has("from-size")) {
    auto from = c.args.GetUint("from-size", 0);
    if (!from.ok() || *from == 0) return Usage("audit prove: --from-size M must be a tree size >= 1");
    ProveConsistencyRequest req;
    req.set_from_size(*from);
    ProveConsistencyResponse r;
    if (auto st = stub->ProveConsistency(&ctx, req, &r); !st.ok()) return Fail(client::FromGrpc(st));
    const ConsistencyProof& p = r.proof();
    return done(p, absl::StrCat("the first ", p.from_size(), " deltas (root ", ToHex(p.from_root()),
                                ") are the beginning of the ", p.to_size(), " now (root ", ToHex(p.to_root()), "); ",
                                p.path_size(), " hashes; tree head signed by ", p.node_id()));
  }
  auto seq = c.args.GetUint("sequence", 0);
  if (!seq.ok() || *seq == 0) return Usage("audit prove: --sequence N (a delta's sequence number) is required");
  ProveInclusionRequest req;
  req.set_sequence(*seq);
  ProveInclusionResponse r;
  if (auto st = stub->ProveInclusion(&ctx, req, &r); !st.ok()) return Fail(client::FromGrpc(st));
  const InclusionProof& p = r.proof();
  return done(p, absl::StrCat("delta ", p.sequence(), " is leaf ", p.sequence() - 1, " of ", p.tree_size(), "; root ",
                              ToHex(p.root()), "; ", p.path_size(), " hashes; tree head signed by ", p.node_id()));
}

// `audit check-proof FILE`: everything from the file, nothing from a node or a log.
int CheckProof(Context& c) {
  const auto& w = c.args.words();
  if (w.size() != 3) return Usage("audit check-proof: expected one FILE (from `audit prove --out`)");
  std::string pinned, error;
  if (!PinnedKey(c, &pinned)) return Usage("audit check-proof: --public-key must be the Ed25519 key as 64 hex digits");
  InclusionProof p;
  if (!ReadProofFile(w[2], &p, &error)) return Fail(absl::InvalidArgumentError(absl::StrCat("audit check-proof: ", error)));
  absl::StatusOr<PlanDelta> d = store::DecodeCanonical(p.canonical());
  if (!d.ok()) return ProofFailed(d.status());
  if (d->sequence() != p.sequence()) {
    return ProofFailed(absl::FailedPreconditionError(
        absl::StrCat("the delta says sequence ", d->sequence(), ", the proof ", p.sequence())));
  }
  if (p.sequence() == 0) return ProofFailed(absl::FailedPreconditionError("sequence 0 is no delta"));
  std::vector<std::string> path(p.path().begin(), p.path().end());
  if (auto s = store::VerifyMerkleInclusion(p.sequence() - 1, p.tree_size(), store::MerkleLeafHash(p.canonical()),
                                            path, p.root());
      !s.ok()) {
    return ProofFailed(s);
  }
  if (auto s = store::VerifyEd25519(p.public_key(), p.signature(), store::TreeHeadMessage(p.node_id(), p.tree_size(), p.root()),
                                    pinned, "tree head");
      !s.ok()) {
    return ProofFailed(s);
  }
  std::cout << "OK: delta " << p.sequence() << " (" << d->plan_id() << " v" << d->plan_version() << ", "
            << DeltaKindName(*d) << ") is in the log of node " << p.node_id() << " up to " << p.tree_size()
            << " (root " << ToHex(p.root()) << ", Ed25519 key " << ToHex(p.public_key()) << ")\n";
  return kExitOk;
}

// `audit verify --follow [--from N]`: the node's chain from delta N (1: its first), checked link
// by link as the node sends it (a Replay that follows, with the bytes each hash covers), then each
// delta as it is recorded: an independent, live check of the chain the node keeps. A line each
// time it has caught up with the head; exit 1 naming the first delta that does not check out, or
// when the node stops (its words name where to follow again from).
int VerifyFollowing(Context& c, uint64_t from) {
  if (from == 0) from = 1;
  auto stub = AuditService::NewStub(c.channel);
  ReplayResponse msg;
  std::string prev = store::GenesisHash();
  if (from > 1) {  // The hash of the delta before: the first link's other end.
    ReplayRequest before;
    before.mutable_range()->set_from_sequence(from - 1);
    before.mutable_range()->set_to_sequence(from - 1);
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = stub->Replay(ctx.get(), before);
    const bool got = reader->Read(&msg);
    ReplayResponse more;
    while (reader->Read(&more)) {
    }
    if (absl::Status s = client::FromGrpc(reader->Finish()); !s.ok()) return Fail(s);
    if (!got) return Fail(absl::NotFoundError(absl::StrCat("--from: the chain has no delta ", from - 1, " before ", from)));
    prev = msg.delta().hash();
  }
  store::ChainLinks links(from, prev);
  ReplayRequest req;
  req.mutable_range()->set_from_sequence(from);
  req.set_follow(true);
  req.set_include_canonical(true);
  auto ctx = Rpc(c, /*streaming=*/true);
  auto reader = stub->Replay(ctx.get(), req);
  while (reader->Read(&msg)) {
    const PlanDelta& sent = msg.delta();
    if (absl::Status link = links.NextSent(sent, msg.canonical()); !link.ok()) {
      ctx->TryCancel();  // (A refused link does not move on: next_sequence() is the bad one.)
      return Fail(absl::DataLossError(absl::StrCat("delta ", links.next_sequence(), ": ", link.message())));
    }
    if (sent.sequence() >= msg.head_sequence()) {  // Caught up with the head the node read.
      ChainHead head;
      head.set_sequence(sent.sequence());
      head.set_hash(sent.hash());
      std::cout << (c.json ? ToJson(head) : absl::StrCat("verified through ", sent.sequence(), "  ", ToHex(sent.hash())))
                << std::endl;
    }
  }
  absl::Status ended = client::FromGrpc(reader->Finish());
  return ended.ok() ? kExitOk : Fail(ended);
}

int CmdAudit(Context& c) {
  const auto& w = c.args.words();
  if (w.size() < 2) return Usage("audit: expected `audit verify` or `audit head`");
  if (w[1] == "check-proof") return CheckProof(c);
  if (w[1] == "check-consistency") return CheckConsistency(c);
  bool offline = c.args.Has("data-dir");
  std::unique_ptr<store::DeltaStore> local;
  if (offline) {
    auto st = OpenOffline(c.args.Get("data-dir"));
    if (!st.ok()) return Fail(st.status());
    local = *std::move(st);
  } else if (auto s = EnsureConnected(c); !s.ok()) {
    return Fail(s);
  }
  if (w[1] == "head") {
    GetChainHeadResponse r;
    if (offline) {
      if (c.args.Has("out")) return Usage("audit head --out: the daemon signs heads; ask it (without --data-dir)");
      *r.mutable_head() = local->Head();
    } else {
      auto ctx = Rpc(c);
      auto st = AuditService::NewStub(c.channel)->GetChainHead(ctx.get(), GetChainHeadRequest(), &r);
      if (!st.ok()) return Fail(client::FromGrpc(st));
    }
    if (c.args.Has("out")) {
      const std::string path = c.args.Get("out");
      std::ofstream out(path);
      out << ToJson(r.signed_head()) << "\n";
      out.close();
      if (!out) return Fail(absl::PermissionDeniedError(absl::StrCat("--out: cannot write ", path)));
    }
    if (c.json) {
      std::cout << ToJson(r) << "\n";
    } else {
      std::cout << r.head().sequence() << " " << ToHex(r.head().hash()) << "\n";
      if (r.has_signed_head()) {
        std::cout << "signed by " << r.signed_head().node_id() << ", Ed25519 key "
                  << ToHex(r.signed_head().public_key()) << "\n";
      }
    }
    return kExitOk;
  }
  if (w[1] == "prove") {
    if (offline) return Usage("audit prove: the daemon signs the tree head; ask it (without --data-dir)");
    return ProveCmd(c);
  }
  if (w[1] != "verify") return Usage(absl::StrCat("audit: unknown subcommand \"", w[1], "\""));
  uint64_t from = 0, to = 0;
  if (absl::Status range = RangeFlags(c.args, &from, &to); !range.ok()) return Usage(std::string(range.message()));
  if (c.args.Has("follow")) {
    if (offline || c.args.Has("to") || c.args.Has("recompute") || c.args.Has("signed-head")) {
      return Usage("audit verify --follow checks the node's chain as it grows, from --from N: not with --to, "
                   "--recompute, --signed-head or --data-dir");
    }
    return VerifyFollowing(c, from);
  }
  bool recompute = c.args.Has("recompute");
  std::optional<SignedChainHead> signed_head;
  std::string pinned_key;
  if (c.args.Has("signed-head")) {
    auto h = ReadSignedHead(c.args.Get("signed-head"));
    if (!h.ok()) return Fail(h.status());
    signed_head = *std::move(h);
  }
  if (c.args.Has("public-key")) {
    const std::string hex = c.args.Get("public-key");
    if (!signed_head) return Usage("audit verify: --public-key goes with --signed-head");
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      return Usage("audit verify: --public-key must be the Ed25519 key as 64 hex digits");
    }
    pinned_key = absl::HexStringToBytes(hex);
  }
  VerifyResponse r;
  if (offline) {
    Progress progress(!c.json && (c.args.Has("progress") || isatty(2)));
    *r.mutable_head() = local->Head();
    store::VerifyReport rep = local->Verify(from, to, [&](uint64_t d, uint64_t t) {
      progress.Update(d, t);
      return true;
    });
    r.set_ok(rep.ok);
    r.set_checked(rep.checked);
    r.set_first_bad_sequence(rep.first_bad_sequence);
    r.set_error(rep.error);
    if (rep.ok && recompute) {
      daemon::DecisionReport d = daemon::VerifyDecisions(*local, from, to ? to : r.head().sequence());
      r.set_ok(d.ok);
      r.set_decisions_checked(d.checked);
      r.set_first_bad_sequence(d.first_bad_sequence);
      r.set_error(d.error);
    }
  } else {
    VerifyRequest req;
    req.mutable_range()->set_from_sequence(from);
    req.mutable_range()->set_to_sequence(to);
    req.set_recompute_decisions(recompute);
    grpc::ClientContext ctx;  // Verification of a long chain may take a while: no deadline.
    auto st = AuditService::NewStub(c.channel)->Verify(&ctx, req, &r);
    if (!st.ok()) return Fail(client::FromGrpc(st));
  }
  std::string signed_ok;
  if (signed_head && r.ok()) {
    absl::Status s = CheckSignedHead(c, local.get(), *signed_head, pinned_key, r.head());
    if (s.ok()) {
      signed_ok = absl::StrCat("signed head ", signed_head->head().sequence(), " of node ", signed_head->node_id(),
                               " (Ed25519 key ", ToHex(signed_head->public_key()), ") is in this chain");
    } else {
      r.set_ok(false);
      r.set_first_bad_sequence(signed_head->head().sequence());
      r.set_error(std::string(s.message()));
    }
  }
  return PrintVerify(c, r, recompute, signed_ok);
}

// The mid of the best bid and best ask over the input's venues that are usable and whose books
// are not stale at its decision time (as a node values an order for its risk limits), if any.
std::optional<int64_t> BooksMid(const SolveInput& in) {
  int64_t best_bid = 0, best_ask = 0;
  for (const VenueInput& v : in.venues()) {
    const VenueBook& b = v.book();
    if (!v.exclusion().empty() || b.receive_time_ns() == 0) continue;
    const int64_t max_age_ms = v.max_book_age_ms() > 0 ? v.max_book_age_ms() : 5000;  // (The solver's default.)
    if (static_cast<__int128>(in.decision_time_ns()) - b.receive_time_ns() > static_cast<__int128>(max_age_ms) * 1'000'000) {
      continue;
    }
    if (!b.bids().empty()) best_bid = std::max(best_bid, b.bids(0).price());
    if (!b.asks().empty() && (best_ask == 0 || b.asks(0).price() < best_ask)) best_ask = b.asks(0).price();
  }
  if (best_bid == 0 || best_ask == 0) return std::nullopt;
  return MulDivRound(static_cast<__int128>(best_bid) + best_ask, 1, 2);
}

// The cheapest plan for the whole order on one venue alone (each venue the decision may use,
// solved by itself), or when none fills it the venue that fills the most: what sending it all
// to the best venue would do, set beside the split. Only for a split that fills the order.
std::optional<OneVenuePlan> BestOneVenue(const SolveInput& in, const Decision& split) {
  if (split.allocations_size() < 2 || split.shortfall() > 0) return std::nullopt;
  std::optional<OneVenuePlan> best;
  for (const VenueInput& v : in.venues()) {
    if (!v.exclusion().empty()) continue;
    SolveInput one = in;
    for (VenueInput& other : *one.mutable_venues()) {
      if (other.venue() != v.venue() && other.exclusion().empty()) other.set_exclusion("not this venue");
    }
    absl::StatusOr<Decision> d = solver::Solve(one);
    if (!d.ok()) continue;
    const bool better = !best || (d->shortfall() == 0 && best->decision.shortfall() > 0) ||
                        (d->shortfall() == 0 && best->decision.shortfall() == 0 &&
                         d->expected_cost() < best->decision.expected_cost()) ||
                        (d->shortfall() > 0 && best->decision.shortfall() > 0 &&
                         d->allocated_quantity() > best->decision.allocated_quantity());
    if (better) best = OneVenuePlan{v.venue(), *std::move(d)};
  }
  return best;
}

int CmdSolve(Context& c) {
  const Args& a = c.args;
  for (const char* f : {"books", "side", "qty"}) {
    if (!a.Has(f)) return Usage(absl::StrCat("solve: --", f, " is required"));
  }
  auto config = daemon::LoadConfig(a.Get("config"));
  if (!config.ok()) return Fail(config.status());
  auto file = adapters::LoadBookFile(a.Get("books"));
  if (!file.ok()) return Fail(file.status());
  std::string symbol = a.Get("symbol");
  if (symbol.empty()) {
    auto only = daemon::BookFileSymbol(*file, a.Get("books"));
    if (!only.ok()) return Fail(only.status());
    symbol = *only;
  }
  const Instrument* inst = nullptr;
  std::vector<std::string> known;
  for (const auto& i : config->instruments()) {
    known.push_back(i.symbol());
    if (i.symbol() == symbol) inst = &i;
  }
  if (inst == nullptr) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat(a.Has("symbol") ? "--symbol" : "--books", ": unknown symbol \"", symbol,
                     "\" (the config trades: ", absl::StrJoin(known, ", "), ")")));
  }
  // The order as `route` would send it (the same flags), checked as the node checks it.
  ParentOrder order;
  order.set_symbol(symbol);
  std::string side = a.Get("side");
  if (side != "buy" && side != "sell") return Usage("solve: --side must be buy or sell");
  order.set_side(side == "buy" ? SIDE_BUY : SIDE_SELL);
  auto qty = ParseDecimal(a.Get("qty"), inst->qty_scale());
  if (!qty.ok()) return Usage(absl::StrCat("solve: --qty: ", qty.status().message()));
  if (*qty <= 0) return Usage(absl::StrCat("solve: --qty: must be > 0, got \"", a.Get("qty"), "\""));
  order.set_quantity(*qty);
  if (a.Has("limit")) {
    auto px = ParseDecimal(a.Get("limit"), inst->price_scale());
    if (!px.ok()) return Usage(absl::StrCat("solve: --limit: ", px.status().message()));
    order.set_limit_price(*px);
  }
  if (absl::Status s = SetOrderFlags(a, &order); !s.ok()) return Usage(std::string(s.message()));
  std::optional<SolverMethod> method;
  if (a.Has("method")) {
    const std::string m = a.Get("method");
    if (m != "exact" && m != "admm") return Usage("solve: --method must be exact or admm");
    method = m == "admm" ? SOLVER_METHOD_ADMM : SOLVER_METHOD_EXACT;
  }
  // --at: decide as at that time (ns since the epoch; `plan books` prints a decision's), which
  // books are stale then; default now.
  auto at = a.GetUint("at", 0);
  if (!at.ok()) return Usage(std::string(at.status().message()));
  const int64_t now = *at > 0 ? static_cast<int64_t>(*at) : SystemClock()->NowNs();
  auto in = daemon::WhatIfInput(*config, *file, a.Get("books"), order, method, now);
  if (!in.ok()) return Fail(in.status());
  // The config's risk limits on the order's size and notional, as a node checks them (the mid
  // from the file's books that are not stale then; a node's working plans are not known here).
  std::string risk_name;
  if (const RiskLimit* limit = daemon::FindRiskLimit(*config, symbol, &risk_name); limit != nullptr) {
    if (absl::Status s = daemon::CheckOrderRiskLimit(limit, risk_name, order, *inst, BooksMid(*in)); !s.ok()) {
      return Fail(s);
    }
  }
  auto d = solver::Solve(*in);
  if (!d.ok()) return Fail(d.status());
  if (c.json) {
    std::cout << ToJson(*d) << "\n";
  } else {
    const std::optional<OneVenuePlan> alone = BestOneVenue(*in, *d);
    std::cout << RenderDecision(*d, *inst, in->side(), in->quantity(), alone ? &*alone : nullptr);
  }
  return kExitOk;
}

// `halt --reason TEXT [--venue V | --symbol S]` / `resume …`: AdminService.SetTrading.
int CmdSetTrading(Context& c, bool halt) {
  const char* cmd = halt ? "halt" : "resume";
  if (c.args.words().size() != 1) {
    return Usage(absl::StrCat(cmd, ": takes no arguments, only --reason TEXT [--venue V | --symbol S]"));
  }
  if (!c.args.Has("reason")) return Usage(absl::StrCat(cmd, ": --reason is required (it is recorded in the chain)"));
  if (c.args.Has("venue") && c.args.Has("symbol")) {
    return Usage(absl::StrCat(cmd, ": --venue or --symbol, not both"));
  }
  SetTradingRequest req;
  req.set_action(halt ? TRADING_ACTION_HALT : TRADING_ACTION_RESUME);
  req.set_reason(c.args.Get("reason"));
  req.set_venue(c.args.Get("venue"));
  req.set_symbol(c.args.Get("symbol"));
  absl::StatusOr<SetTradingResponse> r = Unary(c, &AdminService::Stub::SetTrading, req);
  if (!r.ok()) return Fail(r.status());
  if (c.json) {
    std::cout << ToJson(*r) << "\n";
    return kExitOk;
  }
  const TradingStatus& t = r->trading();
  const std::string where = !req.venue().empty()    ? absl::StrCat(" at venue ", req.venue())
                            : !req.symbol().empty() ? absl::StrCat(" in ", req.symbol())
                                                    : "";
  if (!r->changed()) {
    std::cout << "trading" << where << (t.halted() ? " was already halted" : " was not halted") << "; nothing recorded\n";
    return kExitOk;
  }
  if (!req.venue().empty()) {
    std::cout << "trading" << where << (t.halted() ? " halted" : " resumed") << " (recorded at sequence " << t.sequence()
              << (t.halted() ? "): executed plans decide without it; its open children stay open\n"
                             : "): executed plans use it again\n");
    return kExitOk;
  }
  if (!req.symbol().empty()) {
    if (t.halted()) {
      std::cout << "trading" << where << " halted (recorded at sequence " << t.sequence() << "): no child order of "
                << req.symbol() << " is sent and its EXECUTE routes are refused until `exoroutectl resume --symbol "
                << req.symbol() << "`; other symbols trade on; open children stay open (`exoroutectl plan cancel "
                << "--all --symbol " << req.symbol() << "` cancels them)\n";
    } else {
      std::cout << "trading" << where << " resumed (recorded at sequence " << t.sequence()
                << "): its working plans decide again\n";
    }
    return kExitOk;
  }
  if (t.halted()) {
    std::cout << "trading halted (recorded at sequence " << t.sequence()
              << "): no child order is sent and EXECUTE routes are refused until `exoroutectl resume`; "
                 "open children stay open (`exoroutectl plan cancel --all` cancels them)\n";
  } else {
    std::cout << "trading resumed (recorded at sequence " << t.sequence() << "): working plans decide again\n";
  }
  return kExitOk;
}

int CmdContracts(Context& c) {
  if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
  ListContractsResponse r;
  auto ctx = Rpc(c);
  auto st = AdminService::NewStub(c.channel)->ListContracts(ctx.get(), ListContractsRequest(), &r);
  if (!st.ok()) return Fail(client::FromGrpc(st));
  if (c.json) {
    std::cout << ToJson(r) << "\n";
  } else if (c.args.Has("dot")) {
    std::cout << "digraph contracts {\n  rankdir=LR;\n";
    for (const auto& n : r.nodes()) {
      std::cout << "  \"" << n.id() << "\" [shape=" << (n.kind() == "engine" ? "box" : "ellipse") << "];\n";
    }
    for (const auto& e : r.edges()) {
      std::cout << "  \"" << e.producer() << "\" -> \"" << e.consumer() << "\" [label=\"" << e.contract() << "\"];\n";
    }
    std::cout << "}\n";
  } else {
    std::cout << RenderContracts(r);
  }
  return kExitOk;
}

int CmdBackup(Context& c) {
  const auto& w = c.args.words();
  if (w.size() != 2) return Usage("backup NAME: one name (letters, digits, '.', '_', '-')");
  BackupRequest req;
  req.set_name(w[1]);
  // (A backup links or copies the whole database: more than a status call's time on a big one.)
  if (!c.args.Has("timeout")) c.timeout = std::chrono::minutes(10);
  absl::StatusOr<BackupResponse> r = Unary(c, &AdminService::Stub::Backup, req);
  if (!r.ok()) return Fail(r.status());
  if (c.json) {
    std::cout << ToJson(*r) << "\n";
    return kExitOk;
  }
  std::cout << "backup " << w[1] << ": " << r->path() << "\n"
            << "  chain head " << r->head().sequence() << " " << absl::BytesToHexString(r->head().hash()) << "\n"
            << "  " << r->bytes() << " bytes, " << r->duration_ms() << " ms\n"
            << "check it:  exoroutectl audit verify --data-dir " << r->path() << "\n"
            << "restore:   stop the node, put the backup's db/ and keys/ in its data directory, start it\n"
            << "           (or start exorouted with data_dir " << r->path() << ")\n";
  return kExitOk;
}

// `config show [--at N] [--data-dir DIR]`: the config the chain says was in force at delta N
// (default: now), as a config file's JSON on stdout; which event recorded it on stderr.
int CmdConfigShow(Context& c) {
  auto at = c.args.GetUint("at", 0);
  if (!at.ok()) return Usage(std::string(at.status().message()));
  if (c.args.Has("at") && *at == 0) return Usage("config show --at N: a sequence number, from 1");
  std::optional<std::pair<PlanDelta, DaemonConfig>> found;
  auto consider = [&](const PlanDelta& d, const DaemonConfig* config) {
    if (d.governance().kind() != GOVERNANCE_KIND_CONFIG_APPLIED || (*at != 0 && d.sequence() > *at)) return;
    found.emplace(d, config != nullptr ? *config : DaemonConfig());
  };
  absl::Status result;
  if (c.args.Has("data-dir")) {
    auto st = OpenOffline(c.args.Get("data-dir"));
    if (!st.ok()) return Fail(st.status());
    const store::DeltaStore& s = **st;
    result = s.ScanPlan(daemon::kGovernancePlanId, 1, [&](const PlanDelta& d, std::string_view) {
      if (d.governance().kind() != GOVERNANCE_KIND_CONFIG_APPLIED) return true;
      absl::StatusOr<std::string> raw = s.GetInputs(d.inputs_digest());
      DaemonConfig config;
      if (!raw.ok() || !config.ParseFromString(*raw)) {
        result = absl::DataLossError(absl::StrCat("delta ", d.sequence(), ": its stored config is missing or does not "
                                                  "parse (`exoroutectl audit verify` checks them all)"));
        return false;
      }
      consider(d, &config);
      return true;
    });
  } else {
    if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
    ReplayRequest req;
    req.set_plan_id(daemon::kGovernancePlanId);
    req.set_include_inputs(true);
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = AuditService::NewStub(c.channel)->Replay(ctx.get(), req);
    ReplayResponse msg;
    while (reader->Read(&msg)) consider(msg.delta(), &msg.config());
    result = client::FromGrpc(reader->Finish());
  }
  if (!result.ok()) return Fail(result);
  if (!found) {
    return Fail(absl::NotFoundError(*at != 0 ? absl::StrCat("no config recorded at or before sequence ", *at)
                                             : std::string("no config recorded in this chain")));
  }
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(found->second, &json, opts).ok()) {
    return Fail(absl::InternalError("the config does not print as JSON"));
  }
  std::cout << json;
  const PlanDelta& d = found->first;
  std::fprintf(stderr, "config in force %s: recorded at sequence %llu (%s), sha256 %s; %s\n",
               *at != 0 ? absl::StrCat("at sequence ", *at).c_str() : "now",
               static_cast<unsigned long long>(d.sequence()),
               absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixNanos(d.event_time_ns()), absl::UTCTimeZone())
                   .c_str(),
               ToHex(d.governance().digest()).c_str(), d.governance().detail().c_str());
  return kExitOk;
}

// `config reload [--dry-run]`: AdminService.ReloadConfig; `config show …`: CmdConfigShow.
int CmdConfig(Context& c) {
  const auto& w = c.args.words();
  if (w.size() == 2 && w[1] == "show") return CmdConfigShow(c);
  if (w.size() != 2 || w[1] != "reload") return Usage("config reload [--dry-run] | config show [--at N]");
  ReloadConfigRequest req;
  req.set_dry_run(c.args.Has("dry-run"));
  absl::StatusOr<ReloadConfigResponse> r = Unary(c, &AdminService::Stub::ReloadConfig, req);
  if (!r.ok()) return Fail(r.status());
  if (c.json) {
    std::cout << ToJson(*r) << "\n";
  } else {
    std::cout << RenderConfigReload(*r, req.dry_run());
  }
  return kExitOk;
}

std::string DefaultEndpoint() {
  if (const char* e = std::getenv("EXOROUTE_ENDPOINT")) return e;
  std::ifstream in("./exoroute-data/endpoint");
  std::string line;
  if (in && std::getline(in, line) && !line.empty()) return line;
  return "127.0.0.1:50551";
}

int Main(int argc, char** argv) {
  auto parsed = Args::Parse(argc, argv,
                            {"endpoint", "ca", "cert", "key", "timeout", "data-dir", "symbol", "side",
                             "qty", "limit", "id", "tif", "expire-ms", "allow", "deny", "reason", "from",
                             "to", "plan", "books", "config", "max-venues", "urgency", "arrival-band-bps", "out", "signed-head", "public-key", "sequence", "from-size", "kept",
                             "method", "version", "at", "config-out", "venue", "since", "until", "grace-ms", "depth",
                             "filled", "price", "fee"},
                            {"insecure", "json", "execute", "wait", "recompute", "progress", "help", "dot", "all", "dry-run",
                             "csv", "market", "follow", "cancel-on-disconnect"});
  if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  Context c;
  c.args = *std::move(parsed);
  const auto& w = c.args.words();
  if (c.args.Has("help") || w.empty() || w[0] == "help") {
    std::fputs(kHelp, w.empty() && !c.args.Has("help") ? stderr : stdout);
    return w.empty() && !c.args.Has("help") ? kExitUsage : kExitOk;
  }
  c.json = c.args.Has("json");
  c.conn.endpoint = c.args.Get("endpoint", DefaultEndpoint());
  const char* env_ca = std::getenv("EXOROUTE_CA");
  c.conn.ca_file = c.args.Get("ca", env_ca ? env_ca : "./exoroute-data/certs/ca.pem");
  c.conn.cert_file = c.args.Get("cert");
  c.conn.key_file = c.args.Get("key");
  c.conn.insecure = c.args.Has("insecure");
  auto timeout = c.args.GetUint("timeout", 5000);
  if (!timeout.ok()) return Usage(std::string(timeout.status().message()));
  c.timeout = std::chrono::milliseconds(*timeout);
  c.conn.connect_timeout = c.timeout;

  const std::string& cmd = w[0];
  if (cmd == "solve") return CmdSolve(c);
  const bool offline_ok = cmd == "replay" || cmd == "audit" || cmd == "report" ||
                          (cmd == "plan" && w.size() > 1 && w[1] == "books") ||
                          (cmd == "config" && w.size() > 1 && w[1] == "show");
  if (c.args.Has("data-dir") && !offline_ok) {
    return Usage(absl::StrCat("--data-dir works with replay, report, audit, plan books and config show, not ", cmd));
  }
  if (cmd == "status") return CmdStatus(c);
  if (cmd == "budgets") return CmdBudgets(c);
  if (cmd == "books") return CmdBooks(c);
  if (cmd == "route") return CmdRoute(c);
  if (cmd == "plan") return CmdPlan(c);
  if (cmd == "watch") return CmdWatch(c);
  if (cmd == "route-status") return CmdRouteStatus(c);
  if (cmd == "replay") return CmdReplay(c);
  if (cmd == "report") return CmdReport(c);
  if (cmd == "audit") return CmdAudit(c);
  if (cmd == "contracts") return CmdContracts(c);
  if (cmd == "backup") return CmdBackup(c);
  if (cmd == "config") return CmdConfig(c);
  if (cmd == "halt" || cmd == "resume") return CmdSetTrading(c, cmd == "halt");
  return Usage(absl::StrCat("unknown command \"", cmd, "\""));
}

}  // namespace
}  // namespace exo::ctl

#if defined(__SANITIZE_ADDRESS__)
// Sanitizer builds (./test.sh --sanitize) only. gRPC's executor threads clear OpenSSL's error
// queue (ERR_clear_error), which gives each thread its own error state; one still running when
// this short-lived process exits keeps it, and LeakSanitizer called that a leak now and then
// (904 bytes, OpenSSL 3's ERR_STATE; caught once with a full stack: ERR_clear_error <- libgrpc <-
// grpc_core::Executor::ThreadMain). Full stacks (slow unwinding: cheap for a CLI) let exactly
// that allocation be named and left out; any other leak is still reported.
extern "C" const char* __asan_default_options() { return "fast_unwind_on_malloc=0"; }
extern "C" const char* __lsan_default_suppressions() { return "leak:ERR_clear_error\n"; }
#endif

int main(int argc, char** argv) { return exo::ctl::Main(argc, argv); }
