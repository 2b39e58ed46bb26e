#include "daemon/exorouted.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "adapters/registry/contract_registry.h"
#include "daemon/admin_http.h"
#include "daemon/crash_point.h"
#include "daemon/dev_certs.h"
#include "daemon/governance.h"
#include "daemon/grpc_services.h"
#include "daemon/metrics.h"
#include "daemon/router_engine.h"
#include "daemon/tls_files.h"
#include "daemon/venue_factory.h"
#include "exo/log.h"
#include "exo/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "daemon/cluster/coordinator.h"
#include "daemon/cluster/peer_service.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT

struct Daemon::Impl {
  std::unique_ptr<store::DeltaStore> store;
  std::unique_ptr<RouterEngine> engine;
  std::unique_ptr<StreamWatchdog> watchdog;  // Ends streams whose client stopped reading.
  std::unique_ptr<AccessControl> access;  // Who may call which RPC (config.access).
  std::unique_ptr<RouterServiceImpl> router;
  std::unique_ptr<store::HeadSigner> head_signer;  // Signs chain heads (<data_dir>/keys).
  std::unique_ptr<AuditServiceImpl> audit;
  std::unique_ptr<AdminServiceImpl> admin;
  std::unique_ptr<ConfigReloader> reloader;  // AdminService.ReloadConfig, SIGHUP.
  std::unique_ptr<TlsReloader> tls;  // The client API's certificate files, re-read (TLS only).
  std::unique_ptr<grpc::Server> server;
  // Cluster (config.cluster): this node's sessions, the coordinator, the peer listener.
  std::unique_ptr<TlsReloader> peer_tls;  // The cluster's certificate files, re-read.
  std::unique_ptr<cluster::PairKeys> pair_keys;
  std::unique_ptr<cluster::KeyDirectory> key_directory;
  std::unique_ptr<cluster::ShortfallLedger> shortfalls;  // The shortfalls this node works.
  std::unique_ptr<cluster::ClusterNode> cluster_node;
  std::unique_ptr<cluster::Coordinator> coordinator;
  std::vector<std::pair<PeerConfig, std::shared_ptr<grpc::Channel>>> peer_channels;  // For Status.
  std::unique_ptr<cluster::PeerServiceImpl> peer_service;
  std::unique_ptr<grpc::Server> peer_server;
  std::unique_ptr<AdminHttpServer> admin_http;  // config.admin: /metrics, /healthz.
  std::atomic<bool> draining{false};
  std::string endpoint, ca_file;
  bool plaintext = false;
  absl::Status StartCluster(const DaemonConfig& config, Clock* clock);
  bool stopped = false;
};

namespace {

// gRPC binds with SO_REUSEPORT by default: a second daemon given a port that another process
// holds would start and take a random share of its connections. Binding exclusively makes that
// a clear start-up error instead.
void RefuseSharedPort(grpc::ServerBuilder* builder) {
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

const char* ConnectionName(grpc_connectivity_state s) {
  switch (s) {
    case GRPC_CHANNEL_IDLE: return "idle";
    case GRPC_CHANNEL_CONNECTING: return "connecting";
    case GRPC_CHANNEL_READY: return "ready";
    case GRPC_CHANNEL_TRANSIENT_FAILURE: return "transient_failure";
    case GRPC_CHANNEL_SHUTDOWN: return "shutdown";
  }
  return "unknown";
}

// The client API's credentials; with TLS, `*reloader` keeps the served files current.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const DaemonConfig& config, std::string* ca_file, std::unique_ptr<TlsReloader>* reloader) {
  const TlsConfig& tls = config.tls();
  if (tls.insecure_plaintext()) {
    LogWarning("TLS is OFF (tls.insecure_plaintext): anyone who can reach %s can trade",
               config.listen().address());
    return grpc::InsecureServerCredentials();
  }
  std::string cert = tls.cert_file(), key = tls.key_file();
  *ca_file = tls.ca_file();
  if (cert.empty()) {
    EXO_ASSIGN_OR_RETURN(DevCertPaths dev,
                         EnsureDevCerts(config.data_dir() + "/certs", config.node_id()));
    cert = dev.server_cert;
    key = dev.server_key;
    *ca_file = dev.ca_cert;
  }
  absl::StatusOr<TlsFiles> files = TlsFiles::Create({cert, key, *ca_file}, config.data_dir() + "/tls/api");
  if (!files.ok()) return absl::Status(files.status().code(), absl::StrCat("tls: ", files.status().message()));
  const auto interval = static_cast<int64_t>(config.tls().reload_interval_s());
  *reloader = std::make_unique<TlsReloader>(*std::move(files), interval);
  grpc::experimental::TlsServerCredentialsOptions opts((*reloader)->Watched());
  opts.watch_root_certs();
  opts.watch_identity_key_cert_pairs();
  opts.set_cert_request_type(tls.require_client_cert() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                       : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(opts);
}

}  // namespace

absl::Status CheckCertificateFiles(const DaemonConfig& config) {
  const TlsConfig& tls = config.tls();
  if (!tls.insecure_plaintext() && !tls.cert_file().empty()) {
    absl::StatusOr<int64_t> api = CheckTlsFiles({tls.cert_file(), tls.key_file(), tls.ca_file()});
    if (!api.ok()) return absl::Status(api.status().code(), absl::StrCat("tls: ", api.status().message()));
  }
  if (config.has_cluster()) {
    const ClusterConfig& k = config.cluster();
    absl::StatusOr<int64_t> peer = CheckTlsFiles({k.cert_file(), k.key_file(), k.ca_file()});
    if (!peer.ok()) {
      return absl::Status(peer.status().code(), absl::StrCat("cluster certificates: ", peer.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDataDir(const DaemonConfig& config) {
  namespace fs = std::filesystem;
  const std::string& dir = config.data_dir();
  std::error_code ec;
  fs::path at = fs::absolute(dir, ec);
  if (ec) return absl::FailedPreconditionError(absl::StrCat("data_dir ", dir, ": ", ec.message()));
  // The directory, or the nearest ancestor there is: the start creates the rest.
  for (;;) {
    const fs::file_status st = fs::status(at, ec);
    if (fs::exists(st)) break;
    if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) {
      return absl::FailedPreconditionError(absl::StrCat("data_dir ", dir, ": ", at.string(), ": ", ec.message()));
    }
    if (at == at.parent_path()) break;  // (The root: there is always one.)
    at = at.parent_path();
  }
  // ("data_dir D: P is not …" when P, in the way, is an ancestor of D.)
  const std::string what = at == fs::absolute(dir, ec) ? "" : absl::StrCat(at.string(), " is ");
  if (!fs::is_directory(at, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("data_dir ", dir, ": ", what, "not a directory"));
  }
  if (::access(at.c_str(), W_OK | X_OK) != 0) {
    const int err = errno;
    return absl::PermissionDeniedError(
        absl::StrCat("data_dir ", dir, ": ", what, "not writable by this process: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

namespace {

ListContractsResponse ToProto(const adapters::ContractGraph& g) {
  ListContractsResponse out;
  for (const auto& n : g.nodes) {
    ContractNodeInfo* info = out.add_nodes();
    info->set_id(n.id);
    info->set_kind(n.kind);
    for (const auto& c : n.produces) info->add_produces(c.ToString());
    for (const auto& u : n.consumes) info->add_consumes(u.contract.ToString() + (u.required ? "" : "?"));
  }
  for (const auto& e : g.edges) {
    ContractEdgeInfo* info = out.add_edges();
    info->set_producer(e.producer);
    info->set_consumer(e.consumer);
    info->set_contract(e.produced.ToString());
  }
  return out;
}

// Writes `content` to `path` atomically (a reader sees all of it or no file).
void WriteFileAtomically(const std::string& path, const std::string& content) {
  {
    std::ofstream out(path + ".tmp");
    out << content;
  }
  std::error_code ec;
  std::filesystem::rename(path + ".tmp", path, ec);
  if (ec) LogWarning("cannot write %s: %s", path, ec.message());
}

// host:port for clients: a wildcard host becomes loopback.
std::string DialAddress(const std::string& listen, int port) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host == "0.0.0.0" || host == "[::]" || host.empty()) host = "127.0.0.1";
  return absl::StrCat(host, ":", port);
}

// What a gRPC server of this daemon holds for its callers (the client API's and the peer
// port). Calls beyond `max_threads` are answered RESOURCE_EXHAUSTED by gRPC at once (the sync
// server would otherwise start a thread per call in flight: a flood of calls, a flood of
// threads). A dead or hung caller is found by its silence to pings (also between calls, and
// however many pings go without data: a waiting stream sends none) and its connection closed,
// which ends its streams and frees their threads.
void LimitServer(grpc::ServerBuilder* builder, int max_threads, uint32_t keepalive_s) {
  grpc::ResourceQuota quota("exorouted");
  quota.SetMaxThreads(max_threads);
  builder->SetResourceQuota(quota);
  const int keepalive_ms = static_cast<int>(keepalive_s) * 1000;
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, std::min(keepalive_ms, 20'000));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
}

}  // namespace

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() { Shutdown(); }

const std::string& Daemon::endpoint() const { return impl_->endpoint; }
const std::string& Daemon::ca_file() const { return impl_->ca_file; }
bool Daemon::plaintext() const { return impl_->plaintext; }

// The peer listener (mutual TLS, configured peers only) and the coordinator's links to peers.
absl::Status Daemon::Impl::StartCluster(const DaemonConfig& config, Clock* clock) {
  Impl& impl = *this;
  const ClusterConfig& k = config.cluster();
  const uint32_t timeout_ms = k.round_timeout_ms() > 0 ? k.round_timeout_ms() : 500;
  // The peer port's and the peer channels' certificates, re-read as the client API's are.
  absl::StatusOr<TlsFiles> files =
      TlsFiles::Create({k.cert_file(), k.key_file(), k.ca_file()}, config.data_dir() + "/tls/peer");
  if (!files.ok()) {
    return absl::Status(files.status().code(), absl::StrCat("cluster certificates: ", files.status().message()));
  }
  impl.peer_tls = std::make_unique<TlsReloader>(*std::move(files), config.tls().reload_interval_s());
  const std::shared_ptr<cluster::CertificateProvider> certificates = impl.peer_tls->Watched();
  EXO_ASSIGN_OR_RETURN(impl.pair_keys, cluster::PairKeys::Generate(config.node_id()));
  impl.key_directory = std::make_unique<cluster::KeyDirectory>(impl.pair_keys.get(), timeout_ms);
  // Pair keys are governance: this node's (new at every start) and each peer's as it is
  // first fetched or changes are recorded in the chain.
  EXO_RETURN_IF_ERROR(RecordPairKey(config.node_id(), impl.pair_keys->public_key(), /*own=*/true, *impl.engine));
  impl.key_directory->OnFetched([engine = impl.engine.get()](const std::string& peer, const std::string& key) {
    if (absl::Status s = RecordPairKey(peer, key, /*own=*/false, *engine); !s.ok()) {
      LogError("governance: cannot record the pair key of %s: %s", peer, s.ToString());
    }
  });
  impl.cluster_node = std::make_unique<cluster::ClusterNode>(
      impl.engine.get(), impl.pair_keys.get(), impl.key_directory.get(), k.privacy(),
      impl.store.get(), clock);
  {
    absl::StatusOr<std::unique_ptr<cluster::ShortfallLedger>> ledger = cluster::ShortfallLedger::Load(impl.store.get());
    if (!ledger.ok()) {
      return absl::Status(ledger.status().code(), absl::StrCat("cluster shortfalls: ", ledger.status().message()));
    }
    impl.shortfalls = *std::move(ledger);
  }
  impl.cluster_node->SetShortfallLedger(impl.shortfalls.get());
  std::set<std::string> peer_ids;
  std::vector<std::unique_ptr<cluster::NodeLink>> links;
  links.push_back(cluster::LocalLink(impl.cluster_node.get()));
  for (const PeerConfig& p : k.peers()) {
    peer_ids.insert(p.node_id());
    std::shared_ptr<grpc::Channel> channel = cluster::PeerChannel(certificates, p);
    impl.key_directory->AddPeer(p.node_id(), channel);
    impl.peer_channels.emplace_back(p, channel);
    links.push_back(cluster::RemoteLink(p.node_id(), std::move(channel), timeout_ms));
  }
  impl.coordinator = std::make_unique<cluster::Coordinator>(
      config.node_id(), std::move(links),
      k.on_node_failure() == NODE_FAILURE_POLICY_UNSPECIFIED ? NODE_FAILURE_POLICY_DROP_NODE
                                                             : k.on_node_failure(),
      k.privacy().epsilon_milli() > 0,
      k.privacy().on_exhausted() == NODE_FAILURE_POLICY_UNSPECIFIED ? NODE_FAILURE_POLICY_DROP_NODE
                                                                    : k.privacy().on_exhausted());
  // Shortfalls recorded before this start are worked on; new routes' only without leave_shortfall.
  impl.coordinator->WorkShortfalls(impl.shortfalls.get(), impl.engine.get(), k.shortfall_retry_ms(),
                                   /*open_new=*/!k.leave_shortfall());
  if (const size_t open = impl.shortfalls->open_count(); open > 0) {
    LogInfo("cluster: %d route shortfall(s) recorded open: routed again from now", open);
  }
  // A plan's dead man's switch cancels its whole route, on every node, as CancelPlan does here.
  impl.engine->SetRouteCanceller([coordinator = impl.coordinator.get(), engine = impl.engine.get()](
                                     const std::string& plan_id, const std::string& reason) -> absl::StatusOr<Plan> {
    EXO_ASSIGN_OR_RETURN(CancelPlanResponse cancelled, coordinator->Cancel(plan_id, reason, engine));
    for (const NodeCancel& n : cancelled.nodes()) {
      if (!n.error().empty()) LogWarning("plan %s: cancel on disconnect: node %s: %s", plan_id, n.node(), n.error());
    }
    if (!cancelled.has_plan()) return absl::NotFoundError(absl::StrCat("this node has no plan of route ", plan_id));
    return cancelled.plan();
  });
  impl.peer_service = std::make_unique<cluster::PeerServiceImpl>(impl.cluster_node.get(), impl.pair_keys.get(), peer_ids);
  std::shared_ptr<grpc::ServerCredentials> creds = cluster::PeerServerCredentials(certificates);
  grpc::ServerBuilder builder;
  RefuseSharedPort(&builder);
  int port = 0;
  builder.AddListeningPort(k.listen(), creds, &port);
  // A peer's coordinator holds one stream here (a new one from the same peer ends its older
  // ones) and calls Hello now and then: room for several times that, and calls beyond it
  // refused at once rather than a thread each. Dead peers' connections are found by pings as
  // clients' are on the API port.
  LimitServer(&builder, 16 * (k.peers_size() + 1), config.listen().keepalive_s());
  builder.RegisterService(impl.peer_service.get());
  impl.peer_server = builder.BuildAndStart();
  if (!impl.peer_server || port == 0) {
    return absl::UnavailableError(absl::StrCat("cluster.listen: cannot listen on ", k.listen(),
                                               " (address in use or not local?)"));
  }
  LogInfo("cluster: node %s peers on %s (mutual TLS), %d peer(s)", config.node_id(),
          DialAddress(k.listen(), port), k.peers_size());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const DaemonConfig& config, Clock* clock,
                                                      const std::string& config_path) {
  EXO_RETURN_IF_ERROR(ArmCrashPointFromEnvironment());
  auto impl = std::make_unique<Impl>();
  EXO_RETURN_IF_ERROR(CheckDataDir(config));
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir(), ec);
  if (ec) {
    return absl::Status(ec == std::errc::permission_denied ? absl::StatusCode::kPermissionDenied
                                                           : absl::StatusCode::kFailedPrecondition,
                        absl::StrCat("data_dir ", config.data_dir(), ": cannot create it: ", ec.message()));
  }
  store::StoreOptions so;
  so.path = config.data_dir() + "/db";
  so.node_id = config.node_id();
  so.memtable_budget_bytes = uint64_t{config.store().memtable_mib()} << 20;
  so.max_wal_bytes = uint64_t{config.store().max_wal_mib()} << 20;
  EXO_ASSIGN_OR_RETURN(impl->store, store::OpenRocksDeltaStore(so));
  LogInfo("store %s open, chain head %d (memtables <= %d MiB, logs <= %d MiB)", so.path,
          impl->store->Head().sequence(), config.store().memtable_mib(), config.store().max_wal_mib());
  EXO_ASSIGN_OR_RETURN(impl->head_signer, store::HeadSigner::LoadOrCreate(config.data_dir() + "/keys/chain-head.key"));

  EXO_ASSIGN_OR_RETURN(std::vector<RouterEngine::Venue> venues, MakeVenues(config, clock));
  // The Graph of Contracts for these venues: a broken graph refuses to start, naming the edge.
  adapters::GraphOfContractsRegistry registry;
  adapters::RegisterBuiltinContracts(registry);
  std::map<std::string, std::string> venue_kinds;
  for (const auto& v : venues) venue_kinds[v.config.id()] = v.adapter->kind();
  EXO_ASSIGN_OR_RETURN(adapters::ContractGraph graph, registry.Build(venue_kinds));
  ListContractsResponse contracts = ToProto(graph);
  impl->engine =
      std::make_unique<RouterEngine>(config, impl->store.get(), std::move(venues), clock);
  EXO_RETURN_IF_ERROR(impl->engine->Recover());
  // What governs the node, if it changed since the chain last recorded it, before it serves.
  EXO_RETURN_IF_ERROR(RecordGovernanceChanges(config, impl->head_signer->public_key(), *impl->engine, *impl->store));
  EXO_RETURN_IF_ERROR(impl->engine->Start());

  EXO_ASSIGN_OR_RETURN(auto creds, MakeCredentials(config, &impl->ca_file, &impl->tls));
  impl->plaintext = config.tls().insecure_plaintext();
  if (config.has_cluster()) EXO_RETURN_IF_ERROR(impl->StartCluster(config, clock));
  impl->watchdog = std::make_unique<StreamWatchdog>(config.listen().stream_stall_ms());
  impl->access = std::make_unique<AccessControl>(impl->engine.get());
  impl->router = std::make_unique<RouterServiceImpl>(impl->engine.get(), impl->store.get(), impl->coordinator.get(),
                                                     impl->watchdog.get(), impl->access.get());
  impl->audit = std::make_unique<AuditServiceImpl>(impl->store.get(), impl->head_signer.get(), config.node_id(),
                                                   config.listen().max_replays(), impl->watchdog.get(),
                                                   &impl->draining, impl->access.get());
  impl->admin = std::make_unique<AdminServiceImpl>(impl->engine.get(), impl->store.get(),
                                                   clock->NowNs(), std::move(contracts), impl->access.get());
  impl->reloader = std::make_unique<ConfigReloader>(config_path, impl->engine.get(), impl->store.get(), clock);
  impl->admin->SetConfigReloader(impl->reloader.get());
  impl->admin->AddStatusSource([reloader = impl->reloader.get()](StatusResponse* resp) {
    *resp->mutable_config() = reloader->Status();
  });
  impl->admin->AddStatusSource([router = impl->router.get(), audit = impl->audit.get(),
                                watchdog = impl->watchdog.get()](StatusResponse* resp) {
    resp->set_open_watches(router->open_watches());
    resp->set_open_replays(audit->open_replays());
    resp->set_streams_stalled(watchdog->cancelled());
  });
  impl->admin->AddStatusSource([access = impl->access.get()](StatusResponse* resp) {
    resp->set_rpcs_denied(access->denied());
    resp->set_last_rpc_denied(access->last_denied());
  });
  impl->admin->AddStatusSource([engine = impl->engine.get()](StatusResponse* resp) {
    resp->set_disconnect_held(static_cast<uint32_t>(engine->disconnect_held()));
    resp->set_disconnect_waiting(static_cast<uint32_t>(engine->disconnect_waiting()));
    resp->set_disconnect_cancels(engine->disconnect_cancels());
  });
  impl->admin->AddStatusSource([api = impl->tls.get(), peer = impl->peer_tls.get()](StatusResponse* resp) {
    for (auto [port, tls] : {std::pair{"api", api}, std::pair{"peer", peer}}) {
      if (tls == nullptr) continue;
      const TlsReloader::State s = tls->state();
      CertificateStatus* c = resp->add_certificates();
      c->set_port(port);
      c->set_not_after_s(s.not_after_s);
      c->set_reloads(s.reloads);
      c->set_refused(s.refused);
    }
  });
  if (impl->cluster_node) {
    impl->admin->AddStatusSource([node = impl->cluster_node.get(), peers = impl->peer_service.get(),
                                   coordinator = impl->coordinator.get(), channels = &impl->peer_channels,
                                   shortfalls = impl->shortfalls.get()](StatusResponse* resp) {
      for (auto& b : node->Budgets()) *resp->add_budgets() = std::move(b);
      for (auto& w : shortfalls->OpenWork()) *resp->add_shortfalls_worked() = std::move(w);
      for (auto& n : shortfalls->UndeliveredCancelNotices()) *resp->add_cancels_sent_again() = std::move(n);
      for (const TermsNotice& n : shortfalls->UndeliveredTermsNotices()) {
        TermsSentAgain* t = resp->add_terms_sent_again();
        t->set_route_id(n.route_id());
        t->set_via(n.via());
        t->set_amended_ns(n.amended_ns());
      }
      resp->set_peer_calls_refused(peers->refused());
      resp->set_cluster_routes_refused(node->routes_refused());
      for (const auto& [peer, channel] : *channels) {
        PeerStatus* p = resp->add_peers();
        p->set_node(peer.node_id());
        p->set_address(peer.address());
        p->set_connection(ConnectionName(channel->GetState(/*try_to_connect=*/false)));
        cluster::Coordinator::CallTotals t = coordinator->Totals(peer.node_id());
        const cluster::PeerServiceImpl::ExchangeCounts e = peers->Exchanges(peer.node_id());
        p->set_exchanges_open(e.open);
        p->set_exchanges_replaced(e.replaced);
        if (std::optional<std::string> silent = coordinator->Silent(peer.node_id())) p->set_silent(*silent);
        p->set_calls(t.calls);
        p->set_mean_answer_us(t.calls == 0 ? 0 : t.sum_ns / static_cast<int64_t>(t.calls) / 1000);
        if (std::optional<cluster::Coordinator::LeftOut> out = coordinator->LastLeftOut(peer.node_id())) {
          p->set_left_out_route(out->route_id);
          p->set_left_out_reason(out->reason);
        }
      }
    });
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  RefuseSharedPort(&builder);
  int port = 0;
  builder.AddListeningPort(config.listen().address(), creds, &port);
  // The config leaves room beside the streams, which each hold a thread while open.
  LimitServer(&builder, static_cast<int>(config.listen().max_threads()), config.listen().keepalive_s());
  builder.RegisterService(impl->router.get());
  builder.RegisterService(impl->audit.get());
  builder.RegisterService(impl->admin.get());
  impl->server = builder.BuildAndStart();
  if (!impl->server || port == 0) {
    impl->engine->Stop();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen().address(),
                                               " (address in use or not local?)"));
  }
  impl->server->GetHealthCheckService()->SetServingStatus(true);
  impl->engine->AwaitArmedSwitches();  // Clients can watch again from now: their grace starts.
  impl->engine->OnWriteFailure([server = impl->server.get()](const absl::Status&) {
    server->GetHealthCheckService()->SetServingStatus(false);  // As /healthz: out of rotation.
  });
  impl->endpoint = DialAddress(config.listen().address(), port);

  std::string admin_url;
  if (config.has_admin()) {
    AdminHttpServer::Handlers h;
    h.metrics = [admin = impl->admin.get(), engine = impl->engine.get(), router = impl->router.get(),
                 coordinator = impl->coordinator.get()] {
      std::vector<HistogramMetric> histograms = {
          {"exoroute_route_duration_seconds",
           "Route calls answered OK, from request to answer (a cluster route: the whole distributed route).",
           router->route_latency().Read(), ""},
          {"exoroute_decision_duration_seconds",
           "Solver decisions, wall time: a plan's first (kind=\"first\") and its re-plans (kind=\"replan\", "
           "searching from the plan's last dual price).",
           engine->decision_latency(false).Read(), "kind=\"first\""},
          {"exoroute_decision_duration_seconds", "", engine->decision_latency(true).Read(), "kind=\"replan\""},
          {"exoroute_decision_inputs_duration_seconds",
           "Per decision, snapshotting the venues' books into its input and serialising that input for the "
           "record (the rest of a decision's work besides the solver).",
           engine->inputs_latency().Read(), ""}};
      if (coordinator != nullptr) {
        for (HistogramMetric& m : coordinator->CallLatency()) histograms.push_back(std::move(m));
      }
      const StatusResponse status = admin->Snapshot();
      for (const VenueStatus& v : status.venues()) {
        histograms.push_back({"exoroute_venue_child_seconds",
                              "From sending a child to the venue to its last report (filled, cancelled, expired or "
                              "rejected), for the children this process sent.",
                              engine->child_outcomes().Read(v.venue()).to_done,
                              absl::StrCat("venue=\"", EscapeLabelValue(v.venue()), "\"")});
      }
      return RenderPrometheus(status, histograms);
    };
    h.health = [draining = &impl->draining, store = impl->store.get()] {
      if (draining->load()) return absl::UnavailableError("draining: exorouted is shutting down");
      // A node that cannot record cannot route: out of rotation until restarted.
      return store->WriteFailure();
    };
    absl::StatusOr<std::unique_ptr<AdminHttpServer>> http = AdminHttpServer::Start(config.admin().listen(), std::move(h));
    if (!http.ok()) {
      impl->server->Shutdown();
      impl->engine->Stop();
      return http.status();
    }
    impl->admin_http = *std::move(http);
    admin_url = absl::StrCat("http://", DialAddress(config.admin().listen(), impl->admin_http->port()));
    WriteFileAtomically(config.data_dir() + "/admin_endpoint", admin_url.substr(7) + "\n");
    const std::string host = config.admin().listen().substr(0, config.admin().listen().rfind(':'));
    if (host != "127.0.0.1" && host != "localhost" && host != "[::1]" && host != "::1") {
      LogWarning("admin HTTP port on %s is plain HTTP: /metrics names venues and counts orders; "
                 "keep it on loopback or a monitoring network", config.admin().listen());
    }
    LogInfo("admin HTTP on %s (/metrics, /healthz)", admin_url);
  }
  impl->admin->SetNodeFacts(impl->head_signer->public_key(), admin_url);

  // Written last and atomically: its presence means "ready".
  WriteFileAtomically(config.data_dir() + "/endpoint", impl->endpoint + "\n");
  LogInfo("exorouted %s serving on %s (%s)", config.node_id(), impl->endpoint,
          impl->plaintext ? "PLAINTEXT" : "TLS");
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

absl::StatusOr<ReloadConfigResponse> Daemon::ReloadConfig() {
  return impl_->reloader->Reload(/*dry_run=*/false, "on SIGHUP");
}

void Daemon::Shutdown() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  LogInfo("shutting down: refusing new routes, finishing in-flight RPCs");
  impl_->draining = true;
  if (impl_->coordinator) impl_->coordinator->StopShortfallWork();  // No sub-route starts from now.
  impl_->engine->BeginDrain();
  impl_->server->GetHealthCheckService()->SetServingStatus(false);
  // Our own count of writing RPCs, not gRPC's Shutdown deadline, decides the grace: gRPC waits
  // the whole deadline for idle client connections, which would stall every restart.
  if (!impl_->engine->AwaitNoWriters(absl::Seconds(5))) {
    LogWarning("routes still in progress after 5 s; cancelling them");
  }
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  impl_->server->Wait();
  if (impl_->peer_server) {
    impl_->peer_service->EndExchanges();  // Peers' open streams would hold Shutdown to its deadline.
    impl_->peer_server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    impl_->peer_server->Wait();
  }
  LogInfo("stopping venues and engine");
  if (impl_->admin_http) impl_->admin_http->Stop();
  impl_->engine->Stop();
  exoroute::v1::ChainHead head = impl_->store->Head();
  impl_->store.reset();  // Closes RocksDB with the WAL synced.
  LogInfo("store closed at chain head %d; bye", head.sequence());
}

}  // namespace exo::daemon
