// Canonical binary encoding of PlanDelta (formats 1 to 6).
//
// The bytes a delta's hash covers: hash = SHA-256(prev_hash || EncodeCanonical(delta)).
// Specified byte by byte in docs/replay-and-audit.md so that another implementation (the
// Python SDK) can verify a chain. Big-endian fixed-width integers, length-prefixed strings,
// no floating point, no field is optional in the layout, so one delta has exactly one encoding.
// Format 2 is format 1 with the fields added since (a parent order's urgency, a decision's price
// band limit), format 3 format 2 with those added after (an order's arrival band, a decision's
// arrival limit), format 4 format 3 with a new kind of delta (an order amended), format 5 an
// amendment's removed limit and urgency, format 6 another kind (a dead man's switch armed); a delta is
// written in the oldest format that holds every field it carries, so every delta an older
// format can hold keeps its bytes (and its hash) in every later version.
// `prev_hash` and `hash` are not part of the canonical bytes. Stateless; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "exoroute/v1/types.pb.h"

namespace exo::store {

inline constexpr uint8_t kCanonicalFormat = 1;
inline constexpr uint8_t kCanonicalFormat2 = 2;
inline constexpr uint8_t kCanonicalFormat3 = 3;
inline constexpr uint8_t kCanonicalFormat4 = 4;
inline constexpr uint8_t kCanonicalFormat5 = 5;
inline constexpr uint8_t kCanonicalFormat6 = 6;
inline constexpr uint8_t kCanonicalFormat7 = 7;

// Encodes every field except prev_hash and hash. The delta must have a `change` set.
std::string EncodeCanonical(const exoroute::v1::PlanDelta& delta);

// Strict inverse of EncodeCanonical: any trailing byte, unknown kind, bad enum or truncation,
// or a delta in a newer format than the oldest that holds it, is DataLoss naming the offset.
absl::StatusOr<exoroute::v1::PlanDelta> DecodeCanonical(std::string_view bytes);

}  // namespace exo::store
