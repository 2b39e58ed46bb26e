// An RFC 9162 (Certificate Transparency v2) Merkle tree over a node's chain: leaf i is the
// canonical bytes of delta i+1. An inclusion proof — the leaf, the tree size and about log2(n)
// hashes — lets an auditor check that one decision is in the log a signed tree head commits
// to, without the rest of the log (docs/replay-and-audit.md, "Inclusion proofs").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace exo::store {

// SHA-256(0x00 || entry) and SHA-256(0x01 || left || right) (RFC 9162 §2.1.1).
std::string MerkleLeafHash(const std::string& entry);
std::string MerkleNodeHash(const std::string& left, const std::string& right);

// MTH over leaf hashes (already leaf-hashed); the hash of the empty string for none.
std::string MerkleRoot(const std::vector<std::string>& leaf_hashes);

// PATH(m, D[n]) (RFC 9162 §2.1.3.1) for leaf `index` (0-based) among `leaf_hashes`; with
// `root`, also the tree's root (the same pass: every node hashed once).
std::vector<std::string> MerkleInclusionPath(const std::vector<std::string>& leaf_hashes, uint64_t index,
                                             std::string* root = nullptr);

// RFC 9162 §2.1.3.2: OK if `path` proves leaf `index` with hash `leaf_hash` is in the tree of
// `tree_size` leaves whose root is `root`; otherwise FAILED_PRECONDITION saying why.
absl::Status VerifyMerkleInclusion(uint64_t index, uint64_t tree_size, const std::string& leaf_hash,
                                   const std::vector<std::string>& path, const std::string& root);

// PROOF(m, D[n]) (RFC 9162 §2.1.4.1): that the first `m` leaves (0 < m <= n) are the tree of
// the same size inside the tree of all `leaf_hashes`.
std::vector<std::string> MerkleConsistencyPath(const std::vector<std::string>& leaf_hashes, uint64_t m);

// RFC 9162 §2.1.4.2: OK if `path` proves the tree of `first` leaves with root `first_root` is
// the beginning of the tree of `second` leaves with root `second_root` (nothing before was
// changed, removed or reordered); otherwise FAILED_PRECONDITION saying why.
absl::Status VerifyMerkleConsistency(uint64_t first, uint64_t second, const std::string& first_root,
                                     const std::string& second_root, const std::vector<std::string>& path);

}  // namespace exo::store
