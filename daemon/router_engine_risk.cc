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

absl::Status RouterEngine::CheckRisk(const ParentOrder& order, RouteMode mode, const std::string& routed_by) const {
  RiskRefusal by;
  absl::Status s = CheckOrderRisk(order, routed_by, &by);
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(plans_mu_);
    s = CheckWorkingRiskLocked(order, mode, routed_by, &by);
    if (s.ok()) s = AdmitOrderRateLocked(order, mode, routed_by, &by);
  }
  return s.ok() ? s : RiskRefused(order, by, s);
}

namespace {

// " from client desk-a" for a client's own limit (which of an order's limits refused it); "" for its instrument's.
std::string WhoseLimit(const RiskLimit& limit) {
  return limit.client().empty() ? "" : absl::StrCat(" from client ", limit.client());
}

}  // namespace

absl::Status RouterEngine::AdmitOrderRateLocked(const ParentOrder& o, RouteMode mode, const std::string& routed_by,
                                                RiskRefusal* by) const {
  if (mode != ROUTE_MODE_EXECUTE) return absl::OkStatus();
  const std::vector<AppliedRiskLimit> limits = RiskLimitsOn(config(), o.symbol(), routed_by);
  const int64_t now = MonotonicNs();
  for (const AppliedRiskLimit& r : limits) {  // Every limit first: admitted by all or by none.
    const uint32_t max = r.limit->max_orders_per_second();
    if (max == 0) continue;
    const std::optional<int64_t> wait = order_rate_.Wait(RateKey(*r.limit), max, now);
    if (!wait.has_value()) continue;
    *by = RiskRefusal{r.limit->client(), kRateLimit};
    return absl::ResourceExhaustedError(absl::StrCat(
        "order: this node admitted ", max, " executed ", o.symbol(), " orders", WhoseLimit(*r.limit),
        " in the last second, its limit (", r.name, ".max_orders_per_second); retry in ", (*wait + 999'999) / 1'000'000,
        " ms"));
  }
  for (const AppliedRiskLimit& r : limits) {
    if (r.limit->max_orders_per_second() > 0) order_rate_.Record(RateKey(*r.limit), now);
  }
  return absl::OkStatus();
}

absl::Status RouterEngine::RiskRefused(const ParentOrder& o, const RiskRefusal& by, absl::Status refused,
                                       std::string_view what) const {
  {
    std::lock_guard<std::mutex> count(risk_mu_);
    auto& by_limit = risk_refused_[{o.symbol(), by.client}];
    auto it = by_limit.find(by.field);
    if (it == by_limit.end()) it = by_limit.emplace(std::string(by.field), 0).first;
    ++it->second;
  }
  LogWarning("%s %s refused by a risk limit: %s", what, o.id(), refused.message());
  return refused;
}

absl::Status RouterEngine::CheckOrderRisk(const ParentOrder& o, const std::string& routed_by, RiskRefusal* by) const {
  const Instrument* inst = FindInstrument(o.symbol());
  if (inst == nullptr) return absl::OkStatus();
  std::optional<int64_t> mid;  // Read once, for the first limit on notional.
  bool mid_read = false;
  for (const AppliedRiskLimit& r : RiskLimitsOn(config(), o.symbol(), routed_by)) {
    if (r.limit->max_order_notional() > 0 && !mid_read) {
      mid = MarketMid(o.symbol());
      mid_read = true;
    }
    std::string_view field;
    if (absl::Status s = CheckOrderRiskLimit(r.limit, r.name, o, *inst, mid, &field); !s.ok()) {
      *by = RiskRefusal{r.limit->client(), field};
      return s;
    }
  }
  return absl::OkStatus();
}

int64_t RouterEngine::WorkingQuantity(const std::string& symbol, const std::string& client) const {
  std::lock_guard<std::mutex> lock(plans_mu_);
  int64_t working = 0;
  for (const auto& [id, rec] : plans_) {
    if (rec->symbol != symbol || (!client.empty() && rec->routed_by != client)) continue;
    working += rec->working_quantity.load();
  }
  return working;
}

absl::Status RouterEngine::RefuseWorking(const ParentOrder& order, const std::string& client, absl::Status refused) const {
  return RiskRefused(order, RiskRefusal{client, kWorkingLimit}, std::move(refused), "cluster route");
}

absl::Status RouterEngine::CheckWorkingRiskLocked(const ParentOrder& o, RouteMode mode, const std::string& routed_by,
                                                  RiskRefusal* by) const {
  const Instrument* inst = FindInstrument(o.symbol());
  if (inst == nullptr || mode != ROUTE_MODE_EXECUTE) return absl::OkStatus();
  for (const AppliedRiskLimit& r : RiskLimitsOn(config(), o.symbol(), routed_by)) {
    const RiskLimit& limit = *r.limit;
    if (limit.max_working_quantity() == 0) continue;
    __int128 working = 0;  // The instrument's executed plans (a client's limit: those it sent).
    for (const auto& [id, rec] : plans_) {
      if (id == o.id() || rec->symbol != o.symbol()) continue;
      if (!limit.client().empty() && rec->routed_by != limit.client()) continue;
      working += rec->working_quantity.load();
    }
    if (working + o.quantity() <= limit.max_working_quantity()) continue;
    *by = RiskRefusal{limit.client(), kWorkingLimit};
    auto qty = [&](__int128 v) { return FormatDecimal(static_cast<int64_t>(v), inst->qty_scale()); };
    return absl::ResourceExhaustedError(absl::StrCat(
        "order.quantity: ", qty(o.quantity()), " ", o.symbol(),
        " more would take the quantity this node's executed ", o.symbol(), " plans", WhoseLimit(limit),
        " may still fill to ", qty(working + o.quantity()), ", over its limit of ", qty(limit.max_working_quantity()),
        " (", r.name, ".max_working_quantity): ", qty(working), " is working now; retry when plans have filled or ended"));
  }
  return absl::OkStatus();
}

std::vector<exoroute::v1::RiskStatus> RouterEngine::RiskStatuses() const {
  std::vector<exoroute::v1::RiskStatus> out;
  const DaemonConfig& cfg = config();
  // Per entry: the working quantity it counts (its instrument's, or its client's in it) and its rate.
  std::vector<int64_t> working(static_cast<size_t>(cfg.risk_size()), 0);
  std::vector<uint32_t> rate(static_cast<size_t>(cfg.risk_size()), 0);
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    for (const auto& [id, rec] : plans_) {
      for (int i = 0; i < cfg.risk_size(); ++i) {
        const RiskLimit& limit = cfg.risk(i);
        if (rec->symbol != limit.symbol() || (!limit.client().empty() && rec->routed_by != limit.client())) continue;
        working[static_cast<size_t>(i)] += rec->working_quantity.load();
      }
    }
    const int64_t now = MonotonicNs();
    for (int i = 0; i < cfg.risk_size(); ++i) {
      rate[static_cast<size_t>(i)] = order_rate_.InLastSecond(RateKey(cfg.risk(i)), now);
    }
  }
  std::lock_guard<std::mutex> count(risk_mu_);
  for (int i = 0; i < cfg.risk_size(); ++i) {
    const RiskLimit& limit = cfg.risk(i);
    exoroute::v1::RiskStatus& r = out.emplace_back();
    *r.mutable_limit() = limit;
    r.set_working_quantity(working[static_cast<size_t>(i)]);
    r.set_orders_last_second(rate[static_cast<size_t>(i)]);
    if (auto it = risk_refused_.find({limit.symbol(), limit.client()}); it != risk_refused_.end()) {
      for (const auto& [field, n] : it->second) {
        r.set_refused(r.refused() + n);
        (*r.mutable_refused_by_limit())[field] = n;
      }
    }
  }
  return out;
}

}  // namespace exo::daemon
