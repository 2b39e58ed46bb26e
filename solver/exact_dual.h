// The exact dual method over LocalProblems.
//
// For min Σ f_i(x_i) s.t. Σ x_i = Q with convex f_i, the optimum is where every venue takes what
// it would at one dual price λ*. The coordinator finds λ* by root-finding on the aggregate
// response S(λ) = Σ x_i(λ) (Illinois regula falsi with a bisection safeguard), finishes exactly
// by stepping over the few breakpoints left in the final bracket, and splits the quantity tied
// at λ* in proportion to each venue's tied capacity, in lots, remainder by venue id.
// It only calls LocalProblem::At / NextBreakpoint.
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
