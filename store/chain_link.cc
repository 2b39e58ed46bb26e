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

absl::Status ChainLinks::NextSent(const exoroute::v1::PlanDelta& sent, std::string_view canonical) {
  exoroute::v1::PlanDelta bare = sent;
  bare.clear_prev_hash();
  bare.clear_hash();
  // (A delta with no change has no encoding: it is not the one any bytes encode.)
  const bool same = bare.change_case() != exoroute::v1::PlanDelta::CHANGE_NOT_SET && EncodeCanonical(bare) == canonical;
  const uint64_t at = next_;
  std::string before = prev_;
  if (absl::Status s = Next(sent.sequence(), canonical, sent.prev_hash(), sent.hash()); !s.ok()) return s;
  if (!same) {
    next_ = at;  // The chain stays where it was, as for any other refusal.
    prev_ = std::move(before);
    return absl::DataLossError("the delta sent is not the one its canonical bytes encode");
  }
  return absl::OkStatus();
}

}  // namespace exo::store
