// The cost of durability: canonical encoding + SHA-256 chaining per delta, synced appends to
// the RocksDB store from 1 and from 8 threads (group commit), and the Merkle work of one
// inclusion proof over a chain of N deltas. Figures: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "exo/sha256.h"
#include "store/delta_codec.h"
#include "store/delta_store.h"
#include "store/chain_proofs.h"
#include "store/merkle.h"
#include "store/wal_check.h"

namespace {

exoroute::v1::PlanDelta SampleFill(uint32_t version) {
  exoroute::v1::PlanDelta d;
  d.set_sequence(version);
  d.set_plan_id("bench-plan-0001");
  d.set_plan_version(version);
  d.set_event_time_ns(1'700'000'000'000'000'000);
  auto* f = d.mutable_fill();
  f->set_cl_ord_id("bench-plan-0001.17");
  f->set_venue("SIM-A");
  f->set_quantity(54000000);
  f->set_price(6500150);
  f->set_fee(702);
  f->set_exec_id("SIM-A-123456");
  return d;
}

void BM_EncodeAndHash(benchmark::State& state) {
  exo::Sha256 hasher;
  std::string prev(32, '\0');
  auto d = SampleFill(7);
  for (auto _ : state) {
    std::string canonical = exo::store::EncodeCanonical(d);
    auto h = hasher.Hash({prev, canonical});
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(exo::store::EncodeCanonical(d).size()));
}
BENCHMARK(BM_EncodeAndHash);

struct StoreFixture {
  std::string dir;
  std::unique_ptr<exo::store::DeltaStore> store;
  StoreFixture() {
    char tmpl[] = "/tmp/exo-bench-XXXXXX";
    dir = mkdtemp(tmpl);
    exo::store::StoreOptions o;
    o.path = dir + "/db";
    o.node_id = "bench";
    store = *exo::store::OpenRocksDeltaStore(o);
  }
  ~StoreFixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

StoreFixture* shared_store = nullptr;

// Each append is one synced WriteBatch; with N threads, appends waiting at the same time share
// one sync.
void BM_AppendSynced(benchmark::State& state) {
  if (state.thread_index() == 0) shared_store = new StoreFixture;
  uint32_t v = 0;
  std::string plan = "plan-" + std::to_string(state.thread_index());
  for (auto _ : state) {
    exo::store::PendingDelta p;
    p.delta = SampleFill(++v);
    p.delta.set_plan_id(plan);
    std::vector<exo::store::PendingDelta> batch;
    batch.push_back(std::move(p));
    auto r = shared_store->store->Append(std::move(batch));
    if (!r.ok()) state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete shared_store;
    shared_store = nullptr;
  }
}
BENCHMARK(BM_AppendSynced)->Threads(1)->Threads(8)->UseRealTime()->Unit(benchmark::kMicrosecond)
    ->MinTime(2.0);

// What the engine asks the store when a call names a plan not in memory (a new plan's Route,
// a settled plan read back): ScanPlan of a plan id, over 100 000 plans of two deltas each
// (flushed to table files, as on a node that has run a while). Arg 0: an id never recorded (a
// new plan), arg 1: a recorded one.
void BM_ScanPlan(benchmark::State& state) {
  static StoreFixture* fixture = nullptr;
  if (fixture == nullptr) {
    fixture = new StoreFixture;
    for (int p = 0; p < 100'000; p += 1000) {
      std::vector<exo::store::PendingDelta> batch;
      for (int k = p; k < p + 1000; ++k) {
        for (uint32_t v = 1; v <= 2; ++v) {
          exo::store::PendingDelta d;
          d.delta = SampleFill(v);
          d.delta.set_plan_id("plan-" + std::to_string(k));
          batch.push_back(std::move(d));
        }
      }
      if (!fixture->store->Append(std::move(batch)).ok()) std::abort();
    }
    // Closed and opened again: a closed store flushes its memtables to table files.
    fixture->store.reset();
    exo::store::StoreOptions o;
    o.path = fixture->dir + "/db";
    o.node_id = "bench";
    fixture->store = *exo::store::OpenRocksDeltaStore(o);
  }
  uint64_t i = 0, seen = 0;
  for (auto _ : state) {
    const std::string id = (state.range(0) == 0 ? "new-" : "plan-") + std::to_string(i++ % 100'000);
    (void)fixture->store->ScanPlan(id, 1, [&](const exoroute::v1::PlanDelta&, std::string_view) {
      ++seen;
      return true;
    });
  }
  state.counters["deltas_read"] = static_cast<double>(seen) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ScanPlan)->ArgName("recorded")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// 3000 appends of 16 KiB: ~48 MiB in the memtable and its log, nearly a full memtable's worth
// (RocksDB writes a table file and starts a new log at 64 MiB).
void FillMemtable(exo::store::DeltaStore& store) {
  for (uint32_t v = 1; v <= 3000; ++v) {
    exo::store::PendingDelta d;
    d.delta = SampleFill(v);
    d.inputs = std::string(16 * 1024, static_cast<char>('a' + v % 26));
    std::vector<exo::store::PendingDelta> batch;
    batch.push_back(std::move(d));
    if (!store.Append(std::move(batch)).ok()) std::abort();
  }
}

// What every open adds before RocksDB's own recovery: reading the write-ahead logs through
// (store/wal_check.h). A log of ~48 MiB, nearly a full memtable's worth (RocksDB starts a new
// log when its 64 MiB memtable is written out): a crash image of 3000 appends of 16 KiB each.
void BM_CheckWalTail(benchmark::State& state) {
  static std::string log;
  if (log.empty()) {
    StoreFixture fixture;
    FillMemtable(*fixture.store);
    uintmax_t largest = 0;
    for (const auto& f : std::filesystem::directory_iterator(fixture.dir + "/db")) {
      if (f.path().extension() == ".log" && f.file_size() > largest) {
        largest = f.file_size();
        log = fixture.dir + "-wal.log";
        std::filesystem::copy_file(f.path(), log, std::filesystem::copy_options::overwrite_existing);
      }
    }
  }
  for (auto _ : state) {
    if (!exo::store::CheckWalTail(log).ok()) state.SkipWithError("log refused");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(std::filesystem::file_size(log)));
}
BENCHMARK(BM_CheckWalTail)->Unit(benchmark::kMillisecond);

// A backup of a store whose memtable holds ~48 MiB (3000 appends of 16 KiB since the last table
// file: the most a log holds before RocksDB writes one), taken while another thread appends 1 KiB
// deltas one after another: the backup's time, and the longest any of those appends took
// (`worst_append_ms`: how long the backup held writes back), against their median.
void BM_BackupWhileAppending(benchmark::State& state) {
  StoreFixture fixture;
  FillMemtable(*fixture.store);
  std::atomic<bool> stop{false};
  std::vector<double> append_ms;
  std::thread appender([&] {
    for (uint32_t v = 1; !stop; ++v) {
      exo::store::PendingDelta d;
      d.delta = SampleFill(v);
      d.delta.set_plan_id("bench-backup-appender");
      d.inputs = std::string(1024, 'x');
      std::vector<exo::store::PendingDelta> batch;
      batch.push_back(std::move(d));
      const auto t0 = std::chrono::steady_clock::now();
      if (!fixture.store->Append(std::move(batch)).ok()) std::abort();
      append_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // The appender under way.
  int n = 0;
  for (auto _ : state) {
    if (!fixture.store->Backup(fixture.dir + "/backup-" + std::to_string(n++)).ok()) state.SkipWithError("backup failed");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  appender.join();
  std::sort(append_ms.begin(), append_ms.end());
  state.counters["worst_append_ms"] = append_ms.empty() ? 0 : append_ms.back();
  state.counters["median_append_ms"] = append_ms.empty() ? 0 : append_ms[append_ms.size() / 2];
}
BENCHMARK(BM_BackupWhileAppending)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

// The Merkle work of one inclusion proof, without the reading: hash N leaves (canonical fill
// deltas, ~90 bytes) one by one into the streaming builder, the root and the middle leaf's path.
void BM_MerkleInclusionProof(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<std::string> entries;
  entries.reserve(n);
  for (size_t i = 0; i < n; ++i) entries.push_back(exo::store::EncodeCanonical(SampleFill(static_cast<uint32_t>(i + 1))));
  for (auto _ : state) {
    auto tree = exo::store::MerkleProofBuilder::Inclusion(n, n / 2);
    for (const std::string& e : entries) tree.AddLeaf(exo::store::MerkleLeafHash(e));
    benchmark::DoNotOptimize(tree.Root());
    benchmark::DoNotOptimize(tree.Path());
  }
  state.counters["deltas"] = static_cast<double>(n);
}
BENCHMARK(BM_MerkleInclusionProof)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// What AuditService.ProveInclusion does on a stored chain of N deltas (store/chain_proofs.h):
// a node's first proof (arg 1 = 0: nothing kept, the whole chain read and hashed) and a later
// one (1: the subtrees kept from a proof before; the blocks around the leaf read).
void BM_ProveInclusionFromStore(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  const bool later = state.range(1) != 0;
  StoreFixture f;
  for (uint32_t v = 1; v <= n;) {
    std::vector<exo::store::PendingDelta> batch;
    for (int i = 0; i < 1000 && v <= n; ++i, ++v) {
      exo::store::PendingDelta p;
      p.delta = SampleFill(v);
      batch.push_back(std::move(p));
    }
    if (!f.store->Append(std::move(batch)).ok()) state.SkipWithError("append failed");
  }
  exo::store::MerkleSubtreeCache kept;
  uint64_t leaf = n / 3;
  auto prove = [&](exo::store::MerkleSubtreeCache* subtrees) {
    auto tree = exo::store::MerkleProofBuilder::Inclusion(n, leaf);
    std::string canonical;
    if (!exo::store::FeedChainLeaves(*f.store, subtrees, &tree, leaf + 1, &canonical, nullptr).ok()) {
      state.SkipWithError("proof failed");
    }
    benchmark::DoNotOptimize(tree.Path());
    leaf = (leaf * 7919 + 13) % n;  // Another leaf each time: another block to read.
  };
  if (later) prove(&kept);
  for (auto _ : state) {
    exo::store::MerkleSubtreeCache fresh;
    prove(later ? &kept : &fresh);
  }
  state.counters["deltas"] = static_cast<double>(n);
}
BENCHMARK(BM_ProveInclusionFromStore)
    ->Args({100'000, 0})->Args({1'000'000, 0})->Args({100'000, 1})->Args({1'000'000, 1})
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
