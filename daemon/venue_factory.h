// Builds the configured venues' adapters (today: simulated venues, with their fixed books when
// a book file is configured). The daemon and tests build venues the same way through this.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "daemon/router_engine.h"
#include "exo/clock.h"
#include "exoroute/v1/config.pb.h"

namespace exo::daemon {

absl::StatusOr<std::vector<RouterEngine::Venue>> MakeVenues(
    const exoroute::v1::DaemonConfig& config, Clock* clock);

}  // namespace exo::daemon
