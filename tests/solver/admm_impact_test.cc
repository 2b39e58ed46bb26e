// The impact term and the ADMM method: exact (with impact) against an independent per-lot
// greedy reference, and ADMM against exact.
#include <catch2/catch.hpp>
#include <algorithm>
#include <map>

#include "solver/solver.h"
#include "tests/solver/random_books.h"

using exo::testing::RandomBookShape;
using exo::testing::RandomInput;
using namespace exoroute::v1;  // NOLINT

namespace {

RandomBookShape Shape() {
  RandomBookShape s;
  s.min_venues = 2;
  s.max_venues = 16;
  s.min_levels = 1;
  s.max_levels = 20;
  s.lot_aligned = true;
  s.max_lot = 5;
  return s;
}

void AddImpact(SolveInput& in, std::mt19937_64& rng) {
  for (auto& v : *in.mutable_venues()) v.set_impact_bps(0.05 * static_cast<double>(1 + rng() % 40));
}

// Per-lot marginal costs including impact, from the raw book, independently of the solver.
std::map<std::string, std::vector<double>> LotCosts(const SolveInput& in) {
  std::map<std::string, std::vector<double>> out;
  bool buy = in.side() == SIDE_BUY;
  for (const auto& v : in.venues()) {
    const auto& levels = buy ? v.book().asks() : v.book().bids();
    if (levels.empty()) continue;
    std::vector<double> units;
    for (const auto& l : levels) {
      if (in.has_limit_price() && (buy ? l.price() > in.limit_price() : l.price() < in.limit_price())) break;
      double c = buy ? l.price() * (1 + v.fee_bps() / 1e4) : -l.price() * (1 - v.fee_bps() / 1e4);
      for (int64_t k = 0; k < l.size(); ++k) units.push_back(c);
    }
    if (units.empty()) continue;
    double kappa = static_cast<double>(levels[0].price()) * v.impact_bps() / 1e4;  // qty_scale 0
    int64_t usable = static_cast<int64_t>(units.size());
    if (v.max_quantity() > 0) usable = std::min(usable, v.max_quantity());
    int64_t L = v.lot_size();
    auto& lots = out[v.venue()];
    for (int64_t j = 0; (j + 1) * L <= usable; ++j) {
      double s = 0;
      for (int64_t u = 0; u < L; ++u) s += units[j * L + u];
      s += kappa * static_cast<double>(L * L) * (static_cast<double>(j) + 0.5);  // impact of lot j
      lots.push_back(s);
    }
  }
  return out;
}

double CostOf(const SolveInput& in, const Decision& d) {
  auto lots = LotCosts(in);
  double cost = 0;
  for (const auto& a : d.allocations()) {
    const auto& l = lots.at(a.venue());
    int64_t L = 0;
    for (const auto& v : in.venues()) if (v.venue() == a.venue()) L = v.lot_size();
    for (int64_t j = 0; j < a.quantity() / L; ++j) cost += l[j];
  }
  return cost;
}

double Reference(const SolveInput& in, int64_t lot, int64_t* placed) {
  std::vector<double> all;
  for (auto& [v, l] : LotCosts(in)) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  int64_t n = std::min<int64_t>(in.quantity() / lot, static_cast<int64_t>(all.size()));
  *placed = n * lot;
  double c = 0;
  for (int64_t i = 0; i < n; ++i) c += all[i];
  return c;
}

}  // namespace

TEST_CASE("with impact, the exact method matches an independent per-lot optimum", "[solver][impact]") {
  std::mt19937_64 rng(4242);
  for (int n = 0; n < 500; ++n) {
    int64_t lot;
    SolveInput in = RandomInput(rng, &lot, Shape());
    AddImpact(in, rng);
    auto d = exo::solver::Solve(in);
    REQUIRE(d.ok());
    int64_t placed;
    double best = Reference(in, lot, &placed);
    INFO("instance " << n);
    CHECK(d->allocated_quantity() == placed);
    CHECK(CostOf(in, *d) == Approx(best).epsilon(1e-9).margin(1e-6));
  }
}

TEST_CASE("ADMM agrees with the exact method, with and without impact", "[solver][admm]") {
  std::mt19937_64 rng(2718);
  std::vector<uint32_t> iterations;
  for (int n = 0; n < 400; ++n) {
    int64_t lot;
    SolveInput in = RandomInput(rng, &lot, Shape());
    if (n % 2 == 0) AddImpact(in, rng);
    auto exact = exo::solver::Solve(in);
    in.set_method(SOLVER_METHOD_ADMM);
    auto admm = exo::solver::Solve(in);
    REQUIRE(exact.ok());
    REQUIRE(admm.ok());
    INFO("instance " << n << (n % 2 == 0 ? " with impact" : " piecewise linear"));
    CHECK(admm->stats().method() == SOLVER_METHOD_ADMM);
    CHECK(admm->stats().optimality_gap() >= 0);
    if (n % 2 == 1) CHECK(exact->stats().optimality_gap() == 0);  // Piecewise linear: exact.
    CHECK(admm->allocated_quantity() == exact->allocated_quantity());
    CHECK(CostOf(in, *admm) == Approx(CostOf(in, *exact)).epsilon(1e-6).margin(1e-6));
    if (exact->shortfall() == 0) iterations.push_back(admm->stats().rounds());
  }
  std::sort(iterations.begin(), iterations.end());
  REQUIRE_FALSE(iterations.empty());
  WARN("ADMM iterations: median " << iterations[iterations.size() / 2] << ", p90 "
                                  << iterations[iterations.size() * 9 / 10] << ", max "
                                  << iterations.back());
  CHECK(iterations[iterations.size() / 2] <= 100);
}
