// The node's clock read by two threads at once while the system clock steps back four times:
// what the readers saw and what was logged. Shared by the clock's unit test and its run under
// ThreadSanitizer (tests/proto/clock_tsan_main.cc).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "exo/slewed_wall_clock.h"
#include "tests/testing/captured_stderr.h"

namespace exo::testing {

struct StepsFromThreads {
  std::string log;               // What the clock logged.
  size_t lines_logged = 0;
  size_t steps_logged = 0;       // Lines saying "stepped back by 0.300 s".
  int backwards[2] = {0, 0};     // Readings below the reader's one before.
  int64_t reads[2] = {0, 0};
  int64_t ahead = 0;             // AheadOfSystemNs() at the end...
  int64_t ahead_at_least = 0;    // ...and its bounds: 1.2 s less 5 % of the time since the
  int64_t ahead_at_most = 0;     // first step (seen), give or take a reading's 10 µs.
};

namespace step_back_internal {

// The machine's steady clock, and a system clock the scenario sets against it: real time passes
// at its real rate, as the readers' pauses need (faked time racing ahead of the threads would
// pass every reading for a paused one).
inline std::atomic<int64_t> g_set{0};
inline int64_t Steady() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
inline int64_t Wall() { return Steady() + g_set.load(); }

}  // namespace step_back_internal

// Four steps back of 0.3 s, 50 ms apart, each read by both threads before the next.
inline StepsFromThreads StepBackUnderReaders() {
  using step_back_internal::Steady;
  step_back_internal::g_set = int64_t{1'765'000'000} * 1'000'000'000;
  SlewedWallClock clock({&step_back_internal::Wall, &Steady});
  clock.NowNs();  // In step, before the readers start.
  StepsFromThreads run;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> read[2] = {0, 0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      int64_t last = 0;
      while (!stop.load()) {
        const int64_t now = clock.NowNs();
        if (now < last) ++run.backwards[t];
        last = now;
        ++read[t];
      }
    });
  }
  int64_t first_step = 0, first_seen = 0;
  run.log = CapturedStderr([&] {
    for (int i = 0; i < 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (i == 0) first_step = Steady();
      step_back_internal::g_set -= 300'000'000;
      const int64_t seen[2] = {read[0].load(), read[1].load()};
      while (read[0].load() < seen[0] + 100 || read[1].load() < seen[1] + 100) std::this_thread::yield();
      if (i == 0) first_seen = Steady();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop = true;
    for (std::thread& r : readers) r.join();
  });
  for (size_t at = run.log.find('\n'); at != std::string::npos; at = run.log.find('\n', at + 1)) ++run.lines_logged;
  const std::string step = "stepped back by 0.300 s";
  for (size_t at = run.log.find(step); at != std::string::npos; at = run.log.find(step, at + 1)) ++run.steps_logged;
  run.reads[0] = read[0].load();
  run.reads[1] = read[1].load();
  const int64_t before = Steady();
  run.ahead = clock.AheadOfSystemNs();
  const int64_t after = Steady();
  run.ahead_at_least = 1'200'000'000 - (after - first_step) / 20 - 10'000;
  run.ahead_at_most = 1'200'000'000 - (before - first_seen) / 20 + 10'000;
  return run;
}

}  // namespace exo::testing
