// ReadWholeFile: every byte of a file, or the system's reason it could not be read (the config,
// book and certificate files are read with it: their errors say why, not only "cannot open").
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "exo/read_file.h"
#include "tests/testing/temp_dir.h"

TEST_CASE("a whole file is read byte for byte, or the reason it cannot be is given") {
  exo::testing::TempDir dir;
  std::string bytes;
  for (int i = 0; i < 200'000; ++i) bytes.push_back(static_cast<char>(i * 7 % 256));  // NULs and all: 3 reads.
  std::ofstream(dir / "data", std::ios::binary) << bytes;
  absl::StatusOr<std::string> read = exo::ReadWholeFile(dir / "data");
  REQUIRE(read.ok());
  CHECK(*read == bytes);

  std::ofstream(dir / "empty").close();
  read = exo::ReadWholeFile(dir / "empty");
  REQUIRE(read.ok());
  CHECK(read->empty());

  read = exo::ReadWholeFile(dir / "missing.json");
  CHECK(read.status().code() == absl::StatusCode::kNotFound);
  CHECK(read.status().message() == dir / "missing.json: No such file or directory");

  // A directory opens for reading; its read fails.
  read = exo::ReadWholeFile(dir.path());
  CHECK(read.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(read.status().message() == dir.path() + ": Is a directory");

  read = exo::ReadWholeFile(dir / "data/below-a-file");
  CHECK(read.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(read.status().message() == dir / "data/below-a-file: Not a directory");
}
