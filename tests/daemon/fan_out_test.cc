// FanOutPool: a round's calls, answers in node order, on threads that outlive the round.
#include "daemon/cluster/fan_out.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

using exo::daemon::cluster::FanOutPool;

TEST_CASE("a fan-out answers in node order whatever order the calls finish in", "[cluster][fanout]") {
  FanOutPool pool;
  for (int round = 0; round < 3; ++round) {
    auto out = pool.Run(4, [&](size_t i) {
      // The later nodes answer first.
      std::this_thread::sleep_for(std::chrono::milliseconds(10 * (4 - static_cast<int>(i))));
      return static_cast<int>(i) * 10 + round;
    });
    REQUIRE(out.size() == 4);
    for (int i = 0; i < 4; ++i) CHECK(out[static_cast<size_t>(i)] == i * 10 + round);
  }
}

TEST_CASE("node 0 runs on the caller's thread; each peer slot keeps its own thread across rounds",
          "[cluster][fanout]") {
  FanOutPool pool;
  const std::thread::id me = std::this_thread::get_id();
  std::vector<std::thread::id> first, second;
  first = pool.Run(3, [](size_t) { return std::this_thread::get_id(); });
  second = pool.Run(3, [](size_t) { return std::this_thread::get_id(); });
  CHECK(first[0] == me);
  CHECK(first[1] != me);
  CHECK(first[1] != first[2]);   // The peers were asked in parallel, one thread each.
  CHECK(second[1] == first[1]);  // Not a thread started per call.
  CHECK(second[2] == first[2]);
}

TEST_CASE("a peer call that throws fails its fan-out, and the pool goes on", "[cluster][fanout]") {
  FanOutPool pool;
  CHECK_THROWS_AS(pool.Run(3, [](size_t i) -> int {
                    if (i == 2) throw std::runtime_error("peer broke");
                    return 1;
                  }),
                  std::runtime_error);
  auto out = pool.Run(3, [](size_t i) { return static_cast<int>(i); });
  CHECK(out == std::vector<int>{0, 1, 2});
}

TEST_CASE("when this node's own call throws, the fan-out waits for the peers before failing",
          "[cluster][fanout]") {
  FanOutPool pool;
  std::atomic<bool> peer_done{false};
  CHECK_THROWS_AS(pool.Run(2, [&](size_t i) -> int {
                    if (i == 0) throw std::runtime_error("local broke");
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    peer_done = true;
                    return 1;
                  }),
                  std::runtime_error);
  CHECK(peer_done);  // The peer's call (which uses the caller's function) was over first.
}
