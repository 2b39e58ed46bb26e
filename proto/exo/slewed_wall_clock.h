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
//
// In step — always, but for the minutes after a step back — a reading is the system clock's,
// lock-free, and writes nothing shared: a feed's threads and the decisions read it at once.
#pragma once

#include <atomic>
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
  // A step back smaller than this is followed (a book looks that much younger, no more).
  static constexpr int64_t kFollowedStepNs = 50'000;
  // A step back smaller than this is not logged (it is caught up with all the same).
  static constexpr int64_t kLoggedStepNs = 1'000'000;

  explicit SlewedWallClock(Sources sources);

  int64_t NowNs() const override;
  // How far this clock reads ahead of the system's now (0: they agree).
  int64_t AheadOfSystemNs() const override;

 private:
  struct Reading {
    int64_t wall;
    int64_t steady;
    int64_t offset() const { return wall - steady; }
  };
  // The two clocks read together (retried while a reading straddles a pause of the thread).
  Reading Read() const;
  // A reading while the system clock is behind this one; sets `*ahead`. Called with `lock` held
  // on mu_; returns with it released (it logs a step back, and the meeting, after).
  int64_t CatchUpLocked(const Reading& r, int64_t* ahead, std::unique_lock<std::mutex>* lock) const;

  // This clock less the steady clock while in step: the highest offset of the two seen (the
  // first read at construction). (On a cache line of their own with the sources: every reading
  // reads them, and writes none.)
  alignas(64) mutable std::atomic<int64_t> offset_{0};
  mutable std::atomic<bool> catching_up_{false};
  const Sources sources_;
  alignas(64) mutable std::mutex mu_;
  // While catching up (under mu_): this clock less the steady clock at `slew_steady_`, the
  // steady nanoseconds not yet slowed by (< kSlowDown), the system clock's offset at the last
  // reading (a further step back is logged too), the last reading given and how far it was
  // ahead of the system clock.
  mutable int64_t slew_offset_ = 0;
  mutable int64_t slew_steady_ = 0;
  mutable int64_t slow_rest_ = 0;
  mutable int64_t last_offset_ = 0;
  mutable int64_t last_given_ = 0;
  mutable int64_t last_ahead_ = 0;
  mutable bool logged_step_ = false;  // A step of this catching up was logged.
};

}  // namespace exo
