#include "daemon/disconnect_cancels.h"

namespace exo::daemon {

void DisconnectCancels::Hold(const std::string& plan_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = plans_[plan_id];
  ++e.watches;
  e.due = {};
}

void DisconnectCancels::Release(const std::string& plan_id, bool lost, std::chrono::milliseconds grace,
                                Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = plans_.find(plan_id);
  if (it == plans_.end() || it->second.watches == 0) return;
  if (--it->second.watches > 0) return;  // Another watch still holds it.
  if (!lost) {
    plans_.erase(it);
    return;
  }
  it->second.due = now + grace;
  it->second.grace = grace;
}

void DisconnectCancels::Await(const std::string& plan_id, std::chrono::milliseconds grace, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = plans_[plan_id];
  if (e.watches > 0) return;
  e.due = now + grace;
  e.grace = grace;
}

std::vector<DisconnectCancels::DuePlan> DisconnectCancels::TakeDue(Clock::time_point now) {
  std::vector<DuePlan> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = plans_.begin(); it != plans_.end();) {
    const Entry& e = it->second;
    if (e.watches == 0 && e.due != Clock::time_point{} && e.due <= now) {
      out.push_back({it->first, e.grace});
      it = plans_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

size_t DisconnectCancels::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, e] : plans_) n += e.watches > 0;
  return n;
}

size_t DisconnectCancels::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, e] : plans_) n += e.watches == 0;
  return n;
}

}  // namespace exo::daemon
