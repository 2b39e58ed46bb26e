#include "solver/admm.h"

#include "solver/internal/lot_fill.h"
#include "solver/internal/ordered_double.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace exo::solver {
namespace {

// A certificate of how far the iterate is from optimal: (P - D) / |P|, with P the cost of a
// feasible point next to x (scaled down if Σx > Q, else topped up in proportion to each
// venue's room) and D the Lagrangian bound λQ + Σ min_x (f_i(x) - λx), both sums over venues.
double RelativeGap(const std::vector<LocalProblem>& problems, const std::vector<double>& x,
                   double sum, double q, double lambda) {
  double room = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    room += static_cast<double>(problems[i].capacity()) - x[i];
  }
  const bool over = sum >= q;
  const double f = over ? q / sum : (room > 0 ? (q - sum) / room : 0.0);
  double primal = 0, dual = lambda * q;
  for (size_t i = 0; i < problems.size(); ++i) {
    const LocalProblem& p = problems[i];
    double y = over ? x[i] * f : x[i] + (static_cast<double>(p.capacity()) - x[i]) * f;
    primal += p.ContinuousCost(y);
    LocalProblem::Response r = p.At(lambda);
    dual += r.cost_lo - lambda * static_cast<double>(r.lo);
  }
  return (primal - dual) / std::max(std::fabs(primal), 1e-300);
}

// The venues' answers at `price` (into `*at`), their sums, and the Lagrangian bound there:
// price·Q + Σ_i min_x (f_i(x) - price·x).
struct Answers {
  double lo = 0;
  double hi = 0;
  double bound = 0;
};
Answers AnswersAt(const std::vector<LocalProblem>& problems, double q, double price,
                  std::vector<LocalProblem::Response>* at) {
  Answers s;
  s.bound = price * q;
  for (size_t i = 0; i < problems.size(); ++i) {
    const LocalProblem::Response r = problems[i].At(price);
    (*at)[i] = r;
    s.lo += static_cast<double>(r.lo);
    s.hi += static_cast<double>(r.hi);
    s.bound += r.cost_lo - price * static_cast<double>(r.lo);
  }
  return s;
}

// The balanced variant's certificate: a feasible point built from the venues' answers at one
// price m — λ itself when S_lo(λ) <= Q <= S_hi(λ), else the breakpoint next to λ towards Q —
// taking everything below m and the quantity tied at m by one fraction, against the better of
// the Lagrangian bounds at λ and at m (that price to `*bound_at`). Writes the point to `*point`
// and m to `*point_at`, and returns the relative gap; +infinity (and no point) when the answers
// at m do not bracket Q either.
double WindowGap(const std::vector<LocalProblem>& problems, double q, double lambda,
                 std::vector<LocalProblem::Response>* at, std::vector<double>* point, double* bound_at,
                 double* point_at) {
  const size_t n = problems.size();
  at->resize(n);
  Answers s = AnswersAt(problems, q, lambda, at);
  double dual = s.bound;
  *bound_at = lambda;
  *point_at = lambda;
  if (s.lo > q || s.hi < q) {
    const bool down = s.lo > q;
    double m = down ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    for (const LocalProblem& p : problems) {
      m = down ? std::max(m, p.PreviousBreakpoint(lambda)) : std::min(m, p.NextBreakpoint(lambda));
    }
    if (!std::isfinite(m)) return std::numeric_limits<double>::infinity();
    s = AnswersAt(problems, q, m, at);
    if (s.lo > q || s.hi < q) return std::numeric_limits<double>::infinity();
    *point_at = m;
    if (s.bound > dual) {
      dual = s.bound;
      *bound_at = m;
    }
  }
  const double f = s.hi > s.lo ? (q - s.lo) / (s.hi - s.lo) : 0.0;
  point->resize(n);
  double primal = 0;
  for (size_t i = 0; i < n; ++i) {
    const LocalProblem::Response& r = (*at)[i];
    (*point)[i] = static_cast<double>(r.lo) + f * static_cast<double>(r.hi - r.lo);
    primal += problems[i].ContinuousCost((*point)[i]);
  }
  return (primal - dual) / std::max(std::fabs(primal), 1e-300);
}

// Residual balancing (balanced variant), on residuals made relative so that a book's price
// scale changes nothing: the sum's miss as a fraction of Q, and how far the iterate moved times ρ
// as a fraction of |λ|·√N (the size of the dual). ρ doubles while the miss is more than
// kRaiseRho times the move, and halves while the move is more than kLowerRho times the miss.
// (Measured over the random inputs of exo_admm_iterations_bench and its stress shapes: raising
// only on a wide imbalance and lowering on a narrower one gave the shortest tail;
// docs/BENCHMARKS.md has the grid.)
constexpr double kRaiseRho = 3000;
constexpr double kLowerRho = 30;

struct Sums {
  __int128 lo = 0;
  __int128 hi = 0;
};
Sums SumsAt(const std::vector<LocalProblem>& problems, double price, std::vector<LocalProblem::Response>* at) {
  Sums s;
  for (size_t i = 0; i < problems.size(); ++i) {
    (*at)[i] = problems[i].At(price);
    s.lo += (*at)[i].lo;
    s.hi += (*at)[i].hi;
  }
  return s;
}

// The price the at-price variant places at: `lambda` itself when the venues' answers there
// bracket the quantity (S_lo <= Q <= S_hi), else the smallest double at which S_hi reaches Q
// (S_lo there is S_hi of the double before, so below Q), by bisection over the doubles between
// `lambda` and the dearest (or below the cheapest) lot. Capacity > quantity. Fills `*at` with
// the answers at the price and `*sums` with their sums.
double BracketingPrice(const std::vector<LocalProblem>& problems, int64_t quantity, double lambda,
                       std::vector<LocalProblem::Response>* at, Sums* sums) {
  at->resize(problems.size());
  double cheapest = std::numeric_limits<double>::infinity(), dearest = -cheapest;
  for (const LocalProblem& p : problems) {
    cheapest = std::min(cheapest, p.min_unit_cost());
    dearest = std::max(dearest, p.max_unit_cost());
  }
  using internal::FromOrderedKey;
  using internal::OrderedKey;
  int64_t below = OrderedKey(cheapest) - 1;  // S_hi < Q there: no lot costs that little.
  int64_t above = OrderedKey(dearest);       // S_hi = capacity > Q.
  if (std::isfinite(lambda)) {
    *sums = SumsAt(problems, lambda, at);
    if (sums->lo <= quantity && quantity <= sums->hi) return lambda;
    (sums->hi < quantity ? below : above) = OrderedKey(lambda);
  }
  while (internal::DoublesApart(below, above) > 1) {
    const int64_t mid = internal::MidKey(below, above);
    __int128 hi = 0;
    for (const LocalProblem& p : problems) hi += p.At(FromOrderedKey(mid)).hi;
    (hi >= quantity ? above : below) = mid;
  }
  const double price = FromOrderedKey(above);
  *sums = SumsAt(problems, price, at);
  return price;
}

}  // namespace

DualSolution SolveAdmm(const std::vector<LocalProblem>& problems, int64_t quantity,
                       const AdmmOptions& options) {
  DualSolution out;
  const size_t n = problems.size();
  out.quantities.assign(n, 0);
  if (n == 0) return out;
  int64_t capacity = 0;
  double best_sum = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const LocalProblem& p : problems) {
    capacity += p.capacity();
    best_sum += p.min_unit_cost();
    lo = std::min(lo, p.min_unit_cost());
    hi = std::max(hi, p.max_unit_cost());
  }
  if (capacity <= quantity) {
    for (size_t i = 0; i < n; ++i) out.quantities[i] = problems[i].capacity();
    out.lambda = hi;
    return out;
  }

  // Continuous ADMM.
  const double q = static_cast<double>(quantity);
  const double share = q / static_cast<double>(n);
  // ρ: how fast one venue's marginal cost rises per unit taken, on average.
  double rho = (hi - lo) / (static_cast<double>(capacity) / static_cast<double>(n));
  if (!(rho > 0)) rho = std::max(1e-12, std::fabs(lo) * 1e-9 / std::max(1.0, share));
  double lambda = best_sum / static_cast<double>(n);
  double u = -lambda / rho;
  const bool balanced = options.variant != AdmmVariant::kFixedRho;
  const double rho_bound = rho;  // The books' curvature: balancing stays within 2^±40 of it.
  std::vector<double> x(n, 0.0);
  std::vector<double> certified;  // Balanced: the point the certificate was met at,
  double point_at = 0;            // and the price whose answers it was built from.
  std::vector<LocalProblem::Response> answers;
  std::vector<double> point;
  double xbar = 0;
  for (int it = 0; it < options.max_iterations; ++it) {
    ++out.rounds;
    double sum = 0, moved = 0;
    for (size_t i = 0; i < n; ++i) {
      const double next = problems[i].Prox(x[i] - xbar + share - u, rho);
      moved += (next - x[i]) * (next - x[i]);
      x[i] = next;
      sum += x[i];
    }
    xbar = sum / static_cast<double>(n);
    u += options.alpha * (xbar - share);
    lambda = -rho * u;
    if (!balanced) {
      if (RelativeGap(problems, x, sum, q, lambda) <= options.gap_tolerance) break;
      continue;
    }
    double bound_at = lambda;
    if (WindowGap(problems, q, lambda, &answers, &point, &bound_at, &point_at) <= options.gap_tolerance) {
      certified = std::move(point);
      lambda = bound_at;  // The decision's λ: where its bound was proved (a price level, often).
      break;
    }
    if (RelativeGap(problems, x, sum, q, lambda) <= options.gap_tolerance) break;
    // ×2 and ÷2 are exact: λ = -ρu does not move. (Within 2^±40 of the initial ρ, so that
    // neither can overflow or vanish on inputs no test has met.)
    const double miss = std::fabs(sum - q) / q;
    const double step = rho * std::sqrt(moved) / std::max(std::fabs(lambda) * std::sqrt(static_cast<double>(n)), 1e-300);
    if (miss > kRaiseRho * step && miss > 1e-9 && rho < rho_bound * 0x1p40) {
      rho *= 2;
      u /= 2;
    } else if (step > kLowerRho * miss && rho > rho_bound * 0x1p-40) {
      rho /= 2;
      u *= 2;
    }
  }
  if (options.variant == AdmmVariant::kBalancedAtPrice) {
    // Placed at a price, as the exact method places at λ*: no lot is placed one at a time
    // beyond a few per venue, however fine the lots. From the price the certified point was
    // built at (its answers bracket the quantity: no search) or else from λ.
    Sums sums;
    out.lambda = BracketingPrice(problems, quantity, certified.empty() ? lambda : point_at, &answers, &sums);
    out.quantities = PlaceAtBracketingPrice(problems, answers, quantity, static_cast<int64_t>(sums.lo),
                                            static_cast<int64_t>(sums.hi));
    out.at_lambda = std::move(answers);
    return out;
  }
  out.lambda = lambda;
  if (!certified.empty()) x = std::move(certified);

  // Round down to lots, then place the rest one lot at a time where the next lot is cheapest.
  int64_t placed = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t lot = problems[i].lot_size();
    int64_t lots = static_cast<int64_t>(std::floor(std::max(0.0, x[i]) / static_cast<double>(lot)));
    out.quantities[i] = std::min(lots * lot, problems[i].capacity() / lot * lot);
    placed += out.quantities[i];
  }
  while (placed > quantity) {  // Only if rounding overshot: give back the dearest last lot.
    size_t worst = n;
    double worst_cost = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < n; ++i) {
      if (out.quantities[i] == 0) continue;
      double c = problems[i].MarginalCostAfter(out.quantities[i] - problems[i].lot_size());
      if (c > worst_cost) {
        worst_cost = c;
        worst = i;
      }
    }
    out.quantities[worst] -= problems[worst].lot_size();
    placed -= problems[worst].lot_size();
  }
  internal::FillCheapestLots(problems, quantity, out.quantities);
  // Polish: move a lot from the venue whose last lot is dearest to the one whose next lot is
  // cheapest (same lot size) while that saves something.
  for (int swaps = 0; swaps < 100000; ++swaps) {
    size_t from = n, to = n;
    double from_cost = -std::numeric_limits<double>::infinity();
    double to_cost = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < n; ++i) {
      const LocalProblem& p = problems[i];
      if (out.quantities[i] > 0) {
        double c = p.MarginalCostAfter(out.quantities[i] - p.lot_size());
        if (c > from_cost) {
          from_cost = c;
          from = i;
        }
      }
    }
    if (from == n) break;
    for (size_t i = 0; i < n; ++i) {
      const LocalProblem& p = problems[i];
      if (i == from || p.lot_size() != problems[from].lot_size() ||
          out.quantities[i] + p.lot_size() > p.capacity()) {
        continue;
      }
      double c = p.MarginalCostAfter(out.quantities[i]);
      if (c < to_cost) {
        to_cost = c;
        to = i;
      }
    }
    if (to == n || !(to_cost < from_cost)) break;
    out.quantities[from] -= problems[from].lot_size();
    out.quantities[to] += problems[to].lot_size();
  }
  return out;
}

}  // namespace exo::solver
