// The database underneath a node's store, edited directly (what someone with disk access could
// do), for the tests that check tampering is found: RocksDB opened with the store's column
// families, `edit` given the database and one family (`deltas` unless named), then closed. Uses
// Catch2's REQUIRE.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rocksdb/db.h"

namespace exo::testing {

// The same with the family named `family` ("deltas", "plans", "inputs" or "meta").
inline void RawEditFamily(const std::string& path, const std::string& family,
                          const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
  const std::vector<std::string> names = {"default", "deltas", "plans", "inputs", "meta"};
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &h, &db).ok());
  const auto at = std::find(names.begin(), names.end(), family);
  REQUIRE(at != names.end());
  edit(db, h[static_cast<size_t>(at - names.begin())]);
  for (auto* x : h) db->DestroyColumnFamilyHandle(x);
  delete db;
}

inline void RawEditDeltas(const std::string& path,
                          const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle* deltas)>& edit) {
  RawEditFamily(path, "deltas", edit);
}

// The key a delta is stored under in the `deltas` family: its sequence, 8 bytes big-endian.
inline std::string DeltaKey(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8) k[i] = static_cast<char>(seq & 0xff);
  return k;
}

}  // namespace exo::testing
