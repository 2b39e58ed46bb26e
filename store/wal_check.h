// A check of RocksDB write-ahead log files that RocksDB's own recovery cannot make.
//
// The store opens with WALRecoveryMode::kTolerateCorruptedTailRecords: after a crash the log's
// last record may be incomplete (its append was never acknowledged) and is dropped. But RocksDB
// takes any record whose length runs past the end of the file for such a torn tail, so damage
// to a record's length field in the log's last 32 KiB block drops that record and every later
// one — acknowledged deltas — without an error. This check reads the log itself (32 KiB
// blocks of physical records, each with a 7-byte header: the masked CRC32C of type and payload,
// the length, the type) and refuses a log where damage is not a torn end: a record that does not
// check out followed by one that does, a whole record (all its declared bytes there) that does
// not check out, or a last record whose header is damaged but whose bytes to the end of the file
// check out under its CRC. Damage to both the header and the bytes of the very last record
// cannot be told from a torn append: that record is dropped, as after a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace exo::store {

// OK when every record of the log file at `path` checks out, or only its end does not (a torn
// last append). DataLoss naming the file and where, otherwise. (A whole record is looked for at
// most 1 MiB past the damage.)
absl::Status CheckWalTail(const std::string& path);

// CRC32C (Castagnoli), as RocksDB's logs and tables use it; `crc` continues an earlier value.
// With SSE 4.2 where the CPU has it, else by table (Crc32cTable: the same values, for tests).
uint32_t Crc32c(const char* data, size_t n, uint32_t crc = 0);
uint32_t Crc32cTable(const char* data, size_t n, uint32_t crc = 0);

}  // namespace exo::store
