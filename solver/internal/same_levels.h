// SameLevels: whether a book side's levels are, price for price and size for size, the levels a
// cached curve was built from (VenueCurve::MatchesBook).
//
// Once the curves are kept, this check of every level of every venue is a decision's largest
// single cost: reading the levels, each a protobuf message of its own behind a pointer. The plain
// loop takes five loads a level (the level's pointer, its price, its size, the cached pair's two
// halves); on x86-64 SSE2 takes three (the level's two adjacent fields as one 16-byte value, the
// cached pair as another): −5 % of a hot decision at 16 and 64 venues. (AVX2, two cached pairs in
// one 32-byte load, measured no faster behind the CPU check it needs.) docs/BENCHMARKS.md,
// fifty-fourth session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "exoroute/v1/types.pb.h"

namespace exo::solver::internal {

using PriceSize = std::pair<int64_t, int64_t>;  // A cached level: (price, size).

// Whether theirs[i]'s price and size are mine[i]'s for every i < n: the reference.
inline bool SameLevelsPlain(const PriceSize* mine, const exoroute::v1::BookLevel* const* theirs, size_t n) {
  // Without a branch per level: the XORs of equal values are zero.
  uint64_t diff = 0;
  for (size_t i = 0; i < n; ++i) {
    const exoroute::v1::BookLevel& l = *theirs[i];
    diff |= static_cast<uint64_t>(l.price() ^ mine[i].first) | static_cast<uint64_t>(l.size() ^ mine[i].second);
  }
  return diff == 0;
}

// The same answer, in as few loads as this machine allows.
inline bool SameLevels(const PriceSize* mine, const exoroute::v1::BookLevel* const* theirs, size_t n) {
#if defined(__SSE2__)
  static_assert(sizeof(PriceSize) == 16 && offsetof(PriceSize, second) == 8, "a cached level is {price, size}");
  __m128i diff = _mm_setzero_si128();
#pragma GCC unroll 4
  for (size_t i = 0; i < n; ++i) {
    const exoroute::v1::BookLevel& l = *theirs[i];
    const __m128i ours = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&mine[i]));
    // {price, size}: two adjacent fields, which GCC reads as one 16-byte value.
    diff = _mm_or_si128(diff, _mm_xor_si128(ours, _mm_set_epi64x(l.size(), l.price())));
  }
  return (_mm_cvtsi128_si64(diff) | _mm_cvtsi128_si64(_mm_unpackhi_epi64(diff, diff))) == 0;
#else
  return SameLevelsPlain(mine, theirs, n);
#endif
}

}  // namespace exo::solver::internal
