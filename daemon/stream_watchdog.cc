#include "daemon/stream_watchdog.h"

#include <algorithm>
#include <chrono>

#include "exo/log.h"

namespace exo::daemon {
namespace {

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

StreamWatchdog::StreamWatchdog(int64_t stall_ms) : stall_ms_(stall_ms), thread_([this] { Run(); }) {}

StreamWatchdog::~StreamWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

uint64_t StreamWatchdog::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

void StreamWatchdog::Run() {
  // A quarter of the limit between checks: a stalled stream ends within 1.25 limits.
  const auto period = std::chrono::milliseconds(std::max<int64_t>(1, stall_ms_ / 4));
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, period, [this] { return stop_; });
    const int64_t now = SteadyNowNs();
    for (Entry& e : streams_) {
      if (e.cancelled || e.write_since_ns == 0 || now - e.write_since_ns < stall_ms_ * 1'000'000) continue;
      // (Thread-safe: gRPC lets any thread cancel a server call. The entry, and so the context,
      // lives until its handler unregisters it under this lock.)
      e.ctx->TryCancel();
      e.cancelled = true;
      ++cancelled_;
      LogWarning("a stream from %s read nothing for %d ms (listen.stream_stall_ms): cancelled", e.ctx->peer(),
                 stall_ms_);
    }
  }
}

StreamWatchdog::Stream::Stream(StreamWatchdog* watchdog, grpc::ServerContext* ctx) : watchdog_(watchdog) {
  if (watchdog_ == nullptr) return;
  std::lock_guard<std::mutex> lock(watchdog_->mu_);
  watchdog_->streams_.push_front(Entry{ctx, 0, false});
  entry_ = watchdog_->streams_.begin();
}

StreamWatchdog::Stream::~Stream() {
  if (watchdog_ == nullptr) return;
  std::lock_guard<std::mutex> lock(watchdog_->mu_);
  watchdog_->streams_.erase(entry_);
}

void StreamWatchdog::Stream::Mark(bool writing) {
  if (watchdog_ == nullptr) return;
  const int64_t now = writing ? SteadyNowNs() : 0;
  std::lock_guard<std::mutex> lock(watchdog_->mu_);
  entry_->write_since_ns = now;
}

bool StreamWatchdog::Stream::stalled() const {
  if (watchdog_ == nullptr) return false;
  std::lock_guard<std::mutex> lock(watchdog_->mu_);
  return entry_->cancelled;
}

}  // namespace exo::daemon
