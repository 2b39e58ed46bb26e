// The node's wall clock (exo/slewed_wall_clock.h): it follows the system clock, forwards at
// once, and never goes back when the system clock steps back — so no book looks younger than it
// is — but runs 5 % slow until the system clock meets it.
#include <catch2/catch.hpp>

#include <atomic>

#include "exo/slewed_wall_clock.h"
#include "tests/proto/step_back_under_readers.h"
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

TEST_CASE("readings of the node's clock from several threads never go back while the system clock steps back", "[clock]") {
  const exo::testing::StepsFromThreads run = exo::testing::StepBackUnderReaders();
  INFO(run.log);
  INFO(run.reads[0] << " and " << run.reads[1] << " readings; ahead " << run.ahead << " ns");
  CHECK(run.steps_logged == 4);  // Each step logged once...
  CHECK(run.lines_logged == 4);  // ...and nothing else: two threads reading do not pass for a step.
  CHECK(run.backwards[0] == 0);
  CHECK(run.backwards[1] == 0);
  CHECK(run.ahead >= run.ahead_at_least);
  CHECK(run.ahead <= run.ahead_at_most);
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
