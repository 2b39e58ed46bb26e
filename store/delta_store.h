// DeltaStore: the node's append-only, hash-chained log of PlanDeltas and the inputs they were
// decided from.
//
// Every delta gets the next node-wide sequence number and hash = SHA-256(prev_hash ||
// canonical bytes) (store/delta_codec.h). `Append` is atomic and durable: when it returns OK the
// batch is on disk with the write-ahead log synced; concurrent appenders share one sync (group
// commit). A store opened read-only (an operator's offline replay while the daemon runs or is
// stopped) sees the log as it was when opened.
//
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "exoroute/v1/types.pb.h"

namespace exo::store {

// A delta to append. The store sets sequence, prev_hash, hash and (when `inputs` is not empty)
// inputs_digest = SHA-256(inputs); inputs are stored under that digest.
struct PendingDelta {
  exoroute::v1::PlanDelta delta;
  std::string inputs;  // Serialized SolveInput this delta was decided from, or empty.
};

// Called for each delta in order; return false to stop early.
using DeltaVisitor =
    std::function<bool(const exoroute::v1::PlanDelta& delta, std::string_view canonical)>;

// Called for each delta's stored canonical bytes (not decoded), in order; false stops.
using CanonicalVisitor = std::function<bool(uint64_t sequence, std::string_view canonical)>;

struct VerifyReport {
  bool ok = true;
  bool stopped = false;             // `progress` asked to stop: checked so far, ok says nothing.
  uint64_t checked = 0;
  uint64_t first_bad_sequence = 0;  // 0 when ok.
  std::string error;                // Why first_bad_sequence is bad.
};

// Told now and then how far a long check has come (done of total); false stops it there.
using VerifyProgress = std::function<bool(uint64_t done, uint64_t total)>;

// What a store holds on disk and in memory, and the bounds it runs with.
struct StoreUsage {
  uint64_t table_bytes = 0;     // Table (.sst) files on disk.
  uint64_t log_bytes = 0;       // Write-ahead log files on disk.
  uint64_t memtable_bytes = 0;  // All memtables of all column families.
  uint64_t memtable_budget_bytes = 0;  // StoreOptions.memtable_budget_bytes.
  uint64_t max_log_bytes = 0;          // StoreOptions.max_wal_bytes.
};

class DeltaStore {
 public:
  virtual ~DeltaStore() = default;

  // Appends the batch atomically, in order, durably. All deltas of one call are contiguous.
  // Each delta's plan_version must follow its plan's last (1 for a new plan): a batch that
  // breaks this is refused whole with FailedPrecondition naming the plan and version, and
  // nothing of it is written (other appenders go on). After a write failure the store refuses
  // further appends (the in-memory head could no longer be trusted) and every call returns
  // that error.
  virtual absl::StatusOr<std::vector<exoroute::v1::PlanDelta>> Append(
      std::vector<PendingDelta> batch) = 0;

  virtual exoroute::v1::ChainHead Head() const = 0;
  // Waits until the head's sequence is past `after` (a later append is durable) or `timeout`
  // passes; returns the head's sequence then.
  virtual uint64_t AwaitHead(uint64_t after, absl::Duration timeout) const = 0;
  // OK, or the write failure after which the store takes no more appends (what every Append
  // then answers).
  virtual absl::Status WriteFailure() const = 0;

  // Deltas with from <= sequence <= to, in order (to == 0: up to the head).
  virtual absl::Status Scan(uint64_t from, uint64_t to, const DeltaVisitor& visit) const = 0;
  // The same, each delta's canonical bytes as stored under its sequence, not decoded (Merkle
  // proofs hash them: half the time of Scan over a long chain).
  virtual absl::Status ScanCanonical(uint64_t from, uint64_t to, const CanonicalVisitor& visit) const = 0;

  // One plan's deltas with plan_version >= from_version, in order.
  virtual absl::Status ScanPlan(std::string_view plan_id, uint32_t from_version,
                                const DeltaVisitor& visit) const = 0;

  // The recorded inputs stored under `digest`. NotFound if none.
  virtual absl::StatusOr<std::string> GetInputs(std::string_view digest) const = 0;

  // Checks every delta in [from, to] (to == 0: the head): decodes, sequence under its key,
  // prev_hash links, recomputed hash, recorded inputs present and matching their digest, and
  // (for a range that reaches the head) that the chain ends exactly at the stored head.
  // `progress(done, total)` is called now and then (every 4096 deltas) when given; when it
  // answers false the check stops there (`stopped`: a client that went away).
  virtual VerifyReport Verify(uint64_t from, uint64_t to, const VerifyProgress& progress) const = 0;

  // What the store holds now, against its bounds (StoreOptions).
  virtual StoreUsage Usage() const = 0;

  // The privacy-budget ledger (docs/cluster.md): adds `amount` to what is recorded as spent
  // under `key`, unless the total would exceed `limit`. Durable (WAL synced) before it returns,
  // so a restart never forgets spending. Returns the new total, or ResourceExhausted naming
  // what is left.
  virtual absl::StatusOr<int64_t> Spend(std::string_view key, int64_t amount, int64_t limit) = 0;
  // Every ledger entry whose key starts with `prefix`, in key order.
  virtual absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> Spent(
      std::string_view prefix) const = 0;

  // Records kept beside the chain, never in it (a cluster coordinator's shortfall work,
  // docs/cluster.md): `bytes` under `key`, replacing what was there. Durable (WAL synced) when
  // PutRecord returns. GetRecord reads one (NotFound without it); ScanRecords gives `visit`
  // each whose key starts with `prefix`, in key order, one at a time, until it returns false.
  virtual absl::Status PutRecord(std::string_view key, std::string_view bytes) = 0;
  virtual absl::StatusOr<std::string> GetRecord(std::string_view key) const = 0;
  using RecordVisitor = std::function<bool(std::string_view key, std::string_view bytes)>;
  virtual absl::Status ScanRecords(std::string_view prefix, const RecordVisitor& visit) const = 0;

  // A reader's summary of the chain up to some sequence (the engine's start-up checkpoint),
  // kept beside the chain, never in it: not hashed, not audited, replaced by each put. Durable
  // (WAL synced) when PutCheckpoint returns; GetCheckpoint is NotFound when none was put.
  virtual absl::Status PutCheckpoint(std::string_view bytes) = 0;
  virtual absl::StatusOr<std::string> GetCheckpoint() const = 0;

  // A consistent copy of the whole database in `dir` (which must not exist; its parent must),
  // taken between two writes while the store keeps serving: on the same filesystem its table
  // files are hard links, elsewhere copies. The copy is then opened read-only, as an offline
  // `exoroutectl` would open it, and its chain head returned. FailedPrecondition after a write
  // failure (RocksDB must not be asked to sync again: stop the node and copy its files).
  virtual absl::StatusOr<exoroute::v1::ChainHead> Backup(const std::string& dir) const = 0;
};

struct StoreOptions {
  std::string path;
  std::string node_id;        // Must match the node id recorded at creation.
  bool read_only = false;     // Offline replay/verify; never writes.
  bool create_if_missing = true;
  uint64_t verify_tail_on_open = 1024;  // Deltas at the tail checked on open.
  // All memtables together (RocksDB flushes the largest family as they near it), and all
  // write-ahead logs together (beyond it, the families holding the oldest log are flushed):
  // what the store holds in memory, and the most a start after a crash replays. RocksDB's own
  // defaults (two 64 MiB memtables per family; logs kept until the last family with data in
  // them flushes, up to 2.5 GiB here) grew a long-running node's memory and restart time
  // (docs/BENCHMARKS.md, "Soak"). exorouted sets them from store.memtable_mib and
  // store.max_wal_mib.
  uint64_t memtable_budget_bytes = uint64_t{64} << 20;
  uint64_t max_wal_bytes = uint64_t{64} << 20;
};

// Opens (or creates) the RocksDB-backed store. Refuses, with a message saying why, a directory
// that is not an exoroute database, one that belongs to another node, and one whose chain tail
// does not verify (it is never silently repaired). A read-only open of a store that a running
// node is writing is made again when the node removed one of its files meanwhile (up to 20
// times; then Unavailable saying so).
absl::StatusOr<std::unique_ptr<DeltaStore>> OpenRocksDeltaStore(const StoreOptions& options);

// 32 zero bytes: the prev_hash of sequence 1.
const std::string& GenesisHash();

}  // namespace exo::store
