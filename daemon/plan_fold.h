// A plan's state is the fold of its deltas: ApplyDelta is the only way a Plan changes, both
// live (after each durable append) and when the daemon rebuilds its plans from the store at
// start-up, so the two can never disagree. Pure; thread-compatible.
#pragma once

#include "exoroute/v1/types.pb.h"

namespace exo::daemon {

void ApplyDelta(const exoroute::v1::PlanDelta& delta, exoroute::v1::Plan* plan);

bool IsTerminal(exoroute::v1::PlanStatus status);
// Nothing more will happen to the plan: it has finished, or it is a plan-only plan that has
// been allocated.
bool IsSettled(const exoroute::v1::Plan& plan);

// Children that have not completed.
int OpenChildren(const exoroute::v1::Plan& plan);

}  // namespace exo::daemon
