#include "daemon/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace exo::daemon {
namespace {

using exoroute::v1::ProcessStatus;

absl::StatusOr<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return absl::UnavailableError(absl::StrCat("process: cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<ProcessStatus> ParseProcStat(const std::string& stat_line, int64_t page_bytes,
                                            int64_t ticks_per_s, int64_t boot_time_s) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields are
  // counted from the last ')'. After it, field 3 (state) is index 0; utime is field 14,
  // stime 15, starttime 22, vsize 23, rss 24 (proc(5)).
  const size_t close = stat_line.rfind(')');
  if (close == std::string::npos) return absl::InvalidArgumentError("process: /proc/self/stat has no ')'");
  std::vector<std::string> f = absl::StrSplit(stat_line.substr(close + 1), ' ', absl::SkipEmpty());
  auto field = [&f](int number, const char* name) -> absl::StatusOr<uint64_t> {
    uint64_t v = 0;
    const size_t i = static_cast<size_t>(number - 3);
    if (i >= f.size() || !absl::SimpleAtoi(f[i], &v)) {
      return absl::InvalidArgumentError(absl::StrCat("process: /proc/self/stat field ", number, " (", name,
                                                     ") does not parse"));
    }
    return v;
  };
  ProcessStatus p;
  absl::StatusOr<uint64_t> utime = field(14, "utime"), stime = field(15, "stime"), start = field(22, "starttime"),
                           vsize = field(23, "vsize"), rss = field(24, "rss");
  for (const auto* v : {&utime, &stime, &start, &vsize, &rss}) {
    if (!v->ok()) return v->status();
  }
  if (page_bytes <= 0 || ticks_per_s <= 0) return absl::InvalidArgumentError("process: page size or clock ticks unknown");
  p.set_resident_bytes(*rss * static_cast<uint64_t>(page_bytes));
  p.set_virtual_bytes(*vsize);
  p.set_cpu_ms((*utime + *stime) * 1000 / static_cast<uint64_t>(ticks_per_s));
  p.set_start_time_s(boot_time_s + static_cast<int64_t>(*start / static_cast<uint64_t>(ticks_per_s)));
  return p;
}

absl::StatusOr<ProcessStatus> ReadProcessStatus() {
  absl::StatusOr<std::string> stat = ReadFile("/proc/self/stat");
  if (!stat.ok()) return stat.status();
  absl::StatusOr<std::string> machine = ReadFile("/proc/stat");
  if (!machine.ok()) return machine.status();
  int64_t boot_time_s = 0;
  for (absl::string_view line : absl::StrSplit(*machine, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ") && absl::SimpleAtoi(line, &boot_time_s)) break;
  }
  absl::StatusOr<ProcessStatus> p = ParseProcStat(*stat, sysconf(_SC_PAGESIZE), sysconf(_SC_CLK_TCK), boot_time_s);
  if (!p.ok()) return p.status();
  std::error_code ec;
  uint32_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    ++fds;
  }
  if (ec) return absl::UnavailableError(absl::StrCat("process: cannot list /proc/self/fd: ", ec.message()));
  p->set_open_fds(fds > 0 ? fds - 1 : 0);  // Less the one listing the directory.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    p->set_max_fds(static_cast<uint64_t>(limit.rlim_cur));
  }
  return p;
}

}  // namespace exo::daemon
