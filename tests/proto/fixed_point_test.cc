#include "exo/fixed_point.h"

#include <catch2/catch.hpp>

using exo::FormatDecimal;
using exo::ParseDecimal;

TEST_CASE("decimals parse exactly into fixed point", "[fixed_point]") {
  CHECK(*ParseDecimal("65000.12", 2) == 6500012);
  CHECK(*ParseDecimal("1.5", 8) == 150000000);
  CHECK(*ParseDecimal("-0.5", 2) == -50);
  CHECK(*ParseDecimal("42", 0) == 42);
  CHECK(*ParseDecimal("0.10000000", 1) == 1);  // Trailing zeros beyond the scale are fine.
  // A value that is not exact in binary floating point stays exact.
  CHECK(*ParseDecimal("0.1", 18) == 100000000000000000);
}

TEST_CASE("bad decimals are refused with the reason", "[fixed_point]") {
  CHECK(ParseDecimal("1.234", 2).status().message() == "\"1.234\" has more than 2 decimal places");
  CHECK_FALSE(ParseDecimal("", 2).ok());
  CHECK_FALSE(ParseDecimal("1e5", 2).ok());
  CHECK_FALSE(ParseDecimal("1.2.3", 2).ok());
  CHECK_FALSE(ParseDecimal(".", 2).ok());
  CHECK(ParseDecimal("92233720368547758070", 0).status().code() == absl::StatusCode::kOutOfRange);
  CHECK(ParseDecimal("92233720368.547758070", 9).status().code() == absl::StatusCode::kOutOfRange);
}

TEST_CASE("fixed point formats with the instrument's decimals", "[fixed_point]") {
  CHECK(FormatDecimal(6500012, 2) == "65000.12");
  CHECK(FormatDecimal(5, 3) == "0.005");
  CHECK(FormatDecimal(-50, 2) == "-0.50");
  CHECK(FormatDecimal(7, 0) == "7");
  CHECK(FormatDecimal(INT64_MIN, 2) == "-92233720368547758.08");
  for (int64_t v : {0LL, 1LL, 99LL, 100LL, 123456789LL, -987654321LL}) {
    CHECK(*ParseDecimal(FormatDecimal(v, 4), 4) == v);
  }
}

TEST_CASE("exact multiply-divide rounds half away from zero", "[fixed_point]") {
  CHECK(exo::MulDivRound(5, 1, 2) == 3);
  CHECK(exo::MulDivRound(-5, 1, 2) == -3);
  CHECK(exo::MulDivRound(4, 1, 3) == 1);
  // 0.5 BTC at 64990.00 with a 10 bp fee, in cents: 32527.495 -> 32527.50.
  CHECK(exo::MulDivRound(static_cast<__int128>(6499000) * 50000000, 1001000,
                         static_cast<__int128>(1000000) * 100000000) == 3252750);
  // No overflow where a 64-bit product would overflow.
  CHECK(exo::MulDivRound(INT64_MAX, 1000, 1000) == INT64_MAX);
  CHECK(exo::FeePpm(2.5) == 250);
  CHECK(exo::FeePpm(-0.01) == -1);
}
