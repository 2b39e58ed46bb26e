// Pre-trade risk limits (DaemonConfig.risk) on one parent order: the checks a node makes before
// it plans an order and `exoroutectl solve` makes on a what-if, in one place. The node's
// working-quantity limit needs its working plans: RouterEngine checks it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "exoroute/v1/config.pb.h"

namespace exo::daemon {

// A risk limit that applies to an order, and its config path ("risk[0]").
struct AppliedRiskLimit {
  const exoroute::v1::RiskLimit* limit;
  std::string name;
};

// The config's limits on `symbol`'s orders sent by `client` (a certificate name; "" = not
// known): the instrument's entry (client "") and the client's own, in config order.
std::vector<AppliedRiskLimit> RiskLimitsOn(const exoroute::v1::DaemonConfig& config, const std::string& symbol,
                                           const std::string& client);

// What a limit's order-rate window is kept under: its instrument, and its client's name if any.
std::string RateKey(const exoroute::v1::RiskLimit& limit);

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
