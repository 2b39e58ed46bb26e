// Aborts while a database at argv[1] is being opened (inside an AbortNotice's scope), as RocksDB
// does when it asserts on damage it did not check; with --after-open, once the open is over (the
// notice gone: the abort is no damaged database's). ctest checks what the process printed.
#include <cstdlib>
#include <cstring>
#include <optional>

#include "store/abort_notice.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::optional<exo::store::AbortNotice> opening(std::in_place, argv[1]);
  if (argc > 2 && std::strcmp(argv[2], "--after-open") == 0) opening.reset();
  std::abort();
}
