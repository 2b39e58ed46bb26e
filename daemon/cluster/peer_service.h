// The peer side of the cluster protocol: PeerService over mutual TLS. Every call must come
// from a certificate of the cluster CA whose SAN names a configured peer; anything else is
// refused with PERMISSION_DENIED, logged and counted. (A certificate from another CA never
// gets this far: the TLS handshake refuses it.)
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/cluster/cluster_node.h"
#include "daemon/cluster/secure_sum.h"
#include "exo/log.h"
#include "exoroute/v1/config.pb.h"
#include "exoroute/v1/peer.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/tls_certificate_provider.h"

namespace exo::daemon::cluster {

class PeerServiceImpl final : public exoroute::v1::PeerService::Service {
 public:
  PeerServiceImpl(ClusterNode* node, const PairKeys* keys, std::set<std::string> peer_ids);

  grpc::Status Hello(grpc::ServerContext*, const exoroute::v1::HelloRequest*,
                     exoroute::v1::HelloReply*) override;
  grpc::Status Exchange(grpc::ServerContext*,
                        grpc::ServerReaderWriter<exoroute::v1::PeerAnswer, exoroute::v1::PeerCall>*) override;

  uint64_t refused() const { return refused_.load(); }
  // A peer's Exchange streams open now, and how many of its streams were ended because it
  // opened a new one. A peer's coordinator holds one stream to this node: when a new one comes,
  // the old ones are from a connection the peer has given up (its process restarted, or the
  // connection was lost without this node seeing it close) and are ended, each freeing the
  // thread it held.
  struct ExchangeCounts {
    uint32_t open = 0;
    uint64_t replaced = 0;
  };
  ExchangeCounts Exchanges(const std::string& peer) const;
  // Ends every open Exchange stream (their coordinators open new ones when they next call):
  // before the server shuts down, which would otherwise wait for them.
  void EndExchanges();

 private:
  // The calling peer's node id, or PERMISSION_DENIED.
  absl::StatusOr<std::string> Caller(const grpc::ServerContext* ctx);
  template <typename Req, typename Reply, typename Fn>
  grpc::Status Serve(grpc::ServerContext* ctx, const Req& req, Reply* reply, Fn fn);

  ClusterNode* const node_;
  const PairKeys* const keys_;
  const std::set<std::string> peer_ids_;
  std::atomic<uint64_t> refused_{0};
  // A certificate refused again and again (a misconfigured node retrying every route) is logged
  // once, then at most once a minute with how many were held back; refused() counts them all.
  RepeatedWarning refusal_warning_;
  // An open Exchange stream: whose, and whether it was ended for a newer one (its thread then
  // leaves shortly).
  struct OpenExchange {
    std::string peer;
    bool replaced = false;
  };
  mutable std::mutex exchanges_mu_;
  std::map<grpc::ServerContext*, OpenExchange> exchanges_;  // (Guarded by exchanges_mu_,
  std::map<std::string, uint64_t> replaced_;                // as these.)
  bool ending_ = false;                                     // EndExchanges was called.
};

// This node's certificate, key and the cluster CA, as gRPC takes them: read once
// (StaticPeerCertificates) or re-read while the node runs (TlsReloader::Watched, the daemon's).
using CertificateProvider = grpc::experimental::CertificateProviderInterface;
absl::StatusOr<std::shared_ptr<CertificateProvider>> StaticPeerCertificates(const exoroute::v1::ClusterConfig& cluster);

// Server credentials for the peer listener: this node's certificate, client certificates
// required and verified against the cluster CA.
std::shared_ptr<grpc::ServerCredentials> PeerServerCredentials(std::shared_ptr<CertificateProvider> certificates);
// A channel to `peer` that only accepts a server certificate naming peer.node_id().
std::shared_ptr<grpc::Channel> PeerChannel(std::shared_ptr<CertificateProvider> certificates,
                                           const exoroute::v1::PeerConfig& peer);
// The same from the cluster config's files, read once (tools and tests).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> PeerServerCredentials(
    const exoroute::v1::ClusterConfig& cluster);
absl::StatusOr<std::shared_ptr<grpc::Channel>> PeerChannel(const exoroute::v1::ClusterConfig& cluster,
                                                           const exoroute::v1::PeerConfig& peer);

}  // namespace exo::daemon::cluster
