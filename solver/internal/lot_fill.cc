#include "solver/internal/lot_fill.h"

#include <limits>

namespace exo::solver::internal {

int64_t FillCheapestLots(const std::vector<LocalProblem>& problems, int64_t quantity,
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

}  // namespace exo::solver::internal
