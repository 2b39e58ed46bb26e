// The exact dual method over LocalProblems.
//
// For min Σ f_i(x_i) s.t. Σ x_i = Q with convex f_i, the optimum is where every venue takes what
// it would at one dual price λ*. The coordinator brackets λ* on the aggregate response
// S(λ) = Σ x_i(λ) and jumps each round to the cost centroid of the quantity still undecided
// (Σ cost / Σ quantity of everything priced inside the bracket, also a sum over venues), which
// is λ* itself once one price level is left; bisection is the safeguard. It finishes exactly by
// stepping over any breakpoint left within rounding error, and splits the quantity tied at λ*
// in proportion to each venue's tied capacity, in lots, remainder by venue id; what mixed lot
// sizes leave over goes to the cheapest next lot that fits.
// It only calls LocalProblem::At / NextBreakpoint / MarginalCostAfter.
#pragma once

#include <cstdint>
#include <vector>

#include "solver/local_problem.h"

namespace exo::solver {

struct DualSolution {
  std::vector<int64_t> quantities;  // Per problem, same order as the input.
  double lambda = 0;                // λ* (the marginal unit cost at the optimum).
  uint32_t rounds = 0;              // Evaluations of S(λ).
};

// `problems` must be sorted by venue id (the tie-break order). quantity > 0.
DualSolution SolveExactDual(const std::vector<LocalProblem>& problems, int64_t quantity);

}  // namespace exo::solver
