#include "store/wal_check.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <cstring>

#include "absl/strings/str_cat.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace exo::store {
namespace {

constexpr size_t kBlockSize = 32768;
constexpr size_t kHeaderSize = 7;  // Masked CRC (4), length (2), type (1).
constexpr size_t kLookAhead = 1 << 20;
// Record types a log without recycling or compression holds: full, first, middle, last.
constexpr uint8_t kFirstType = 1, kLastType = 4;

const std::array<uint32_t, 256>& Table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

uint32_t Unmask(uint32_t masked) {
  const uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

uint32_t LittleEndian32(const std::string& b, size_t at) {
  return static_cast<uint32_t>(static_cast<uint8_t>(b[at])) | static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3])) << 24;
}

// The length of the physical record at `at` if it checks out (it lies within its block and the
// file, and its CRC matches); 0 if not. `any_type`: any type but zero (where the records are
// read in turn: a record of a type this check does not know but whose CRC matches is whole);
// otherwise full, first, middle or last only (where a record is looked for at every byte).
size_t RecordAt(const std::string& log, size_t at, bool any_type) {
  const size_t left_in_block = kBlockSize - at % kBlockSize;
  if (left_in_block < kHeaderSize || at + kHeaderSize > log.size()) return 0;
  const uint8_t type = static_cast<uint8_t>(log[at + 6]);
  if (type == 0 || (!any_type && (type < kFirstType || type > kLastType))) return 0;
  const size_t length = static_cast<uint8_t>(log[at + 4]) | static_cast<size_t>(static_cast<uint8_t>(log[at + 5])) << 8;
  if (kHeaderSize + length > left_in_block || at + kHeaderSize + length > log.size()) return 0;
  if (Crc32c(log.data() + at + 6, 1 + length) != Unmask(LittleEndian32(log, at))) return 0;
  return kHeaderSize + length;
}

}  // namespace

#if defined(__x86_64__)
// The same CRC with SSE 4.2's crc32 instruction, 8 bytes at a time (~30× the table's speed).
static __attribute__((target("sse4.2"))) uint32_t Crc32cSse42(const char* data, size_t n, uint32_t crc) {
  uint64_t c = static_cast<uint32_t>(~crc);
  for (; n >= 8; n -= 8, data += 8) {
    uint64_t v;
    std::memcpy(&v, data, 8);
    c = _mm_crc32_u64(c, v);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++data) c32 = _mm_crc32_u8(c32, static_cast<uint8_t>(*data));
  return ~c32;
}
#endif

uint32_t Crc32cTable(const char* data, size_t n, uint32_t crc) {
  const std::array<uint32_t, 256>& t = Table();
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = t[(crc ^ static_cast<uint8_t>(data[i])) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t Crc32c(const char* data, size_t n, uint32_t crc) {
#if defined(__x86_64__)
  static const bool sse42 = __builtin_cpu_supports("sse4.2");
  if (sse42) return Crc32cSse42(data, n, crc);
#endif
  return Crc32cTable(data, n, crc);
}

absl::Status CheckWalTail(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::UnavailableError(absl::StrCat("cannot read write-ahead log ", path));
  std::string log(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(log.data(), static_cast<std::streamsize>(log.size()))) {
    return absl::UnavailableError(absl::StrCat("cannot read write-ahead log ", path));
  }
  size_t at = 0;
  while (at < log.size()) {
    const size_t left_in_block = kBlockSize - at % kBlockSize;
    if (left_in_block < kHeaderSize) {  // A block's trailer: zeros the writer skipped.
      at += left_in_block;
      continue;
    }
    const size_t n = RecordAt(log, at, /*any_type=*/true);
    if (n == 0) break;
    at += n;
  }
  if (at >= log.size()) return absl::OkStatus();
  // The readable records end at `at`. A torn append is a record the file ends inside of: its
  // header declares more bytes than there are. A record that is all there and does not check out
  // is damage (RocksDB refuses it too), and so is the last record with a damaged header whose
  // bytes to the end of the file check out as a whole record under its own CRC.
  if (at + kHeaderSize <= log.size()) {
    const uint8_t type = static_cast<uint8_t>(log[at + 6]);
    const size_t length = static_cast<uint8_t>(log[at + 4]) | static_cast<size_t>(static_cast<uint8_t>(log[at + 5])) << 8;
    const size_t left_in_block = kBlockSize - at % kBlockSize;
    const bool zeros = type == 0 && length == 0;  // Never written (RocksDB skips such records).
    if (!zeros && kHeaderSize + length <= left_in_block && at + kHeaderSize + length <= log.size()) {
      return absl::DataLossError(absl::StrCat("write-ahead log ", path, " is damaged at byte ", at,
                                              ": a whole record that does not check out"));
    }
    const size_t rest = std::min(left_in_block, log.size() - at) - kHeaderSize;
    if (!zeros && at + kHeaderSize + rest == log.size()) {
      const uint32_t want = Unmask(LittleEndian32(log, at));
      for (char t = static_cast<char>(kFirstType); t <= static_cast<char>(kLastType); ++t) {
        if (Crc32c(log.data() + at + kHeaderSize, rest, Crc32c(&t, 1)) == want) {
          return absl::DataLossError(absl::StrCat("write-ahead log ", path, " is damaged at byte ", at,
                                                  ": its last record is whole but its header is not"));
        }
      }
    }
  }
  // Anything that checks out after it was written after the damage, so acknowledged.
  const size_t end = log.size() - at > kLookAhead ? at + kLookAhead : log.size();
  for (size_t next = at + 1; next < end; ++next) {
    if (RecordAt(log, next, /*any_type=*/false) != 0) {
      return absl::DataLossError(absl::StrCat(
          "write-ahead log ", path, " is damaged at byte ", at, " and a whole record follows at byte ", next,
          ": recovery would drop acknowledged deltas as if the log ended there"));
    }
  }
  return absl::OkStatus();
}

}  // namespace exo::store
