#include "daemon/child_outcomes.h"

namespace exo::daemon {

const char* ChildOutcomes::Name(Outcome outcome) {
  switch (outcome) {
    case kFilled: return "filled";
    case kPartial: return "partial";
    case kUnfilled: return "unfilled";
    case kRejected: return "rejected";
    case kOutcomes: break;
  }
  return "?";
}

ChildOutcomes::Outcome ChildOutcomes::Of(int64_t filled, int64_t quantity, std::string_view reason) {
  if (filled >= quantity) return kFilled;
  if (filled > 0) return kPartial;
  return reason.substr(0, 8) == "rejected" ? kRejected : kUnfilled;
}

ChildOutcomes::ChildOutcomes(const std::vector<std::string>& venues) {
  for (const std::string& v : venues) venues_.emplace(v, std::make_unique<PerVenue>());
}

void ChildOutcomes::Sent(const std::string& cl_ord_id, Clock::time_point at) {
  std::lock_guard<std::mutex> lock(mu_);
  sent_[cl_ord_id] = at;
}

void ChildOutcomes::Done(const std::string& venue, const std::string& cl_ord_id, Outcome outcome,
                         Clock::time_point at) {
  std::optional<Clock::time_point> sent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = sent_.find(cl_ord_id); it != sent_.end()) {
      sent = it->second;
      sent_.erase(it);
    }
  }
  auto v = venues_.find(venue);
  if (v == venues_.end()) return;
  v->second->counts[outcome].fetch_add(1, std::memory_order_relaxed);
  if (sent) v->second->to_done.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(at - *sent).count());
}

void ChildOutcomes::Overdue(const std::string& venue) {
  if (auto v = venues_.find(venue); v != venues_.end()) v->second->overdue.fetch_add(1, std::memory_order_relaxed);
}

ChildOutcomes::Figures ChildOutcomes::Read(const std::string& venue) const {
  Figures f;
  auto v = venues_.find(venue);
  if (v == venues_.end()) return f;
  f.overdue = v->second->overdue.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kOutcomes; ++i) f.counts[i] = v->second->counts[i].load(std::memory_order_relaxed);
  f.to_done = v->second->to_done.Read();
  return f;
}

size_t ChildOutcomes::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_.size();
}

}  // namespace exo::daemon
