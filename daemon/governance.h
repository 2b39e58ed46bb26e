// Governance events in the node's chain (DESIGN.md "AuditLog"; docs/replay-and-audit.md): what
// governs the node is compared with what the chain last recorded, and a change is recorded —
// at every start, before the node serves, the config in force (stored whole with the event
// and diffed against the last one) and the chain-head signing key; in a cluster, the pair keys
// (this node's at start, a peer's when it is first fetched or changes). Nothing is recorded
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

// Records `config` as the config in force (GOVERNANCE_KIND_CONFIG_APPLIED, stored whole, its
// detail what changed from the last one recorded, then `how` when given: "(reloaded on
// SIGHUP)") unless it is the last one recorded. True if recorded; `*stored` is then the delta.
absl::StatusOr<bool> RecordConfigApplied(const exoroute::v1::DaemonConfig& config, RouterEngine& engine,
                                         const store::DeltaStore& store, exoroute::v1::PlanDelta* stored = nullptr,
                                         const std::string& how = "");

// A cluster node's X25519 pair key (`own`: this node's, made at every start; else a peer's, as
// fetched for a route): recorded when it is not the last one recorded for that node — a peer
// joining or presenting a new key is in the chain.
absl::Status RecordPairKey(const std::string& node_id, const std::string& public_key, bool own, RouterEngine& engine);

// "modified: routing.replan_interval_ms: 50 -> 10; added: venues[3]: …" — what differs from
// `before` to `after`, at most `max_chars` long.
std::string DescribeConfigChange(const exoroute::v1::DaemonConfig& before, const exoroute::v1::DaemonConfig& after,
                                 size_t max_chars = 4000);

}  // namespace exo::daemon
