#include "store/chain_proofs.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "exo/status_macros.h"

namespace exo::store {

absl::Status FeedChainLeaves(const DeltaStore& store, MerkleSubtreeCache* subtrees, MerkleProofBuilder* tree,
                             uint64_t keep, std::string* kept, const std::function<bool()>& cancelled) {
  tree->OnComplete(kProofBlockHeight, [subtrees](uint64_t begin, uint32_t height, const std::array<uint8_t, 32>& hash) {
    subtrees->Put(height, begin >> height, hash);
  });
  const uint64_t size = tree->tree_size();
  const uint64_t block = uint64_t{1} << kProofBlockHeight;
  while (tree->leaves_added() < size) {
    const uint64_t at = tree->leaves_added();
    // The largest kept subtree that may stand for the deltas from `at`.
    bool skipped = false;
    for (uint32_t h = 62; h >= kProofBlockHeight && !skipped; --h) {
      if (!tree->CanSkip(h)) continue;
      if (std::optional<std::array<uint8_t, 32>> hash = subtrees->Find(h, at >> h)) {
        tree->AddSubtree(h, *hash);
        skipped = true;
      }
    }
    if (skipped) continue;
    // Else the deltas up to the next block's start, from the chain.
    const uint64_t to = std::min(size, (at / block + 1) * block);
    absl::Status broken;
    EXO_RETURN_IF_ERROR(store.ScanCanonical(at + 1, to, [&](uint64_t seq, std::string_view canonical) {
      const uint64_t expected = tree->leaves_added() + 1;
      if (seq != expected) {
        broken = absl::DataLossError(absl::StrCat("delta ", expected, " is missing from the chain (the next stored is delta ",
                                                  seq, "): `exoroutectl audit verify` names the damage"));
        return false;
      }
      if (seq == keep) *kept = std::string(canonical);
      tree->AddLeaf(MerkleLeafHash(canonical));
      return true;
    }));
    EXO_RETURN_IF_ERROR(broken);
    if (tree->leaves_added() != to) {
      return absl::DataLossError(absl::StrCat("delta ", tree->leaves_added() + 1, " is missing from the chain (the head is ",
                                              size, "): `exoroutectl audit verify` names the damage"));
    }
    if (cancelled && cancelled()) return absl::CancelledError("proof cancelled");
  }
  return absl::OkStatus();
}

}  // namespace exo::store
