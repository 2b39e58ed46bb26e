// Secure aggregation for cluster routes: pairwise masks that cancel in the coordinator's sum.
//
// Every node has an X25519 key pair for the life of its process; peers fetch each other's
// public key over mutual TLS (PeerService.Hello), so a key is bound to the certificate identity
// of the node that served it. For each pair of nodes (i, j) both derive the same pair key
// K_ij = HMAC-SHA256(X25519(sk_i, pk_j), "exoroute-mask-v1|" + lower id + "|" + higher id).
// What a node releases for (route, attempt, kind, round) is its true value plus, for every other
// participant j, +PRF(K_ij, ...) if i < j and -PRF(K_ij, ...) otherwise, all modulo 2^64 (counts)
// or 2^128 (costs, in fixed point). The masks cancel in the sum over all participants, so the
// coordinator learns only the total. See docs/cluster.md for what colluding nodes can learn.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/cluster/hmac_sha256.h"
#include "exoroute/v1/peer.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace exo::daemon::cluster {

using uint128 = unsigned __int128;

// Costs cross the wire in fixed point (2^-20 of a price unit × quantity unit) so that they can
// be masked modulo 2^128.
uint128 CostToFixed(double cost);
double FixedToCost(uint128 fixed);
exoroute::v1::Masked128 ToWire(uint128 v);
uint128 FromWire(const exoroute::v1::Masked128& m);

// This node's X25519 key pair and the pair keys it shares with peers.
class PairKeys {
 public:
  static absl::StatusOr<std::unique_ptr<PairKeys>> Generate(std::string node_id);
  ~PairKeys();
  const std::string& node_id() const { return node_id_; }
  const std::string& public_key() const { return public_key_; }  // 32 raw bytes.
  // SHA-256 of the public key, first 8 bytes: names the key in replies.
  const std::string& fingerprint() const { return fingerprint_; }
  // K_ij for a peer whose public key is `peer_public`.
  absl::StatusOr<std::string> PairKey(const std::string& peer_id, const std::string& peer_public) const;

 private:
  PairKeys() = default;
  std::string node_id_, public_key_, fingerprint_;
  void* key_ = nullptr;  // EVP_PKEY*
};

std::string KeyFingerprint(const std::string& public_key);

// HMAC-SHA256 keyed once (hmac_sha256.h): each evaluation copies the keyed state instead of
// re-keying. The keyed state is never changed after construction, so copies share it and
// evaluate concurrently.
class Prf {
 public:
  explicit Prf(const std::string& key);
  // HMAC-SHA256(key, data).
  std::array<unsigned char, 32> operator()(std::string_view data) const { return (*hmac_)(data); }

 private:
  std::shared_ptr<const HmacSha256> hmac_;
};

// Peers' public keys, fetched over mutual TLS and cached until a fingerprint says otherwise.
class KeyDirectory {
 public:
  KeyDirectory(const PairKeys* own, uint32_t timeout_ms);
  void AddPeer(const std::string& node_id, std::shared_ptr<grpc::Channel> channel);
  // Called (outside any lock) with every peer public key fetched, e.g. to record it.
  void OnFetched(std::function<void(const std::string& peer, const std::string& public_key)> fn) {
    on_fetched_ = std::move(fn);
  }
  // The PRF keyed with the pair key K_ij shared with `peer` (keyed once per key, shared by every
  // route); refetches the peer's public key when `refresh` is set or none is cached.
  absl::StatusOr<Prf> PairPrfWith(const std::string& peer, bool refresh);
  // Fingerprint of the cached key of `peer` ("" if none).
  std::string CachedFingerprint(const std::string& peer) const;

 private:
  const PairKeys* own_;
  uint32_t timeout_ms_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<exoroute::v1::PeerService::Stub>> stubs_;
  std::map<std::string, std::string> public_keys_;  // Guarded by mu_.
  std::map<std::string, Prf> pair_prfs_;            // Guarded by mu_.
  std::function<void(const std::string&, const std::string&)> on_fetched_;  // Set before use.
};

// The masks one node adds for one release: counts and costs.
struct Masks {
  uint64_t q[3] = {0, 0, 0};  // For lo/hi and a count (or a single count in q[0]).
  uint128 c[2] = {0, 0};    // For cost_lo/cost_hi (or a single cost in c[0]).
};

// Σ_j ±PRF(K_ij, route | attempt | kind | round) over the other participants j.
// `pair_prfs` maps every other participant to the PRF keyed with K_ij.
Masks MaskFor(const std::string& self, const std::map<std::string, Prf>& pair_prfs,
              const std::string& route_id, uint32_t attempt, const std::string& kind,
              uint32_t round);

}  // namespace exo::daemon::cluster
