// LocalProblem: one venue's share of one parent order.
//
// Holds the venue's convex, piecewise-linear cost curve f_i(x) in whole lots — the displayed
// levels walked at fee-adjusted prices, cut at the parent's limit and the venue's cap — and
// answers the only questions a coordinator may ask of it: how much would this venue take at dual
// price λ (`At`), and what is the next price at which that changes (`NextBreakpoint`). The
// coordinator never looks inside the book, so the same interface can be answered remotely.
//
// Units: quantities in the instrument's quantity units; unit costs in price units per quantity
// unit, signed so that lower is better for either side (sells cost −price·(1 − fee)).
// Immutable after Build; safe to share between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "exoroute/v1/types.pb.h"

namespace exo::solver {

class LocalProblem {
 public:
  // A run of lots with one marginal cost.
  struct Segment {
    double unit_cost;     // Cost per quantity unit inside this run.
    int64_t quantity;     // A positive multiple of the lot size.
    int64_t worst_price;  // Worst raw level price touched by the run (the child's limit).
    int64_t end;          // Quantity of this and all earlier segments.
    double end_cost;      // Cost of this and all earlier segments.
    __int128 notional;    // Exact Σ raw price × quantity of this and all earlier segments.
    bool one_price;       // A run at one level's price (else: one lot straddling levels).
  };
  // Quantity the venue takes at dual price λ: `lo` with marginal cost < λ, `hi` with <= λ,
  // and what each costs. All four are summable across venues (and nodes).
  struct Response {
    int64_t lo = 0;
    int64_t hi = 0;
    double cost_lo = 0;
    double cost_hi = 0;
  };

  // Builds the curve from the venue's book side for `side`. Returns FailedPrecondition with a
  // human-readable reason when the venue cannot be used (crossed, malformed or stale book,
  // nothing within the limit).
  static absl::StatusOr<LocalProblem> Build(const exoroute::v1::VenueInput& venue,
                                            exoroute::v1::Side side,
                                            std::optional<int64_t> limit_price,
                                            int64_t decision_time_ns, uint32_t qty_scale = 0);

  Response At(double lambda) const;
  // Smallest marginal cost strictly above λ; +infinity if none.
  double NextBreakpoint(double lambda) const;
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

  const std::string& venue() const { return venue_; }
  int64_t lot_size() const { return lot_size_; }
  int64_t capacity() const { return segments_.empty() ? 0 : segments_.back().end; }
  double total_cost() const { return Cost(capacity()); }
  double min_unit_cost() const { return LotMarginal(0); }
  double max_unit_cost() const { return LotMarginal(capacity() / lot_size_ - 1); }
  const std::vector<Segment>& segments() const { return segments_; }

 private:
  std::string venue_;
  int64_t lot_size_ = 1;
  bool buy_ = true;
  int64_t fee_ppm_ = 0;
  std::vector<Segment> segments_;  // Non-decreasing unit_cost.

  // Index of the segment holding the x-th unit (x >= 1); segments_.size() if beyond.
  size_t SegmentOf(int64_t x) const;
  // Marginal unit cost of lot j (0-based): its segment's cost plus impact kappa*L*(j + 1/2).
  double LotMarginal(int64_t j) const;
  // Lots whose marginal cost is < λ (or <= λ when `inclusive`), with impact.
  int64_t LotsBelow(double lambda, bool inclusive) const;

  double kappa_ = 0;
};

}  // namespace exo::solver
