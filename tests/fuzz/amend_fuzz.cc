// AmendPlanRequests of every shape through what the AmendPlan RPC does: the request's validation,
// then the engine, on a fresh executed plan resting out of the market's reach (a buy of 1 BTC
// limited at 1.00, or a sell at 1 000 000.00) on the fuzz node's sim venues. The request's plan id
// is replaced by the fresh plan's unless it is empty or the input's reason starts with "other"
// (then it names no plan). Checks: validation refuses only with INVALID_ARGUMENT; the engine
// refuses with a client's status (never INTERNAL, UNKNOWN or DATA_LOSS; NOT_FOUND for no plan); an
// amendment taken is in force (the quantity, limit or none, and urgency asked for, or kept),
// counted once when it changed something, and the plan never fills past its quantity. Each plan
// is cancelled after.
#include <atomic>
#include <optional>

#include "daemon/request_validation.h"
#include "exoroute/v1/router.pb.h"
#include "tests/fuzz/fuzz_node.h"
#include "tests/fuzz/fuzz_target.h"

using namespace exoroute::v1;

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  std::vector<std::string> out;
  auto add = [&out](int64_t qty, std::optional<int64_t> limit, const std::string& reason, bool market = false,
                    Urgency urgency = URGENCY_UNSPECIFIED) {
    AmendPlanRequest r;
    r.set_plan_id("fresh");
    r.set_quantity(qty);
    if (limit) r.set_limit_price(*limit);
    r.set_reason(reason);
    r.set_remove_limit(market);
    r.set_urgency(urgency);
    out.push_back(r.SerializeAsString());
  };
  add(200'000'000, std::nullopt, "double it");
  add(50'000'000, std::nullopt, "halve it");
  add(100'000'001, std::nullopt, "off the lot grid");
  add(0, 6'510'000, "chase the offer");     // A buy's limit within the books: it fills.
  add(0, 6'490'000, "a sell within reach");  // (An input of odd size is a sell.)
  add(300'000'000, 7'000'000, "both");
  add(0, std::nullopt, "nothing");
  add(-5, std::nullopt, "negative");
  add(100'000'000, std::nullopt, "the same terms");
  add(100'000'000, 100, "other plan");
  add(0, std::nullopt, "to market", /*market=*/true);  // Fills on the sim venues.
  add(0, std::nullopt, "hurry", false, URGENCY_HIGH);
  add(0, std::nullopt, "normal is unset", false, URGENCY_NORMAL);
  add(0, 6'510'000, "a limit and market", true);
  add(0, std::nullopt, "no such urgency", false, static_cast<Urgency>(9));
  return out;
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  exo::daemon::RouterEngine& engine = *exo::fuzz::Node().engine;
  AmendPlanRequest req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return 0;
  static std::atomic<uint64_t> n{0};
  ParentOrder order;
  order.set_id("amend-" + std::to_string(n++));
  order.set_symbol("BTC-USD");
  order.set_side(size % 2 == 0 ? SIDE_BUY : SIDE_SELL);
  order.set_quantity(100'000'000);
  order.set_limit_price(order.side() == SIDE_BUY ? 100 : 100'000'000);
  order.set_time_in_force(TIME_IN_FORCE_GTC);
  absl::StatusOr<Plan> routed = engine.Route(order, ROUTE_MODE_EXECUTE);
  FUZZ_CHECK(routed.ok(), "the resting order was refused: %s", routed.status().ToString().c_str());
  const bool other = req.reason().rfind("other", 0) == 0;
  if (!req.plan_id().empty()) req.set_plan_id(other ? "no-such-plan" : order.id());
  if (absl::Status v = exo::daemon::ValidateAmend(req); !v.ok()) {
    FUZZ_CHECK(v.code() == absl::StatusCode::kInvalidArgument, "%s", v.ToString().c_str());
    (void)engine.Cancel(order.id(), "fuzz");
    return 0;
  }
  bool changed = false;
  absl::StatusOr<Plan> plan = engine.Amend(req.plan_id(), exo::daemon::RouterEngine::Amendment::Of(req), &changed);
  if (!plan.ok()) {
    const absl::StatusCode code = plan.status().code();
    FUZZ_CHECK(code != absl::StatusCode::kInternal && code != absl::StatusCode::kUnknown &&
                   code != absl::StatusCode::kDataLoss,
               "%s", plan.status().ToString().c_str());
    FUZZ_CHECK(!other || code == absl::StatusCode::kNotFound, "another plan's id: %s",
               plan.status().ToString().c_str());
    (void)engine.Cancel(order.id(), "fuzz");
    return 0;
  }
  FUZZ_CHECK(!other, "an amendment of a plan that does not exist was taken");
  const int64_t want_qty = req.quantity() != 0 ? req.quantity() : order.quantity();
  // 0: no limit (to market).
  const int64_t want_limit = req.has_limit_price() ? req.limit_price() : req.remove_limit() ? 0 : order.limit_price();
  // The order's is unset (normal): normal asked is no change.
  const Urgency want_urgency = req.urgency() == URGENCY_NORMAL ? URGENCY_UNSPECIFIED : req.urgency();
  FUZZ_CHECK(plan->order().quantity() == want_qty, "quantity %lld in force, %lld asked",
             static_cast<long long>(plan->order().quantity()), static_cast<long long>(want_qty));
  FUZZ_CHECK(plan->order().has_limit_price() == (want_limit != 0) && plan->order().limit_price() == want_limit,
             "limit %lld in force, %lld asked", static_cast<long long>(plan->order().limit_price()),
             static_cast<long long>(want_limit));
  FUZZ_CHECK(plan->order().urgency() == want_urgency, "urgency %d in force, %d asked", plan->order().urgency(),
             req.urgency());
  FUZZ_CHECK(changed == (want_qty != order.quantity() || want_limit != order.limit_price() ||
                         want_urgency != URGENCY_UNSPECIFIED),
             "changed %d for the same terms or new ones", changed);
  FUZZ_CHECK(plan->amendments() == (changed ? 1u : 0u), "%u amendments", plan->amendments());
  (void)engine.Cancel(order.id(), "fuzz");
  // Whatever filled meanwhile (a limit within reach fills on the sim venues), never past it.
  FUZZ_CHECK(engine.AwaitExecutionsHandled(absl::Seconds(10)), "execution reports not handled");
  absl::StatusOr<Plan> after = engine.GetPlan(order.id());
  FUZZ_CHECK(after.ok() && after->filled_quantity() <= after->order().quantity(), "filled past the order: %s",
             after.ok() ? after->ShortDebugString().c_str() : after.status().ToString().c_str());
  return 0;
}
