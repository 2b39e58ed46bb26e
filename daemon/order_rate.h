// A throttle on orders (RiskLimit.max_orders_per_second): at most N orders admitted per key (an
// instrument, or an instrument and the client that sends them) in any rolling second. It keeps the admission time of each order admitted within
// the last second, oldest first — at most N per key, so memory is bounded by the limit.
// Not thread-safe: its owner locks it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

namespace exo::daemon {

class OrderRateLimiter {
 public:
  static constexpr int64_t kWindowNs = 1'000'000'000;

  // Admits an order of `key` at `now_ns` (a monotonic clock) when fewer than `max_per_second`
  // were admitted in the second before it, and returns nullopt; else admits nothing and returns
  // how long until one would be admitted (ns, > 0). A limit lowered since (a config reload)
  // refuses until enough admissions have aged out.
  std::optional<int64_t> Admit(const std::string& key, uint32_t max_per_second, int64_t now_ns) {
    std::optional<int64_t> wait = Wait(key, max_per_second, now_ns);
    if (!wait.has_value()) Record(key, now_ns);
    return wait;
  }

  // What Admit would answer, admitting nothing: an order that several limits throttle is
  // admitted by all of them or by none (Record each once all have said yes).
  std::optional<int64_t> Wait(const std::string& key, uint32_t max_per_second, int64_t now_ns) {
    std::deque<int64_t>& times = admitted_[key];
    Expire(times, now_ns);
    if (times.size() < max_per_second) return std::nullopt;
    // The one that must leave the window first for a place to open.
    const int64_t leaves = times[times.size() - max_per_second] + kWindowNs;
    return leaves > now_ns ? leaves - now_ns : 1;
  }
  void Record(const std::string& key, int64_t now_ns) { admitted_[key].push_back(now_ns); }

  // Orders of `key` admitted in the second before `now_ns`.
  uint32_t InLastSecond(const std::string& key, int64_t now_ns) const {
    auto it = admitted_.find(key);
    if (it == admitted_.end()) return 0;
    uint32_t n = 0;
    for (int64_t t : it->second) n += t > now_ns - kWindowNs ? 1 : 0;
    return n;
  }

 private:
  static void Expire(std::deque<int64_t>& times, int64_t now_ns) {
    while (!times.empty() && times.front() <= now_ns - kWindowNs) times.pop_front();
  }

  std::map<std::string, std::deque<int64_t>> admitted_;
};

}  // namespace exo::daemon
