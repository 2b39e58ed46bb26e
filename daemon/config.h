// Daemon configuration: loading, defaults and validation.
//
// A config file is JSON in the shape of exoroute.v1.DaemonConfig (proto/exoroute/v1/config.proto,
// documented in docs/configuration.md). Loading refuses unknown keys and bad values with the
// path of the field ("venues[1].markets[0].lot_size: must be > 0, got 0"). Without a file the
// embedded default runs three simulated venues.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "exoroute/v1/config.pb.h"

namespace exo::daemon {

// The embedded default configuration, as JSON.
const std::string& DefaultConfigJson();

// Parses JSON text (`origin` names it in errors), applies defaults and validates.
absl::StatusOr<exoroute::v1::DaemonConfig> ParseConfig(const std::string& json,
                                                       const std::string& origin);

// Reads and parses a file; an empty path gives the embedded default.
absl::StatusOr<exoroute::v1::DaemonConfig> LoadConfig(const std::string& path);

}  // namespace exo::daemon
