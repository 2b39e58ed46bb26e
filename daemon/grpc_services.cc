#include "daemon/grpc_services.h"
#include "store/chain_proofs.h"
#include "exo/status_macros.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include "daemon/cluster/coordinator.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "daemon/decision_audit.h"
#include "daemon/plan_fold.h"
#include "daemon/process_stats.h"
#include "daemon/request_validation.h"
#include "exo/clock.h"
#include "exo/log.h"

#ifndef EXO_VERSION
#define EXO_VERSION "dev"
#endif

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT

namespace {

// Status lists at most this many unanswered children (the oldest; it counts them all).
constexpr size_t kMaxUnansweredListed = 100;

}  // namespace

namespace {

// A place among the streams of one kind open at once (listen.max_watches, listen.max_replays):
// counted for the stream's life; one over the limit is turned away at once, since each open
// stream holds a server thread.
class StreamSlot {
 public:
  StreamSlot(std::atomic<uint32_t>& open, uint32_t limit) : open_(open), limit_(limit), admitted_(++open <= limit) {}
  ~StreamSlot() { --open_; }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;
  bool admitted() const { return admitted_; }
  grpc::Status Refusal(const char* call, const char* streams, const char* field) const {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat(call, ": ", limit_, " ", streams, " are open, the limit (", field,
                                     "); close one, or raise the limit"));
  }

 private:
  std::atomic<uint32_t>& open_;
  const uint32_t limit_;
  const bool admitted_;
};

// A stream's Write failed: the client went away, or the watchdog ended the stream.
grpc::Status WriteFailed(const StreamWatchdog::Stream& stream, const char* call) {
  if (!stream.stalled()) return grpc::Status(grpc::StatusCode::CANCELLED, absl::StrCat(call, ": the client went away"));
  return grpc::Status(grpc::StatusCode::CANCELLED,
                      absl::StrCat(call, ": the client read nothing for listen.stream_stall_ms; stream ended"));
}

}  // namespace

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share their numeric values.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

namespace {

// Whether the caller may call `rpc` (the config's access section; without AccessControl, as
// in tests of a service alone, every caller may), and then whether its request has only fields
// this node knows (CheckKnownFields). Each handler asks first.
grpc::Status Allowed(AccessControl* access, const grpc::ServerContext& ctx, ApiRpc rpc,
                     const google::protobuf::Message& request) {
  if (access != nullptr) {
    if (grpc::Status s = access->Check(ctx, rpc); !s.ok()) return s;
  }
  return ToGrpc(CheckKnownFields(request));
}

}  // namespace

grpc::Status RouterServiceImpl::Route(grpc::ServerContext* ctx, const RouteRequest* req,
                                      RouteResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kRoute, *req); !s.ok()) return s;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status s = DoRoute(*req, ClientIdentity(*ctx), resp);
  if (s.ok()) {
    route_latency_.Record(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  }
  return s;
}

grpc::Status RouterServiceImpl::DoRoute(const RouteRequest& request, const std::string& routed_by,
                                        RouteResponse* resp) {
  const RouteRequest* req = &request;
  if (auto s = ValidateRoute(*req); !s.ok()) return ToGrpc(s);
  // A halted node neither trades nor coordinates a cluster route that would trade elsewhere.
  if (req->mode() == ROUTE_MODE_EXECUTE) {
    if (absl::Status halted = engine_->CheckTradingAllowed(req->order().symbol()); !halted.ok()) return ToGrpc(halted);
  }
  if (coordinator_ != nullptr) {
    absl::StatusOr<RouteResponse> r = coordinator_->Route(req->order(), req->mode(), engine_, routed_by);
    if (!r.ok()) return ToGrpc(r.status());
    *resp = *std::move(r);
    return grpc::Status::OK;
  }
  absl::StatusOr<Plan> plan = engine_->Route(req->order(), req->mode(), std::nullopt, routed_by);
  if (!plan.ok()) return ToGrpc(plan.status());
  *resp->mutable_plan() = *std::move(plan);
  return grpc::Status::OK;
}

grpc::Status RouterServiceImpl::GetPlan(grpc::ServerContext* ctx, const GetPlanRequest* req,
                                        GetPlanResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kGetPlan, *req); !s.ok()) return s;
  if (auto s = ValidatePlanId(req->plan_id()); !s.ok()) return ToGrpc(s);
  absl::StatusOr<Plan> plan = engine_->GetPlan(req->plan_id());
  if (!plan.ok()) return ToGrpc(plan.status());
  *resp->mutable_plan() = *std::move(plan);
  return grpc::Status::OK;
}

grpc::Status RouterServiceImpl::MayChange(const grpc::ServerContext& ctx, ApiRpc rpc, const std::string& plan_id,
                                          const char* change) {
  const DaemonConfig& config = engine_->config();
  if (!config.has_access()) return grpc::Status::OK;
  const std::string caller = ClientIdentity(ctx);
  const std::vector<std::string> roles = RolesOf(config.access(), caller);
  if (std::find(roles.begin(), roles.end(), "operate") != roles.end()) return grpc::Status::OK;
  std::string owner;  // Who sent the order ("" = not known, or no such plan: the call says so).
  if (coordinator_ != nullptr) {  // A cluster route: as its nodes recorded it.
    if (absl::StatusOr<GetRouteResponse> r = coordinator_->Progress(plan_id, *engine_); r.ok()) owner = r->routed_by();
  } else if (absl::StatusOr<Plan> p = engine_->GetPlan(plan_id); p.ok()) {
    owner = p->routed_by();
  }
  if (owner.empty() || owner == caller) return grpc::Status::OK;
  const absl::Status refusal = absl::PermissionDeniedError(
      absl::StrCat("client \"", caller, "\" may not ", change, " plan \"", plan_id, "\": client \"", owner,
                   "\" routed it (a trader changes only the orders it sent; access.operate may cancel any)"));
  return access_ != nullptr ? access_->Refuse(caller, rpc, refusal) : ToGrpc(refusal);
}

grpc::Status RouterServiceImpl::CancelPlan(grpc::ServerContext* ctx, const CancelPlanRequest* req,
                                           CancelPlanResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kCancelPlan, *req); !s.ok()) return s;
  if (auto s = ValidatePlanId(req->plan_id()); !s.ok()) return ToGrpc(s);
  if (auto s = ValidateReason(req->reason()); !s.ok()) return ToGrpc(s);
  if (grpc::Status s = MayChange(*ctx, ApiRpc::kCancelPlan, req->plan_id(), "cancel"); !s.ok()) return s;
  if (coordinator_ != nullptr) {  // A cluster route: every node's plan of it.
    absl::StatusOr<CancelPlanResponse> r = coordinator_->Cancel(req->plan_id(), req->reason(), engine_);
    if (!r.ok()) return ToGrpc(r.status());
    *resp = *std::move(r);
    return grpc::Status::OK;
  }
  absl::StatusOr<Plan> plan = engine_->Cancel(req->plan_id(), req->reason());
  if (!plan.ok()) return ToGrpc(plan.status());
  *resp->mutable_plan() = *std::move(plan);
  return grpc::Status::OK;
}

grpc::Status RouterServiceImpl::AmendPlan(grpc::ServerContext* ctx, const AmendPlanRequest* req,
                                          AmendPlanResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kAmendPlan, *req); !s.ok()) return s;
  if (auto s = ValidateAmend(*req); !s.ok()) return ToGrpc(s);
  if (grpc::Status s = MayChange(*ctx, ApiRpc::kAmendPlan, req->plan_id(), "amend"); !s.ok()) return s;
  if (coordinator_ != nullptr) {
    // A cluster route: its limit and urgency go to every node's share; a new quantity changes
    // what is left to route (the shares were fixed together at one λ and keep theirs).
    absl::StatusOr<AmendPlanResponse> amended = coordinator_->Amend(*req, engine_);
    if (!amended.ok()) return ToGrpc(amended.status());
    *resp = *std::move(amended);
    return grpc::Status::OK;
  }
  bool changed = false;
  absl::StatusOr<Plan> plan = engine_->Amend(req->plan_id(), RouterEngine::Amendment::Of(*req), &changed);
  if (!plan.ok()) return ToGrpc(plan.status());
  *resp->mutable_plan() = *std::move(plan);
  resp->set_changed(changed);
  return grpc::Status::OK;
}

grpc::Status RouterServiceImpl::ListPlans(grpc::ServerContext* ctx, const ListPlansRequest* req,
                                          ListPlansResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kListPlans, *req); !s.ok()) return s;
  if (auto s = ValidateListPlans(*req); !s.ok()) return ToGrpc(s);
  const size_t limit = req->page_size() == 0 ? kDefaultPlansPage : req->page_size();
  bool more = false;
  absl::StatusOr<std::vector<Plan>> plans =
      engine_->WorkingPlans(req->symbol(), req->page_token(), limit, &more, req->routed_by());
  if (!plans.ok()) return ToGrpc(plans.status());
  for (Plan& p : *plans) *resp->add_plans() = std::move(p);
  if (more) resp->set_next_page_token(resp->plans(resp->plans_size() - 1).plan_id());
  return grpc::Status::OK;
}

grpc::Status RouterServiceImpl::GetRoute(grpc::ServerContext* ctx, const GetRouteRequest* req,
                                         GetRouteResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kGetRoute, *req); !s.ok()) return s;
  if (auto s = ValidatePlanId(req->route_id(), "route_id"); !s.ok()) return ToGrpc(s);
  absl::StatusOr<GetRouteResponse> r = RouteProgress(req->route_id());
  if (!r.ok()) return ToGrpc(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

absl::StatusOr<GetRouteResponse> RouterServiceImpl::RouteProgress(const std::string& route_id) const {
  if (coordinator_ != nullptr) return coordinator_->Progress(route_id, *engine_);  // Every node's share.
  absl::StatusOr<Plan> plan = engine_->GetPlan(route_id);
  if (!plan.ok()) return plan.status();
  GetRouteResponse resp;
  NodeProgress* n = resp.add_nodes();
  n->set_node(engine_->config().node_id());
  n->set_status(plan->status());
  n->set_quantity(plan->order().quantity());
  n->set_filled_quantity(plan->filled_quantity());
  n->set_filled_notional(plan->filled_notional());
  n->set_fees(plan->fees());
  n->set_average_price(plan->average_price());
  resp.set_quantity(n->quantity());
  resp.set_filled_quantity(n->filled_quantity());
  resp.set_filled_notional(n->filled_notional());
  resp.set_fees(n->fees());
  resp.set_average_price(n->average_price());
  resp.set_order_quantity(n->quantity());  // (Its plan works its own shortfall: none is left over.)
  resp.set_settled(IsSettled(*plan));
  resp.set_symbol(plan->order().symbol());
  resp.set_routed_by(plan->routed_by());
  return resp;
}

grpc::Status RouterServiceImpl::WatchRoute(grpc::ServerContext* ctx, const WatchRouteRequest* req,
                                           grpc::ServerWriter<GetRouteResponse>* writer) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kWatchRoute, *req); !s.ok()) return s;
  if (auto s = ValidatePlanId(req->route_id(), "route_id"); !s.ok()) return ToGrpc(s);
  if (req->interval_ms() != 0 && (req->interval_ms() < 20 || req->interval_ms() > 60'000)) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("interval_ms: ", req->interval_ms(), " is not within 20..60000 (0: every 200 ms)")));
  }
  if (engine_->draining()) return ToGrpc(absl::UnavailableError("exorouted is shutting down; watch again"));
  const StreamSlot slot(watches_, engine_->config().listen().max_watches());
  if (!slot.admitted()) return slot.Refusal("watch_route", "watches", "listen.max_watches");
  StreamWatchdog::Stream stream(watchdog_, ctx);
  const absl::Duration every = absl::Milliseconds(req->interval_ms() == 0 ? 200 : req->interval_ms());
  std::optional<GetRouteResponse> last;  // The answer sent last.
  for (;;) {
    absl::StatusOr<GetRouteResponse> now = RouteProgress(req->route_id());
    if (!now.ok()) return ToGrpc(now.status());
    if (!last || !google::protobuf::util::MessageDifferencer::Equals(*last, *now)) {
      if (!stream.Write(writer, *now)) return WriteFailed(stream, "watch_route");
      last = *std::move(now);
    }
    if (last->settled()) return grpc::Status::OK;
    for (const absl::Time until = absl::Now() + every; absl::Now() < until;) {
      if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
      if (engine_->draining()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "exorouted is shutting down; watch again");
      absl::SleepFor(std::min(absl::Milliseconds(20), until - absl::Now()));
    }
  }
}

grpc::Status RouterServiceImpl::WatchPlan(grpc::ServerContext* ctx, const WatchPlanRequest* req,
                                          grpc::ServerWriter<WatchPlanResponse>* writer) {
  const ApiRpc rpc = req->cancel_on_disconnect() ? ApiRpc::kWatchPlanWithSwitch : ApiRpc::kWatchPlan;
  if (grpc::Status s = Allowed(access_, *ctx, rpc, *req); !s.ok()) return s;
  if (auto s = ValidateWatch(*req); !s.ok()) return ToGrpc(s);
  if (req->cancel_on_disconnect()) {
    grpc::Status mine = MayChange(*ctx, ApiRpc::kWatchPlanWithSwitch, req->plan_id(), "arm the dead man's switch of");
    if (!mine.ok()) return mine;
  }
  // A watch asked while the node drains ends at once, before gRPC's shutdown deadline could
  // cancel it: a client watches again on UNAVAILABLE.
  if (engine_->draining()) return ToGrpc(absl::UnavailableError("exorouted is shutting down; watch again"));
  const StreamSlot slot(watches_, engine_->config().listen().max_watches());
  if (!slot.admitted()) return slot.Refusal("watch_plan", "watches", "listen.max_watches");
  if (!req->cancel_on_disconnect()) return Watch(ctx, *req, writer);
  const std::chrono::milliseconds grace(req->disconnect_grace_ms());
  // Recorded first (DisconnectArmed), so that the switch outlives a restart of this node.
  if (absl::Status armed = engine_->ArmDisconnect(req->plan_id(), grace); !armed.ok()) return ToGrpc(armed);
  // Held from before the first delta is sent until the watch ends: lost unless the plan settled
  // (the watch's natural end) or the node is shutting down.
  engine_->HoldOnDisconnect(req->plan_id());
  bool settled = false;
  grpc::Status s = Watch(ctx, *req, writer, &settled);
  engine_->ReleaseOnDisconnect(req->plan_id(), /*lost=*/!settled && !engine_->draining(), grace);
  return s;
}

grpc::Status RouterServiceImpl::Watch(grpc::ServerContext* ctx, const WatchPlanRequest& req,
                                      grpc::ServerWriter<WatchPlanResponse>* writer, bool* settled) {
  StreamWatchdog::Stream stream(watchdog_, ctx);
  uint32_t next = std::max<uint32_t>(1, req.from_version());
  while (true) {
    absl::StatusOr<RouterEngine::PlanProgress> progress =
        engine_->AwaitVersion(req.plan_id(), next - 1, absl::Milliseconds(250));
    if (!progress.ok()) return ToGrpc(progress.status());
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
    // A settled plan has no version past its last: asking from the one after it (a client
    // resuming after the settling delta) ends at once; asking beyond that is a mistake, named.
    if (progress->settled && next > progress->version + 1) {
      return ToGrpc(absl::OutOfRangeError(absl::StrCat("from_version: plan \"", req.plan_id(), "\" settled at version ",
                                                       progress->version, "; asked from ", next)));
    }
    bool write_failed = false;
    absl::Status s = store_->ScanPlan(req.plan_id(), next, [&](const PlanDelta& d, std::string_view) {
      if (d.plan_version() > progress->version) return false;  // Not yet published.
      WatchPlanResponse out;
      *out.mutable_delta() = d;
      if (!stream.Write(writer, out)) {
        write_failed = true;
        return false;
      }
      next = d.plan_version() + 1;
      return true;
    });
    if (!s.ok()) return ToGrpc(s);
    if (write_failed) return WriteFailed(stream, "watch_plan");
    if (progress->settled && next > progress->version) {
      if (settled != nullptr) *settled = true;
      return grpc::Status::OK;
    }
    if (engine_->draining()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "exorouted is shutting down; watch again");
    }
  }
}

grpc::Status AuditServiceImpl::Replay(grpc::ServerContext* ctx, const ReplayRequest* req,
                                      grpc::ServerWriter<ReplayResponse>* writer) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kReplay, *req); !s.ok()) return s;
  const StreamSlot slot(replays_, max_replays_);
  if (!slot.admitted()) return slot.Refusal("replay", "replays", "listen.max_replays");
  if (req->follow() && req->selector_case() == ReplayRequest::kPlanId) {
    return ToGrpc(absl::InvalidArgumentError("follow: only with a range (WatchPlan follows one plan)"));
  }
  if (req->follow() && req->range().to_sequence() != 0) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "range.to_sequence: must be 0 (open) with follow, got ", req->range().to_sequence())));
  }
  StreamWatchdog::Stream stream(watchdog_, ctx);
  bool write_failed = false;
  uint64_t head = store_->Head().sequence();
  uint64_t next = 0;  // After the last delta sent (a range's next).
  bool any = false;
  absl::Status damaged;  // Inputs asked for and missing.
  auto send = [&](const PlanDelta& d, std::string_view canonical) {
    if (ctx->IsCancelled()) return false;
    any = true;
    ReplayResponse out;
    *out.mutable_delta() = d;
    if (req->include_canonical()) out.set_canonical(std::string(canonical));
    if ((req->include_cluster() || req->include_inputs()) && d.has_allocated()) {
      SolveInput in;
      absl::StatusOr<std::string> raw = d.inputs_digest().empty()
                                            ? absl::NotFoundError("the allocation names no recorded inputs")
                                            : store_->GetInputs(d.inputs_digest());
      if (!raw.ok() || !in.ParseFromString(*raw)) {
        if (req->include_inputs()) {
          damaged = absl::DataLossError(absl::StrCat("delta ", d.sequence(), ": ",
                                                     raw.ok() ? "its recorded inputs do not parse" : raw.status().message(),
                                                     " (`exoroutectl audit verify --recompute` checks them all)"));
          return false;
        }
      } else {
        if (req->include_cluster() && in.has_fixed_dual()) *out.mutable_cluster() = in.fixed_dual().route();
        if (req->include_inputs()) *out.mutable_inputs() = std::move(in);
      }
    }
    if (req->include_inputs() && d.governance().kind() == GOVERNANCE_KIND_CONFIG_APPLIED) {
      absl::StatusOr<std::string> raw = d.inputs_digest().empty()
                                            ? absl::NotFoundError("the config event names no stored config")
                                            : store_->GetInputs(d.inputs_digest());
      if (!raw.ok() || !out.mutable_config()->ParseFromString(*raw)) {
        damaged = absl::DataLossError(absl::StrCat("delta ", d.sequence(), ": ",
                                                   raw.ok() ? "its stored config does not parse" : raw.status().message(),
                                                   " (`exoroutectl audit verify` checks them all)"));
        return false;
      }
    }
    out.set_head_sequence(head);
    write_failed = !stream.Write(writer, out);
    next = d.sequence() + 1;
    return !write_failed;
  };
  absl::Status s;
  switch (req->selector_case()) {
    case ReplayRequest::kPlanId:
      if (req->plan_id() != kGovernancePlanId) {
        if (auto v = ValidatePlanId(req->plan_id()); !v.ok()) return ToGrpc(v);
      }
      s = store_->ScanPlan(req->plan_id(), 1, send);
      if (s.ok() && !any) {
        return ToGrpc(absl::NotFoundError(absl::StrCat("plan \"", req->plan_id(), "\" not found")));
      }
      break;
    case ReplayRequest::kRange:
    case ReplayRequest::SELECTOR_NOT_SET: {
      if (auto v = ValidateRange(req->range(), "range"); !v.ok()) return ToGrpc(v);
      uint64_t to = req->range().to_sequence() == 0 ? head : req->range().to_sequence();
      next = std::max<uint64_t>(1, req->range().from_sequence());
      s = store_->Scan(next, to, send);
      // Following: each delta as it becomes durable (the store's head moves only then).
      while (req->follow() && s.ok() && damaged.ok() && !write_failed && !ctx->IsCancelled()) {
        if (draining_ != nullptr && draining_->load()) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              absl::StrCat("exorouted is shutting down; follow again from sequence ", next));
        }
        head = store_->AwaitHead(next - 1, absl::Milliseconds(100));
        if (head >= next) s = store_->Scan(next, head, send);
      }
      break;
    }
  }
  if (!damaged.ok()) return ToGrpc(damaged);
  if (write_failed) return WriteFailed(stream, "replay");
  if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "replay cancelled");
  return ToGrpc(s);
}

grpc::Status AuditServiceImpl::Verify(grpc::ServerContext* ctx, const VerifyRequest* req,
                                      VerifyResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kVerify, *req); !s.ok()) return s;
  if (auto v = ValidateRange(req->range(), "range"); !v.ok()) return ToGrpc(v);
  *resp->mutable_head() = store_->Head();
  if (auto v = ValidateVerifyStart(req->range(), "range.from_sequence", resp->head().sequence()); !v.ok()) return ToGrpc(v);
  uint64_t to = req->range().to_sequence();
  // A long check (a chain of millions of deltas takes minutes) stops when the client goes away.
  auto present = [ctx] { return !ctx->IsCancelled(); };
  store::VerifyReport r =
      store_->Verify(req->range().from_sequence(), to, [&present](uint64_t, uint64_t) { return present(); });
  if (r.stopped) return grpc::Status(grpc::StatusCode::CANCELLED, "verify cancelled");
  resp->set_checked(r.checked);
  resp->set_ok(r.ok);
  resp->set_first_bad_sequence(r.first_bad_sequence);
  resp->set_error(r.error);
  if (r.ok && req->recompute_decisions()) {
    DecisionReport d = VerifyDecisions(*store_, req->range().from_sequence(),
                                       to == 0 ? resp->head().sequence() : to, present);
    if (d.stopped) return grpc::Status(grpc::StatusCode::CANCELLED, "verify cancelled");
    resp->set_decisions_checked(d.checked);
    resp->set_ok(d.ok);
    resp->set_first_bad_sequence(d.first_bad_sequence);
    resp->set_error(d.error);
  }
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetChainHead(grpc::ServerContext* ctx, const GetChainHeadRequest* req,
                                            GetChainHeadResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kGetChainHead, *req); !s.ok()) return s;
  *resp->mutable_head() = store_->Head();
  *resp->mutable_signed_head() = signer_->Sign(node_id_, resp->head());
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ProveInclusion(grpc::ServerContext* ctx, const ProveInclusionRequest* req,
                                              ProveInclusionResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kProveInclusion, *req); !s.ok()) return s;
  const uint64_t size = store_->Head().sequence();
  if (req->sequence() == 0 || req->sequence() > size) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("sequence: must be within 1..", size, " (the chain head), got ", req->sequence())));
  }
  InclusionProof* proof = resp->mutable_proof();
  store::MerkleProofBuilder tree = store::MerkleProofBuilder::Inclusion(size, req->sequence() - 1);
  if (absl::Status s = store::FeedChainLeaves(*store_, &subtrees_, &tree, req->sequence(), proof->mutable_canonical(),
                                              [ctx] { return ctx->IsCancelled(); });
      !s.ok()) {
    return ToGrpc(s);
  }
  proof->set_node_id(node_id_);
  proof->set_sequence(req->sequence());
  proof->set_tree_size(size);
  proof->set_root(tree.Root());
  for (std::string& h : tree.Path()) proof->add_path(std::move(h));
  proof->set_public_key(signer_->public_key());
  proof->set_signature(signer_->SignText(store::TreeHeadMessage(node_id_, size, proof->root())));
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ProveConsistency(grpc::ServerContext* ctx, const ProveConsistencyRequest* req,
                                                ProveConsistencyResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kProveConsistency, *req); !s.ok()) return s;
  const uint64_t size = store_->Head().sequence();
  if (req->from_size() == 0 || req->from_size() > size) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("from_size: must be within 1..", size, " (the chain head), got ", req->from_size())));
  }
  store::MerkleProofBuilder tree = store::MerkleProofBuilder::Consistency(req->from_size(), size);
  if (absl::Status s = store::FeedChainLeaves(*store_, &subtrees_, &tree, 0, nullptr, [ctx] { return ctx->IsCancelled(); });
      !s.ok()) {
    return ToGrpc(s);
  }
  ConsistencyProof* proof = resp->mutable_proof();
  proof->set_node_id(node_id_);
  proof->set_from_size(req->from_size());
  proof->set_from_root(tree.FirstRoot());
  proof->set_to_size(size);
  proof->set_to_root(tree.Root());
  for (std::string& h : tree.Path()) proof->add_path(std::move(h));
  proof->set_public_key(signer_->public_key());
  proof->set_signature(signer_->SignText(store::TreeHeadMessage(node_id_, size, proof->to_root())));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Status(grpc::ServerContext* ctx, const StatusRequest* req,
                                      StatusResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kStatus, *req); !s.ok()) return s;
  *resp = Snapshot();
  // Who asks, and what this node lets it do (a client checking its certificate's roles).
  resp->set_caller(ClientIdentity(*ctx));
  const exoroute::v1::DaemonConfig& config = engine_->config();
  resp->set_access_enforced(config.has_access());
  if (config.has_access()) {
    for (std::string& role : RolesOf(config.access(), resp->caller())) resp->add_caller_roles(std::move(role));
  }
  return grpc::Status::OK;
}

StatusResponse AdminServiceImpl::Snapshot() const {
  StatusResponse out;
  StatusResponse* resp = &out;
  const auto& cfg = engine_->config();
  resp->set_node_id(cfg.node_id());
  resp->set_version(EXO_VERSION);
  resp->set_uptime_ms((SystemClock()->NowNs() - started_ns_) / 1'000'000);
  resp->set_clock_ahead_ms(engine_->clock().AheadOfSystemNs() / 1'000'000);
  if (absl::StatusOr<ProcessStatus> p = ReadProcessStatus(); p.ok()) *resp->mutable_process() = *std::move(p);
  for (auto& v : engine_->VenueStatuses()) *resp->add_venues() = std::move(v);
  for (SettleProposal& p : settle_approvals_.Pending(SystemClock()->NowNs())) {
    // A child that ended meanwhile (its venue answered at last) leaves nothing to approve.
    absl::StatusOr<Plan> plan = engine_->GetPlan(p.plan_id());
    const bool open = plan.ok() && std::any_of(plan->children().begin(), plan->children().end(),
                                               [&](const ChildState& c) {
                                                 return c.order().cl_ord_id() == p.cl_ord_id() && !c.done();
                                               });
    if (!open) {
      settle_approvals_.Forget(p.plan_id(), p.cl_ord_id());
      continue;
    }
    *resp->add_settlements_awaiting_approval() = std::move(p);
  }
  std::vector<UnansweredChild> unanswered = engine_->UnansweredChildren();
  resp->set_unanswered_children_total(static_cast<uint32_t>(unanswered.size()));
  for (size_t i = 0; i < unanswered.size() && i < kMaxUnansweredListed; ++i) {
    *resp->add_unanswered_children() = std::move(unanswered[i]);
  }
  *resp->mutable_chain_head() = store_->Head();
  for (RiskStatus& r : engine_->RiskStatuses()) *resp->add_risk() = std::move(r);
  const store::StoreUsage usage = store_->Usage();
  resp->set_store_size_bytes(usage.table_bytes + usage.log_bytes);
  exoroute::v1::StoreStatus* st = resp->mutable_store();
  st->set_table_bytes(usage.table_bytes);
  st->set_log_bytes(usage.log_bytes);
  st->set_memtable_bytes(usage.memtable_bytes);
  st->set_memtable_limit_bytes(usage.memtable_budget_bytes);
  st->set_log_limit_bytes(usage.max_log_bytes);
  if (absl::Status w = store_->WriteFailure(); !w.ok()) resp->set_store_write_failure(std::string(w.message()));
  *resp->mutable_trading() = engine_->trading().ToProto();
  for (const auto& [symbol, t] : engine_->TradingBySymbol()) {
    SymbolTrading* st = resp->add_symbol_trading();
    st->set_symbol(symbol);
    *st->mutable_trading() = t.ToProto();
  }
  resp->set_data_dir(cfg.data_dir());
  uint64_t total = 0, working = 0;
  engine_->CountPlans(&total, &working);
  resp->set_plans_total(total);
  resp->set_plans_working(working);
  resp->set_plans_in_memory(engine_->PlansInMemory());
  resp->set_checkpoint_sequence(engine_->checkpoint_sequence());
  resp->set_started_from_checkpoint(engine_->recovery().from_checkpoint);
  resp->set_start_deltas_read(engine_->recovery().deltas_read);
  *resp->mutable_instruments() = cfg.instruments();
  resp->set_unknown_executions(engine_->unknown_executions());
  resp->set_duplicate_executions(engine_->duplicate_executions());
  resp->set_overfills(engine_->overfills());
  resp->set_late_fills(engine_->late_fills());
  resp->set_chain_signing_key(chain_signing_key_);
  resp->set_admin_url(admin_url_);
  for (const auto& fill : status_sources_) fill(resp);
  return out;
}

grpc::Status AdminServiceImpl::ListVenues(grpc::ServerContext* ctx, const ListVenuesRequest* req,
                                          ListVenuesResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kListVenues, *req); !s.ok()) return s;
  for (auto& v : engine_->VenueStatuses()) *resp->add_venues() = std::move(v);
  return grpc::Status::OK;
}

namespace {

// A backup's name: 1..64 of [A-Za-z0-9._-], not starting with a dot (a name is one directory,
// never a path, and never a hidden one: those are the backups in progress).
absl::Status ValidateBackupName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat("name: 1 to 64 characters, got ", name.size()));
  }
  if (name[0] == '.') return absl::InvalidArgumentError("name: must not start with '.'");
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return absl::InvalidArgumentError("name: only letters, digits, '.', '_' and '-' (one directory name)");
  }
  return absl::OkStatus();
}

uint64_t BytesUnder(const std::filesystem::path& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) bytes += it->file_size(ec);
  }
  return bytes;
}

}  // namespace

grpc::Status AdminServiceImpl::GetBooks(grpc::ServerContext* ctx, const GetBooksRequest* req, GetBooksResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kGetBooks, *req); !s.ok()) return s;
  if (auto s = ValidateGetBooks(*req); !s.ok()) return ToGrpc(s);
  absl::StatusOr<GetBooksResponse> books =
      engine_->BooksNow(req->symbol(), static_cast<int>(req->depth() == 0 ? kDefaultBookDepth : req->depth()));
  if (!books.ok()) return ToGrpc(books.status());
  *resp = *std::move(books);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::SetTrading(grpc::ServerContext* ctx, const SetTradingRequest* req,
                                          SetTradingResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kSetTrading, *req); !s.ok()) return s;
  if (req->action() != TRADING_ACTION_HALT && req->action() != TRADING_ACTION_RESUME) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("action: must be TRADING_ACTION_HALT or TRADING_ACTION_RESUME, got ", req->action())));
  }
  if (auto s = ValidateReason(req->reason(), "(it is recorded in the chain)"); !s.ok()) return ToGrpc(s);
  if (engine_->draining()) return ToGrpc(absl::UnavailableError("exorouted is shutting down"));
  // Who asked, when the API port knows (mutual TLS): recorded with the reason.
  const std::string by = ClientIdentity(*ctx);
  const std::string reason = by.empty() ? req->reason() : absl::StrCat(req->reason(), " (by client ", by, ")");
  const RouterEngine::TradingScope scope{req->venue(), req->symbol()};
  absl::StatusOr<bool> changed = engine_->SetTrading(req->action() == TRADING_ACTION_HALT, reason, scope);
  if (!changed.ok()) return ToGrpc(changed.status());
  resp->set_changed(*changed);
  *resp->mutable_trading() = engine_->trading(scope).ToProto();
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::SettleChild(grpc::ServerContext* ctx, const SettleChildRequest* req,
                                           SettleChildResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kSettleChild, *req); !s.ok()) return s;
  if (absl::Status s = ValidateSettleChild(*req); !s.ok()) return ToGrpc(s);
  // Who asked, when the API port knows (mutual TLS): recorded with the reason.
  const std::string by = ClientIdentity(*ctx);
  RouterEngine::Settlement st;
  st.cl_ord_id = req->cl_ord_id();
  st.filled_quantity = req->filled_quantity();
  st.price = req->price();
  st.fee = req->fee();
  st.reason = by.empty() ? req->reason() : absl::StrCat(req->reason(), " (by client ", by, ")");
  if (engine_->config().routing().settle_approvals() == 2) {
    // Four eyes: the configuration requires client certificates, so every caller has a name.
    if (by.empty()) {
      return ToGrpc(absl::PermissionDeniedError(
          "settling takes two operators here (routing.settle_approvals 2): call with a client certificate"));
    }
    SettleProposal offer;
    offer.set_plan_id(req->plan_id());
    offer.set_cl_ord_id(req->cl_ord_id());
    offer.set_filled_quantity(req->filled_quantity());
    offer.set_price(req->price());
    offer.set_fee(req->fee());
    offer.set_reason(req->reason());
    offer.set_proposed_by(by);
    offer.set_proposed_time_ns(SystemClock()->NowNs());
    // The plan's own checks first: a proposal that could never be settled is refused now.
    st.check_only = true;
    absl::StatusOr<Plan> now = engine_->SettleChild(req->plan_id(), st);
    if (!now.ok()) {
      // A child that ended (or a plan gone) leaves nothing to approve; figures the plan refuses
      // (a typo, say) leave another operator's proposal as it was.
      if (absl::IsNotFound(now.status()) || absl::IsFailedPrecondition(now.status())) {
        settle_approvals_.Forget(req->plan_id(), req->cl_ord_id());
      }
      return ToGrpc(now.status());
    }
    offer.set_symbol(now->order().symbol());
    absl::StatusOr<SettleApprovals::Offered> offered = settle_approvals_.Offer(std::move(offer));
    if (!offered.ok()) return ToGrpc(offered.status());
    if (offered->step == SettleApprovals::Step::kProposed) {
      LogInfo("settlement of child %s of plan %s proposed by client %s (filled %d, price %d, fee %d: %s): awaiting "
              "another operator's approval",
              req->cl_ord_id(), req->plan_id(), by, req->filled_quantity(), req->price(), req->fee(), req->reason());
      *resp->mutable_plan() = *std::move(now);
      *resp->mutable_awaiting_approval() = std::move(offered->proposal);
      return grpc::Status::OK;
    }
    st.check_only = false;
    st.reason = ApprovedReason(offered->proposal, by, req->reason());
  }
  absl::StatusOr<Plan> plan = engine_->SettleChild(req->plan_id(), st);
  settle_approvals_.Forget(req->plan_id(), req->cl_ord_id());
  if (!plan.ok()) return ToGrpc(plan.status());
  *resp->mutable_plan() = *std::move(plan);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ReloadConfig(grpc::ServerContext* ctx, const ReloadConfigRequest* req,
                                            ReloadConfigResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kReloadConfig, *req); !s.ok()) return s;
  if (engine_->draining()) return ToGrpc(absl::UnavailableError("exorouted is shutting down"));
  if (reloader_ == nullptr) return ToGrpc(absl::UnavailableError("exorouted is starting"));
  // Who asked, when the API port knows (mutual TLS): recorded with the change.
  const std::string by = ClientIdentity(*ctx);
  absl::StatusOr<ReloadConfigResponse> out =
      reloader_->Reload(req->dry_run(), by.empty() ? "by an API client" : absl::StrCat("by client ", by));
  if (!out.ok()) return ToGrpc(out.status());
  *resp = *std::move(out);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Backup(grpc::ServerContext* ctx, const BackupRequest* req, BackupResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kBackup, *req); !s.ok()) return s;
  if (absl::Status s = ValidateBackupName(req->name()); !s.ok()) return ToGrpc(s);
  const auto& cfg = engine_->config();
  const std::filesystem::path data = cfg.data_dir();
  const std::filesystem::path root =
      cfg.store().backup_dir().empty() ? data / "backups" : std::filesystem::path(cfg.store().backup_dir());
  const std::filesystem::path dir = root / req->name(), partial = root / ("." + req->name() + ".partial");
  std::lock_guard<std::mutex> one_at_a_time(backup_mu_);
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) {
    return ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("store.backup_dir: cannot create ", root.string(), ": ", ec.message())));
  }
  if (std::filesystem::exists(dir, ec)) {
    return ToGrpc(absl::AlreadyExistsError(absl::StrCat("name: a backup \"", req->name(), "\" already exists in ",
                                                        root.string(), " (a backup is never written over)")));
  }
  // Made under a hidden name and renamed when whole: a backup that fails halfway (a full disk)
  // leaves no directory that looks like one.
  std::filesystem::remove_all(partial, ec);
  std::filesystem::create_directories(partial, ec);
  if (ec) {
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat("backup: cannot create ", partial.string(), ": ", ec.message())));
  }
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<ChainHead> head = store_->Backup((partial / "db").string());
  // The chain-head signing key (without it the copy's signed heads could not be continued)
  // and the development certificates, when the node has them.
  for (const char* sub : {"keys", "certs"}) {
    if (!head.ok() || !std::filesystem::exists(data / sub, ec)) continue;
    std::filesystem::copy(data / sub, partial / sub, std::filesystem::copy_options::recursive, ec);
    if (ec) head = absl::InternalError(absl::StrCat("backup: cannot copy ", (data / sub).string(), ": ", ec.message()));
  }
  if (head.ok()) {
    std::filesystem::permissions(partial / "keys", std::filesystem::perms::owner_all, ec);
    std::filesystem::rename(partial, dir, ec);
    if (ec) head = absl::InternalError(absl::StrCat("backup: cannot rename ", partial.string(), ": ", ec.message()));
  }
  if (!head.ok()) {
    std::filesystem::remove_all(partial, ec);
    LogWarning("backup %s failed: %s", req->name(), head.status().ToString());
    return ToGrpc(head.status());
  }
  resp->set_path(dir.string());
  *resp->mutable_head() = *head;
  resp->set_bytes(BytesUnder(dir));
  resp->set_duration_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
  LogInfo("backup %s: chain head %d in %s (%d ms)", req->name(), static_cast<int64_t>(head->sequence()), dir.string(),
          resp->duration_ms());
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListContracts(grpc::ServerContext* ctx, const ListContractsRequest* req,
                                             ListContractsResponse* resp) {
  if (grpc::Status s = Allowed(access_, *ctx, ApiRpc::kListContracts, *req); !s.ok()) return s;
  *resp = contracts_;
  return grpc::Status::OK;
}

}  // namespace exo::daemon
