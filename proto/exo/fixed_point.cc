#include "exo/fixed_point.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "exo/status_macros.h"

namespace exo {

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
