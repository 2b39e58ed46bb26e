// Runs a fuzz target's seeds and every input file in the directories given, without libFuzzer
// (any compiler): the ctest form of a fuzz target. Exit 0 when every input ran clean; a failed
// FUZZ_CHECK or a crash fails the test, naming the input first.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {
void Run(const std::string& name, const std::string& bytes) {
  std::fprintf(stderr, "input %s (%zu bytes)\n", name.c_str(), bytes.size());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}
}  // namespace

int main(int argc, char** argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  size_t runs = 0;
  const std::vector<std::string> seeds = exo::fuzz::Seeds();
  for (size_t i = 0; i < seeds.size(); ++i, ++runs) Run("seed " + std::to_string(i), seeds[i]);
  for (int a = 1; a < argc; ++a) {
    std::vector<std::filesystem::path> files;
    if (!std::filesystem::is_directory(argv[a])) {
      std::fprintf(stderr, "%s: not a directory\n", argv[a]);
      return 2;
    }
    for (const auto& e : std::filesystem::directory_iterator(argv[a])) {
      if (e.is_regular_file() && e.path().filename() != "README.md") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      Run(f.string(), ss.str());
      ++runs;
    }
  }
  std::fprintf(stderr, "%zu inputs ran clean\n", runs);
  std::error_code ec;
  std::filesystem::remove_all(exo::fuzz::DataDir(), ec);
  // Without destructors: a target's engine and store live to the end (RocksDB's own statics
  // may be gone before a static store would close).
  std::fflush(stderr);
  std::_Exit(0);
}
