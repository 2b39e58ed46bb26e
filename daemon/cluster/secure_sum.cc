#include "daemon/cluster/secure_sum.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "exo/sha256.h"
#include "exo/status_macros.h"

namespace exo::daemon::cluster {
namespace {

constexpr double kCostScale = 1048576.0;  // 2^20.

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

uint64_t Word(const std::array<unsigned char, 32>& block, size_t i) {
  uint64_t w = 0;
  std::memcpy(&w, block.data() + 8 * i, 8);
  return w;
}

}  // namespace

uint128 CostToFixed(double cost) {
  return static_cast<uint128>(static_cast<__int128>(std::nearbyint(cost * kCostScale)));
}

double FixedToCost(uint128 fixed) {
  return static_cast<double>(static_cast<__int128>(fixed)) / kCostScale;
}

exoroute::v1::Masked128 ToWire(uint128 v) {
  exoroute::v1::Masked128 m;
  m.set_hi(static_cast<uint64_t>(v >> 64));
  m.set_lo(static_cast<uint64_t>(v));
  return m;
}

uint128 FromWire(const exoroute::v1::Masked128& m) {
  return (static_cast<uint128>(m.hi()) << 64) | m.lo();
}

std::string KeyFingerprint(const std::string& public_key) {
  return DigestToString(Sha256Of(public_key)).substr(0, 8);
}

absl::StatusOr<std::unique_ptr<PairKeys>> PairKeys::Generate(std::string node_id) {
  auto keys = std::unique_ptr<PairKeys>(new PairKeys);
  keys->node_id_ = std::move(node_id);
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  if (pkey == nullptr) return absl::InternalError("X25519 key generation failed");
  keys->key_ = pkey;
  unsigned char pub[32];
  size_t len = sizeof(pub);
  if (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 || len != 32) {
    return absl::InternalError("X25519 public key unavailable");
  }
  keys->public_key_.assign(reinterpret_cast<const char*>(pub), len);
  keys->fingerprint_ = KeyFingerprint(keys->public_key_);
  return keys;
}

PairKeys::~PairKeys() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

absl::StatusOr<std::string> PairKeys::PairKey(const std::string& peer_id,
                                              const std::string& peer_public) const {
  if (peer_public.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat("node ", peer_id, ": X25519 public key must be 32 bytes"));
  }
  EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_X25519, nullptr, reinterpret_cast<const unsigned char*>(peer_public.data()), 32);
  if (peer == nullptr) return absl::InvalidArgumentError(absl::StrCat("node ", peer_id, ": bad X25519 key"));
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(static_cast<EVP_PKEY*>(key_), nullptr);
  unsigned char secret[32];
  size_t len = sizeof(secret);
  bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
            EVP_PKEY_derive(ctx, secret, &len) == 1 && len == 32;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  if (!ok) return absl::InternalError(absl::StrCat("X25519 agreement with node ", peer_id, " failed"));
  const std::string& a = node_id_ < peer_id ? node_id_ : peer_id;
  const std::string& b = node_id_ < peer_id ? peer_id : node_id_;
  return Hmac(std::string(reinterpret_cast<const char*>(secret), len),
              absl::StrCat("exoroute-mask-v1|", a, "|", b));
}

KeyDirectory::KeyDirectory(const PairKeys* own, uint32_t timeout_ms) : own_(own), timeout_ms_(timeout_ms) {}

void KeyDirectory::AddPeer(const std::string& node_id, std::shared_ptr<grpc::Channel> channel) {
  stubs_[node_id] = exoroute::v1::PeerService::NewStub(std::move(channel));
}

absl::StatusOr<Prf> KeyDirectory::PairPrfWith(const std::string& peer, bool refresh) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pair_prfs_.find(peer);
    if (!refresh && it != pair_prfs_.end()) return it->second;
  }
  auto stub = stubs_.find(peer);
  if (stub == stubs_.end()) return absl::InvalidArgumentError(absl::StrCat("participants: unknown node ", peer));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_));
  exoroute::v1::HelloReply reply;
  grpc::Status s = stub->second->Hello(&ctx, exoroute::v1::HelloRequest(), &reply);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("node ", peer, ": key exchange failed: ", s.error_message()));
  }
  EXO_ASSIGN_OR_RETURN(std::string key, own_->PairKey(peer, reply.x25519_public()));
  if (on_fetched_) on_fetched_(peer, reply.x25519_public());
  Prf prf(key);
  std::lock_guard<std::mutex> lock(mu_);
  public_keys_[peer] = reply.x25519_public();
  pair_prfs_.insert_or_assign(peer, prf);
  return prf;
}

std::string KeyDirectory::CachedFingerprint(const std::string& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = public_keys_.find(peer);
  return it == public_keys_.end() ? "" : KeyFingerprint(it->second);
}

Prf::Prf(const std::string& key) : hmac_(std::make_shared<const HmacSha256>(key)) {}

Masks MaskFor(const std::string& self, const std::map<std::string, Prf>& pair_prfs,
              const std::string& route_id, uint32_t attempt, const std::string& kind,
              uint32_t round) {
  Masks m;
  std::string label = absl::StrCat(route_id, "|", attempt, "|", kind, "|", round, "|0");
  std::string label1 = label;
  label1.back() = '1';
  for (const auto& [peer, prf] : pair_prfs) {
    const std::array<unsigned char, 32> b0 = prf(label), b1 = prf(label1);
    Masks one;
    one.q[0] = Word(b0, 0);
    one.q[1] = Word(b0, 1);
    one.c[0] = (static_cast<uint128>(Word(b0, 2)) << 64) | Word(b0, 3);
    one.c[1] = (static_cast<uint128>(Word(b1, 0)) << 64) | Word(b1, 1);
    one.q[2] = Word(b1, 2);
    const bool add = self < peer;
    for (int i = 0; i < 3; ++i) m.q[i] = add ? m.q[i] + one.q[i] : m.q[i] - one.q[i];
    for (int i = 0; i < 2; ++i) m.c[i] = add ? m.c[i] + one.c[i] : m.c[i] - one.c[i];
  }
  return m;
}

}  // namespace exo::daemon::cluster
