// A check of RocksDB table files that RocksDB 7.8's own open makes too late.
//
// A block-based table ends in a footer (the checksum type, the handles of its metaindex and
// index blocks, the format version, a magic number), and each block is followed by a 5-byte
// trailer: its compression type and a checksum of the block and that byte. RocksDB checks a
// block's checksum before it parses it — but for two reads while it opens a table: it allocates
// the index block at the size the footer's handle says before reading anything it could check
// (a damaged handle asks for petabytes: std::bad_alloc), and it parses the properties block
// before it checks that block's checksum (RocksDB patches a field of it in place for ingested
// files); one damaged byte there trips an assertion, which Debian's build keeps. Either way the
// process stops instead of the open failing (found by the `store` fuzz target;
// its inputs are kept in tests/fuzz/corpus/store/table-…).
//
// This check reads what RocksDB reads before its checks, and checks it first: the index block
// and every block the metaindex names (the properties, the filter) lie within the file, and the
// metaindex and properties blocks check out under the table's checksum. (The other blocks
// RocksDB checks before it parses them.) A file that is not a whole block-based table (no magic
// number at its end: a table never finished, or another format) is left to RocksDB, whose open
// reports that itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace exo::store {

// OK when the table file at `path` passes, is not a whole block-based table, or is not there;
// DataLoss naming the file, the block and what is wrong with it otherwise.
absl::Status CheckTableFile(const std::string& path);

// The numbers of the table files the database at `dir` is made of, as its current manifest
// lists them (the files a crash left behind, not listed, are not its tables). An error when the
// manifest cannot be read (RocksDB's open then reports it).
absl::StatusOr<std::vector<uint64_t>> LiveTableFiles(const std::string& dir);

// A block's checksum as RocksDB computes it for `type` (1 CRC32C, 2 xxHash, 3 xxHash64, 4 XXH3)
// over the block's bytes and the compression type byte that follows them; `*known` false (and 0
// returned) for a type this build does not know.
uint32_t BlockChecksum(uint8_t type, const char* block, size_t n, char compression, bool* known);

}  // namespace exo::store
