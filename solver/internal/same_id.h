// SameId: equality of two short ids (venue ids, symbols) without a call to memcmp.
//
// A decision compares each venue's id and book symbol with its cached curve's, and its id with
// the allocation it rewrites: at 16 venues those std::string comparisons were 7-8 % of a
// decision's cycles in `perf`, nearly all of it the call into libc's memcmp for a few bytes.
// Ids of up to 16 bytes are compared here with two overlapping loads per side; longer ones still
// go to memcmp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace exo::solver::internal {

inline bool SameId(const std::string& a, const std::string& b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  auto load8 = [](const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; };
  auto load4 = [](const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; };
  if (n >= 8) {
    if (n > 16) return std::memcmp(x, y, n) == 0;
    // The first and the last eight bytes (overlapping when n < 16) cover every byte.
    return ((load8(x) ^ load8(y)) | (load8(x + n - 8) ^ load8(y + n - 8))) == 0;
  }
  if (n >= 4) return ((load4(x) ^ load4(y)) | (load4(x + n - 4) ^ load4(y + n - 4))) == 0;
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}

// Whether `a` sorts before `b` as std::string's operator< has it (bytes unsigned, a prefix
// first), without a call to memcmp when the shorter is up to 16 bytes: a decision checks that
// its venues are sorted by id (before: a call into libc per pair, ~90 instructions of a
// 4-venue decision; in time within noise: docs/BENCHMARKS.md, fifty-third session).
inline bool IdBefore(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  const auto* x = reinterpret_cast<const unsigned char*>(a.data());
  const auto* y = reinterpret_cast<const unsigned char*>(b.data());
  auto load8 = [](const unsigned char* p) { uint64_t v; std::memcpy(&v, p, 8); return __builtin_bswap64(v); };
  auto load4 = [](const unsigned char* p) { uint32_t v; std::memcpy(&v, p, 4); return __builtin_bswap32(v); };
  if (n > 16) return a < b;
  // Big-endian words order as their bytes do. The first word, then the last one of the common
  // part (overlapping): if the first agree, the first byte that differs lies in the last, after
  // bytes that agree.
  if (n >= 8) {
    if (load8(x) != load8(y)) return load8(x) < load8(y);
    if (load8(x + n - 8) != load8(y + n - 8)) return load8(x + n - 8) < load8(y + n - 8);
  } else if (n >= 4) {
    if (load4(x) != load4(y)) return load4(x) < load4(y);
    if (load4(x + n - 4) != load4(y + n - 4)) return load4(x + n - 4) < load4(y + n - 4);
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (x[i] != y[i]) return x[i] < y[i];
    }
  }
  return a.size() < b.size();
}

}  // namespace exo::solver::internal
