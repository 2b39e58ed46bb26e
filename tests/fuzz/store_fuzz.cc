// A node's database damaged on disk, then opened as the daemon opens it. The target keeps a
// crash image of a real store (RocksDB on disk: 40 deltas of three plans, some with recorded
// inputs, most in tables and the last ones only in the synced write-ahead log, a checkpoint and
// a privacy-budget entry). An input is changes of 8 bytes each, applied to a fresh copy of the
// image's files (sorted by name): file, operation (0 change bytes, 1 truncate, 2 remove), offset
// (uint32, little-endian), a byte to XOR with, a length. Checks: the open either refuses with a
// status that says what (DATA_LOSS, NOT_FOUND, FAILED_PRECONDITION or UNAVAILABLE, with a
// message) or gives a store that serves no changed byte — every delta read by sequence and by
// plan has its original bytes, the checkpoint and the budget are what was written or refused —
// and that lost nothing acknowledged: only a write-ahead log cut short may end the chain early
// (after a crash its last record may be torn, and a cut cannot be told from that), and only
// damage to the log's last record may lose that record (the budget entry).
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include "store/delta_store.h"
#include "tests/fuzz/fuzz_target.h"

namespace fs = std::filesystem;
using exo::store::DeltaStore;
using exo::store::OpenRocksDeltaStore;
using exo::store::PendingDelta;
using exo::store::StoreOptions;

namespace {

constexpr size_t kChange = 8;
constexpr uint64_t kDeltas = 40;
constexpr char kCheckpoint[] = "checkpoint-bytes";

struct Image {
  std::unique_ptr<DeltaStore> live;  // Kept open to the end (RocksDB's statics must outlive it).
  std::string dir;
  std::map<uint64_t, std::string> canonical;  // By sequence.
  std::map<std::string, uint64_t> last_record;  // Per write-ahead log: where its last record starts.
};

StoreOptions Options(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.node_id = "node-f";
  return o;
}

PendingDelta Delta(uint64_t i) {
  PendingDelta p;
  p.delta.set_plan_id("plan-" + std::to_string(i % 3));
  p.delta.set_plan_version(static_cast<uint32_t>(i / 3 + 1));
  p.delta.set_event_time_ns(1'700'000'000'000'000'000 + static_cast<int64_t>(i));
  auto* f = p.delta.mutable_fill();
  f->set_cl_ord_id("c" + std::to_string(i));
  f->set_venue("SIM-A");
  f->set_quantity(100 + static_cast<int64_t>(i));
  f->set_price(6'500'000);
  if (i % 4 == 0) p.inputs = std::string(200, static_cast<char>('a' + i % 26));
  return p;
}

// The crash image: what a power cut leaves of a node that appended kDeltas deltas, the last 10
// after its tables were last written (so only in the synced log).
const Image& TheImage() {
  static const Image* image = [] {
    auto* img = new Image;
    const std::string live = exo::fuzz::DataDir() + "/live";
    img->dir = exo::fuzz::DataDir() + "/image";
    {
      auto s = OpenRocksDeltaStore(Options(live));
      FUZZ_CHECK(s.ok(), "create: %s", s.status().ToString().c_str());
      for (uint64_t i = 0; i < kDeltas - 10; i += 2) {
        FUZZ_CHECK((*s)->Append({Delta(i), Delta(i + 1)}).ok(), "append");
      }
    }  // Closed: its memtables written to tables.
    auto s = OpenRocksDeltaStore(Options(live));
    FUZZ_CHECK(s.ok(), "reopen: %s", s.status().ToString().c_str());
    for (uint64_t i = kDeltas - 10; i < kDeltas; ++i) FUZZ_CHECK((*s)->Append({Delta(i)}).ok(), "append");
    FUZZ_CHECK((*s)->PutCheckpoint(kCheckpoint).ok(), "checkpoint");
    FUZZ_CHECK((*s)->Spend("budget/a", 5, 100).ok(), "spend");
    fs::copy(live, img->dir, fs::copy_options::recursive);  // While open: the crash image.
    for (const auto& f : fs::directory_iterator(img->dir)) {  // RocksDB's info logs: no data.
      if (f.path().filename().string().rfind("LOG", 0) == 0) fs::remove(f.path());
      if (f.path().extension() == ".log" && fs::file_size(f.path()) > 0) {
        std::ifstream in(f.path(), std::ios::binary);
        const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        uint64_t at = 0, last = 0;
        for (; at + 7 <= log.size(); at += 7 + (static_cast<uint8_t>(log[at + 4]) | static_cast<uint8_t>(log[at + 5]) << 8)) {
          last = at;
        }
        FUZZ_CHECK(at == log.size() && log.size() < 32768, "the image's log is not one block of whole records");
        img->last_record[f.path().filename().string()] = last;
      }
    }
    FUZZ_CHECK((*s)->Scan(1, 0, [&](const exoroute::v1::PlanDelta& d, std::string_view c) {
      img->canonical[d.sequence()] = std::string(c);
      return true;
    }).ok(), "scan");
    FUZZ_CHECK(img->canonical.size() == kDeltas, "image holds %zu deltas", img->canonical.size());
    img->live = *std::move(s);
    return img;
  }();
  return *image;
}

std::string Change(uint8_t file, uint8_t op, uint32_t offset, uint8_t xor_with, uint8_t length) {
  std::string c(kChange, '\0');
  c[0] = static_cast<char>(file), c[1] = static_cast<char>(op);
  std::memcpy(&c[2], &offset, 4);
  c[6] = static_cast<char>(xor_with), c[7] = static_cast<char>(length);
  return c;
}

}  // namespace

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  std::vector<std::string> out;
  // Every file of the image, each way (the image has fewer than 16 files; offsets are taken
  // modulo the file's size).
  for (uint8_t file = 0; file < 16; ++file) {
    out.push_back(Change(file, 0, 1000, 0x5a, 4));
    out.push_back(Change(file, 0, 0xffffffff, 0x01, 1));
    out.push_back(Change(file, 1, 0xfffffff0, 0, 0));
    out.push_back(Change(file, 2, 0, 0, 0));
  }
  return out;
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Image& image = TheImage();
  const std::string work = exo::fuzz::DataDir() + "/work";
  std::error_code ec;
  fs::remove_all(work, ec);
  fs::copy(image.dir, work, fs::copy_options::recursive);
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(work)) files.push_back(f.path());
  std::sort(files.begin(), files.end());

  bool log_cut = false;  // The write-ahead log cut short or removed.
  // Bytes of the log's last record changed: that record (the budget entry) may be taken for a
  // torn last append and dropped. A damaged last record cannot be told from a torn one.
  bool last_damaged = false;
  for (size_t at = 0; at + kChange <= size && !files.empty(); at += kChange) {
    const fs::path& file = files[data[at] % files.size()];
    if (!fs::exists(file)) continue;
    uint32_t offset;
    std::memcpy(&offset, data + at + 2, 4);
    const uint64_t length = fs::file_size(file);
    const bool log = file.extension() == ".log";
    switch (data[at + 1] % 3) {
      case 0: {
        if (length == 0) break;
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        const uint64_t from = offset % length;
        auto last = image.last_record.find(file.filename().string());
        last_damaged |= last != image.last_record.end() && from + 1u + data[at + 7] % 8 > last->second;
        for (uint64_t k = 0; k < 1u + data[at + 7] % 8 && from + k < length; ++k) {
          f.seekg(static_cast<std::streamoff>(from + k));
          const char c = static_cast<char>(f.get() ^ (data[at + 6] | 1));
          f.seekp(static_cast<std::streamoff>(from + k));
          f.put(c);
        }
        break;
      }
      case 1:
        if (length == 0) break;
        fs::resize_file(file, offset % length);
        log_cut |= log;
        break;
      default:
        fs::remove(file);
        log_cut |= log;
    }
  }

  auto opened = OpenRocksDeltaStore(Options(work));
  if (std::getenv("EXO_FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "%s%s\n", log_cut ? "(log cut) " : "",
                 opened.ok() ? ("opened at " + std::to_string((*opened)->Head().sequence())).c_str()
                             : opened.status().ToString().c_str());
  }
  if (!opened.ok()) {
    const absl::StatusCode code = opened.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kNotFound ||
                   code == absl::StatusCode::kFailedPrecondition || code == absl::StatusCode::kUnavailable,
               "refused with %s", opened.status().ToString().c_str());
    FUZZ_CHECK(!opened.status().message().empty(), "refused without a message");
    return 0;
  }
  DeltaStore& store = **opened;
  const uint64_t head = store.Head().sequence();
  FUZZ_CHECK(head <= kDeltas, "head %llu beyond the %llu deltas written", static_cast<unsigned long long>(head),
             static_cast<unsigned long long>(kDeltas));
  FUZZ_CHECK(log_cut || head == kDeltas, "opened at head %llu: acknowledged deltas lost without the log cut",
             static_cast<unsigned long long>(head));
  // Every delta served has its bytes; reading may stop with an error (a table's checksum), never
  // with a changed byte.
  uint64_t next = 1;
  const absl::Status scanned = store.Scan(1, 0, [&](const exoroute::v1::PlanDelta& d, std::string_view c) {
    FUZZ_CHECK(d.sequence() == next, "sequence %llu after %llu", static_cast<unsigned long long>(d.sequence()),
               static_cast<unsigned long long>(next - 1));
    auto original = image.canonical.find(d.sequence());
    FUZZ_CHECK(original != image.canonical.end() && original->second == c, "delta %llu served changed",
               static_cast<unsigned long long>(d.sequence()));
    ++next;
    return true;
  });
  FUZZ_CHECK(!scanned.ok() || next == head + 1, "scan ended at %llu, head %llu", static_cast<unsigned long long>(next - 1),
             static_cast<unsigned long long>(head));
  const exo::store::VerifyReport verified = store.Verify(0, 0, nullptr);
  FUZZ_CHECK(!verified.ok || verified.checked == head, "verified %llu of %llu",
             static_cast<unsigned long long>(verified.checked), static_cast<unsigned long long>(head));
  for (const char* plan : {"plan-0", "plan-1", "plan-2"}) {
    (void)store.ScanPlan(plan, 1, [&](const exoroute::v1::PlanDelta& d, std::string_view c) {
      auto original = image.canonical.find(d.sequence());
      FUZZ_CHECK(original != image.canonical.end() && original->second == c && d.plan_id() == plan,
                 "%s: delta %llu served changed", plan, static_cast<unsigned long long>(d.sequence()));
      return true;
    });
  }
  auto checkpoint = store.GetCheckpoint();
  FUZZ_CHECK(!checkpoint.ok() || *checkpoint == kCheckpoint, "checkpoint changed");
  FUZZ_CHECK(checkpoint.ok() || checkpoint.status().code() != absl::StatusCode::kNotFound || log_cut,
             "checkpoint lost without the log cut");
  auto spent = store.Spent("budget/");
  if (spent.ok()) {
    FUZZ_CHECK(spent->size() == 1 || (spent->empty() && (log_cut || last_damaged)), "%zu budget entries",
               spent->size());
    FUZZ_CHECK(spent->empty() || ((*spent)[0].first == "budget/a" && (*spent)[0].second == 5), "budget entry changed");
  }
  return 0;
}
