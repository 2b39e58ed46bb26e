#include "solver/solver.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <limits>
#include <map>
#include <random>

#include "absl/strings/str_format.h"
#include "exo/fixed_point.h"
#include "solver/exact_dual.h"
#include "solver/internal/lot_fill.h"
#include "solver/local_problem.h"
#include "test_books.h"
#include "random_books.h"
#include "tests/solver/exact_and_admm.h"
#include "lot_reference.h"
#include "same_children.h"

using exo::testing::kNow;
using exo::testing::MakeInput;
using exo::testing::MakeVenue;
using namespace exoroute::v1;  // NOLINT

namespace {

double CostOf(const SolveInput& in, const Decision& d, int64_t /*lot*/) {
  bool aligned = false;
  double cost = exo::testing::ReferenceCost(in, d, &aligned);
  REQUIRE(aligned);
  return cost;
}

// Each excluded venue's reason, by venue id.
std::map<std::string, std::string> WhyExcluded(const Decision& d) {
  std::map<std::string, std::string> why;
  for (const auto& e : d.exclusions()) why[e.venue()] = e.reason();
  return why;
}

// What `in` decides without its bands and with `limit` as the order's limit price: what a band
// that fixed `limit` must decide too, but for the stat that reports the band.
Decision UnderLimit(SolveInput in, int64_t limit) {
  in.clear_price_band_bps();
  in.clear_arrival_band_bps();
  in.set_limit_price(limit);
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  CHECK(d->stats().price_band_limit() == 0);
  CHECK(d->stats().arrival_limit() == 0);
  return *d;
}

}  // namespace

TEST_CASE("exact solver matches an independent greedy optimum on random books", "[solver]") {
  for (const DualSearch step : {DUAL_SEARCH_CENTROID, DUAL_SEARCH_QUANTILE}) {
    std::mt19937_64 rng(20261124);
    for (int n = 0; n < 1000; ++n) {
      int64_t lot = 1;
      SolveInput in = exo::testing::RandomInput(rng, &lot);
      in.set_dual_search(step);
      auto d = exo::solver::Solve(in);
      REQUIRE(d.ok());
      int64_t placed = 0;
      double best = exo::testing::ReferenceOptimum(in, lot, &placed);
      INFO("instance " << n << " side " << in.side() << " qty " << in.quantity() << " lot " << lot << " step " << step);
      CHECK(d->allocated_quantity() == placed);
      CHECK(d->shortfall() == in.quantity() - placed);
      double got = CostOf(in, *d, lot);
      CHECK(got == Approx(best).epsilon(1e-12));
    }
  }
}

namespace {

// Books where the quantile step's density, or ADMM's certificate, is furthest from the truth:
// every venue at one price, one level, a price range with one far outlier, the first or the last
// lot of the whole book, a rebate below zero, steep impact; both sides.
std::vector<SolveInput> DegenerateCases() {
  std::vector<SolveInput> cases;
  for (const Side side : {SIDE_BUY, SIDE_SELL}) {
    auto book = [&](const std::string& id, std::initializer_list<std::pair<int64_t, int64_t>> levels, double fee = 0) {
      return side == SIDE_BUY ? MakeVenue(id, levels, {}, fee) : MakeVenue(id, {}, levels, fee);
    };
    for (int64_t q : {1, 2, 15, 29, 30, 31, 60}) {
      SolveInput same = MakeInput(side, q);  // Three venues, one price: everything tied.
      for (const char* id : {"A", "B", "C"}) *same.add_venues() = book(id, {{100, 10}});
      cases.push_back(same);
      SolveInput outlier = MakeInput(side, q);  // One level a million times dearer.
      *outlier.add_venues() = book("A", {{100, 5}, {101, 5}, {100'000'000, 5}});
      *outlier.add_venues() = book("B", {{100, 4}, {102, 6}}, -2.5);
      cases.push_back(outlier);
      SolveInput steep = outlier;
      for (auto& v : *steep.mutable_venues()) v.set_impact_bps(500);
      cases.push_back(steep);
    }
    SolveInput one = MakeInput(side, 3);
    *one.add_venues() = book("A", {{100, 10}});
    cases.push_back(one);
  }
  return cases;
}

}  // namespace

TEST_CASE("the quantile step on degenerate books decides as the centroid step does", "[solver]") {
  const std::vector<SolveInput> cases = DegenerateCases();
  int searched = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    SolveInput in = cases[k];
    auto centroid = exo::solver::Solve(in);
    in.set_dual_search(DUAL_SEARCH_QUANTILE);
    auto quantile = exo::solver::Solve(in);
    REQUIRE(centroid.ok());
    REQUIRE(quantile.ok());
    INFO("case " << k << " side " << in.side() << " qty " << in.quantity());
    exo::testing::CheckSameChildren(*quantile, *centroid);
    CHECK(quantile->stats().rounds() <= 20);
    searched += quantile->stats().rounds() > 0 ? 1 : 0;
  }
  CHECK(searched > 12);  // (The others take everything there is: no search.)
}

TEST_CASE("balanced ADMM on degenerate books places what the exact method places at its cost", "[solver][admm]") {
  const std::vector<SolveInput> cases = DegenerateCases();
  for (size_t k = 0; k < cases.size(); ++k) {
    const auto [exact, admm] = exo::testing::SolveExactAndAdmm(cases[k], ADMM_VARIANT_BALANCED);
    INFO("case " << k << " side " << cases[k].side() << " qty " << cases[k].quantity());
    CHECK(admm.allocated_quantity() == exact.allocated_quantity());
    CHECK(admm.shortfall() == exact.shortfall());
    CHECK(static_cast<double>(admm.expected_cost()) == Approx(static_cast<double>(exact.expected_cost())).epsilon(1e-6));
    CHECK(admm.stats().rounds() <= 100);
  }
}

TEST_CASE("quantity tied at the optimal price is split by capacity, remainder by venue id",
          "[solver]") {
  SolveInput in = MakeInput(SIDE_BUY, 7);
  *in.add_venues() = MakeVenue("A", {{100, 10}});
  *in.add_venues() = MakeVenue("B", {{100, 10}});
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  REQUIRE(d->allocations_size() == 2);
  CHECK(d->allocations(0).venue() == "A");
  CHECK(d->allocations(0).quantity() == 4);  // 3 each by fraction, the odd one to A.
  CHECK(d->allocations(1).quantity() == 3);
  CHECK(d->stats().marginal_price() == 100);

  // Fraction follows tied capacity: 30 vs 10 splits 8 as 6/2.
  SolveInput uneven = MakeInput(SIDE_BUY, 8);
  *uneven.add_venues() = MakeVenue("A", {{100, 30}});
  *uneven.add_venues() = MakeVenue("B", {{100, 10}});
  auto u = exo::solver::Solve(uneven);
  REQUIRE(u.ok());
  CHECK(u->allocations(0).quantity() == 6);
  CHECK(u->allocations(1).quantity() == 2);
}

TEST_CASE("fees move flow to the cheaper venue after fees", "[solver]") {
  SolveInput in = MakeInput(SIDE_BUY, 10);
  *in.add_venues() = MakeVenue("A", {{10000, 10}}, {}, /*fee_bps=*/10);  // 10010 after fee
  *in.add_venues() = MakeVenue("B", {{10005, 10}}, {}, /*fee_bps=*/0);   // 10005
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  REQUIRE(d->allocations_size() == 1);
  CHECK(d->allocations(0).venue() == "B");
  CHECK(d->expected_cost() == 100050);
}

TEST_CASE("a sell takes the best bids and reports proceeds as negative cost", "[solver]") {
  SolveInput in = MakeInput(SIDE_SELL, 6);
  *in.add_venues() = MakeVenue("A", {{105, 5}}, {{100, 3}, {98, 10}});
  *in.add_venues() = MakeVenue("B", {{106, 5}}, {{99, 4}, {97, 10}});
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  REQUIRE(d->allocations_size() == 2);
  CHECK(d->allocations(0).quantity() == 3);  // 3 @100 at A
  CHECK(d->allocations(1).quantity() == 3);  // 3 @99 at B (before A's 98)
  CHECK(d->allocations(0).limit_price() == 100);
  CHECK(d->expected_cost() == -(300 + 297));
  CHECK(d->stats().marginal_price() == 99);
}

TEST_CASE("not enough liquidity gives the best partial plan and the shortfall", "[solver]") {
  SolveInput in = MakeInput(SIDE_BUY, 50);
  in.set_limit_price(101);
  *in.add_venues() = MakeVenue("A", {{100, 10}, {101, 10}, {102, 10}});
  *in.add_venues() = MakeVenue("B", {{103, 10}});
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  CHECK(d->allocated_quantity() == 20);
  CHECK(d->shortfall() == 30);
  REQUIRE(d->exclusions_size() == 1);
  CHECK(d->exclusions(0).venue() == "B");
  CHECK(d->exclusions(0).reason() == "no liquidity within limit 101 (best ask 103)");
}

TEST_CASE("excluded venues are reported and the rest still trade", "[solver]") {
  SolveInput in = MakeInput(SIDE_BUY, 5);
  *in.add_venues() = MakeVenue("A", {{100, 10}}, {{101, 1}});  // crossed
  auto stale = MakeVenue("B", {{99, 10}});
  stale.mutable_book()->set_receive_time_ns(kNow - 10'000'000'000);
  *in.add_venues() = stale;
  *in.add_venues() = MakeVenue("C", {{102, 10}});
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  REQUIRE(d->allocations_size() == 1);
  CHECK(d->allocations(0).venue() == "C");
  REQUIRE(d->exclusions_size() == 2);
  CHECK(d->exclusions(0).reason().rfind("crossed book", 0) == 0);
  CHECK(d->exclusions(1).reason().rfind("book stale", 0) == 0);
}

TEST_CASE("allocations respect each venue's lot size", "[solver]") {
  SolveInput in = MakeInput(SIDE_BUY, 1000);
  *in.add_venues() = MakeVenue("A", {{100, 333}}, {}, 0, /*lot=*/100);
  *in.add_venues() = MakeVenue("B", {{101, 2000}}, {}, 0, /*lot=*/10);
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  CHECK(d->allocations(0).quantity() == 300);
  CHECK(d->allocations(1).quantity() == 700);
  CHECK(d->shortfall() == 0);
}

TEST_CASE("mixed lot sizes: what a coarse lot cannot take goes to the next cheapest fine lot",
          "[solver]") {
  // 25 wanted. A (lot 10) is cheapest with 30; B (lot 1) costs more. The optimum in whole lots
  // takes 20 from A and the last 5 from B instead of leaving a shortfall.
  SolveInput in = MakeInput(SIDE_BUY, 25);
  *in.add_venues() = MakeVenue("A", {{100, 30}}, {}, 0, /*lot=*/10);
  *in.add_venues() = MakeVenue("B", {{101, 3}, {102, 10}}, {}, 0, /*lot=*/1);
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  CHECK(d->shortfall() == 0);
  REQUIRE(d->allocations_size() == 2);
  CHECK(d->allocations(0).quantity() == 20);
  CHECK(d->allocations(1).quantity() == 5);
  CHECK(d->expected_cost() == 2000 + 3 * 101 + 2 * 102);
}

TEST_CASE("a share below a venue's minimum child size drops the venue, the rest re-solves",
          "[solver][constraints]") {
  SolveInput in = MakeInput(SIDE_BUY, 12);
  *in.add_venues() = MakeVenue("A", {{100, 10}, {105, 10}});
  auto b = MakeVenue("B", {{101, 2}, {110, 10}});
  b.set_min_quantity(5);  // B's optimal share is 2: too small to send.
  *in.add_venues() = b;
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  REQUIRE(d->allocations_size() == 1);
  CHECK(d->allocations(0).venue() == "A");
  CHECK(d->allocations(0).quantity() == 12);
  REQUIRE(d->exclusions_size() == 1);
  CHECK(d->exclusions(0).reason() == "share 2 below the venue's minimum child size 5");
}

TEST_CASE("the order's venue limit keeps the venues with the largest shares", "[solver][constraints]") {
  SolveInput in = MakeInput(SIDE_BUY, 30);
  in.set_max_venues(2);
  *in.add_venues() = MakeVenue("A", {{100, 10}, {103, 50}});
  *in.add_venues() = MakeVenue("B", {{100, 12}, {103, 50}});
  *in.add_venues() = MakeVenue("C", {{100, 3}, {103, 50}});
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  REQUIRE(d->allocations_size() == 2);
  CHECK(d->allocations(0).venue() == "A");
  CHECK(d->allocations(1).venue() == "B");
  CHECK(d->allocated_quantity() == 30);
  REQUIRE(d->exclusions_size() == 1);
  CHECK(d->exclusions(0).venue() == "C");
  CHECK(d->exclusions(0).reason() == "the order allows at most 2 venues; this one had the smallest share");
}

TEST_CASE("a price band takes only the levels within it of the best usable price, as that limit would",
          "[solver][band]") {
  SolveInput in = MakeInput(SIDE_BUY, 30);
  *in.add_venues() = MakeVenue("A", {{10000, 5}, {10008, 5}, {10012, 5}});
  *in.add_venues() = MakeVenue("B", {{10005, 5}, {10010, 5}});
  VenueInput crossed = MakeVenue("C", {{9990, 5}}, {{9995, 5}});  // Bid above ask: unusable.
  *in.add_venues() = crossed;
  VenueInput stale = MakeVenue("D", {{9980, 5}});  // Its book is 10 s old.
  stale.set_max_book_age_ms(1000);
  stale.mutable_book()->set_receive_time_ns(kNow - 10'000'000'000);
  *in.add_venues() = stale;
  *in.add_venues() = MakeVenue("E", {{10020, 5}});  // Entirely beyond the band.
  in.set_price_band_bps(10);  // 10 bp of the best usable ask (A's 10000): up to 10010.
  auto banded = exo::solver::Solve(in);
  REQUIRE(banded.ok());
  CHECK(banded->stats().price_band_limit() == 10010);
  CHECK(banded->allocated_quantity() == 20);  // A's 10000 and 10008, B's 10005 and 10010.
  CHECK(banded->shortfall() == 10);
  std::map<std::string, std::string> why = WhyExcluded(*banded);
  CHECK(why["C"].rfind("crossed book", 0) == 0);
  CHECK(why["D"].rfind("book stale", 0) == 0);
  CHECK(why["E"] == "no liquidity within limit 10010 (best ask 10020)");
  // The same decision as the band's limit given as the order's.
  Decision without_band_limit = *banded;
  without_band_limit.mutable_stats()->clear_price_band_limit();
  CHECK(without_band_limit.SerializeAsString() == UnderLimit(in, 10010).SerializeAsString());

  // An order limit tighter than the band is the band's limit; a wider one is not.
  in.set_limit_price(10006);
  CHECK(exo::solver::Solve(in)->stats().price_band_limit() == 10006);
  in.set_limit_price(10015);
  CHECK(exo::solver::Solve(in)->stats().price_band_limit() == 10010);

  // Rounded inwards: a buy's down, a sell's up.
  SolveInput odd = MakeInput(SIDE_BUY, 3);
  *odd.add_venues() = MakeVenue("A", {{10001, 5}, {10011, 5}, {10012, 5}}, {{9990, 5}});
  odd.set_price_band_bps(10);  // 10001 × 1.001 = 10011.001
  auto buy = exo::solver::Solve(odd);
  REQUIRE(buy.ok());
  CHECK(buy->stats().price_band_limit() == 10011);
  SolveInput sell = MakeInput(SIDE_SELL, 12);
  *sell.add_venues() = MakeVenue("A", {{10020, 5}}, {{10001, 5}, {9991, 5}, {9990, 5}});
  sell.set_price_band_bps(10);  // 10001 × 0.999 = 9990.999
  auto sold = exo::solver::Solve(sell);
  REQUIRE(sold.ok());
  CHECK(sold->stats().price_band_limit() == 9991);
  CHECK(sold->allocated_quantity() == 10);  // 10001 and 9991, not 9990.

  // No usable venue: no band, every venue excluded with its own reason.
  SolveInput none = MakeInput(SIDE_BUY, 5);
  *none.add_venues() = crossed;
  none.set_price_band_bps(10);
  auto nothing = exo::solver::Solve(none);
  REQUIRE(nothing.ok());
  CHECK(nothing->stats().price_band_limit() == 0);
  CHECK(nothing->shortfall() == 5);

  in.set_price_band_bps(10001);
  auto bad = exo::solver::Solve(in);
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(bad.status().message()) == "solve_input.price_band_bps: must be <= 10000, got 10001");
}

TEST_CASE("a band limit given with the input decides as the band the solver fixes itself", "[solver][band]") {
  // What a cluster node decides from: the coordinator's band limit over every node's venues.
  SolveInput in = MakeInput(SIDE_BUY, 30);
  *in.add_venues() = MakeVenue("A", {{10000, 5}, {10008, 5}, {10012, 5}});
  *in.add_venues() = MakeVenue("B", {{10005, 5}, {10010, 5}});
  *in.add_venues() = MakeVenue("E", {{10020, 5}});
  in.set_price_band_bps(10);
  auto banded = exo::solver::Solve(in);
  REQUIRE(banded.ok());
  REQUIRE(banded->stats().price_band_limit() == 10010);
  SolveInput given = in;
  given.set_price_band_bps(0);
  given.set_band_limit(10010);
  auto same = exo::solver::Solve(given);
  REQUIRE(same.ok());
  CHECK(same->SerializeAsString() == banded->SerializeAsString());
  // A band limit from elsewhere need not be this input's best price ± anything: B's alone here.
  SolveInput only_b = given;
  only_b.mutable_venues()->DeleteSubrange(0, 1);
  auto b = exo::solver::Solve(only_b);
  REQUIRE(b.ok());
  CHECK(b->allocated_quantity() == 10);
  CHECK(b->stats().price_band_limit() == 10010);
  // The order's limit when tighter; on a sell, the higher of the two.
  given.set_limit_price(10006);
  CHECK(exo::solver::Solve(given)->stats().price_band_limit() == 10006);
  SolveInput sell = MakeInput(SIDE_SELL, 12);
  *sell.add_venues() = MakeVenue("A", {{10020, 5}}, {{10001, 5}, {9991, 5}, {9990, 5}});
  sell.set_band_limit(9991);
  sell.set_limit_price(9995);
  auto sold = exo::solver::Solve(sell);
  REQUIRE(sold.ok());
  CHECK(sold->stats().price_band_limit() == 9995);
  CHECK(sold->allocated_quantity() == 5);

  // Malformed: out of range, or with a band of the solver's own as well.
  given.set_band_limit(-1);
  CHECK(std::string(exo::solver::Solve(given).status().message()) ==
        "solve_input.band_limit: must be within 0..2^53 price units, got -1");
  given.set_band_limit(10010);
  given.set_price_band_bps(10);
  CHECK(std::string(exo::solver::Solve(given).status().message()) ==
        "solve_input.band_limit: not with price_band_bps (one band per decision)");
}

TEST_CASE("an arrival band cuts at the mid of the usable venues ± the band, as that limit would, and says so",
          "[solver][band]") {
  SolveInput in = MakeInput(SIDE_BUY, 40);
  *in.add_venues() = MakeVenue("A", {{10000, 5}, {10008, 5}, {10012, 5}}, {{9980, 5}});
  *in.add_venues() = MakeVenue("B", {{10005, 5}, {10010, 5}}, {{9990, 5}});
  VenueInput crossed = MakeVenue("C", {{9990, 5}}, {{9999, 5}});  // Bid above ask: unusable.
  *in.add_venues() = crossed;
  *in.add_venues() = MakeVenue("E", {{10030, 5}});
  // The mid of the usable venues: (9990 + 10000) / 2 = 9995 (C's bid 9999 does not count);
  // 15 bp above it: 9995 × 1.0015 = 10009.99…, rounded down.
  in.set_arrival_band_bps(15);
  auto fixed = exo::solver::Solve(in);
  REQUIRE(fixed.ok());
  CHECK(fixed->stats().arrival_limit() == 10009);
  CHECK(fixed->allocated_quantity() == 15);  // A's 10000 and 10008, B's 10005.
  for (const auto& a : fixed->allocations()) CHECK(a.limit_price() <= 10009);
  std::map<std::string, std::string> why = WhyExcluded(*fixed);
  CHECK(why["C"].rfind("crossed book", 0) == 0);
  CHECK(why["E"] == "no liquidity within limit 10009 (best ask 10030)");
  // The same decision as that limit given as the order's (a later decision of the plan).
  Decision without = *fixed;
  without.mutable_stats()->clear_arrival_limit();
  CHECK(without.SerializeAsString() == UnderLimit(in, 10009).SerializeAsString());
  // Given from outside (a cluster coordinator's): the very decision the band fixed itself.
  SolveInput given = in;
  given.set_arrival_band_bps(0);
  given.set_arrival_limit(10009);
  auto given_decision = exo::solver::Solve(given);
  REQUIRE(given_decision.ok());
  CHECK(given_decision->SerializeAsString() == fixed->SerializeAsString());
  given.set_limit_price(10006);  // The order's own limit, when tighter, is the one reported.
  CHECK(exo::solver::Solve(given)->stats().arrival_limit() == 10006);
  given.set_arrival_limit(-1);
  CHECK(std::string(exo::solver::Solve(given).status().message()) ==
        "solve_input.arrival_limit: must be within 0..2^53 price units, got -1");

  // The order's own limit when tighter; an urgency band is taken under the arrival limit.
  SolveInput tight = in;
  tight.set_limit_price(10006);
  CHECK(exo::solver::Solve(tight)->stats().arrival_limit() == 10006);
  SolveInput both = in;
  both.set_price_band_bps(5);  // 10000 × 1.0005 = 10005: tighter than the arrival limit.
  auto banded = exo::solver::Solve(both);
  REQUIRE(banded.ok());
  CHECK(banded->stats().arrival_limit() == 10009);
  CHECK(banded->stats().price_band_limit() == 10005);
  CHECK(banded->allocated_quantity() == 10);

  // A sell: below the mid, rounded up. Mid (10000 + 9990) / 2 = 9995; 9995 × 0.9985 = 9980.00…
  SolveInput sell = MakeInput(SIDE_SELL, 20);
  *sell.add_venues() = MakeVenue("A", {{10000, 5}}, {{9990, 5}, {9985, 5}, {9980, 5}, {9979, 5}});
  sell.set_arrival_band_bps(15);
  auto sold = exo::solver::Solve(sell);
  REQUIRE(sold.ok());
  CHECK(sold->stats().arrival_limit() == 9981);
  CHECK(sold->allocated_quantity() == 10);  // 9990 and 9985; not 9980 or 9979.

  // No two-sided market over the usable venues: nothing is walked unprotected, and each venue
  // says why.
  SolveInput one_sided = MakeInput(SIDE_BUY, 5);
  *one_sided.add_venues() = MakeVenue("A", {{10000, 5}});
  *one_sided.add_venues() = MakeVenue("B", {{10001, 5}});
  one_sided.set_arrival_band_bps(15);
  auto waiting = exo::solver::Solve(one_sided);
  REQUIRE(waiting.ok());
  CHECK(waiting->allocated_quantity() == 0);
  CHECK(waiting->shortfall() == 5);
  CHECK(waiting->stats().arrival_limit() == 0);
  REQUIRE(waiting->exclusions_size() == 2);
  for (const auto& e : waiting->exclusions()) {
    CHECK(e.reason() == "arrival band: no two-sided market over the usable venues to fix the arrival mid from");
  }

  in.set_arrival_band_bps(10001);
  CHECK(std::string(exo::solver::Solve(in).status().message()) ==
        "solve_input.arrival_band_bps: must be <= 10000, got 10001");
  in.set_arrival_band_bps(15);
  in.set_band_limit(10010);
  auto with_band_limit = exo::solver::Solve(in);
  CHECK(with_band_limit.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(with_band_limit.status().message()).rfind("solve_input.arrival_band_bps: not with band_limit", 0) == 0);
}

TEST_CASE("under the market mid rule a decision's mid and its arrival band are the market's, whatever the order's limit",
          "[solver][band]") {
  // A: bid 9900, ask 10000. B: bid 9910, ask 10020. The market: best bid 9910, best ask 10000.
  SolveInput in = MakeInput(SIDE_BUY, 10);
  *in.add_venues() = MakeVenue("A", {{10000, 5}, {10010, 5}}, {{9900, 5}});
  *in.add_venues() = MakeVenue("B", {{10020, 5}}, {{9910, 5}});
  // None of these quotes: an excluded venue, a stale book, a crossed one, one not there yet.
  VenueInput denied = MakeVenue("C", {{9950, 5}}, {{9940, 5}});
  denied.set_exclusion("denied by the order");
  *in.add_venues() = denied;
  VenueInput stale = MakeVenue("D", {{9960, 5}}, {{9955, 5}});
  stale.mutable_book()->set_receive_time_ns(exo::testing::kNow - int64_t{6'000'000'000});  // 6 s > 5 s default.
  *in.add_venues() = stale;
  *in.add_venues() = MakeVenue("E", {{9990, 5}}, {{9995, 5}});  // Crossed.
  VenueInput empty = MakeVenue("F", {{9970, 5}}, {{9969, 5}});
  empty.mutable_book()->set_receive_time_ns(0);
  *in.add_venues() = empty;
  *in.add_venues() = MakeVenue("G", {{-5, 5}}, {{9968, 5}});      // No price: malformed.
  *in.add_venues() = MakeVenue("H", {{9967, 0}}, {{9966, 5}});     // No size: malformed.
  in.set_mid_rule(MID_RULE_MARKET);
  const exo::solver::Quotes q = exo::solver::MarketQuotes(in);
  CHECK(q.best_bid == 9910);
  CHECK(q.best_ask == 10000);

  // A limit that cuts B away: the older rule's mid is over A alone, the market's over both.
  SolveInput limited = in;
  limited.set_limit_price(10010);
  auto market = exo::solver::Solve(limited);
  REQUIRE(market.ok());
  CHECK(market->mid_price() == 9955);  // (9910 + 10000) / 2
  SolveInput older = limited;
  older.set_mid_rule(MID_RULE_USABLE_UNDER_LIMIT);
  auto usable = exo::solver::Solve(older);
  REQUIRE(usable.ok());
  CHECK(usable->mid_price() == 9950);  // (9900 + 10000) / 2
  // The rule moves the mid, and the slippage measured against it, never the split.
  CHECK(market->allocated_quantity() == 10);
  CHECK(market->expected_cost() == usable->expected_cost());
  CHECK(market->slippage_cbps() == exo::MulDivRound(market->expected_average_price() - 9955, 1'000'000, 9955));
  CHECK(usable->slippage_cbps() == exo::MulDivRound(usable->expected_average_price() - 9950, 1'000'000, 9950));

  // A passive limit order (no ask within 9980) with an arrival band: fixed at arrival from the
  // market's mid, 9955 + 2 bp = 9956.99…, rounded down; nothing allocated yet, each venue saying
  // why. Under the older rule no venue is usable, so nothing is fixed and there is no mid.
  SolveInput passive = in;
  passive.set_limit_price(9980);
  passive.set_arrival_band_bps(2);
  auto fixed = exo::solver::Solve(passive);
  REQUIRE(fixed.ok());
  CHECK(fixed->stats().arrival_limit() == 9956);
  CHECK(fixed->mid_price() == 9955);
  CHECK(fixed->allocated_quantity() == 0);
  std::map<std::string, std::string> why = WhyExcluded(*fixed);
  CHECK(why["A"] == "no liquidity within limit 9980 (best ask 10000)");
  CHECK(why["C"] == "denied by the order");
  CHECK(why["E"].rfind("crossed book", 0) == 0);
  passive.set_mid_rule(MID_RULE_USABLE_UNDER_LIMIT);
  auto unfixed = exo::solver::Solve(passive);
  REQUIRE(unfixed.ok());
  CHECK(unfixed->stats().arrival_limit() == 0);
  CHECK(unfixed->mid_price() == 0);

  // An order the market reaches: the same limit as the arrival band over the market gives,
  // and the same decision as that limit given.
  SolveInput reached = in;
  reached.set_arrival_band_bps(20);  // 9955 × 1.002 = 9974.91, rounded down.
  reached.set_limit_price(10015);
  auto cut = exo::solver::Solve(reached);
  REQUIRE(cut.ok());
  CHECK(cut->stats().arrival_limit() == 9974);
  CHECK(cut->allocated_quantity() == 0);  // No ask within 9974 either.
  reached.set_arrival_band_bps(50);  // 9955 × 1.005 = 10004.775: A's 10000 only.
  cut = exo::solver::Solve(reached);
  REQUIRE(cut.ok());
  CHECK(cut->stats().arrival_limit() == 10004);
  CHECK(cut->allocated_quantity() == 5);
  SolveInput given = reached;
  given.set_arrival_band_bps(0);
  given.set_arrival_limit(10004);
  CHECK(exo::solver::Solve(given)->SerializeAsString() == cut->SerializeAsString());

  // No two-sided market: nothing fixed, the usable venues excluded saying so.
  SolveInput one_sided = MakeInput(SIDE_BUY, 5);
  *one_sided.add_venues() = MakeVenue("A", {{10000, 5}});
  one_sided.set_arrival_band_bps(15);
  one_sided.set_mid_rule(MID_RULE_MARKET);
  auto waiting = exo::solver::Solve(one_sided);
  REQUIRE(waiting.ok());
  CHECK(waiting->stats().arrival_limit() == 0);
  CHECK(WhyExcluded(*waiting)["A"] == "arrival band: no two-sided market to fix the arrival mid from");

  in.set_mid_rule(static_cast<MidRule>(7));
  auto bad = exo::solver::Solve(in);
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(bad.status().message()) == "solve_input.mid_rule: unknown value 7");
}

// A decision finds the market's best bid and ask while it builds its venues (a built venue is
// quotable but for the best level of the side it does not walk): the same quotes as
// MarketQuotes reading every venue again, on books damaged in every way either can see.
TEST_CASE("the market's quotes found while the venues are built are MarketQuotes' on damaged books", "[solver][band]") {
  std::mt19937_64 rng(4242);
  int compared = 0, with_both = 0;
  for (int n = 0; n < 3000; ++n) {
    int64_t lot;
    SolveInput in = exo::testing::RandomInput(rng, &lot);
    in.set_mid_rule(MID_RULE_MARKET);
    for (auto& v : *in.mutable_venues()) {
      auto* book = v.mutable_book();
      auto* side = rng() % 2 ? book->mutable_bids() : book->mutable_asks();
      switch (rng() % 12) {
        case 0: v.set_exclusion("denied"); break;
        case 1: book->set_receive_time_ns(kNow - int64_t{6'000'000'000}); break;  // Stale.
        case 2: book->set_receive_time_ns(0); break;
        case 3: side->Clear(); break;
        case 4: if (!side->empty()) side->Mutable(0)->set_price(0); break;
        case 5: if (!side->empty()) side->Mutable(0)->set_size(0); break;
        case 6: if (!side->empty()) side->Mutable(0)->set_price(exo::kMaxUnits + 1); break;
        case 7:  // Crossed.
          if (!book->bids().empty() && !book->asks().empty()) book->mutable_bids(0)->set_price(book->asks(0).price());
          break;
        case 8: v.set_lot_size(0); break;
        case 9: if (side->size() > 1) side->Mutable(1)->set_price(-1); break;  // Malformed further in.
        default: break;
      }
    }
    std::vector<exo::solver::LocalProblem> problems;
    exo::solver::Quotes found;
    exo::solver::CurveCache cache;
    for (int pass = 0; pass < 2; ++pass) {  // Curves built, then taken from the cache.
      exo::solver::BuildLocalProblemsInto(in, nullptr, &cache, &problems, nullptr, nullptr, &found);
      const exo::solver::Quotes q = exo::solver::MarketQuotes(in);
      INFO("input " << n << " pass " << pass);
      CHECK(found.best_bid == q.best_bid);
      CHECK(found.best_ask == q.best_ask);
      ++compared;
      with_both += q.best_bid > 0 && q.best_ask > 0 ? 1 : 0;
    }
  }
  CHECK(with_both > compared / 4);  // Many two-sided markets,
  CHECK(with_both < compared);      // and some that are not.
}

TEST_CASE("exclusion reasons are worded as the input's reason_text says: units, or as a client reads them", "[solver]") {
  SolveInput in = MakeInput(SIDE_BUY, 10);
  in.mutable_instrument()->set_price_scale(2);
  in.mutable_instrument()->set_qty_scale(1);
  in.set_limit_price(10100);
  *in.add_venues() = MakeVenue("A", {{10000, 5}}, {{9990, 5}});
  *in.add_venues() = MakeVenue("B", {{9990, 5}}, {{9999, 5}});  // Crossed.
  *in.add_venues() = MakeVenue("C", {{10500, 5}});              // Beyond the limit.
  VenueInput small = MakeVenue("D", {{10001, 10}});
  small.set_min_quantity(8);  // Its share would be 5.
  *in.add_venues() = small;
  VenueInput capped = MakeVenue("E", {{10002, 9}}, {}, 0, /*lot=*/3);
  capped.set_max_quantity(2);  // Under one lot.
  *in.add_venues() = capped;

  auto raw = exo::solver::Solve(in);
  REQUIRE(raw.ok());
  std::map<std::string, std::string> why = WhyExcluded(*raw);
  CHECK(why["B"] == "crossed book: best bid 9999 >= best ask 9990");
  CHECK(why["C"] == "no liquidity within limit 10100 (best ask 10500)");
  CHECK(why["D"] == "share 5 below the venue's minimum child size 8");
  CHECK(why["E"] == "less than one lot (3) available within limit and cap");

  in.set_reason_text(REASON_TEXT_READABLE);
  auto decimal = exo::solver::Solve(in);
  REQUIRE(decimal.ok());
  why = WhyExcluded(*decimal);
  CHECK(why["B"] == "crossed book: best bid 99.99 >= best ask 99.90");
  CHECK(why["C"] == "no liquidity within limit 101.00 (best ask 105.00)");
  CHECK(why["D"] == "share 0.5 below the venue's minimum child size 0.8");
  CHECK(why["E"] == "less than one lot (0.3) available within limit and cap");
  // Only the words: the same split.
  Decision a = *raw, b = *decimal;
  a.clear_exclusions();
  b.clear_exclusions();
  CHECK(a.SerializeAsString() == b.SerializeAsString());
  CHECK(decimal->allocated_quantity() == 5);

  // A count of one in the singular (the older wording kept for the decisions made with it).
  in.set_max_venues(1);
  in.mutable_venues(3)->clear_min_quantity();  // D: a share of 5 as A's; the higher id goes.
  in.set_reason_text(REASON_TEXT_UNITS);
  CHECK(WhyExcluded(*exo::solver::Solve(in))["D"] == "the order allows at most 1 venues; this one had the smallest share");
  in.set_reason_text(REASON_TEXT_READABLE);
  CHECK(WhyExcluded(*exo::solver::Solve(in))["D"] == "the order allows at most 1 venue; this one had the smallest share");

  in.set_reason_text(static_cast<ReasonText>(3));
  CHECK(std::string(exo::solver::Solve(in).status().message()) == "solve_input.reason_text: unknown value 3");
}

TEST_CASE("the mid rule never changes a split without an arrival band", "[solver][band]") {
  std::mt19937_64 rng(20261204);
  for (int n = 0; n < 300; ++n) {
    int64_t lot = 1;
    SolveInput in = exo::testing::RandomInput(rng, &lot);
    in.set_arrival_band_bps(0);
    in.set_mid_rule(MID_RULE_USABLE_UNDER_LIMIT);
    auto older = exo::solver::Solve(in);
    in.set_mid_rule(MID_RULE_MARKET);
    auto market = exo::solver::Solve(in);
    REQUIRE(older.ok() == market.ok());
    if (!older.ok()) continue;
    // The same decision but for the mid and the slippage against it.
    Decision a = *older, b = *market;
    for (Decision* d : {&a, &b}) {
      d->clear_mid_price();
      d->clear_slippage_cbps();
    }
    INFO("instance " << n);
    CHECK(a.SerializeAsString() == b.SerializeAsString());
    // Every random book is fresh, not excluded, not crossed: the market's mid is over the best
    // levels of all of them, however many the limit or a cap leaves usable.
    int64_t best_bid = 0, best_ask = std::numeric_limits<int64_t>::max();
    for (const auto& v : in.venues()) {
      best_bid = std::max(best_bid, v.book().bids(0).price());
      best_ask = std::min(best_ask, v.book().asks(0).price());
    }
    CHECK(market->mid_price() == exo::MulDivRound(static_cast<__int128>(best_bid) + best_ask, 1, 2));
  }
}

TEST_CASE("the same input gives the same bytes", "[solver][determinism]") {
  std::mt19937_64 rng(7);
  for (int n = 0; n < 50; ++n) {
    int64_t lot;
    SolveInput in = exo::testing::RandomInput(rng, &lot);
    auto a = exo::solver::Solve(in);
    auto b = exo::solver::Solve(in);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->SerializeAsString() == b->SerializeAsString());
  }
}

TEST_CASE("malformed solve inputs are refused naming the field", "[solver]") {
  SolveInput in = MakeInput(SIDE_BUY, 0);
  CHECK(exo::solver::Solve(in).status().message() == "solve_input.quantity: must be > 0, got 0");
  in = MakeInput(SIDE_UNSPECIFIED, 5);
  CHECK(exo::solver::Solve(in).status().code() == absl::StatusCode::kInvalidArgument);
  in = MakeInput(SIDE_BUY, 5);
  *in.add_venues() = MakeVenue("B", {{100, 1}});
  *in.add_venues() = MakeVenue("A", {{100, 1}});
  CHECK(exo::solver::Solve(in).status().message() ==
        "solve_input.venues: not sorted by unique venue id at index 1");
  in = MakeInput(SIDE_BUY, 5);
  in.mutable_fixed_dual()->set_tie_need(3);
  in.mutable_fixed_dual()->set_tie_total(2);
  CHECK(exo::solver::Solve(in).status().message() ==
        "solve_input.fixed_dual: lambda must be finite and 0 <= tie_need <= tie_total");
  in.mutable_fixed_dual()->set_tie_need(1);
  in.mutable_fixed_dual()->add_remainder()->set_lots(-1);
  CHECK(exo::solver::Solve(in).status().message() == "solve_input.fixed_dual.remainder: lots < 0");
  in = MakeInput(SIDE_BUY, 5);
  *in.add_venues() = MakeVenue("A", {{100, 10}});
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    in.set_opening_lambda(bad);
    CHECK(exo::solver::Solve(in).status().message() == "solve_input.opening_lambda: must be finite");
  }
  in.clear_opening_lambda();
  in.set_dual_search(static_cast<exoroute::v1::DualSearch>(7));
  CHECK(exo::solver::Solve(in).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(exo::solver::Solve(in).status().message() == "solve_input.dual_search: unknown value 7");
  in.clear_dual_search();
  in.set_admm_variant(static_cast<exoroute::v1::AdmmVariant>(9));
  CHECK(exo::solver::Solve(in).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(exo::solver::Solve(in).status().message() == "solve_input.admm_variant: unknown value 9");
}

TEST_CASE("numbers beyond what the arithmetic holds exactly are refused or the venue excluded with the reason",
          "[solver]") {
  // Quantities and prices up to 2^53 units (exact as doubles; their products within 128 bits);
  // a book whose depth or notional would overflow is the venue's problem, not the decision's.
  constexpr int64_t kMax = int64_t{1} << 53;
  constexpr int64_t kHuge = 9'000'000'000'000'000'000;
  SolveInput in = MakeInput(SIDE_BUY, kMax + 1);
  CHECK(exo::solver::Solve(in).status().message() ==
        "solve_input.quantity: must be <= 9007199254740992 (2^53 units), got 9007199254740993");
  in = MakeInput(SIDE_BUY, 5);
  in.set_limit_price(kMax + 1);
  CHECK(exo::solver::Solve(in).status().message() ==
        "solve_input.limit_price: must be <= 9007199254740992 (2^53 units), got 9007199254740993");
  in = MakeInput(SIDE_BUY, 5);
  for (int i = 0; i < 1025; ++i) *in.add_venues() = MakeVenue(absl::StrFormat("V%04d", i), {{100, 1}});
  CHECK(exo::solver::Solve(in).status().message() == "solve_input.venues: at most 1024, got 1025");

  in = MakeInput(SIDE_BUY, 5);
  *in.add_venues() = MakeVenue("A", {{100, kHuge}});                         // A level too big.
  *in.add_venues() = MakeVenue("B", {{kHuge, 1}});                           // A price too big.
  *in.add_venues() = MakeVenue("C", {{100, kMax / 2 + 1}, {101, kMax / 2}});  // Deeper than 2^53.
  *in.add_venues() = MakeVenue("D", {{kMax, kMax / 4}, {kMax - 1, 1}});       // Not ascending, first.
  *in.add_venues() = MakeVenue("E", {{kMax - 1, kMax / 2}});                 // Notional > 2^62 units.
  *in.add_venues() = MakeVenue("F", {{101, 10}}, {{kHuge, 1}});              // Crossed by a huge bid.
  *in.add_venues() = MakeVenue("G", {{102, 10}});
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  REQUIRE(d->allocations_size() == 1);
  CHECK(d->allocations(0).venue() == "G");
  CHECK(d->allocations(0).quantity() == 5);
  std::map<std::string, std::string> why = WhyExcluded(*d);
  CHECK(why["A"] == "malformed book: asks[0] size 9000000000000000000 is beyond 2^53 units");
  CHECK(why["B"] == "malformed book: asks[0] price 9000000000000000000 is beyond 2^53 units");
  CHECK(why["C"] == "malformed book: asks deeper than 2^53 units at level 1");
  CHECK(why["D"] == "malformed book: asks not strictly ascending at level 1");
  CHECK(why["E"] == "malformed book: asks worth more than 2^62 price units");
  CHECK(why["F"].rfind("crossed book", 0) == 0);
  CHECK(why.size() == 6);

  // Fees and impact as the config allows them; an impact estimate over the book within 2^61.
  in = MakeInput(SIDE_BUY, 5);
  *in.add_venues() = MakeVenue("A", {{100, 10}}, {}, std::numeric_limits<double>::quiet_NaN());
  *in.add_venues() = MakeVenue("B", {{100, 10}}, {}, 1000.5);
  *in.add_venues() = MakeVenue("C", {{100, 10}});
  in.mutable_venues(2)->set_impact_bps(std::numeric_limits<double>::quiet_NaN());
  *in.add_venues() = MakeVenue("D", {{int64_t{1} << 40, int64_t{1} << 22}});
  in.mutable_venues(3)->set_impact_bps(1000);
  *in.add_venues() = MakeVenue("E", {{102, 10}});
  d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  why.clear();
  for (const auto& e : d->exclusions()) why[e.venue()] = e.reason();
  CHECK(why["A"] == "fee_bps nan is not within [-1000, 1000]");
  CHECK(why["B"] == "fee_bps 1000.5 is not within [-1000, 1000]");
  CHECK(why["C"] == "impact_bps nan is not within [0, 1000]");
  CHECK(why["D"] == "impact_bps 1000 over the book's depth is beyond 2^61 price units");
  CHECK(why.size() == 4);

  // Three venues each worth 2^62 price units, all taken: the plan's cost would not fit int64.
  in = MakeInput(SIDE_BUY, 3 * (int64_t{1} << 22));
  for (const char* v : {"A", "B", "C"}) *in.add_venues() = MakeVenue(v, {{int64_t{1} << 40, int64_t{1} << 22}});
  CHECK(exo::solver::Solve(in).status().message() == "solve_input: the plan's expected cost is beyond 2^63 price units");

  // A sell into a book whose best ask is huge (allowed: only the walked side is bounded): the
  // mid is still exact.
  in = MakeInput(SIDE_SELL, 5);
  *in.add_venues() = MakeVenue("A", {{kHuge, 1}}, {{100, 10}});
  d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  CHECK(d->allocations_size() == 1);
  CHECK(d->mid_price() == (kHuge + 100) / 2);
}

TEST_CASE("a node allocating at a fixed dual price takes what the exact method gives its venues", "[solver]") {
  // The single-node decision over A, B, C, and the same venues split over two "nodes" that
  // only share λ*, the tie fraction and the remainder: same quantities, venue by venue.
  SolveInput all = MakeInput(SIDE_BUY, 14);
  *all.add_venues() = MakeVenue("A", {{100, 4}, {101, 4}});
  *all.add_venues() = MakeVenue("B", {{100, 3}, {101, 6}});
  *all.add_venues() = MakeVenue("C", {{101, 5}, {102, 9}});
  auto whole = exo::solver::Solve(all);
  REQUIRE(whole.ok());
  std::vector<exo::solver::LocalProblem> problems = exo::solver::BuildLocalProblems(all);
  exo::solver::VenueGroup group(problems);
  auto price = exo::solver::FindDualPrice(group, group.Summary(), all.quantity());
  REQUIRE(price.ok());
  const int64_t need = all.quantity() - price->lo, total = price->hi - price->lo;
  std::vector<int64_t> spare;
  auto floors = exo::solver::PlaceAtDualPrice(problems, price->lambda, need, total, need, &spare);
  int64_t placed = 0;
  std::vector<exo::solver::SpareVenue> spare_venues;
  for (size_t i = 0; i < problems.size(); ++i) {
    placed += floors[i];
    spare_venues.push_back({problems[i].venue(), problems[i].lot_size(), spare[i]});
  }
  auto extra = exo::solver::AssignRemainder(spare_venues, all.quantity() - placed);
  std::map<std::string, int64_t> split;
  for (const char* node_venues : {"AB", "C"}) {
    SolveInput node = all;
    node.clear_venues();
    for (const auto& v : all.venues()) {
      if (std::string(node_venues).find(v.venue()) != std::string::npos) *node.add_venues() = v;
    }
    auto* f = node.mutable_fixed_dual();
    f->set_lambda(price->lambda);
    f->set_tie_need(need);
    f->set_tie_total(total);
    for (size_t i = 0; i < problems.size(); ++i) {
      if (extra[i] > 0 && std::string(node_venues).find(problems[i].venue()) != std::string::npos) {
        auto* t = f->add_remainder();
        t->set_venue(problems[i].venue());
        t->set_lots(extra[i]);
      }
    }
    node.set_quantity(all.quantity());
    auto d = exo::solver::Solve(node);
    REQUIRE(d.ok());
    CHECK(d->stats().method() == SOLVER_METHOD_CLUSTER_EXACT);
    for (const auto& a : d->allocations()) split[a.venue()] = a.quantity();
  }
  std::map<std::string, int64_t> want;
  for (const auto& a : whole->allocations()) want[a.venue()] = a.quantity();
  CHECK(split == want);
  CHECK(need > 0);  // The instance has a tie at λ* (A and B both offer 100 and 101).
}

TEST_CASE("a re-plan records only the venues whose allocation changed", "[solver]") {
  google::protobuf::RepeatedPtrField<Allocation> before, after;
  auto add = [](auto& list, const char* venue, int64_t q) {
    auto* a = list.Add();
    a->set_venue(venue);
    a->set_quantity(q);
  };
  add(before, "A", 10);
  add(before, "B", 5);
  add(before, "C", 7);
  add(after, "A", 10);
  add(after, "B", 8);
  add(after, "D", 1);
  auto diff = exo::solver::DiffAllocations(before, after);
  REQUIRE(diff.size() == 3);
  CHECK(diff[0].venue() == "B");
  CHECK(diff[0].quantity() == 8);
  CHECK(diff[1].venue() == "C");
  CHECK(diff[1].quantity() == 0);
  CHECK(diff[2].venue() == "D");
}

TEST_CASE("a decision written over any other gives the same bytes as one made afresh", "[solver][determinism]") {
  // The engine decides into one Decision per thread (SolveInto): nothing of what it held before
  // — more allocations, other venues, exclusions, stats, fields this release does not know —
  // may show in the next decision.
  std::mt19937_64 rng(5);
  Decision held;
  for (int i = 0; i < 300; ++i) {
    int64_t lot = 0;
    const SolveInput in = exo::testing::RandomInput(rng, &lot);
    auto fresh = exo::solver::Solve(in);
    REQUIRE(fresh.ok());
    if (i % 3 == 0) {
      // Junk: twenty allocations of unknown venues, one carrying a field from a newer release.
      for (int k = 0; k < 20; ++k) {
        Allocation* a = held.add_allocations();
        a->set_venue("ZZ" + std::to_string(k));
        a->set_quantity(k + 1);
      }
      Allocation* first = held.mutable_allocations(0);
      first->GetReflection()->MutableUnknownFields(first)->AddVarint(99, 7);
      held.add_exclusions()->set_venue("gone");
      held.mutable_stats()->set_rounds(1234);
      held.set_mid_price(42);
    }
    REQUIRE(exo::solver::SolveInto(in, &held).ok());
    INFO("instance " << i);
    CHECK(held.SerializeAsString() == fresh->SerializeAsString());
  }
}

TEST_CASE("lots filled in bulk are exactly the lots placed one at a time", "[solver]") {
  // internal::FillCheapestLots places what the tie split leaves (mixed lot sizes) in bulk; its
  // definition is one lot at a time to the cheapest next lot that fits (ties: lowest venue
  // index). Random venues with lot sizes from 1 to 60 units (and a 10^6-unit one), with and
  // without impact, partly taken already (a prefix of each curve), random quantities: the
  // same quantities at every venue.
  std::mt19937_64 rng(4711);
  int compared = 0, moved = 0;
  for (int n = 0; n < 3000; ++n) {
    exo::testing::RandomBookShape shape;
    shape.min_venues = 1;
    shape.max_venues = 6;
    shape.max_levels = 8;
    shape.one_lot_size = false;
    int64_t lot = 0;
    SolveInput in = exo::testing::RandomInput(rng, &lot, shape);
    for (auto& v : *in.mutable_venues()) {
      const int64_t lots[] = {1, 2, 3, 5, 7, 10, 60};
      v.set_lot_size(lots[rng() % 7]);
      if (rng() % 3 == 0) v.set_impact_bps(0.05 * static_cast<double>(1 + rng() % 40));
      for (auto* side : {v.mutable_book()->mutable_asks(), v.mutable_book()->mutable_bids()}) {
        for (auto& l : *side) l.set_size(l.size() * static_cast<int64_t>(1 + rng() % 30));
      }
    }
    if (n % 10 == 0) {  // A coarse venue next to fine ones.
      auto* v = in.mutable_venues(0);
      v->set_lot_size(1'000'000);
      for (auto& l : *v->mutable_book()->mutable_asks()) l.set_size(3'000'000);
      for (auto& l : *v->mutable_book()->mutable_bids()) l.set_size(3'000'000);
    }
    const auto problems = exo::solver::BuildLocalProblems(in);
    if (problems.empty()) continue;
    std::vector<int64_t> start(problems.size());
    int64_t total = 0;
    for (size_t i = 0; i < problems.size(); ++i) {
      const int64_t lots = problems[i].capacity() / problems[i].lot_size();
      start[i] = rng() % 2 == 0 ? 0 : static_cast<int64_t>(rng() % static_cast<uint64_t>(lots + 1)) * problems[i].lot_size();
      total += problems[i].capacity();
    }
    const int64_t quantity = static_cast<int64_t>(rng() % static_cast<uint64_t>(total + 20));
    std::vector<int64_t> bulk = start, one = start;
    const int64_t placed_bulk = exo::solver::internal::FillCheapestLots(problems, quantity, bulk);
    const int64_t placed_one = exo::solver::internal::FillCheapestLotsOneByOne(problems, quantity, one);
    INFO("instance " << n << " quantity " << quantity);
    CHECK(placed_bulk == placed_one);
    CHECK(bulk == one);
    ++compared;
    moved += bulk != start ? 1 : 0;
  }
  CHECK(compared > 2500);
  CHECK(moved > 1000);
}

TEST_CASE("the tie's remainder given in bulk passes is exactly the remainder given pass by pass", "[solver]") {
  // AssignRemainder makes the passes in which every venue still taking lots takes one at once;
  // its definition is pass by pass. Random spare lots and lot sizes (1 to 10^8 units), random
  // remainders: the same lots at every venue.
  std::mt19937_64 rng(1234);
  int moved = 0;
  for (int n = 0; n < 20000; ++n) {
    std::vector<exo::solver::SpareVenue> spare(1 + rng() % 6);
    for (auto& s : spare) {
      const int64_t lots[] = {1, 2, 3, 7, 10, 1000, 100'000'000};
      s.lot = lots[rng() % (n % 2 == 0 ? 5 : 7)];
      s.spare_lots = rng() % 4 == 0 ? 0 : static_cast<int64_t>(rng() % (n % 3 == 0 ? 1'000'000 : 20));
    }
    const int64_t remainder = static_cast<int64_t>(rng() % (n % 2 == 0 ? 200 : 300'000'000));
    const auto bulk = exo::solver::AssignRemainder(spare, remainder);
    // Pass by pass only where it is quick (it gives a lot per step).
    if (remainder > 5'000'000) {
      int64_t given = 0;
      for (size_t i = 0; i < spare.size(); ++i) {
        CHECK(bulk[i] <= spare[i].spare_lots);
        given += bulk[i] * spare[i].lot;
      }
      CHECK(given <= remainder);
      continue;
    }
    INFO("case " << n << " remainder " << remainder);
    CHECK(bulk == exo::solver::AssignRemainderPassByPass(spare, remainder));
    moved += std::count_if(bulk.begin(), bulk.end(), [](int64_t l) { return l > 0; }) > 0 ? 1 : 0;
  }
  CHECK(moved > 5000);
  // A lot below one unit (no venue's, a faulty peer's) takes nothing, and the call ends.
  const std::vector<exo::solver::SpareVenue> odd = {{"A", 0, 5}, {"B", -100, 5}, {"C", 10, 2}};
  CHECK(exo::solver::AssignRemainder(odd, 35) == std::vector<int64_t>{0, 0, 2});
  CHECK(exo::solver::AssignRemainderPassByPass(odd, 35) == std::vector<int64_t>{0, 0, 2});
}

TEST_CASE("a coarse-lot venue tied with a fine-lot one leaves the fine one its share in one decision", "[solver]") {
  // Lots of 1 BTC (10^8 units) at one venue and of one unit at another, both offering 10 BTC at
  // one price: 1.5 BTC can only go to the fine-lot venue. Its 1.5·10^8 lots were given one per
  // pass; in bulk passes the decision is the same, and quick.
  SolveInput in = MakeInput(SIDE_BUY, 150'000'000);
  in.mutable_instrument()->set_qty_scale(8);
  for (int v = 0; v < 2; ++v) {
    auto* vi = in.add_venues();
    *vi = MakeVenue(v == 0 ? "COARSE" : "FINE", {{6'500'000, 1'000'000'000}}, {{6'499'000, 1'000'000}});
    vi->set_lot_size(v == 0 ? 100'000'000 : 1);
  }
  auto d = exo::solver::Solve(in);
  REQUIRE(d.ok());
  REQUIRE(d->allocations_size() == 1);
  CHECK(d->allocations(0).venue() == "FINE");
  CHECK(d->allocations(0).quantity() == 150'000'000);
  CHECK(d->shortfall() == 0);
}
