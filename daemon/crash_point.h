// Crash points, for tests of what a crash leaves. exorouted started with
// EXOROUTED_CRASH_AT=<name> in its environment kills itself with SIGKILL (no destructor runs,
// nothing more is written or sent: a power cut) the first time it reaches the point of that name,
// so that a test stops it exactly in a window a `kill -9` from outside hits only by luck. Without
// the variable — always, in production — a point costs one comparison of an empty string.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace exo::daemon {

// The points (docs/architecture.md, "Tests"):
// After a decision's `child_sent` deltas are synced and before any of those children is sent.
inline constexpr char kCrashChildRecorded[] = "child_recorded";
// After a cluster route's shortfall was routed again as a sub-route, and before the coordinator
// records what the sub-route placed.
inline constexpr char kCrashSubRouteRouted[] = "sub_route_routed";
// After every node of a cluster route recorded its share (and the coordinator the route's
// record), before the coordinator answers the client.
inline constexpr char kCrashClusterRouteExecuted[] = "cluster_route_executed";
// On a cluster node, after it recorded its share of a route at the coordinator's Execute and
// before it answers.
inline constexpr char kCrashShareRecorded[] = "share_recorded";

// Reads EXOROUTED_CRASH_AT once: OK when unset; when set to a known point, logs a warning that
// this process will kill itself there; INVALID_ARGUMENT naming the known points otherwise.
absl::Status ArmCrashPointFromEnvironment();

// Kills this process if it was armed (above) with `name`; returns otherwise.
void CrashPoint(std::string_view name);

}  // namespace exo::daemon
