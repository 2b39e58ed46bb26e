// Decision latency of the exact solver: Solve() on N venues x 20 levels, from the proto input
// (building every LocalProblem included) to the Decision. Figures: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include "solver/solver.h"
#include "tests/solver/random_books.h"

namespace {

std::vector<exoroute::v1::SolveInput> Instances(int venues, int count) {
  std::mt19937_64 rng(1234 + venues);
  exo::testing::RandomBookShape shape;
  shape.min_venues = shape.max_venues = venues;
  shape.min_levels = shape.max_levels = 20;
  std::vector<exoroute::v1::SolveInput> out;
  for (int i = 0; i < count; ++i) {
    int64_t lot;
    auto in = exo::testing::RandomInput(rng, &lot, shape);
    in.clear_limit_price();
    int64_t total = 0;
    for (const auto& v : in.venues()) {
      for (const auto& l : (in.side() == exoroute::v1::SIDE_BUY ? v.book().asks() : v.book().bids())) {
        total += l.size();
      }
    }
    in.set_quantity(total / 2 / lot * lot);  // Half the displayed depth: an interior optimum.
    out.push_back(std::move(in));
  }
  return out;
}

void BM_SolveExact(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 64);
  size_t i = 0;
  uint64_t rounds = 0, solves = 0;
  for (auto _ : state) {
    auto d = exo::solver::Solve(inputs[i++ % inputs.size()]);
    benchmark::DoNotOptimize(d);
    rounds += d->stats().rounds();
    ++solves;
  }
  state.counters["rounds"] = static_cast<double>(rounds) / static_cast<double>(solves);
}
BENCHMARK(BM_SolveExact)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
