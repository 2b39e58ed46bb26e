// What this process uses of the machine, read from Linux's /proc/self: resident and virtual
// memory, CPU time, open file descriptors against their limit, start time. Status carries it
// (`process`), /metrics exports it under Prometheus's standard process_* names, and
// `exoroutectl status` prints it.
#pragma once

#include <string>

#include "absl/status/statusor.h"

#include "exoroute/v1/admin.pb.h"

namespace exo::daemon {

// This process now. Unavailable (naming the file) where /proc cannot be read.
absl::StatusOr<exoroute::v1::ProcessStatus> ReadProcessStatus();

// The same from the text of a /proc/<pid>/stat line, for tests: `page_bytes` and `ticks_per_s`
// as sysconf gives them, `boot_time_s` from /proc/stat's btime. InvalidArgument naming the
// field that does not parse.
absl::StatusOr<exoroute::v1::ProcessStatus> ParseProcStat(const std::string& stat_line, int64_t page_bytes,
                                                          int64_t ticks_per_s, int64_t boot_time_s);

}  // namespace exo::daemon
