// RouterEngine's pre-trade risk checks (docs/configuration.md, "Risk limits") and their status.
#include "daemon/router_engine.h"

#include "absl/strings/str_cat.h"
#include "daemon/internal/router_engine_internal.h"
#include "daemon/risk_limits.h"
#include "exo/fixed_point.h"
#include "exo/log.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT
using internal::kWorkingLimit;
using internal::kRateLimit;
using internal::MonotonicNs;

absl::Status RouterEngine::CheckRisk(const ParentOrder& order, RouteMode mode) const {
  std::string_view refused_by;
  absl::Status s = CheckOrderRisk(order, &refused_by);
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(plans_mu_);
    s = CheckWorkingRiskLocked(order, mode);
    refused_by = kWorkingLimit;
    if (s.ok()) {
      s = AdmitOrderRateLocked(order, mode);
      refused_by = kRateLimit;
    }
  }
  return s.ok() ? s : RiskRefused(order, refused_by, s);
}

absl::Status RouterEngine::AdmitOrderRateLocked(const ParentOrder& o, RouteMode mode) const {
  std::string name;
  const RiskLimit* limit = FindRiskLimit(config(), o.symbol(), &name);
  if (limit == nullptr || mode != ROUTE_MODE_EXECUTE || limit->max_orders_per_second() == 0) return absl::OkStatus();
  const std::optional<int64_t> wait = order_rate_.Admit(o.symbol(), limit->max_orders_per_second(), MonotonicNs());
  if (!wait.has_value()) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "order: this node admitted ", limit->max_orders_per_second(), " executed ", o.symbol(),
      " orders in the last second, its limit (", name, ".max_orders_per_second); retry in ",
      (*wait + 999'999) / 1'000'000, " ms"));
}

absl::Status RouterEngine::RiskRefused(const ParentOrder& o, std::string_view limit, absl::Status refused,
                                       std::string_view what) const {
  {
    std::lock_guard<std::mutex> count(risk_mu_);
    auto& by_limit = risk_refused_[o.symbol()];
    auto it = by_limit.find(limit);
    if (it == by_limit.end()) it = by_limit.emplace(std::string(limit), 0).first;
    ++it->second;
  }
  LogWarning("%s %s refused by a risk limit: %s", what, o.id(), refused.message());
  return refused;
}

absl::Status RouterEngine::CheckOrderRisk(const ParentOrder& o, std::string_view* refused_by) const {
  std::string name;
  const RiskLimit* limit = FindRiskLimit(config(), o.symbol(), &name);
  const Instrument* inst = FindInstrument(o.symbol());
  if (limit == nullptr || inst == nullptr) return absl::OkStatus();
  const std::optional<int64_t> mid = limit->max_order_notional() > 0 ? MarketMid(o.symbol()) : std::nullopt;
  return CheckOrderRiskLimit(limit, name, o, *inst, mid, refused_by);
}

absl::Status RouterEngine::CheckWorkingRiskLocked(const ParentOrder& o, RouteMode mode) const {
  std::string name;
  const RiskLimit* limit = FindRiskLimit(config(), o.symbol(), &name);
  const Instrument* inst = FindInstrument(o.symbol());
  if (limit == nullptr || inst == nullptr || mode != ROUTE_MODE_EXECUTE ||
      limit->max_working_quantity() == 0) {
    return absl::OkStatus();
  }
  __int128 working = 0;
  for (const auto& [id, rec] : plans_) {
    if (id != o.id() && rec->symbol == o.symbol()) working += rec->working_quantity.load();
  }
  if (working + o.quantity() <= limit->max_working_quantity()) return absl::OkStatus();
  auto qty = [&](__int128 v) { return FormatDecimal(static_cast<int64_t>(v), inst->qty_scale()); };
  return absl::ResourceExhaustedError(absl::StrCat(
      "order.quantity: ", qty(o.quantity()), " ", o.symbol(),
      " more would take the quantity this node's executed ", o.symbol(),
      " plans may still fill to ", qty(working + o.quantity()), ", over its limit of ",
      qty(limit->max_working_quantity()), " (", name, ".max_working_quantity): ", qty(working),
      " is working now; retry when plans have filled or ended"));
}

std::vector<exoroute::v1::RiskStatus> RouterEngine::RiskStatuses() const {
  std::vector<exoroute::v1::RiskStatus> out;
  const DaemonConfig& cfg = config();
  std::map<std::string, int64_t> working;
  std::map<std::string, uint32_t> rate;
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    for (const auto& [id, rec] : plans_) working[rec->symbol] += rec->working_quantity.load();
    const int64_t now = MonotonicNs();
    for (const RiskLimit& limit : cfg.risk()) rate[limit.symbol()] = order_rate_.InLastSecond(limit.symbol(), now);
  }
  std::lock_guard<std::mutex> count(risk_mu_);
  for (const RiskLimit& limit : cfg.risk()) {
    exoroute::v1::RiskStatus& r = out.emplace_back();
    *r.mutable_limit() = limit;
    r.set_working_quantity(working[limit.symbol()]);
    r.set_orders_last_second(rate[limit.symbol()]);
    if (auto it = risk_refused_.find(limit.symbol()); it != risk_refused_.end()) {
      for (const auto& [field, n] : it->second) {
        r.set_refused(r.refused() + n);
        (*r.mutable_refused_by_limit())[field] = n;
      }
    }
  }
  return out;
}

}  // namespace exo::daemon
