// Doubles counted in order, for searches that must end on an exact double: a bisection that
// halves a range by how many doubles it holds ends in at most 64 steps, whatever the prices'
// scale. Integer arithmetic on the bits only (DESIGN.md's determinism rules hold).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace exo::solver::internal {

// a < b exactly when OrderedKey(a) < OrderedKey(b); both zeros are 0; consecutive doubles have
// consecutive keys. Not for NaN.
inline int64_t OrderedKey(double d) {
  const int64_t bits = std::bit_cast<int64_t>(d);
  return bits < 0 ? std::numeric_limits<int64_t>::min() - bits : bits;
}
inline double FromOrderedKey(int64_t key) {
  return std::bit_cast<double>(key < 0 ? std::numeric_limits<int64_t>::min() - key : key);
}
// How many doubles apart `below` <= `above` are (unsigned: it can exceed int64's range).
inline uint64_t DoublesApart(int64_t below, int64_t above) {
  return static_cast<uint64_t>(above) - static_cast<uint64_t>(below);
}
// The key halfway between two keys `below` < `above`, by count.
inline int64_t MidKey(int64_t below, int64_t above) {
  return below + static_cast<int64_t>(DoublesApart(below, above) / 2);
}

// std::nextafter(d, -inf) and (d, +inf), as integer steps on the key when d is finite (libm's
// call otherwise): the same doubles, without a call into libm on a decision's path.
inline double NextDown(double d) {
  return std::isfinite(d) ? FromOrderedKey(OrderedKey(d) - 1) : std::nextafter(d, -std::numeric_limits<double>::infinity());
}
inline double NextUp(double d) {
  if (!std::isfinite(d)) return std::nextafter(d, std::numeric_limits<double>::infinity());
  const int64_t key = OrderedKey(d) + 1;
  return key == 0 ? -0.0 : FromOrderedKey(key);  // (Up from the least negative double: libm's -0.)
}

}  // namespace exo::solver::internal
