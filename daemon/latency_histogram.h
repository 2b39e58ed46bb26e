// A latency histogram for /metrics: fixed buckets from 1 µs to 10 s (1, 2.5, 5 per decade),
// lock-free to record from any thread. Measured around the solver and the RPCs, never inside
// a decision (the solver has no clock).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace exo::daemon {

class LatencyHistogram {
 public:
  // Upper bounds of the buckets, in nanoseconds (a sample lands in the first bound >= it).
  static constexpr std::array<int64_t, 22> kBoundsNs = {
      1'000,         2'500,         5'000,         10'000,        25'000,        50'000,
      100'000,       250'000,       500'000,       1'000'000,     2'500'000,     5'000'000,
      10'000'000,    25'000'000,    50'000'000,    100'000'000,   250'000'000,   500'000'000,
      1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

  struct Snapshot {
    std::array<uint64_t, kBoundsNs.size()> buckets{};  // Per bucket (not cumulative).
    uint64_t count = 0;  // All samples, including those above the last bound.
    int64_t sum_ns = 0;
  };

  void Record(int64_t ns) {
    if (ns < 0) ns = 0;
    size_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
    if (i < kBoundsNs.size()) buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  // Not atomic across fields: a scrape during a Record may see the count one ahead of the
  // buckets, which Prometheus tolerates (the next scrape is consistent).
  Snapshot Read() const {
    Snapshot s;
    for (size_t i = 0; i < kBoundsNs.size(); ++i) s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.count = count_.load(std::memory_order_relaxed);
    s.sum_ns = sum_ns_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBoundsNs.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> sum_ns_{0};
};

}  // namespace exo::daemon
