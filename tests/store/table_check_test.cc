// store/table_check.h: damage RocksDB 7.8 reads before it checks it is refused at open, with the
// file and the block named, instead of stopping the process (an assertion, or an allocation of
// petabytes). Without the check each damaged-table section below would abort this test binary.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rocksdb/options.h"
#include "rocksdb/sst_file_writer.h"
#include "rocksdb/table.h"
#include "store/delta_store.h"
#include "store/table_check.h"
#include "tests/testing/damaged_table.h"
#include "tests/testing/temp_dir.h"

namespace fs = std::filesystem;
using exo::store::CheckTableFile;
using exo::testing::DamageTableIndexHandle;
using exo::testing::DamageTableProperties;
using exo::testing::TableFiles;
using exo::testing::TempDir;

namespace {

absl::StatusOr<std::unique_ptr<exo::store::DeltaStore>> OpenAs(const std::string& path, bool read_only,
                                                                bool create = false) {
  exo::store::StoreOptions o;
  o.path = path;
  o.node_id = read_only ? "" : "node-t";
  o.read_only = read_only;
  o.create_if_missing = create;
  if (read_only) o.verify_tail_on_open = 0;
  return exo::store::OpenRocksDeltaStore(o);
}

// A stopped store of 30 deltas, all in tables.
void Fill(const std::string& path) {
  auto s = OpenAs(path, false, true);
  REQUIRE(s.ok());
  for (uint32_t v = 1; v <= 30; ++v) {
    exo::store::PendingDelta p;
    p.delta.set_plan_id("p");
    p.delta.set_plan_version(v);
    p.delta.set_event_time_ns(1000 + v);
    p.delta.mutable_fill()->set_quantity(v);
    REQUIRE((*s)->Append({p}).ok());
  }
}

}  // namespace

TEST_CASE("a table damaged where RocksDB reads before it checks is refused at open with the file and block named",
          "[store][tamper]") {
  TempDir dir;
  const std::string db = dir / "db";
  Fill(db);
  const std::vector<std::string> tables = TableFiles(db);
  REQUIRE_FALSE(tables.empty());
  for (const std::string& t : tables) CHECK(CheckTableFile(t).ok());
  const std::string& table = tables.back();
  const std::string name = fs::path(table).filename().string();

  std::string expected;
  SECTION("its properties block") {
    DamageTableProperties(table);
    expected = "table file " + name + " is damaged: its \"rocksdb.properties\" block (";
  }
  SECTION("its footer's index handle") {
    DamageTableIndexHandle(table);
    expected = "table file " + name + " is damaged: its index block lies beyond the end of the file";
  }
  const absl::Status check = CheckTableFile(table);
  CHECK(check.code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(check.message()).find(expected) == 0);
  for (bool read_only : {false, true}) {
    INFO("read-only: " << read_only);
    auto s = OpenAs(db, read_only);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == absl::StatusCode::kDataLoss);
    const std::string message(s.status().message());
    CHECK(message.find("refusing to open " + db + ": " + expected) == 0);
    CHECK(message.find(". Nothing was changed; restore the node from a backup") != std::string::npos);
  }
}

TEST_CASE("a damaged table the manifest does not list (a crash's leftover) does not stop the database opening",
          "[store][tamper]") {
  TempDir dir;
  const std::string db = dir / "db";
  Fill(db);
  // A copy of a table under a number the manifest never gave out, damaged as above: a table a
  // crash left half-synced before RocksDB listed it.
  const std::string leftover = (fs::path(db) / "999999.sst").string();
  fs::copy_file(TableFiles(db).back(), leftover);
  DamageTableProperties(leftover);
  REQUIRE_FALSE(CheckTableFile(leftover).ok());
  auto s = OpenAs(db, false);
  REQUIRE(s.ok());
  CHECK((*s)->Head().sequence() == 30);
  CHECK((*s)->Verify(0, 0, nullptr).ok);
}

TEST_CASE("a table's blocks check out under each checksum RocksDB writes, and a changed byte does not", "[store]") {
  TempDir dir;
  const auto type = GENERATE(rocksdb::kCRC32c, rocksdb::kxxHash, rocksdb::kxxHash64, rocksdb::kXXH3);
  INFO("checksum type " << static_cast<int>(type));
  rocksdb::BlockBasedTableOptions table_options;
  table_options.checksum = type;
  rocksdb::Options options;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  const std::string file = dir / "t.sst";
  {
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options);
    REQUIRE(writer.Open(file).ok());
    for (int i = 0; i < 100; ++i) REQUIRE(writer.Put("key" + std::to_string(1000 + i), std::string(50, 'v')).ok());
    REQUIRE(writer.Finish().ok());
  }
  CHECK(CheckTableFile(file).ok());
  DamageTableProperties(file);
  const absl::Status check = CheckTableFile(file);
  CHECK(check.code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(check.message()).find("does not check out") != std::string::npos);
}

TEST_CASE("files that are not there or not whole block-based tables are left to RocksDB", "[store]") {
  TempDir dir;
  const std::string file = dir / "x.sst";
  SECTION("not there (gone since the manifest was read)") {}
  SECTION("empty") { std::ofstream(file, std::ios::binary); }
  SECTION("no magic number at its end (a table never finished)") {
    std::ofstream(file, std::ios::binary) << std::string(4096, 'x');
  }
  CHECK(CheckTableFile(file).ok());
}
