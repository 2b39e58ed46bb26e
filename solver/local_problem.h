// LocalProblem: one venue's share of one parent order.
//
// Holds the venue's convex, piecewise-linear cost curve f_i(x) in whole lots — the displayed
// levels walked at fee-adjusted prices (a shared VenueCurve), cut at the parent's limit and the
// venue's cap — and answers the only questions a coordinator may ask of it: how much would this
// venue take at dual price λ (`At`), and what is the next price at which that changes
// (`NextBreakpoint`). The coordinator never looks inside the book, so the same interface can be
// answered remotely.
//
// Units: quantities in the instrument's quantity units; unit costs in price units per quantity
// unit, signed so that lower is better for either side (sells cost −price·(1 − fee)).
// Immutable after Build; safe to share between threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "exoroute/v1/types.pb.h"
#include "solver/reason_format.h"
#include "solver/venue_curve.h"

namespace exo::solver {

class LocalProblem {
 public:
  using Segment = VenueCurve::Segment;
  // Empty until built. (User-provided, so a vector's emplace_back() sets the members below
  // instead of first zeroing the whole object with `rep stos`: 3 % of a 16-venue decision.)
  LocalProblem() {}  // NOLINT(modernize-use-equals-default): `= default` would bring the zeroing back.
  // Quantity the venue takes at dual price λ: `lo` with marginal cost < λ, `hi` with <= λ,
  // and what each costs. All four are summable across venues (and nodes).
  struct Response {
    int64_t lo = 0;
    int64_t hi = 0;
    double cost_lo = 0;
    double cost_hi = 0;
  };

  // Builds the curve from the venue's book side for `side` and cuts it at the limit and the
  // venue's cap. Returns FailedPrecondition with a human-readable reason when the venue cannot be
  // used (excluded, crossed, malformed or stale book, nothing within the limit).
  static absl::StatusOr<LocalProblem> Build(const exoroute::v1::VenueInput& venue,
                                            exoroute::v1::Side side,
                                            std::optional<int64_t> limit_price,
                                            int64_t decision_time_ns, uint32_t qty_scale = 0);
  // The same, taking the curve from a cache (built there only when the book or the venue's
  // parameters changed). Identical to Build, bit for bit.
  static absl::StatusOr<LocalProblem> Build(const exoroute::v1::VenueInput& venue,
                                            exoroute::v1::Side side,
                                            std::optional<int64_t> limit_price,
                                            int64_t decision_time_ns, uint32_t qty_scale,
                                            CurveCache::Reader* cache);
  // The same, built in place (a decision builds its venues' problems into one vector), its
  // reasons writing prices and quantities in `units`; `*out` is unspecified when it fails.
  static absl::Status BuildInto(const exoroute::v1::VenueInput& venue, exoroute::v1::Side side,
                                std::optional<int64_t> limit_price, int64_t decision_time_ns,
                                uint32_t qty_scale, const ReasonFormat& words, CurveCache::Reader* cache,
                                LocalProblem* out);

  // Whether the venue's book counts towards the market's best bid and ask at the decision
  // (SolveInput.mid_rule MARKET): not excluded, there, fresh, best levels with a price within
  // 2^53 units and a size, not crossed — what Build asks of it besides a well-formed side to
  // walk within the limit.
  static bool Quotable(const exoroute::v1::VenueInput& venue, int64_t decision_time_ns);

  Response At(double lambda) const;
  // An impact term: At answers by counting lots (a call) instead of by a segment search (inline).
  bool has_impact() const { return kappa_ > 0; }
  // Where λ's segment can still be during a dual search: every segment before `from` costs less
  // than any λ still to be asked, and none from `to` on does. `at` is where the last At found it.
  struct Window {
    size_t from = 0;
    size_t to = SIZE_MAX;
    size_t at = 0;
    size_t past = 0;  // And the first segment costing more than that λ (usually `at`).
  };
  // At(λ), searching only inside `window` (the same answer, fewer steps); sets window->at and
  // window->past. Inline: the dual search asks it of every active venue every round.
  Response At(double lambda, Window* window) const {
    if (kappa_ > 0) return At(lambda);
    window->at = FirstNotBelow(lambda, window->from, std::min(window->to, n_));
    return AtPosition(lambda, window->at, &window->past);
  }
  // The venue's breakpoints nearest a λ: its largest marginal cost below λ and its smallest
  // above (-inf / +inf when there is none). Between them its answer does not change.
  struct Nearest {
    double below = -std::numeric_limits<double>::infinity();
    double above = std::numeric_limits<double>::infinity();
  };
  // Those of the λ of the last At(λ, window), given its answer and the window it left.
  Nearest NearestTo(const Response& at_lambda, const Window& window) const {
    if (kappa_ > 0) return NearestWithImpact(at_lambda);
    Nearest n;
    if (window.at > 0) n.below = unit_[window.at - 1];
    if (window.past < n_) n.above = unit_[window.past];
    return n;
  }
  // Smallest marginal cost strictly above λ; +infinity if none.
  double NextBreakpoint(double lambda) const;
  // Largest marginal cost strictly below λ; -infinity if none.
  double PreviousBreakpoint(double lambda) const;
  // Marginal unit cost of the next lot after taking x (a multiple of the lot, < capacity()).
  double MarginalCostAfter(int64_t x) const;
  // The continuous proximal step for ADMM: argmin f(x) + rho/2 (x - v)^2 over [0, capacity],
  // with the curve taken as continuous (lots relaxed).
  double Prox(double v, double rho) const;
  // Cost in price units × quantity units of taking x (a multiple of the lot, <= capacity()).
  double Cost(int64_t x) const;
  // The same curve taken as continuous, for any x in [0, capacity()] (ADMM's primal bound).
  double ContinuousCost(double x) const;
  // What taking x costs in price units, exactly: the walked notional plus the taker fee (sells:
  // minus proceeds after fee), rounded half away from zero. This is what plans report; the
  // floating-point curve above is only for finding the optimum.
  int64_t ExpectedCost(int64_t x, uint32_t qty_scale) const;
  // Worst raw level price walked when taking x > 0.
  int64_t LimitPriceFor(int64_t x) const;
  // Both of the above for a child of x > 0, finding x's segment once.
  struct Child {
    int64_t limit_price = 0;
    // (Between the two prices on purpose: a caller copying both into adjacent fields would
    // otherwise have GCC read them with one 16-byte load, which cannot be forwarded from this
    // function's two 8-byte stores — a store-forwarding stall per child.)
    double cost = 0;  // Cost(x), from the same segment.
    int64_t expected_cost = 0;
  };
  // `near`: a segment that may be x's or the one after it (the window's `at` of the last At
  // that answered x: a decision's dual search knows it), checked before it is used; SIZE_MAX
  // for none. The same child either way, with one look instead of a search when it is right.
  Child ChildFor(int64_t x, uint32_t qty_scale, size_t near = SIZE_MAX) const;

  const std::string& venue() const { return curve_->venue(); }
  int64_t lot_size() const { return lot_size_; }
  // The venue's minimum child size (VenueInput.min_quantity), and the best bid and ask its book
  // showed (0: that side empty): read while the problem was built, so a decision needs nothing
  // more of the venue's input.
  int64_t min_quantity() const { return min_quantity_; }
  int64_t best_bid() const { return best_bid_; }
  int64_t best_ask() const { return best_ask_; }
  // Quotable(venue) of the venue built: everything Build asks of the book and, of the side it
  // does not walk, a sane best level (found while it was built).
  bool quotable() const { return quotable_; }
  int64_t capacity() const { return n_ == 0 ? 0 : last_.end; }
  double total_cost() const {
    const double cap = static_cast<double>(capacity());
    return last_.end_cost + kappa_ * cap * cap / 2;
  }
  // Marginal cost of the first and of the last lot (the same arithmetic as LotMarginal).
  // (From the problem itself — the first unit cost copied from the curve's parameters, the last
  // segment's in `last_` — not from the curve's arrays: a decision on curves not in cache found
  // them there first, two reads a venue that missed the cache.)
  double min_unit_cost() const { return first_unit_ + kappa_ * static_cast<double>(lot_size_) * 0.5; }
  double max_unit_cost() const {
    if (kappa_ == 0) return last_.unit_cost + 0.0;  // The same sum, without the lot count's division.
    return last_.unit_cost + kappa_ * static_cast<double>(lot_size_) *
                               (static_cast<double>(capacity() / lot_size_ - 1) + 0.5);
  }
  // The usable segments (the curve's, the last one cut at the cap), as a copy: for inspection.
  std::vector<Segment> segments() const;

 private:
  std::shared_ptr<const VenueCurve> curve_;
  const Segment* segs_ = nullptr;  // The curve's segments; the first n_ are usable.
  const double* unit_ = nullptr;   // Their unit costs, contiguous,
  const int64_t* ends_ = nullptr;  // and their ends (the curve's: the last one is not cut),
  const double* end_costs_ = nullptr;  // and end costs (the same).
  size_t n_ = 0;
  Segment last_{};  // Segment n_ - 1 as usable here: cut at the venue's cap.
  int64_t lot_size_ = 1;
  double kappa_ = 0;
  double first_unit_ = 0;  // unit_[0].
  int64_t min_quantity_ = 0;
  int64_t best_bid_ = 0;
  int64_t best_ask_ = 0;
  bool quotable_ = false;

  const Segment& Seg(size_t k) const { return k + 1 == n_ ? last_ : segs_[k]; }
  // Seg(k).end and Seg(k).end_cost.
  int64_t EndOf(size_t k) const { return k + 1 == n_ ? last_.end : ends_[k]; }
  double EndCostOf(size_t k) const { return k + 1 == n_ ? last_.end_cost : end_costs_[k]; }
  // The first segment in [from, to) whose unit cost is >= λ (`to` if none): std::lower_bound's
  // answer, without its unpredictable branches.
  size_t FirstNotBelow(double lambda, size_t from, size_t to) const {
    const double* base = unit_ + from;
    size_t len = to - from;
    if (len == 0) return from;
    while (len > 1) {
      const size_t half = len / 2;
      base = base[half - 1] < lambda ? base + half : base;
      len -= half;
    }
    return static_cast<size_t>(base - unit_) + (*base < lambda ? 1 : 0);
  }
  // The response at λ given the first segment costing >= λ (no impact); `*first_above`: the
  // first segment costing > λ.
  Response AtPosition(double lambda, size_t lo, size_t* first_above) const {
    // `lo`: the first segment with unit_cost >= λ; then the first with unit_cost > λ (usually
    // the same).
    Response r;
    size_t hi = lo;
    while (hi < n_ && unit_[hi] == lambda) ++hi;
    *first_above = hi;
    // (From the contiguous ends and end costs, not the 80-byte segments: fewer cache lines.)
    if (lo > 0) {
      r.lo = EndOf(lo - 1);
      r.cost_lo = EndCostOf(lo - 1);
    }
    if (hi == lo) {
      r.hi = r.lo;
      r.cost_hi = r.cost_lo;
    } else {
      r.hi = EndOf(hi - 1);
      r.cost_hi = EndCostOf(hi - 1);
    }
    return r;
  }
  // Index of the segment holding the x-th unit (x >= 1); n_ if beyond.
  size_t SegmentOf(int64_t x) const;
  // Whether segment k (< n_) holds the x-th unit, 1 <= x <= capacity(): SegmentOf(x) == k.
  bool Holds(size_t k, int64_t x) const { return x <= ends_[k] && (k == 0 || ends_[k - 1] < x); }
  // Cost(x) for x > 0 in segment k = SegmentOf(x).
  double CostIn(int64_t x, size_t k) const;
  // Marginal unit cost of lot j (0-based): its segment's cost plus impact kappa*L*(j + 1/2).
  double LotMarginal(int64_t j) const;
  // With impact: the marginal costs of the lots either side of λ.
  Nearest NearestWithImpact(const Response& at_lambda) const;
  // Lots whose marginal cost is < λ (or <= λ when `inclusive`), with impact.
  int64_t LotsBelow(double lambda, bool inclusive) const;
};

}  // namespace exo::solver
