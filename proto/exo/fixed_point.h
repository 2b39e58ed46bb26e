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

// 10^scale for scale <= 18 (callers validate their scales; a larger one gives 10^18). Inline,
// as MulDivRound: a decision asks both for every child. (Static: a local constexpr array indexed at
// run time is written onto the stack at every call, 19 stores.)
inline int64_t Pow10(uint32_t scale) {
  static constexpr int64_t kPowers[19] = {
      1, 10, 100, 1'000, 10'000, 100'000, 1'000'000, 10'000'000, 100'000'000, 1'000'000'000, 10'000'000'000,
      100'000'000'000, 1'000'000'000'000, 10'000'000'000'000, 100'000'000'000'000, 1'000'000'000'000'000,
      10'000'000'000'000'000, 100'000'000'000'000'000, 1'000'000'000'000'000'000};
  return kPowers[scale < 19 ? scale : 18];
}

// round(a * b / c), half away from zero, computed exactly in 128 bits. c != 0; the result must
// fit in int64 (it does for any price x quantity of a real order).
inline int64_t MulDivRound(__int128 a, __int128 b, __int128 c) {
  __int128 n = a * b;
  const bool negative = (n < 0) != (c < 0);
  if (n < 0) n = -n;
  if (c < 0) c = -c;
  const auto num = static_cast<unsigned __int128>(n + c / 2);
  const auto den = static_cast<unsigned __int128>(c);
  unsigned __int128 q;
#if defined(__x86_64__)
  // A divisor of 64 bits with a quotient that fits in 64 bits (the plans' case: notional × fee
  // factor over 10^6 × 10^qty_scale) is one hardware division; the library's 128-bit division
  // costs several times that. Same quotient either way: integer division is exact.
  const auto den64 = static_cast<uint64_t>(den);
  const auto hi = static_cast<uint64_t>(num >> 64);
  if (den >> 64 == 0 && hi < den64) {
    uint64_t quotient, remainder;
    asm("divq %4" : "=a"(quotient), "=d"(remainder) : "a"(static_cast<uint64_t>(num)), "d"(hi), "rm"(den64));
    q = quotient;
  } else {
    q = num / den;
  }
#else
  q = num / den;
#endif
  const auto magnitude = static_cast<__int128>(q);
  return static_cast<int64_t>(negative ? -magnitude : magnitude);
}

// round(a * b / c), halves up, for a * b + c / 2 < 2^128 and a quotient below 2^64: a child's
// cost (its notional × fee factor over 10^6 × 10^qty_scale), where every sign is known and
// the general function's sign handling and 128-bit multiply are work for nothing.
inline uint64_t MulDivRoundUnsigned(unsigned __int128 a, uint64_t b, uint64_t c) {
  const unsigned __int128 num = a * b + c / 2;
#if defined(__x86_64__)
  uint64_t quotient, remainder;
  asm("divq %4"
      : "=a"(quotient), "=d"(remainder)
      : "a"(static_cast<uint64_t>(num)), "d"(static_cast<uint64_t>(num >> 64)), "rm"(c));
  return quotient;
#else
  return static_cast<uint64_t>(num / c);
#endif
}

// A fee in basis points as an exact integer in hundredths of a basis point (ppm of notional).
// Fees are applied at this resolution; config validation refuses finer ones.
inline int64_t FeePpm(double fee_bps) {
  return static_cast<int64_t>(fee_bps * 100 + (fee_bps < 0 ? -0.5 : 0.5));
}

}  // namespace exo
