#include "store/table_check.h"

#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/env.h"
#include "rocksdb/file_checksum.h"
#include "store/wal_check.h"

// Reads the live files of a database from its manifest without opening any table: exported by
// librocksdb (it serves RocksDB's backups), declared in a header Debian does not ship
// (db/version_set.h).
namespace rocksdb {
Status GetFileChecksumsFromManifest(Env* src_env, const std::string& abs_path, uint64_t manifest_file_size,
                                    FileChecksumList* checksum_list);
}  // namespace rocksdb

namespace exo::store {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kBlockBasedTableMagic = 0x88e241b785f4cff7ULL;
constexpr size_t kFooterSize = 53;  // Format versions 1 to 5: checksum type, two handles, padding, version, magic.
constexpr size_t kTrailerSize = 5;  // Compression type, checksum.

uint32_t Fixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // (Little-endian, as RocksDB writes it; this build is x86-64 or another little-endian.)
}

// A varint of at most `max_bytes`, advancing `*at`; false when it runs past `end` or is too long.
bool Varint(const char** at, const char* end, uint64_t* out, int max_bytes) {
  uint64_t v = 0;
  for (int i = 0; i < max_bytes && *at < end; ++i) {
    const auto byte = static_cast<uint8_t>(*(*at)++);
    v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      *out = v;
      return true;
    }
  }
  return false;
}

struct Handle {
  uint64_t offset = 0;
  uint64_t size = 0;
};

bool ReadHandle(const char** at, const char* end, Handle* h) {
  return Varint(at, end, &h->offset, 10) && Varint(at, end, &h->size, 10);
}

const char* ChecksumName(uint8_t type) {
  switch (type) {
    case 1: return "CRC32C";
    case 2: return "xxHash";
    case 3: return "xxHash64";
    case 4: return "XXH3";
    default: return "unknown";
  }
}

class Table {
 public:
  Table(std::string path, std::ifstream in, uint64_t size) : path_(std::move(path)), in_(std::move(in)), size_(size) {}

  absl::Status Damaged(const std::string& what) const {
    return absl::DataLossError(
        absl::StrCat("table file ", fs::path(path_).filename().string(), " is damaged: ", what));
  }

  bool Read(uint64_t offset, size_t n, std::string* out) {
    out->resize(n);
    in_.clear();  // (A read short of the end of the file leaves the stream failed.)
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(out->data(), static_cast<std::streamsize>(n));
    return static_cast<size_t>(in_.gcount()) == n;
  }

  // Whether the block at `h` (`name` for messages) and its trailer lie within the blocks before
  // the footer.
  absl::Status Within(const Handle& h, const std::string& name) const {
    const uint64_t blocks_end = size_ - kFooterSize;
    if (h.offset > blocks_end || h.size > blocks_end - h.offset || kTrailerSize > blocks_end - h.offset - h.size) {
      return Damaged(absl::StrCat("its ", name, " block lies beyond the end of the file (", h.size, " bytes at ",
                                  h.offset, ", the blocks end at ", blocks_end, ")"));
    }
    return absl::OkStatus();
  }

  // The block at `h`: within the file, and checking out; its bytes without the trailer into
  // `*contents`, its compression type into `*compression`.
  absl::Status Block(const Handle& h, uint8_t checksum_type, const std::string& name, std::string* contents,
                     char* compression) {
    if (absl::Status s = Within(h, name); !s.ok()) return s;
    std::string raw;
    if (!Read(h.offset, static_cast<size_t>(h.size) + kTrailerSize, &raw)) {
      return absl::DataLossError(absl::StrCat("cannot read table file ", path_));
    }
    bool known = false;
    const uint32_t computed = BlockChecksum(checksum_type, raw.data(), h.size, raw[h.size], &known);
    const uint32_t stored = Fixed32(raw.data() + h.size + 1);
    if (known && computed != stored) {
      return Damaged(absl::StrFormat("its %s block (%d bytes at %d) does not check out (%s %08x stored, %08x computed)",
                                     name, h.size, h.offset, ChecksumName(checksum_type), stored, computed));
    }
    *compression = raw[h.size];
    raw.resize(h.size);
    *contents = std::move(raw);
    return absl::OkStatus();
  }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t size_;
};

// The handles a metaindex block's entries hold, by name: entries of a shared key prefix, a key
// suffix and a value, then the restart points (each 4 bytes) and their count (4 bytes).
absl::Status MetaindexHandles(const Table& table, const std::string& block,
                              std::vector<std::pair<std::string, Handle>>* out) {
  auto bad = [&](const std::string& what) { return table.Damaged(absl::StrCat("its metaindex block ", what)); };
  if (block.size() < 4) return bad("is too short");
  const uint32_t restarts = Fixed32(block.data() + block.size() - 4);
  if (restarts > (block.size() - 4) / 4) return bad("counts more restart points than it holds");
  const char* at = block.data();
  const char* const end = block.data() + block.size() - 4 - 4 * static_cast<size_t>(restarts);
  std::string key;
  while (at < end) {
    uint64_t shared, unshared, value_size;
    if (!Varint(&at, end, &shared, 5) || !Varint(&at, end, &unshared, 5) || !Varint(&at, end, &value_size, 5) ||
        shared > key.size() || unshared > static_cast<uint64_t>(end - at) ||
        value_size > static_cast<uint64_t>(end - at) - unshared) {
      return bad("holds an entry that runs past its end");
    }
    key.resize(shared);
    key.append(at, unshared);
    at += unshared;
    const char* value = at;
    at += value_size;
    Handle h;
    if (!ReadHandle(&value, at, &h)) return bad(absl::StrCat("holds an entry (", key, ") that is no block handle"));
    out->emplace_back(key, h);
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t BlockChecksum(uint8_t type, const char* block, size_t n, char compression, bool* known) {
  *known = true;
  switch (type) {
    case 1: {  // CRC32C of the block and the type byte, masked as RocksDB stores CRCs.
      const uint32_t crc = Crc32c(&compression, 1, Crc32c(block, n));
      return ((crc >> 15) | (crc << 17)) + 0xa282ead8U;
    }
    case 2: {
      XXH32_state_t* s = XXH32_createState();
      XXH32_reset(s, 0);
      XXH32_update(s, block, n);
      XXH32_update(s, &compression, 1);
      const uint32_t v = XXH32_digest(s);
      XXH32_freeState(s);
      return v;
    }
    case 3: {
      XXH64_state_t* s = XXH64_createState();
      XXH64_reset(s, 0);
      XXH64_update(s, block, n);
      XXH64_update(s, &compression, 1);
      const auto v = static_cast<uint32_t>(XXH64_digest(s));
      XXH64_freeState(s);
      return v;
    }
    case 4: {  // XXH3 of the block alone, the type byte mixed in after (RocksDB's ModifyChecksumForLastByte).
      const auto v = static_cast<uint32_t>(XXH3_64bits(block, n));
      return v ^ (static_cast<uint32_t>(static_cast<uint8_t>(compression)) * 0x6b9083d9U);
    }
    default:
      *known = false;
      return 0;
  }
}

absl::Status CheckTableFile(const std::string& path) {
  // (A table gone since the manifest was read — a read-only open beside a node that compacted
  // it away — or not readable is left to RocksDB's open, which names a listed table it misses.)
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec || !in) return absl::OkStatus();
  Table table(path, std::move(in), size);
  if (size < kFooterSize) return absl::OkStatus();  // No footer: RocksDB says so.
  std::string footer;
  if (!table.Read(size - kFooterSize, kFooterSize, &footer)) {
    return absl::DataLossError(absl::StrCat("cannot read table file ", path));
  }
  uint64_t magic;
  std::memcpy(&magic, footer.data() + kFooterSize - 8, 8);
  const uint32_t version = Fixed32(footer.data() + kFooterSize - 12);
  if (magic != kBlockBasedTableMagic || version < 1 || version > 5) return absl::OkStatus();
  const auto checksum_type = static_cast<uint8_t>(footer[0]);
  const char* at = footer.data() + 1;
  const char* const end = footer.data() + kFooterSize - 12;
  Handle metaindex, index;
  if (!ReadHandle(&at, end, &metaindex) || !ReadHandle(&at, end, &index)) {
    return table.Damaged("its footer holds no block handles");
  }
  // RocksDB reads the index block at the size its handle says before it can check anything.
  if (absl::Status s = table.Within(index, "index"); !s.ok()) return s;
  std::string contents;
  char compression = 0;
  if (absl::Status s = table.Block(metaindex, checksum_type, "metaindex", &contents, &compression); !s.ok()) {
    return s;
  }
  if (compression != 0) return absl::OkStatus();  // (RocksDB never compresses it; nothing more to read.)
  std::vector<std::pair<std::string, Handle>> named;
  if (absl::Status s = MetaindexHandles(table, contents, &named); !s.ok()) return s;
  for (const auto& [name, handle] : named) {
    const std::string quoted = absl::StrCat("\"", name, "\"");
    // The properties block RocksDB parses before it checks it; the others it checks first.
    absl::Status s = name == "rocksdb.properties" ? table.Block(handle, checksum_type, quoted, &contents, &compression)
                                                  : table.Within(handle, quoted);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> LiveTableFiles(const std::string& dir) {
  std::ifstream current(fs::path(dir) / "CURRENT");
  std::string manifest;
  if (!current || !std::getline(current, manifest) || manifest.rfind("MANIFEST-", 0) != 0 ||
      manifest.find('/') != std::string::npos) {
    return absl::DataLossError(absl::StrCat("the CURRENT file of ", dir, " names no manifest"));
  }
  const fs::path path = fs::path(dir) / manifest;
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return absl::DataLossError(absl::StrCat("cannot read ", path.string(), ": ", ec.message()));
  std::unique_ptr<rocksdb::FileChecksumList> list(rocksdb::NewFileChecksumList());
  const rocksdb::Status s =
      rocksdb::GetFileChecksumsFromManifest(rocksdb::Env::Default(), fs::absolute(path).string(), size, list.get());
  if (!s.ok()) return absl::DataLossError(absl::StrCat("cannot read ", path.string(), ": ", s.ToString()));
  std::vector<uint64_t> numbers;
  std::vector<std::string> checksums, functions;
  if (!list->GetAllFileChecksums(&numbers, &checksums, &functions).ok()) {
    return absl::InternalError("the manifest's file list could not be read back");
  }
  return numbers;
}

}  // namespace exo::store
