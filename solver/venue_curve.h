// VenueCurve: everything about one venue's cost curve that does not depend on the parent order.
//
// The walked side of the book at the venue's fee, lot size and impact coefficient, in whole lots,
// over every displayed level: what a LocalProblem cuts at the order's limit and cap. A curve is a
// pure function of (book side, fee, lot, impact, quantity scale), so it can be built once per
// distinct book and shared by every decision on that book (CurveCache) without changing a bit of
// any decision: a LocalProblem made from a cached curve equals one built from the proto input.
//
// Immutable after Build; safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "exoroute/v1/types.pb.h"

namespace exo::solver {

class VenueCurve {
 public:
  // A run of lots with one marginal cost. (64 bytes, the 16-byte field first — after the others
  // it took 80 — so that in a curve, whose segments start on a cache line, each fills one line.)
  struct Segment {
    __int128 notional;    // Exact Σ raw price × quantity of this and all earlier segments.
    double unit_cost;     // Cost per quantity unit inside this run.
    int64_t quantity;     // A positive multiple of the lot size.
    int64_t worst_price;  // Worst raw level price touched by the run (the child's limit).
    int64_t end;          // Quantity of this and all earlier segments.
    double end_cost;      // Cost of this and all earlier segments.
    bool one_price;       // A run at one level's price (else: one lot straddling levels).
  };

  // Empty until built. (User-provided, so that make_shared sets the members below instead of
  // first zeroing the whole object with `rep stos`: 5 % of a curve's build in `perf`.)
  VenueCurve() {}  // NOLINT(modernize-use-equals-default): `= default` would bring the zeroing back.

  // Walks the side of `venue.book()` that `side` takes from. FailedPrecondition with a
  // human-readable reason when that side is malformed (non-positive or unordered levels) or
  // empty, when the lot size is not positive or the impact is negative.
  static absl::StatusOr<std::shared_ptr<const VenueCurve>> Build(
      const exoroute::v1::VenueInput& venue, exoroute::v1::Side side, uint32_t qty_scale);

  // True when Build would make exactly this curve from these inputs, given that `venue` is this
  // curve's venue and book symbol (its key in a CurveCache, checked there): the walked levels and
  // every parameter compared exactly (never by sequence number or time alone).
  bool MatchesBook(const exoroute::v1::VenueInput& venue, exoroute::v1::Side side,
                   uint32_t qty_scale) const;

  // Hints to the CPU, no effect on any answer: bring in this curve's key and parameters, and the
  // levels MatchesBook compares. A cache lookup asks them of the curves it expects next.
  // (Fixed counts, unrolled: in a decision whose curves are in cache these are all it costs.
  // Past the end of a short book's levels they ask for the curve's next array, or nothing: a
  // prefetch never faults, and the addresses are integers, not pointers C++ forbids forming.
  // Always inlined: GCC takes a function of nothing but prefetches for a pure one, and drops a
  // call to it whose result is unused.)
  [[gnu::always_inline]] void PrefetchHead() const {
    static_assert(sizeof(*this) <= 192);
    Prefetch(reinterpret_cast<uintptr_t>(this), 3);
  }
  // The first 20 levels (320 bytes): the stream prefetcher follows a deeper book.
  [[gnu::always_inline]] void PrefetchLevels() const { Prefetch(reinterpret_cast<uintptr_t>(levels_), 5); }

  const std::string& venue() const { return venue_; }
  const std::string& symbol() const { return symbol_; }
  bool buy() const { return buy_; }
  int64_t lot_size() const { return lot_; }
  int64_t fee_ppm() const { return fee_ppm_; }
  double kappa() const { return kappa_; }
  // The first segment's unit cost (unit_costs()[0]), kept with the curve's parameters: a decision
  // reads it with them instead of from the array's first line.
  double first_unit_cost() const { return first_unit_cost_; }
  int64_t best_price() const { return levels_[0].first; }
  std::span<const Segment> segments() const { return {segments_, n_segments_}; }
  // The segments' unit costs, contiguous: what the dual search reads.
  std::span<const double> unit_costs() const { return {unit_costs_, n_segments_}; }
  // The segments' ends, contiguous: where a quantity's segment is looked up.
  std::span<const int64_t> ends() const { return {ends_, n_segments_}; }
  // And their end costs: with the ends, a dual search's answer without reading whole segments.
  std::span<const double> end_costs() const { return {end_costs_, n_segments_}; }

 private:
  [[gnu::always_inline]] static void Prefetch(uintptr_t at, int lines) {
    for (uintptr_t i = 0; i < static_cast<uintptr_t>(lines); ++i) {
      __builtin_prefetch(reinterpret_cast<const void*>(at + 64 * i));
    }
  }

  std::string venue_;
  std::string symbol_;  // The book's; with the venue, the curve's key in a CurveCache.
  bool buy_ = true;
  double fee_bps_ = 0;
  int64_t lot_ = 1;
  double impact_bps_ = 0;
  uint32_t qty_scale_ = 0;
  int64_t fee_ppm_ = 0;
  double kappa_ = 0;  // Impact: marginal cost rises by kappa per quantity unit taken.
  double first_unit_cost_ = 0;
  // The arrays below in one allocation, sized for the most segments a walk can make (two a level)
  // and laid end to end in the order a decision reads them: the levels checked, what the search
  // reads, the segments. One allocation and one free per curve instead of five: a decision right
  // after every book changed builds every curve, and took 40 % less time at 16 and 64 venues
  // (docs/BENCHMARKS.md, fifty-fifth session).
  static constexpr std::align_val_t kBlockAlign{64};  // A cache line.
  struct FreeBlock {
    void operator()(std::byte* p) const { ::operator delete(p, kBlockAlign); }
  };
  std::unique_ptr<std::byte, FreeBlock> block_;
  std::pair<int64_t, int64_t>* levels_ = nullptr;  // (price, size) walked, best first.
  size_t n_levels_ = 0;
  double* unit_costs_ = nullptr;
  int64_t* ends_ = nullptr;
  double* end_costs_ = nullptr;
  Segment* segments_ = nullptr;  // Non-decreasing unit_cost.
  size_t n_segments_ = 0;
};

// The latest curve per venue, symbol and side. Get returns the cached curve while it matches the
// input and builds (and keeps) a new one when anything changed, so decisions reuse the work of
// earlier ones on the same book. Thread-safe; curves are shared, never mutated.
class CurveCache {
  struct Bucket;  // (Below.)

 public:
  // One decision's lookups (its venues, in venue-id order) under one hold of the cache's lock,
  // released only while a curve that is missing or out of date is built. Scoped to the loop
  // that asks it; one per thread.
  class Reader {
   public:
    explicit Reader(CurveCache& cache) : cache_(cache), lock_(cache.mu_) {}
    absl::StatusOr<std::shared_ptr<const VenueCurve>> Get(const exoroute::v1::VenueInput& venue,
                                                          exoroute::v1::Side side,
                                                          uint32_t qty_scale) {
      std::shared_ptr<const VenueCurve> curve;
      if (absl::Status s = GetInto(venue, side, qty_scale, &curve); !s.ok()) return s;
      return curve;
    }
    // The same into `*out` (unchanged on error): a hit is one shared_ptr copy, nothing wrapped.
    absl::Status GetInto(const exoroute::v1::VenueInput& venue, exoroute::v1::Side side,
                         uint32_t qty_scale, std::shared_ptr<const VenueCurve>* out);

   private:
    CurveCache& cache_;
    std::unique_lock<std::mutex> lock_;
    // The bucket of the last lookup, and its side and symbol: a decision asks for one symbol's
    // curves, venue after venue.
    Bucket* bucket_ = nullptr;
    bool bucket_buy_ = false;
    const std::string* bucket_symbol_ = nullptr;
  };

  absl::StatusOr<std::shared_ptr<const VenueCurve>> Get(const exoroute::v1::VenueInput& venue,
                                                        exoroute::v1::Side side,
                                                        uint32_t qty_scale) {
    return Reader(*this).Get(venue, side, qty_scale);
  }
  // Curves built since construction (a cache hit builds none).
  uint64_t builds() const;

 private:
  // One symbol's curves on one side, sorted by venue id. A decision asks for one symbol's curves
  // in venue-id order, so the entry after the last one found is tried first: a decision on the
  // same symbol as the one before finds each curve at the first look. (In one list per side
  // sorted by venue then symbol, as before, the entry after a curve was the same venue's next
  // symbol: with many symbols every lookup was a binary search through all of them, reading a
  // curve at each step — a fifth to a quarter of a decision at 16 and 64 venues over many symbols,
  // docs/BENCHMARKS.md, fifty-seventh session.)
  struct Bucket {
    std::vector<std::shared_ptr<const VenueCurve>> curves;
    size_t next = 0;
  };
  mutable std::mutex mu_;
  // Per side ([buy]), by symbol. (A bucket, once made, stays where it is: a Reader keeps a pointer
  // to the last one it used while the lock is released for a build.)
  std::map<std::string, Bucket, std::less<>> buckets_[2];
  uint64_t builds_ = 0;
};

}  // namespace exo::solver
