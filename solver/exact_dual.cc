#include "solver/exact_dual.h"

#include "solver/internal/lot_fill.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace exo::solver {
namespace {

struct Aggregate {
  int64_t lo = 0;
  int64_t hi = 0;
  double cost_lo = 0;
  double cost_hi = 0;
};

// Sums in venue order (fixed order: determinism).
Aggregate Evaluate(const std::vector<LocalProblem>& problems, double lambda, uint32_t* rounds) {
  ++*rounds;
  Aggregate a;
  for (const LocalProblem& p : problems) {
    LocalProblem::Response r = p.At(lambda);
    a.lo += r.lo;
    a.hi += r.hi;
    a.cost_lo += r.cost_lo;
    a.cost_hi += r.cost_hi;
  }
  return a;
}

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
    Aggregate s = Evaluate(problems, c, &out.rounds);
    bool progress = true;
    if (s.hi < quantity) {
      progress = s.hi > qa;
      a = c;
      qa = s.hi;
      ca = s.cost_hi;
    } else if (s.lo > quantity) {
      progress = s.lo < qb;
      b = c;
      qb = s.lo;
      cb = s.cost_lo;
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
    double m = std::numeric_limits<double>::infinity();
    for (const LocalProblem& p : problems) m = std::min(m, p.NextBreakpoint(a));
    Aggregate s = Evaluate(problems, m, &out.rounds);
    if (s.hi >= quantity) {
      lambda_star = m;
      found = true;
    } else {
      a = m;
    }
  }
  out.lambda = lambda_star;

  // Below λ* every venue takes its `lo`; the quantity tied at λ* is split by fraction.
  std::vector<int64_t> tied(problems.size());
  int64_t base = 0;
  __int128 tied_total = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    LocalProblem::Response r = problems[i].At(lambda_star);
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
