// Execution reports as a venue session might deliver them — fills and completions of any size,
// for the plan's children or for orders nobody sent, repeated, late — into a real engine, on a
// plan whose children are open (the sim venue answers after a day: never within a run). An
// input is reports of 27 bytes: kind, child, exec id, then quantity, price and fee as
// little-endian int64; kind's bits 0x30 make a fill one of an order its adapter no longer held
// (ExecutionEvent::cum_quantity the quantity, or 1.5 times it; 0x40: of another symbol); kind 3
// (low two bits) is an operator's settlement of the child instead
// (AdminService.SettleChild: quantity the child's whole filled quantity, price and fee those of
// its unrecorded part), once the reports before it are handled. Checks: every report is
// handled; a settlement taken leaves the child ended with the filled quantity it gave; the
// plan's sums stay within the bounds every order keeps; and the plan in memory is the fold of
// what the store holds for it (what a restart or replay builds).
#include <cstring>
#include <limits>

#include "daemon/plan_fold.h"
#include "exo/fixed_point.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_node.h"
#include "tests/fuzz/fuzz_target.h"

using namespace exoroute::v1;

namespace {

constexpr size_t kReport = 27;

std::string Report(uint8_t kind, uint8_t child, uint8_t exec, int64_t qty, int64_t price, int64_t fee) {
  std::string r(kReport, '\0');
  r[0] = static_cast<char>(kind), r[1] = static_cast<char>(child), r[2] = static_cast<char>(exec);
  std::memcpy(&r[3], &qty, 8);
  std::memcpy(&r[11], &price, 8);
  std::memcpy(&r[19], &fee, 8);
  return r;
}

}  // namespace

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  constexpr int64_t kLot = 100'000;  // SIM-A's BTC lot.
  return {
      Report(0, 0, 1, 10 * kLot, 6'500'000, 130) + Report(0, 0, 2, 5 * kLot, 6'500'100, 65),
      Report(0, 0, 1, 10 * kLot, 6'500'000, 130) + Report(0, 0, 1, 10 * kLot, 6'500'000, 130),  // A resend.
      Report(0, 0, 1, 1'000 * kLot, 6'500'000, 0) + Report(1, 0, 0, 0, 0, 0),  // Overfill, then done.
      Report(1, 0, 0, 5 * kLot, 0, 0) + Report(0, 0, 3, kLot, 6'500'000, 13),  // A fill after done.
      Report(0, 255, 1, kLot, 6'500'000, 13),  // For an order nobody sent.
      Report(0, 0, 1, int64_t{1} << 62, 6'500'000, 0),
      // Settled with more than recorded, then reports that agree and that do not.
      Report(0, 0, 1, 2 * kLot, 6'500'000, 26) + Report(3, 0, 0, 5 * kLot, 6'500'050, 39) +
          Report(1, 0, 0, 5 * kLot, 0, 0) + Report(0, 0, 2, kLot, 6'500'000, 13),
      Report(3, 0, 0, 0, 0, 0) + Report(3, 0, 0, 0, 0, 0),  // Settled unfilled, then again.
      // Done, then fills of the order its adapter no longer held: counted by the venue's CumQty.
      Report(0, 0, 1, 2 * kLot, 6'500'000, 26) + Report(1, 0, 0, 8 * kLot, 0, 0) +
          Report(0x10, 0, 2, 2 * kLot, 6'500'000, 26) + Report(0x20, 0, 3, 4 * kLot, 6'500'000, 52) +
          Report(0x60, 0, 4, 4 * kLot, 6'500'000, 52),
  };
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // (Ten minutes was too short: a longer run saw the first children matched, SIM-A's book taken,
  // and a route with no child to report on.)
  const exo::fuzz::FuzzNode& node = exo::fuzz::Node(/*sim_latency_ms=*/86'400'000);
  static int routes = 0;
  ParentOrder order;
  order.set_id("x" + std::to_string(routes++));
  order.set_symbol("BTC-USD");
  order.set_side(SIDE_BUY);
  order.set_quantity(100'000'000);
  order.set_time_in_force(TIME_IN_FORCE_GTC);
  order.add_allowed_venues(node.sim_a->venue_id());
  absl::StatusOr<Plan> plan = node.engine->Route(order, ROUTE_MODE_EXECUTE);
  FUZZ_CHECK(plan.ok() && plan->children_size() > 0, "route: %s", plan.status().ToString().c_str());
  for (size_t at = 0; at + kReport <= size; at += kReport) {
    const uint8_t* r = data + at;
    exo::adapters::ExecutionEvent e;
    e.type = r[0] % 4 == 0   ? exo::adapters::ExecutionEvent::Type::kFill
             : r[0] % 4 == 1 ? exo::adapters::ExecutionEvent::Type::kDone
                             : exo::adapters::ExecutionEvent::Type::kUnknown;
    e.venue = node.sim_a->venue_id();
    e.cl_ord_id = r[1] == 255 ? order.id() + ".99" : plan->children(r[1] % plan->children_size()).order().cl_ord_id();
    e.exec_id = "e" + std::to_string(r[2]);
    std::memcpy(&e.quantity, r + 3, 8);
    std::memcpy(&e.price, r + 11, 8);
    std::memcpy(&e.fee, r + 19, 8);
    if (r[0] % 4 == 3) {
      FUZZ_CHECK(node.engine->AwaitExecutionsHandled(absl::Seconds(30)), "reports not handled in 30 s");
      exo::daemon::RouterEngine::Settlement st;
      st.cl_ord_id = e.cl_ord_id;
      st.filled_quantity = e.quantity;
      st.price = e.price;
      st.fee = e.fee;
      st.reason = "fuzz";
      absl::StatusOr<Plan> settled = node.engine->SettleChild(order.id(), st);
      if (!settled.ok()) continue;
      bool ended = false;
      for (const ChildState& c : settled->children()) {
        if (c.order().cl_ord_id() == st.cl_ord_id) ended = c.done() && c.filled_quantity() == st.filled_quantity;
      }
      FUZZ_CHECK(ended, "settled %s, not ended with %lld filled: %s", st.cl_ord_id.c_str(),
                 static_cast<long long>(st.filled_quantity), settled->ShortDebugString().c_str());
      continue;
    }
    if (r[0] & 0x30) {
      // A fill of an order the adapter no longer held: the venue's count with it, the symbol it named.
      const bool half_more =
          (r[0] & 0x10) == 0 && e.quantity >= 0 && e.quantity <= std::numeric_limits<int64_t>::max() / 2;
      e.cum_quantity = half_more ? e.quantity + e.quantity / 2 : e.quantity;
      e.symbol = r[0] & 0x40 ? "ETH-USD" : "BTC-USD";
    }
    e.canceled_quantity = e.quantity;
    e.reason = "fuzz";
    node.sim_a->Report(std::move(e));
  }
  FUZZ_CHECK(node.engine->AwaitExecutionsHandled(absl::Seconds(30)), "reports not handled in 30 s");
  absl::StatusOr<Plan> now = node.engine->GetPlan(order.id());
  FUZZ_CHECK(now.ok(), "%s", now.status().ToString().c_str());
  FUZZ_CHECK(now->filled_quantity() >= 0 && now->filled_quantity() <= exo::kMaxUnits, "filled %lld",
             static_cast<long long>(now->filled_quantity()));
  constexpr int64_t kMaxNotional = int64_t{1} << 62;
  FUZZ_CHECK(now->filled_notional() >= 0 && now->filled_notional() <= kMaxNotional, "notional %lld",
             static_cast<long long>(now->filled_notional()));
  FUZZ_CHECK(now->fees() >= -kMaxNotional && now->fees() <= kMaxNotional, "fees %lld", static_cast<long long>(now->fees()));
  Plan folded;
  FUZZ_CHECK(node.store->ScanPlan(order.id(), 1, [&](const PlanDelta& d, std::string_view) {
                          exo::daemon::ApplyDelta(d, &folded);
                          return true;
                        }).ok(),
             "scan");
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(folded, *now), "memory and store differ:\n%s\n%s",
             now->ShortDebugString().c_str(), folded.ShortDebugString().c_str());
  (void)node.engine->Cancel(order.id(), "fuzz");
  return 0;
}
