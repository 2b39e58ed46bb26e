// Lot placement shared by the solver's methods.
#pragma once

#include <cstdint>
#include <vector>

#include "solver/local_problem.h"

namespace exo::solver::internal {

// Adds whole lots, as if one at a time, to the venue whose next lot is cheapest (ties: lowest
// venue index) among those whose next lot fits both what is left of `quantity` and the venue's
// capacity, until `quantity` is placed or no lot fits. `quantities` must hold whole lots from
// the start of each venue's curve (its cheapest). Returns the quantity placed in total.
//
// Exactly the lots that one-lot-at-a-time placement takes, but in bulk: while what is left stays
// at least the largest lot that still fits, every venue that can take a lot still can, so the
// one-at-a-time placement takes every lot priced below some price first, then the lots priced at
// it venue by venue in index order. That price is found by bisection over the doubles (each step
// asks every venue how many lots it has below a price), and it is done again each time a venue's
// lot stops fitting — at most once per venue. Fine lots (10^8 of them after a coarse-lot venue's
// tie) cost a few bisections, not 10^8 steps.
int64_t FillCheapestLots(const std::vector<LocalProblem>& problems, int64_t quantity,
                         std::vector<int64_t>& quantities);

// The same one lot at a time (the definition; for tests).
int64_t FillCheapestLotsOneByOne(const std::vector<LocalProblem>& problems, int64_t quantity,
                                 std::vector<int64_t>& quantities);

}  // namespace exo::solver::internal
