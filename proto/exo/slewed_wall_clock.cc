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

// A reading of both clocks whose steady readings either side lie further apart than this was
// paused midway: read again (so that a pause never passes for a step back).
constexpr int64_t kReadWithinNs = 10'000;

}  // namespace

SlewedWallClock::SlewedWallClock(Sources sources) : sources_(sources) { offset_ = Read().offset(); }

SlewedWallClock::Reading SlewedWallClock::Read() const {
  for (int attempt = 0;; ++attempt) {
    const int64_t before = sources_.steady_ns();
    const int64_t wall = sources_.wall_ns();
    const int64_t after = sources_.steady_ns();
    // (Paused every time: the midpoint, off by half the pause at most.)
    if (after - before <= kReadWithinNs || attempt == 7) return {wall, before + (after - before) / 2};
  }
}

int64_t SlewedWallClock::NowNs() const {
  if (!catching_up_.load(std::memory_order_acquire)) {
    const Reading r{sources_.wall_ns(), sources_.steady_ns()};
    int64_t in_step = offset_.load(std::memory_order_relaxed);
    // In step, or stepped forwards: the system clock's reading. The highest offset is kept
    // (written only when it rises: a step forwards, or a reading's last nanoseconds). Read in
    // this order, a thread paused between the two makes the offset look lower, never higher.
    while (r.offset() > in_step) {
      if (offset_.compare_exchange_weak(in_step, r.offset(), std::memory_order_relaxed)) in_step = r.offset();
    }
    if (r.offset() > in_step - kFollowedStepNs) return r.wall;
  }
  // Behind, or catching up: read again with care (this thread may have paused between the two).
  const Reading r = Read();
  std::unique_lock<std::mutex> lock(mu_);
  int64_t ahead = 0;
  return CatchUpLocked(r, &ahead, &lock);
}

int64_t SlewedWallClock::CatchUpLocked(const Reading& r, int64_t* ahead, std::unique_lock<std::mutex>* lock) const {
  enum class Note { kNone, kSteppedBack, kMet } note = Note::kNone;
  int64_t step = 0;
  if (!catching_up_.load(std::memory_order_relaxed)) {
    // The system clock just stepped back (this thread saw it first): count on from this clock's
    // reading at full speed.
    const int64_t in_step = offset_.load(std::memory_order_relaxed);
    if (r.offset() > in_step - kFollowedStepNs) {  // (Another thread caught up meanwhile.)
      *ahead = 0;
      lock->unlock();
      return r.wall;
    }
    slew_offset_ = in_step;
    slew_steady_ = r.steady;
    slow_rest_ = 0;
    last_offset_ = in_step;
    logged_step_ = false;
    catching_up_.store(true, std::memory_order_release);
  }
  // A reading taken before the last one handled here — or that may have been: readings within
  // kReadWithinNs of each other are ordered by their system clock's offset, the higher first
  // (the system clock went back between them) — gives that one's answer again.
  if (r.steady < slew_steady_ || (r.steady < slew_steady_ + kReadWithinNs && r.offset() > last_offset_)) {
    *ahead = last_ahead_;
    const int64_t given = last_given_;
    lock->unlock();
    return given;
  }
  // Slowed by 1/kSlowDown of the steady time since the last reading (the remainder carried,
  // so that frequent readings slow it as much), down to the system clock.
  const int64_t elapsed = r.steady - slew_steady_ + slow_rest_;
  slow_rest_ = elapsed % kSlowDown;
  slew_offset_ -= elapsed / kSlowDown;
  slew_steady_ = r.steady;
  if (last_offset_ - r.offset() >= kLoggedStepNs) {
    step = last_offset_ - r.offset();
    note = Note::kSteppedBack;
    logged_step_ = true;
  }
  last_offset_ = r.offset();
  int64_t now;
  if (slew_offset_ <= r.offset()) {  // Met (or the system clock stepped forwards past it).
    now = r.wall;
    offset_.store(r.offset(), std::memory_order_relaxed);
    catching_up_.store(false, std::memory_order_release);
    if (logged_step_) note = Note::kMet;  // (A step too small to log is caught up with quietly.)
  } else {
    now = r.steady + slew_offset_;
  }
  now = std::max(now, last_given_);  // (Readings from several threads: never back.)
  last_given_ = now;
  *ahead = last_ahead_ = now - r.wall;
  lock->unlock();  // Logged outside the lock: a log line reads this clock.
  if (note == Note::kSteppedBack) {
    LogWarning("the system clock stepped back by %.3f s: this node's clock does not go back; it runs %d %% slow "
               "until the system clock, %.3f s behind it now, catches up (in about %.0f s), so that no book "
               "looks younger than it is",
               static_cast<double>(step) / 1e9, static_cast<int>(100 / kSlowDown), static_cast<double>(*ahead) / 1e9,
               static_cast<double>(*ahead) * kSlowDown / 1e9);
  } else if (note == Note::kMet) {
    LogInfo("this node's clock agrees with the system clock again (after it stepped back)");
  }
  return now;
}

int64_t SlewedWallClock::AheadOfSystemNs() const {
  if (!catching_up_.load(std::memory_order_acquire)) return 0;
  const Reading r = Read();
  std::unique_lock<std::mutex> lock(mu_);
  int64_t ahead = 0;
  CatchUpLocked(r, &ahead, &lock);
  return ahead;
}

Clock* SystemClock() {
  static SlewedWallClock clock({&RealtimeNs, &MonotonicNs});
  return &clock;
}

}  // namespace exo
