// Properties of the exact solver against an independent LP solver (CLP) and under
// transformations that must not change the answer.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "exo/deterministic.h"
#include "solver/exact_dual.h"
#include "solver/solver.h"
#include "tests/solver/clp_reference.h"
#include "tests/solver/random_books.h"
#include "tests/solver/same_children.h"

using exo::testing::RandomBookShape;
using exo::testing::RandomInput;
using namespace exoroute::v1;  // NOLINT

namespace {

RandomBookShape Wide() {
  RandomBookShape s;
  s.min_venues = 2;
  s.max_venues = 64;
  s.min_levels = 1;
  s.max_levels = 50;
  s.lot_aligned = true;
  s.max_lot = 100;
  return s;
}

// Inputs of every shape the solver handles, the i-th of a series: Wide() books with mixed lot
// sizes, every third with impact, every fifth with minimum child sizes, every seventh with a
// venue limit.
SolveInput EveryShape(std::mt19937_64& rng, int i) {
  RandomBookShape shape = Wide();
  shape.one_lot_size = false;
  int64_t lot = 0;
  SolveInput in = RandomInput(rng, &lot, shape);
  if (i % 3 == 0) {
    for (auto& v : *in.mutable_venues()) v.set_impact_bps(0.01 * static_cast<double>(1 + rng() % 40));
  }
  if (i % 5 == 1) {
    for (auto& v : *in.mutable_venues()) v.set_min_quantity(static_cast<int64_t>(rng() % 3 == 0 ? 1 + rng() % 30 : 0));
  }
  if (i % 7 == 2) in.set_max_venues(static_cast<uint32_t>(1 + rng() % 4));
  return in;
}

// The decision's cost recomputed from the raw books (no solver code involved).
double BookCost(const SolveInput& in, const Decision& d) {
  std::map<std::string, int64_t> take;
  for (const auto& a : d.allocations()) take[a.venue()] = a.quantity();
  bool buy = in.side() == SIDE_BUY;
  double cost = 0;
  for (const auto& v : in.venues()) {
    int64_t left = take[v.venue()];
    double f = v.fee_bps() / 1e4;
    for (const auto& l : buy ? v.book().asks() : v.book().bids()) {
      if (left == 0) break;
      int64_t q = std::min(left, l.size());
      cost += q * (buy ? l.price() * (1 + f) : -l.price() * (1 - f));
      left -= q;
    }
  }
  return cost;
}

}  // namespace

TEST_CASE("the exact solver's cost equals CLP's LP optimum on 1000 random books", "[solver][clp]") {
  std::mt19937_64 rng(31337);
  int venues_seen_64 = 0;
  std::vector<uint32_t> rounds;
  for (int n = 0; n < 1000; ++n) {
    int64_t lot;
    SolveInput in = RandomInput(rng, &lot, Wide());
    if (in.venues_size() == 64) ++venues_seen_64;
    auto d = exo::solver::Solve(in);
    REQUIRE(d.ok());
    auto lp = exo::testing::SolveWithClp(in);
    INFO("instance " << n << ": " << in.venues_size() << " venues, lot " << lot << ", qty "
                     << in.quantity() << ", side " << in.side());
    REQUIRE(lp.ok);
    CHECK(d->allocated_quantity() == lp.placed);
    double ours = BookCost(in, *d);
    CHECK(ours == Approx(lp.cost).epsilon(1e-9).margin(1e-6));
    for (const auto& a : d->allocations()) CHECK(a.quantity() % lot == 0);
    if (d->shortfall() == 0) rounds.push_back(d->stats().rounds());
  }
  CHECK(venues_seen_64 > 0);
  std::sort(rounds.begin(), rounds.end());
  WARN("exact rounds: median " << rounds[rounds.size() / 2] << ", p90 "
                               << rounds[rounds.size() * 9 / 10] << ", max " << rounds.back());
  CHECK(rounds.back() <= 20);  // The goal: at most 20 rounds for any N <= 64.
}

TEST_CASE("each extra lot costs at least as much as the last, shares never shrink", "[solver]") {
  std::mt19937_64 rng(99);
  RandomBookShape shape = Wide();
  shape.max_venues = 12;
  for (int n = 0; n < 100; ++n) {
    int64_t lot;
    SolveInput in = RandomInput(rng, &lot, shape);
    in.clear_limit_price();
    double prev_cost = 0, prev_step = -1e300;
    std::map<std::string, int64_t> prev;
    for (int64_t q = lot; q <= 40 * lot; q += lot) {
      in.set_quantity(q);
      auto d = exo::solver::Solve(in);
      REQUIRE(d.ok());
      if (d->shortfall() > 0) break;
      double cost = BookCost(in, *d);
      double step = cost - prev_cost;  // What the last lot added (convexity: non-decreasing).
      CHECK(step >= prev_step - 1e-6 * std::fabs(step));
      prev_step = step;
      prev_cost = cost;
      // Without ties at the margin, no venue gives back quantity as Q grows.
      std::map<std::string, int64_t> now;
      for (const auto& a : d->allocations()) now[a.venue()] = a.quantity();
      int64_t dropped = 0;
      for (const auto& [venue, x] : prev) dropped += std::max<int64_t>(0, x - now[venue]);
      CHECK(dropped <= lot * static_cast<int64_t>(prev.size()));  // Only tie re-splits move lots.
      prev = now;
    }
  }
}

TEST_CASE("renaming venues (changing their order) changes nothing but the tie-break", "[solver]") {
  std::mt19937_64 rng(5);
  for (int n = 0; n < 200; ++n) {
    int64_t lot;
    SolveInput in = RandomInput(rng, &lot, Wide());
    // Reverse the order by renaming V000.. to Z999 downwards, then re-sort.
    SolveInput renamed = in;
    renamed.clear_venues();
    std::map<std::string, std::string> to_old;
    for (int i = in.venues_size() - 1; i >= 0; --i) {
      VenueInput v = in.venues(i);
      char name[16];
      std::snprintf(name, sizeof(name), "Z%03d", in.venues_size() - 1 - i);
      to_old[name] = v.venue();
      v.set_venue(name);
      *renamed.add_venues() = v;
    }
    auto a = exo::solver::Solve(in);
    auto b = exo::solver::Solve(renamed);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->allocated_quantity() == b->allocated_quantity());
    CHECK(BookCost(in, *a) == Approx(BookCost(renamed, *b)).epsilon(1e-12).margin(1e-6));
  }
}

TEST_CASE("identical bytes across runs and threads", "[solver][determinism]") {
  std::mt19937_64 rng(77);
  std::vector<SolveInput> inputs;
  for (int n = 0; n < 50; ++n) {
    int64_t lot;
    inputs.push_back(RandomInput(rng, &lot, Wide()));
  }
  std::vector<std::string> expected;
  for (const auto& in : inputs) expected.push_back(exo::solver::Solve(in)->SerializeAsString());
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int rep = 0; rep < 5; ++rep) {
        for (size_t i = 0; i < inputs.size(); ++i) {
          if (exo::solver::Solve(inputs[i])->SerializeAsString() != expected[i]) ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches == 0);
}

TEST_CASE("a decision owes nothing to the decisions before it on its thread", "[solver][determinism]") {
  // A thread keeps its decisions' venue problems for the next one (solver.cc): mix in what
  // changes their number and contents between decisions — venues excluded by the caller, stale
  // and crossed books, minimum child sizes and venue limits that drop venues, the cache on and off.
  std::mt19937_64 rng(123);
  std::vector<SolveInput> inputs;
  for (int n = 0; n < 120; ++n) {
    RandomBookShape shape = Wide();
    shape.max_venues = 12;
    int64_t lot;
    SolveInput in = RandomInput(rng, &lot, shape);
    for (int k = 0; k < in.venues_size(); ++k) {
      auto* v = in.mutable_venues(k);
      switch ((n + k) % 9) {
        case 0: v->set_exclusion("venue down"); break;
        case 1: v->mutable_book()->set_receive_time_ns(in.decision_time_ns() - 60'000'000'000); break;
        case 2:
          if (!v->book().bids().empty() && !v->book().asks().empty()) {
            v->mutable_book()->mutable_bids(0)->set_price(v->book().asks(0).price());
          }
          break;
        case 3: v->set_min_quantity(in.quantity() / 3 + 1); break;
        default: break;
      }
    }
    if (n % 4 == 0) in.set_max_venues(2);
    inputs.push_back(std::move(in));
  }
  // Each decided alone, on a thread of its own.
  std::vector<std::string> alone(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::thread([&, i] { alone[i] = exo::solver::Solve(inputs[i])->SerializeAsString(); }).join();
  }
  // All in turn on this thread, forwards and backwards, with and without a curve cache.
  exo::solver::CurveCache cache;
  int mismatches = 0, excluded = 0;
  for (int pass = 0; pass < 4; ++pass) {
    for (size_t j = 0; j < inputs.size(); ++j) {
      const size_t i = pass % 2 == 0 ? j : inputs.size() - 1 - j;
      auto d = exo::solver::Solve(inputs[i], pass < 2 ? nullptr : &cache);
      REQUIRE(d.ok());
      if (d->SerializeAsString() != alone[i]) ++mismatches;
      excluded += d->exclusions_size();
    }
  }
  CHECK(mismatches == 0);
  CHECK(excluded > 4 * 120);  // The inputs did exclude and drop venues.
}

TEST_CASE("curves kept in a shared cache give the same bytes as curves built from the input",
          "[solver][determinism][cache]") {
  // Limits, caps, mixed and unaligned lots, impact: every way an order cuts a venue's curve.
  std::mt19937_64 rng(91);
  std::vector<SolveInput> inputs;
  for (int n = 0; n < 300; ++n) {
    RandomBookShape shape = Wide();
    shape.max_venues = 16;
    shape.one_lot_size = n % 3 != 0;
    shape.lot_aligned = n % 2 == 0;
    shape.max_lot = 5;
    int64_t lot;
    SolveInput in = RandomInput(rng, &lot, shape);
    if (n % 5 == 0) {
      for (auto& v : *in.mutable_venues()) v.set_impact_bps(0.02);
    }
    // Seven symbols: the threads' lookups go to one another's symbols too.
    for (auto& v : *in.mutable_venues()) v.mutable_book()->set_symbol(absl::StrCat("SYM", n % 7));
    inputs.push_back(std::move(in));
  }
  std::vector<std::string> expected;
  for (const auto& in : inputs) expected.push_back(exo::solver::Solve(in)->SerializeAsString());

  exo::solver::CurveCache cache;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int rep = 0; rep < 3; ++rep) {
        for (size_t i = 0; i < inputs.size(); ++i) {
          if (exo::solver::Solve(inputs[i], &cache)->SerializeAsString() != expected[i]) ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches == 0);
}

TEST_CASE("a cached curve is reused for the same book and rebuilt when anything in it changes",
          "[solver][cache]") {
  std::mt19937_64 rng(5);
  RandomBookShape shape = Wide();
  shape.min_venues = shape.max_venues = 4;
  shape.min_levels = 5;
  int64_t lot;
  SolveInput in = RandomInput(rng, &lot, shape);
  in.clear_limit_price();
  exo::solver::CurveCache cache;
  REQUIRE(exo::solver::Solve(in, &cache).ok());
  const uint64_t first = cache.builds();
  CHECK(first == 4);

  // The same books again, and a different order on them (quantity, limit, caps): no build.
  in.set_quantity(in.quantity() / 2 / lot * lot + lot);
  in.mutable_venues(1)->set_max_quantity(lot);
  REQUIRE(exo::solver::Solve(in, &cache).ok());
  CHECK(cache.builds() == first);

  // A level size taken (same sequence number and receive time, as a simulated fill does), a fee
  // and an impact coefficient changed: each rebuilds exactly that venue, and the decision is
  // the one built from scratch.
  const bool buy = in.side() == SIDE_BUY;
  auto* book = in.mutable_venues(0)->mutable_book();
  auto* level = buy ? book->mutable_asks(0) : book->mutable_bids(0);
  level->set_size(level->size() + lot);
  in.mutable_venues(2)->set_fee_bps(in.venues(2).fee_bps() + 0.5);
  in.mutable_venues(3)->set_impact_bps(0.01);
  auto cached = exo::solver::Solve(in, &cache);
  REQUIRE(cached.ok());
  CHECK(cache.builds() == first + 3);
  CHECK(cached->SerializeAsString() == exo::solver::Solve(in)->SerializeAsString());

  // The other side of the same venues is its own curve.
  in.set_side(buy ? SIDE_SELL : SIDE_BUY);
  REQUIRE(exo::solver::Solve(in, &cache).ok());
  CHECK(cache.builds() == first + 7);
}

TEST_CASE("a cached curve is rebuilt when any one level's price or size changes in either half of its bits",
          "[solver][cache]") {
  // 11 levels: the book check reads four at a time, and the last three alone.
  SolveInput in = exo::testing::MakeInput(SIDE_BUY, 30);
  auto* v = in.add_venues();
  *v = exo::testing::MakeVenue("V", {}, {{50, 1}});
  for (int k = 0; k < 11; ++k) {
    auto* l = v->mutable_book()->add_asks();
    l->set_price(100 + 100 * k);
    l->set_size(5 + k);
  }
  exo::solver::CurveCache cache;
  REQUIRE(exo::solver::Solve(in, &cache).ok());
  uint64_t builds = cache.builds();
  REQUIRE(builds == 1);
  // Up by one (the low bits) and by 2^33 (the high ones): the book stays well formed either way.
  for (int k = 0; k < 11; ++k) {
    for (const bool price : {true, false}) {
      for (const int64_t step : {int64_t{1}, int64_t{1} << 33}) {
        CAPTURE(k, price, step);
        auto* l = v->mutable_book()->mutable_asks(k);
        const int64_t was = price ? l->price() : l->size();
        if (price && step > 1 && k < 10) continue;  // (Would pass the next level's price.)
        price ? l->set_price(was + step) : l->set_size(was + step);
        auto changed = exo::solver::Solve(in, &cache);
        REQUIRE(changed.ok());
        CHECK(cache.builds() == ++builds);
        CHECK(changed->SerializeAsString() == exo::solver::Solve(in)->SerializeAsString());
        price ? l->set_price(was) : l->set_size(was);
        REQUIRE(exo::solver::Solve(in, &cache).ok());
        CHECK(cache.builds() == ++builds);
        REQUIRE(exo::solver::Solve(in, &cache).ok());
        CHECK(cache.builds() == builds);  // Unchanged since: kept.
      }
    }
  }
}

TEST_CASE("a venue never decides on another venue's kept curve even when their books are the same",
          "[solver][cache]") {
  // Three venues with one book between them; the middle one then leaves the decision, so the
  // curve looked at first for the last venue is the middle one's.
  SolveInput all = exo::testing::MakeInput(SIDE_BUY, 12);
  for (const char* id : {"A", "B", "C"}) {
    *all.add_venues() = exo::testing::MakeVenue(id, {{100, 5}, {101, 5}, {103, 5}}, {{99, 4}});
  }
  SolveInput two = all;
  two.mutable_venues()->DeleteSubrange(1, 1);
  exo::solver::CurveCache cache;
  for (int rep = 0; rep < 2; ++rep) {
    for (const SolveInput* in : {&all, &two}) {
      auto cached = exo::solver::Solve(*in, &cache);
      REQUIRE(cached.ok());
      CHECK(cached->SerializeAsString() == exo::solver::Solve(*in)->SerializeAsString());
      CHECK(cached->allocations(cached->allocations_size() - 1).venue() == "C");
    }
  }
}

TEST_CASE("one venue's books for two instruments are kept side by side", "[solver][cache]") {
  std::mt19937_64 rng(8);
  RandomBookShape shape = Wide();
  shape.min_venues = shape.max_venues = 2;
  int64_t lot;
  SolveInput btc = RandomInput(rng, &lot, shape);
  SolveInput eth = RandomInput(rng, &lot, shape);
  eth.set_side(btc.side());
  for (auto& v : *btc.mutable_venues()) v.mutable_book()->set_symbol("BTC-USD");
  for (auto& v : *eth.mutable_venues()) v.mutable_book()->set_symbol("ETH-USD");
  exo::solver::CurveCache cache;
  for (int rep = 0; rep < 3; ++rep) {
    REQUIRE(exo::solver::Solve(btc, &cache).ok());
    REQUIRE(exo::solver::Solve(eth, &cache).ok());
  }
  CHECK(cache.builds() == 4);  // Built once each, never evicting one another.
  CHECK(exo::solver::Solve(eth, &cache)->SerializeAsString() ==
        exo::solver::Solve(eth)->SerializeAsString());
}

TEST_CASE("many symbols share one cache: each curve built once and every decision as built from its input",
          "[solver][cache]") {
  // Eight symbols over overlapping sets of venues (each leaves some out), both sides, decided in
  // turn in two orders: a lookup that went to another symbol's or venue's curve would change a
  // decision or rebuild one.
  std::mt19937_64 rng(57);
  RandomBookShape shape = Wide();
  shape.min_venues = shape.max_venues = 6;
  std::vector<SolveInput> inputs;
  size_t curves = 0;
  for (int n = 0; n < 8; ++n) {
    int64_t lot;
    SolveInput in = RandomInput(rng, &lot, shape);
    in.set_side(n % 2 == 0 ? SIDE_BUY : SIDE_SELL);
    for (auto& v : *in.mutable_venues()) v.mutable_book()->set_symbol(absl::StrCat("SYM", n / 2, "-USD"));
    in.mutable_venues()->DeleteSubrange(n % 5, 1 + n % 2);
    exo::solver::CurveCache alone;  // (Its venues with a curve: some books may have none.)
    REQUIRE(exo::solver::Solve(in, &alone).ok());
    curves += alone.builds();
    inputs.push_back(std::move(in));
  }
  REQUIRE(curves > 30);
  std::vector<std::string> expected;
  for (const auto& in : inputs) expected.push_back(exo::solver::Solve(in)->SerializeAsString());
  exo::solver::CurveCache cache;
  int mismatches = 0;
  for (int pass = 0; pass < 4; ++pass) {
    for (size_t j = 0; j < inputs.size(); ++j) {
      const size_t i = pass % 2 == 0 ? j : inputs.size() - 1 - j;
      auto d = exo::solver::Solve(inputs[i], &cache);
      REQUIRE(d.ok());
      if (d->SerializeAsString() != expected[i]) ++mismatches;
    }
    CHECK(cache.builds() == curves);  // Every (symbol, venue, side) once, never again.
  }
  CHECK(mismatches == 0);
}

namespace {

// The split a dual price gives (as SolveExactDual makes it, one lot size): below λ every venue's
// lo, the tie by one fraction in lots, the remainder lot by lot in venue order.
std::vector<int64_t> SplitAt(const std::vector<exo::solver::LocalProblem>& problems,
                             const exo::solver::DualPrice& price, int64_t quantity) {
  if (price.takes_all) {
    std::vector<int64_t> all;
    for (const auto& p : problems) all.push_back(p.capacity());
    return all;
  }
  const int64_t need = quantity - price.lo;
  std::vector<int64_t> spare;
  std::vector<int64_t> q = exo::solver::PlaceAtDualPrice(problems, price.lambda, need, price.hi - price.lo, need, &spare);
  int64_t placed = 0;
  std::vector<exo::solver::SpareVenue> spare_venues;
  for (size_t i = 0; i < problems.size(); ++i) {
    placed += q[i];
    spare_venues.push_back({problems[i].venue(), problems[i].lot_size(), spare[i]});
  }
  const std::vector<int64_t> extra = exo::solver::AssignRemainder(spare_venues, quantity - placed);
  for (size_t i = 0; i < problems.size(); ++i) q[i] += extra[i] * problems[i].lot_size();
  return q;
}

}  // namespace

TEST_CASE("opening λ given to the search change its path, never its answer", "[solver]") {
  // The cluster asks its first λ before the summary is known (daemon/cluster): wherever they
  // are, the search must end at a λ* that splits the order the same way. (Where the optimum
  // leaves λ* a range — the quantity ends exactly at a level — another path may end elsewhere in
  // it, or a rounding step apart: the split is the same.)
  std::mt19937_64 rng(77);
  int used = 0, ignored = 0;
  for (int i = 0; i < 400; ++i) {
    int64_t lot = 0;
    SolveInput in = RandomInput(rng, &lot, Wide());  // One lot size: SplitAt's remainder rule.
    const std::vector<exo::solver::LocalProblem> problems = exo::solver::BuildLocalProblems(in);
    if (problems.empty()) continue;
    exo::solver::VenueGroup plain(problems);
    const exo::solver::GroupSummary g = plain.Summary();
    auto want = exo::solver::FindDualPrice(plain, g, in.quantity());
    REQUIRE(want.ok());
    // Inside the bracket (anywhere in it), below it, at a breakpoint; two inside it.
    auto inside = [&] { return g.min_cost + static_cast<double>(rng() % 1000) / 1000 * (g.max_cost - g.min_cost); };
    const double x = inside(), y = inside();
    const std::vector<std::vector<double>> openings = {
        {inside()}, {g.min_cost - 1}, {problems[0].min_unit_cost()}, {std::min(x, y), std::max(x, y)}};
    for (const std::vector<double>& opening : openings) {
     for (const auto step : {exo::solver::SearchStep::kCentroid, exo::solver::SearchStep::kQuantile}) {
      const double first = opening.front();
      exo::solver::VenueGroup group(problems);
      exo::solver::SearchOptions options;
      options.step = step;
      options.opening = opening;
      auto got = exo::solver::FindDualPrice(group, g, in.quantity(), options);
      REQUIRE(got.ok());
      INFO("instance " << i << " first " << first << " of " << opening.size() << " quantile step " << (step == exo::solver::SearchStep::kQuantile));
      CHECK(got->takes_all == want->takes_all);
      CHECK(got->lo <= in.quantity());
      CHECK((got->takes_all || got->hi >= in.quantity()));
      CHECK(SplitAt(problems, *got, in.quantity()) == SplitAt(problems, *want, in.quantity()));
      CHECK(got->rounds <= 20);
      if (want->takes_all) continue;
      if (first > g.min_cost && first < g.max_cost) {
        CHECK(got->trajectory.front() == first);
        ++used;
      } else if (first < g.min_cost) {
        CHECK(got->trajectory.front() != first);
        ++ignored;
      }
     }
    }
  }
  CHECK(used > 1200);
  CHECK(ignored > 200);
}

TEST_CASE("a decision opened at the last λ* splits the same in one or two rounds", "[solver]") {
  // What a re-plan does (the engine passes the plan's last λ* as SolveInput.opening_lambda):
  // on the same books the split, costs and exclusions are the same as a search afresh, with
  // every shape of input (limits, caps, mixed lots, impact, minimum sizes, venue limits), and
  // any other opening changes only the rounds.
  std::mt19937_64 rng(79);
  int searched = 0;
  uint32_t rounds_afresh = 0, rounds_opened = 0, most_opened = 0;
  for (int i = 0; i < 1000; ++i) {
    SolveInput in = EveryShape(rng, i);
    double lambda = 0;
    auto afresh = exo::solver::Solve(in, nullptr, &lambda);
    REQUIRE(afresh.ok());
    INFO("instance " << i << " λ* " << lambda);
    // A venue dropped for its minimum size or the venue limit costs a search each (stats.rounds
    // adds them up), the first of them from the opening too.
    bool dropped = false;
    for (const auto& x : afresh->exclusions()) {
      dropped = dropped || x.reason().find("minimum child size") != std::string::npos ||
                x.reason().find("at most") != std::string::npos;
    }
    const double random_opening = lambda * (0.99 + static_cast<double>(rng() % 2000) / 100000);  // Within 1 %.
    for (const double opening : {lambda, random_opening, -lambda, 0.0}) {
      in.set_opening_lambda(opening);
      auto opened = exo::solver::Solve(in);
      REQUIRE(opened.ok());
      INFO("opening " << opening);
      exo::testing::CheckSameChildren(*opened, *afresh);
      // (Another opening inside the bracket sends the search down another path: sometimes a
      // few rounds longer, never to another split.)
      if (dropped || opening != lambda || afresh->stats().rounds() == 0) continue;
      ++searched;
      rounds_afresh += afresh->stats().rounds();
      rounds_opened += opened->stats().rounds();
      most_opened = std::max(most_opened, opened->stats().rounds());
    }
  }
  INFO("rounds afresh " << rounds_afresh << ", opened at λ* " << rounds_opened << " over " << searched);
  CHECK(searched > 500);
  CHECK(rounds_opened * 4 < rounds_afresh);
  CHECK(most_opened <= 2);  // λ* answers at once (or the breakpoint a rounding step above it).
}

TEST_CASE("the quantile step holds on supplies its density fits worst", "[solver]") {
  // The step models the undecided supply as one smooth density; these books are far from that:
  // half the levels a hundred times dearer (two clumps), prices growing exponentially, one level
  // holding nearly everything, sizes doubling level by level, every venue at the same prices.
  // The same children as the centroid step, at most 20 rounds, fewer on average.
  const char* kinds[] = {"two clumps", "exponential prices", "one huge level", "doubling sizes", "shared prices"};
  for (int kind = 0; kind < 5; ++kind) {
    std::mt19937_64 rng(90 + kind);
    uint64_t rounds[2] = {0, 0};
    uint32_t most = 0;
    int searched = 0;
    for (int n = 0; n < 500; ++n) {
      SolveInput in = exo::testing::MakeInput(SIDE_BUY, 1);
      const int venues = 2 + static_cast<int>(rng() % 40);
      int64_t total = 0;
      for (int v = 0; v < venues; ++v) {
        char id[8];
        std::snprintf(id, sizeof(id), "V%03d", v);
        VenueInput vi = exo::testing::MakeVenue(id, {}, {}, static_cast<double>(rng() % 50) / 10.0);
        const int levels = 1 + static_cast<int>(rng() % 30);
        int64_t price = 1000 + static_cast<int64_t>(rng() % 5);
        for (int k = 0; k < levels; ++k) {
          int64_t size = 1 + static_cast<int64_t>(rng() % 20);
          if (kind == 0) price = (k < levels / 2 ? 1000 : 100000) + k;
          if (kind == 1) price = 1000 + k + static_cast<int64_t>(std::pow(1.5, k));
          if (kind == 2) {
            if (k == 0) size = 1000000;
            price += 1 + static_cast<int64_t>(rng() % 3);
          }
          if (kind == 3) {
            size = int64_t{1} << std::min(k, 20);
            price += 1 + static_cast<int64_t>(rng() % 3);
          }
          if (kind == 4) price = 1000 + k;
          BookLevel* a = vi.mutable_book()->add_asks();
          a->set_price(price);
          a->set_size(size);
          total += size;
        }
        *in.add_venues() = vi;
      }
      in.set_quantity(1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(total)));
      auto centroid = exo::solver::Solve(in);
      in.set_dual_search(DUAL_SEARCH_QUANTILE);
      auto quantile = exo::solver::Solve(in);
      REQUIRE(centroid.ok());
      REQUIRE(quantile.ok());
      INFO(kinds[kind] << ", instance " << n);
      exo::testing::CheckSameChildren(*quantile, *centroid);
      if (centroid->stats().rounds() == 0) continue;
      ++searched;
      rounds[0] += centroid->stats().rounds();
      rounds[1] += quantile->stats().rounds();
      most = std::max(most, quantile->stats().rounds());
    }
    INFO(kinds[kind] << ": rounds centroid " << rounds[0] << ", quantile " << rounds[1] << ", most " << most);
    CHECK(searched > 400);
    CHECK(most <= 20);
    CHECK(rounds[1] * 10 < rounds[0] * 8);
  }
}

TEST_CASE("levels of the side an order does not walk beyond its best change no decision", "[solver]") {
  // What exorouted records of a book (daemon/solve_inputs.h, CopyDecidedBook): the walked side in
  // full and the other side's best level. A decision from that must be the decision from the
  // whole book, byte for byte, on every shape of input and with either search step.
  std::mt19937_64 rng(82);
  int trimmed_any = 0;
  for (int i = 0; i < 1000; ++i) {
    SolveInput in = EveryShape(rng, i);
    if (i % 2 == 0) in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);
    SolveInput trimmed = in;
    for (auto& v : *trimmed.mutable_venues()) {
      auto* other = in.side() == exoroute::v1::SIDE_BUY ? v.mutable_book()->mutable_bids() : v.mutable_book()->mutable_asks();
      if (other->size() > 1) ++trimmed_any;
      while (other->size() > 1) other->RemoveLast();
    }
    auto whole = exo::solver::Solve(in), cut = exo::solver::Solve(trimmed);
    REQUIRE(whole.ok());
    REQUIRE(cut.ok());
    INFO("instance " << i);
    CHECK(exo::SerializeDeterministic(*cut) == exo::SerializeDeterministic(*whole));
  }
  CHECK(trimmed_any > 1000);
}

TEST_CASE("the quantile step decides what the centroid step decides in fewer rounds", "[solver]") {
  // DUAL_SEARCH_QUANTILE (what exorouted decides with) against the centroid search that
  // decisions recorded before it were made with: the same children, costs, limits and
  // exclusions on every shape of input, afresh and opened at λ*.
  std::mt19937_64 rng(81);
  uint64_t rounds_centroid = 0, rounds_quantile = 0;
  uint32_t most = 0;
  int searched = 0;
  for (int i = 0; i < 1000; ++i) {
    SolveInput in = EveryShape(rng, i);
    double lambda = 0;
    auto centroid = exo::solver::Solve(in, nullptr, &lambda);
    REQUIRE(centroid.ok());
    in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);
    auto quantile = exo::solver::Solve(in);
    in.set_opening_lambda(lambda);
    auto opened = exo::solver::Solve(in);
    REQUIRE(quantile.ok());
    REQUIRE(opened.ok());
    INFO("instance " << i << " λ* " << lambda);
    for (const exoroute::v1::Decision* d : {&*quantile, &*opened}) exo::testing::CheckSameChildren(*d, *centroid);
    if (centroid->stats().rounds() == 0) continue;
    ++searched;
    rounds_centroid += centroid->stats().rounds();
    rounds_quantile += quantile->stats().rounds();
    if (centroid->exclusions_size() == 0) most = std::max(most, quantile->stats().rounds());
  }
  INFO("rounds: centroid " << rounds_centroid << ", quantile " << rounds_quantile << " over " << searched << " decisions; most " << most);
  CHECK(searched > 500);
  CHECK(rounds_quantile * 10 < rounds_centroid * 7);
  CHECK(most <= 20);
}

namespace {

// A group whose every Evaluate is a round trip, as a cluster's is: λ named to Lookahead are
// answered along with the next trip; a λ answered ahead costs none. Never narrowed, so any λ
// is answered right in any order.
class TripCountingOracle final : public exo::solver::DualOracle {
 public:
  explicit TripCountingOracle(const std::vector<exo::solver::LocalProblem>& problems) : group_(problems) {}
  absl::StatusOr<exo::solver::LocalProblem::Response> Evaluate(double lambda) override {
    for (const auto& [l, r] : ahead_) {
      if (l == lambda) return r;
    }
    ++trips;
    for (double l : next_) ahead_.emplace_back(l, *group_.Evaluate(l));
    next_.clear();
    return group_.Evaluate(lambda);
  }
  void Narrow(bool) override {}
  absl::StatusOr<double> NextBreakpoint(double lambda) override {
    ++trips;
    return group_.NextBreakpoint(lambda);
  }
  void Lookahead(std::span<const double> lambdas) override { next_.assign(lambdas.begin(), lambdas.end()); }
  int trips = 0;

 private:
  exo::solver::VenueGroup group_;
  std::vector<std::pair<double, exo::solver::LocalProblem::Response>> ahead_;
  std::vector<double> next_;
};

}  // namespace

namespace {

// A group that lies at its last steps, as a cluster's faulty node can: its next breakpoint lies
// far beyond every price, and the supply there is nothing.
class ShortPastTheBracket final : public exo::solver::DualOracle {
 public:
  explicit ShortPastTheBracket(const std::vector<exo::solver::LocalProblem>& problems) : group_(problems) {}
  absl::StatusOr<exo::solver::LocalProblem::Response> Evaluate(double lambda) override {
    if (lambda >= kFar) return exo::solver::LocalProblem::Response{};
    return group_.Evaluate(lambda);
  }
  void Narrow(bool) override {}
  absl::StatusOr<double> NextBreakpoint(double) override {
    ++asked;
    return kFar;
  }
  static constexpr double kFar = 1e15;
  int asked = 0;

 private:
  exo::solver::VenueGroup group_;
};

}  // namespace

TEST_CASE("a search whose answers are no supply fails saying so and never inverts its bracket", "[solver]") {
  // Found by fuzzing the coordinator (2026-12-03): short of Q at a breakpoint past the bracket's
  // upper end, the step finish moved the lower end there, and the bisection that followed
  // overflowed counting the doubles of an inverted bracket.
  std::mt19937_64 rng(91);
  int lied_to = 0;
  for (int i = 0; i < 400 && lied_to < 5; ++i) {
    int64_t lot = 0;
    SolveInput in = RandomInput(rng, &lot, Wide());
    const std::vector<exo::solver::LocalProblem> problems = exo::solver::BuildLocalProblems(in);
    if (problems.empty()) continue;
    ShortPastTheBracket oracle(problems);
    const exo::solver::GroupSummary g = exo::solver::VenueGroup(problems).Summary();
    exo::solver::SearchOptions options;
    options.step = exo::solver::SearchStep::kQuantile;
    options.finish = exo::solver::SearchFinish::kStepAndBisect;
    auto got = exo::solver::FindDualPrice(oracle, g, in.quantity(), options);
    if (oracle.asked == 0) continue;  // Found without stepping: the lie never came.
    ++lied_to;
    INFO("instance " << i);
    REQUIRE_FALSE(got.ok());
    CHECK(got.status().code() == absl::StatusCode::kInternal);
    CHECK_THAT(std::string(got.status().message()), Catch::Contains("past the bracket's upper end") &&
                                                        Catch::Contains("the answers are no supply"));
  }
  CHECK(lied_to == 5);
}

TEST_CASE("λ asked ahead with each round save round trips and never change the answer", "[solver]") {
  std::mt19937_64 rng(78);
  int trips_plain = 0, trips_ahead = 0, searched = 0;
  uint32_t max_rounds = 0, plain_max = 0;
  for (int i = 0; i < 400; ++i) {
    int64_t lot = 0;
    SolveInput in = RandomInput(rng, &lot, Wide());
    const std::vector<exo::solver::LocalProblem> problems = exo::solver::BuildLocalProblems(in);
    if (problems.empty()) continue;
    TripCountingOracle plain(problems), ahead(problems);
    const exo::solver::GroupSummary g = exo::solver::VenueGroup(problems).Summary();
    auto want = exo::solver::FindDualPrice(plain, g, in.quantity());
    exo::solver::SearchOptions options;
    options.lookahead = true;
    auto got = exo::solver::FindDualPrice(ahead, g, in.quantity(), options);
    REQUIRE(want.ok());
    REQUIRE(got.ok());
    INFO("instance " << i);
    CHECK(got->takes_all == want->takes_all);
    CHECK(SplitAt(problems, *got, in.quantity()) == SplitAt(problems, *want, in.quantity()));
    if (want->takes_all) continue;
    ++searched;
    trips_plain += plain.trips;
    trips_ahead += ahead.trips;
    max_rounds = std::max(max_rounds, got->rounds);
    plain_max = std::max(plain_max, want->rounds);
  }
  INFO("round trips without lookahead " << trips_plain << ", with " << trips_ahead << " over " << searched
                                        << " searches; most rounds " << max_rounds << " (without: " << plain_max << ")");
  CHECK(searched > 200);
  CHECK(trips_ahead * 5 < trips_plain * 3);  // At least two fifths fewer (1485 of 2678 when written).
  CHECK(max_rounds <= 20);
}

namespace {

// A VenueGroup that keeps the Lagrangian bound L(λ) = Σ_i min_x (f_i(x) − λx) + λQ at every λ
// the search asks: the dual objective, whose best value so far bounds the optimum from below.
class BoundRecordingGroup final : public exo::solver::DualOracle {
 public:
  BoundRecordingGroup(const std::vector<exo::solver::LocalProblem>& problems, int64_t quantity)
      : group_(problems), quantity_(quantity) {}
  absl::StatusOr<exo::solver::LocalProblem::Response> Evaluate(double lambda) override {
    auto r = group_.Evaluate(lambda);
    bounds.push_back(r->cost_lo - lambda * static_cast<double>(r->lo) + lambda * static_cast<double>(quantity_));
    return r;
  }
  void Narrow(bool lower) override { group_.Narrow(lower); }
  exo::solver::LocalProblem::Nearest Nearest() const override { return group_.Nearest(); }
  absl::StatusOr<double> NextBreakpoint(double lambda) override { return group_.NextBreakpoint(lambda); }
  exo::solver::GroupSummary Summary() const { return group_.Summary(); }
  std::vector<double> bounds;

 private:
  exo::solver::VenueGroup group_;
  int64_t quantity_;
};

}  // namespace

TEST_CASE("the exact search is within 1e-6 of the optimum in at most 20 rounds on every kind of book", "[solver]") {
  // The routing engine's goal: rounds to a 1e-6 relative gap <= 20 for any N <= 64. The gap
  // after k rounds is how far the best Lagrangian bound asked so far lies below the optimum
  // (the bound at λ*): piecewise-linear books and books with impact, one lot size and mixed.
  // The search then goes on to λ* exactly (the tie split needs it); those rounds are printed.
  // Both steps, on the same books: the quantile step also reaches λ* itself within 20 rounds,
  // and in well under the centroid's rounds on average.
  for (int kind = 0; kind < 4; ++kind) {
   const bool impact = kind % 2 == 1;
   RandomBookShape shape = Wide();
   shape.one_lot_size = kind < 2;
   uint64_t total_exact[2] = {0, 0};
   for (const auto step : {exo::solver::SearchStep::kCentroid, exo::solver::SearchStep::kQuantile}) {
    const bool quantile = step == exo::solver::SearchStep::kQuantile;
    std::mt19937_64 rng(80 + kind);
    std::vector<uint32_t> to_gap, to_exact;
    for (int i = 0; i < 1000; ++i) {
      int64_t lot = 0;
      SolveInput in = RandomInput(rng, &lot, shape);
      if (impact) {
        for (auto& v : *in.mutable_venues()) v.set_impact_bps(0.01 * static_cast<double>(1 + rng() % 40));
      }
      const auto problems = exo::solver::BuildLocalProblems(in);
      if (problems.empty()) continue;
      BoundRecordingGroup g(problems, in.quantity());
      exo::solver::SearchOptions options;
      options.step = step;
      auto price = exo::solver::FindDualPrice(g, g.Summary(), in.quantity(), options);
      REQUIRE(price.ok());
      if (price->takes_all) continue;
      const double opt = g.bounds.back();
      double best = -std::numeric_limits<double>::infinity();
      uint32_t k = 0;
      for (; k < g.bounds.size(); ++k) {
        best = std::max(best, g.bounds[k]);
        if (opt - best <= 1e-6 * std::fabs(opt)) break;
      }
      to_gap.push_back(k + 1);
      to_exact.push_back(price->rounds);
      total_exact[quantile] += price->rounds;
    }
    std::sort(to_gap.begin(), to_gap.end());
    std::sort(to_exact.begin(), to_exact.end());
    CHECK(to_gap.size() > 500);  // (The others take everything: no search.)
    CHECK(to_gap.back() <= 20);
    if (quantile) CHECK(to_exact.back() <= 20);
    WARN((quantile ? "quantile" : "centroid") << " step, mixed lots " << (kind >= 2) << ", impact " << impact << ": rounds to a 1e-6 gap: median " << to_gap[to_gap.size() / 2] << " p90 " << to_gap[to_gap.size() * 9 / 10] << " max " << to_gap.back()
                   << "; to λ* exactly: median " << to_exact[to_exact.size() / 2] << " p90 " << to_exact[to_exact.size() * 9 / 10] << " max " << to_exact.back());
   }
   INFO("rounds to λ* over all books: centroid " << total_exact[0] << ", quantile " << total_exact[1]);
   CHECK(total_exact[1] * 10 < total_exact[0] * 7);  // Under 70 % of the centroid's.
  }
}

TEST_CASE("inputs with numbers of every size decide or are refused and never overflow", "[solver][robustness]") {
  // Values near zero, at and around the 2^53 bound, and up to int64's ends, in every field the
  // solver reads (run under ./test.sh --sanitize, any overflow aborts). A decision is either
  // refused as InvalidArgument naming a field of solve_input, or consistent.
  std::mt19937_64 rng(4242);
  const int64_t kMax = int64_t{1} << 53;
  auto any = [&]() -> int64_t {
    switch (rng() % 8) {
      case 0: return static_cast<int64_t>(rng() % 5) - 2;
      case 1: return kMax - static_cast<int64_t>(rng() % 3) + 1;
      case 2: return std::numeric_limits<int64_t>::max() - static_cast<int64_t>(rng() % 3);
      case 3: return std::numeric_limits<int64_t>::min() + static_cast<int64_t>(rng() % 3);
      case 4: {  // (Two statements: one expression would leave the calls' order to the compiler.)
        const uint64_t shift = 1 + rng() % 63;
        return static_cast<int64_t>(rng() >> shift);
      }
      default: return 1 + static_cast<int64_t>(rng() % 1000);
    }
  };
  int decided = 0, refused = 0;
  for (int n = 0; n < 3000; ++n) {
    SolveInput in = exo::testing::MakeInput(rng() % 2 ? SIDE_BUY : SIDE_SELL, any());
    in.mutable_instrument()->set_qty_scale(static_cast<uint32_t>(rng() % 14));
    in.mutable_instrument()->set_price_scale(static_cast<uint32_t>(rng() % 14));
    if (rng() % 3 == 0) in.set_limit_price(any());
    if (rng() % 4 == 0) in.set_max_venues(static_cast<uint32_t>(rng() % 4));
    if (rng() % 5 == 0) in.set_method(exoroute::v1::SOLVER_METHOD_ADMM);
    const int venues = 1 + static_cast<int>(rng() % 4);
    for (int v = 0; v < venues; ++v) {
      auto* vi = in.add_venues();
      vi->set_venue(std::string(1, static_cast<char>('A' + v)));
      vi->set_lot_size(rng() % 4 == 0 ? any() : 1 + static_cast<int64_t>(rng() % 3));
      const double fees[] = {0, 2.5, -1000, 1000, -20000, 1e300, std::numeric_limits<double>::quiet_NaN()};
      vi->set_fee_bps(fees[rng() % 7]);
      if (rng() % 4 == 0) vi->set_impact_bps(fees[rng() % 7]);
      if (rng() % 4 == 0) vi->set_max_quantity(any());
      if (rng() % 4 == 0) vi->set_min_quantity(any());
      auto* b = vi->mutable_book();
      b->set_receive_time_ns(exo::testing::kNow);
      int64_t ask = any(), bid = any();
      for (int l = 0; l < 1 + static_cast<int>(rng() % 4); ++l) {
        auto* a = b->add_asks();
        a->set_price(ask);
        a->set_size(any());
        auto* d = b->add_bids();
        d->set_price(bid);
        d->set_size(any());
        ask = rng() % 2 ? any() : ask + 1 + static_cast<int64_t>(rng() % 3);
        bid = rng() % 2 ? any() : bid - 1 - static_cast<int64_t>(rng() % 3);
      }
    }
    auto d = exo::solver::Solve(in);
    if (!d.ok()) {
      ++refused;
      INFO(in.ShortDebugString() << "\n-> " << d.status());
      REQUIRE(d.status().code() == absl::StatusCode::kInvalidArgument);
      REQUIRE(d.status().message().rfind("solve_input", 0) == 0);
      continue;
    }
    ++decided;
    INFO(in.ShortDebugString() << "\n-> " << d->ShortDebugString());
    int64_t placed = 0;
    for (const auto& a : d->allocations()) {
      REQUIRE(a.quantity() > 0);
      placed += a.quantity();
    }
    REQUIRE(placed == d->allocated_quantity());
    REQUIRE(d->allocated_quantity() + d->shortfall() == in.quantity());
    REQUIRE(d->shortfall() >= 0);
    for (const auto& e : d->exclusions()) REQUIRE_FALSE(e.reason().empty());
  }
  CHECK(decided > 500);
  CHECK(refused > 500);
}

TEST_CASE("the bisecting finish splits as the step-by-step finish in a bounded number of rounds", "[solver]") {
  // SolveInput.dual_finish: once the bracket is as narrow as rounding allows, the search used
  // to step over the breakpoints left one at a time; with an impact term and fine lots every
  // lot is one, and the search took ~1500 rounds. Each step now also bisects what is left by
  // count of doubles. The split is the same venue by venue, on random books (price levels and
  // impact, mixed lots) and on books of 10^10–10^12 one-unit lots; there the new finish takes
  // a bounded number of rounds.
  auto decide = [](SolveInput in, exoroute::v1::DualFinish finish) {
    in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);
    in.set_dual_finish(finish);
    auto d = exo::solver::Solve(in);
    REQUIRE(d.ok());
    return *std::move(d);
  };
  auto same_split = [](const exoroute::v1::Decision& a, const exoroute::v1::Decision& b) {
    REQUIRE(a.allocations_size() == b.allocations_size());
    for (int k = 0; k < a.allocations_size(); ++k) {
      CHECK(a.allocations(k).venue() == b.allocations(k).venue());
      CHECK(a.allocations(k).quantity() == b.allocations(k).quantity());
    }
  };
  std::mt19937_64 rng(777);
  uint64_t rounds_stepped = 0, rounds_bisected = 0;
  for (int n = 0; n < 1000; ++n) {
    RandomBookShape shape = Wide();
    shape.one_lot_size = n % 3 != 0;
    int64_t lot = 0;
    SolveInput in = RandomInput(rng, &lot, shape);
    if (n % 2 == 0) {
      for (auto& v : *in.mutable_venues()) v.set_impact_bps(0.01 * static_cast<double>(1 + rng() % 40));
    }
    const auto stepped = decide(in, exoroute::v1::DUAL_FINISH_STEP);
    const auto bisected = decide(in, exoroute::v1::DUAL_FINISH_STEP_AND_BISECT);
    INFO("book " << n);
    same_split(stepped, bisected);
    rounds_stepped += stepped.stats().rounds();
    rounds_bisected += bisected.stats().rounds();
  }
  // On ordinary books the finish is rarely reached with more than one breakpoint left: the
  // bisections cost next to nothing there.
  WARN("random books: " << rounds_stepped << " rounds stepped, " << rounds_bisected << " bisected");
  CHECK(rounds_bisected * 100 <= rounds_stepped * 105);
  uint32_t most_stepped = 0, most_bisected = 0;
  for (int n = 0; n < 12; ++n) {
    const SolveInput in = exo::testing::FineLotInput(rng, 1 + n % 4, 10 + static_cast<uint32_t>(n % 3));
    const auto stepped = decide(in, exoroute::v1::DUAL_FINISH_STEP);
    const auto bisected = decide(in, exoroute::v1::DUAL_FINISH_STEP_AND_BISECT);
    INFO("fine-lot book " << n << ": " << stepped.stats().rounds() << " rounds stepped, " << bisected.stats().rounds() << " bisected");
    CHECK(bisected.shortfall() == 0);
    same_split(stepped, bisected);
    CHECK(bisected.stats().rounds() <= 100);
    most_stepped = std::max(most_stepped, stepped.stats().rounds());
    most_bisected = std::max(most_bisected, bisected.stats().rounds());
  }
  WARN("fine lots: at most " << most_stepped << " rounds stepped, " << most_bisected << " bisected");
  CHECK(most_stepped > 200);  // The books do reach the finish with many breakpoints left.
}
