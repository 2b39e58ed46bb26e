// Solver inputs of every shape (a serialized SolveInput: what a books file, a replayed delta or
// a cluster share gives the solver). Checks: Solve answers (an error or a decision), the same
// with and without its curve cache to the byte, and a decision adds up: allocations > 0 summing
// to the allocated quantity, which with the shortfall is the order's (a cluster share, with a
// fixed λ, is sized by the coordinator instead); with a price band (the solver's own or a band
// limit given; an arrival band to fix only under the market's mid), the decision is the one its
// band limit gives as the order's limit, byte for byte but for the band limit itself (and an
// arrival limit, reported as taken with the order's).
#include <algorithm>
#include <random>

#include "exo/fixed_point.h"
#include "solver/solver.h"
#include "solver/venue_curve.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/solver/random_books.h"

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  std::mt19937_64 rng(5);
  std::vector<std::string> out;
  for (int i = 0; i < 40; ++i) {
    exo::testing::RandomBookShape shape;
    shape.min_venues = 1;
    shape.max_venues = 6;
    shape.min_levels = 1;
    shape.max_levels = 6;
    int64_t lot;
    exoroute::v1::SolveInput in = exo::testing::RandomInput(rng, &lot, shape);
    if (i % 3 == 0) in.set_method(exoroute::v1::SOLVER_METHOD_ADMM);
    if (i % 2 == 0) in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);
    if (i % 4 == 1) in.set_dual_finish(exoroute::v1::DUAL_FINISH_STEP_AND_BISECT);
    if (i % 5 == 2) in.set_price_band_bps(static_cast<uint32_t>(1 + rng() % 50));
    // A band limit given (a cluster node's), near the book's prices.
    if (i % 5 == 3 && in.venues_size() > 0 && in.venues(0).book().asks_size() > 0) {
      in.set_band_limit(in.venues(0).book().asks(0).price() + static_cast<int64_t>(rng() % 100));
    }
    if (i % 2 == 1) in.set_mid_rule(exoroute::v1::MID_RULE_MARKET);
    if (i % 3 == 1) in.set_reason_text(exoroute::v1::REASON_TEXT_READABLE);
    // An arrival band to fix (with an urgency band on some), under either mid rule.
    if (i % 7 == 4 && in.band_limit() == 0) {
      in.set_arrival_band_bps(static_cast<uint32_t>(1 + rng() % 50));
      if (i % 3 != 0) in.set_price_band_bps(static_cast<uint32_t>(1 + rng() % 20));
    }
    out.push_back(in.SerializeAsString());
  }
  return out;
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static exo::solver::CurveCache cache;
  exoroute::v1::SolveInput in;
  if (!in.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (in.venues_size() > 64) return 0;  // Beyond the benchmarks' largest: slow, not different.
  auto fresh = exo::solver::Solve(in, nullptr);
  auto cached = exo::solver::Solve(in, &cache);
  FUZZ_CHECK(fresh.ok() == cached.ok(), "with the cache: %s, without: %s", cached.status().ToString().c_str(),
             fresh.status().ToString().c_str());
  if (!fresh.ok()) {
    FUZZ_CHECK(fresh.status().message() == cached.status().message(), "errors differ with the cache");
    return 0;
  }
  FUZZ_CHECK(fresh->SerializeAsString() == cached->SerializeAsString(), "decisions differ with the cache");
  int64_t sum = 0;
  for (const auto& a : fresh->allocations()) {
    FUZZ_CHECK(a.quantity() > 0, "allocation of %lld to %s", static_cast<long long>(a.quantity()), a.venue().c_str());
    sum += a.quantity();
  }
  FUZZ_CHECK(sum == fresh->allocated_quantity(), "allocations sum to %lld, allocated %lld", static_cast<long long>(sum),
             static_cast<long long>(fresh->allocated_quantity()));
  // (A band limit beyond 2^53, from a wide band on a price near it, is no order's limit. With an
  // arrival band to fix under the older mid rule the property does not hold: that mid is over
  // the venues usable under the order's limit, so an order limit moves it where the band's
  // limit, taken after it, does not. The market's mid no limit moves.)
  if (const int64_t band_limit = fresh->stats().price_band_limit();
      band_limit != 0 && band_limit <= exo::kMaxUnits &&
      (in.arrival_band_bps() == 0 || in.mid_rule() == exoroute::v1::MID_RULE_MARKET)) {
    exoroute::v1::SolveInput limited = in;
    limited.set_price_band_bps(0);
    limited.set_band_limit(0);  // (A band limit given with the input is the same check.)
    limited.set_limit_price(band_limit);
    auto same = exo::solver::Solve(limited, nullptr);
    exoroute::v1::Decision banded = *fresh;
    banded.mutable_stats()->clear_price_band_limit();
    // An arrival limit (given, or fixed by the band) is reported as taken with the order's limit
    // (the tighter of the two): with the band's limit as the order's, the band's when tighter.
    if (const int64_t arrival = banded.stats().arrival_limit(); arrival != 0) {
      const bool buy = in.side() == exoroute::v1::SIDE_BUY;
      banded.mutable_stats()->set_arrival_limit(buy ? std::min(arrival, band_limit) : std::max(arrival, band_limit));
    }
    FUZZ_CHECK(same.ok() && same->SerializeAsString() == banded.SerializeAsString(),
               "the band's limit %lld as the order's limit decides otherwise", static_cast<long long>(band_limit));
  }
  if (in.has_fixed_dual()) return 0;
  FUZZ_CHECK(fresh->allocated_quantity() + fresh->shortfall() == in.quantity(), "allocated %lld + shortfall %lld != %lld",
             static_cast<long long>(fresh->allocated_quantity()), static_cast<long long>(fresh->shortfall()),
             static_cast<long long>(in.quantity()));
  FUZZ_CHECK(fresh->shortfall() >= 0, "allocated more than the order");
  return 0;
}
