// Merkle proofs over a node's stored chain (docs/replay-and-audit.md, "Inclusion proofs"): the
// deltas handed to a MerkleProofBuilder as leaves, each aligned block of 2^kProofBlockHeight
// deltas by a subtree kept from an earlier proof where the proof allows it, else read from the
// store and hashed — keeping the complete subtrees of a block or more it forms. A node's first
// proof reads its whole chain; later ones a few blocks and the deltas appended since. Kept
// subtrees stay true because the chain only grows.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "store/delta_store.h"
#include "store/merkle.h"

namespace exo::store {

inline constexpr uint32_t kProofBlockHeight = 10;  // 1024 deltas: ~100 bytes kept per block.

// Feeds `tree` deltas 1..tree->tree_size() of `store` (and copies the canonical bytes of delta
// `keep` into `kept`, when keep > 0). DATA_LOSS naming a delta missing from the stored chain;
// CANCELLED when `cancelled()` answers true (asked once per block read).
absl::Status FeedChainLeaves(const DeltaStore& store, MerkleSubtreeCache* subtrees, MerkleProofBuilder* tree,
                             uint64_t keep, std::string* kept, const std::function<bool()>& cancelled);

}  // namespace exo::store
