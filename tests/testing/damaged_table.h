// Damage to a RocksDB table file where RocksDB 7.8 reads it before checking it (store/table_check.h),
// as the `store` fuzz target found it, for tests of what the open does about it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace exo::testing {

// The table files of the RocksDB database in `dir`, sorted by name (so by number).
inline std::vector<std::string> TableFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() == ".sst") out.push_back(f.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string SlurpFile(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void OverwriteFile(const std::string& file, size_t at, const std::string& bytes) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline uint64_t ReadVarint(const std::string& s, size_t* at) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto b = static_cast<uint8_t>(s.at((*at)++));
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
}

// Where a table's properties block ends: its metaindex entry is the key "rocksdb.properties"
// followed by the block's handle (offset, size).
inline size_t PropertiesBlockEnd(const std::string& table) {
  const std::string bytes = SlurpFile(table);
  const std::string key = "rocksdb.properties";
  size_t at = bytes.rfind(key);
  if (at == std::string::npos) throw std::runtime_error(table + " has no properties block");
  at += key.size();
  const uint64_t offset = ReadVarint(bytes, &at);
  const uint64_t size = ReadVarint(bytes, &at);
  if (offset + size >= bytes.size()) throw std::runtime_error(table + ": its properties handle is past its end");
  return static_cast<size_t>(offset + size);
}

// The properties block's last byte changed: the high byte of its restart count, whose top bit
// RocksDB takes for a data block hash index and asserts on.
inline void DamageTableProperties(const std::string& table) {
  OverwriteFile(table, PropertiesBlockEnd(table) - 1, "\xe9");
}

// The footer's index handle made to claim a block of 2^56 bytes (the metaindex handle kept), on
// which RocksDB allocates that much.
inline void DamageTableIndexHandle(const std::string& table) {
  const std::string bytes = SlurpFile(table);
  size_t at = bytes.size() - 53 + 1;  // After the footer's checksum type.
  ReadVarint(bytes, &at);
  ReadVarint(bytes, &at);  // The metaindex handle.
  OverwriteFile(table, at, std::string("\x01\xff\xff\xff\xff\xff\xff\xff\x7f", 9));
}

}  // namespace exo::testing
