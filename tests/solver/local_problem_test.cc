#include "solver/local_problem.h"

#include <catch2/catch.hpp>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "solver/internal/ordered_double.h"
#include "solver/internal/same_id.h"
#include "solver/internal/same_levels.h"
#include "solver/venue_curve.h"
#include "test_books.h"

using exo::solver::LocalProblem;
using exo::testing::kNow;
using exo::testing::MakeVenue;
using exoroute::v1::SIDE_BUY;
using exoroute::v1::SIDE_SELL;

TEST_CASE("a buy curve walks asks at fee-adjusted prices", "[local_problem]") {
  auto v = MakeVenue("A", {{100, 5}, {101, 5}}, {{99, 5}}, /*fee_bps=*/10);
  auto p = LocalProblem::Build(v, SIDE_BUY, std::nullopt, kNow);
  REQUIRE(p.ok());
  REQUIRE(p->segments().size() == 2);
  CHECK(p->segments()[0].unit_cost == 100 * 1.001);
  CHECK(p->segments()[1].unit_cost == 101 * 1.001);
  CHECK(p->capacity() == 10);
  // Below the first price nothing; at it, its whole level is tied.
  CHECK(p->At(100.0).hi == 0);
  CHECK(p->At(100.1).lo == 0);
  CHECK(p->At(100.1).hi == 5);
  CHECK(p->At(101.0).lo == 5);
  CHECK(p->At(1e9).hi == 10);
  CHECK(p->NextBreakpoint(0) == 100.1);
  CHECK(p->NextBreakpoint(100.1) == 101 * 1.001);
  CHECK(std::isinf(p->NextBreakpoint(200)));
  CHECK(p->PreviousBreakpoint(200) == 101 * 1.001);
  CHECK(p->PreviousBreakpoint(101 * 1.001) == 100.1);
  CHECK(p->PreviousBreakpoint(101) == 100.1);
  CHECK(p->PreviousBreakpoint(100.1) == -std::numeric_limits<double>::infinity());
  CHECK(p->Cost(7) == Approx(5 * 100.1 + 2 * 101.101));
  CHECK(p->LimitPriceFor(5) == 100);
  CHECK(p->LimitPriceFor(6) == 101);
}

TEST_CASE("a sell curve walks bids best first, costs negative", "[local_problem]") {
  auto v = MakeVenue("A", {{101, 5}}, {{100, 3}, {99, 4}}, /*fee_bps=*/-5);
  auto p = LocalProblem::Build(v, SIDE_SELL, std::nullopt, kNow);
  REQUIRE(p.ok());
  REQUIRE(p->segments().size() == 2);
  CHECK(p->segments()[0].unit_cost == -100 * (1 + 0.0005));  // A rebate adds to proceeds.
  CHECK(p->segments()[0].unit_cost < p->segments()[1].unit_cost);
  CHECK(p->LimitPriceFor(4) == 99);
}

TEST_CASE("lots that straddle levels cost their blend and keep the curve convex", "[local_problem]") {
  // Lot of 4 over levels of 3 @100 and 6 @110: lot 1 = 3@100 + 1@110, lot 2 = 4@110.
  auto v = MakeVenue("A", {{100, 3}, {110, 6}}, {}, 0, /*lot=*/4);
  auto p = LocalProblem::Build(v, SIDE_BUY, std::nullopt, kNow);
  REQUIRE(p.ok());
  REQUIRE(p->segments().size() == 2);
  CHECK(p->segments()[0].unit_cost == (300.0 + 110.0) / 4);
  CHECK(p->segments()[0].worst_price == 110);
  CHECK(p->segments()[1].unit_cost == 110);
  CHECK(p->capacity() == 8);  // 9 displayed, 2 whole lots.
  for (size_t i = 1; i < p->segments().size(); ++i) {
    CHECK(p->segments()[i - 1].unit_cost <= p->segments()[i].unit_cost);
  }
}

TEST_CASE("limit price and cap cut the curve", "[local_problem]") {
  auto v = MakeVenue("A", {{100, 5}, {101, 5}, {102, 5}});
  v.set_max_quantity(7);
  auto p = LocalProblem::Build(v, SIDE_BUY, 101, kNow);
  REQUIRE(p.ok());
  CHECK(p->capacity() == 7);
  auto none = LocalProblem::Build(MakeVenue("A", {{100, 5}}), SIDE_BUY, 99, kNow);
  REQUIRE_FALSE(none.ok());
  CHECK(std::string(none.status().message()) == "no liquidity within limit 99 (best ask 100)");
}

TEST_CASE("unusable books are refused with a specific reason", "[local_problem]") {
  auto reason = [](const exoroute::v1::VenueInput& v, int64_t now = kNow) {
    auto p = LocalProblem::Build(v, SIDE_BUY, std::nullopt, now);
    REQUIRE_FALSE(p.ok());
    return std::string(p.status().message());
  };
  CHECK(reason(MakeVenue("A", {{100, 5}}, {{100, 5}})) == "crossed book: best bid 100 >= best ask 100");
  CHECK(reason(MakeVenue("A", {{101, 5}, {100, 5}})) ==
        "malformed book: asks not strictly ascending at level 1");
  // A malformed side that is not walked does not matter beyond its best level.
  CHECK(LocalProblem::Build(MakeVenue("A", {{100, 5}}, {{90, 5}, {95, 5}}), SIDE_BUY, std::nullopt, kNow).ok());
  CHECK(reason(MakeVenue("A", {{100, 0}})) == "malformed book: asks[0] has price 100 size 0");
  CHECK(reason(MakeVenue("A", {}, {{99, 1}})) == "no asks in book");
  CHECK(reason(MakeVenue("A", {{100, 5}}), kNow + 6'000'000'000) ==
        "book stale: age 6.000 s > max 5.000 s");
  auto v = MakeVenue("A", {{100, 5}});
  v.set_exclusion("in the order's denied_venues");
  CHECK(reason(v) == "in the order's denied_venues");
  CHECK(reason(MakeVenue("A", {{100, 3}}, {}, 0, 4)) ==
        "less than one lot (4) available within limit and cap");
}

// What a walked side's levels must be, as the documentation states it, level by level: the first
// level that breaks a rule, named ("" when none does).
std::string FirstBadLevel(const std::vector<std::pair<int64_t, int64_t>>& levels, bool buy) {
  const std::string side = buy ? "asks" : "bids";
  constexpr int64_t kMax = int64_t{1} << 53;
  __int128 depth = 0;
  for (size_t i = 0; i < levels.size(); ++i) {
    const auto [price, size] = levels[i];
    const std::string at = side + "[" + std::to_string(i) + "]";
    if (price <= 0 || size <= 0) {
      return "malformed book: " + at + " has price " + std::to_string(price) + " size " + std::to_string(size);
    }
    if (price > kMax) return "malformed book: " + at + " price " + std::to_string(price) + " is beyond 2^53 units";
    if (size > kMax) return "malformed book: " + at + " size " + std::to_string(size) + " is beyond 2^53 units";
    if (i > 0 && (buy ? price <= levels[i - 1].first : price >= levels[i - 1].first)) {
      return "malformed book: " + side + " not strictly " + (buy ? "ascending" : "descending") + " at level " +
             std::to_string(i);
    }
    depth += size;
    if (depth > kMax) return "malformed book: " + side + " deeper than 2^53 units at level " + std::to_string(i);
  }
  return "";
}

TEST_CASE("a walked side is refused exactly when a level breaks a rule, naming the first that does, on either side",
          "[local_problem]") {
  // Well-formed sides with one or more levels spoiled: a price or size at or around 0, 2^53 and
  // the ends of int64, a price equal to or past the one before, sizes that sum past 2^53.
  constexpr int64_t kMax = int64_t{1} << 53;
  constexpr int64_t kTop = std::numeric_limits<int64_t>::max(), kBottom = std::numeric_limits<int64_t>::min();
  const std::vector<int64_t> odd = {0, -1, 1, kMax - 1, kMax, kMax + 1, kTop, kBottom, kMax / 2, kMax / 3};
  std::mt19937_64 rng(53);
  int refused = 0, built = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    const bool buy = trial % 2 == 0;
    const size_t n = 1 + rng() % 12;
    std::vector<std::pair<int64_t, int64_t>> levels;
    int64_t price = buy ? 1000 : 1000 + 20 * static_cast<int64_t>(n);
    for (size_t i = 0; i < n; ++i) {
      price += (buy ? 1 : -1) * static_cast<int64_t>(1 + rng() % 3);
      levels.emplace_back(price, static_cast<int64_t>(1 + rng() % 50));
    }
    for (uint64_t spoil = rng() % 3; spoil > 0; --spoil) {
      const size_t k = rng() % n;
      auto& [p, q] = levels[k];
      const uint64_t how = rng() % 5;
      if (how == 0) p = odd[rng() % odd.size()];
      if (how == 1) q = odd[rng() % odd.size()];
      if (how == 2 && k > 0) p = levels[k - 1].first;                          // Equal to the one before.
      if (how == 3 && k > 0) {  // Past it (wrapping at the ends of int64: a spoiled level before).
        p = static_cast<int64_t>(static_cast<uint64_t>(levels[k - 1].first) + (buy ? ~uint64_t{0} : 1));
      }
      if (how == 4) q = kMax / 2 + static_cast<int64_t>(rng() % 3) - 1;      // Deep.
    }
    exoroute::v1::VenueInput v = MakeVenue("A", {}, {});
    for (const auto& [p, q] : levels) {
      auto* l = buy ? v.mutable_book()->add_asks() : v.mutable_book()->add_bids();
      l->set_price(p);
      l->set_size(q);
    }
    const std::string want = FirstBadLevel(levels, buy);
    auto curve = exo::solver::VenueCurve::Build(v, buy ? SIDE_BUY : SIDE_SELL, 0);
    INFO("trial " << trial << (buy ? " asks" : " bids"));
    if (want.empty()) {
      // (A well-formed side may still be refused for what it is worth, never for a level.)
      if (!curve.ok()) CHECK(std::string(curve.status().message()).find("worth more than 2^62") != std::string::npos);
      if (curve.ok()) {
        ++built;
        const int64_t depth =
            std::accumulate(levels.begin(), levels.end(), int64_t{0}, [](int64_t a, auto l) { return a + l.second; });
        CHECK((*curve)->segments().back().end == depth);
      }
    } else {
      ++refused;
      REQUIRE_FALSE(curve.ok());
      CHECK(curve.status().code() == absl::StatusCode::kFailedPrecondition);
      CHECK(std::string(curve.status().message()) == want);
    }
  }
  // Both kinds, many of each.
  CHECK(refused > 5000);
  CHECK(built > 2000);
}

TEST_CASE("a book's age is right for receive times and age limits at the ends of int64", "[local_problem]") {
  // Found by fuzzing Solve (2026-12-02): the age was decision time − receive time in int64, so
  // a books file's receive_time_ns near −2^63 wrapped to a negative age (fresh), and a huge
  // max_book_age_ms wrapped its limit in nanoseconds (stale). Both are possible inputs:
  // `exoroutectl solve --books` takes receive_time_ns from the file, and the config bounds
  // max_book_age_ms only below.
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  auto v = MakeVenue("A", {{100, 5}});
  v.mutable_book()->set_receive_time_ns(kMin + 1);
  auto old = LocalProblem::Build(v, SIDE_BUY, std::nullopt, kNow);
  REQUIRE_FALSE(old.ok());
  CHECK(std::string(old.status().message()).rfind("book stale: age ", 0) == 0);
  // A limit beyond any age: never stale, however old.
  v.set_max_book_age_ms(kMax);
  CHECK(LocalProblem::Build(v, SIDE_BUY, std::nullopt, kNow).ok());
  v.mutable_book()->set_receive_time_ns(kNow - 10'000'000'000);
  CHECK(LocalProblem::Build(v, SIDE_BUY, std::nullopt, kNow).ok());
  // A book from the future (another clock) is not stale; one a day old is, under a day's limit.
  v.set_max_book_age_ms(86'400'000);
  v.mutable_book()->set_receive_time_ns(kMax);
  CHECK(LocalProblem::Build(v, SIDE_BUY, std::nullopt, kNow).ok());
  v.mutable_book()->set_receive_time_ns(kNow - 86'400'000'000'001);
  CHECK_FALSE(LocalProblem::Build(v, SIDE_BUY, std::nullopt, kNow).ok());
}

TEST_CASE("SameId agrees with string equality for ids of every length and every differing byte", "[local_problem]") {
  // The curve cache and the allocation rewrite compare ids with it (solver/internal/same_id.h):
  // a wrong answer would hand a venue another venue's curve.
  for (size_t n = 0; n <= 40; ++n) {
    std::string a(n, 'a');
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + (i * 7) % 26);
    const std::string same = a;
    CHECK(exo::solver::internal::SameId(a, same));
    CHECK_FALSE(exo::solver::internal::SameId(a, a + "x"));
    if (n > 0) CHECK_FALSE(exo::solver::internal::SameId(a, a.substr(0, n - 1)));
    for (size_t i = 0; i < n; ++i) {
      std::string b = a;
      b[i] = static_cast<char>(b[i] ^ 0x20);
      INFO("length " << n << ", byte " << i);
      CHECK_FALSE(exo::solver::internal::SameId(a, b));
      CHECK_FALSE(exo::solver::internal::SameId(b, a));
    }
  }
}

TEST_CASE("IdBefore orders ids as std::string does for every length and every differing byte", "[local_problem]") {
  // A decision's venues must be sorted by id (solver/internal/same_id.h checks it): a wrong
  // answer would refuse a sorted input or take an unsorted one.
  using exo::solver::internal::IdBefore;
  for (size_t n = 0; n <= 40; ++n) {
    std::string a(n, 'a');
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + (i * 7) % 26);
    CHECK_FALSE(IdBefore(a, a));
    CHECK(IdBefore(a, a + "x"));
    CHECK(IdBefore(a, a + std::string(1, '\0')));  // A prefix first, even before a zero byte.
    CHECK_FALSE(IdBefore(a + "x", a));
    for (size_t i = 0; i < n; ++i) {
      // Every differing byte, both ways, with bytes above 0x7f (ordered unsigned, as std::string).
      for (const char flip : {'\x20', '\x80', '\x01'}) {
        std::string b = a;
        b[i] = static_cast<char>(b[i] ^ flip);
        for (const std::string& tail : {std::string(), std::string("zz"), std::string(20, 'q')}) {
          const std::string longer = b + tail;
          INFO("length " << n << ", byte " << i << ", tail " << tail.size());
          CHECK(IdBefore(a, longer) == (a < longer));
          CHECK(IdBefore(longer, a) == (longer < a));
        }
      }
    }
  }
}

TEST_CASE("the book check answers as the plain loop for every length and every changed field", "[local_problem]") {
  // The curve cache keeps a venue's curve while this says its book is unchanged
  // (solver/internal/same_levels.h): a wrong yes would decide on another book's curve.
  using exo::solver::internal::PriceSize;
  using exo::solver::internal::SameLevels;
  using exo::solver::internal::SameLevelsPlain;
  std::mt19937_64 rng(11);
  for (size_t n = 0; n <= 40; ++n) {
    exoroute::v1::VenueBook book;
    std::vector<PriceSize> mine;
    for (size_t i = 0; i < n; ++i) {
      auto* l = book.add_asks();
      l->set_price(static_cast<int64_t>(rng() >> 11));
      l->set_size(static_cast<int64_t>(rng() >> 11));
      mine.emplace_back(l->price(), l->size());
    }
    const exoroute::v1::BookLevel* const* theirs = book.asks().data();
    INFO(n << " levels");
    CHECK(SameLevelsPlain(mine.data(), theirs, n));
    CHECK(SameLevels(mine.data(), theirs, n));
    // One field of one level changed in one low or one high bit.
    for (size_t i = 0; i < n; ++i) {
      for (const bool price : {true, false}) {
        for (const int bit : {0, 31, 32, 62}) {
          PriceSize& m = mine[i];
          (price ? m.first : m.second) ^= int64_t{1} << bit;
          INFO("level " << i << (price ? " price" : " size") << " bit " << bit);
          CHECK_FALSE(SameLevelsPlain(mine.data(), theirs, n));
          CHECK_FALSE(SameLevels(mine.data(), theirs, n));
          (price ? m.first : m.second) ^= int64_t{1} << bit;
        }
      }
    }
  }
}

TEST_CASE("NextDown and NextUp are std::nextafter's doubles, bit for bit", "[local_problem]") {
  // The dual search opens its bracket with them (solver/internal/ordered_double.h): another
  // double would be another decision's bytes.
  using exo::solver::internal::NextDown;
  using exo::solver::internal::NextUp;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> values = {0.0, -0.0, 1.0, -1.0, 0.1, -65000.25,
                                std::numeric_limits<double>::denorm_min(), -std::numeric_limits<double>::denorm_min(),
                                std::numeric_limits<double>::min(), -std::numeric_limits<double>::min(),
                                std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
                                kInf, -kInf, std::numeric_limits<double>::quiet_NaN()};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) values.push_back(std::bit_cast<double>(rng()));  // Every exponent, some NaN.
  auto bits = [](double d) { return std::bit_cast<uint64_t>(d); };
  for (const double v : values) {
    INFO("value bits " << bits(v));
    const double down = std::nextafter(v, -kInf), up = std::nextafter(v, kInf);
    if (std::isnan(v)) {
      CHECK(std::isnan(NextDown(v)));
      CHECK(std::isnan(NextUp(v)));
      continue;
    }
    CHECK(bits(NextDown(v)) == bits(down));
    CHECK(bits(NextUp(v)) == bits(up));
  }
}

// A child's segment named by the search (ChildFor's `near`) is checked before it is used: a
// right, a neighbouring, a wrong or no segment named gives the same child, bit for bit, for
// every lot of curves cut at a cap, with straddling lots and an impact term.
TEST_CASE("a child is the same whatever segment is named near it", "[local_problem]") {
  struct Case {
    exoroute::v1::VenueInput venue;
    exoroute::v1::Side side;
  };
  std::vector<Case> cases;
  cases.push_back({MakeVenue("A", {{100, 5}, {101, 5}, {103, 2}, {107, 9}}, {{99, 5}}, 10), SIDE_BUY});
  cases.push_back({MakeVenue("B", {{100, 3}, {110, 6}, {111, 5}}, {}, 0, /*lot=*/4), SIDE_BUY});
  cases.push_back({MakeVenue("C", {{101, 5}}, {{100, 3}, {99, 4}, {95, 8}}, -5, /*lot=*/2), SIDE_SELL});
  auto capped = MakeVenue("D", {{100, 5}, {101, 5}, {103, 20}}, {{99, 5}}, 10);
  capped.set_max_quantity(17);  // Cut inside the last usable run.
  cases.push_back({capped, SIDE_BUY});
  auto impact = MakeVenue("E", {{100, 5}, {101, 5}}, {{99, 5}}, 10);
  impact.set_impact_bps(3);
  cases.push_back({impact, SIDE_BUY});
  int named_right = 0;
  for (const Case& c : cases) {
    auto p = LocalProblem::Build(c.venue, c.side, std::nullopt, kNow, 1);
    REQUIRE(p.ok());
    const size_t n = p->segments().size();
    for (int64_t x = p->lot_size(); x <= p->capacity(); x += p->lot_size()) {
      const LocalProblem::Child want = p->ChildFor(x, 1);
      for (size_t near = 0; near <= n + 1; ++near) {
        const LocalProblem::Child got = p->ChildFor(x, 1, near);
        INFO(c.venue.venue() << " x " << x << " near " << near);
        CHECK(got.limit_price == want.limit_price);
        CHECK(got.expected_cost == want.expected_cost);
        CHECK(std::memcmp(&got.cost, &want.cost, sizeof(double)) == 0);
        named_right += p->LimitPriceFor(x) == p->segments()[std::min(near, n - 1)].worst_price ? 1 : 0;
      }
      const LocalProblem::Child none = p->ChildFor(x, 1, SIZE_MAX);
      CHECK(none.expected_cost == want.expected_cost);
    }
  }
  CHECK(named_right > 0);
}
