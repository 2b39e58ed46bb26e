// Loading book snapshots from a JSON file (BookSnapshotFile in config.proto), for sim venues
// that serve fixed books and for offline what-if solves. Errors name the file and the field.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "exoroute/v1/config.pb.h"

namespace exo::adapters {

absl::StatusOr<exoroute::v1::BookSnapshotFile> LoadBookFile(const std::string& path);

// The same over the file's text; errors name it `name` ("book file NAME: …").
absl::StatusOr<exoroute::v1::BookSnapshotFile> ParseBookFile(std::string_view json, const std::string& name);

}  // namespace exo::adapters
