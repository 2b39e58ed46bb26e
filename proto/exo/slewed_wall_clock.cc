#include "exo/slewed_wall_clock.h"

#include <algorithm>
#include <ctime>

#include "exo/log.h"

namespace exo {
namespace {

int64_t ReadClock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t RealtimeNs() { return ReadClock(CLOCK_REALTIME); }
int64_t MonotonicNs() { return ReadClock(CLOCK_MONOTONIC); }

}  // namespace

SlewedWallClock::SlewedWallClock(Sources sources) : sources_(sources) {}

int64_t SlewedWallClock::NowNs() const {
  enum class Note { kNone, kSteppedBack, kMet } note = Note::kNone;
  int64_t now, step = 0, ahead = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t wall = sources_.wall_ns();
    const int64_t steady = sources_.steady_ns();
    if (!started_) {
      started_ = true;
      last_ns_ = wall;
      last_steady_ = steady;
      return wall;
    }
    const int64_t elapsed = std::max<int64_t>(0, steady - last_steady_);
    const int64_t counted = last_ns_ + elapsed;  // This clock at full speed.
    if (wall >= counted) {
      now = wall;  // In step with the system clock, or it stepped forwards: follow it.
      slow_rest_ = 0;
    } else {
      // The system clock is behind: it stepped back (now or before). Run slow, down to it
      // (the remainder of elapsed / kSlowDown carried, so that frequent readings slow it as much).
      const int64_t slowed = elapsed + slow_rest_;
      slow_rest_ = slowed % kSlowDown;
      now = std::max(wall, counted - slowed / kSlowDown);
      step = (counted - wall) - ahead_ns_;  // What the gap grew by since the last reading.
    }
    ahead = now - wall;
    if (step >= kLoggedStepNs) {
      catching_up_ = true;
      note = Note::kSteppedBack;
    } else if (catching_up_ && ahead == 0) {
      catching_up_ = false;
      note = Note::kMet;
    }
    last_ns_ = now;
    last_steady_ = steady;
    ahead_ns_ = ahead;
  }
  // Logged outside the lock: a log line reads this clock.
  if (note == Note::kSteppedBack) {
    LogWarning("the system clock stepped back by %.3f s: this node's clock does not go back; it runs %d %% slow "
               "until the system clock, %.3f s behind it now, catches up (in about %.0f s), so that no book "
               "looks younger than it is",
               static_cast<double>(step) / 1e9, static_cast<int>(100 / kSlowDown), static_cast<double>(ahead) / 1e9,
               static_cast<double>(ahead) * kSlowDown / 1e9);
  } else if (note == Note::kMet) {
    LogInfo("this node's clock agrees with the system clock again (after it stepped back)");
  }
  return now;
}

int64_t SlewedWallClock::AheadOfSystemNs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ahead_ns_;
}

Clock* SystemClock() {
  static SlewedWallClock clock({&RealtimeNs, &MonotonicNs});
  return &clock;
}

}  // namespace exo
