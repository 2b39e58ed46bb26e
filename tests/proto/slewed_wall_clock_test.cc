// The node's wall clock (exo/slewed_wall_clock.h): it follows the system clock, forwards at
// once, and never goes back when the system clock steps back — so no book looks younger than it
// is — but runs 5 % slow until the system clock meets it.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>
#include <vector>

#include "exo/slewed_wall_clock.h"
#include "tests/testing/captured_stderr.h"

namespace {

constexpr int64_t kSec = 1'000'000'000;

// The system's clocks as the test sets them: real time passing (the steady clock) and where the
// system clock is set against it, so that time passing moves both at once, as on a machine.
std::atomic<int64_t> g_steady{0};
std::atomic<int64_t> g_set{0};
int64_t Wall() { return g_steady.load() + g_set.load(); }
int64_t Steady() { return g_steady.load(); }

void Pass(int64_t ns) { g_steady += ns; }
// The system clock set `ns` forwards (or back, negative): an NTP step, or `date -s`.
void SetWall(int64_t ns) { g_set += ns; }

exo::SlewedWallClock FreshClock() {
  g_steady = 5 * kSec;
  g_set = 1'765'000'000 * kSec - g_steady;
  return exo::SlewedWallClock({&Wall, &Steady});
}

}  // namespace

TEST_CASE("the node's clock reads the system clock while that runs steadily and follows a step forwards at once", "[clock]") {
  exo::SlewedWallClock clock = FreshClock();
  REQUIRE(clock.NowNs() == Wall());
  Pass(1500);
  REQUIRE(clock.NowNs() == Wall());
  Pass(3 * kSec);
  REQUIRE(clock.NowNs() == Wall());
  SetWall(60 * kSec);  // An NTP step forwards: books received before it are stale at once.
  REQUIRE(clock.NowNs() == Wall());
  REQUIRE(clock.AheadOfSystemNs() == 0);
}

TEST_CASE("a step back of the system clock does not take the node's clock back: it runs 5 % slow until they meet", "[clock]") {
  exo::SlewedWallClock clock = FreshClock();
  clock.NowNs();
  Pass(kSec);
  const int64_t before = clock.NowNs();  // A book received now...
  REQUIRE(before == Wall());
  SetWall(-2 * kSec);  // ...then `date -s` sets the system clock 2 s back.
  int64_t after = 0;
  const std::string log = exo::testing::CapturedStderr([&] { after = clock.NowNs(); });
  INFO(log);
  REQUIRE(after == before);  // Not back: the book's age is not cut by the step.
  REQUIRE(clock.AheadOfSystemNs() == 2 * kSec);
  REQUIRE(log.find("WARN") != std::string::npos);
  REQUIRE(log.find("the system clock stepped back by 2.000 s") != std::string::npos);
  REQUIRE(log.find("runs 5 % slow") != std::string::npos);
  REQUIRE(log.find("in about 40 s") != std::string::npos);

  // 10 s later by the steady clock: the node's clock counted 9.5 s, and the book's age reads
  // 9.5 s (the system clock's difference would say 8 s).
  Pass(10 * kSec);
  REQUIRE(clock.NowNs() - before == 9'500'000'000);
  REQUIRE(clock.AheadOfSystemNs() == 1'500'000'000);

  // Read every 1.013 µs a thousand times: it never goes back and slows as much as when read
  // seldom (by 1/20 of the 1 013 000 ns, though no reading's 1 013 ns divides by 20).
  int64_t last = clock.NowNs();
  for (int i = 0; i < 1000; ++i) {
    Pass(1013);
    const int64_t now = clock.NowNs();
    REQUIRE(now >= last);
    last = now;
  }
  REQUIRE(clock.AheadOfSystemNs() == 1'500'000'000 - 50'650);

  // 40 s after the step in all, they meet; the node's clock reads the system's from then on.
  Pass(30 * kSec - 1'013'000);
  std::string met = exo::testing::CapturedStderr([&] { REQUIRE(clock.NowNs() == Wall()); });
  REQUIRE(met.find("this node's clock agrees with the system clock again") != std::string::npos);
  REQUIRE(clock.AheadOfSystemNs() == 0);
  Pass(kSec);
  REQUIRE(clock.NowNs() == Wall());
}

TEST_CASE("the node's clock catches up with a second step back too and a step forwards ends the catching up", "[clock]") {
  exo::SlewedWallClock clock = FreshClock();
  clock.NowNs();
  SetWall(-kSec);
  const std::string first = exo::testing::CapturedStderr([&] { clock.NowNs(); });
  Pass(4 * kSec);
  SetWall(-kSec);
  const std::string second = exo::testing::CapturedStderr([&] { clock.NowNs(); });
  INFO(first << second);
  REQUIRE(first.find("stepped back by 1.000 s") != std::string::npos);
  REQUIRE(second.find("stepped back by 1.000 s") != std::string::npos);
  REQUIRE(clock.AheadOfSystemNs() == 2 * kSec - 200'000'000);  // (4 s at 95 %.)
  // A step forwards past the node's clock (a millisecond later): it follows at once.
  Pass(1'000'000);
  SetWall(5 * kSec);
  int64_t now = 0;
  const std::string met = exo::testing::CapturedStderr([&] { now = clock.NowNs(); });
  REQUIRE(now == Wall());
  REQUIRE(clock.AheadOfSystemNs() == 0);
  REQUIRE(met.find("agrees with the system clock again") != std::string::npos);
}

// The machine's own steady clock, and a system clock set against it by the test: real time
// passes at its real rate, as the readers' pauses need (faked time racing ahead of the threads
// would pass every reading for a paused one).
std::atomic<int64_t> g_real_set{0};
int64_t RealSteady() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kSec + ts.tv_nsec;
}
int64_t RealSetWall() { return RealSteady() + g_real_set.load(); }

TEST_CASE("readings of the node's clock from several threads never go back while the system clock steps back", "[clock]") {
  g_real_set = 1'765'000'000 * kSec;
  exo::SlewedWallClock clock({&RealSetWall, &RealSteady});
  clock.NowNs();  // In step, before the readers start.
  std::atomic<bool> stop{false};
  std::vector<int> backwards(2, 0);
  std::atomic<int64_t> read[2] = {0, 0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      int64_t last = 0;
      while (!stop.load()) {
        const int64_t now = clock.NowNs();
        if (now < last) ++backwards[t];
        last = now;
        ++read[t];
      }
    });
  }
  int64_t first_step = 0, first_seen = 0;
  const std::string log = exo::testing::CapturedStderr([&] {
    for (int i = 0; i < 4; ++i) {  // Four steps back of 0.3 s each, 50 ms apart, each read before the next.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (i == 0) first_step = RealSteady();
      g_real_set -= 300'000'000;
      const int64_t seen[2] = {read[0].load(), read[1].load()};
      while (read[0].load() < seen[0] + 100 || read[1].load() < seen[1] + 100) std::this_thread::yield();
      if (i == 0) first_seen = RealSteady();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop = true;
    for (std::thread& r : readers) r.join();
  });
  INFO(log);
  // Each step logged once, and nothing else: two threads reading do not pass for a step.
  size_t lines = 0, steps = 0;
  for (size_t at = log.find('\n'); at != std::string::npos; at = log.find('\n', at + 1)) ++lines;
  for (size_t at = log.find("stepped back by 0.300 s"); at != std::string::npos;
       at = log.find("stepped back by 0.300 s", at + 1)) {
    ++steps;
  }
  CHECK(steps == 4);
  CHECK(lines == 4);
  INFO(read[0].load() << " and " << read[1].load() << " readings");
  CHECK(backwards[0] == 0);
  CHECK(backwards[1] == 0);
  // 1.2 s stepped back in all, caught up with at 5 % since the first step was seen (between
  // `first_step` and `first_seen`): that much less still to go (give or take a reading's 10 µs).
  const int64_t before = RealSteady();
  const int64_t ahead = clock.AheadOfSystemNs();
  const int64_t after = RealSteady();
  INFO("ahead " << ahead << " ns");
  CHECK(ahead >= 1'200'000'000 - (after - first_step) / 20 - 10'000);
  CHECK(ahead <= 1'200'000'000 - (before - first_seen) / 20 + 10'000);
}

TEST_CASE("a step back under a millisecond is caught up with quietly, and one under 50 us is followed", "[clock]") {
  exo::SlewedWallClock clock = FreshClock();
  clock.NowNs();
  const std::string log = exo::testing::CapturedStderr([&] {
    SetWall(-400'000);  // 0.4 ms back: not followed...
    const int64_t held = clock.NowNs();
    CHECK(clock.AheadOfSystemNs() == 400'000);
    Pass(8'000'000);  // ...caught up with in 8 ms (20 × 0.4 ms)...
    CHECK(clock.NowNs() == Wall());
    CHECK(clock.AheadOfSystemNs() == 0);
    CHECK(Wall() - held == 7'600'000);
    SetWall(-30'000);  // 30 us back: followed.
    CHECK(clock.NowNs() == Wall());
    CHECK(clock.AheadOfSystemNs() == 0);
  });
  CHECK(log.empty());  // ...and none of it logged.
}
