// Decision latency of the exact solver: Solve() on N venues x 20 levels, from the proto input to
// the Decision, with each venue's curve kept per book as the daemon keeps it (BM_Solve), and with
// every curve built from the proto books first (BM_SolveBuildingCurves: every book just changed).
// Figures: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <ClpSimplex.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "solver/exact_dual.h"
#include "solver/internal/lot_fill.h"
#include "solver/internal/same_levels.h"
#include "solver/local_problem.h"
#include "solver/solver.h"
#include "tests/solver/clp_reference.h"
#include "tests/solver/random_books.h"

namespace {

std::vector<exoroute::v1::SolveInput> Instances(int venues, int count, int levels = 20) {
  std::mt19937_64 rng(1234 + venues);
  exo::testing::RandomBookShape shape;
  shape.min_venues = shape.max_venues = venues;
  shape.min_levels = shape.max_levels = levels;
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
    in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);  // As exorouted decides.
    in.set_dual_finish(exoroute::v1::DUAL_FINISH_STEP_AND_BISECT);
    in.set_mid_rule(exoroute::v1::MID_RULE_MARKET);
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
  for (auto& in : inputs) {
    in.set_method(method);
    if (method == exoroute::v1::SOLVER_METHOD_ADMM) in.set_admm_variant(exoroute::v1::ADMM_VARIANT_BALANCED_AT_PRICE);  // As exorouted.
  }
  // One cache per instance (each stands for another moment's books), warmed by a first decision.
  std::vector<std::unique_ptr<exo::solver::CurveCache>> caches;
  for (const auto& in : inputs) {
    caches.push_back(std::make_unique<exo::solver::CurveCache>());
    benchmark::DoNotOptimize(exo::solver::Solve(in, caches.back().get()));
  }
  size_t i = 0;
  uint64_t rounds = 0, solves = 0;
  exoroute::v1::Decision d;  // Reused, as the engine reuses one per thread.
  for (auto _ : state) {
    const size_t k = i++ % inputs.size();
    benchmark::DoNotOptimize(exo::solver::SolveInto(inputs[k], &d, caches[k].get()));
    rounds += d.stats().rounds();
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

// One decision of the timed loops below, and nothing else: callgrind counts its instructions
// (`--toggle-collect='*DecideOnce*'`) without the set-up's decisions.
[[gnu::noinline]] absl::Status DecideOnce(const exoroute::v1::SolveInput& in, exoroute::v1::Decision* d,
                                          exo::solver::CurveCache* cache) {
  return exo::solver::SolveInto(in, d, cache);
}

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

// The same on one instance over and over: every curve built, the input in the core's caches as
// exorouted has it (it copies the books into the input just before it decides). The daemon's
// decision right after every book moved; BM_SolveBuildingCurves reads its inputs from memory.
void BM_SolveBuildingCurvesHot(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 1);
  exoroute::v1::Decision d;
  for (auto _ : state) benchmark::DoNotOptimize(DecideOnce(inputs[0], &d, nullptr));
}
BENCHMARK(BM_SolveBuildingCurvesHot)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// Decides `inputs` in turn with one curve cache and one reused Decision, as the engine does
// (the cache warmed by one pass first); reports the mean rounds.
void DecideCycled(benchmark::State& state, const std::vector<exoroute::v1::SolveInput>& inputs) {
  exo::solver::CurveCache cache;
  exoroute::v1::Decision d;
  for (const auto& in : inputs) benchmark::DoNotOptimize(exo::solver::SolveInto(in, &d, &cache));
  size_t i = 0;
  uint64_t rounds = 0, solves = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(DecideOnce(inputs[i++ % inputs.size()], &d, &cache));
    rounds += d.stats().rounds();
    ++solves;
  }
  state.counters["rounds"] = static_cast<double>(rounds) / static_cast<double>(solves);
}

// BM_Solve/Exact's 64 instances and caches, each decision's input read through first, outside
// the timing (every level of both sides, as exorouted has just written them when it assembles
// the input): its kept curves come from memory, its input from the core's caches. The case of a
// desk deciding on many symbols, each decision's curves last used many decisions before.
// (Pausing the timer costs about half a microsecond a decision, in the figure: 64 venues only.)
void BM_SolveInputHotCurvesCold(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 64);
  std::vector<std::unique_ptr<exo::solver::CurveCache>> caches;
  for (const auto& in : inputs) {
    caches.push_back(std::make_unique<exo::solver::CurveCache>());
    benchmark::DoNotOptimize(exo::solver::Solve(in, caches.back().get()));
  }
  size_t i = 0;
  exoroute::v1::Decision d;
  for (auto _ : state) {
    const size_t k = i++ % inputs.size();
    state.PauseTiming();
    int64_t read = 0;
    for (const auto& v : inputs[k].venues()) {
      for (const auto& l : v.book().bids()) read += l.price() ^ l.size();
      for (const auto& l : v.book().asks()) read += l.price() ^ l.size();
      read += static_cast<int64_t>(v.venue().size());
    }
    benchmark::DoNotOptimize(read);
    state.ResumeTiming();
    benchmark::DoNotOptimize(DecideOnce(inputs[k], &d, caches[k].get()));
  }
}
BENCHMARK(BM_SolveInputHotCurvesCold)->Arg(64)->Unit(benchmark::kMicrosecond);

// A desk routing many symbols: `symbols` instances (one symbol each, over the same venues) decided
// in turn with one curve cache, as exorouted keeps one for all its symbols ({venues, symbols}).
// Each decision's curves were last used `symbols` decisions before.
void BM_SolveManySymbols(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (auto& v : *inputs[i].mutable_venues()) v.mutable_book()->set_symbol(absl::StrCat("SYM", i, "-USD"));
  }
  DecideCycled(state, inputs);
}
BENCHMARK(BM_SolveManySymbols)->ArgsProduct({{4, 16, 64}, {1, 16, 64}})->Unit(benchmark::kMicrosecond);

// One instance over and over, curves kept: the latency with everything hot in the CPU cache (a
// plan's first decision: the search starts from the whole book).
void BM_SolveExactHot(benchmark::State& state) {
  DecideCycled(state, Instances(static_cast<int>(state.range(0)), 1));
}
BENCHMARK(BM_SolveExactHot)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// Deeper books ({venues, levels per side}; 50 is a WebSocket feed's default depth): the same
// decision with its curves kept (BM_SolveExactHot) and with every curve built
// (BM_SolveBuildingCurves). docs/deployment.md, "Sizing".
void BM_SolveExactHotDepth(benchmark::State& state) {
  DecideCycled(state, Instances(static_cast<int>(state.range(0)), 1, static_cast<int>(state.range(1))));
}
BENCHMARK(BM_SolveExactHotDepth)->ArgsProduct({{4, 16, 64}, {20, 50}})->Unit(benchmark::kMicrosecond);
void BM_SolveBuildingCurvesDepth(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 64, static_cast<int>(state.range(1)));
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(exo::solver::Solve(inputs[i++ % inputs.size()]));
}
BENCHMARK(BM_SolveBuildingCurvesDepth)->ArgsProduct({{4, 16, 64}, {20, 50}})->Unit(benchmark::kMicrosecond);

// The same with the centroid step (DUAL_SEARCH_CENTROID: decisions recorded before the
// quantile step, as replay re-runs them).
void BM_SolveExactHotCentroid(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 1);
  inputs[0].clear_dual_search();
  DecideCycled(state, inputs);
}
BENCHMARK(BM_SolveExactHotCentroid)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// A re-plan on that same instance: the search opens at the λ* of the decision before it
// (SolveInput.opening_lambda, as the engine sets it), the books unchanged since.
void BM_SolveExactReplanHot(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 1);
  double lambda = 0;
  if (!exo::solver::Solve(inputs[0], nullptr, &lambda).ok()) std::abort();
  inputs[0].set_opening_lambda(lambda);
  DecideCycled(state, inputs);
}
BENCHMARK(BM_SolveExactReplanHot)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// Re-plans on moving books: between two decisions one venue's book changed (three of its
// levels resized by up to two lots) and a lot or two of the order filled; each decision opens
// at the λ* of the one before. 64 such steps, cycled, with one curve cache (the changed venue's
// curve is rebuilt, the others kept).
std::vector<exoroute::v1::SolveInput> ReplanSteps(int venues, int steps) {
  exoroute::v1::SolveInput in = Instances(venues, 1)[0];
  std::mt19937_64 rng(99 + venues);
  const int64_t lot = in.venues(0).lot_size();
  std::vector<exoroute::v1::SolveInput> out;
  exo::solver::CurveCache cache;
  double lambda = 0;
  for (int i = 0; i < steps; ++i) {
    auto* v = in.mutable_venues(static_cast<int>(rng() % static_cast<uint64_t>(venues)));
    auto* side = in.side() == exoroute::v1::SIDE_BUY ? v->mutable_book()->mutable_asks()
                                                     : v->mutable_book()->mutable_bids();
    for (int k = 0; k < 3; ++k) {
      auto* l = side->Mutable(static_cast<int>(rng() % static_cast<uint64_t>(side->size())));
      l->set_size(std::max<int64_t>(lot, l->size() + (static_cast<int64_t>(rng() % 5) - 2) * lot));
    }
    in.set_quantity(in.quantity() - static_cast<int64_t>(1 + rng() % 2) * lot);
    if (i > 0) in.set_opening_lambda(lambda);
    if (!exo::solver::Solve(in, &cache, &lambda).ok()) std::abort();
    out.push_back(in);
  }
  return out;
}

void BM_SolveExactReplanMoving(benchmark::State& state) {
  DecideCycled(state, ReplanSteps(static_cast<int>(state.range(0)), 64));
}
BENCHMARK(BM_SolveExactReplanMoving)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// The same steps, each decision searching from scratch (no opening λ): what the opening saves.
void BM_SolveExactMovingCold(benchmark::State& state) {
  auto steps = ReplanSteps(static_cast<int>(state.range(0)), 64);
  for (auto& in : steps) in.clear_opening_lambda();
  DecideCycled(state, steps);
}
BENCHMARK(BM_SolveExactMovingCold)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// CLP on that same one instance over and over, for the side-by-side ratio with everything hot.
void BM_ClpHot(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) {
    auto r = exo::testing::SolveWithClp(inputs[0]);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ClpHot)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// BM_SolveExactHot and BM_ClpHot interleaved: 300 pairs of short batches, one of decisions and
// one of CLP solves (~1 ms each, which goes first alternating), so that a slow spell of this
// shared machine weighs on both sides alike instead of on whichever benchmark it falls in. Per
// pair, CLP's mean time over the decision's is one ratio. Reported (counters, the benchmark's
// own time is the whole run's): the medians of the decision's and CLP's per-pair means, in µs,
// and the median, 10th and 90th percentile of the ratios, and the decision's rounds.
// docs/BENCHMARKS.md.
void RatioInterleaved(benchmark::State& state, const exoroute::v1::SolveInput& in) {
  exo::solver::CurveCache cache;
  exoroute::v1::Decision d;
  if (!exo::solver::SolveInto(in, &d, &cache).ok() || !exo::testing::SolveWithClp(in).ok) std::abort();
  using Clock = std::chrono::steady_clock;
  auto decide = [&](int n) {
    const auto t = Clock::now();
    for (int k = 0; k < n; ++k) benchmark::DoNotOptimize(DecideOnce(in, &d, &cache));
    return std::chrono::duration<double, std::micro>(Clock::now() - t).count() / n;
  };
  auto clp = [&](int n) {
    const auto t = Clock::now();
    for (int k = 0; k < n; ++k) benchmark::DoNotOptimize(exo::testing::SolveWithClp(in));
    return std::chrono::duration<double, std::micro>(Clock::now() - t).count() / n;
  };
  // Batches of about a millisecond, sized from a first timing of each.
  const int decisions = std::max(1, static_cast<int>(1000.0 / decide(1000)));
  const int solves = std::max(1, static_cast<int>(1000.0 / clp(10)));
  std::vector<double> ours, theirs, ratios;
  for (auto _ : state) {
    for (int pair = 0; pair < 300; ++pair) {
      double a, b;
      if (pair % 2 == 0) {
        a = decide(decisions);
        b = clp(solves);
      } else {
        b = clp(solves);
        a = decide(decisions);
      }
      ours.push_back(a);
      theirs.push_back(b);
      ratios.push_back(b / a);
    }
  }
  auto quantile = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
  };
  state.counters["decision_us"] = quantile(ours, 0.5);
  state.counters["clp_us"] = quantile(theirs, 0.5);
  state.counters["ratio"] = quantile(ratios, 0.5);
  state.counters["ratio_p10"] = quantile(ratios, 0.1);
  state.counters["ratio_p90"] = quantile(ratios, 0.9);
  state.counters["rounds"] = d.stats().rounds();
}

void BM_HotRatioInterleaved(benchmark::State& state) {
  RatioInterleaved(state, Instances(static_cast<int>(state.range(0)), 1)[0]);
}
BENCHMARK(BM_HotRatioInterleaved)->Arg(4)->Arg(16)->Arg(64)->Iterations(1)->Unit(benchmark::kMillisecond);

// The same with a search of one round: the decision opens at its own λ* (as a re-plan on
// unchanged books does, BM_SolveExactReplanHot). What a decision costs besides its rounds, set
// against CLP: a search that needed fewer rounds, and changed nothing else, could not bring the
// ratio above this one.
void BM_OneRoundRatioInterleaved(benchmark::State& state) {
  exoroute::v1::SolveInput in = Instances(static_cast<int>(state.range(0)), 1)[0];
  double lambda = 0;
  if (!exo::solver::Solve(in, nullptr, &lambda).ok()) std::abort();
  in.set_opening_lambda(lambda);
  RatioInterleaved(state, in);
  if (state.counters["rounds"] != 1) state.SkipWithError("the search took more than one round");
}
BENCHMARK(BM_OneRoundRatioInterleaved)->Arg(4)->Arg(16)->Arg(64)->Iterations(1)->Unit(benchmark::kMillisecond);

// BM_ClpHot's two halves apart. The model built and loaded, not solved:
void BM_ClpLoadOnlyHot(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) {
    ClpSimplex model;
    if (!exo::testing::LoadClpModel(inputs[0], &model)) std::abort();
    benchmark::DoNotOptimize(model.getNumCols());
  }
}
BENCHMARK(BM_ClpLoadOnlyHot)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// And the loaded model solved, from scratch every time (its all-slack basis, nothing kept from
// the solve before: the same simplex iterations and optimum as a fresh model, checked), against
// the search alone over problems built beforehand (BM_ExactDualOnlyHot): solver against solver.
void BM_ClpSolveOnlyHot(benchmark::State& state) {
  auto inputs = Instances(static_cast<int>(state.range(0)), 1);
  ClpSimplex fresh_model, model;
  if (!exo::testing::LoadClpModel(inputs[0], &fresh_model) || !exo::testing::LoadClpModel(inputs[0], &model)) {
    std::abort();
  }
  const exo::testing::ClpResult fresh = exo::testing::SolveClpModel(&fresh_model);
  for (auto _ : state) {
    model.allSlackBasis(true);
    model.setWhatsChanged(0);
    const exo::testing::ClpResult r = exo::testing::SolveClpModel(&model);
    if (!r.ok || r.cost != fresh.cost || model.numberIterations() != fresh_model.numberIterations()) {
      state.SkipWithError("the re-solved model is not the fresh model's solve");
      break;
    }
  }
  state.counters["iterations"] = fresh_model.numberIterations();
}
BENCHMARK(BM_ClpSolveOnlyHot)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

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
    auto sol = exo::solver::SolveExactDual(built[k], inputs[k].quantity(), std::nullopt,
                                           exo::solver::SearchStep::kQuantile);
    benchmark::DoNotOptimize(sol);
  }
}
BENCHMARK(BM_ExactDualOnly)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// The same on BM_SolveExactHot's one instance, over and over: the search's share of a hot
// decision.
void BM_ExactDualOnlyHot(benchmark::State& state) {
  const exoroute::v1::SolveInput in = Instances(static_cast<int>(state.range(0)), 1)[0];
  const std::vector<exo::solver::LocalProblem> built = BuildAll(in);
  exo::solver::DualSolution sol;
  for (auto _ : state) {
    exo::solver::SolveExactDualInto(built, in.quantity(), std::nullopt, exo::solver::SearchStep::kQuantile,
                                    exo::solver::SearchFinish::kStepAndBisect, &sol);
    benchmark::DoNotOptimize(sol);
  }
  state.counters["rounds"] = sol.rounds;
}
BENCHMARK(BM_ExactDualOnlyHot)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// The floor of a search that may only ask λ (the LocalProblem interface), on BM_ExactDualOnlyHot's
// instance: the rounds the exact search takes there, each doing nothing but what such a round
// cannot do without — the quantile step's arithmetic on the bracket, every venue's branchless
// search for λ's segment in contiguous arrays, its quantity, cost and nearest breakpoints summed,
// and the bracket narrowed — with no venue ever frozen, no window, no status, no bookkeeping.
// Each round's λ is the exact search's own (the step's result joined to it by a `+ 0.0 ×`, so
// that the rounds stay one chain of dependent work, as they are). Set against the search alone
// and the decision's floor (BM_DecisionFloor): docs/BENCHMARKS.md ("The floor of the rounds").
void BM_SearchRoundsFloor(benchmark::State& state) {
  const exoroute::v1::SolveInput in = Instances(static_cast<int>(state.range(0)), 1)[0];
  const std::vector<exo::solver::LocalProblem> built = BuildAll(in);
  const int64_t quantity = in.quantity();
  exo::solver::VenueGroup group(built);
  const exo::solver::GroupSummary summary = group.Summary();
  exo::solver::SearchOptions options;
  options.step = exo::solver::SearchStep::kQuantile;
  options.finish = exo::solver::SearchFinish::kStepAndBisect;
  auto price = exo::solver::FindDualPrice(group, summary, quantity, options);
  if (!price.ok() || price->takes_all) std::abort();
  const std::vector<double> lambdas = price->trajectory;
  // Per venue, contiguous: its unit costs (+inf after the last), and the quantity and cost of
  // everything before segment k at index k (0 at 0).
  struct Venue {
    std::vector<double> unit;
    std::vector<int64_t> before;
    std::vector<double> cost_before;
  };
  std::vector<Venue> venues;
  for (const auto& p : built) {
    Venue v{{}, {0}, {0.0}};
    for (const auto& s : p.segments()) {
      v.unit.push_back(s.unit_cost);
      v.before.push_back(s.end);
      v.cost_before.push_back(s.end_cost);
    }
    v.unit.push_back(std::numeric_limits<double>::infinity());
    venues.push_back(std::move(v));
  }
  struct Answer {
    int64_t lo = 0;
    double cost = 0, below = -std::numeric_limits<double>::infinity(),
           above = std::numeric_limits<double>::infinity();
  };
  auto evaluate = [&venues](double c) {
    Answer s;
    for (const Venue& v : venues) {
      const double* base = v.unit.data();
      size_t len = v.unit.size();
      while (len > 1) {
        const size_t half = len / 2;
        base = base[half - 1] < c ? base + half : base;
        len -= half;
      }
      const size_t k = static_cast<size_t>(base - v.unit.data()) + (*base < c ? 1 : 0);
      s.lo += v.before[k];
      s.cost += v.cost_before[k];
      if (k > 0) s.below = std::max(s.below, v.unit[k - 1]);
      s.above = std::min(s.above, v.unit[k]);
    }
    return s;
  };
  // The floor's answers are the search's: S_lo at every λ it asked.
  for (const double c : lambdas) {
    exo::solver::VenueGroup fresh(built);
    auto r = fresh.Evaluate(c);
    if (!r.ok() || r->lo != evaluate(c).lo) {
      state.SkipWithError("the floor's answer is not the search's");
      return;
    }
  }
  for (auto _ : state) {
    int64_t qa = 0, qb = summary.capacity;
    double ca = 0, cb = summary.total_cost, lo_s = summary.min_cost, hi_s = summary.max_cost;
    for (const double lambda : lambdas) {
      const double undecided = static_cast<double>(qb - qa);
      const double step = lo_s < hi_s ? exo::solver::SupplyQuantile(lo_s, hi_s, (cb - ca) / undecided,
                                                                    static_cast<double>(quantity - qa) / undecided)
                                      : lo_s;
      const Answer s = evaluate(lambda + 0.0 * step);
      if (s.lo < quantity) {
        qa = s.lo;
        ca = s.cost;
        lo_s = s.above;
      } else {
        qb = s.lo;
        cb = s.cost;
        hi_s = s.below;
      }
    }
    benchmark::DoNotOptimize(qa);
    benchmark::DoNotOptimize(qb);
  }
  state.counters["rounds"] = static_cast<double>(lambdas.size());
}
BENCHMARK(BM_SearchRoundsFloor)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// The exact method and ADMM on books with an impact term and fine lots: three venues × 20
// levels, impact 2.5 bp, lots of one unit, an order of 10^k lots (half the depth). With an
// impact term every lot is a breakpoint. Args: k, and how it is decided: 0 exact with the
// step-by-step finish (decisions before 2026-12-02), 1 exact with the bisecting finish (what
// exorouted decides with), 2 + v ADMM variant v (SolveInput.admm_variant).
exoroute::v1::SolveInput FineLots(int k) {
  std::mt19937_64 rng(7);
  exoroute::v1::SolveInput in;
  in.mutable_instrument()->set_symbol("BTC-USD");
  in.mutable_instrument()->set_qty_scale(static_cast<uint32_t>(k));
  in.set_side(exoroute::v1::SIDE_BUY);
  in.set_decision_time_ns(1);
  in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);
  in.set_dual_finish(exoroute::v1::DUAL_FINISH_STEP_AND_BISECT);
  int64_t unit = 1;
  for (int i = 0; i < k; ++i) unit *= 10;
  int64_t depth = 0;
  for (int v = 0; v < 3; ++v) {
    auto* vi = in.add_venues();
    vi->set_venue(std::string("V") + static_cast<char>('0' + v));
    vi->set_lot_size(1);
    vi->set_fee_bps(1.0 + v);
    vi->set_impact_bps(2.5);
    auto* b = vi->mutable_book();
    b->set_receive_time_ns(1);
    int64_t ask = 6'500'000 + 7 * v;
    for (int l = 0; l < 20; ++l) {
      auto* a = b->add_asks();
      a->set_price(ask);
      a->set_size(unit / 30 + static_cast<int64_t>(rng() % static_cast<uint64_t>(unit / 30)));
      depth += a->size();
      ask += 1 + static_cast<int64_t>(rng() % 20);
    }
    auto* bid = b->add_bids();
    bid->set_price(6'499'990);
    bid->set_size(unit);
  }
  in.set_quantity(depth / 2);
  return in;
}

void BM_FineLots(benchmark::State& state) {
  exoroute::v1::SolveInput in = FineLots(static_cast<int>(state.range(0)));
  if (state.range(1) == 0) in.set_dual_finish(exoroute::v1::DUAL_FINISH_STEP);
  if (state.range(1) >= 2) {
    in.set_method(exoroute::v1::SOLVER_METHOD_ADMM);
    in.set_admm_variant(static_cast<exoroute::v1::AdmmVariant>(state.range(1) - 2));
  }
  exoroute::v1::Decision d;
  for (auto _ : state) benchmark::DoNotOptimize(exo::solver::SolveInto(in, &d, nullptr));
  state.counters["rounds"] = d.stats().rounds();
  state.counters["lots"] = static_cast<double>(in.quantity());
}
BENCHMARK(BM_FineLots)
    ->ArgNames({"lots_pow10", "method"})
    ->Args({6, 0})->Args({6, 1})->Args({6, 3})->Args({6, 4})
    ->Args({10, 0})->Args({10, 1})->Args({10, 4})
    ->Args({12, 0})->Args({12, 1})->Args({12, 4})
    ->Unit(benchmark::kMicrosecond);

// What the tie split leaves when a coarse-lot venue holds the tie: venue A (lots of 10^8 units,
// 1 BTC) has taken 10 lots, the order is 10^8 - 1 units more, and venues B and C (lots of one
// unit) have levels dearer than A's. The rest goes to B's cheapest units: in bulk
// (internal::FillCheapestLots, arg 1) or one lot at a time (its definition, arg 0).
void BM_FillAfterCoarseTie(benchmark::State& state) {
  exoroute::v1::SolveInput in;
  in.mutable_instrument()->set_symbol("BTC-USD");
  in.set_side(exoroute::v1::SIDE_BUY);
  in.set_decision_time_ns(1);
  const int64_t prices[] = {6'500'000, 6'500'200, 6'500'300};
  for (int v = 0; v < 3; ++v) {
    auto* vi = in.add_venues();
    vi->set_venue(std::string("V") + static_cast<char>('0' + v));
    vi->set_lot_size(v == 0 ? 100'000'000 : 1);
    vi->mutable_book()->set_receive_time_ns(1);
    for (int l = 0; l < 2; ++l) {
      auto* a = vi->mutable_book()->add_asks();
      a->set_price(prices[v] + 100 * l);
      a->set_size(1'000'000'000);
    }
  }
  const auto problems = BuildAll(in);
  const int64_t quantity = 1'100'000'000 - 1;
  std::vector<int64_t> q;
  for (auto _ : state) {
    q = {1'000'000'000, 0, 0};
    benchmark::DoNotOptimize(state.range(0) == 1 ? exo::solver::internal::FillCheapestLots(problems, quantity, q)
                                                 : exo::solver::internal::FillCheapestLotsOneByOne(problems, quantity, q));
  }
  if (q[1] != 100'000'000 - 1) state.SkipWithError("not the cheapest lots");
}
BENCHMARK(BM_FillAfterCoarseTie)->ArgName("bulk")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The tie's remainder when a coarse-lot venue (lots of 10^8 units) and a fine-lot one (one
// unit) are tied for 1.5·10^8 units: the fine one's proportional share leaves 0.75·10^8 units,
// which only it can take — given pass by pass, a lot per pass (arg 0), or in bulk passes
// (AssignRemainder, arg 1).
void BM_RemainderAfterCoarseTie(benchmark::State& state) {
  const std::vector<exo::solver::SpareVenue> spare = {{"COARSE", 100'000'000, 1}, {"FINE", 1, 150'000'000}};
  std::vector<int64_t> lots;
  for (auto _ : state) {
    lots = state.range(0) == 1 ? exo::solver::AssignRemainder(spare, 75'000'000)
                               : exo::solver::AssignRemainderPassByPass(spare, 75'000'000);
    benchmark::DoNotOptimize(lots);
  }
  if (lots[1] != 75'000'000) state.SkipWithError("not the fine venue's lots");
}
BENCHMARK(BM_RemainderAfterCoarseTie)->ArgName("bulk")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);


// What no implementation of a decision avoids, with no search at all: reading every level of the
// side the order takes (each compared with a copy kept from before, as a curve cache must) and
// writing a Decision of one allocation per venue into a reused message. The floor under
// BM_SolveExactHot: docs/BENCHMARKS.md ("The floor of a decision").
void BM_DecisionFloor(benchmark::State& state) {
  const exoroute::v1::SolveInput in = Instances(static_cast<int>(state.range(0)), 1)[0];
  const bool buy = in.side() == exoroute::v1::SIDE_BUY;
  std::vector<std::pair<int64_t, int64_t>> kept;  // (price, size) of every level, venue after venue.
  for (const auto& v : in.venues()) {
    for (const auto& l : buy ? v.book().asks() : v.book().bids()) kept.emplace_back(l.price(), l.size());
  }
  exoroute::v1::Decision d;
  for (auto _ : state) {
    const std::pair<int64_t, int64_t>* mine = kept.data();
    uint64_t diff = 0;  // (Compared as VenueCurve::MatchesBook compares: SameLevels.)
    int i = 0;
    for (const auto& v : in.venues()) {
      const auto& levels = buy ? v.book().asks() : v.book().bids();
      const auto n = static_cast<size_t>(levels.size());
      diff |= exo::solver::internal::SameLevels(mine, levels.data(), n) ? 0 : 1;
      mine += n;
      auto* a = i < d.allocations_size() ? d.mutable_allocations(i) : d.add_allocations();
      if (a->venue() != v.venue()) a->set_venue(v.venue());
      a->set_quantity(v.lot_size() + static_cast<int64_t>(diff));
      a->set_limit_price(mine[-1].first);
      a->set_expected_cost(mine[-1].second);
      ++i;
    }
    auto* stats = d.mutable_stats();
    stats->set_rounds(4);
    stats->set_venues_considered(static_cast<uint32_t>(i));
    stats->set_marginal_price(kept[0].first);
    d.set_allocated_quantity(in.quantity());
    d.set_expected_cost(kept[1].first);
    d.set_mid_price(kept[2].first);
    d.set_expected_average_price(kept[3].first);
    d.set_slippage_cbps(7);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_DecisionFloor)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// The other half of a hot decision beside BM_ExactDualOnlyHot: every venue's problem built on
// BM_SolveExactHot's instance with its curves kept (each book checked against its curve, the
// venue's checks, the problem cut at limit and cap), as SolveInto builds them, and nothing else.
void BM_BuildHotOnly(benchmark::State& state) {
  const exoroute::v1::SolveInput in = Instances(static_cast<int>(state.range(0)), 1)[0];
  exo::solver::CurveCache cache;
  std::vector<exo::solver::LocalProblem> problems;
  std::map<std::string, std::string> excluded;
  exo::solver::BuildLocalProblemsInto(in, &excluded, &cache, &problems);
  if (problems.size() != static_cast<size_t>(in.venues_size())) std::abort();  // Every venue usable.
  for (auto _ : state) {
    exo::solver::BuildLocalProblemsInto(in, &excluded, &cache, &problems);
    benchmark::DoNotOptimize(problems.data());
  }
}
BENCHMARK(BM_BuildHotOnly)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

// The check of every venue's walked levels against a kept copy, as a curve cache makes it, on
// BM_SolveExactHot's instance: through the input's level messages (SameLevels, as today), and
// the same comparison were the input's levels contiguous (price, size) pairs — what a
// SolveInput of packed levels would save (docs/BENCHMARKS.md, fifty-sixth session).
void LevelCheck(benchmark::State& state, bool packed) {
  const exoroute::v1::SolveInput in = Instances(static_cast<int>(state.range(0)), 1)[0];
  const bool buy = in.side() == exoroute::v1::SIDE_BUY;
  std::vector<exo::solver::internal::PriceSize> kept, contiguous;
  std::vector<size_t> counts;
  for (const auto& v : in.venues()) {
    const auto& levels = buy ? v.book().asks() : v.book().bids();
    for (const auto& l : levels) kept.emplace_back(l.price(), l.size());
    counts.push_back(static_cast<size_t>(levels.size()));
  }
  contiguous = kept;  // (Another allocation: compared, not aliased.)
  for (auto _ : state) {
    const exo::solver::internal::PriceSize* mine = kept.data();
    const exo::solver::internal::PriceSize* theirs = contiguous.data();
    bool same = true;
    for (int i = 0; i < in.venues_size(); ++i) {
      const size_t n = counts[static_cast<size_t>(i)];
      if (packed) {
        same &= std::memcmp(mine, theirs, n * sizeof(*mine)) == 0;
      } else {
        const auto& levels = buy ? in.venues(i).book().asks() : in.venues(i).book().bids();
        same &= exo::solver::internal::SameLevels(mine, levels.data(), n);
      }
      mine += n;
      theirs += n;
    }
    benchmark::DoNotOptimize(same);
  }
}
void BM_LevelCheckMessages(benchmark::State& state) { LevelCheck(state, false); }
void BM_LevelCheckContiguous(benchmark::State& state) { LevelCheck(state, true); }
BENCHMARK(BM_LevelCheckMessages)->Arg(4)->Arg(16)->Arg(64);
BENCHMARK(BM_LevelCheckContiguous)->Arg(4)->Arg(16)->Arg(64);

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
