// ADMM's iterations to its 1e-6 duality-gap certificate, both variants (SolveInput.admm_variant),
// over random instances: 2–16 venues × 1–20 levels, 2–64 venues × 1–50 levels, and the same with
// sizes off the lot grid and mixed lot sizes, half with impact, four seeds of 2000 inputs each (those the books can fill: a shortfall has no gap to
// certify). Each ADMM decision is also compared with the exact method's: another quantity is
// printed; costs more than 1e-6 relative apart are counted, with the worst difference (with
// mixed lot sizes neither method is exact in whole lots: the plan is within a lot of the optimum). Figures: docs/BENCHMARKS.md.
//
// Usage: exo_admm_iterations_bench [inputs per seed and shape, default 2000]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "solver/solver.h"
#include "tests/solver/random_books.h"

using namespace exoroute::v1;  // NOLINT

namespace {

struct Tally {
  std::vector<uint32_t> iterations;
  int disagreements = 0;  // Another quantity, or a cost more than 1e-6 relative from exact's.
  double worst = 0;       // The largest relative cost difference from exact's.
  int zero_gap = 0;       // Decisions reporting an optimality gap of 0: the bound at their λ proves them.
  void Print(const char* what) {
    std::sort(iterations.begin(), iterations.end());
    const size_t n = iterations.size();
    const auto over = std::count_if(iterations.begin(), iterations.end(), [](uint32_t i) { return i > 100; });
    std::printf("  %-24s %5zu inputs  iterations median %3u  p90 %3u  p99 %3u  max %3u  over 100: %ld"
                "  |  cost off exact's by > 1e-6: %d (worst %.1e)  |  reported gap 0: %d\n",
                what, n, iterations[n / 2], iterations[n * 9 / 10], iterations[n * 99 / 100], iterations.back(),
                static_cast<long>(over), disagreements, worst, zero_gap);
  }
};

// Every price (and limit) × `price`, every size, lot, cap and the quantity × `size`.
void Scale(SolveInput* in, int64_t price, int64_t size) {
  for (auto& v : *in->mutable_venues()) {
    v.set_lot_size(v.lot_size() * size);
    if (v.max_quantity() > 0) v.set_max_quantity(v.max_quantity() * size);
    if (v.min_quantity() > 0) v.set_min_quantity(v.min_quantity() * size);
    for (auto* levels : {v.mutable_book()->mutable_asks(), v.mutable_book()->mutable_bids()}) {
      for (auto& l : *levels) {
        l.set_price(l.price() * price);
        l.set_size(l.size() * size);
      }
    }
  }
  if (in->has_limit_price()) in->set_limit_price(in->limit_price() * price);
  in->set_quantity(in->quantity() * size);
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 2000;
  // Kinds 3 and 4, stress shapes: kind 1's inputs with every price × 10 000 (the same problems
  // in other units: the balanced variant must take the same iterations) and with every size and
  // lot × 30 (the impact, set per unit, 30× stronger against the depth).
  for (const int kind : {0, 1, 2, 3, 4}) {
    const int max_venues = kind == 0 ? 16 : 64;
    exo::testing::RandomBookShape shape;
    shape.min_venues = 2;
    shape.max_venues = max_venues;
    shape.min_levels = 1;
    shape.max_levels = max_venues == 16 ? 20 : 50;
    shape.lot_aligned = kind != 2;  // The third: sizes off the lot grid, lot sizes mixed.
    shape.one_lot_size = kind != 2;
    shape.max_levels = kind == 0 ? 20 : 50;
    shape.max_lot = 5;
    Tally fixed, balanced;
    for (const uint64_t seed : {2718u, 1u, 2u, 3u}) {
      std::mt19937_64 rng(seed);
      for (int n = 0; n < count; ++n) {
        int64_t lot;
        SolveInput in = exo::testing::RandomInput(rng, &lot, shape);
        if (n % 2 == 0) {
          for (auto& v : *in.mutable_venues()) v.set_impact_bps(0.05 * static_cast<double>(1 + rng() % 40));
        }
        if (kind >= 3) Scale(&in, kind == 3 ? 10'000 : 1, kind == 4 ? 30 : 1);
        auto exact = exo::solver::Solve(in);
        if (!exact.ok()) return std::printf("exact: %s\n", exact.status().ToString().c_str()), 1;
        if (exact->shortfall() != 0) continue;
        in.set_method(SOLVER_METHOD_ADMM);
        for (const AdmmVariant variant : {ADMM_VARIANT_FIXED_RHO, ADMM_VARIANT_BALANCED}) {
          in.set_admm_variant(variant);
          auto admm = exo::solver::Solve(in);
          if (!admm.ok()) return std::printf("admm: %s\n", admm.status().ToString().c_str()), 1;
          Tally& t = variant == ADMM_VARIANT_BALANCED ? balanced : fixed;
          t.iterations.push_back(admm->stats().rounds());
          t.zero_gap += admm->stats().optimality_gap() == 0 ? 1 : 0;
          const double a = static_cast<double>(admm->expected_cost()), e = static_cast<double>(exact->expected_cost());
          const double off = std::fabs(a - e) / std::max(1.0, std::fabs(e));
          t.worst = std::max(t.worst, off);
          if (admm->allocated_quantity() != exact->allocated_quantity()) {
            std::printf("  seed %lu input %d (%s): ADMM placed %ld, exact %ld\n", static_cast<unsigned long>(seed), n,
                        AdmmVariant_Name(variant).c_str(), static_cast<long>(admm->allocated_quantity()),
                        static_cast<long>(exact->allocated_quantity()));
            ++t.disagreements;
          } else if (std::fabs(a - e) > 1e-6 * std::fabs(e) + 1) {  // (+1: costs are rounded to price units.)
            ++t.disagreements;
          }
        }
      }
    }
    const char* what[] = {"", "", ", sizes off the lot grid and mixed lot sizes", ", every price x 10 000",
                          ", every size and lot x 30 (impact 30x stronger)"};
    std::printf("2-%d venues x 1-%d levels%s, half with impact, seeds 2718 1 2 3:\n", max_venues, shape.max_levels,
                what[kind]);
    fixed.Print("ADMM_VARIANT_FIXED_RHO");
    balanced.Print("ADMM_VARIANT_BALANCED");
  }
  return 0;
}
