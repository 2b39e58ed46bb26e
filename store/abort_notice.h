// AbortNotice: while a database is being opened, a SIGABRT first writes what it means to stderr.
//
// RocksDB keeps its assertions in Debian's build, and some damage it does not check before
// parsing (one changed byte of a table file, found by tests/fuzz store) tripped one of them while
// the tables were opened: the process aborted with RocksDB's source line and nothing else. The
// damage known so far is now refused before RocksDB reads it (store/table_check.h); for any that
// no check foresaw the notice stays. While an
// AbortNotice lives, the abort first prints which database was being opened, that a file of it
// is damaged and what to do; the process still stops (nothing can be trusted after an assertion).
// Scopes may nest and overlap across threads: the handler is installed while any is alive.
#pragma once

#include <string>

namespace exo::store {

class AbortNotice {
 public:
  explicit AbortNotice(const std::string& path);
  ~AbortNotice();
  AbortNotice(const AbortNotice&) = delete;
  AbortNotice& operator=(const AbortNotice&) = delete;
};

}  // namespace exo::store
