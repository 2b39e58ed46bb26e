#include "daemon/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "exo/log.h"

namespace exo::daemon {
namespace {

// Set once, at start-up, before other threads run; read-only after.
std::string& Armed() {
  static std::string armed;
  return armed;
}

}  // namespace

absl::Status ArmCrashPointFromEnvironment() {
  const char* env = std::getenv("EXOROUTED_CRASH_AT");  // NOLINT(concurrency-mt-unsafe): nothing here sets the environment
  if (env == nullptr || *env == '\0') return absl::OkStatus();
  const std::string name = env;
  static constexpr const char* kPoints[] = {kCrashChildRecorded, kCrashSubRouteRouted, kCrashClusterRouteExecuted,
                                            kCrashShareRecorded};
  if (std::find(std::begin(kPoints), std::end(kPoints), name) == std::end(kPoints)) {
    return absl::InvalidArgumentError(absl::StrCat("EXOROUTED_CRASH_AT: no crash point \"", name, "\" (there are ",
                                                   absl::StrJoin(kPoints, ", "), "; unset it to run normally)"));
  }
  Armed() = name;
  LogWarning("EXOROUTED_CRASH_AT=%s: this process kills itself when it reaches that point (a test's setting: "
             "never set it on a node that trades)", name);
  return absl::OkStatus();
}

void CrashPoint(std::string_view name) {
  const std::string& armed = Armed();
  if (armed.empty() || armed != name) return;
  LogError("crash point %s reached: killing this process (EXOROUTED_CRASH_AT)", armed);
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);  // (Not reached.)
}

}  // namespace exo::daemon
