#include "store/chain_link.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "store/delta_codec.h"

namespace exo::store {

ChainLinks::ChainLinks(uint64_t sequence, std::string prev_hash) : next_(sequence), prev_(std::move(prev_hash)) {}

absl::Status ChainLinks::Next(uint64_t seq, std::string_view canonical, std::string_view prev_hash,
                              std::string_view hash, exoroute::v1::PlanDelta* decoded) {
  if (seq != next_) return absl::DataLossError(absl::StrCat("delta missing (next stored delta is ", seq, ")"));
  absl::StatusOr<exoroute::v1::PlanDelta> d = DecodeCanonical(canonical);
  if (!d.ok()) return absl::DataLossError(absl::StrCat("undecodable: ", d.status().message()));
  if (d->sequence() != seq) {
    return absl::DataLossError(absl::StrCat("delta stored under ", seq, " says it is ", d->sequence(), " (reordered)"));
  }
  if (prev_hash != prev_) {
    return absl::DataLossError(absl::StrCat("prev_hash does not match the hash of delta ", seq - 1,
                                            " (a delta was removed, inserted or reordered)"));
  }
  if (DigestToString(hasher_.Hash({prev_hash, canonical})) != hash) {
    return absl::DataLossError("hash mismatch: the delta's content was changed");
  }
  prev_ = std::string(hash);
  ++next_;
  if (decoded != nullptr) *decoded = *std::move(d);
  return absl::OkStatus();
}

}  // namespace exo::store
