// The node's clock, injected everywhere a time enters a decision so that tests control it and
// replay never reads it (decisions record the time they used).
#pragma once

#include <cstdint>

namespace exo {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix time in nanoseconds.
  virtual int64_t NowNs() const = 0;
  // How far this clock reads ahead of the system's, having not followed it back (0: it reads
  // the system's; SlewedWallClock).
  virtual int64_t AheadOfSystemNs() const { return 0; }
};

// The system wall clock as the node reads it: it never goes back (SlewedWallClock,
// exo/slewed_wall_clock.h). Thread-safe; never null.
Clock* SystemClock();

}  // namespace exo
