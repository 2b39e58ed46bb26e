// The database underneath a node's store, edited directly (what someone with disk access could
// do), for the tests that check tampering is found: RocksDB opened with the store's column
// families, `edit` given the database and the `deltas` family, then closed. Uses Catch2's REQUIRE.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rocksdb/db.h"

namespace exo::testing {

inline void RawEditDeltas(const std::string& path,
                          const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle* deltas)>& edit) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* n : {"default", "deltas", "plans", "inputs", "meta"}) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &h, &db).ok());
  edit(db, h[1]);
  for (auto* x : h) db->DestroyColumnFamilyHandle(x);
  delete db;
}

// The key a delta is stored under in the `deltas` family: its sequence, 8 bytes big-endian.
inline std::string DeltaKey(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8) k[i] = static_cast<char>(seq & 0xff);
  return k;
}

}  // namespace exo::testing
