#include "adapters/sim/sim_common_price.h"

#include <algorithm>

namespace exo::adapters {

SimCommonPrice::SimCommonPrice(uint64_t seed, int64_t step, int64_t interval_ns)
    : step_(std::max<int64_t>(1, step)), interval_ns_(std::max<int64_t>(1, interval_ns)), rng_(seed) {}

int64_t SimCommonPrice::MoveAt(int64_t now_ns) {
  const int64_t interval = now_ns / interval_ns_;
  std::lock_guard<std::mutex> lock(mu_);
  if (!started_) {
    started_ = true;
    interval_ = interval;
    return move_;
  }
  if (interval <= interval_) return move_;
  int64_t steps = interval - interval_;
  interval_ = interval;
  for (steps = std::min(steps, kMaxCatchUp); steps > 0; --steps) {
    move_ += (static_cast<int64_t>(rng_() % 3) - 1) * step_;
  }
  return move_;
}

}  // namespace exo::adapters
