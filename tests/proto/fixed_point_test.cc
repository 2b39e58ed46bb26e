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

TEST_CASE("multiply-divide gives the same quotient on its 64-bit divisor path as in 128 bits", "[fixed_point]") {
  // The reference: the same rounding written out in 128-bit arithmetic only.
  auto reference = [](__int128 a, __int128 b, __int128 c) {
    __int128 n = a * b;
    const bool negative = (n < 0) != (c < 0);
    if (n < 0) n = -n;
    if (c < 0) c = -c;
    const __int128 q = (n + c / 2) / c;
    return static_cast<int64_t>(negative ? -q : q);
  };
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state] {  // splitmix64: reproducible, no library dependence.
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  int fast = 0, wide = 0, unsigned_checked = 0;
  for (int i = 0; i < 200000; ++i) {
    // Magnitudes spread over every width, so that both paths (divisor and quotient within 64
    // bits, or not) are taken, with either sign.
    const auto a = static_cast<int64_t>(next() >> (next() % 64)) * (next() % 2 ? 1 : -1);
    const auto b = static_cast<int64_t>(next() >> (next() % 64)) * (next() % 2 ? 1 : -1);
    __int128 c = static_cast<__int128>(next() >> (next() % 64)) << (i % 7 == 0 ? 40 : 0);
    if (c == 0) c = 1;
    if (next() % 2) c = -c;
    const __int128 n = static_cast<__int128>(a) * b;
    const __int128 q = (n < 0 ? -n : n) / (c < 0 ? -c : c);
    if (q > INT64_MAX / 2) continue;  // The result must fit the int64 the function returns.
    ((c < 0 ? -c : c) >> 64 == 0 && q >> 63 == 0 ? fast : wide)++;
    INFO("a=" << a << " b=" << b << " c=" << static_cast<double>(c));
    REQUIRE(exo::MulDivRound(a, b, c) == reference(a, b, c));
    // The unsigned form a child's cost takes: the same quotient on the magnitudes.
    const auto ua = static_cast<unsigned __int128>(a < 0 ? -static_cast<__int128>(a) : a);
    const auto ub = static_cast<uint64_t>(b < 0 ? -static_cast<__int128>(b) : b);
    const __int128 uc = c < 0 ? -c : c;
    if (uc >> 64 == 0 && ub > 0) {
      REQUIRE(exo::MulDivRoundUnsigned(ua, ub, static_cast<uint64_t>(uc)) ==
              static_cast<uint64_t>(reference(static_cast<__int128>(ua), ub, uc)));
      ++unsigned_checked;
    }
  }
  CHECK(unsigned_checked > 10000);
  CHECK(fast > 10000);
  CHECK(wide > 1000);
}
