// Lot-by-lot placement shared by the solver's methods.
#pragma once

#include <cstdint>
#include <vector>

#include "solver/local_problem.h"

namespace exo::solver::internal {

// Adds whole lots, one at a time, to the venue whose next lot is cheapest (ties: lowest venue
// index), until `quantity` is placed or no lot fits. Returns the quantity placed in total.
int64_t FillCheapestLots(const std::vector<LocalProblem>& problems, int64_t quantity,
                         std::vector<int64_t>& quantities);

}  // namespace exo::solver::internal
