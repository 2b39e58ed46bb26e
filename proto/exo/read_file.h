// A whole file read into memory, with the system's reason when it cannot be: NotFound when it
// is not there, PermissionDenied when it may not be read, FailedPrecondition otherwise (a
// directory, an I/O error). The message is "<path>: <reason>"; callers say what the file is.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace exo {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace exo
