// The node's clock under ThreadSanitizer: its lock-free reading and its catching up, read by two
// threads while the system clock steps back (tests/proto/step_back_under_readers.h), three times.
// Built with -fsanitize=thread beside the suite (tests/CMakeLists.txt): a data race ends the run
// with TSan's report and exit status 66; a reading that went back, a step logged twice or a
// catch-up out of bounds, with status 1.
#include <cstdio>

#include "tests/proto/step_back_under_readers.h"

int main() {
  for (int run = 0; run < 3; ++run) {
    const exo::testing::StepsFromThreads r = exo::testing::StepBackUnderReaders();
    const bool ok = r.steps_logged == 4 && r.lines_logged == 4 && r.backwards[0] == 0 && r.backwards[1] == 0 &&
                    r.ahead >= r.ahead_at_least && r.ahead <= r.ahead_at_most;
    std::printf("run %d: %lld and %lld readings, %zu steps logged in %zu lines, %d and %d back, ahead %lld ns "
                "(bounds %lld..%lld)\n",
                run, static_cast<long long>(r.reads[0]), static_cast<long long>(r.reads[1]), r.steps_logged,
                r.lines_logged, r.backwards[0], r.backwards[1], static_cast<long long>(r.ahead),
                static_cast<long long>(r.ahead_at_least), static_cast<long long>(r.ahead_at_most));
    if (!ok) {
      std::printf("FAIL; the log:\n%s", r.log.c_str());
      return 1;
    }
  }
  return 0;
}
