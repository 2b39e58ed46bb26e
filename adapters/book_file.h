// Loading book snapshots from a JSON file (BookSnapshotFile in config.proto), for sim venues
// that serve fixed books and for offline what-if solves. Errors name the file and the field.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "exoroute/v1/config.pb.h"

namespace exo::adapters {

absl::StatusOr<exoroute::v1::BookSnapshotFile> LoadBookFile(const std::string& path);

}  // namespace exo::adapters
