// An RFC 9162 (Certificate Transparency v2) Merkle tree over a node's chain: leaf i is the
// canonical bytes of delta i+1. An inclusion proof — the leaf, the tree size and about log2(n)
// hashes — lets an auditor check that one decision is in the log a signed tree head commits
// to, without the rest of the log (docs/replay-and-audit.md, "Inclusion proofs").
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace exo::store {

// SHA-256(0x00 || entry) and SHA-256(0x01 || left || right) (RFC 9162 §2.1.1).
std::string MerkleLeafHash(std::string_view entry);
std::string MerkleNodeHash(const std::string& left, const std::string& right);

// The root, and an inclusion or consistency proof, of a tree of `tree_size` leaves, built from
// the leaf hashes handed in order one at a time: memory O(log n) however long the chain (a
// vector of every leaf hash would take ~80 bytes per delta, ~8 GB at 100 M). Every hash a proof
// names is a node of the tree over contiguous leaves, known from the sizes alone before any leaf
// is read; every node is hashed once. Not thread-safe; one per proof.
class MerkleProofBuilder {
 public:
  // Only the root of the tree.
  explicit MerkleProofBuilder(uint64_t tree_size);
  // The root and PATH(index, D[tree_size]) (RFC 9162 §2.1.3.1); index < tree_size.
  static MerkleProofBuilder Inclusion(uint64_t tree_size, uint64_t index);
  // The root, PROOF(first, D[tree_size]) (§2.1.4.1) and the root of the first `first` leaves;
  // 0 < first <= tree_size.
  static MerkleProofBuilder Consistency(uint64_t first, uint64_t tree_size);

  // The next leaf's hash (MerkleLeafHash, 32 bytes); at most tree_size of them.
  void AddLeaf(std::string_view leaf_hash);
  // The next 2^height leaves at once, by the hash of their complete subtree (one this builder,
  // or another over the same leaves, formed before: see OnComplete). Only when CanSkip(height).
  void AddSubtree(uint32_t height, const std::array<uint8_t, 32>& hash);
  // Whether the next 2^height leaves may come as one subtree: the leaves added so far are a
  // multiple of 2^height, those leaves are within the tree, and no node the proof names and no
  // end of the first tree lies inside them (a node the proof names may be the subtree itself).
  bool CanSkip(uint32_t height) const;
  // Tells `complete(begin, height, hash)` of every complete subtree of 2^height leaves, height
  // >= min_height, as leaves form it (to keep for later proofs over the same leaves).
  void OnComplete(uint32_t min_height,
                  std::function<void(uint64_t begin, uint32_t height, const std::array<uint8_t, 32>& hash)> complete) {
    min_kept_height_ = min_height;
    complete_ = std::move(complete);
  }
  uint64_t leaves_added() const { return added_; }
  uint64_t tree_size() const { return size_; }

  // Once all tree_size leaves are in: the root (the hash of the empty string for none), the
  // path (leaf upwards, as RFC 9162 orders it) and, for a consistency proof, the first tree's root.
  std::string Root() const;
  std::vector<std::string> Path() const;
  std::string FirstRoot() const;

 private:
  struct Peak {  // A complete subtree of 2^height leaves from `begin`.
    uint64_t begin;
    uint32_t height;
    std::array<uint8_t, 32> hash;
  };
  struct Wanted {  // A node the proof names: leaves [begin, end).
    uint64_t begin, end;
    std::array<uint8_t, 32> hash{};
  };
  void WantInclusion(uint64_t index, uint64_t begin, uint64_t end);
  void WantConsistency(uint64_t first, uint64_t begin, uint64_t end, bool complete);
  void Arrange();  // Orders the complete subtrees wanted by when the leaves complete them.
  void Push(const Peak& p);  // A new peak, and the peaks it completes.
  void Pushed();   // The top peak is new: keeps it if wanted, tells it if kept.
  std::array<uint8_t, 32> Fold(size_t from) const;  // The peaks from `from` up, folded right.
  void Finish();

  uint64_t size_ = 0, added_ = 0, first_ = 0;
  std::vector<Peak> peaks_;           // Sizes strictly decreasing: at most 64.
  std::vector<Wanted> wanted_;        // In the path's order.
  std::vector<size_t> by_end_;        // wanted_ that are complete subtrees, in completion order.
  size_t next_ = 0;                   // Into by_end_.
  std::array<uint8_t, 32> root_{}, first_root_{};
  uint32_t min_kept_height_ = 64;
  std::function<void(uint64_t, uint32_t, const std::array<uint8_t, 32>&)> complete_;
};

// Complete subtrees of a node's chain kept by height and position, for later proofs over the
// same leaves (the chain only grows: a subtree over leaves [i·2^h, (i+1)·2^h) never changes).
// Thread-safe.
class MerkleSubtreeCache {
 public:
  std::optional<std::array<uint8_t, 32>> Find(uint32_t height, uint64_t index) const;
  void Put(uint32_t height, uint64_t index, const std::array<uint8_t, 32>& hash);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<uint32_t, uint64_t>, std::array<uint8_t, 32>> kept_;
};

// The same over a vector of leaf hashes (small trees, tests).
// MTH over leaf hashes (already leaf-hashed); the hash of the empty string for none.
std::string MerkleRoot(const std::vector<std::string>& leaf_hashes);

// PATH(m, D[n]) (RFC 9162 §2.1.3.1) for leaf `index` (0-based) among `leaf_hashes`; with
// `root`, also the tree's root. Empty for an index beyond the leaves.
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
