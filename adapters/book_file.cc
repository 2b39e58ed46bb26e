#include "adapters/book_file.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "exo/fixed_point.h"
#include "exo/read_file.h"
#include "exo/json_input.h"

namespace exo::adapters {

absl::StatusOr<exoroute::v1::BookSnapshotFile> LoadBookFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return absl::Status(text.status().code(), absl::StrCat("book file ", text.status().message()));
  return ParseBookFile(*text, path);
}

absl::StatusOr<exoroute::v1::BookSnapshotFile> ParseBookFile(std::string_view json, const std::string& path) {
  exoroute::v1::BookSnapshotFile file;
  if (absl::Status st = ParseJsonInput(json, &file); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("book file ", path, ": ", st.message()));
  }
  std::map<std::pair<std::string, std::string>, int> seen;  // (venue, symbol) -> index.
  for (int i = 0; i < file.books_size(); ++i) {
    const auto& b = file.books(i);
    if (b.venue().empty() || b.symbol().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("book file ", path, ": books[", i, "]: venue and symbol are required"));
    }
    // One book per venue and symbol: a second would silently replace the first.
    if (auto [at, fresh] = seen.emplace(std::make_pair(b.venue(), b.symbol()), i); !fresh) {
      return absl::InvalidArgumentError(absl::StrCat("book file ", path, ": books[", i, "]: venue \"", b.venue(),
                                                     "\" symbol \"", b.symbol(), "\" already has a book (books[",
                                                     at->second, "])"));
    }
    // As every book the router takes: levels within 1..2^53 units, best first, one per price.
    for (const auto* side : {&b.bids(), &b.asks()}) {
      const bool bids = side == &b.bids();
      for (int k = 0; k < side->size(); ++k) {
        const int64_t price = (*side)[k].price(), size = (*side)[k].size();
        const std::string where = absl::StrCat("book file ", path, ": books[", i, "].", bids ? "bids" : "asks", "[", k, "]: ");
        if (price <= 0 || size <= 0 || price > kMaxUnits || size > kMaxUnits) {
          return absl::InvalidArgumentError(absl::StrCat(where, "price and size must be within 1..2^53 units"));
        }
        const int64_t before = k > 0 ? (*side)[k - 1].price() : 0;
        if (k > 0 && (bids ? price >= before : price <= before)) {
          return absl::InvalidArgumentError(absl::StrCat(where, "price ", price, " after ", before, ": ", bids ? "bids" : "asks",
                                                         " go best first, strictly ", bids ? "descending" : "ascending"));
        }
      }
    }
  }
  return file;
}

}  // namespace exo::adapters
