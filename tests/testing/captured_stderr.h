// What a piece of code writes to stderr (the daemon's log lines), captured through a file.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/testing/temp_dir.h"

namespace exo::testing {

template <typename Fn>
std::string CapturedStderr(Fn&& fn) {
  TempDir dir;
  const std::string path = dir / "stderr";
  const int file = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (file < 0) return "(stderr not captured: cannot open " + path + ")";
  std::fflush(stderr);
  const int saved = ::dup(2);
  ::dup2(file, 2);
  fn();
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

}  // namespace exo::testing
