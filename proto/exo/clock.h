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
};

// The system clock. Thread-safe; never null.
Clock* SystemClock();

}  // namespace exo
