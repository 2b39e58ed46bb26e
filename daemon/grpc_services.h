// The exoroute.v1 gRPC services over a RouterEngine and a DeltaStore. This is the service edge:
// requests are validated here and absl::Status is mapped to grpc::Status in one place (ToGrpc).
// Handlers are called concurrently by gRPC's thread pool and never wait on venue I/O.
#pragma once

#include <atomic>

#include <functional>
#include <mutex>

#include <memory>

#include "daemon/access_control.h"
#include "daemon/config_reload.h"
#include "daemon/router_engine.h"
#include "daemon/settle_approvals.h"
#include "daemon/stream_watchdog.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "store/delta_store.h"
#include "store/head_signature.h"
#include "store/merkle.h"

namespace exo::daemon {
namespace cluster {
class Coordinator;
}

grpc::Status ToGrpc(const absl::Status& s);

class RouterServiceImpl final : public exoroute::v1::RouterService::Service {
 public:
  // With a coordinator, every Route is a cluster route (split across the cluster's nodes). The
  // watchdog (if any) ends watches whose client stopped reading.
  // `access` (if any) decides who may call each RPC.
  RouterServiceImpl(RouterEngine* engine, const store::DeltaStore* store,
                    cluster::Coordinator* coordinator = nullptr, StreamWatchdog* watchdog = nullptr,
                    AccessControl* access = nullptr)
      : engine_(engine), store_(store), coordinator_(coordinator), watchdog_(watchdog), access_(access) {}
  grpc::Status Route(grpc::ServerContext*, const exoroute::v1::RouteRequest*,
                     exoroute::v1::RouteResponse*) override;
  grpc::Status GetPlan(grpc::ServerContext*, const exoroute::v1::GetPlanRequest*,
                       exoroute::v1::GetPlanResponse*) override;
  grpc::Status CancelPlan(grpc::ServerContext*, const exoroute::v1::CancelPlanRequest*,
                          exoroute::v1::CancelPlanResponse*) override;
  grpc::Status AmendPlan(grpc::ServerContext*, const exoroute::v1::AmendPlanRequest*,
                         exoroute::v1::AmendPlanResponse*) override;
  grpc::Status GetRoute(grpc::ServerContext*, const exoroute::v1::GetRouteRequest*,
                        exoroute::v1::GetRouteResponse*) override;
  grpc::Status WatchPlan(grpc::ServerContext*, const exoroute::v1::WatchPlanRequest*,
                         grpc::ServerWriter<exoroute::v1::WatchPlanResponse>*) override;
  grpc::Status WatchRoute(grpc::ServerContext*, const exoroute::v1::WatchRouteRequest*,
                          grpc::ServerWriter<exoroute::v1::GetRouteResponse>*) override;
  grpc::Status ListPlans(grpc::ServerContext*, const exoroute::v1::ListPlansRequest*,
                         exoroute::v1::ListPlansResponse*) override;
  // Wall time of every Route this node answered OK (a cluster route: the whole distributed
  // route, as its coordinator).
  const LatencyHistogram& route_latency() const { return route_latency_; }
  uint32_t open_watches() const { return watches_; }

 private:
  // `routed_by`: the caller's client certificate name ("" = none), recorded with the plan.
  grpc::Status DoRoute(const exoroute::v1::RouteRequest& req, const std::string& routed_by,
                       exoroute::v1::RouteResponse* resp);
  // Under an access section a trader changes (`change`: "cancel", "amend", …) only the plans it
  // routed, or whose sender is not known; an operator cancels any. PERMISSION_DENIED naming
  // whose the plan is.
  grpc::Status MayChange(const grpc::ServerContext& ctx, ApiRpc rpc, const std::string& plan_id, const char* change);
  // GetRoute's answer: every node's share of a cluster route, or this node's plan.
  absl::StatusOr<exoroute::v1::GetRouteResponse> RouteProgress(const std::string& route_id) const;
  // The watch itself: the plan's deltas until it settles (`*settled` set then), the client
  // leaves or the node shuts down.
  grpc::Status Watch(grpc::ServerContext* ctx, const exoroute::v1::WatchPlanRequest& req,
                     grpc::ServerWriter<exoroute::v1::WatchPlanResponse>* writer, bool* settled = nullptr);
  RouterEngine* engine_;
  const store::DeltaStore* store_;
  cluster::Coordinator* coordinator_;
  StreamWatchdog* watchdog_;
  AccessControl* access_;
  LatencyHistogram route_latency_;
  std::atomic<uint32_t> watches_{0};  // WatchPlan and WatchRoute streams open now (listen.max_watches).
};

class AuditServiceImpl final : public exoroute::v1::AuditService::Service {
 public:
  // `signer` signs the heads GetChainHead answers, as node `node_id`.
  // At most `max_replays` Replay streams are open at once (listen.max_replays); the watchdog (if
  // any) ends those whose client stopped reading; once `*draining` (if given) is set, following
  // replays end (UNAVAILABLE, naming where to follow again from).
  AuditServiceImpl(const store::DeltaStore* store, const store::HeadSigner* signer, std::string node_id,
                   uint32_t max_replays, StreamWatchdog* watchdog = nullptr,
                   const std::atomic<bool>* draining = nullptr, AccessControl* access = nullptr)
      : store_(store), signer_(signer), node_id_(std::move(node_id)), max_replays_(max_replays),
        watchdog_(watchdog), draining_(draining), access_(access) {}
  grpc::Status Replay(grpc::ServerContext*, const exoroute::v1::ReplayRequest*,
                      grpc::ServerWriter<exoroute::v1::ReplayResponse>*) override;
  grpc::Status Verify(grpc::ServerContext*, const exoroute::v1::VerifyRequest*,
                      exoroute::v1::VerifyResponse*) override;
  grpc::Status GetChainHead(grpc::ServerContext*, const exoroute::v1::GetChainHeadRequest*,
                            exoroute::v1::GetChainHeadResponse*) override;
  grpc::Status ProveInclusion(grpc::ServerContext*, const exoroute::v1::ProveInclusionRequest*,
                              exoroute::v1::ProveInclusionResponse*) override;
  grpc::Status ProveConsistency(grpc::ServerContext*, const exoroute::v1::ProveConsistencyRequest*,
                                exoroute::v1::ProveConsistencyResponse*) override;
  // Complete subtrees of 1024 deltas or more kept from the proofs answered so far.
  size_t kept_subtrees() const { return subtrees_.size(); }
  uint32_t open_replays() const { return replays_; }

 private:
  const store::DeltaStore* store_;
  const store::HeadSigner* signer_;
  const std::string node_id_;
  const uint32_t max_replays_;
  StreamWatchdog* watchdog_;
  const std::atomic<bool>* draining_;
  AccessControl* access_;
  std::atomic<uint32_t> replays_{0};  // Replay streams open now.
  // Complete subtrees of the chain kept from earlier proofs (store/chain_proofs.h).
  mutable store::MerkleSubtreeCache subtrees_;
};

class AdminServiceImpl final : public exoroute::v1::AdminService::Service {
 public:
  AdminServiceImpl(RouterEngine* engine, const store::DeltaStore* store,
                   int64_t started_ns, exoroute::v1::ListContractsResponse contracts,
                   AccessControl* access = nullptr)
      : engine_(engine), store_(store), started_ns_(started_ns), contracts_(std::move(contracts)),
        access_(access) {}
  // Adds what another part of the node knows (the cluster's budgets and peers, the streams
  // open) to every Status.
  void AddStatusSource(std::function<void(exoroute::v1::StatusResponse*)> fill) {
    status_sources_.push_back(std::move(fill));
  }
  // Node facts fixed at start that Status reports (signing key, admin URL).
  void SetNodeFacts(std::string chain_signing_key, std::string admin_url) {
    chain_signing_key_ = std::move(chain_signing_key);
    admin_url_ = std::move(admin_url);
  }
  // What Status answers (also rendered as /metrics on the admin HTTP port).
  exoroute::v1::StatusResponse Snapshot() const;
  grpc::Status ListContracts(grpc::ServerContext*, const exoroute::v1::ListContractsRequest*,
                             exoroute::v1::ListContractsResponse*) override;
  grpc::Status Status(grpc::ServerContext*, const exoroute::v1::StatusRequest*,
                      exoroute::v1::StatusResponse*) override;
  grpc::Status ListVenues(grpc::ServerContext*, const exoroute::v1::ListVenuesRequest*,
                          exoroute::v1::ListVenuesResponse*) override;
  grpc::Status Backup(grpc::ServerContext*, const exoroute::v1::BackupRequest*,
                      exoroute::v1::BackupResponse*) override;
  grpc::Status SetTrading(grpc::ServerContext*, const exoroute::v1::SetTradingRequest*,
                          exoroute::v1::SetTradingResponse*) override;
  grpc::Status SettleChild(grpc::ServerContext*, const exoroute::v1::SettleChildRequest*,
                           exoroute::v1::SettleChildResponse*) override;
  grpc::Status GetBooks(grpc::ServerContext*, const exoroute::v1::GetBooksRequest*,
                        exoroute::v1::GetBooksResponse*) override;
  // Served once set (at start, before the server).
  void SetConfigReloader(ConfigReloader* reloader) { reloader_ = reloader; }
  grpc::Status ReloadConfig(grpc::ServerContext*, const exoroute::v1::ReloadConfigRequest*,
                            exoroute::v1::ReloadConfigResponse*) override;

 private:
  std::mutex backup_mu_;  // One backup at a time.
  RouterEngine* engine_;
  ConfigReloader* reloader_ = nullptr;
  const store::DeltaStore* store_;
  std::vector<std::function<void(exoroute::v1::StatusResponse*)>> status_sources_;
  std::string chain_signing_key_, admin_url_;
  int64_t started_ns_;
  const exoroute::v1::ListContractsResponse contracts_;  // Fixed at start-up.
  AccessControl* access_;
  // Settlements awaiting a second operator (routing.settle_approvals 2); Status lists them.
  mutable SettleApprovals settle_approvals_;
};

}  // namespace exo::daemon
