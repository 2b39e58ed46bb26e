#include "daemon/decision_audit.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "solver/solver.h"
#include "store/delta_codec.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT

DecisionReport VerifyDecisions(const store::DeltaStore& store, uint64_t from, uint64_t to,
                               const std::function<bool()>& keep_going) {
  DecisionReport r;
  auto fail = [&r](uint64_t seq, std::string why) {
    r.ok = false;
    r.first_bad_sequence = seq;
    r.error = std::move(why);
    return false;
  };
  // Plans whose arrival limit a decision in the range fixed: the limit it recorded (the band's
  // price or the order's limit then, whichever was tighter), where, and the band's own price when
  // that decision was the plan's first, from the mid at arrival; and whether the plan's order
  // has been amended since (an amended limit may be looser than the one recorded: the band's own
  // price binds then, as the engine decides).
  struct Fixed {
    int64_t limit = 0;
    uint64_t at = 0;
    int64_t band = 0;
    bool amended = false;
  };
  std::map<std::string, Fixed> arrival_limits;
  absl::Status s = store.Scan(from, to, [&](const PlanDelta& d, std::string_view canonical) {
    if (d.has_amended()) {
      if (auto fixed = arrival_limits.find(d.plan_id()); fixed != arrival_limits.end()) fixed->second.amended = true;
      return true;
    }
    if (!d.has_allocated()) return true;
    if (keep_going && !keep_going()) {
      r.stopped = true;
      return false;
    }
    if (d.inputs_digest().empty()) return fail(d.sequence(), "allocation has no recorded inputs");
    absl::StatusOr<std::string> raw = store.GetInputs(d.inputs_digest());
    if (!raw.ok()) return fail(d.sequence(), std::string(raw.status().message()));
    SolveInput input;
    if (!input.ParseFromString(*raw)) return fail(d.sequence(), "recorded inputs do not parse");
    if (auto fixed = arrival_limits.find(d.plan_id()); fixed != arrival_limits.end()) {
      const Fixed& f = fixed->second;
      const int64_t limit = f.amended && f.band > 0 ? f.band : f.limit;
      const bool buy = input.side() == SIDE_BUY;
      const bool kept = input.arrival_band_bps() == 0 &&
                        ((input.has_limit_price() && solver::TighterLimit(limit, input.limit_price(), buy) ==
                                                         input.limit_price()) ||
                         input.arrival_limit() == limit);
      if (!kept) {
        return fail(d.sequence(), absl::StrCat("plan ", d.plan_id(), ": decided without its arrival limit ", limit,
                                               " (fixed at sequence ", f.at, "): limit price ",
                                               input.has_limit_price() ? absl::StrCat(input.limit_price()) : "none",
                                               ", arrival band ", input.arrival_band_bps(), " bp"));
      }
    } else if (d.allocated().stats().arrival_limit() != 0) {
      Fixed f{d.allocated().stats().arrival_limit(), d.sequence(), 0, false};
      if (!d.allocated().replan() && d.allocated().mid_price() > 0 && input.arrival_band_bps() > 0) {
        f.band = solver::PriceBandLimit(d.allocated().mid_price(), input.arrival_band_bps(),
                                        input.side() == SIDE_BUY, std::nullopt);
      }
      arrival_limits[d.plan_id()] = f;
    }
    absl::StatusOr<Decision> decision = solver::Solve(input);
    if (!decision.ok()) {
      return fail(d.sequence(), absl::StrCat("solver refused the recorded inputs: ",
                                             decision.status().message()));
    }
    PlanDelta again = d;
    again.clear_prev_hash();
    again.clear_hash();
    *again.mutable_allocated() =
        solver::ToPlanAllocated(*decision, input.previous(), d.allocated().replan());
    if (store::EncodeCanonical(again) != canonical) {
      return fail(d.sequence(), "re-solving the recorded inputs gives a different decision");
    }
    ++r.checked;
    return true;
  });
  if (!s.ok() && r.ok) {
    r.ok = false;
    r.error = std::string(s.message());
  }
  return r;
}

}  // namespace exo::daemon
