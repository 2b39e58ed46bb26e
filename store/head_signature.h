// Signed chain heads: a node's Ed25519 signature over (node id, sequence, hash) of its chain
// head (docs/replay-and-audit.md). An auditor keeps signed heads; later, `audit verify
// --signed-head` proves the chain still has that hash at that sequence — no delta up to it was
// changed, dropped or reordered — and that the node itself vouched for it.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "exoroute/v1/audit.pb.h"

namespace exo::store {

// The exact text a head signature covers:
// "exoroute-chain-head/v1 <node_id> <sequence> <hash as 64 lowercase hex digits>".
std::string SignedHeadMessage(const std::string& node_id, const exoroute::v1::ChainHead& head);

class HeadSigner {
 public:
  // The Ed25519 key in `path` (PKCS#8 PEM); created there (mode 0600, parent directories
  // made) if the file does not exist. A file that is not an Ed25519 key is an error naming it.
  static absl::StatusOr<std::unique_ptr<HeadSigner>> LoadOrCreate(const std::string& path);
  ~HeadSigner();
  HeadSigner(const HeadSigner&) = delete;
  HeadSigner& operator=(const HeadSigner&) = delete;

  exoroute::v1::SignedChainHead Sign(const std::string& node_id, const exoroute::v1::ChainHead& head) const;
  // The signature of `text` (64 bytes; empty if OpenSSL fails, which every verifier refuses).
  std::string SignText(const std::string& text) const;
  const std::string& public_key() const { return public_key_; }  // 32 bytes.

 private:
  HeadSigner(void* key, std::string public_key) : key_(key), public_key_(std::move(public_key)) {}
  void* key_;  // EVP_PKEY*
  std::string public_key_;
};

// OK if `h.signature` is a valid Ed25519 signature of h's node id and head by h.public_key,
// and, when `pinned_key` (32 raw bytes) is given, h.public_key is that key. Otherwise
// FAILED_PRECONDITION saying which check failed.
absl::Status VerifySignedHead(const exoroute::v1::SignedChainHead& h, const std::string& pinned_key = "");

// The text a Merkle tree head signature covers:
// "exoroute-tree-head/v1 <node_id> <tree_size> <root as 64 lowercase hex digits>".
std::string TreeHeadMessage(const std::string& node_id, uint64_t tree_size, const std::string& root);

// OK if `signature` is `public_key`'s (32 bytes) Ed25519 signature of `text`, and the key is
// `pinned_key` when that is given; else FAILED_PRECONDITION naming `what`.
absl::Status VerifyEd25519(const std::string& public_key, const std::string& signature, const std::string& text,
                           const std::string& pinned_key, const std::string& what);

}  // namespace exo::store
