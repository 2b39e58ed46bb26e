// What the files of RouterEngine's implementation (daemon/router_engine*.cc) share: the guard
// a change to plans holds (draining waits until none is held) and small helpers. Not for other
// modules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "daemon/router_engine.h"
#include "exoroute/v1/config.pb.h"
#include "exoroute/v1/types.pb.h"

namespace exo::daemon {

class RouterEngine::WriterGuard {
 public:
  explicit WriterGuard(RouterEngine* e) : e_(e) { ++e_->writers_; }
  ~WriterGuard() {
    --e_->writers_;
    std::lock_guard<std::mutex> lock(e_->watch_mu_);
    e_->watch_cv_.notify_all();
  }

 private:
  RouterEngine* e_;
};

namespace internal {

// The risk limit a node checks against its working plans (RiskLimit's field; the metrics' label).
inline constexpr std::string_view kWorkingLimit = "max_working_quantity";
inline constexpr std::string_view kRateLimit = "max_orders_per_second";

absl::Status PlanNotFound(const std::string& plan_id);
// The order rate's clock: monotonic, whatever the wall clock does.
int64_t MonotonicNs();
// "WORKING" for PLAN_STATUS_WORKING, and so on.
std::string StatusName(exoroute::v1::PlanStatus s);
// Why a venue's fill cannot be applied to `plan`, or "" if it can: its quantity and price must
// be within the bounds every order and book keeps (1..2^53 units), and the plan's filled
// quantity, notional and fees after it within theirs (2^53 units, 2^62 price units) — so the
// fold's sums never overflow, live or on replay. (A real venue's fill is far inside them; one
// beyond is a garbled or hostile report.)
std::string FillOutOfBounds(const exoroute::v1::Plan& plan, int64_t quantity, int64_t price, int64_t fee);

// A child order's id (ClOrdID at a FIX venue): "<plan>.<version>"; on a cluster node
// "<plan>@<node>.<version>", so that no two nodes' children of one route share an id (an
// operator settling a child on the wrong node is told it has none, and a desk's records of the
// venues' reports never mix two nodes' children). Neither plan nor node ids may hold '@'.
std::string ChildOrderId(const std::string& plan_id, const exoroute::v1::DaemonConfig& config, uint32_t version);
// The plan a child order's id names ("" for an id of neither shape).
std::string PlanIdOfChild(const std::string& cl_ord_id);

}  // namespace internal
}  // namespace exo::daemon
