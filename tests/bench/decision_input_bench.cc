// What the engine does with a decision's inputs besides solving: copy every venue's book into the
// SolveInput, serialise it and hash it (its inputs digest; the bytes are stored with the delta).
// 16 venues x 40 levels a side, a buy: the whole book (what the engine recorded before
// CopyDecidedBook) against what the decision reads (the asks, and the best bid). Figures:
// docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/solve_inputs.h"
#include "exo/deterministic.h"
#include "exo/sha256.h"

namespace {

std::vector<std::shared_ptr<const exoroute::v1::VenueBook>> Books() {
  std::vector<std::shared_ptr<const exoroute::v1::VenueBook>> out;
  for (int v = 0; v < 16; ++v) {
    auto b = std::make_shared<exoroute::v1::VenueBook>();
    b->set_venue("VENUE-" + std::to_string(v));
    b->set_symbol("BTC-USD");
    b->set_sequence(1000 + v);
    b->set_receive_time_ns(1'700'000'000'000'000'000);
    for (int k = 0; k < 40; ++k) {
      auto* a = b->add_asks();
      a->set_price(6'500'000 + 50 * k + v);
      a->set_size(100'000 + 1'000 * k);
      auto* d = b->add_bids();
      d->set_price(6'499'950 - 50 * k - v);
      d->set_size(100'000 + 1'000 * k);
    }
    out.push_back(std::move(b));
  }
  return out;
}

void BM_RecordInput(benchmark::State& state) {
  const bool decided = state.range(0) == 1;
  const auto books = Books();
  size_t bytes = 0;
  for (auto _ : state) {
    exoroute::v1::SolveInput in;
    in.set_side(exoroute::v1::SIDE_BUY);
    for (const auto& b : books) {
      exoroute::v1::VenueInput* vi = in.add_venues();
      vi->set_venue(b->venue());
      if (decided) {
        exo::daemon::CopyDecidedBook(*b, exoroute::v1::SIDE_BUY, b->venue(), vi->mutable_book());
      } else {
        *vi->mutable_book() = *b;
      }
    }
    const std::string serialized = exo::SerializeDeterministic(in);
    benchmark::DoNotOptimize(exo::Sha256Of(serialized));
    bytes = serialized.size();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RecordInput)->Arg(0)->Arg(1)->ArgName("decided_side_only")->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
