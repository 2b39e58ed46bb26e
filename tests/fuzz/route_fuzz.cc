// RouteRequests of every shape through what the Route RPC does: the request's validation, then
// the engine (PLAN_ONLY and EXECUTE on sim venues). Checks: validation refuses only with
// INVALID_ARGUMENT; the engine refuses with a client's status (never INTERNAL, UNKNOWN or
// DATA_LOSS); a plan is for the order's quantity. Each plan is cancelled after.
#include "daemon/request_validation.h"
#include "exoroute/v1/router.pb.h"
#include "tests/fuzz/fuzz_node.h"
#include "tests/fuzz/fuzz_target.h"

using namespace exoroute::v1;

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  std::vector<std::string> out;
  int n = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    for (int64_t qty : {100'000'000LL, 100'000LL, 1'234'567'890LL}) {
      for (RouteMode mode : {ROUTE_MODE_PLAN_ONLY, ROUTE_MODE_EXECUTE}) {
        for (bool limit : {false, true}) {
          RouteRequest r;
          r.set_mode(mode);
          ParentOrder* o = r.mutable_order();
          o->set_id("seed-" + std::to_string(n));
          o->set_symbol(n % 3 == 0 ? "ETH-USD" : "BTC-USD");
          o->set_side(side);
          o->set_quantity(qty);
          if (limit) o->set_limit_price(side == SIDE_BUY ? 6'505'000 : 6'495'000);
          if (n % 4 == 1) o->add_allowed_venues("SIM-A");
          if (n % 5 == 2) o->add_denied_venues("SIM-B");
          if (n % 6 == 3) o->set_max_venues(1);
          o->set_time_in_force(n % 7 == 4 ? TIME_IN_FORCE_IOC : n % 7 == 5 ? TIME_IN_FORCE_GTT : TIME_IN_FORCE_GTC);
          if (o->time_in_force() == TIME_IN_FORCE_GTT) o->set_expire_after_ms(1000);
          // Urgency: LOW takes the node's price band, HIGH none.
          if (n % 8 == 6) o->set_urgency(URGENCY_LOW);
          if (n % 8 == 7) o->set_urgency(URGENCY_HIGH);
          out.push_back(r.SerializeAsString());
          ++n;
        }
      }
    }
  }
  return out;
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  exo::daemon::RouterEngine& engine = *exo::fuzz::Node().engine;
  RouteRequest req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (absl::Status v = exo::daemon::ValidateRoute(req); !v.ok()) {
    FUZZ_CHECK(v.code() == absl::StatusCode::kInvalidArgument, "%s", v.ToString().c_str());
    return 0;
  }
  absl::StatusOr<Plan> plan = engine.Route(req.order(), req.mode());
  if (!plan.ok()) {
    const absl::StatusCode code = plan.status().code();
    FUZZ_CHECK(code != absl::StatusCode::kInternal && code != absl::StatusCode::kUnknown &&
                   code != absl::StatusCode::kDataLoss,
               "%s", plan.status().ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(plan->order().quantity() == req.order().quantity(), "plan for %lld of an order of %lld",
             static_cast<long long>(plan->order().quantity()), static_cast<long long>(req.order().quantity()));
  (void)engine.Cancel(plan->plan_id(), "fuzz");
  return 0;
}
