#include "daemon/cluster/fan_out.h"

namespace exo::daemon::cluster {

FanOutPool::~FanOutPool() {
  for (auto& c : callers_) {
    {
      std::lock_guard<std::mutex> lock(c->mu);
      c->stop = true;
    }
    c->cv.notify_one();
    c->thread.join();
  }
}

void FanOutPool::Post(size_t k, std::function<void()> task) {
  Caller* c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (callers_.size() <= k) {
      auto caller = std::make_unique<Caller>();
      Caller* raw = caller.get();
      raw->thread = std::thread([raw] {
        for (;;) {
          std::function<void()> next;
          {
            std::unique_lock<std::mutex> lock(raw->mu);
            raw->cv.wait(lock, [raw] { return raw->stop || !raw->tasks.empty(); });
            if (raw->tasks.empty()) return;  // Stopping, nothing left to run.
            next = std::move(raw->tasks.front());
            raw->tasks.pop_front();
          }
          next();
        }
      });
      callers_.push_back(std::move(caller));
    }
    c = callers_[k].get();
  }
  {
    std::lock_guard<std::mutex> lock(c->mu);
    c->tasks.push_back(std::move(task));
  }
  c->cv.notify_one();
}

}  // namespace exo::daemon::cluster
