#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "exo/sha256.h"
#include "rocksdb/db.h"
#include "store/delta_codec.h"
#include "store/delta_store.h"
#include "store/wal_check.h"
#include "tests/testing/raw_store.h"
#include "tests/testing/temp_dir.h"

using exo::store::DeltaStore;
using exo::store::OpenRocksDeltaStore;
using exo::store::PendingDelta;
using exo::store::StoreOptions;
using exo::store::StoreUsage;
using exo::testing::TempDir;
using namespace exoroute::v1;  // NOLINT

namespace {

std::unique_ptr<DeltaStore> Open(const std::string& path, bool read_only = false) {
  StoreOptions o;
  o.path = path;
  o.node_id = read_only ? "" : "node-t";
  o.read_only = read_only;
  o.create_if_missing = !read_only;
  if (read_only) o.verify_tail_on_open = 0;  // As `exoroutectl audit` opens it.
  auto s = OpenRocksDeltaStore(o);
  REQUIRE(s.ok());
  return *std::move(s);
}

// Opens `path` as the daemon does (read-write, node "node-t", the tail verified) or, with
// `read_only`, as exoroutectl's audit does; whatever comes back.
absl::StatusOr<std::unique_ptr<DeltaStore>> OpenAs(const std::string& path, bool read_only = false) {
  StoreOptions o;
  o.path = path;
  o.node_id = read_only ? "" : "node-t";
  o.read_only = read_only;
  return OpenRocksDeltaStore(o);
}

PendingDelta FillDelta(const std::string& plan, uint32_t version, int64_t qty) {
  PendingDelta p;
  p.delta.set_plan_id(plan);
  p.delta.set_plan_version(version);
  p.delta.set_event_time_ns(1000 + version);
  auto* f = p.delta.mutable_fill();
  f->set_cl_ord_id(plan + ".1");
  f->set_venue("V");
  f->set_quantity(qty);
  f->set_price(100);
  return p;
}

std::vector<PendingDelta> Batch(std::initializer_list<PendingDelta> items) { return items; }

// A writable store whose write-ahead logs together are flushed beyond `max_wal_bytes` (the
// memtables' budget as the daemon's, so that only the logs' bound makes the flushes).
std::unique_ptr<DeltaStore> OpenWithLogBound(const std::string& path, uint64_t max_wal_bytes) {
  StoreOptions o;
  o.path = path;
  o.node_id = "node-t";
  o.max_wal_bytes = max_wal_bytes;
  auto s = OpenRocksDeltaStore(o);
  REQUIRE(s.ok());
  return *std::move(s);
}

}  // namespace

TEST_CASE("appended deltas are chained, numbered and readable", "[store]") {
  TempDir dir;
  auto s = Open(dir / "db");
  CHECK(s->Head().sequence() == 0);
  CHECK(s->Head().hash() == exo::store::GenesisHash());
  PendingDelta with_inputs = FillDelta("p1", 1, 5);
  with_inputs.inputs = "recorded-inputs";
  auto out = s->Append(Batch({with_inputs, FillDelta("p1", 2, 6)}));
  REQUIRE(out.ok());
  REQUIRE(out->size() == 2);
  CHECK((*out)[0].sequence() == 1);
  CHECK((*out)[1].sequence() == 2);
  CHECK((*out)[0].prev_hash() == exo::store::GenesisHash());
  CHECK((*out)[1].prev_hash() == (*out)[0].hash());
  // hash = SHA-256(prev_hash || canonical bytes)
  PlanDelta first = (*out)[0];
  first.clear_hash();
  first.clear_prev_hash();
  CHECK((*out)[0].hash() ==
        exo::DigestToString(exo::Sha256Of(exo::store::GenesisHash() + exo::store::EncodeCanonical(first))));
  CHECK((*out)[0].inputs_digest() == exo::DigestToString(exo::Sha256Of("recorded-inputs")));
  CHECK(*s->GetInputs((*out)[0].inputs_digest()) == "recorded-inputs");
  CHECK(s->Head().sequence() == 2);
  CHECK(s->Head().hash() == (*out)[1].hash());

  REQUIRE(s->Append(Batch({FillDelta("p2", 1, 1), FillDelta("p1", 3, 7)})).ok());
  std::vector<uint32_t> versions;
  REQUIRE(s->ScanPlan("p1", 2, [&](const PlanDelta& d, std::string_view) {
    versions.push_back(d.plan_version());
    return true;
  }).ok());
  CHECK(versions == std::vector<uint32_t>{2, 3});
  auto r = s->Verify(0, 0, nullptr);
  CHECK(r.ok);
  CHECK(r.checked == 4);
}

TEST_CASE("a long verify tells its progress and stops when asked to", "[store]") {
  TempDir dir;
  auto s = Open(dir / "db");
  for (uint32_t v = 1; v <= 9000;) {
    std::vector<PendingDelta> batch;
    for (int i = 0; i < 1000 && v <= 9000; ++i) batch.push_back(FillDelta("p", v++, 1));
    REQUIRE(s->Append(std::move(batch)).ok());
  }
  std::vector<uint64_t> told;
  auto r = s->Verify(0, 0, [&](uint64_t done, uint64_t total) {
    CHECK(total == 9000);
    told.push_back(done);
    return true;
  });
  CHECK(r.ok);
  CHECK_FALSE(r.stopped);
  CHECK(r.checked == 9000);
  CHECK(told == std::vector<uint64_t>{4096, 8192, 9000});
  // A client that went away: the check stops at the next report, not at the end of the chain.
  r = s->Verify(0, 0, [](uint64_t, uint64_t) { return false; });
  CHECK(r.stopped);
  CHECK(r.checked == 4096);
}

TEST_CASE("the chain survives reopening and continues from its head", "[store]") {
  TempDir dir;
  std::string head_hash;
  {
    auto s = Open(dir / "db");
    REQUIRE(s->Append(Batch({FillDelta("p", 1, 1), FillDelta("p", 2, 1)})).ok());
    head_hash = s->Head().hash();
  }
  auto s = Open(dir / "db");
  CHECK(s->Head().sequence() == 2);
  CHECK(s->Head().hash() == head_hash);
  auto out = s->Append(Batch({FillDelta("p", 3, 1)}));
  REQUIRE(out.ok());
  CHECK((*out)[0].sequence() == 3);
  CHECK((*out)[0].prev_hash() == head_hash);
  CHECK(s->Verify(0, 0, nullptr).ok);
}

TEST_CASE("a checkpoint is kept beside the chain (not in it) and survives reopening", "[store]") {
  TempDir dir;
  std::string head_hash;
  {
    auto s = Open(dir / "db");
    CHECK(s->GetCheckpoint().status().code() == absl::StatusCode::kNotFound);
    REQUIRE(s->Append(Batch({FillDelta("p", 1, 1)})).ok());
    REQUIRE(s->PutCheckpoint("first").ok());
    REQUIRE(s->PutCheckpoint(std::string("second\0with a zero", 18)).ok());  // Replaces; any bytes.
    head_hash = s->Head().hash();
    CHECK(s->Head().sequence() == 1);  // Not a delta.
  }
  auto ro = Open(dir / "db", /*read_only=*/true);
  CHECK(*ro->GetCheckpoint() == std::string("second\0with a zero", 18));
  CHECK(ro->PutCheckpoint("x").code() == absl::StatusCode::kFailedPrecondition);
  ro.reset();
  auto s = Open(dir / "db");
  CHECK(*s->GetCheckpoint() == std::string("second\0with a zero", 18));
  CHECK(s->Head().hash() == head_hash);
  CHECK(s->Verify(0, 0, nullptr).ok);
}

TEST_CASE("records are kept beside the chain, replaced by key, read by key, listed by prefix and survive reopening",
          "[store]") {
  TempDir dir;
  {
    auto s = Open(dir / "db");
    REQUIRE(s->Append(Batch({FillDelta("p", 1, 1)})).ok());
    REQUIRE(s->PutRecord("shortfall/r-1", "one").ok());
    REQUIRE(s->PutRecord("shortfall/r-2", std::string("two\0bytes", 9)).ok());
    REQUIRE(s->PutRecord("shortfall/r-1", "one, again").ok());  // Replaces.
    REQUIRE(s->PutRecord("other/x", "x").ok());
    CHECK(s->PutRecord("", "x").code() == absl::StatusCode::kInvalidArgument);
    REQUIRE(s->PutCheckpoint("cp").ok());
    CHECK(s->Head().sequence() == 1);  // No record is a delta.
  }
  auto s = Open(dir / "db", /*read_only=*/true);
  auto records = [&s](std::string_view prefix, size_t most = 100) {
    std::vector<std::pair<std::string, std::string>> out;
    REQUIRE(s->ScanRecords(prefix, [&](std::string_view k, std::string_view v) {
                out.emplace_back(k, v);
                return out.size() < most;
              }).ok());
    return out;
  };
  const auto shortfalls = records("shortfall/");
  REQUIRE(shortfalls.size() == 2);
  CHECK(shortfalls[0] == std::pair<std::string, std::string>{"shortfall/r-1", "one, again"});
  CHECK(shortfalls[1] == std::pair<std::string, std::string>{"shortfall/r-2", std::string("two\0bytes", 9)});
  CHECK(records("").size() == 3);
  CHECK(records("", 1).size() == 1);  // The visitor stops the scan.
  CHECK(records("none/").empty());
  CHECK(s->GetRecord("shortfall/r-2").value() == std::string("two\0bytes", 9));
  CHECK(s->GetRecord("shortfall/r-").status().code() == absl::StatusCode::kNotFound);  // Not a prefix match.
  CHECK(*s->GetCheckpoint() == "cp");  // Records and the checkpoint do not overlap.
  CHECK(s->PutRecord("shortfall/r-3", "x").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s->Verify(0, 0, nullptr).ok);
}

TEST_CASE("a delta whose plan version does not follow the plan's last is refused, the rest go on",
          "[store]") {
  TempDir dir;
  auto s = Open(dir / "db");
  REQUIRE(s->Append(Batch({FillDelta("p", 1, 1), FillDelta("p", 2, 1)})).ok());
  const std::string head = s->Head().hash();
  struct Case {
    std::vector<PendingDelta> batch;
    const char* why;
  };
  const Case refused[] = {
      {Batch({FillDelta("p", 2, 9)}), "version 2 is recorded already"},    // A second record of one plan.
      {Batch({FillDelta("p", 4, 9)}), "version 4 does not follow its last"},  // A version skipped.
      {Batch({FillDelta("q", 2, 9)}), "version 2 does not follow its last"},  // A plan without its start.
      {Batch({FillDelta("q", 0, 9)}), "version 0 (versions start at 1)"},
      {Batch({FillDelta("p", 3, 9), FillDelta("p", 3, 9)}), "version 3 is recorded already"},  // Within one batch.
  };
  for (const Case& c : refused) {
    auto r = s->Append(c.batch);
    INFO(c.why);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(r.status().message().find(c.why) != std::string::npos);
  }
  CHECK(s->Head().sequence() == 2);  // Nothing of them was written,
  CHECK(s->Head().hash() == head);
  // and the store takes the next version and new plans as before.
  REQUIRE(s->Append(Batch({FillDelta("p", 3, 1), FillDelta("q", 1, 1), FillDelta("q", 2, 1)})).ok());
  // Two appenders of the same next version at once (two records of one plan): one is refused.
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      if (s->Append(Batch({FillDelta("p", 4, 1)})).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok.load() == 1);
  CHECK(s->Head().sequence() == 6);
  CHECK(s->Verify(0, 0, nullptr).ok);
}

TEST_CASE("concurrent appenders share syncs and the chain stays whole", "[store][concurrency]") {
  TempDir dir;
  auto s = Open(dir / "db");
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 1; i <= kEach; ++i) {
        if (!s->Append(Batch({FillDelta("plan" + std::to_string(t), i, i)})).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  CHECK(s->Head().sequence() == kThreads * kEach);
  auto r = s->Verify(0, 0, nullptr);
  CHECK(r.ok);
  CHECK(r.checked == kThreads * kEach);
  // Each plan's deltas are in its own order.
  for (int t = 0; t < kThreads; ++t) {
    uint32_t expect = 1;
    REQUIRE(s->ScanPlan("plan" + std::to_string(t), 1, [&](const PlanDelta& d, std::string_view) {
      CHECK(d.plan_version() == expect++);
      return true;
    }).ok());
    CHECK(expect == kEach + 1);
  }
}

TEST_CASE("a follower waiting on the head sees every appended delta once, in order, as appends go on",
          "[store][concurrency]") {
  TempDir dir;
  auto s = Open(dir / "db");
  REQUIRE(s->Append(Batch({FillDelta("a", 1, 1), FillDelta("a", 2, 2)})).ok());
  CHECK(s->AwaitHead(1, absl::ZeroDuration()) == 2);        // Already past: at once.
  CHECK(s->AwaitHead(2, absl::Milliseconds(20)) == 2);      // Nothing new: the head at the timeout.
  // A waiter is woken by the append, not by its (long) timeout.
  std::atomic<uint64_t> woke{0};
  const auto started = std::chrono::steady_clock::now();
  std::thread waiter([&] { woke = s->AwaitHead(2, absl::Seconds(60)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(s->Append(Batch({FillDelta("a", 3, 3)})).ok());
  waiter.join();
  CHECK(woke == 3);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));

  // Following while four threads append: each sequence seen once, in order, none past the head.
  constexpr int kThreads = 4, kEach = 50;
  const uint64_t last = 3 + kThreads * kEach;
  std::vector<uint64_t> seen;
  absl::Status scanned;  // (Checked here, not in the thread: Catch2 asserts on one thread.)
  std::thread follower([&] {
    uint64_t next = 1;
    while (next <= last && scanned.ok()) {
      const uint64_t head = s->AwaitHead(next - 1, absl::Seconds(10));
      if (head < next) break;  // Stalled: the check below says so.
      scanned = s->Scan(next, head, [&](const PlanDelta& d, std::string_view) {
        seen.push_back(d.sequence());
        next = d.sequence() + 1;
        return true;
      });
    }
  });
  std::vector<std::thread> appenders;
  for (int t = 0; t < kThreads; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 1; i <= kEach; ++i) (void)s->Append(Batch({FillDelta("f" + std::to_string(t), i, i)}));
    });
  }
  for (auto& th : appenders) th.join();
  follower.join();
  CHECK(scanned.ok());
  REQUIRE(seen.size() == last);
  for (uint64_t i = 0; i < last; ++i) CHECK(seen[i] == i + 1);
}

TEST_CASE("changing one byte of a stored delta is found and named", "[store][tamper]") {
  TempDir dir;
  {
    auto s = Open(dir / "db");
    for (uint32_t v = 1; v <= 10; ++v) REQUIRE(s->Append(Batch({FillDelta("p", v, v)})).ok());
  }
  exo::testing::RawEditDeltas(dir / "db", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* deltas) {
    std::string v;
    REQUIRE(db->Get(rocksdb::ReadOptions(), deltas, exo::testing::DeltaKey(6), &v).ok());
    v[v.size() - 20] ^= 0x01;  // One bit inside the canonical bytes.
    REQUIRE(db->Put(rocksdb::WriteOptions(), deltas, exo::testing::DeltaKey(6), v).ok());
  });
  auto ro = Open(dir / "db", /*read_only=*/true);
  auto r = ro->Verify(0, 0, nullptr);
  CHECK_FALSE(r.ok);
  CHECK(r.first_bad_sequence == 6);
  CHECK(r.error == "hash mismatch: the delta's content was changed");
  CHECK(r.checked == 5);
  // The daemon's open (tail verification) refuses it, saying where.
  auto refused = OpenAs(dir / "db");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(refused.status().message()).find("does not verify at sequence 6") != std::string::npos);
}

TEST_CASE("removed, reordered and truncated deltas are found", "[store][tamper]") {
  TempDir dir;
  {
    auto s = Open(dir / "db");
    for (uint32_t v = 1; v <= 6; ++v) REQUIRE(s->Append(Batch({FillDelta("p", v, v)})).ok());
  }
  SECTION("removed") {
    exo::testing::RawEditDeltas(dir / "db", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* d) {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), d, exo::testing::DeltaKey(3)).ok());
    });
    auto r = Open(dir / "db", true)->Verify(0, 0, nullptr);
    CHECK(r.first_bad_sequence == 3);
    CHECK(r.error == "delta missing (next stored delta is 4)");
  }
  SECTION("swapped") {
    exo::testing::RawEditDeltas(dir / "db", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* d) {
      std::string a, b;
      REQUIRE(db->Get(rocksdb::ReadOptions(), d, exo::testing::DeltaKey(2), &a).ok());
      REQUIRE(db->Get(rocksdb::ReadOptions(), d, exo::testing::DeltaKey(4), &b).ok());
      REQUIRE(db->Put(rocksdb::WriteOptions(), d, exo::testing::DeltaKey(2), b).ok());
      REQUIRE(db->Put(rocksdb::WriteOptions(), d, exo::testing::DeltaKey(4), a).ok());
    });
    auto r = Open(dir / "db", true)->Verify(0, 0, nullptr);
    CHECK(r.first_bad_sequence == 2);
    CHECK(r.error == "delta stored under 2 says it is 4 (reordered)");
  }
  SECTION("tail removed") {
    exo::testing::RawEditDeltas(dir / "db", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* d) {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), d, exo::testing::DeltaKey(6)).ok());
    });
    auto r = Open(dir / "db", true)->Verify(0, 0, nullptr);
    CHECK(r.first_bad_sequence == 6);
    CHECK(r.error == "delta missing (chain ends at 5, expected 6)");
  }
}

TEST_CASE("recorded inputs removed or changed and a stored head that is not the last delta are found and named",
          "[store][tamper]") {
  TempDir dir;
  std::vector<PlanDelta> stored;
  {
    auto s = Open(dir / "db");
    for (uint32_t v = 1; v <= 4; ++v) {
      PendingDelta d = FillDelta("p", v, v);
      if (v == 3) d.inputs = "the inputs delta 3 was decided from";
      auto r = s->Append(Batch({d}));
      REQUIRE(r.ok());
      stored.push_back(r->front());
    }
  }
  const std::string digest = stored[2].inputs_digest();
  REQUIRE(!digest.empty());
  auto head_value = [](uint64_t seq, const std::string& hash) { return exo::testing::DeltaKey(seq) + hash; };
  auto refused_open = [&](const std::string& why) {
    auto refused = OpenAs(dir / "db");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == absl::StatusCode::kDataLoss);
    CHECK(std::string(refused.status().message()) == "refusing to open " + (dir / "db") + ": " + why);
  };
  // What audit's verify finds at `seq`, and the node's open refusing the database for it.
  auto found = [&](uint64_t seq, const std::string& error) {
    auto r = Open(dir / "db", true)->Verify(0, 0, nullptr);
    CHECK_FALSE(r.ok);
    CHECK(r.first_bad_sequence == seq);
    CHECK(r.error == error);
    refused_open("the chain does not verify at sequence " + std::to_string(seq) + ": " + error +
                 ". Nothing was changed; inspect with `exoroutectl audit verify --data-dir`");
  };
  auto edit = [&](const std::string& family, const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& f) {
    exo::testing::RawEditFamily(dir / "db", family, f);
  };
  SECTION("inputs removed") {
    edit("inputs", [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), h, digest).ok());
    });
    found(3, "recorded inputs missing");
  }
  SECTION("inputs changed") {
    edit("inputs", [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Put(rocksdb::WriteOptions(), h, digest, "other inputs").ok());
    });
    found(3, "recorded inputs changed (digest mismatch)");
  }
  SECTION("the head's hash is not the last delta's") {
    edit("meta", [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Put(rocksdb::WriteOptions(), h, "head", head_value(4, stored[2].hash())).ok());
    });
    found(4, "chain head hash does not match the last delta");
  }
  SECTION("the head rolled back behind the last delta") {
    edit("meta", [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Put(rocksdb::WriteOptions(), h, "head", head_value(3, stored[2].hash())).ok());
    });
    // (Audit's open reads it as it is: its verify says what is wrong.)
    found(4, "delta stored beyond the chain head 3 (the head was rolled back, or deltas were added outside the node)");
  }
  SECTION("the head removed") {
    edit("meta", [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), h, "head").ok());
    });
    found(1, "delta stored beyond the chain head 0 (the head was rolled back, or deltas were added outside the node)");
  }
  SECTION("the head malformed") {
    edit("meta", [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Put(rocksdb::WriteOptions(), h, "head", "short").ok());
    });
    refused_open("stored chain head is malformed. Nothing was changed; restore the node from a backup");
  }
  SECTION("another format, or none") {
    edit("meta", [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Put(rocksdb::WriteOptions(), h, "format", "exoroute-0").ok());
    });
    auto other = OpenAs(dir / "db");
    REQUIRE_FALSE(other.ok());
    CHECK(other.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(other.status().message()).rfind((dir / "db") + " has format \"exoroute-0\"; this build reads ", 0) == 0);
    edit("meta", [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), h, "format").ok());
    });
    auto none = OpenAs(dir / "db");
    REQUIRE_FALSE(none.ok());
    CHECK(none.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(none.status().message()) == (dir / "db") + " is not an exoroute database (no format marker)");
  }
}

TEST_CASE("foreign and mismatched databases are refused", "[store]") {
  TempDir dir;
  {
    rocksdb::DB* db = nullptr;
    rocksdb::Options o;
    o.create_if_missing = true;
    REQUIRE(rocksdb::DB::Open(o, dir / "other", &db).ok());
    delete db;
  }
  auto s = OpenAs(dir / "other");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(s.status().message()).find("is not an exoroute database") != std::string::npos);

  { Open(dir / "db"); }
  StoreOptions o;
  o.path = dir / "db";
  o.node_id = "node-other";
  s = OpenRocksDeltaStore(o);
  REQUIRE_FALSE(s.ok());
  CHECK(std::string(s.status().message()) ==
        "database " + (dir / "db") + " belongs to node \"node-t\", not \"node-other\"");

  o.path = dir / "missing";
  o.read_only = true;
  o.create_if_missing = false;
  CHECK(OpenRocksDeltaStore(o).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("a read-only store sees the log while the writer has it open", "[store]") {
  TempDir dir;
  auto writer = Open(dir / "db");
  REQUIRE(writer->Append(Batch({FillDelta("p", 1, 1), FillDelta("p", 2, 2)})).ok());
  auto reader = Open(dir / "db", /*read_only=*/true);
  CHECK(reader->Head().sequence() == 2);
  CHECK(reader->Verify(0, 0, nullptr).ok);
  CHECK(reader->Append(Batch({FillDelta("p", 3, 3)})).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  // A second writer is refused with a clear reason.
  auto second = OpenAs(dir / "db");
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("read-only opens succeed while the writer flushes and removes the logs and tables they list",
          "[store]") {
  // `exoroutectl audit` and replay open a running node's store read-only; the node's flushes
  // and compactions remove write-ahead logs and tables meanwhile — here every ~250 appends, a
  // few times a second (a node's 64 MiB bounds make it every ~16 000 such appends). Each
  // read-only open must see a whole chain, never fail for a file that went away while it was
  // opening.
  TempDir dir;
  std::unique_ptr<DeltaStore> writer = OpenWithLogBound(dir / "db", 1 << 20);
  REQUIRE(writer->Append(Batch({FillDelta("p", 1, 1)})).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> written{1};
  std::thread appends([&] {
    for (uint32_t v = 2; !stop.load() && v < 100000; ++v) {
      PendingDelta d = FillDelta("p", v, v);
      d.inputs = std::string(4096, static_cast<char>('a' + v % 26));
      std::vector<PendingDelta> batch;
      batch.push_back(std::move(d));
      if (!writer->Append(std::move(batch)).ok()) break;
      written.store(v);
      std::this_thread::sleep_for(std::chrono::microseconds(500));  // ~1 000 appends a second.
    }
  });
  std::vector<std::string> failures;
  uint64_t last_head = 0;
  bool grew = true;
  int opens = 0;
  for (; written.load() < 3000 && opens < 5000; ++opens) {  // ~12 flushes of the logs.
    const uint32_t before = written.load();
    StoreOptions r;
    r.path = dir / "db";
    r.read_only = true;
    r.create_if_missing = false;
    r.verify_tail_on_open = 64;
    auto reader = OpenRocksDeltaStore(r);
    if (!reader.ok()) {
      failures.push_back(std::string(reader.status().message()));
      continue;
    }
    const uint64_t head = (*reader)->Head().sequence();
    if (head < before || head < last_head) grew = false;  // Never behind what was acknowledged.
    last_head = head;
  }
  stop.store(true);
  appends.join();
  INFO(failures.size() << " of " << opens << " opens failed"
                        << (failures.empty() ? std::string() : ", first: " + failures.front()));
  CHECK(failures.empty());
  CHECK(grew);
  CHECK(last_head >= 2900);
}

namespace {

// The files of `dir` named *`ext` that hold data.
std::vector<std::string> FilesOf(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() == ext && f.file_size() > 0) out.push_back(f.path());
  }
  return out;
}

void Overwrite(const std::string& file, size_t at, const std::string& bytes) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Opening `path` fails as data loss, the message saying what (`names`), for the daemon and for
// the tools.
void CheckRefused(const std::string& path, const std::string& names) {
  for (bool read_only : {false, true}) {
    auto s = OpenAs(path, read_only);
    INFO("read-only: " << read_only << "; "
                        << (s.ok() ? "opened, head " + std::to_string((*s)->Head().sequence())
                                   : std::string(s.status().message())));
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == absl::StatusCode::kDataLoss);
    CHECK(s.status().message().find(names) != std::string_view::npos);
  }
}

}  // namespace

TEST_CASE("CRC32C gives the standard check value and the same values by table and by instruction, continued or not",
          "[store]") {
  CHECK(exo::store::Crc32c("123456789", 9) == 0xE3069283u);
  CHECK(exo::store::Crc32cTable("123456789", 9) == 0xE3069283u);
  std::string bytes(1000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + 7);
  for (size_t n : {0, 1, 7, 8, 9, 63, 1000}) {
    INFO("length " << n);
    const uint32_t whole = exo::store::Crc32cTable(bytes.data(), n);
    CHECK(exo::store::Crc32c(bytes.data(), n) == whole);
    CHECK(exo::store::Crc32c(bytes.data() + n / 3, n - n / 3, exo::store::Crc32c(bytes.data(), n / 3)) == whole);
  }
}

TEST_CASE("a write-ahead log of many 32 KiB blocks with records split across them reads whole, a torn end is still dropped",
          "[store][tamper]") {
  // The log check (store/wal_check.h) must not take a healthy long log for a damaged one.
  TempDir dir;
  auto s = Open(dir / "db");
  for (uint32_t v = 1; v <= 60; ++v) {
    PendingDelta d = FillDelta("p", v, v);
    d.inputs = std::string(3000 + 977 * v, static_cast<char>('a' + v % 26));  // Up to ~62 KiB: split records.
    std::vector<PendingDelta> batch;
    batch.push_back(std::move(d));
    REQUIRE(s->Append(std::move(batch)).ok());
  }
  std::filesystem::copy(dir / "db", dir / "crash", std::filesystem::copy_options::recursive);
  const std::vector<std::string> logs = FilesOf(dir / "crash", ".log");
  REQUIRE(logs.size() == 1);
  const size_t size = std::filesystem::file_size(logs[0]);
  REQUIRE(size > 20 * 32768);
  CHECK(exo::store::CheckWalTail(logs[0]).ok());
  SECTION("whole: every delta there") {
    auto c = Open(dir / "crash");
    CHECK(c->Head().sequence() == 60);
    CHECK(c->Verify(0, 0, nullptr).ok);
  }
  SECTION("torn inside its last record (split across blocks): the 59 before it there") {
    std::filesystem::resize_file(logs[0], size - 40000);
    CHECK(exo::store::CheckWalTail(logs[0]).ok());
    auto c = Open(dir / "crash");
    CHECK(c->Head().sequence() == 59);
    CHECK(c->Verify(0, 0, nullptr).ok);
  }
  SECTION("a byte changed in the tenth block: refused") {
    Overwrite(logs[0], 10 * 32768 + 1000, "\x5a");
    const absl::Status check = exo::store::CheckWalTail(logs[0]);
    CHECK(check.code() == absl::StatusCode::kDataLoss);
    CHECK(std::string(check.message()).find(" is damaged at byte ") != std::string::npos);
  }
}

TEST_CASE("the write-ahead logs stay within their bound however much is appended, and a crash copy opens whole",
          "[store]") {
  // A long-running node: the logs a start after a crash replays must not grow with the chain.
  // The bound made small (512 KiB of logs) and ~3.3 MiB appended.
  TempDir dir;
  const uint64_t bound = 512 << 10;
  std::unique_ptr<DeltaStore> s = OpenWithLogBound(dir / "db", bound);
  auto logs_bytes = [&s] { return s->Usage().log_bytes; };
  CHECK(s->Usage().max_log_bytes == bound);
  uint64_t most = 0;
  for (uint32_t v = 1; v <= 400; ++v) {
    PendingDelta d = FillDelta("p", v, v);
    d.inputs = std::string(8192, static_cast<char>('a' + v % 26));  // As a decision's recorded books.
    std::vector<PendingDelta> batch;
    batch.push_back(std::move(d));
    REQUIRE(s->Append(std::move(batch)).ok());
    most = std::max(most, logs_bytes());
  }
  // Flushes run in the background: the logs they free go a little after the write that started
  // them (longer on a loaded machine), so the bound is checked once they have run — within
  // twice the bound: the log being written and the one flushing. Without it: all 3.3 MiB.
  uint64_t settled = logs_bytes();
  for (int i = 0; i < 500 && settled >= 2 * bound; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    settled = logs_bytes();
  }
  INFO("the logs: at most " << most << " bytes while appending, " << settled << " after");
  CHECK(settled < 2 * bound);
  // A copy of the files as they are — a crash now — while background flushes may still remove
  // logs: copied again until no file went away during the copy.
  bool copied = false;
  for (int attempt = 0; attempt < 50 && !copied; ++attempt) {
    std::filesystem::remove_all(dir / "crash");
    std::error_code gone;
    std::filesystem::copy(dir / "db", dir / "crash", std::filesystem::copy_options::recursive, gone);
    copied = !gone;
    if (!copied) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(copied);
  CHECK(!FilesOf(dir / "crash", ".sst").empty());  // The rest went to tables.
  auto c = Open(dir / "crash");
  CHECK(c->Head().sequence() == 400);
  CHECK(c->Head().hash() == s->Head().hash());
  CHECK(c->Verify(0, 0, nullptr).ok);
}

TEST_CASE("the store's usage follows what it holds: logs and memtables while appending, tables after a close",
          "[store]") {
  TempDir dir;
  StoreOptions o;
  o.path = dir / "db";
  o.node_id = "node-t";
  o.memtable_budget_bytes = uint64_t{48} << 20;
  o.max_wal_bytes = uint64_t{24} << 20;
  std::mt19937_64 rng(5);
  auto noise = [&rng](size_t n) {  // Recorded inputs that do not compress.
    std::string out(n, '\0');
    for (char& c : out) c = static_cast<char>(rng());
    return out;
  };
  constexpr uint64_t kAppended = 40 * 65536;  // 2.5 MiB of recorded inputs.
  {
    auto opened = OpenRocksDeltaStore(o);
    REQUIRE(opened.ok());
    std::unique_ptr<DeltaStore> s = *std::move(opened);
    const StoreUsage empty = s->Usage();
    CHECK(empty.memtable_budget_bytes == o.memtable_budget_bytes);
    CHECK(empty.max_log_bytes == o.max_wal_bytes);
    CHECK(empty.memtable_bytes < 1 << 20);
    for (uint32_t v = 1; v <= 40; ++v) {
      PendingDelta d = FillDelta("p", v, v);
      d.inputs = noise(65536);
      std::vector<PendingDelta> batch;
      batch.push_back(std::move(d));
      REQUIRE(s->Append(std::move(batch)).ok());
    }
    // Everything is in the logs and the memtables (both bounds far above it): nothing flushed.
    const StoreUsage full = s->Usage();
    INFO("logs " << full.log_bytes << ", memtables " << full.memtable_bytes << ", tables " << full.table_bytes);
    CHECK(full.log_bytes >= kAppended);
    CHECK(full.memtable_bytes >= kAppended);
    CHECK(full.table_bytes < kAppended);
  }
  // A stopped node keeps everything in table files: a start reads no log.
  auto reopened = OpenRocksDeltaStore(o);
  REQUIRE(reopened.ok());
  const StoreUsage after = (*reopened)->Usage();
  INFO("logs " << after.log_bytes << ", memtables " << after.memtable_bytes << ", tables " << after.table_bytes);
  CHECK(after.table_bytes >= kAppended);
  CHECK(after.log_bytes < kAppended / 10);
  CHECK(after.memtable_bytes < kAppended / 10);
}

TEST_CASE("damaged files are refused at open and never recovered to a shorter chain, a torn last record is dropped",
          "[store][tamper]") {
  // Every append is synced before it is acknowledged, so after a crash only the last record of
  // the write-ahead log can be incomplete — it was never acknowledged. Damage anywhere else
  // would drop acknowledged deltas: the store refuses to open rather than recover to a point.
  TempDir dir;
  auto s = Open(dir / "db");
  for (uint32_t v = 1; v <= 10; ++v) REQUIRE(s->Append(Batch({FillDelta("p", v, 1)})).ok());
  // The files as a power cut would leave them: everything in the synced log.
  std::filesystem::copy(dir / "db", dir / "crash", std::filesystem::copy_options::recursive);
  const std::vector<std::string> logs = FilesOf(dir / "crash", ".log");
  REQUIRE(logs.size() == 1);
  const size_t size = std::filesystem::file_size(logs[0]);
  REQUIRE(size > 1000);

  SECTION("a torn last record: the nine acknowledged deltas are all there") {
    std::filesystem::resize_file(logs[0], size - 7);
    auto c = Open(dir / "crash");
    CHECK(c->Head().sequence() == 9);
    CHECK(c->Verify(0, 0, nullptr).ok);
  }
  SECTION("bytes changed in the log's first record, the others intact: refused") {
    Overwrite(logs[0], 40, "\xde\xad\xbe\xef");
    CheckRefused(dir / "crash", " is damaged at byte 0: a whole record that does not check out");
  }
  SECTION("CURRENT gone, with or without the logs: refused, never a new database over the old files") {
    s.reset();
    const bool without_logs = GENERATE(false, true);
    INFO("logs removed too: " << without_logs);
    std::filesystem::remove(std::filesystem::path(dir / "db") / "CURRENT");
    if (without_logs) {
      for (const auto& f : std::filesystem::directory_iterator(dir / "db")) {
        if (f.path().extension() == ".log") std::filesystem::remove(f.path());
      }
    }
    auto c = OpenAs(dir / "db");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == absl::StatusCode::kDataLoss);
    CHECK(std::filesystem::exists(std::filesystem::path(dir / "db") / "CURRENT") == false);
  }
  SECTION("a record's length damaged in the log's last block: refused, not taken for a torn tail") {
    // RocksDB alone takes a length that runs past the file's end for a torn last append and
    // recovers to the record before it: here deltas 6 to 10, acknowledged, would be gone.
    std::string log;
    {
      std::ifstream in(logs[0], std::ios::binary);
      log.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    std::vector<size_t> records;  // Offsets of the physical records (all in the first block).
    for (size_t at = 0; at + 7 <= log.size();) {
      records.push_back(at);
      at += 7 + (static_cast<uint8_t>(log[at + 4]) | static_cast<size_t>(static_cast<uint8_t>(log[at + 5])) << 8);
    }
    REQUIRE(records.size() >= 10);
    REQUIRE(records.back() < 32768);
    // Its length field set to 0xffff: the fifth record from the end, or the last (whole, its
    // header damaged: its bytes to the end of the file check out under its CRC).
    const bool last = GENERATE(false, true);
    const size_t damaged = records[records.size() - (last ? 1 : 5)];
    INFO("damaged record at byte " << damaged << (last ? ", the last" : ""));
    Overwrite(logs[0], damaged + 4, "\xff\xff");
    CheckRefused(dir / "crash", " is damaged at byte " + std::to_string(damaged) +
                                    (last ? ": its last record is whole but its header is not"
                                          : " and a whole record follows at byte " +
                                                std::to_string(records[records.size() - 4])));
  }
  SECTION("a stopped store keeps its deltas in checksummed tables: bytes changed there are refused") {
    s.reset();  // Stopped cleanly.
    CHECK(FilesOf(dir / "db", ".log").empty());
    const std::vector<std::string> tables = FilesOf(dir / "db", ".sst");
    REQUIRE_FALSE(tables.empty());
    // (In each table's first data block, which RocksDB checks when it reads it. Damage to the
    // blocks it reads before checking them: table_check_test.cc.)
    for (const std::string& t : tables) Overwrite(t, 20, "\xde\xad\xbe\xef");
    CheckRefused(dir / "db", "Corruption: block checksum mismatch");
    // Framed as the store's own checks frame theirs: which database, nothing changed, what to do.
    CheckRefused(dir / "db", "refusing to open " + (dir / "db") + ": ");
    CheckRefused(dir / "db", ". Nothing was changed; restore the node from a backup");
  }
}

TEST_CASE("after a failed write every write is refused with the first failure, the database has every acknowledged delta",
          "[store]") {
  TempDir dir;
  // Writes past a file-size limit fail with EFBIG (SIGXFSZ ignored, as exorouted ignores it),
  // as on a full disk; the limit is this test process's own and put back before the reopen.
  struct sigaction ignore{}, saved_action{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(sigaction(SIGXFSZ, &ignore, &saved_action) == 0);
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  std::vector<std::string> acknowledged;
  uint64_t head = 0;
  {
    auto s = Open(dir.path());
    rlimit low = saved;
    low.rlim_cur = 200'000;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &low) == 0);
    absl::Status failed;
    for (int i = 0; i < 5000 && failed.ok(); ++i) {
      const std::string plan = "p" + std::to_string(i);
      auto stored = s->Append(Batch({FillDelta(plan, 1, 100)}));
      if (stored.ok()) {
        acknowledged.push_back(plan);
      } else {
        failed = stored.status();
      }
    }
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.code() == absl::StatusCode::kUnavailable);
    CHECK(absl::StrContains(failed.message(), "File too large"));
    CHECK(s->WriteFailure() == failed);
    head = s->Head().sequence();
    CHECK(head == acknowledged.size());
    // Every other write answers the same, and RocksDB is given none (it would abort the process).
    CHECK(s->Append(Batch({FillDelta("later", 1, 1)})).status() == failed);
    CHECK(s->Spend("budget/x", 1, 10).status() == failed);
    CHECK(s->PutCheckpoint("cp") == failed);
    const absl::StatusOr<ChainHead> backup = s->Backup(dir / "backup");  // (Nor a backup, which syncs.)
    CHECK(backup.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(absl::StrContains(backup.status().message(), "stop the node and copy its data directory"));
    CHECK_FALSE(std::filesystem::exists(dir / "backup"));
    CHECK(s->Head().sequence() == head);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0);
  }  // Left as a crash leaves it (still locked by this process: read it as an auditor does;
     // the daemon's restart after such a failure is tests/integration/store_failure_test.cc).
  REQUIRE(sigaction(SIGXFSZ, &saved_action, nullptr) == 0);
  auto s = Open(dir.path(), /*read_only=*/true);
  CHECK(s->Head().sequence() == head);
  for (const std::string& plan : acknowledged) {
    int found = 0;
    REQUIRE(s->ScanPlan(plan, 1, [&](const PlanDelta&, std::string_view) { return ++found > 0; }).ok());
    CHECK(found == 1);
  }
  CHECK(s->Verify(0, 0, {}).ok);
}

TEST_CASE("a backup taken while appends go on opens as a store holding the chain up to its head", "[store]") {
  TempDir dir;
  auto s = Open(dir / "db");
  for (int i = 1; i <= 50; ++i) REQUIRE(s->Append(Batch({FillDelta("before" + std::to_string(i), 1, i)})).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0}, failures{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      if (s->Append(Batch({FillDelta("during" + std::to_string(i), 1, 1)})).ok()) {
        ++appended;
      } else {
        ++failures;
      }
    }
  });
  auto wait_for = [&](int n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (appended < n && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  wait_for(20);
  const absl::StatusOr<ChainHead> head = s->Backup(dir / "backup");
  wait_for(appended + 10);  // The store goes on taking appends after it.
  stop = true;
  writer.join();
  CHECK(failures == 0);
  REQUIRE(head.ok());
  CHECK(head->sequence() >= 70);
  CHECK(head->sequence() < s->Head().sequence());

  // The copy, opened as an auditor opens it: the head the backup answered, a chain that
  // verifies to it, and every delta the same bytes as the live store's at its sequence.
  auto copy = Open(dir / "backup", /*read_only=*/true);
  CHECK(copy->Head().sequence() == head->sequence());
  CHECK(copy->Head().hash() == head->hash());
  const exo::store::VerifyReport report = copy->Verify(0, 0, nullptr);
  CHECK(report.ok);
  CHECK(report.checked == head->sequence());
  std::vector<std::string> live, copied;
  REQUIRE(s->ScanCanonical(1, head->sequence(), [&](uint64_t, std::string_view b) {
    live.emplace_back(b);
    return true;
  }).ok());
  REQUIRE(copy->ScanCanonical(1, 0, [&](uint64_t, std::string_view b) {
    copied.emplace_back(b);
    return true;
  }).ok());
  CHECK(copied.size() == head->sequence());
  CHECK(copied == live);
  // A backup is never written over.
  CHECK(s->Backup(dir / "backup").status().code() == absl::StatusCode::kAlreadyExists);
}
