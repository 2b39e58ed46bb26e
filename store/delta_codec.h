// Canonical binary encoding of PlanDelta (formats 1 and 2).
//
// The bytes a delta's hash covers: hash = SHA-256(prev_hash || EncodeCanonical(delta)).
// Specified byte by byte in docs/replay-and-audit.md so that another implementation (the
// Python SDK) can verify a chain. Big-endian fixed-width integers, length-prefixed strings,
// no floating point, no field is optional in the layout, so one delta has exactly one encoding.
// Format 2 is format 1 with the fields added since (a parent order's urgency, a decision's price
// band limit); a delta is written in format 2 only when it carries one of them, so every delta
// format 1 can hold keeps its format-1 bytes (and its hash) in every later version.
// `prev_hash` and `hash` are not part of the canonical bytes. Stateless; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "exoroute/v1/types.pb.h"

namespace exo::store {

inline constexpr uint8_t kCanonicalFormat = 1;
inline constexpr uint8_t kCanonicalFormat2 = 2;

// Encodes every field except prev_hash and hash. The delta must have a `change` set.
std::string EncodeCanonical(const exoroute::v1::PlanDelta& delta);

// Strict inverse of EncodeCanonical: any trailing byte, unknown kind, bad enum or truncation,
// or a format-2 delta that format 1 holds, is DataLoss naming the offset.
absl::StatusOr<exoroute::v1::PlanDelta> DecodeCanonical(std::string_view bytes);

}  // namespace exo::store
