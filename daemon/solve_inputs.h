// How a configured venue enters a decision: the one place that turns config (fees, lots, caps,
// staleness) into the solver's VenueInput, used by the engine for live decisions and by
// `exoroutectl solve` for what-if decisions on books from a file.
#pragma once

#include <optional>
#include <string>

#include "exoroute/v1/config.pb.h"
#include "exoroute/v1/types.pb.h"

namespace exo::daemon {

// The venue's solver input for `symbol` (no book yet), or nullopt if it does not trade it.
std::optional<exoroute::v1::VenueInput> VenueInputFor(const exoroute::v1::VenueConfig& venue,
                                                      const std::string& symbol);

}  // namespace exo::daemon
