// The wall clock a node reads: the system's, except that it never goes back.
//
// A book's age, a GTT deadline and the times the chain records are differences of wall-clock
// readings. A step of the system clock forwards only makes books stale sooner (safe: no decision
// until they update), and this clock follows it at once. A step backwards would make every book
// look younger by the step (a feed that went quiet taken for fresh) and the chain's times go
// back, so this clock does not follow it: it keeps counting on the steady clock from where it
// was, runs 1/kSlowDown slower than real time, and meets the system clock again after
// kSlowDown × the step (a 1 s step: 20 s). While it catches up, an age is measured at most
// 1/kSlowDown short, never a whole step. It logs the step and the meeting.
#pragma once

#include <cstdint>
#include <mutex>

#include "exo/clock.h"

namespace exo {

class SlewedWallClock final : public Clock {
 public:
  // Where readings come from: the system's wall clock (CLOCK_REALTIME) and a steady one
  // (CLOCK_MONOTONIC, which NTP slews at the same rate but never steps). Tests pass their own.
  struct Sources {
    int64_t (*wall_ns)();
    int64_t (*steady_ns)();
  };
  static constexpr int64_t kSlowDown = 20;  // Catching up, it runs at 95 % of real time.
  // A step back smaller than this is not logged (it is still caught up with the same way).
  static constexpr int64_t kLoggedStepNs = 1'000'000;

  explicit SlewedWallClock(Sources sources);

  int64_t NowNs() const override;
  // How far this clock is ahead of the system's after its last reading (0: they agree).
  int64_t AheadOfSystemNs() const override;

 private:
  const Sources sources_;
  mutable std::mutex mu_;
  mutable bool started_ = false;
  mutable int64_t last_ns_ = 0;      // The last reading given.
  mutable int64_t last_steady_ = 0;  // The steady clock then.
  mutable int64_t ahead_ns_ = 0;     // last_ns_ - the system clock then.
  mutable int64_t slow_rest_ = 0;    // Steady nanoseconds not yet slowed by (< kSlowDown).
  mutable bool catching_up_ = false;  // A logged step back not yet caught up with.
};

}  // namespace exo
