// Exchange-form (sharing) ADMM over LocalProblems: the general method and the cross-check of
// the exact dual method.
//
// min Σ f_i(x_i) s.t. Σ x_i = Q is solved on the continuous relaxation with the sharing
// iteration x_i <- prox_{f_i/ρ}(x_i - x̄ + Q/N - u), u <- u + α (x̄ - Q/N), over-relaxed
// (α = 1.6), with λ = -ρu warm-started at the venues' average best fee-adjusted price and ρ
// scaled to the books' curvature. It stops when a duality-gap certificate (a feasible point's cost
// against the Lagrangian bound at λ, both sums of what each venue answers) is within 1e-6
// relative. Each venue only answers its proximal step and At(λ). The continuous
// answer is then rounded to lots and polished by exchanging single lots between venues while
// that lowers the cost (optimal for separable convex costs with a common lot size).
#pragma once

#include <cstdint>
#include <vector>

#include "solver/exact_dual.h"
#include "solver/local_problem.h"

namespace exo::solver {

struct AdmmOptions {
  double alpha = 1.6;            // Over-relaxation.
  double gap_tolerance = 1e-6;   // Stop when the relative duality gap certificate is below.
  int max_iterations = 500;
};

// `problems` sorted by venue id. DualSolution.rounds = ADMM iterations.
DualSolution SolveAdmm(const std::vector<LocalProblem>& problems, int64_t quantity,
                       const AdmmOptions& options = {});

}  // namespace exo::solver
