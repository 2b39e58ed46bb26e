#include "solver/local_problem.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "exo/fixed_point.h"

namespace exo::solver {
namespace {

using exoroute::v1::BookLevel;
using exoroute::v1::Side;

constexpr int64_t kDefaultMaxBookAgeMs = 5000;

absl::Status CheckSide(const google::protobuf::RepeatedPtrField<BookLevel>& levels,
                       bool descending, const char* name) {
  for (int i = 0; i < levels.size(); ++i) {
    const BookLevel& l = levels[i];
    if (l.price() <= 0 || l.size() <= 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "malformed book: ", name, "[", i, "] has price ", l.price(), " size ", l.size()));
    }
    if (i > 0) {
      int64_t prev = levels[i - 1].price();
      bool ordered = descending ? l.price() < prev : l.price() > prev;
      if (!ordered) {
        return absl::FailedPreconditionError(
            absl::StrCat("malformed book: ", name, " not strictly ",
                         descending ? "descending" : "ascending", " at level ", i));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LocalProblem> LocalProblem::Build(const exoroute::v1::VenueInput& venue,
                                                 Side side, std::optional<int64_t> limit_price,
                                                 int64_t decision_time_ns, uint32_t qty_scale) {
  const auto& book = venue.book();
  if (!venue.exclusion().empty()) return absl::FailedPreconditionError(venue.exclusion());
  if (venue.lot_size() <= 0) {
    return absl::FailedPreconditionError(absl::StrCat("lot size ", venue.lot_size(), " <= 0"));
  }
  int64_t max_age_ms = venue.max_book_age_ms() > 0 ? venue.max_book_age_ms() : kDefaultMaxBookAgeMs;
  int64_t age_ns = decision_time_ns - book.receive_time_ns();
  if (book.receive_time_ns() == 0) return absl::FailedPreconditionError("no book yet");
  if (age_ns > max_age_ms * 1'000'000) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "book stale: age %.3f s > max %.3f s", age_ns / 1e9, max_age_ms / 1e3));
  }
  const bool buy = side == exoroute::v1::SIDE_BUY;
  // The walked side is checked level by level; of the other side only its best level matters
  // (a crossed book is unusable whichever side we take).
  if (auto s = buy ? CheckSide(book.asks(), /*descending=*/false, "asks")
                   : CheckSide(book.bids(), /*descending=*/true, "bids");
      !s.ok()) {
    return s;
  }
  if (!book.bids().empty() && !book.asks().empty() &&
      book.bids(0).price() >= book.asks(0).price()) {
    return absl::FailedPreconditionError(absl::StrCat("crossed book: best bid ",
                                                      book.bids(0).price(), " >= best ask ",
                                                      book.asks(0).price()));
  }
  const auto& levels = buy ? book.asks() : book.bids();
  if (levels.empty()) {
    return absl::FailedPreconditionError(buy ? "no asks in book" : "no bids in book");
  }

  const double fee = venue.fee_bps() / 10000.0;
  // The walked levels: the side cut at the limit (no copy; read in place).
  int n_levels = 0;
  int64_t available = 0;
  for (const BookLevel& l : levels) {
    if (limit_price.has_value() && (buy ? l.price() > *limit_price : l.price() < *limit_price)) {
      break;
    }
    ++n_levels;
    available += l.size();
  }
  if (n_levels == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no liquidity within limit ", *limit_price, " (best ", buy ? "ask " : "bid ",
        levels[0].price(), ")"));
  }
  auto unit_cost = [buy, fee](int64_t price) {
    return buy ? static_cast<double>(price) * (1.0 + fee)
               : -static_cast<double>(price) * (1.0 - fee);
  };
  int64_t usable = available;
  if (venue.max_quantity() > 0) usable = std::min(usable, venue.max_quantity());
  const int64_t lot = venue.lot_size();
  int64_t lots_left = usable / lot;
  if (lots_left == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("less than one lot (", lot, ") available within limit and cap"));
  }
  if (venue.impact_bps() < 0) return absl::FailedPreconditionError("impact_bps < 0");

  LocalProblem p;
  p.venue_ = venue.venue();
  p.lot_size_ = lot;
  p.buy_ = buy;
  p.fee_ppm_ = FeePpm(venue.fee_bps());
  p.kappa_ = static_cast<double>(levels[0].price()) * venue.impact_bps() / 1e4 /
             static_cast<double>(Pow10(qty_scale));
  // At most one whole-lot run and one straddling lot per level: one allocation per venue.
  p.segments_.reserve(2 * static_cast<size_t>(n_levels));
  auto push = [&p](double unit, int64_t qty, int64_t worst, __int128 notional, bool one_price) {
    if (one_price && !p.segments_.empty() && p.segments_.back().one_price &&
        p.segments_.back().worst_price == worst) {
      p.segments_.back().quantity += qty;
      p.segments_.back().notional += notional;
    } else {
      p.segments_.push_back({unit, qty, worst, 0, 0, notional, one_price});
    }
  };
  // Walk the levels lot by lot, jumping over whole lots inside one level; a lot that straddles
  // levels costs their weighted mean, clamped between its first and last level so that rounding
  // can never break convexity.
  int i = 0;
  int64_t left_in_level = levels[0].size();
  while (lots_left > 0) {
    const int64_t price = levels[i].price();
    if (left_in_level >= lot) {
      int64_t whole = std::min(left_in_level / lot, lots_left);
      push(unit_cost(price), whole * lot, price, static_cast<__int128>(price) * (whole * lot), true);
      left_in_level -= whole * lot;
      lots_left -= whole;
      if (left_in_level == 0 && ++i < n_levels) left_in_level = levels[i].size();
      continue;
    }
    double cost = 0;
    __int128 notional = 0;
    int64_t need = lot;
    double first = unit_cost(price), last = first;
    int64_t worst = price;
    while (need > 0) {
      int64_t take = std::min(need, left_in_level);
      worst = levels[i].price();
      double c = unit_cost(worst);
      cost += c * static_cast<double>(take);
      notional += static_cast<__int128>(worst) * take;
      last = c;
      need -= take;
      left_in_level -= take;
      if (left_in_level == 0 && ++i < n_levels) left_in_level = levels[i].size();
    }
    double unit = std::clamp(cost / static_cast<double>(lot), first, last);
    push(unit, lot, worst, notional, false);
    --lots_left;
  }
  int64_t cum = 0;
  double cum_cost = 0;
  __int128 cum_notional = 0;
  for (Segment& s : p.segments_) {
    cum += s.quantity;
    cum_cost += s.unit_cost * static_cast<double>(s.quantity);
    cum_notional += s.notional;
    s.end = cum;
    s.end_cost = cum_cost;
    s.notional = cum_notional;
  }
  return p;
}

double LocalProblem::LotMarginal(int64_t j) const {
  size_t k = SegmentOf((j + 1) * lot_size_);
  if (k >= segments_.size()) return std::numeric_limits<double>::infinity();
  return segments_[k].unit_cost +
         kappa_ * static_cast<double>(lot_size_) * (static_cast<double>(j) + 0.5);
}

int64_t LocalProblem::LotsBelow(double lambda, bool inclusive) const {
  auto below = [&](double m) { return inclusive ? m <= lambda : m < lambda; };
  // Last segment whose first lot is below λ: every lot before it is too (m is increasing).
  const double kl = kappa_ * static_cast<double>(lot_size_);
  size_t lo = 0, hi = segments_.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int64_t first = mid == 0 ? 0 : segments_[mid - 1].end / lot_size_;
    if (below(segments_[mid].unit_cost + kl * (static_cast<double>(first) + 0.5))) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return 0;
  const Segment& s = segments_[lo - 1];
  int64_t first = lo == 1 ? 0 : segments_[lo - 2].end / lot_size_;
  int64_t last = s.end / lot_size_;  // One past the segment's last lot.
  // Closed form for the first lot not below λ, then exact fix-up against LotMarginal.
  double est = std::ceil((lambda - s.unit_cost) / kl - 0.5);
  int64_t j = std::isfinite(est) ? static_cast<int64_t>(std::clamp<double>(est, static_cast<double>(first),
                                                                          static_cast<double>(last)))
                                 : last;
  auto m = [&](int64_t lot) { return s.unit_cost + kl * (static_cast<double>(lot) + 0.5); };
  while (j > first && !below(m(j - 1))) --j;
  while (j < last && below(m(j))) ++j;
  return j;
}

LocalProblem::Response LocalProblem::At(double lambda) const {
  Response r;
  if (kappa_ > 0) {
    r.lo = LotsBelow(lambda, false) * lot_size_;
    r.hi = LotsBelow(lambda, true) * lot_size_;
    r.cost_lo = Cost(r.lo);
    r.cost_hi = r.hi == r.lo ? r.cost_lo : Cost(r.hi);
    return r;
  }
  // First segment with unit_cost >= λ, then the first with unit_cost > λ (usually the same).
  auto lo_it = std::lower_bound(segments_.begin(), segments_.end(), lambda,
                                [](const Segment& s, double v) { return s.unit_cost < v; });
  auto hi_it = lo_it;
  while (hi_it != segments_.end() && hi_it->unit_cost == lambda) ++hi_it;
  if (lo_it != segments_.begin()) {
    r.lo = std::prev(lo_it)->end;
    r.cost_lo = std::prev(lo_it)->end_cost;
  }
  if (hi_it != segments_.begin()) {
    r.hi = std::prev(hi_it)->end;
    r.cost_hi = std::prev(hi_it)->end_cost;
  }
  return r;
}

double LocalProblem::NextBreakpoint(double lambda) const {
  if (kappa_ > 0) {
    int64_t j = LotsBelow(lambda, true);
    return j * lot_size_ >= capacity() ? std::numeric_limits<double>::infinity() : LotMarginal(j);
  }
  auto it = std::upper_bound(segments_.begin(), segments_.end(), lambda,
                             [](double v, const Segment& s) { return v < s.unit_cost; });
  return it == segments_.end() ? std::numeric_limits<double>::infinity() : it->unit_cost;
}

double LocalProblem::Prox(double v, double rho) const {
  // Optimality: m(x-) <= rho (v - x) <= m(x+), with m the continuous marginal cost
  // c_k + kappa x. h(x) = m(x) + rho x is increasing; find where it crosses t = rho v.
  const double t = rho * v, slope = kappa_ + rho;
  double start = 0;
  for (const Segment& s : segments_) {
    double end = static_cast<double>(s.end);
    if (s.unit_cost + slope * end >= t) {
      double x = (t - s.unit_cost) / slope;
      return std::max(start, x);  // Below the segment's start: the kink at `start`.
    }
    start = end;
  }
  return static_cast<double>(capacity());
}

size_t LocalProblem::SegmentOf(int64_t x) const {
  auto it = std::lower_bound(segments_.begin(), segments_.end(), x,
                             [](const Segment& s, int64_t v) { return s.end < v; });
  return static_cast<size_t>(it - segments_.begin());
}

double LocalProblem::MarginalCostAfter(int64_t x) const { return LotMarginal(x / lot_size_); }

double LocalProblem::Cost(int64_t x) const {
  if (x <= 0) return 0;
  double impact = kappa_ * static_cast<double>(x) * static_cast<double>(x) / 2;
  size_t k = SegmentOf(x);
  if (k >= segments_.size()) return segments_.back().end_cost + impact;
  double before = k == 0 ? 0.0 : segments_[k - 1].end_cost;
  int64_t qty_before = k == 0 ? 0 : segments_[k - 1].end;
  return before + segments_[k].unit_cost * static_cast<double>(x - qty_before) + impact;
}

double LocalProblem::ContinuousCost(double x) const {
  if (x <= 0) return 0;
  double before = 0, start = 0;
  for (const Segment& s : segments_) {
    double end = static_cast<double>(s.end);
    if (x <= end) return before + s.unit_cost * (x - start) + kappa_ * x * x / 2;
    before = s.end_cost;
    start = end;
  }
  return before + kappa_ * start * start / 2;
}

int64_t LocalProblem::ExpectedCost(int64_t x, uint32_t qty_scale) const {
  if (x <= 0) return 0;
  // The walked notional, exactly: whole segments' sums, plus part of a one-price run (a lot
  // multiple never ends inside a straddling lot).
  size_t k = std::min(SegmentOf(x), segments_.size() - 1);
  const Segment& s = segments_[k];
  __int128 notional = s.notional;
  if (x < s.end) notional -= static_cast<__int128>(s.worst_price) * (s.end - x);
  int64_t factor = buy_ ? 1'000'000 + fee_ppm_ : -(1'000'000 - fee_ppm_);
  int64_t cost = MulDivRound(notional, factor, static_cast<__int128>(1'000'000) * Pow10(qty_scale));
  // The impact term is a model estimate, not a price: it is added rounded.
  double impact = kappa_ * static_cast<double>(x) * static_cast<double>(x) / 2;
  return cost + std::llround(impact / static_cast<double>(Pow10(qty_scale)));
}

int64_t LocalProblem::LimitPriceFor(int64_t x) const {
  size_t k = std::min(SegmentOf(x), segments_.size() - 1);
  return segments_[k].worst_price;
}

}  // namespace exo::solver
