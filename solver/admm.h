// Exchange-form (sharing) ADMM over LocalProblems: the general method and the cross-check of
// the exact dual method.
//
// min Σ f_i(x_i) s.t. Σ x_i = Q is solved on the continuous relaxation with the sharing
// iteration x_i <- prox_{f_i/ρ}(x_i - x̄ + Q/N - u), u <- u + α (x̄ - Q/N), over-relaxed
// (α = 1.6), with λ = -ρu warm-started at the venues' average best fee-adjusted price and ρ
// scaled to the books' curvature. It stops when a duality-gap certificate (a feasible point's cost
// against the Lagrangian bound at λ, both sums of what each venue answers) is within 1e-6
// relative. Each venue only answers its proximal step, At(λ) and (balanced variants) its
// breakpoints next to λ. The first two variants then round the continuous answer to lots and
// polish it by exchanging single lots between venues while that lowers the cost (optimal for
// separable convex costs with a common lot size); the third places the split at a price.
//
// Three variants, recorded with a decision's inputs (SolveInput.admm_variant) so that replay
// runs the one it was made with:
// - fixed ρ: the certificate's feasible point is the iterate scaled to Q. On piecewise-linear
//   books with a small quantity 1–2 % of instances took over 100 iterations (up to 284): λ is
//   found long before the iterate's split of a tied price level settles, and a ρ too small for
//   widely spaced levels moves λ across an empty stretch of prices a little each iteration.
// - balanced: the certificate's point is built at λ itself, or at
//   the venues' breakpoint next to λ towards Q, from the venues' answers there (everything below
//   it, the tie there split by one fraction), so a λ on the optimal price level certifies at
//   once; and ρ is balanced against the residuals, made relative so that the units of price do
//   not matter — doubled while the sum's miss (a fraction of Q) is over 3000× how far the
//   iterate moved times ρ (a fraction of |λ|·√N), halved while the move is over 30× the miss; u
//   is scaled with it, so λ does not move. The answer is rounded from the certified point, and
//   its λ is the price where the bound was proved. Over ~21 000 random inputs of the shapes the
//   solver is tested on, at any price scale: max 98 iterations, where the fixed-ρ variant took up
//   to 500; with impact 30× stronger against the depth, 5 of 5289 over 100 (max 174)
//   (exo_admm_iterations_bench, docs/BENCHMARKS.md).
// - balanced, placed at a price (what exorouted decides with since 2026-12-02): the balanced
//   iterations, then the split placed as the exact method places it at λ*
//   (PlaceAtBracketingPrice) at the price the certified point was built from, whose answers
//   bracket Q, or else at the smallest price where S_hi reaches Q (bisection over the doubles
//   from λ, at most 64 evaluations). Rounding lot by lot from the certified point takes
//   milliseconds to minutes with an impact term and fine lots (10^6–10^13 lots); this does not.
#pragma once

#include <cstdint>
#include <vector>

#include "solver/exact_dual.h"
#include "solver/local_problem.h"

namespace exo::solver {

enum class AdmmVariant { kFixedRho, kBalanced, kBalancedAtPrice };

struct AdmmOptions {
  double alpha = 1.6;            // Over-relaxation.
  double gap_tolerance = 1e-6;   // Stop when the relative duality gap certificate is below.
  int max_iterations = 500;
  AdmmVariant variant = AdmmVariant::kFixedRho;
};

// `problems` sorted by venue id. DualSolution.rounds = ADMM iterations.
DualSolution SolveAdmm(const std::vector<LocalProblem>& problems, int64_t quantity,
                       const AdmmOptions& options = {});

}  // namespace exo::solver
