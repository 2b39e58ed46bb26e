// What RouterEngine reports of itself for Status and /metrics: venues, unanswered children,
// plan counts.
#include "daemon/router_engine.h"

#include <algorithm>

#include "daemon/internal/router_engine_internal.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT

std::vector<VenueStatus> RouterEngine::VenueStatuses() const {
  std::vector<VenueStatus> out;
  const std::vector<UnansweredChild> unanswered = UnansweredChildren();
  int64_t now = clock_->NowNs();
  for (const auto& [id, v] : venues_) {
    VenueStatus s;
    s.set_venue(id);
    s.set_adapter(v.adapter->kind());
    s.set_state(v.adapter->state());
    s.set_fee_bps(config().venues(v.config_index).taker_fee_bps());
    s.set_book_age_ms(-1);
    for (const auto& m : v.config.markets()) {
      s.add_symbols(m.symbol());
      if (auto book = v.adapter->Book(m.symbol())) {
        int64_t age = (now - book->receive_time_ns()) / 1'000'000;
        if (s.book_age_ms() < 0 || age < s.book_age_ms()) {
          s.set_book_age_ms(age);
          s.set_book_sequence(book->sequence());
        }
      }
    }
    s.set_detail(v.adapter->detail());
    if (const Trading t = trading(TradingScope::Venue(id)); t.sequence > 0) *s.mutable_trading() = t.ToProto();
    s.set_children_sent(v.adapter->children_sent());
    s.set_fills(v.adapter->fills());
    const ChildOutcomes::Figures done = child_outcomes_.Read(id);
    s.set_children_filled(done.counts[ChildOutcomes::kFilled]);
    s.set_children_partial(done.counts[ChildOutcomes::kPartial]);
    s.set_children_unfilled(done.counts[ChildOutcomes::kUnfilled]);
    s.set_children_rejected(done.counts[ChildOutcomes::kRejected]);
    s.set_children_overdue(done.overdue);
    s.set_children_unanswered(static_cast<uint32_t>(
        std::count_if(unanswered.begin(), unanswered.end(),
                      [&id = id](const UnansweredChild& u) { return u.order().venue() == id; })));
    s.set_child_mean_us(done.to_done.count == 0 ? -1
                                                : done.to_done.sum_ns / static_cast<int64_t>(done.to_done.count) / 1000);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<UnansweredChild> RouterEngine::UnansweredChildren() const {
  std::vector<std::shared_ptr<PlanRecord>> working;  // Read each under its own lock, after.
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    for (const auto& [id, rec] : plans_) {
      if (rec->version.load() > 0 && !rec->settled.load()) working.push_back(rec);
    }
  }
  std::vector<UnansweredChild> out;
  for (const std::shared_ptr<PlanRecord>& rec : working) {
    std::lock_guard<std::mutex> lock(rec->mu);
    if (rec->overdue_asked.empty()) continue;
    for (const ChildState& c : rec->plan.children()) {
      const auto asked = rec->overdue_asked.find(c.order().cl_ord_id());
      if (c.done() || asked == rec->overdue_asked.end()) continue;
      UnansweredChild& u = out.emplace_back();
      u.set_plan_id(rec->plan.plan_id());
      u.set_symbol(rec->plan.order().symbol());
      *u.mutable_order() = c.order();
      u.set_filled_quantity(c.filled_quantity());
      u.set_sent_time_ns(c.sent_time_ns());
      u.set_last_asked_ns(asked->second);
    }
  }
  std::sort(out.begin(), out.end(), [](const UnansweredChild& a, const UnansweredChild& b) {
    if (a.sent_time_ns() != b.sent_time_ns()) return a.sent_time_ns() < b.sent_time_ns();
    return a.order().cl_ord_id() < b.order().cl_ord_id();
  });
  return out;
}

void RouterEngine::CountPlans(uint64_t* total, uint64_t* working) const {
  std::lock_guard<std::mutex> lock(plans_mu_);
  *total = plans_total_.load();
  *working = 0;
  for (const auto& [id, rec] : plans_) {
    if (rec->version.load() > 0 && !rec->settled.load()) ++*working;
  }
}

}  // namespace exo::daemon
