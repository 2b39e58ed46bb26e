// Governance events in the node's chain (DESIGN.md "AuditLog"; docs/replay-and-audit.md): at
// every start, what governs the node is compared with what the chain last recorded, and a
// change is recorded before the node serves — the config in force (stored whole with the
// event and diffed against the last one) and the chain-head signing key. Nothing is recorded
// when nothing changed.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "daemon/router_engine.h"
#include "exoroute/v1/config.pb.h"
#include "store/delta_store.h"

namespace exo::daemon {

absl::Status RecordGovernanceChanges(const exoroute::v1::DaemonConfig& config, const std::string& signing_public_key,
                                     RouterEngine& engine, const store::DeltaStore& store);

// "modified: routing.replan_interval_ms: 50 -> 10; added: venues[3]: …" — what differs from
// `before` to `after`, at most `max_chars` long.
std::string DescribeConfigChange(const exoroute::v1::DaemonConfig& before, const exoroute::v1::DaemonConfig& after,
                                 size_t max_chars = 4000);

}  // namespace exo::daemon
