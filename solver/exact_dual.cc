#include "solver/exact_dual.h"

#include "solver/internal/lot_fill.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace exo::solver {
namespace {

// What one venue takes at the bracket's ends: hi(a) with its cost, lo(b) with its cost. When
// the two are equal the venue has no breakpoint inside (a, b) — its response is the same for
// every λ left to try — so it is frozen and summed once instead of asked again.
struct VenueBracket {
  int64_t qa = 0;
  int64_t qb = 0;
  double ca = 0;
  double cb = 0;
};

// The coordinator's running sums: frozen venues in `fixed_*`, the rest asked each round.
class Aggregator {
 public:
  explicit Aggregator(const std::vector<LocalProblem>& problems) : problems_(problems) {
    brackets_.resize(problems.size());
    active_.reserve(problems.size());
    for (size_t i = 0; i < problems.size(); ++i) {
      brackets_[i].qb = problems[i].capacity();
      brackets_[i].cb = problems[i].total_cost();
      active_.push_back(i);
    }
  }

  // S(λ) over all venues: frozen ones from their bracket, active ones asked (in venue order).
  LocalProblem::Response Evaluate(double lambda, uint32_t* rounds) {
    ++*rounds;
    LocalProblem::Response s{fixed_q_, fixed_q_, fixed_cost_, fixed_cost_};
    responses_.resize(active_.size());
    for (size_t k = 0; k < active_.size(); ++k) {
      LocalProblem::Response r = problems_[active_[k]].At(lambda);
      responses_[k] = r;
      s.lo += r.lo;
      s.hi += r.hi;
      s.cost_lo += r.cost_lo;
      s.cost_hi += r.cost_hi;
    }
    return s;
  }
  // After Evaluate(λ): λ is the new lower (or upper) end of the bracket.
  void Narrow(bool lower) {
    size_t kept = 0;
    for (size_t k = 0; k < active_.size(); ++k) {
      VenueBracket& b = brackets_[active_[k]];
      const LocalProblem::Response& r = responses_[k];
      if (lower) {
        b.qa = r.hi;
        b.ca = r.cost_hi;
      } else {
        b.qb = r.lo;
        b.cb = r.cost_lo;
      }
      if (b.qa == b.qb) {
        fixed_q_ += b.qa;
        fixed_cost_ += b.ca;
      } else {
        active_[kept++] = active_[k];
      }
    }
    active_.resize(kept);
  }
  // Smallest breakpoint above λ among the venues not frozen.
  double NextBreakpoint(double lambda) const {
    double m = std::numeric_limits<double>::infinity();
    for (size_t i : active_) m = std::min(m, problems_[i].NextBreakpoint(lambda));
    return m;
  }
  // Venue i's response at λ inside the bracket.
  LocalProblem::Response At(size_t i, double lambda) const {
    const VenueBracket& b = brackets_[i];
    if (b.qa == b.qb) return {b.qa, b.qa, b.ca, b.ca};
    return problems_[i].At(lambda);
  }

 private:
  const std::vector<LocalProblem>& problems_;
  std::vector<VenueBracket> brackets_;
  std::vector<size_t> active_;
  std::vector<LocalProblem::Response> responses_;
  int64_t fixed_q_ = 0;
  double fixed_cost_ = 0;
};

// Relative bracket width below which the remaining breakpoints are stepped over one by one.
constexpr double kBracketTolerance = 1e-12;
constexpr int kMaxRootRounds = 100;

}  // namespace

DualSolution SolveExactDual(const std::vector<LocalProblem>& problems, int64_t quantity) {
  DualSolution out;
  out.quantities.assign(problems.size(), 0);
  if (problems.empty()) return out;

  int64_t capacity = 0;
  double min_cost = std::numeric_limits<double>::infinity();
  double max_cost = -min_cost;
  for (const LocalProblem& p : problems) {
    capacity += p.capacity();
    min_cost = std::min(min_cost, p.min_unit_cost());
    max_cost = std::max(max_cost, p.max_unit_cost());
  }
  if (capacity <= quantity) {
    // Everything fits: take all of it. λ is the most expensive marginal cost used.
    for (size_t i = 0; i < problems.size(); ++i) out.quantities[i] = problems[i].capacity();
    out.lambda = max_cost;
    return out;
  }

  // Invariant: S_hi(a) < Q < S_lo(b). Everything with marginal cost in (a, b) is undecided:
  // quantity qb - qa costing cb - ca. Its average marginal cost (the centroid) lies in (a, b)
  // and is exactly λ* when one price level is left; each step discards at least one level.
  Aggregator venues(problems);
  double a = std::nextafter(min_cost, -std::numeric_limits<double>::infinity());
  double b = std::nextafter(max_cost, std::numeric_limits<double>::infinity());
  int64_t qa = 0, qb = capacity;
  double ca = 0, cb = 0;
  for (const LocalProblem& p : problems) cb += p.total_cost();
  double lambda_star = 0;
  bool found = false;
  int slow_steps = 0;  // Centroid steps in a row that did not halve the undecided quantity.
  for (int it = 0; it < kMaxRootRounds && !found; ++it) {
    double width = b - a;
    double scale = std::max({1.0, std::fabs(a), std::fabs(b)});
    if (width <= kBracketTolerance * scale) break;
    const bool bisect = slow_steps >= 2;
    double c = bisect ? a + width / 2 : (cb - ca) / static_cast<double>(qb - qa);
    if (!(c > a && c < b)) c = a + width / 2;
    const int64_t undecided = qb - qa;
    LocalProblem::Response s = venues.Evaluate(c, &out.rounds);
    bool progress = true;
    if (s.hi < quantity) {
      progress = s.hi > qa;
      a = c;
      qa = s.hi;
      ca = s.cost_hi;
      venues.Narrow(/*lower=*/true);
    } else if (s.lo > quantity) {
      progress = s.lo < qb;
      b = c;
      qb = s.lo;
      cb = s.cost_lo;
      venues.Narrow(/*lower=*/false);
    } else {
      lambda_star = c;
      found = true;
    }
    // A centroid that moves no quantity sits a rounding error away from the last level.
    if (!progress && !bisect) break;
    slow_steps = bisect || found ? 0 : (2 * (qb - qa) > undecided ? slow_steps + 1 : 0);
  }
  // Step exactly over the breakpoints left in (a, b): the first one whose S_hi reaches Q is λ*.
  while (!found) {
    double m = venues.NextBreakpoint(a);
    LocalProblem::Response s = venues.Evaluate(m, &out.rounds);
    if (s.hi >= quantity) {
      lambda_star = m;
      found = true;
    } else {
      a = m;
      venues.Narrow(/*lower=*/true);
    }
  }
  out.lambda = lambda_star;

  // Below λ* every venue takes its `lo`; the quantity tied at λ* is split by fraction.
  std::vector<int64_t> tied(problems.size());
  int64_t base = 0;
  __int128 tied_total = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    LocalProblem::Response r = venues.At(i, lambda_star);
    out.quantities[i] = r.lo;
    tied[i] = r.hi - r.lo;
    base += r.lo;
    tied_total += tied[i];
  }
  int64_t need = quantity - base;
  if (need <= 0 || tied_total == 0) return out;
  int64_t given = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    int64_t lot = problems[i].lot_size();
    int64_t share = static_cast<int64_t>(static_cast<__int128>(need) * tied[i] / tied_total);
    share = share / lot * lot;
    out.quantities[i] += share;
    tied[i] -= share;
    given += share;
  }
  // Remainder: one lot at a time in venue-id order while it fits.
  bool progress = true;
  while (given < need && progress) {
    progress = false;
    for (size_t i = 0; i < problems.size() && given < need; ++i) {
      int64_t lot = problems[i].lot_size();
      if (tied[i] >= lot && need - given >= lot) {
        out.quantities[i] += lot;
        tied[i] -= lot;
        given += lot;
        progress = true;
      }
    }
  }
  // With mixed lot sizes the tied venues may not be able to place the last few units exactly:
  // take them one lot at a time from the cheapest next lot that fits (ties by venue id), so a
  // coarse-lot venue never leaves a shortfall that a finer-lot venue could fill.
  if (given < need) internal::FillCheapestLots(problems, quantity, out.quantities);
  return out;
}

}  // namespace exo::solver
