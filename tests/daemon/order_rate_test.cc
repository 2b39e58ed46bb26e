#include "daemon/order_rate.h"

#include <catch2/catch.hpp>

using exo::daemon::OrderRateLimiter;

namespace {
constexpr int64_t kMs = 1'000'000;
}

TEST_CASE("the order rate admits at most N orders in any rolling second, per instrument", "[risk][rate]") {
  OrderRateLimiter rate;
  const int64_t t0 = 50'000 * kMs;  // A monotonic clock's reading.
  CHECK_FALSE(rate.Admit("BTC-USD", 3, t0).has_value());
  CHECK_FALSE(rate.Admit("BTC-USD", 3, t0 + 100 * kMs).has_value());
  CHECK_FALSE(rate.Admit("BTC-USD", 3, t0 + 200 * kMs).has_value());
  // The fourth in the same second waits until the first is a second old.
  CHECK(rate.Admit("BTC-USD", 3, t0 + 300 * kMs) == 700 * kMs);
  CHECK(rate.Admit("BTC-USD", 3, t0 + 999 * kMs) == 1 * kMs);
  CHECK(rate.InLastSecond("BTC-USD", t0 + 999 * kMs) == 3);
  // Another instrument has its own second.
  CHECK_FALSE(rate.Admit("ETH-USD", 3, t0 + 999 * kMs).has_value());
  // At exactly a second the first has left: one place.
  CHECK_FALSE(rate.Admit("BTC-USD", 3, t0 + 1000 * kMs).has_value());
  CHECK(rate.Admit("BTC-USD", 3, t0 + 1000 * kMs) == 100 * kMs);
  CHECK(rate.InLastSecond("BTC-USD", t0 + 1000 * kMs) == 3);
  CHECK(rate.InLastSecond("BTC-USD", t0 + 5000 * kMs) == 0);
  CHECK(rate.InLastSecond("SOL-USD", t0) == 0);
}

TEST_CASE("a lowered order rate refuses until enough admissions have aged out, a raised one admits at once",
          "[risk][rate]") {
  OrderRateLimiter rate;
  const int64_t t0 = 7 * kMs;
  for (int i = 0; i < 5; ++i) REQUIRE_FALSE(rate.Admit("X", 5, t0 + i * 10 * kMs).has_value());
  // Lowered to 2 (a config reload): the 4th of the 5 must leave before a place opens.
  CHECK(rate.Admit("X", 2, t0 + 100 * kMs) == (t0 + 30 * kMs + 1000 * kMs) - (t0 + 100 * kMs));
  CHECK_FALSE(rate.Admit("X", 2, t0 + 1035 * kMs).has_value());  // Only the 5th is left in the window.
  CHECK(rate.Admit("X", 2, t0 + 1036 * kMs) == 4 * kMs);           // Until the 5th is a second old.
  CHECK_FALSE(rate.Admit("X", 2, t0 + 1040 * kMs).has_value());
  // Raised to 10: admitted at once.
  CHECK_FALSE(rate.Admit("X", 10, t0 + 1041 * kMs).has_value());
  CHECK(rate.InLastSecond("X", t0 + 1041 * kMs) == 3);
}
