#include "solver/local_problem.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "exo/fixed_point.h"

namespace exo::solver {
namespace {

constexpr int64_t kDefaultMaxBookAgeMs = 5000;

// The venue's book age at the decision, and the oldest it may be (ns). In 128 bits: times and
// ages from a file or a replayed input may be any int64.
struct BookAge {
  __int128 age_ns;
  int64_t max_age_ms;
  bool stale() const { return age_ns > static_cast<__int128>(max_age_ms) * 1'000'000; }
};

BookAge AgeOf(const exoroute::v1::VenueInput& venue, int64_t decision_time_ns) {
  return {static_cast<__int128>(decision_time_ns) - venue.book().receive_time_ns(),
          venue.max_book_age_ms() > 0 ? venue.max_book_age_ms() : kDefaultMaxBookAgeMs};
}

// A best level that is no price or no size is a malformed book (Build says which level).
bool SaneBestLevel(const google::protobuf::RepeatedPtrField<exoroute::v1::BookLevel>& levels) {
  return levels.empty() || (levels[0].price() > 0 && levels[0].price() <= kMaxUnits && levels[0].size() > 0);
}

}  // namespace

bool LocalProblem::Quotable(const exoroute::v1::VenueInput& venue, int64_t decision_time_ns) {
  const auto& book = venue.book();
  if (!venue.exclusion().empty() || book.receive_time_ns() == 0 || AgeOf(venue, decision_time_ns).stale()) {
    return false;
  }
  if (!SaneBestLevel(book.bids()) || !SaneBestLevel(book.asks())) return false;
  return book.bids().empty() || book.asks().empty() || book.bids(0).price() < book.asks(0).price();
}

absl::StatusOr<LocalProblem> LocalProblem::Build(const exoroute::v1::VenueInput& venue,
                                                 exoroute::v1::Side side,
                                                 std::optional<int64_t> limit_price,
                                                 int64_t decision_time_ns, uint32_t qty_scale) {
  return Build(venue, side, limit_price, decision_time_ns, qty_scale, nullptr);
}

absl::StatusOr<LocalProblem> LocalProblem::Build(const exoroute::v1::VenueInput& venue,
                                                 exoroute::v1::Side side,
                                                 std::optional<int64_t> limit_price,
                                                 int64_t decision_time_ns, uint32_t qty_scale,
                                                 CurveCache::Reader* cache) {
  LocalProblem p;
  if (absl::Status s = BuildInto(venue, side, limit_price, decision_time_ns, qty_scale, ReasonFormat(), cache, &p);
      !s.ok()) {
    return s;
  }
  return p;
}

absl::Status LocalProblem::BuildInto(const exoroute::v1::VenueInput& venue, exoroute::v1::Side side,
                                     std::optional<int64_t> limit_price, int64_t decision_time_ns,
                                     uint32_t qty_scale, const ReasonFormat& words, CurveCache::Reader* cache,
                                     LocalProblem* out) {
  const auto& book = venue.book();
  if (!venue.exclusion().empty()) return absl::FailedPreconditionError(venue.exclusion());
  if (venue.lot_size() <= 0) {
    return absl::FailedPreconditionError(absl::StrCat("lot size ", venue.lot_size(), " <= 0"));
  }
  if (book.receive_time_ns() == 0) return absl::FailedPreconditionError("no book yet");
  if (const BookAge age = AgeOf(venue, decision_time_ns); age.stale()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("book stale: age %.3f s > max %.3f s", static_cast<double>(age.age_ns) / 1e9,
                        static_cast<double>(age.max_age_ms) / 1e3));
  }
  // The walked side is checked level by level when its curve is built; of the other side only
  // its best level matters (a crossed book is unusable whichever side we take).
  LocalProblem& p = *out;
  if (cache != nullptr) {
    if (absl::Status s = cache->GetInto(venue, side, qty_scale, &p.curve_); !s.ok()) return s;
  } else {
    absl::StatusOr<std::shared_ptr<const VenueCurve>> built = VenueCurve::Build(venue, side, qty_scale);
    if (!built.ok()) return built.status();
    p.curve_ = *std::move(built);
  }
  const bool bids = !book.bids().empty(), asks = !book.asks().empty();
  const int64_t best_bid = bids ? book.bids(0).price() : 0;
  const int64_t best_ask = asks ? book.asks(0).price() : 0;
  if (bids && asks && best_bid >= best_ask) {
    return absl::FailedPreconditionError(
        absl::StrCat("crossed book: best bid ", words.Px(best_bid), " >= best ask ", words.Px(best_ask)));
  }
  const VenueCurve& c = *p.curve_;
  const std::span<const Segment> segs = c.segments();
  // Cut at the limit: the runs whose worst price is within it (worst prices only get worse).
  size_t n = segs.size();
  if (limit_price.has_value()) {
    const int64_t limit = *limit_price;
    auto within = [&c, limit](int64_t price) { return c.buy() ? price <= limit : price >= limit; };
    if (!within(c.best_price())) {
      return absl::FailedPreconditionError(absl::StrCat("no liquidity within limit ", words.Px(limit),
                                                        " (best ", c.buy() ? "ask " : "bid ",
                                                        words.Px(c.best_price()), ")"));
    }
    n = static_cast<size_t>(
        std::partition_point(segs.begin(), segs.end(),
                             [&](const Segment& s) { return within(s.worst_price); }) -
        segs.begin());
  }
  // Then at the venue's cap, in whole lots.
  const int64_t lot = c.lot_size();
  int64_t usable = n == 0 ? 0 : segs[n - 1].end;
  if (venue.max_quantity() > 0) usable = std::min(usable, venue.max_quantity() / lot * lot);
  if (usable < lot) {
    return absl::FailedPreconditionError(
        absl::StrCat("less than one lot (", words.Qty(lot), ") available within limit and cap"));
  }
  // The segment holding the last usable unit (ends increase strictly; uncapped: the last one).
  const size_t k = usable == segs[n - 1].end
                       ? n - 1
                       : static_cast<size_t>(
                             std::lower_bound(segs.begin(), segs.begin() + static_cast<long>(n), usable,
                                              [](const Segment& s, int64_t v) { return s.end < v; }) -
                             segs.begin());

  p.segs_ = segs.data();
  p.unit_ = c.unit_costs().data();
  p.ends_ = c.ends().data();
  p.end_costs_ = c.end_costs().data();
  p.n_ = k + 1;
  p.last_ = segs[k];
  p.lot_size_ = lot;
  p.kappa_ = c.kappa();
  p.first_unit_ = c.first_unit_cost();
  p.min_quantity_ = venue.min_quantity();
  p.best_bid_ = best_bid;
  p.best_ask_ = best_ask;
  // Built: not excluded, a book, fresh, not crossed, and every level of the walked side sane
  // (its curve checked them, or was built from the same levels: MatchesBook).
  p.quotable_ = SaneBestLevel(c.buy() ? book.bids() : book.asks());
  if (p.last_.end > usable) {
    // Only a one-price run can be cut (a straddling lot is one lot): the same sums as a walk
    // that stopped at the cap.
    const Segment* before = k == 0 ? nullptr : &segs[k - 1];
    p.last_.quantity = usable - (before != nullptr ? before->end : 0);
    p.last_.end = usable;
    p.last_.end_cost = (before != nullptr ? before->end_cost : 0.0) +
                       p.last_.unit_cost * static_cast<double>(p.last_.quantity);
    p.last_.notional = (before != nullptr ? before->notional : 0) +
                       static_cast<__int128>(p.last_.worst_price) * p.last_.quantity;
  }
  return absl::OkStatus();
}

std::vector<LocalProblem::Segment> LocalProblem::segments() const {
  std::vector<Segment> out;
  for (size_t k = 0; k < n_; ++k) out.push_back(Seg(k));
  return out;
}

double LocalProblem::LotMarginal(int64_t j) const {
  size_t k = SegmentOf((j + 1) * lot_size_);
  if (k >= n_) return std::numeric_limits<double>::infinity();
  return unit_[k] + kappa_ * static_cast<double>(lot_size_) * (static_cast<double>(j) + 0.5);
}

int64_t LocalProblem::LotsBelow(double lambda, bool inclusive) const {
  auto below = [&](double m) { return inclusive ? m <= lambda : m < lambda; };
  // Last segment whose first lot is below λ: every lot before it is too (m is increasing).
  const double kl = kappa_ * static_cast<double>(lot_size_);
  size_t lo = 0, hi = n_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int64_t first = mid == 0 ? 0 : Seg(mid - 1).end / lot_size_;
    if (below(unit_[mid] + kl * (static_cast<double>(first) + 0.5))) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return 0;
  const double unit = unit_[lo - 1];
  int64_t first = lo == 1 ? 0 : Seg(lo - 2).end / lot_size_;
  int64_t last = Seg(lo - 1).end / lot_size_;  // One past the segment's last lot.
  // Closed form for the first lot not below λ, then exact fix-up against LotMarginal.
  double est = std::ceil((lambda - unit) / kl - 0.5);
  int64_t j = std::isfinite(est) ? static_cast<int64_t>(std::clamp<double>(
                                       est, static_cast<double>(first), static_cast<double>(last)))
                                 : last;
  auto m = [&](int64_t lot) { return unit + kl * (static_cast<double>(lot) + 0.5); };
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
  size_t hi;
  return AtPosition(lambda, FirstNotBelow(lambda, 0, n_), &hi);
}

LocalProblem::Nearest LocalProblem::NearestWithImpact(const Response& r) const {
  Nearest n;
  if (r.lo > 0) n.below = LotMarginal(r.lo / lot_size_ - 1);
  if (r.hi < capacity()) n.above = LotMarginal(r.hi / lot_size_);
  return n;
}

double LocalProblem::NextBreakpoint(double lambda) const {
  if (kappa_ > 0) {
    int64_t j = LotsBelow(lambda, true);
    return j * lot_size_ >= capacity() ? std::numeric_limits<double>::infinity() : LotMarginal(j);
  }
  const double* it = std::upper_bound(unit_, unit_ + n_, lambda);
  return it == unit_ + n_ ? std::numeric_limits<double>::infinity() : *it;
}

double LocalProblem::PreviousBreakpoint(double lambda) const {
  if (kappa_ > 0) {
    const int64_t j = LotsBelow(lambda, false);
    return j == 0 ? -std::numeric_limits<double>::infinity() : LotMarginal(j - 1);
  }
  const double* it = std::lower_bound(unit_, unit_ + n_, lambda);
  return it == unit_ ? -std::numeric_limits<double>::infinity() : *(it - 1);
}

double LocalProblem::Prox(double v, double rho) const {
  // Optimality: m(x-) <= rho (v - x) <= m(x+), with m the continuous marginal cost
  // c_k + kappa x. h(x) = m(x) + rho x is increasing; find where it crosses t = rho v.
  const double t = rho * v, slope = kappa_ + rho;
  double start = 0;
  for (size_t k = 0; k < n_; ++k) {
    double end = static_cast<double>(Seg(k).end);
    if (unit_[k] + slope * end >= t) {
      double x = (t - unit_[k]) / slope;
      return std::max(start, x);  // Below the segment's start: the kink at `start`.
    }
    start = end;
  }
  return static_cast<double>(capacity());
}

size_t LocalProblem::SegmentOf(int64_t x) const {
  if (x > capacity()) return n_;
  // The curve's own ends serve for the search: only the last usable one is cut, and it still
  // holds every x up to capacity(). The first end >= x, without unpredictable branches.
  const int64_t* base = ends_;
  size_t len = n_;
  while (len > 1) {
    const size_t half = len / 2;
    base = base[half - 1] < x ? base + half : base;
    len -= half;
  }
  return static_cast<size_t>(base - ends_) + (*base < x ? 1 : 0);
}

double LocalProblem::MarginalCostAfter(int64_t x) const { return LotMarginal(x / lot_size_); }

double LocalProblem::Cost(int64_t x) const { return x <= 0 ? 0 : CostIn(x, SegmentOf(x)); }

double LocalProblem::CostIn(int64_t x, size_t k) const {
  double impact = kappa_ * static_cast<double>(x) * static_cast<double>(x) / 2;
  if (k >= n_) return last_.end_cost + impact;
  double before = k == 0 ? 0.0 : Seg(k - 1).end_cost;
  int64_t qty_before = k == 0 ? 0 : Seg(k - 1).end;
  return before + unit_[k] * static_cast<double>(x - qty_before) + impact;
}

double LocalProblem::ContinuousCost(double x) const {
  if (x <= 0) return 0;
  double before = 0, start = 0;
  for (size_t k = 0; k < n_; ++k) {
    const Segment& s = Seg(k);
    double end = static_cast<double>(s.end);
    if (x <= end) return before + s.unit_cost * (x - start) + kappa_ * x * x / 2;
    before = s.end_cost;
    start = end;
  }
  return before + kappa_ * start * start / 2;
}

int64_t LocalProblem::ExpectedCost(int64_t x, uint32_t qty_scale) const {
  return x <= 0 ? 0 : ChildFor(x, qty_scale).expected_cost;
}

int64_t LocalProblem::LimitPriceFor(int64_t x) const {
  return Seg(std::min(SegmentOf(x), n_ - 1)).worst_price;
}

LocalProblem::Child LocalProblem::ChildFor(int64_t x, uint32_t qty_scale, size_t near) const {
  // The walked notional, exactly: whole segments' sums, plus part of a one-price run (a lot
  // multiple never ends inside a straddling lot).
  size_t k;
  if (near < n_ && x <= capacity() && Holds(near, x)) {
    k = near;
  } else if (near - 1 < n_ && x <= capacity() && Holds(near - 1, x)) {  // (near = 0: no such segment.)
    k = near - 1;
  } else {
    k = SegmentOf(x);
  }
  const Segment& s = Seg(std::min(k, n_ - 1));
  __int128 notional = s.notional;
  if (x < s.end) notional -= static_cast<__int128>(s.worst_price) * (s.end - x);
  // Notional > 0 and a fee factor within (0.9, 1.1) × 10^6 (fees are within ±1000 bp): a buy
  // pays notional × (1 + fee), a sell receives notional × (1 − fee), rounded half away from zero.
  const int64_t fee_ppm = curve_->fee_ppm();
  const bool buy = curve_->buy();
  const uint64_t magnitude = MulDivRoundUnsigned(static_cast<unsigned __int128>(notional),
                                                 static_cast<uint64_t>(buy ? 1'000'000 + fee_ppm : 1'000'000 - fee_ppm),
                                                 static_cast<uint64_t>(1'000'000 * Pow10(qty_scale)));
  int64_t cost = buy ? static_cast<int64_t>(magnitude) : -static_cast<int64_t>(magnitude);
  // The impact term is a model estimate, not a price: it is added rounded.
  if (kappa_ > 0) {
    double impact = kappa_ * static_cast<double>(x) * static_cast<double>(x) / 2;
    cost += std::llround(impact / static_cast<double>(Pow10(qty_scale)));
  }
  Child child;
  child.limit_price = s.worst_price;
  child.cost = CostIn(x, k);
  child.expected_cost = cost;
  return child;
}

}  // namespace exo::solver
