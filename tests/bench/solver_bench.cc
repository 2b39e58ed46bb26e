// Decision latency of the exact solver: Solve() on N venues x 20 levels, from the proto input to
// the Decision, with each venue's curve kept per book as the daemon keeps it (BM_Solve), and with
// every curve built from the proto books first (BM_SolveBuildingCurves: every book just changed).
// Figures: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <memory>

#include "solver/exact_dual.h"
#include "solver/local_problem.h"
#include "solver/solver.h"
#include "tests/solver/clp_reference.h"
#include "tests/solver/random_books.h"

namespace {

std::vector<exoroute::v1::SolveInput> Instances(int venues, int count) {
  std::mt19937_64 rng(1234 + venues);
  exo::testing::RandomBookShape shape;
  shape.min_venues = shape.max_venues = venues;
  shape.min_levels = shape.max_levels = 20;
  shape.lot_aligned = true;  // Displayed sizes are whole lots, as on real venues.
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

// Every usable venue's curve, as Solve() builds them.
std::vector<exo::solver::LocalProblem> BuildAll(const exoroute::v1::SolveInput& in) {
  std::vector<exo::solver::LocalProblem> out;
  for (const auto& v : in.venues()) {
    auto p = exo::solver::LocalProblem::Build(v, in.side(), std::nullopt, in.decision_time_ns());
    if (p.ok()) out.push_back(*std::move(p));
  }
  return out;
}

void BM_Solve(benchmark::State& state, exoroute::v1::SolverMethod method, const char* counter) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 64);
  for (auto& in : inputs) in.set_method(method);
  // One cache per instance (each stands for another moment's books), warmed by a first decision.
  std::vector<std::unique_ptr<exo::solver::CurveCache>> caches;
  for (const auto& in : inputs) {
    caches.push_back(std::make_unique<exo::solver::CurveCache>());
    benchmark::DoNotOptimize(exo::solver::Solve(in, caches.back().get()));
  }
  size_t i = 0;
  uint64_t rounds = 0, solves = 0;
  for (auto _ : state) {
    const size_t k = i++ % inputs.size();
    auto d = exo::solver::Solve(inputs[k], caches[k].get());
    benchmark::DoNotOptimize(d);
    rounds += d->stats().rounds();
    ++solves;
  }
  state.counters[counter] = static_cast<double>(rounds) / static_cast<double>(solves);
}
BENCHMARK_CAPTURE(BM_Solve, Exact, exoroute::v1::SOLVER_METHOD_EXACT, "rounds")
    ->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Solve, Admm, exoroute::v1::SOLVER_METHOD_ADMM, "iterations")
    ->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// The same instances through an LP solver (CLP: build the model + dual simplex), for scale.
void BM_ClpSameInstances(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 64);
  size_t i = 0;
  for (auto _ : state) {
    auto r = exo::testing::SolveWithClp(inputs[i++ % inputs.size()]);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ClpSameInstances)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// Every venue's curve built from its proto book first: a decision right after every book changed.
void BM_SolveBuildingCurves(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 64);
  size_t i = 0;
  for (auto _ : state) {
    auto d = exo::solver::Solve(inputs[i++ % inputs.size()]);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_SolveBuildingCurves)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// One instance over and over, curves kept: the latency with everything hot in the CPU cache.
void BM_SolveExactHot(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 1);
  exo::solver::CurveCache cache;
  for (auto _ : state) {
    auto d = exo::solver::Solve(inputs[0], &cache);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_SolveExactHot)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// CLP on that same one instance over and over, for the side-by-side ratio with everything hot.
void BM_ClpHot(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) {
    auto r = exo::testing::SolveWithClp(inputs[0]);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ClpHot)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// The two halves of a decision: building each venue's curve from the book, and the dual
// coordination over the built curves.
void BM_BuildLocalProblems(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 64);
  size_t i = 0;
  for (auto _ : state) {
    auto problems = BuildAll(inputs[i++ % inputs.size()]);
    benchmark::DoNotOptimize(problems);
  }
}
BENCHMARK(BM_BuildLocalProblems)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

void BM_ExactDualOnly(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 64);
  std::vector<std::vector<exo::solver::LocalProblem>> built;
  for (const auto& in : inputs) built.push_back(BuildAll(in));
  size_t i = 0;
  for (auto _ : state) {
    size_t k = i++ % inputs.size();
    auto sol = exo::solver::SolveExactDual(built[k], inputs[k].quantity());
    benchmark::DoNotOptimize(sol);
  }
}
BENCHMARK(BM_ExactDualOnly)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  // Which malloc served the run (exo_allocator in CMakeLists.txt): the figures depend on it.
  benchmark::AddCustomContext("allocator", dlsym(RTLD_DEFAULT, "tc_malloc") != nullptr ? "tcmalloc" : "system malloc");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
