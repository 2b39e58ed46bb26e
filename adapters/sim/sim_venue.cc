#include "adapters/sim/sim_venue.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "exo/fixed_point.h"
#include "exo/status_macros.h"

namespace exo::adapters {

using exoroute::v1::BookLevel;
using exoroute::v1::ChildOrder;
using exoroute::v1::VenueBook;

int64_t UpdateIntervalMs(const exoroute::v1::SimVenueConfig& config) {
  return config.update_interval_ms() == 0 ? 100 : config.update_interval_ms();
}

SimVenue::SimVenue(Options options)
    : options_(std::move(options)), fee_bps_(options_.fee_bps), rng_(options_.config.seed()) {
  for (const auto& inst : options_.instruments) {
    Market m;
    m.instrument = inst;
    const auto& own = options_.market_sim[inst.symbol()];
    auto pick = [](int64_t market, int64_t venue) { return market > 0 ? market : venue; };
    m.start = m.mid = pick(own.mid_price(), options_.config.mid_price());
    // (At least 1: a venue serving a book file needs no tick, and a market it has no book for
    // is drawn all the same.)
    m.tick = std::max<int64_t>(1, pick(own.tick_size(), options_.config.tick_size()));
    auto common = options_.common_prices.find(inst.symbol());
    m.common = common != options_.common_prices.end()
                   ? common->second
                   : std::make_shared<SimCommonPrice>(options_.config.seed(), m.tick,
                                                      int64_t{1'000'000} * UpdateIntervalMs(options_.config));
    m.level_size = pick(own.level_size(), options_.config.level_size());
    auto lot = options_.lot_sizes.find(inst.symbol());
    m.lot = lot == options_.lot_sizes.end() ? 1 : std::max<int64_t>(1, lot->second);
    auto fixed = options_.fixed_books.find(inst.symbol());
    if (fixed != options_.fixed_books.end()) {
      m.book = std::make_shared<VenueBook>(fixed->second);
      m.book->set_venue(options_.venue_id);
      m.book->set_symbol(inst.symbol());
      m.book->set_receive_time_ns(options_.clock->NowNs());
    } else {
      RedrawLocked(m);
    }
    markets_.emplace(inst.symbol(), std::move(m));
  }
}

SimVenue::~SimVenue() { Stop(); }

absl::Status SimVenue::Start(EventSink sink) {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return absl::FailedPreconditionError("already started");
  sink_ = std::move(sink);
  running_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void SimVenue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
}

exoroute::v1::AdapterState SimVenue::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return exoroute::v1::ADAPTER_STATE_DOWN;
  return running_ ? exoroute::v1::ADAPTER_STATE_UP : exoroute::v1::ADAPTER_STATE_STARTING;
}

std::shared_ptr<const VenueBook> SimVenue::Book(std::string_view symbol) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = markets_.find(std::string(symbol));
  if (it == markets_.end()) return nullptr;
  return it->second.book;
}

absl::Status SimVenue::Send(const ChildOrder& child, std::string_view symbol) {
  const int64_t max = options_.config.max_order_quantity();
  if (max > 0 && child.quantity() > max && state() == exoroute::v1::ADAPTER_STATE_UP &&
      !options_.config.unresponsive()) {
    // Accepted on the wire, rejected by the venue: reported like any execution report.
    ExecutionEvent rejected;
    rejected.type = ExecutionEvent::Type::kDone;
    rejected.venue = options_.venue_id;
    rejected.cl_ord_id = child.cl_ord_id();
    rejected.canceled_quantity = child.quantity();
    rejected.reason = absl::StrCat("rejected: quantity ", child.quantity(),
                                   " above the venue's maximum order size ", max);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++sent_;
    }
    sink_(std::move(rejected));
    return absl::OkStatus();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_ || stopping_) return absl::UnavailableError(options_.venue_id + " is not running");
    if (markets_.count(std::string(symbol)) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(options_.venue_id, " does not trade ", Sv(symbol)));
    }
    ++sent_;
    if (options_.config.unresponsive()) return absl::OkStatus();  // Taken, never answered.
    auto due = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(options_.config.latency_ms());
    pending_.push_back({due, child, std::string(symbol)});
  }
  cv_.notify_all();
  return absl::OkStatus();
}

absl::Status SimVenue::Cancel(std::string_view cl_ord_id) {
  ExecutionEvent done;
  if (options_.config.unresponsive()) return absl::OkStatus();  // Taken, never answered.
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [&](const Pending& p) { return p.child.cl_ord_id() == cl_ord_id; });
    if (it == pending_.end()) {
      return absl::NotFoundError(absl::StrCat("no open child ", Sv(cl_ord_id)));
    }
    done.type = ExecutionEvent::Type::kDone;
    done.venue = options_.venue_id;
    done.cl_ord_id = it->child.cl_ord_id();
    done.canceled_quantity = it->child.quantity();
    done.reason = "cancelled";
    pending_.erase(it);
  }
  sink_(std::move(done));
  return absl::OkStatus();
}

uint64_t SimVenue::children_sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

uint64_t SimVenue::fills() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fills_;
}

void SimVenue::Step() {
  std::lock_guard<std::mutex> lock(mu_);
  StepLocked();
}

void SimVenue::StepLocked() {
  ++steps_;
  for (auto& [symbol, m] : markets_) {
    if (options_.fixed_books.count(symbol) > 0) {
      // A fixed book is republished unchanged (liquidity taken is restored).
      m.book = std::make_shared<VenueBook>(options_.fixed_books.at(symbol));
      m.book->set_venue(options_.venue_id);
      m.book->set_symbol(symbol);
      m.book->set_sequence(steps_);
      m.book->set_receive_time_ns(options_.clock->NowNs());
      continue;
    }
    const int64_t move = static_cast<int64_t>(rng_() % 3) - 1;
    const int64_t spread = std::max<uint32_t>(1, options_.config.spread_ticks());
    if (std::abs(m.own + move) <= spread) m.own += move;
    const int64_t common = m.common->MoveAt(options_.clock->NowNs()) / m.tick * m.tick;  // On this tick grid.
    const int64_t mid = m.start + common + m.own * m.tick;
    if (mid - spread * m.tick > 0) m.mid = mid;  // Keep the best bid above zero.
    RedrawLocked(m);
  }
}

void SimVenue::RedrawLocked(Market& m) {
  const auto& c = options_.config;
  uint32_t depth = c.depth() == 0 ? 20 : c.depth();
  uint32_t spread = std::max<uint32_t>(1, c.spread_ticks());
  auto book = std::make_shared<VenueBook>();
  book->set_venue(options_.venue_id);
  book->set_symbol(m.instrument.symbol());
  book->set_sequence(steps_);
  book->set_receive_time_ns(options_.clock->NowNs());
  for (uint32_t k = 0; k < depth; ++k) {
    int64_t offset = static_cast<int64_t>(spread + k) * m.tick;
    // Sizes between 50% and 150% of the configured mean, deeper levels a little larger.
    auto draw = [&] {
      int64_t pct = 50 + static_cast<int64_t>(rng_() % 101) + static_cast<int64_t>(k) * 2;
      const auto mean_pct = static_cast<int64_t>(static_cast<__int128>(m.level_size) * pct / 100);
      return std::max<int64_t>(1, mean_pct / m.lot) * m.lot;
    };
    if (m.mid - offset > 0) {
      BookLevel* b = book->add_bids();
      b->set_price(m.mid - offset);
      b->set_size(draw());
    }
    BookLevel* a = book->add_asks();
    a->set_price(m.mid + offset);
    a->set_size(draw());
  }
  m.book = std::move(book);
}

std::vector<ExecutionEvent> SimVenue::MatchLocked(const Pending& p) {
  std::vector<ExecutionEvent> events;
  const ChildOrder& child = p.child;
  Market& m = markets_.at(p.symbol);
  auto book = std::make_shared<VenueBook>(*m.book);
  const bool buy = child.side() == exoroute::v1::SIDE_BUY;
  auto* levels = buy ? book->mutable_asks() : book->mutable_bids();
  int64_t left = child.quantity();
  int consumed = 0;
  for (BookLevel& l : *levels) {
    if (left == 0) break;
    if (buy ? l.price() > child.limit_price() : l.price() < child.limit_price()) break;
    int64_t q = std::min(left, l.size());
    ExecutionEvent f;
    f.type = ExecutionEvent::Type::kFill;
    f.venue = options_.venue_id;
    f.cl_ord_id = child.cl_ord_id();
    f.quantity = q;
    f.price = l.price();
    f.fee = MulDivRound(static_cast<__int128>(l.price()) * q, FeePpm(fee_bps_.load()),
                        static_cast<__int128>(1'000'000) * Pow10(m.instrument.qty_scale()));
    f.exec_id = absl::StrCat(options_.venue_id, "-", ++exec_seq_);
    events.push_back(std::move(f));
    ++fills_;
    left -= q;
    l.set_size(l.size() - q);
    if (l.size() == 0) ++consumed;
  }
  levels->DeleteSubrange(0, consumed);
  book->set_sequence(book->sequence());
  m.book = std::move(book);
  ExecutionEvent done;
  done.type = ExecutionEvent::Type::kDone;
  done.venue = options_.venue_id;
  done.cl_ord_id = child.cl_ord_id();
  done.canceled_quantity = left;
  done.reason = left == 0 ? "filled" : "ioc remainder";
  events.push_back(std::move(done));
  return events;
}

void SimVenue::Run() {
  using Clock = std::chrono::steady_clock;
  auto interval = std::chrono::milliseconds(UpdateIntervalMs(options_.config));
  auto next_step = Clock::now() + interval;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto wake = next_step;
    for (const Pending& p : pending_) wake = std::min(wake, p.due);
    cv_.wait_until(lock, wake);
    if (stopping_) break;
    auto now = Clock::now();
    if (now >= next_step) {
      StepLocked();
      next_step = now + interval;
    }
    // Match due orders in arrival order.
    std::vector<ExecutionEvent> out;
    auto it = pending_.begin();
    while (it != pending_.end()) {
      if (it->due <= now) {
        auto ev = MatchLocked(*it);
        out.insert(out.end(), ev.begin(), ev.end());
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    if (!out.empty()) {
      lock.unlock();
      for (auto& e : out) sink_(std::move(e));
      lock.lock();
    }
  }
}

}  // namespace exo::adapters
