// Exact conversion between decimal strings and fixed-point integers (value × 10^scale).
// Never goes through a double: "65000.12" at scale 2 is exactly 6500012.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace exo {

// Parses an optionally signed decimal ("12", "-0.5", "1.2500") into value × 10^scale.
// Refuses more fractional digits than `scale` unless they are zeros, exponents, and overflow.
absl::StatusOr<int64_t> ParseDecimal(std::string_view text, uint32_t scale);

// Formats value / 10^scale with exactly `scale` fractional digits ("65000.12").
std::string FormatDecimal(int64_t value, uint32_t scale);

// The largest quantity or price (in units) a decision takes: 2^53. Such numbers are exact as
// doubles (the solver searches in doubles), and price × quantity stays within 2^106, so notional
// × fee factor fits 128 bits. Larger ones are refused with the field or excluded with the venue.
inline constexpr int64_t kMaxUnits = int64_t{1} << 53;

// 10^scale for scale <= 18.
int64_t Pow10(uint32_t scale);

// round(a * b / c), half away from zero, computed exactly in 128 bits. c != 0; the result must
// fit in int64 (it does for any price x quantity of a real order).
int64_t MulDivRound(__int128 a, __int128 b, __int128 c);

// A fee in basis points as an exact integer in hundredths of a basis point (ppm of notional).
// Fees are applied at this resolution; config validation refuses finer ones.
inline int64_t FeePpm(double fee_bps) {
  return static_cast<int64_t>(fee_bps * 100 + (fee_bps < 0 ? -0.5 : 0.5));
}

}  // namespace exo
