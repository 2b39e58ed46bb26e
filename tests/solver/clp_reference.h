// An independent reference for solver tests and benchmarks: the same routing problem as a
// linear program over the raw book levels, solved by COIN-OR CLP (Debian's coinor-libclp-dev;
// used only here, never by exoroute itself).
//
// Columns: one per (venue, level within the limit), cost = fee-adjusted unit price (sells:
// minus proceeds), bounds [0, level size]. Rows: Σ all columns = min(Q, placeable), and per
// venue Σ its columns <= cap. With level sizes, caps and Q in multiples of one common lot the
// LP's optimal vertex is in whole lots, so its cost is the exact optimum to compare with.
#pragma once

#include <cstdint>

#include "exoroute/v1/types.pb.h"

class ClpSimplex;

namespace exo::testing {

struct ClpResult {
  bool ok = false;
  double cost = 0;        // Price units x quantity units.
  int64_t placed = 0;     // Quantity the LP placed.
};

ClpResult SolveWithClp(const exoroute::v1::SolveInput& in);

// SolveWithClp's two halves, for benchmarks that time them apart: the LP built from `in` and
// loaded into `*model` (false when there is nothing to solve: no column, or nothing placeable),
// and the loaded model solved by the dual simplex.
bool LoadClpModel(const exoroute::v1::SolveInput& in, ClpSimplex* model);
ClpResult SolveClpModel(ClpSimplex* model);

}  // namespace exo::testing
