// Human-readable rendering for exoroutectl: plans, deltas and status as aligned text, with
// prices and quantities shown as decimals at their instrument's scale.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "exoroute/v1/admin.pb.h"
#include "exoroute/v1/router.pb.h"
#include "exoroute/v1/types.pb.h"

namespace exo::ctl {

// Finds the instrument of a plan (for decimal formatting); null if unknown.
using InstrumentLookup = std::function<const exoroute::v1::Instrument*(const std::string& plan_id)>;

// "1 round", "4 rounds": a count and its noun, singular for one.
std::string Counted(uint64_t n, absl::string_view one, absl::string_view many);
// `now_s` (Unix seconds; 0: not known) says how long each open child has been out.
std::string RenderPlan(const exoroute::v1::Plan& plan, int64_t now_s = 0);
// Working plans (ListPlans), a line each; `now_ns` (Unix ns) dates their age.
std::string RenderPlanList(const std::vector<exoroute::v1::Plan>& plans, int64_t now_ns);
// The best plan for a whole order on one venue alone, set beside a split (exoroutectl solve).
struct OneVenuePlan {
  std::string venue;
  exoroute::v1::Decision decision;
};
// A what-if decision (exoroutectl solve), and with `alone` what the best venue alone would do.
std::string RenderDecision(const exoroute::v1::Decision& d, const exoroute::v1::Instrument& inst,
                           exoroute::v1::Side side, int64_t quantity, const OneVenuePlan* alone = nullptr);
// `now_s` (Unix seconds) dates the warnings about certificates that expire soon (0: none).
// What `config reload` (or its --dry-run) applied or would apply.
std::string RenderConfigReload(const exoroute::v1::ReloadConfigResponse& r, bool dry_run);
std::string RenderStatus(const exoroute::v1::StatusResponse& status, int64_t now_s = 0);
// A cluster route's summary: per node only its total (its venues' allocations stay there),
// nodes and venues left out with why, the shortfall.
std::string RenderClusterRoute(const exoroute::v1::ClusterRouteSummary& r, const exoroute::v1::Instrument& inst);
// A route's progress on its nodes (GetRoute): per node its share, what has filled, its status.
std::string RenderRouteProgress(const exoroute::v1::GetRouteResponse& r, const exoroute::v1::Instrument& inst);
// A cancelled cluster route: each node's plan after the cancel, or why it was not cancelled.
std::string RenderNodeCancels(const exoroute::v1::CancelPlanResponse& r);
// Each node's outcome of a cluster route's amendment, a line each.
std::string RenderNodeAmends(const exoroute::v1::AmendPlanResponse& r, uint32_t qty_scale);
// The privacy budgets of the current window (cluster nodes with cluster.privacy).
std::string RenderBudgets(const exoroute::v1::StatusResponse& status);
// One line: "seq  plan  v  kind  details".
std::string RenderDeltaLine(const exoroute::v1::PlanDelta& d, const InstrumentLookup& lookup);
std::string DeltaKindName(const exoroute::v1::PlanDelta& d);
std::string ShortStatus(exoroute::v1::PlanStatus s);
std::string RenderContracts(const exoroute::v1::ListContractsResponse& r);
// The books a node holds now for one symbol (GetBooks): the best bid and ask an order would
// use, then per venue its ladder (bids beside asks) and why a buy or a sell would leave it out.
std::string RenderBooks(const exoroute::v1::GetBooksResponse& r);
// Proto → one-line JSON (proto field names).
std::string ToJson(const google::protobuf::Message& m);

}  // namespace exo::ctl
