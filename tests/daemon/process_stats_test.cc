#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <string>
#include <vector>

#include "daemon/process_stats.h"

using exo::daemon::ParseProcStat;
using exo::daemon::ReadProcessStatus;

TEST_CASE("a /proc stat line is read from its fields after the command name, whatever that name holds", "[process]") {
  // Fields 3..24 of proc(5): state ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss.
  const std::string line =
      "4242 (exo routed) (x)) S 1 4242 4242 0 -1 4194560 900 0 3 0 250 130 0 0 20 0 12 0 "
      "50000 734003200 25600 18446744073709551615\n";
  auto p = ParseProcStat(line, 4096, 100, 1'700'000'000);
  REQUIRE(p.ok());
  CHECK(p->resident_bytes() == 25600ULL * 4096);
  CHECK(p->virtual_bytes() == 734003200ULL);
  CHECK(p->cpu_ms() == 3800);  // (250 + 130) ticks at 100 a second.
  CHECK(p->start_time_s() == 1'700'000'500);  // Boot + 50000 ticks.

  auto garbled = ParseProcStat("4242 (exo) S 1 2 3 0 -1 4 5 6 7 8 x 130 0 0 20 0 12 0 50000 1 2", 4096, 100, 0);
  REQUIRE(garbled.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(garbled.status().message()) == "process: /proc/self/stat field 14 (utime) does not parse");
  auto cut = ParseProcStat("4242 (exo) S 1 2 3", 4096, 100, 0);
  CHECK(cut.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseProcStat("no name here", 4096, 100, 0).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("this process's own figures: memory, CPU, descriptors counted as they open, start time", "[process]") {
  auto before = ReadProcessStatus();
  REQUIRE(before.ok());
  CHECK(before->resident_bytes() > 1'000'000);
  CHECK(before->virtual_bytes() >= before->resident_bytes());
  CHECK(before->open_fds() >= 3);  // stdin, stdout, stderr at least.
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  CHECK(before->start_time_s() <= now + 1);
  CHECK(before->start_time_s() > now - 24 * 3600);  // A test process started minutes ago.
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) fds.push_back(open("/dev/null", O_RDONLY));
  auto after = ReadProcessStatus();
  REQUIRE(after.ok());
  CHECK(after->open_fds() == before->open_fds() + 5);
  if (after->max_fds() > 0) CHECK(after->max_fds() >= after->open_fds());
  for (int fd : fds) close(fd);
  CHECK(ReadProcessStatus()->open_fds() == before->open_fds());
}
