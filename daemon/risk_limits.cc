#include "daemon/risk_limits.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "exo/fixed_point.h"

namespace exo::daemon {

using exoroute::v1::DaemonConfig;
using exoroute::v1::Instrument;
using exoroute::v1::ParentOrder;
using exoroute::v1::RiskLimit;

std::vector<AppliedRiskLimit> RiskLimitsOn(const DaemonConfig& config, const std::string& symbol,
                                           const std::string& client) {
  std::vector<AppliedRiskLimit> out;
  const auto& limits = config.risk();
  for (int i = 0; i < limits.size(); ++i) {
    if (limits[i].symbol() != symbol) continue;
    if (!limits[i].client().empty() && (client.empty() || limits[i].client() != client)) continue;
    out.push_back(AppliedRiskLimit{&limits[i], absl::StrCat("risk[", i, "]")});
  }
  return out;
}

std::string RateKey(const RiskLimit& limit) {
  return limit.client().empty() ? limit.symbol() : absl::StrCat(limit.symbol(), "\n", limit.client());
}

absl::Status CheckOrderRiskLimit(const RiskLimit* limit, const std::string& name, const ParentOrder& o,
                                 const Instrument& inst, std::optional<int64_t> mid, std::string_view* refused_by) {
  if (limit == nullptr) return absl::OkStatus();
  auto by = [refused_by](std::string_view field) {
    if (refused_by != nullptr) *refused_by = field;
  };
  auto qty = [&](int64_t v) { return FormatDecimal(v, inst.qty_scale()); };
  auto px = [&](int64_t v) { return FormatDecimal(v, inst.price_scale()); };
  if (limit->max_order_quantity() > 0 && o.quantity() > limit->max_order_quantity()) {
    by("max_order_quantity");
    return absl::InvalidArgumentError(absl::StrCat(
        "order.quantity: ", qty(o.quantity()), " ", o.symbol(), " is over this node's limit of ",
        qty(limit->max_order_quantity()), " per order (", name, ".max_order_quantity)"));
  }
  if (limit->max_order_notional() == 0) return absl::OkStatus();
  if (!mid.has_value() && !o.has_limit_price()) {
    by("max_order_notional");
    return absl::FailedPreconditionError(
        absl::StrCat("order.limit_price: a market order of ", o.symbol(),
                     " needs a two-sided market on this node to value it for ", name,
                     ".max_order_notional, and there is none now: give a limit price"));
  }
  // The higher of the mid now and the limit: what the order may cost (a buy) or bring (a sell).
  const int64_t price = std::max(mid.value_or(0), o.has_limit_price() ? o.limit_price() : 0);
  const __int128 unit = Pow10(inst.qty_scale());
  const __int128 notional = (static_cast<__int128>(o.quantity()) * price + unit - 1) / unit;
  if (notional <= limit->max_order_notional()) return absl::OkStatus();
  by("max_order_notional");
  return absl::InvalidArgumentError(absl::StrCat(
      "order.quantity: ", qty(o.quantity()), " ", o.symbol(), " at ", px(price),
      mid.has_value() && price == *mid ? " (the mid now)" : " (its limit)", " is a notional of ",
      px(static_cast<int64_t>(std::min<__int128>(notional, std::numeric_limits<int64_t>::max()))),
      ", over this node's limit of ", px(limit->max_order_notional()), " per order (", name,
      ".max_order_notional)"));
}

}  // namespace exo::daemon
