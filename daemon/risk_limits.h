// Pre-trade risk limits (DaemonConfig.risk) on one parent order: the checks a node makes before
// it plans an order and `exoroutectl solve` makes on a what-if, in one place. The node's
// working-quantity limit needs its working plans: RouterEngine checks it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "exoroute/v1/config.pb.h"

namespace exo::daemon {

// The config's limit on `symbol`'s orders, or null; `*name` is its config path ("risk[0]").
const exoroute::v1::RiskLimit* FindRiskLimit(const exoroute::v1::DaemonConfig& config, const std::string& symbol,
                                             std::string* name);

// `limit`'s order-size and notional limits on `order` (OK when `limit` is null). `mid` is the
// market's mid now, if it has one: the notional is the quantity at the higher of it and the
// order's limit price. INVALID_ARGUMENT naming order.quantity and the limit when over;
// FAILED_PRECONDITION naming order.limit_price for a market order with no mid to value it.
// `*refused_by`, when given, is set to the refusing limit's field ("max_order_quantity" or
// "max_order_notional"; the metrics' label).
absl::Status CheckOrderRiskLimit(const exoroute::v1::RiskLimit* limit, const std::string& name,
                                 const exoroute::v1::ParentOrder& order, const exoroute::v1::Instrument& inst,
                                 std::optional<int64_t> mid, std::string_view* refused_by = nullptr);

}  // namespace exo::daemon
