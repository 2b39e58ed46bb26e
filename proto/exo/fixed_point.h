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
