// The plans whose clients asked to have them cancelled if their watch goes away (WatchPlan with
// cancel_on_disconnect: a dead man's switch). A plan is held while one such watch is open; when
// the last one ends without the plan having settled (the client went away, cancelled the watch,
// or stopped reading), the plan is due for cancellation `grace` later — unless a new watch holds
// it first. The engine's tick cancels what is due (RouterEngine::TickLoop).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace exo::daemon {

class DisconnectCancels {
 public:
  using Clock = std::chrono::steady_clock;

  // A watch with cancel_on_disconnect opened on the plan: no cancellation is due while it lasts.
  void Hold(const std::string& plan_id);
  // That watch ended: `lost` when the plan had not settled and the node is not shutting down.
  // When it was the plan's last, a lost end makes the plan due at `now + grace`; any other end
  // forgets the plan.
  void Release(const std::string& plan_id, bool lost, std::chrono::milliseconds grace, Clock::time_point now);
  // The plan was armed before a restart and no watch holds it yet: due at `now + grace` unless
  // one holds it first (a plan held already is left as it is).
  void Await(const std::string& plan_id, std::chrono::milliseconds grace, Clock::time_point now);
  // The plans due at `now`, in plan id order, each with the grace it was given; forgotten here.
  struct DuePlan {
    std::string plan_id;
    std::chrono::milliseconds grace;
  };
  std::vector<DuePlan> TakeDue(Clock::time_point now);
  // Plans held by a watch now, and plans waiting out their grace.
  size_t held() const;
  size_t waiting() const;

 private:
  struct Entry {
    int watches = 0;
    Clock::time_point due{};  // Set while waiting out the grace (watches == 0).
    std::chrono::milliseconds grace{0};
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> plans_;
};

}  // namespace exo::daemon
