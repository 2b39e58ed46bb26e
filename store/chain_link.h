// The links of the hash chain as a reader meets them, one delta after another: what `audit
// verify` checks of each (its place, its link to the delta before, its hash over the bytes it
// holds), in the same words wherever the deltas come from — the node's own database, or a
// replay over the API (a follower keeping its own copy).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "exo/sha256.h"
#include "exoroute/v1/types.pb.h"

namespace exo::store {

class ChainLinks {
 public:
  // From delta `sequence` on; `prev_hash` is the hash of the delta before it (GenesisHash()
  // before the first).
  ChainLinks(uint64_t sequence, std::string prev_hash);

  // The next delta: met as number `seq` (its key in the database, or the sequence it was sent
  // as), its canonical bytes and the prev_hash and hash stored with it; `*decoded` (if given)
  // gets the delta the bytes encode. DataLoss naming what is wrong; the chain then stays where
  // it was, so next_sequence() is the first bad one.
  absl::Status Next(uint64_t seq, std::string_view canonical, std::string_view prev_hash, std::string_view hash,
                    exoroute::v1::PlanDelta* decoded = nullptr);

  // The next delta as a replay sends it (ReplayResponse: the delta with its prev_hash and hash,
  // and its canonical bytes): Next's checks, and that the delta sent is the one its bytes encode
  // (a server that sends one delta and hashes another). The same DataLoss words otherwise.
  absl::Status NextSent(const exoroute::v1::PlanDelta& sent, std::string_view canonical);

  uint64_t next_sequence() const { return next_; }
  // The hash of the last delta checked (the prev_hash given, before any).
  const std::string& last_hash() const { return prev_; }

 private:
  uint64_t next_;
  std::string prev_;
  Sha256 hasher_;
};

}  // namespace exo::store
