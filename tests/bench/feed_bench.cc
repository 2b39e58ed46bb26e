// Book updates from the recorded Binance feed (tests/testdata/feeds): parse each depthUpdate
// frame (simdjson, exact decimals) and apply it to the synced book, on one thread. And the
// node's clock, which stamps every frame's receive time: a reading, on one and on two threads.
// Figures: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <chrono>
#include <fstream>

#include "adapters/ws/book_sync.h"
#include "adapters/ws/feed_parser.h"
#include "exo/clock.h"

using namespace exo::adapters::ws;  // NOLINT

namespace {

const std::map<std::string, Scales> kScales = {{"NKNUSDT", {8, 8}}};

struct Recording {
  std::string snapshot;
  std::vector<std::string> frames;  // NKNUSDT depth frames, in order.
};

Recording Load() {
  Recording r;
  std::string dir = std::string(EXO_TESTDATA_DIR) + "/feeds/";
  std::ifstream http(dir + "BINANCE.http.0.0"), ws(dir + "BINANCE.ws.1.0");
  std::string line;
  while (std::getline(http, line)) {
    if (line.find("symbol=NKNUSDT") != std::string::npos) r.snapshot = line.substr(line.find(": {") + 2);
  }
  while (std::getline(ws, line)) {
    size_t body = line.find(": {");  // Connection lines have no JSON body.
    if (body != std::string::npos && line.find("nknusdt@depth") != std::string::npos) {
      r.frames.push_back(line.substr(body + 2));
    }
  }
  return r;
}

void BM_BinanceParseAndApply(benchmark::State& state) {
  static const Recording rec = Load();
  FeedParser parser;
  auto snap = *parser.ParseBinanceSnapshot(rec.snapshot, kScales.at("NKNUSDT"));
  std::vector<FeedEvent> events;
  for (const auto& f : rec.frames) events.push_back(*parser.ParseBinanceFrame(f, kScales));
  uint64_t frames = 0, levels = 0;
  for (auto _ : state) {
    state.PauseTiming();
    BinanceBookSync sync;
    sync.OnSnapshot(snap);
    state.ResumeTiming();
    for (const auto& f : rec.frames) {
      auto e = parser.ParseBinanceFrame(f, kScales);
      levels += e->bids.size() + e->asks.size();
      sync.OnUpdate(*std::move(e));
      ++frames;
    }
    if (sync.state() != SyncState::kSynced) state.SkipWithError("lost sync");
  }
  state.counters["frames/s"] = benchmark::Counter(static_cast<double>(frames), benchmark::Counter::kIsRate);
  state.counters["level updates/s"] = benchmark::Counter(static_cast<double>(levels), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BinanceParseAndApply)->Unit(benchmark::kMicrosecond);

// exo::SystemClock() (a SlewedWallClock: the system clock that never goes back) against the
// bare system clock it reads.
void BM_NodeClockNow(benchmark::State& state) {
  const exo::Clock* clock = exo::SystemClock();
  for (auto _ : state) benchmark::DoNotOptimize(clock->NowNs());
}
BENCHMARK(BM_NodeClockNow)->Threads(1)->Threads(2);

void BM_SystemClockNow(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::chrono::system_clock::now());
}
BENCHMARK(BM_SystemClockNow)->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
