// The node's wall clock (exo/slewed_wall_clock.h): it follows the system clock, forwards at
// once, and never goes back when the system clock steps back — so no book looks younger than it
// is — but runs 5 % slow until the system clock meets it.
#include <catch2/catch.hpp>

#include "exo/slewed_wall_clock.h"
#include "tests/testing/captured_stderr.h"

namespace {

constexpr int64_t kSec = 1'000'000'000;

// The system's clocks as the test sets them.
int64_t g_wall = 0;
int64_t g_steady = 0;
int64_t Wall() { return g_wall; }
int64_t Steady() { return g_steady; }

// Real time passing: both clocks advance.
void Pass(int64_t ns) {
  g_wall += ns;
  g_steady += ns;
}

exo::SlewedWallClock FreshClock() {
  g_wall = 1'765'000'000 * kSec;
  g_steady = 5 * kSec;
  return exo::SlewedWallClock({&Wall, &Steady});
}

}  // namespace

TEST_CASE("the node's clock reads the system clock while that runs steadily and follows a step forwards at once", "[clock]") {
  exo::SlewedWallClock clock = FreshClock();
  REQUIRE(clock.NowNs() == g_wall);
  Pass(1500);
  REQUIRE(clock.NowNs() == g_wall);
  Pass(3 * kSec);
  REQUIRE(clock.NowNs() == g_wall);
  g_wall += 60 * kSec;  // An NTP step forwards: books received before it are stale at once.
  REQUIRE(clock.NowNs() == g_wall);
  REQUIRE(clock.AheadOfSystemNs() == 0);
}

TEST_CASE("a step back of the system clock does not take the node's clock back: it runs 5 % slow until they meet", "[clock]") {
  exo::SlewedWallClock clock = FreshClock();
  clock.NowNs();
  Pass(kSec);
  const int64_t before = clock.NowNs();  // A book received now...
  REQUIRE(before == g_wall);
  g_wall -= 2 * kSec;  // ...then `date -s` sets the system clock 2 s back.
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
  std::string met = exo::testing::CapturedStderr([&] { REQUIRE(clock.NowNs() == g_wall); });
  REQUIRE(met.find("this node's clock agrees with the system clock again") != std::string::npos);
  REQUIRE(clock.AheadOfSystemNs() == 0);
  Pass(kSec);
  REQUIRE(clock.NowNs() == g_wall);
}

TEST_CASE("the node's clock catches up with a second step back too and a step forwards ends the catching up", "[clock]") {
  exo::SlewedWallClock clock = FreshClock();
  clock.NowNs();
  g_wall -= kSec;
  const std::string first = exo::testing::CapturedStderr([&] { clock.NowNs(); });
  Pass(4 * kSec);
  g_wall -= kSec;
  const std::string second = exo::testing::CapturedStderr([&] { clock.NowNs(); });
  INFO(first << second);
  REQUIRE(first.find("stepped back by 1.000 s") != std::string::npos);
  REQUIRE(second.find("stepped back by 1.000 s") != std::string::npos);
  REQUIRE(clock.AheadOfSystemNs() == 2 * kSec - 200'000'000);
  // A step forwards past the node's clock: it follows at once.
  g_wall += 5 * kSec;
  int64_t now = 0;
  const std::string met = exo::testing::CapturedStderr([&] { now = clock.NowNs(); });
  REQUIRE(now == g_wall);
  REQUIRE(clock.AheadOfSystemNs() == 0);
  REQUIRE(met.find("agrees with the system clock again") != std::string::npos);
}
