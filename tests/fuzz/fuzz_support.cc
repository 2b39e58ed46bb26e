#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "exo/openssl_exit.h"
#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/fuzz_target.h"

namespace exo::fuzz {

const std::string& DataDir() {
  static const std::string dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "exo-fuzz-XXXXXX").string();
    return std::string(::mkdtemp(tmpl.data()));
  }();
  return dir;
}

}  // namespace exo::fuzz

// libFuzzer calls this once before the first input. With EXO_FUZZ_SEEDS=DIR the seeds are
// also written there as files, to start a corpus from (tests/fuzz/run.sh).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  exo::KeepOpenSslUntilExit();  // As every process of ours (exo/openssl_exit.h).
  // Mutated inputs are full of invalid UTF-8 in string fields: protobuf logs each one.
  google::protobuf::SetLogHandler(nullptr);
  if (const char* dir = std::getenv("EXO_FUZZ_SEEDS")) {
    int n = 0;
    for (const std::string& s : exo::fuzz::Seeds()) {
      std::ofstream(std::string(dir) + "/seed-" + std::to_string(n++), std::ios::binary) << s;
    }
  }
  return 0;
}
