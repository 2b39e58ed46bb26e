#include "solver/internal/lot_fill.h"

#include <algorithm>
#include <limits>

#include "solver/internal/ordered_double.h"

namespace exo::solver::internal {
namespace {

// Lots of venue i not yet taken whose marginal cost is below `price` (or at most it, with
// `inclusive`), in quantity units.
int64_t UntakenBelow(const LocalProblem& p, int64_t taken, double price, bool inclusive) {
  const LocalProblem::Response r = p.At(price);
  return std::max<int64_t>(0, (inclusive ? r.hi : r.lo) - taken);
}

}  // namespace

int64_t FillCheapestLotsOneByOne(const std::vector<LocalProblem>& problems, int64_t quantity,
                                 std::vector<int64_t>& quantities) {
  int64_t placed = 0;
  for (int64_t q : quantities) placed += q;
  while (placed < quantity) {
    size_t best = problems.size();
    double best_cost = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < problems.size(); ++i) {
      const LocalProblem& p = problems[i];
      if (p.lot_size() > quantity - placed || quantities[i] + p.lot_size() > p.capacity()) continue;
      double c = p.MarginalCostAfter(quantities[i]);
      if (c < best_cost) {
        best_cost = c;
        best = i;
      }
    }
    if (best == problems.size()) break;
    quantities[best] += problems[best].lot_size();
    placed += problems[best].lot_size();
  }
  return placed;
}

int64_t FillCheapestLots(const std::vector<LocalProblem>& problems, int64_t quantity,
                         std::vector<int64_t>& quantities) {
  int64_t placed = 0;
  for (int64_t q : quantities) placed += q;
  std::vector<size_t> open;  // Venues whose next lot fits: what is left, and their capacity.
  while (placed < quantity) {
    const int64_t left = quantity - placed;
    open.clear();
    int64_t largest = 0;
    double cheapest = std::numeric_limits<double>::infinity(), dearest = -cheapest;
    for (size_t i = 0; i < problems.size(); ++i) {
      const LocalProblem& p = problems[i];
      if (p.lot_size() > left || quantities[i] + p.lot_size() > p.capacity()) continue;
      open.push_back(i);
      largest = std::max(largest, p.lot_size());
      cheapest = std::min(cheapest, p.MarginalCostAfter(quantities[i]));
      dearest = std::max(dearest, p.max_unit_cost());
    }
    if (open.empty()) break;
    // While at least `largest` is left, every open venue stays open: lots up to `spare` can be
    // taken in any order. The smallest price whose untaken lots at or below it exceed `spare`:
    // every lot below it is taken, then the lots at it in venue order.
    const int64_t spare = left - largest;
    auto untaken = [&](double price, bool inclusive) {
      __int128 sum = 0;
      for (size_t i : open) sum += UntakenBelow(problems[i], quantities[i], price, inclusive);
      return sum;
    };
    int64_t below = OrderedKey(cheapest) - 1, above = OrderedKey(dearest);
    if (untaken(FromOrderedKey(above), true) <= spare) {
      // Everything the open venues have fits: take it all (they close).
      for (size_t i : open) {
        const int64_t add = UntakenBelow(problems[i], quantities[i], FromOrderedKey(above), true);
        quantities[i] += add;
        placed += add;
      }
      continue;
    }
    while (DoublesApart(below, above) > 1) {
      const int64_t mid = MidKey(below, above);
      (untaken(FromOrderedKey(mid), true) > spare ? above : below) = mid;
    }
    const double price = FromOrderedKey(above);
    for (size_t i : open) {
      const int64_t add = UntakenBelow(problems[i], quantities[i], price, false);
      quantities[i] += add;
      placed += add;
    }
    // The lots at `price`, venue by venue, while what is left stays at least `largest`; the
    // first venue that would go below it takes one more lot (one at a time would: it is the
    // cheapest open venue then), and a venue closes: start again.
    for (size_t i : open) {
      const LocalProblem& p = problems[i];
      const int64_t lot = p.lot_size();
      const int64_t tied = UntakenBelow(p, quantities[i], price, true) / lot;
      const int64_t fit = (quantity - placed - largest) / lot;
      const int64_t take = std::min(tied, fit);
      quantities[i] += take * lot;
      placed += take * lot;
      if (take < tied) {
        quantities[i] += lot;
        placed += lot;
        break;
      }
    }
  }
  return placed;
}

}  // namespace exo::solver::internal
