// Plan ids the node's own events are recorded under in its chain (beside parent orders' plans).
#pragma once

namespace exo::daemon {

// Governance events (config applied, signing and pair keys, trading halts): one plan, so that
// `Replay` with this plan id lists them all (docs/replay-and-audit.md).
inline constexpr char kGovernancePlanId[] = "node/governance";

}  // namespace exo::daemon
