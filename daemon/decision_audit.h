// Decision audit: proves that recorded decisions are what the solver makes of their inputs.
//
// For every allocation delta in a range, loads the SolveInput recorded under its inputs_digest,
// re-runs the solver, rebuilds the delta exactly as the engine would, and compares canonical
// bytes. It also checks that a plan's price protection held: once a decision in the range fixed
// the order's arrival limit (SolverStats.arrival_limit), every later decision of that plan was
// decided under it (its input's limit price, or a cluster share's given arrival limit), never a
// wider one. Works on a live store or one opened read-only by the CLI. Thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "store/delta_store.h"

namespace exo::daemon {

struct DecisionReport {
  bool ok = true;
  bool stopped = false;             // `keep_going` answered false: checked so far, ok says nothing.
  uint64_t checked = 0;             // Allocation deltas re-solved.
  uint64_t first_bad_sequence = 0;
  std::string error;
};

// `keep_going`, when given, is asked before each allocation is re-solved; false stops there.
DecisionReport VerifyDecisions(const store::DeltaStore& store, uint64_t from, uint64_t to,
                               const std::function<bool()>& keep_going = nullptr);

}  // namespace exo::daemon
