// The daemon's log lines (exo/log.h): one message is one line, whatever text it carries.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "exo/log.h"
#include "tests/testing/temp_dir.h"

namespace {

// What LogWarning(`message`) writes to stderr.
std::string Logged(const std::string& message) {
  exo::testing::TempDir dir;
  const std::string path = dir / "stderr";
  const int file = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  REQUIRE(file >= 0);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ::dup2(file, 2);
  exo::LogWarning("venue says: %s", message);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

}  // namespace

TEST_CASE("a log message carrying newlines or control characters from outside stays one line", "[log]") {
  // A venue's reject text that tries to forge a second line.
  const std::string forged = "no\n2026-12-03T00:00:00.000Z ERROR operator approved\r\x1b[2J\x7f\ttab";
  const std::string line = Logged(forged);
  INFO(line);
  REQUIRE(line.size() > 1);
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(line.find(" WARN  venue says: no\\n2026-12-03T00:00:00.000Z ERROR operator approved\\r\\x1b[2J\\x7f\\ttab\n") !=
        std::string::npos);
  // Text without control characters is written as it is (UTF-8 included).
  CHECK(Logged("BTC-USD € 65000.00 \"quoted\" \\ back").find("venue says: BTC-USD € 65000.00 \"quoted\" \\ back\n") !=
        std::string::npos);
}
