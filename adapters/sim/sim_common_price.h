// SimCommonPrice: the price move that every simulated venue of a symbol quotes around.
//
// Real venues' prices for one symbol move together (arbitrage keeps them within a spread of each
// other); independent random walks drift apart until the venues stay crossed against each other.
// So a node's sim venues of one symbol share one of these: a seeded walk of -1, 0 or +1 step
// per interval of the clock, read by each venue when its book moves. The walk starts at 0 at its
// first reading; a reading far after the one before (a paused node) catches up at most
// kMaxCatchUp steps and skips the rest.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

namespace exo::adapters {

class SimCommonPrice {
 public:
  static constexpr int64_t kMaxCatchUp = 100'000;

  // `step` in price units (> 0), `interval_ns` (> 0).
  SimCommonPrice(uint64_t seed, int64_t step, int64_t interval_ns);

  // The move since the first reading at clock time `now_ns` (a multiple of the step). An earlier
  // time than the latest read gives the latest move: the walk never goes back.
  int64_t MoveAt(int64_t now_ns);

  int64_t step() const { return step_; }

 private:
  const int64_t step_, interval_ns_;
  std::mutex mu_;
  std::mt19937_64 rng_;  // Guarded by mu_.
  bool started_ = false;
  int64_t interval_ = 0, move_ = 0;  // The latest interval read and the move at it; guarded.
};

}  // namespace exo::adapters
