#include "exo/fixed_point.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "exo/status_macros.h"

namespace exo {

int64_t Pow10(uint32_t scale) {
  int64_t p = 1;
  for (uint32_t i = 0; i < scale; ++i) p *= 10;
  return p;
}

absl::StatusOr<int64_t> ParseDecimal(std::string_view text, uint32_t scale) {
  if (scale > 18) return absl::InvalidArgumentError(absl::StrCat("scale ", scale, " > 18"));
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat("not a decimal: \"", Sv(text), "\""));
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t value = 0;
  uint32_t frac_digits = 0;
  bool seen_point = false, seen_digit = false;
  for (char c : s) {
    if (c == '.') {
      if (seen_point) return absl::InvalidArgumentError(absl::StrCat("not a decimal: \"", Sv(text), "\""));
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(absl::StrCat("not a decimal: \"", Sv(text), "\""));
    }
    seen_digit = true;
    int digit = c - '0';
    if (seen_point) {
      if (frac_digits == scale) {
        if (digit != 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("\"", Sv(text), "\" has more than ", scale, " decimal places"));
        }
        continue;
      }
      ++frac_digits;
    }
    if (value > (kMax - digit) / 10) {
      return absl::OutOfRangeError(absl::StrCat("\"", Sv(text), "\" overflows at scale ", scale));
    }
    value = value * 10 + digit;
  }
  if (!seen_digit) return absl::InvalidArgumentError(absl::StrCat("not a decimal: \"", Sv(text), "\""));
  for (; frac_digits < scale; ++frac_digits) {
    if (value > kMax / 10) {
      return absl::OutOfRangeError(absl::StrCat("\"", Sv(text), "\" overflows at scale ", scale));
    }
    value *= 10;
  }
  return negative ? -value : value;
}

int64_t MulDivRound(__int128 a, __int128 b, __int128 c) {
  __int128 n = a * b;
  bool negative = (n < 0) != (c < 0);
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

std::string FormatDecimal(int64_t value, uint32_t scale) {
  bool negative = value < 0;
  // Work in unsigned to format INT64_MIN correctly.
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  std::string digits = absl::StrCat(magnitude);
  if (scale == 0) return absl::StrCat(negative ? "-" : "", digits);
  if (digits.size() <= scale) digits.insert(0, scale + 1 - digits.size(), '0');
  const size_t whole = digits.size() - scale;
  return absl::StrCat(negative ? "-" : "", absl::string_view(digits).substr(0, whole), ".",
                      absl::string_view(digits).substr(whole));
}

}  // namespace exo
