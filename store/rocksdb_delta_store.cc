// RocksDB implementation of DeltaStore.
//
// Column families:
//   deltas  key: sequence (8 bytes BE)            value: prev_hash(32) || hash(32) || canonical
//   plans   key: plan_id || 0x00 || version (4 BE) value: sequence (8 bytes BE)
//   inputs  key: SHA-256 of the inputs (32)        value: serialized SolveInput
//   meta    "format" -> kFormat, "node_id" -> node id, "head" -> sequence(8 BE) || hash(32)
// One Append = one WriteBatch across all four, written with sync=true by a group leader.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "exo/sha256.h"
#include "exo/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "store/abort_notice.h"
#include "store/chain_link.h"
#include "store/delta_codec.h"
#include "store/delta_store.h"
#include "store/table_check.h"
#include "store/wal_check.h"

#include <cstring>

namespace exo::store {
namespace {

using exoroute::v1::ChainHead;
using exoroute::v1::PlanDelta;

constexpr char kFormat[] = "exoroute.deltastore.v1";
constexpr char kCfDeltas[] = "deltas";
constexpr char kCfPlans[] = "plans";
constexpr char kCfInputs[] = "inputs";
constexpr char kCfMeta[] = "meta";
constexpr size_t kHashSize = 32;

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(Sv(what), ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError()) return absl::UnavailableError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

std::string SeqKey(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i) {
    k[i] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return k;
}

uint64_t ParseSeq(std::string_view k) {
  uint64_t v = 0;
  for (unsigned char c : k) v = (v << 8) | c;
  return v;
}

std::string PlanKey(std::string_view plan_id, uint32_t version) {
  std::string k(plan_id);
  k.push_back('\0');
  for (int s = 24; s >= 0; s -= 8) k.push_back(static_cast<char>((version >> s) & 0xff));
  return k;
}

struct StoredDelta {
  std::string_view prev_hash, hash, canonical;
};

absl::StatusOr<StoredDelta> SplitValue(std::string_view v) {
  if (v.size() < 2 * kHashSize + 1) {
    return absl::DataLossError(absl::StrCat("stored record truncated (", v.size(), " bytes)"));
  }
  return StoredDelta{v.substr(0, kHashSize), v.substr(kHashSize, kHashSize),
                     v.substr(2 * kHashSize)};
}

class RocksDeltaStore final : public DeltaStore {
 public:
  RocksDeltaStore(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> cfs,
                  const StoreOptions& o)
      : db_(std::move(db)),
        cfs_(std::move(cfs)),
        path_(o.path),
        read_only_(o.read_only),
        memtable_budget_bytes_(o.memtable_budget_bytes),
        max_log_bytes_(o.max_wal_bytes) {}

  ~RocksDeltaStore() override {
    if (!WriteFailure().ok()) {
      // After a failed write RocksDB must not be asked to write or sync again (its log writer
      // aborts the process): the database is left as a crash leaves it, and the next start
      // recovers it from its log as after a crash. (Kept reachable, never closed: the handles
      // go with the process.)
      static auto* abandoned = new std::vector<std::pair<std::unique_ptr<rocksdb::DB>, std::vector<rocksdb::ColumnFamilyHandle*>>>();
      static std::mutex abandoned_mu;
      std::lock_guard<std::mutex> lock(abandoned_mu);
      abandoned->emplace_back(std::move(db_), std::move(cfs_));
      return;
    }
    // A stopped node keeps everything in table files, whose blocks carry checksums that every
    // read checks: damage to its files is found wherever it is. (In the write-ahead log, damage
    // to a record's length in the last block would read as a write torn by a crash.)
    if (!read_only_) {
      db_->FlushWAL(/*sync=*/true).PermitUncheckedError();
      db_->Flush(rocksdb::FlushOptions(), cfs_).PermitUncheckedError();
    }
    for (auto* h : cfs_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }

  absl::Status LoadHead() {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta(), "head", &v);
    if (s.IsNotFound()) {
      head_.set_sequence(0);
      head_.set_hash(GenesisHash());
      return absl::OkStatus();
    }
    EXO_RETURN_IF_ERROR(FromRocks(s, "read head"));
    if (v.size() != 8 + kHashSize) return absl::DataLossError("stored chain head is malformed");
    head_.set_sequence(ParseSeq(std::string_view(v).substr(0, 8)));
    head_.set_hash(v.substr(8));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<PlanDelta>> Append(std::vector<PendingDelta> batch) override {
    if (read_only_) return absl::FailedPreconditionError("store is open read-only");
    Writer w;
    w.batch = &batch;
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back(&w);
    cv_.wait(lock, [&] { return w.done || queue_.front() == &w; });
    if (w.done) return std::move(w.result);

    // This thread leads a group: everything queued so far goes into one synced write.
    std::vector<Writer*> group(queue_.begin(), queue_.end());
    ChainHead head = head_;
    absl::Status failed = failed_;
    lock.unlock();

    rocksdb::WriteBatch wb;
    if (failed.ok()) {
      std::set<std::string> staged;  // Plan keys staged by this group so far.
      for (Writer* g : group) {
        // A batch whose plan versions do not follow the plan's last one is refused whole (the
        // others of the group go on): two records of one plan, say, would otherwise both be
        // chained, and the second would hide the first from ScanPlan.
        absl::Status in_order = CheckVersions(*g->batch, &staged);
        g->result = in_order.ok() ? absl::StatusOr<std::vector<PlanDelta>>(Stage(*g->batch, &head, &wb)) : in_order;
      }
      std::string head_value = SeqKey(head.sequence()) + head.hash();
      rocksdb::Status ps = wb.Put(meta(), "head", head_value);
      failed = ps.ok() ? WriteSynced(&wb, "append") : FromRocks(ps, "append");
    }

    lock.lock();
    if (failed.ok()) {
      head_ = head;
    } else {
      for (Writer* g : group) g->result = failed;
    }
    for (Writer* g : group) {
      g->done = true;
      queue_.pop_front();
    }
    cv_.notify_all();
    return std::move(w.result);
  }

  ChainHead Head() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return head_;
  }

  uint64_t AwaitHead(uint64_t after, absl::Duration timeout) const override {
    std::unique_lock<std::mutex> lock(mu_);
    // cv_ is notified when each group's write is done (the head moved, or the write failed).
    cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return head_.sequence() > after; });
    return head_.sequence();
  }

  absl::Status WriteFailure() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

  absl::Status Scan(uint64_t from, uint64_t to, const DeltaVisitor& visit) const override {
    return ForEachStored(from, to, [&](uint64_t seq, std::string_view value, bool* keep_going) {
      return Visit(seq, value, visit, keep_going);
    });
  }

  absl::Status ScanCanonical(uint64_t from, uint64_t to, const CanonicalVisitor& visit) const override {
    return ForEachStored(from, to, [&](uint64_t seq, std::string_view value, bool* keep_going) -> absl::Status {
      EXO_ASSIGN_OR_RETURN(StoredDelta sd, SplitValue(value));
      *keep_going = visit(seq, sd.canonical);
      return absl::OkStatus();
    });
  }

  // The stored values of deltas from..to (to == 0: to the last), in order, to `each(seq, value,
  // &keep_going)` until it clears keep_going or answers an error.
  template <typename Each>
  absl::Status ForEachStored(uint64_t from, uint64_t to, Each each) const {
    if (from == 0) from = 1;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), deltas()));
    for (it->Seek(SeqKey(from)); it->Valid(); it->Next()) {
      uint64_t seq = ParseSeq(it->key().ToStringView());
      if (to != 0 && seq > to) break;
      bool keep_going = true;
      EXO_RETURN_IF_ERROR(each(seq, it->value().ToStringView(), &keep_going));
      if (!keep_going) return absl::OkStatus();
    }
    return FromRocks(it->status(), "scan deltas");
  }

  // The delta stored under `seq` as `value`, decoded and handed to `visit`.
  static absl::Status Visit(uint64_t seq, std::string_view value, const DeltaVisitor& visit, bool* keep_going) {
    EXO_ASSIGN_OR_RETURN(StoredDelta sd, SplitValue(value));
    absl::StatusOr<PlanDelta> d = DecodeCanonical(sd.canonical);
    if (!d.ok()) {
      return absl::DataLossError(absl::StrCat("delta ", seq, ": ", d.status().message()));
    }
    d->set_prev_hash(std::string(sd.prev_hash));
    d->set_hash(std::string(sd.hash));
    *keep_going = visit(*d, sd.canonical);
    return absl::OkStatus();
  }

  absl::Status ScanPlan(std::string_view plan_id, uint32_t from_version,
                        const DeltaVisitor& visit) const override {
    std::string prefix(plan_id);
    prefix.push_back('\0');
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), plans()));
    for (it->Seek(PlanKey(plan_id, from_version)); it->Valid(); it->Next()) {
      if (!it->key().starts_with(prefix)) break;
      uint64_t seq = ParseSeq(it->value().ToStringView());
      // A point read (a plan's deltas lie far apart in the chain): no iterator per delta.
      rocksdb::PinnableSlice value;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), deltas(), SeqKey(seq), &value);
      if (s.IsNotFound()) {
        return absl::DataLossError(
            absl::StrCat("plan index names sequence ", seq, " which is not stored"));
      }
      EXO_RETURN_IF_ERROR(FromRocks(s, "read delta"));
      bool keep_going = true;
      EXO_RETURN_IF_ERROR(Visit(seq, value.ToStringView(), visit, &keep_going));
      if (!keep_going) break;
    }
    return FromRocks(it->status(), "scan plan");
  }

  absl::StatusOr<std::string> GetInputs(std::string_view digest) const override {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), inputs(), digest, &v);
    if (s.IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("no recorded inputs with digest ", ToHex(digest)));
    }
    EXO_RETURN_IF_ERROR(FromRocks(s, "read inputs"));
    return v;
  }

  VerifyReport Verify(uint64_t from, uint64_t to,
                      const VerifyProgress& progress) const override {
    VerifyReport r;
    ChainHead head = Head();
    if (from == 0) from = 1;
    bool to_head = to == 0 || to >= head.sequence();
    if (to == 0) to = head.sequence();
    auto bad = [&r](uint64_t seq, std::string why) {
      r.ok = false;
      r.first_bad_sequence = seq;
      r.error = std::move(why);
      return r;
    };
    Sha256 hasher;
    std::string expected_prev = GenesisHash();
    if (from > 1) {
      std::string v;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), deltas(), SeqKey(from - 1), &v);
      if (!s.ok()) return bad(from - 1, absl::StrCat("cannot read delta: ", s.ToString()));
      absl::StatusOr<StoredDelta> sd = SplitValue(v);
      if (!sd.ok()) return bad(from - 1, std::string(sd.status().message()));
      expected_prev = std::string(sd->hash);
    }
    ChainLinks links(from, expected_prev);
    uint64_t total = to >= from ? to - from + 1 : 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), deltas()));
    uint64_t beyond_head = 0;  // Checking to the head: the first delta stored after it.
    for (it->Seek(SeqKey(from)); it->Valid(); it->Next()) {
      std::string_view key = it->key().ToStringView();
      if (key.size() != 8) return bad(links.next_sequence(), "malformed key in deltas column family");
      uint64_t seq = ParseSeq(key);
      if (seq > to) {
        if (to_head && to == head.sequence()) beyond_head = seq;
        break;
      }
      absl::StatusOr<StoredDelta> sd = SplitValue(it->value().ToStringView());
      if (!sd.ok()) return bad(seq, std::string(sd.status().message()));
      PlanDelta d;
      if (absl::Status link = links.Next(seq, sd->canonical, sd->prev_hash, sd->hash, &d); !link.ok()) {
        return bad(links.next_sequence(), std::string(link.message()));
      }
      if (!d.inputs_digest().empty()) {
        std::string in;
        rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), inputs(), d.inputs_digest(), &in);
        if (!s.ok()) return bad(seq, "recorded inputs missing");
        if (DigestToString(hasher.Hash({in})) != d.inputs_digest()) {
          return bad(seq, "recorded inputs changed (digest mismatch)");
        }
      }
      ++r.checked;
      if (progress && r.checked % 4096 == 0 && !progress(r.checked, total)) {
        r.stopped = true;
        return r;
      }
    }
    if (!it->status().ok()) return bad(links.next_sequence(), it->status().ToString());
    if (links.next_sequence() <= to) {
      return bad(links.next_sequence(), absl::StrCat("delta missing (chain ends at ", links.next_sequence() - 1,
                                                     ", expected ", to, ")"));
    }
    if (to_head && head.sequence() > 0 && links.last_hash() != head.hash()) {
      return bad(head.sequence(), "chain head hash does not match the last delta");
    }
    if (beyond_head > 0) {
      return bad(beyond_head, absl::StrCat("delta stored beyond the chain head ", head.sequence(),
                                           " (the head was rolled back, or deltas were added outside the node)"));
    }
    if (progress) progress(r.checked, total);  // (At the end: nothing left to stop.)
    return r;
  }

  StoreUsage Usage() const override {
    StoreUsage u;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path_, ec)) {
      const auto ext = e.path().extension();
      const uint64_t size = e.file_size(ec);
      if (ec) continue;  // (Gone meanwhile: a log recycled, a table compacted away.)
      if (ext == ".sst") u.table_bytes += size;
      if (ext == ".log") u.log_bytes += size;
    }
    uint64_t memtables = 0;
    if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables)) {
      u.memtable_bytes = memtables;
    }
    u.memtable_budget_bytes = memtable_budget_bytes_;
    u.max_log_bytes = max_log_bytes_;
    return u;
  }

 private:
  struct Writer {
    std::vector<PendingDelta>* batch = nullptr;
    absl::StatusOr<std::vector<PlanDelta>> result = absl::InternalError("not written");
    bool done = false;
  };

  // Every delta's plan_version must be the next of its plan: 1 for a new plan, else one more
  // than a version already recorded (or staged earlier in this group, `*staged`), and not
  // recorded yet. Adds the batch's keys to `*staged` when it passes.
  absl::Status CheckVersions(const std::vector<PendingDelta>& batch, std::set<std::string>* staged) const {
    std::set<std::string> mine;
    auto known = [&](const std::string& key) {
      if (staged->count(key) > 0 || mine.count(key) > 0) return true;
      std::string value;
      return db_->Get(rocksdb::ReadOptions(), plans(), key, &value).ok();
    };
    for (const PendingDelta& p : batch) {
      const PlanDelta& d = p.delta;
      const std::string key = PlanKey(d.plan_id(), d.plan_version());
      if (d.plan_version() == 0 || known(key) || (d.plan_version() > 1 && !known(PlanKey(d.plan_id(), d.plan_version() - 1)))) {
        return absl::FailedPreconditionError(absl::StrCat(
            "append: plan \"", d.plan_id(), "\" version ", d.plan_version(),
            d.plan_version() == 0 ? " (versions start at 1)" : known(key) ? " is recorded already" : " does not follow its last"));
      }
      mine.insert(key);
    }
    staged->insert(mine.begin(), mine.end());
    return absl::OkStatus();
  }

  // Assigns sequences and hashes (advancing `head`) and stages the writes. Only the group
  // leader calls this, so `hasher_` needs no lock.
  std::vector<PlanDelta> Stage(std::vector<PendingDelta>& batch, ChainHead* head,
                               rocksdb::WriteBatch* wb) {
    std::vector<PlanDelta> out;
    out.reserve(batch.size());
    for (PendingDelta& p : batch) {
      PlanDelta d = std::move(p.delta);
      if (!p.inputs.empty()) {
        std::string digest = DigestToString(hasher_.Hash({p.inputs}));
        wb->Put(inputs(), digest, p.inputs).PermitUncheckedError();
        d.set_inputs_digest(digest);
      }
      d.set_sequence(head->sequence() + 1);
      d.clear_prev_hash();
      d.clear_hash();
      std::string canonical = EncodeCanonical(d);
      std::string hash = DigestToString(hasher_.Hash({head->hash(), canonical}));
      std::string value = head->hash() + hash + canonical;
      wb->Put(deltas(), SeqKey(d.sequence()), value).PermitUncheckedError();
      wb->Put(plans(), PlanKey(d.plan_id(), d.plan_version()), SeqKey(d.sequence()))
          .PermitUncheckedError();
      d.set_prev_hash(head->hash());
      d.set_hash(hash);
      head->set_sequence(d.sequence());
      head->set_hash(hash);
      out.push_back(std::move(d));
    }
    return out;
  }

  absl::StatusOr<int64_t> Spend(std::string_view key, int64_t amount, int64_t limit) override {
    if (read_only_) return absl::FailedPreconditionError("store opened read-only");
    if (amount < 0) return absl::InvalidArgumentError("amount: must be >= 0");
    std::lock_guard<std::mutex> lock(budget_mu_);
    const std::string k = absl::StrCat(kBudgetPrefix, Sv(key));
    std::string v;
    int64_t spent = 0;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta(), k, &v);
    if (s.ok()) {
      if (v.size() != 8) return absl::DataLossError(absl::StrCat("budget entry ", Sv(key), " is corrupt"));
      std::memcpy(&spent, v.data(), 8);
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "read budget");
    }
    if (spent + amount > limit) {
      return absl::ResourceExhaustedError(absl::StrCat("privacy budget ", Sv(key), ": spent ", spent,
                                                       " of ", limit, ", this release needs ", amount));
    }
    spent += amount;
    v.assign(reinterpret_cast<const char*>(&spent), 8);
    rocksdb::WriteBatch wb;
    EXO_RETURN_IF_ERROR(FromRocks(wb.Put(meta(), k, v), "write budget"));
    EXO_RETURN_IF_ERROR(WriteSynced(&wb, "write budget"));
    return spent;
  }

  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> Spent(
      std::string_view prefix) const override {
    std::vector<std::pair<std::string, int64_t>> out;
    const std::string p = absl::StrCat(kBudgetPrefix, Sv(prefix));
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta()));
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
      int64_t spent = 0;
      if (it->value().size() != 8) return absl::DataLossError("budget entry is corrupt");
      std::memcpy(&spent, it->value().data(), 8);
      out.emplace_back(std::string(it->key().ToStringView().substr(std::strlen(kBudgetPrefix))), spent);
    }
    EXO_RETURN_IF_ERROR(FromRocks(it->status(), "scan budget"));
    return out;
  }

  absl::Status PutRecord(std::string_view key, std::string_view bytes) override {
    if (read_only_) return absl::FailedPreconditionError("store opened read-only");
    if (key.empty()) return absl::InvalidArgumentError("record key: required");
    rocksdb::WriteBatch wb;
    EXO_RETURN_IF_ERROR(FromRocks(wb.Put(meta(), absl::StrCat(kRecordPrefix, Sv(key)),
                                         rocksdb::Slice(bytes.data(), bytes.size())),
                                  "write record"));
    return WriteSynced(&wb, "write record");
  }

  absl::StatusOr<std::string> GetRecord(std::string_view key) const override {
    std::string out;
    const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta(), absl::StrCat(kRecordPrefix, Sv(key)), &out);
    if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no record \"", Sv(key), "\""));
    EXO_RETURN_IF_ERROR(FromRocks(s, "read record"));
    return out;
  }

  absl::Status ScanRecords(std::string_view prefix, const RecordVisitor& visit) const override {
    const std::string p = absl::StrCat(kRecordPrefix, Sv(prefix));
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta()));
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
      if (!visit(it->key().ToStringView().substr(std::strlen(kRecordPrefix)), it->value().ToStringView())) break;
    }
    return FromRocks(it->status(), "scan records");
  }

  absl::Status PutCheckpoint(std::string_view bytes) override {
    if (read_only_) return absl::FailedPreconditionError("store opened read-only");
    rocksdb::WriteBatch wb;
    EXO_RETURN_IF_ERROR(
        FromRocks(wb.Put(meta(), kCheckpointKey, rocksdb::Slice(bytes.data(), bytes.size())), "write checkpoint"));
    return WriteSynced(&wb, "write checkpoint");
  }

  absl::StatusOr<ChainHead> Backup(const std::string& dir) const override {
    std::error_code ec;
    if (std::filesystem::exists(dir, ec)) {
      return absl::AlreadyExistsError(absl::StrCat("backup: ", dir, " already exists (a backup is never written over)"));
    }
    auto refused = [this]() -> absl::Status {
      std::lock_guard<std::mutex> lock(mu_);
      if (failed_.ok()) return absl::OkStatus();
      return absl::FailedPreconditionError(absl::StrCat("backup: the store took no write since one failed (",
                                                        failed_.message(),
                                                        "); stop the node and copy its data directory instead"));
    };
    EXO_RETURN_IF_ERROR(refused());
    // The log so far into a table file first, while appends go on (they move to a new memtable
    // and log): what the copy below must copy instead of link is then only the log written
    // meanwhile, not up to a whole memtable's (64 MiB).
    EXO_RETURN_IF_ERROR(FromRocks(db_->Flush(rocksdb::FlushOptions(), cfs_), "backup: flush"));
    {
      // No write between the copy's files (and none that could fail while RocksDB copies its
      // log: after a failed write it must not be asked to sync).
      std::lock_guard<std::mutex> one_at_a_time(write_mu_);
      EXO_RETURN_IF_ERROR(refused());
      rocksdb::Checkpoint* raw = nullptr;
      EXO_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "backup"));
      std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
      // The (short) synced log is copied as it is, not flushed again: the copy recovers its last
      // deltas from it when opened.
      EXO_RETURN_IF_ERROR(FromRocks(
          checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/std::numeric_limits<uint64_t>::max()), "backup"));
    }
    StoreOptions o;
    o.path = dir;  // (No node id: the copy's is the store's own.)
    o.read_only = true;
    o.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<DeltaStore>> copy = OpenRocksDeltaStore(o);
    if (!copy.ok()) {
      return absl::Status(copy.status().code(), absl::StrCat("backup: the copy in ", dir, " does not open: ",
                                                             copy.status().message()));
    }
    return (*copy)->Head();
  }

  // Every write of the store goes through here, one at a time, synced. After a failed write
  // RocksDB must be given no other (its log writer aborts the process on a write after a
  // failed one), and the in-memory head could no longer be trusted: the first failure is kept
  // and answered to every write from then on.
  absl::Status WriteSynced(rocksdb::WriteBatch* wb, const char* what) {
    std::lock_guard<std::mutex> one_at_a_time(write_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failed_.ok()) return failed_;
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    absl::Status s = FromRocks(db_->Write(wo, wb), what);
    if (s.ok()) return s;
    std::lock_guard<std::mutex> lock(mu_);
    failed_ = absl::Status(s.code(), absl::StrCat("store: a write failed (", s.message(),
                                                  "); it takes no more writes until exorouted restarts. Every delta "
                                                  "acknowledged before is on disk: fix the cause (disk space?) and "
                                                  "restart"));
    return failed_;
  }

  absl::StatusOr<std::string> GetCheckpoint() const override {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta(), kCheckpointKey, &v);
    if (s.IsNotFound()) return absl::NotFoundError("no checkpoint");
    EXO_RETURN_IF_ERROR(FromRocks(s, "read checkpoint"));
    return v;
  }

  static constexpr char kBudgetPrefix[] = "budget/";
  static constexpr char kRecordPrefix[] = "record/";
  static constexpr char kCheckpointKey[] = "checkpoint";
  std::mutex budget_mu_;

  rocksdb::ColumnFamilyHandle* deltas() const { return cfs_[1]; }
  rocksdb::ColumnFamilyHandle* plans() const { return cfs_[2]; }
  rocksdb::ColumnFamilyHandle* inputs() const { return cfs_[3]; }
  rocksdb::ColumnFamilyHandle* meta() const { return cfs_[4]; }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // default, deltas, plans, inputs, meta
  std::string path_;
  bool read_only_;
  uint64_t memtable_budget_bytes_;
  uint64_t max_log_bytes_;
  Sha256 hasher_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // Appenders waiting their turn, and AwaitHead.
  std::deque<Writer*> queue_;  // Guarded by mu_.
  ChainHead head_;             // Guarded by mu_.
  absl::Status failed_;        // Guarded by mu_. Sticky after a write failure.
  mutable std::mutex write_mu_;  // Held by WriteSynced and Backup (before mu_, never after).
};

}  // namespace

const std::string& GenesisHash() {
  static const std::string kGenesis(kHashSize, '\0');
  return kGenesis;
}

namespace {

// One attempt at opening the store (OpenRocksDeltaStore).
absl::StatusOr<std::unique_ptr<DeltaStore>> OpenOnce(const StoreOptions& o) {
  namespace fs = std::filesystem;
  // Damage RocksDB finds while the store opens (a table's or the manifest's checksum) is refused
  // as the store's own checks refuse it: naming the database, saying nothing was changed and
  // what to do. Other failures (a disk error, a lock) pass as they are.
  const auto refuse_damage = [&o](absl::Status st) {
    if (!absl::IsDataLoss(st)) return st;
    absl::string_view what = st.message();
    absl::ConsumePrefix(&what, absl::StrCat("open ", o.path, ": "));
    return absl::DataLossError(absl::StrCat("refusing to open ", o.path, ": ", what,
                                            ". Nothing was changed; restore the node from a backup"));
  };
  const std::vector<std::string> expected = {rocksdb::kDefaultColumnFamilyName, kCfDeltas,
                                             kCfPlans, kCfInputs, kCfMeta};
  bool exists = fs::exists(fs::path(o.path) / "CURRENT");
  if (!exists && (o.read_only || !o.create_if_missing)) {
    return absl::NotFoundError(absl::StrCat("no exoroute database at ", o.path));
  }
  if (!exists) {
    // A database's files without the one that names its manifest: damage, not a new node.
    // (RocksDB itself refuses only while a write-ahead log is left; with none it would start
    // an empty database beside the old tables.)
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(o.path, ec)) {
      const std::string name = f.path().filename().string();
      if (name.rfind("MANIFEST-", 0) == 0 || f.path().extension() == ".sst" || f.path().extension() == ".log") {
        return absl::DataLossError(absl::StrCat(
            o.path, " holds database files (", name, ") but no CURRENT file: the database is damaged; "
            "refusing to create a new one over it. Restore it from a backup, or move it away to start afresh"));
      }
    }
  } else {
    std::vector<std::string> found;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), o.path, &found);
    EXO_RETURN_IF_ERROR(refuse_damage(FromRocks(s, absl::StrCat("open ", o.path))));
    std::vector<std::string> a = found, b = expected;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b) {
      // (A manifest cut short lists only the column families created before the cut.)
      return absl::FailedPreconditionError(absl::StrCat(
          o.path, " is not an exoroute database, or its manifest is damaged: it has column families ",
          absl::StrJoin(found, ", "), " (an exoroute database has ", absl::StrJoin(expected, ", "), ")"));
    }
    // RocksDB would take damage to a record's length near the log's end for a torn tail and drop
    // the records after it (store/wal_check.h).
    std::vector<fs::path> logs;
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(o.path, ec)) {
      if (f.path().extension() == ".log") logs.push_back(f.path());
    }
    std::sort(logs.begin(), logs.end());
    for (const fs::path& log : logs) {
      if (absl::Status bad = CheckWalTail(log.string()); !bad.ok()) {
        return absl::Status(bad.code(), absl::StrCat("refusing to open ", o.path, ": ", bad.message(),
                                                     absl::IsDataLoss(bad) ? ". Nothing was changed; restore the node from a backup" : ""));
      }
    }
    // RocksDB reads some bytes of its tables before it checks them, and stops the process on
    // damage there (store/table_check.h): the tables the manifest lists are checked first. (A
    // manifest that cannot be read is left to RocksDB's open, which reports it.)
    if (absl::StatusOr<std::vector<uint64_t>> live = LiveTableFiles(o.path); live.ok()) {
      for (const uint64_t number : *live) {
        const fs::path table = fs::path(o.path) / absl::StrFormat("%06d.sst", number);
        if (absl::Status bad = CheckTableFile(table.string()); !bad.ok()) {
          return absl::Status(bad.code(), absl::StrCat("refusing to open ", o.path, ": ", bad.message(),
                                                       ". Nothing was changed; restore the node from a backup"));
        }
      }
    }
  }

  const AbortNotice notice(o.path);  // Until the open returns: RocksDB may assert on damage.
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = o.create_if_missing;
  db_options.create_missing_column_families = o.create_if_missing;
  db_options.paranoid_checks = true;
  // Every append is synced before it is acknowledged, so a crash can leave only the log's last
  // record incomplete (never acknowledged: dropped). Damage before it would lose acknowledged
  // deltas: the open fails with Corruption instead of recovering to the point before the damage
  // (RocksDB's default, which would shorten the chain silently).
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // Memory and restart time stay bounded however long the node runs. RocksDB's defaults let
  // each of the five column families hold two 64 MiB memtables, and keep every write-ahead log
  // until the last family with data in it flushes — up to 4 × 5 × 2 × 64 MiB = 2.5 GiB of logs
  // pinned by the small families (meta, plans), all replayed by the next start after a crash.
  // One budget for all memtables, and a cap on the logs that flushes whatever pins the oldest.
  db_options.db_write_buffer_size = static_cast<size_t>(o.memtable_budget_bytes);
  db_options.max_total_wal_size = o.max_wal_bytes;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& name : expected) {
    rocksdb::ColumnFamilyOptions cf;
    if (name == kCfPlans) {
      // Every append asks whether its plan versions are recorded yet (CheckVersions), and the
      // answer is usually no: a whole-key Bloom filter answers that without reading the tables.
      rocksdb::BlockBasedTableOptions table;
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    }
    descs.emplace_back(name, cf);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      o.read_only ? rocksdb::DB::OpenForReadOnly(db_options, o.path, descs, &handles, &raw)
                  : rocksdb::DB::Open(db_options, o.path, descs, &handles, &raw);
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return absl::UnavailableError(absl::StrCat(
        "database ", o.path, " is in use by another process (", s.ToString(),
        "); stop it, or open read-only for replay and verify"));
  }
  EXO_RETURN_IF_ERROR(refuse_damage(FromRocks(s, absl::StrCat("open ", o.path))));
  auto store = std::make_unique<RocksDeltaStore>(std::unique_ptr<rocksdb::DB>(raw), handles, o);
  rocksdb::ColumnFamilyHandle* meta = handles[4];

  std::string format, node;
  rocksdb::Status fs_ = raw->Get(rocksdb::ReadOptions(), meta, "format", &format);
  if (fs_.IsNotFound()) {
    if (exists) {
      return absl::FailedPreconditionError(
          absl::StrCat(o.path, " is not an exoroute database (no format marker)"));
    }
    rocksdb::WriteBatch wb;
    wb.Put(meta, "format", kFormat).PermitUncheckedError();
    wb.Put(meta, "node_id", o.node_id).PermitUncheckedError();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    EXO_RETURN_IF_ERROR(FromRocks(raw->Write(wo, &wb), "initialise database"));
    format = kFormat;
    node = o.node_id;
  } else {
    EXO_RETURN_IF_ERROR(refuse_damage(FromRocks(fs_, "reading its format marker")));
    EXO_RETURN_IF_ERROR(
        refuse_damage(FromRocks(raw->Get(rocksdb::ReadOptions(), meta, "node_id", &node), "reading its node id")));
  }
  if (format != kFormat) {
    return absl::FailedPreconditionError(absl::StrCat(o.path, " has format \"", format,
                                                      "\"; this build reads ", kFormat));
  }
  if (!o.node_id.empty() && node != o.node_id) {
    return absl::FailedPreconditionError(absl::StrCat("database ", o.path, " belongs to node \"",
                                                      node, "\", not \"", o.node_id, "\""));
  }
  EXO_RETURN_IF_ERROR(refuse_damage(store->LoadHead()));
  // The tail up to the head, and that no delta lies beyond it (the head rolled back).
  if (const uint64_t head = store->Head().sequence(); o.verify_tail_on_open > 0) {
    uint64_t from = head > o.verify_tail_on_open ? head - o.verify_tail_on_open + 1 : 1;
    VerifyReport r = store->Verify(from, 0, nullptr);
    if (!r.ok) {
      return absl::DataLossError(absl::StrCat(
          "refusing to open ", o.path, ": the chain does not verify at sequence ",
          r.first_bad_sequence, ": ", r.error,
          ". Nothing was changed; inspect with `exoroutectl audit verify --data-dir`"));
    }
  }
  return std::unique_ptr<DeltaStore>(std::move(store));
}

// The database's files a read-only open reads — tables, write-ahead logs, manifests — by name.
std::set<std::string> DatabaseFiles(const std::string& path) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(path, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string ext = it->path().extension().string();
    if (ext == ".sst" || ext == ".log" || name.rfind("MANIFEST-", 0) == 0) out.insert(name);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeltaStore>> OpenRocksDeltaStore(const StoreOptions& o) {
  if (!o.read_only) return OpenOnce(o);  // The only writer (RocksDB's lock): nothing moves under it.
  // A read-only open of a running node's store (`exoroutectl audit`, replay) reads the manifest,
  // then the tables and logs it names, while the node's flushes and compactions may remove some
  // of them. RocksDB skips a log that is gone without a word, so such an open could see a
  // chain without its newest deltas, or without the store's own marker. An open during which
  // none of the files listed before it went away read one consistent state; otherwise it is
  // made again.
  constexpr int kAttempts = 20;
  absl::StatusOr<std::unique_ptr<DeltaStore>> opened = absl::UnknownError("not opened");
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    const std::set<std::string> before = DatabaseFiles(o.path);
    opened = OpenOnce(o);
    const std::set<std::string> after = DatabaseFiles(o.path);
    if (std::includes(after.begin(), after.end(), before.begin(), before.end())) return opened;
    opened = absl::UnavailableError(absl::StrCat(
        "open ", o.path, " read-only: its files changed during each of ", kAttempts,
        " attempts (the node writing it flushes or compacts continuously); try again, or read it through the "
        "node's API (exoroutectl replay/verify without --data-dir)"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
  }
  return opened;
}

}  // namespace exo::store
