#include "daemon/cluster/peer_service.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "daemon/grpc_services.h"
#include "exo/log.h"
#include "exo/status_macros.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace exo::daemon::cluster {
namespace {

using namespace exoroute::v1;  // NOLINT: the wire types of this file.

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* field) {
  std::ifstream f(path);
  if (!f) return absl::FailedPreconditionError(absl::StrCat(field, ": cannot read ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

PeerServiceImpl::PeerServiceImpl(ClusterNode* node, const PairKeys* keys,
                                 std::set<std::string> peer_ids)
    : node_(node), keys_(keys), peer_ids_(std::move(peer_ids)) {}

grpc::Status PeerServiceImpl::Hello(grpc::ServerContext* ctx, const HelloRequest* req,
                                    HelloReply* reply) {
  return Serve(ctx, *req, reply, [this](const HelloRequest&) -> absl::StatusOr<HelloReply> {
    HelloReply r;
    r.set_node(keys_->node_id());
    r.set_x25519_public(keys_->public_key());
    return r;
  });
}

absl::StatusOr<std::string> PeerServiceImpl::Caller(const grpc::ServerContext* ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx->auth_context();
  std::vector<std::string> names;
  if (auth != nullptr) {
    for (const grpc::string_ref& san : auth->FindPropertyValues("x509_subject_alternative_name")) {
      std::string id(san.data(), san.size());
      if (peer_ids_.count(id) > 0) return id;
      names.push_back(id);
    }
  }
  const uint64_t refusals = ++refused_;
  std::string who = names.empty() ? "no certificate identity" : absl::StrJoin(names, ",");
  refusal_warning_.Log(absl::StrFormat("peer call from %s refused: not a configured peer (refusals: %d)", who, refusals));
  return absl::PermissionDeniedError(
      absl::StrCat("certificate identity [", who, "] is not a configured peer of node ",
                   node_->node_id()));
}

template <typename Req, typename Reply, typename Fn>
grpc::Status PeerServiceImpl::Serve(grpc::ServerContext* ctx, const Req& req, Reply* reply, Fn fn) {
  absl::StatusOr<std::string> caller = Caller(ctx);
  if (!caller.ok()) return ToGrpc(caller.status());
  absl::StatusOr<Reply> r = fn(req);
  if (!r.ok()) return ToGrpc(r.status());
  *reply = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status PeerServiceImpl::Exchange(grpc::ServerContext* ctx,
                                       grpc::ServerReaderWriter<PeerAnswer, PeerCall>* stream) {
  absl::StatusOr<std::string> caller = Caller(ctx);
  if (!caller.ok()) return ToGrpc(caller.status());
  int ended = 0;
  {
    std::lock_guard<std::mutex> lock(exchanges_mu_);
    if (ending_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is shutting down");
    for (auto& [other, open] : exchanges_) {
      if (open.peer != *caller || open.replaced) continue;
      other->TryCancel();  // (Its handler leaves the map under this lock: `other` is alive.)
      open.replaced = true;
      ++ended;
    }
    replaced_[*caller] += static_cast<uint64_t>(ended);
    exchanges_.emplace(ctx, OpenExchange{*caller});
  }
  if (ended > 0) {
    LogInfo("peer %s opened a new exchange stream: its previous one ended (the peer restarted or "
            "lost its connection without this node seeing it close)",
            *caller);
  }
  PeerCall call;
  while (stream->Read(&call)) {
    if (!stream->Write(node_->Answer(call))) break;
  }
  std::lock_guard<std::mutex> lock(exchanges_mu_);
  exchanges_.erase(ctx);
  return grpc::Status::OK;
}

PeerServiceImpl::ExchangeCounts PeerServiceImpl::Exchanges(const std::string& peer) const {
  std::lock_guard<std::mutex> lock(exchanges_mu_);
  ExchangeCounts c;
  for (const auto& [ctx, open] : exchanges_) c.open += open.peer == peer && !open.replaced ? 1 : 0;
  if (auto it = replaced_.find(peer); it != replaced_.end()) c.replaced = it->second;
  return c;
}

void PeerServiceImpl::EndExchanges() {
  std::lock_guard<std::mutex> lock(exchanges_mu_);
  ending_ = true;
  for (auto& [ctx, open] : exchanges_) ctx->TryCancel();
}

absl::StatusOr<std::shared_ptr<CertificateProvider>> StaticPeerCertificates(const ClusterConfig& cluster) {
  EXO_ASSIGN_OR_RETURN(std::string ca, ReadFile(cluster.ca_file(), "cluster.ca_file"));
  EXO_ASSIGN_OR_RETURN(std::string cert, ReadFile(cluster.cert_file(), "cluster.cert_file"));
  EXO_ASSIGN_OR_RETURN(std::string key, ReadFile(cluster.key_file(), "cluster.key_file"));
  return std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      ca, std::vector<grpc::experimental::IdentityKeyCertPair>{{key, cert}});
}

std::shared_ptr<grpc::ServerCredentials> PeerServerCredentials(std::shared_ptr<CertificateProvider> certificates) {
  grpc::experimental::TlsServerCredentialsOptions opts(std::move(certificates));
  opts.watch_root_certs();
  opts.watch_identity_key_cert_pairs();
  opts.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> PeerServerCredentials(const ClusterConfig& cluster) {
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<CertificateProvider> certificates, StaticPeerCertificates(cluster));
  return PeerServerCredentials(std::move(certificates));
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> PeerChannel(const ClusterConfig& cluster, const PeerConfig& peer) {
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<CertificateProvider> certificates, StaticPeerCertificates(cluster));
  return PeerChannel(std::move(certificates), peer);
}

std::shared_ptr<grpc::Channel> PeerChannel(std::shared_ptr<CertificateProvider> certificates, const PeerConfig& peer) {
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_certificate_provider(std::move(certificates));
  opts.watch_root_certs();
  opts.watch_identity_key_cert_pairs();
  opts.set_verify_server_certs(true);
  // The peer's certificate must name the node we expect at this address (the target name
  // override below).
  opts.set_certificate_verifier(std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  grpc::ChannelArguments args;
  // The peer's certificate must name the node we expect at this address.
  args.SetSslTargetNameOverride(peer.node_id());
  // A peer that restarts is back within a second: its calls fail fast while it is away (the
  // route drops it) and the channel keeps retrying the connection in the background.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(peer.address(), grpc::experimental::TlsCredentials(opts), args);
}

}  // namespace exo::daemon::cluster
