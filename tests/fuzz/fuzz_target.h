// What every fuzz target in this directory provides, besides libFuzzer's entry points
// (LLVMFuzzerInitialize, LLVMFuzzerTestOneInput): its seed inputs, written in code so that
// they say what they are. The same sources build two ways (tests/fuzz/CMakeLists.txt):
//   exo_fuzz_<name>         with clang and -DEXO_FUZZ=ON: a libFuzzer binary (tests/fuzz/run.sh)
//   exo_fuzz_<name>_replay  always: runs the seeds and every file in tests/fuzz/corpus/<name>/
//                           (inputs a fuzzer once broke the code with) as a ctest test.
// A target checks what a user would: no crash or undefined behaviour, and its own properties
// (FUZZ_CHECK), which abort with the reason.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace exo::fuzz {

// The target's seed inputs.
std::vector<std::string> Seeds();

// A fresh directory for a target's data (RocksDB), under the temp directory; the replay
// driver removes it when done (a libFuzzer run leaves it for inspection).
const std::string& DataDir();

}  // namespace exo::fuzz

#define FUZZ_CHECK(cond, ...)                                   \
  do {                                                          \
    if (!(cond)) {                                              \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s: ", #cond);   \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
      std::abort();                                             \
    }                                                           \
  } while (0)
