#include "adapters/book_file.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace exo::adapters {

absl::StatusOr<exoroute::v1::BookSnapshotFile> LoadBookFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("book file ", path, ": cannot open"));
  std::stringstream ss;
  ss << in.rdbuf();
  exoroute::v1::BookSnapshotFile file;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(ss.str(), &file, opts);
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("book file ", path, ": ", st.message().as_string()));
  }
  for (int i = 0; i < file.books_size(); ++i) {
    const auto& b = file.books(i);
    if (b.venue().empty() || b.symbol().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("book file ", path, ": books[", i, "]: venue and symbol are required"));
    }
    for (const auto* side : {&b.bids(), &b.asks()}) {
      for (int k = 0; k < side->size(); ++k) {
        if ((*side)[k].price() <= 0 || (*side)[k].size() <= 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              "book file ", path, ": books[", i, "].", side == &b.bids() ? "bids" : "asks", "[",
              k, "]: price and size must be > 0"));
        }
      }
    }
  }
  return file;
}

}  // namespace exo::adapters
