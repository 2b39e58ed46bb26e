#include "solver/venue_curve.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "exo/fixed_point.h"
#include "solver/internal/same_id.h"
#include "solver/internal/same_levels.h"

namespace exo::solver {
namespace {

using exoroute::v1::BookLevel;
using exoroute::v1::Side;

const google::protobuf::RepeatedPtrField<BookLevel>& WalkedSide(
    const exoroute::v1::VenueInput& venue, bool buy) {
  return buy ? venue.book().asks() : venue.book().bids();
}

// Why a book side that failed Build's checks is malformed: its first bad level, the check it
// failed named as a reader can act on it.
absl::Status MalformedLevel(const google::protobuf::RepeatedPtrField<BookLevel>& levels, bool buy) {
  const char* side = buy ? "asks" : "bids";
  int64_t depth = 0;
  for (int i = 0; i < levels.size(); ++i) {
    const int64_t price = levels[i].price(), size = levels[i].size();
    if (price <= 0 || size <= 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("malformed book: ", side, "[", i, "] has price ", price, " size ", size));
    }
    if (price > kMaxUnits || size > kMaxUnits) {
      return absl::FailedPreconditionError(absl::StrCat("malformed book: ", side, "[", i, "] ",
                                                        price > kMaxUnits ? "price " : "size ",
                                                        price > kMaxUnits ? price : size, " is beyond 2^53 units"));
    }
    if (i > 0 && !(buy ? price > levels[i - 1].price() : price < levels[i - 1].price())) {
      return absl::FailedPreconditionError(absl::StrCat("malformed book: ", side, " not strictly ",
                                                        buy ? "ascending" : "descending", " at level ", i));
    }
    if ((depth += size) > kMaxUnits) {
      return absl::FailedPreconditionError(
          absl::StrCat("malformed book: ", side, " deeper than 2^53 units at level ", i));
    }
  }
  return absl::InternalError(absl::StrCat("malformed book: ", side, " failed a check no level fails"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const VenueCurve>> VenueCurve::Build(
    const exoroute::v1::VenueInput& venue, Side side, uint32_t qty_scale) {
  if (venue.lot_size() <= 0) {
    return absl::FailedPreconditionError(absl::StrCat("lot size ", venue.lot_size(), " <= 0"));
  }
  const bool buy = side == exoroute::v1::SIDE_BUY;
  const auto& levels = WalkedSide(venue, buy);
  if (levels.empty()) {
    return absl::FailedPreconditionError(buy ? "no asks in book" : "no bids in book");
  }
  auto c = std::make_shared<VenueCurve>();
  const size_t n_levels = static_cast<size_t>(levels.size());
  // At most one whole-lot run and one straddling lot per level: each array sized for that (an
  // even count of 8-byte values, so every array after them stays 16-byte aligned).
  const size_t most = 2 * n_levels;
  // (The segments then start on a cache line: 16 bytes a level, 48 per two segments before them.)
  static_assert(sizeof(c->levels_[0]) == 16 && sizeof(Segment) == 64 && alignof(Segment) == 16);
  const size_t bytes =
      n_levels * sizeof(c->levels_[0]) + most * (sizeof(double) + sizeof(int64_t) + sizeof(double) + sizeof(Segment));
  c->block_.reset(static_cast<std::byte*>(::operator new(bytes, kBlockAlign)));
  std::byte* at = c->block_.get();
  auto carve = [&at]<class T>(T*& out, size_t count) {
    out = reinterpret_cast<T*>(at);  // (Implicit-lifetime types: created by the stores below.)
    at += count * sizeof(T);
  };
  carve(c->levels_, n_levels);
  carve(c->unit_costs_, most);
  carve(c->ends_, most);
  carve(c->end_costs_, most);
  carve(c->segments_, most);
  c->n_levels_ = n_levels;
  // The levels copied and checked in one pass: positive, within 2^53 units, strictly worse one
  // after another (asks ascending, bids descending), their depth within 2^53 units. Checked
  // without a branch a level, as a few maxima and minima over the levels; a book that fails is
  // read again by MalformedLevel, level by level, to name the first bad level.
  const BookLevel* const* src = levels.data();
  constexpr uint64_t kMax = static_cast<uint64_t>(kMaxUnits);
  // (Unsigned, so that garbage wraps instead of overflowing: whatever it makes, it is flagged.)
  uint64_t range = 0;   // The most of price − 1 and size − 1: below 2^53 when each is in [1, 2^53].
  int64_t step = std::numeric_limits<int64_t>::max();  // The least a price is worse than the last.
  uint64_t depth = 0, deepest = 0;  // (With sizes in range, it passes 2^53 long before it can wrap.)
  const uint64_t worse = buy ? 1 : ~uint64_t{0};  // × (price − last): how much worse, for either side.
  uint64_t last = buy ? 0 : kMax + 1;  // (The first price is worse than this one when in range.)
  for (size_t i = 0; i < n_levels; ++i) {
    const uint64_t price = static_cast<uint64_t>(src[i]->price()), size = static_cast<uint64_t>(src[i]->size());
    range = std::max(range, std::max(price - 1, size - 1));
    step = std::min(step, static_cast<int64_t>((price - last) * worse));
    last = price;
    depth += size;
    deepest = std::max(deepest, depth);
    c->levels_[i] = {static_cast<int64_t>(price), static_cast<int64_t>(size)};
  }
  const bool bad = range >= kMax || step <= 0 || deepest > kMax;
  if (bad) return MalformedLevel(levels, buy);
  // As the config allows them (and a NaN in neither: it would poison every cost).
  if (!(venue.fee_bps() >= -1000 && venue.fee_bps() <= 1000)) {
    return absl::FailedPreconditionError(absl::StrCat("fee_bps ", venue.fee_bps(), " is not within [-1000, 1000]"));
  }
  if (!(venue.impact_bps() >= 0 && venue.impact_bps() <= 1000)) {
    return absl::FailedPreconditionError(absl::StrCat("impact_bps ", venue.impact_bps(), " is not within [0, 1000]"));
  }

  c->venue_ = venue.venue();
  c->symbol_ = venue.book().symbol();
  c->buy_ = buy;
  c->fee_bps_ = venue.fee_bps();
  c->lot_ = venue.lot_size();
  c->impact_bps_ = venue.impact_bps();
  c->qty_scale_ = qty_scale;
  c->fee_ppm_ = FeePpm(venue.fee_bps());
  c->kappa_ = static_cast<double>(c->levels_[0].first) * venue.impact_bps() / 1e4 /
              static_cast<double>(Pow10(qty_scale));

  const double fee = venue.fee_bps() / 10000.0;
  // A price's unit cost: price × (1 + fee) to buy, −price × (1 − fee) to sell (the product with
  // the negated factor is the negated product, bit for bit).
  const double per_price = buy ? 1.0 + fee : -(1.0 - fee);
  auto unit_cost = [per_price](int64_t price) { return static_cast<double>(price) * per_price; };
  const int64_t lot = c->lot_;
  const std::pair<int64_t, int64_t>* const lv = c->levels_;
  Segment* const segs = c->segments_;
  double* const units = c->unit_costs_;
  int64_t* const ends = c->ends_;
  double* const end_costs = c->end_costs_;
  size_t n_segs = 0;
  // The running sums, each segment written once with them: its end, its end cost (the sum of
  // unit cost × quantity over it and every earlier segment, added in segment order) and its
  // notional.
  int64_t cum = 0;
  double cum_cost = 0;
  __int128 cum_notional = 0;
  bool overflow = false;  // (A walk makes at most `most` segments: never set, but never trusted.)
  // One segment, written once. (Two runs at one price never follow each other: a level gives at
  // most one run of whole lots, and the segment before it is the last level's run, at a price the
  // checks above made different, or a lot straddling levels. Inlined at its two calls: as a call
  // of its own, which GCC made it, it cost a build a tenth more instructions.)
  auto push = [&](double unit, int64_t qty, int64_t worst, __int128 notional,
                  bool one_price) __attribute__((always_inline)) {
    cum += qty;
    cum_notional += notional;
    if (n_segs < most) {
      cum_cost += unit * static_cast<double>(qty);
      segs[n_segs] = {.notional = cum_notional, .unit_cost = unit, .quantity = qty, .worst_price = worst,
                      .end = cum, .end_cost = cum_cost, .one_price = one_price};
      units[n_segs] = unit;
      ends[n_segs] = cum;
      end_costs[n_segs] = cum_cost;
      ++n_segs;
    } else {
      overflow = true;
    }
  };
  // Walk the levels lot by lot, jumping over whole lots inside one level; a lot that straddles
  // levels costs their weighted mean, clamped between its first and last level so that rounding
  // can never break convexity. A last partial lot (the book ends inside it) is not a lot.
  size_t i = 0;
  int64_t left_in_level = lv[0].second;
  while (i < n_levels) {
    const int64_t price = lv[i].first;
    if (left_in_level >= lot) {
      int64_t whole = left_in_level / lot;
      push(unit_cost(price), whole * lot, price, static_cast<__int128>(price) * (whole * lot),
           true);
      left_in_level -= whole * lot;
      if (left_in_level == 0 && ++i < n_levels) left_in_level = lv[i].second;
      continue;
    }
    double cost = 0;
    __int128 notional = 0;
    int64_t need = lot;
    double first = unit_cost(price), last = first;
    int64_t worst = price;
    while (need > 0 && i < n_levels) {
      int64_t take = std::min(need, left_in_level);
      worst = lv[i].first;
      double uc = unit_cost(worst);
      cost += uc * static_cast<double>(take);
      notional += static_cast<__int128>(worst) * take;
      last = uc;
      need -= take;
      left_in_level -= take;
      if (left_in_level == 0 && ++i < n_levels) left_in_level = lv[i].second;
    }
    if (need > 0) break;  // The book ended inside this lot.
    push(std::clamp(cost / static_cast<double>(lot), first, last), lot, worst, notional, false);
  }
  if (overflow) {
    return absl::InternalError(absl::StrCat("curve of ", n_levels, " levels walked into more than ", most, " segments"));
  }
  c->n_segments_ = n_segs;
  if (n_segs > 0) c->first_unit_cost_ = segs[0].unit_cost;
  // What a child costs, in price units, must fit int64 with its fee (at most 2^62 × 1.1) and its
  // impact estimate (at most 2^61).
  if (cum_notional > (static_cast<__int128>(1) << 62) * Pow10(qty_scale)) {
    return absl::FailedPreconditionError(
        absl::StrCat("malformed book: ", buy ? "asks" : "bids", " worth more than 2^62 price units"));
  }
  const double all = static_cast<double>(cum);
  if (c->kappa_ > 0 && c->kappa_ * all * all / 2 / static_cast<double>(Pow10(qty_scale)) > 0x1p61) {
    return absl::FailedPreconditionError(absl::StrCat(
        "impact_bps ", venue.impact_bps(), " over the book's depth is beyond 2^61 price units"));
  }
  return std::shared_ptr<const VenueCurve>(std::move(c));
}

bool VenueCurve::MatchesBook(const exoroute::v1::VenueInput& venue, Side side,
                             uint32_t qty_scale) const {
  const bool buy = side == exoroute::v1::SIDE_BUY;
  if (buy != buy_ || venue.lot_size() != lot_ || venue.fee_bps() != fee_bps_ ||
      venue.impact_bps() != impact_bps_ || qty_scale != qty_scale_) {
    return false;
  }
  const auto& levels = WalkedSide(venue, buy);
  const size_t n = n_levels_;
  if (static_cast<size_t>(levels.size()) != n) return false;
  return internal::SameLevels(levels_, levels.data(), n);
}

absl::Status CurveCache::Reader::GetInto(const exoroute::v1::VenueInput& venue, Side side, uint32_t qty_scale,
                                         std::shared_ptr<const VenueCurve>* out) {
  const bool buy = side == exoroute::v1::SIDE_BUY;
  const std::string& id = venue.venue();
  const std::string& symbol = venue.book().symbol();
  auto& by_symbol = cache_.buckets_[buy ? 1 : 0];
  Bucket* bucket = bucket_;
  if (bucket == nullptr || bucket_buy_ != buy || !internal::SameId(*bucket_symbol_, symbol)) {
    auto it = by_symbol.find(symbol);
    bucket = it == by_symbol.end() ? nullptr : &it->second;
    if (bucket != nullptr) {
      bucket_ = bucket;
      bucket_buy_ = buy;
      bucket_symbol_ = &it->first;
    }
  }
  auto before = [&](const std::shared_ptr<const VenueCurve>& c) { return c->venue() < id; };
  auto same_venue = [&](const std::shared_ptr<const VenueCurve>& c) {
    return internal::SameId(c->venue(), id);
  };
  if (bucket != nullptr) {
    std::vector<std::shared_ptr<const VenueCurve>>& curves = bucket->curves;
    size_t k = bucket->next < curves.size() ? bucket->next : 0;  // (The next decision starts over.)
    bool keyed = k < curves.size() && same_venue(curves[k]);
    if (!keyed) {
      k = static_cast<size_t>(std::partition_point(curves.begin(), curves.end(), before) -
                              curves.begin());
      keyed = k < curves.size() && same_venue(curves[k]);
    }
    // The next venues' curves asked for ahead (by the bucket's order: a decision's venues come
    // in it), so that a curve last used many decisions ago has arrived from memory when its turn
    // comes: -15 to -19 % for 64 venues whose curves are not in cache, 1-2 % more when they are
    // (docs/BENCHMARKS.md, fifty-seventh session). The levels two ahead, their curve's
    // parameters (which say where the levels are) three ahead. (Always: whether the curves are
    // in cache is not known here — a desk's one symbol decided once a second has its curves
    // evicted between decisions as surely as one of many symbols.)
    if (k + 3 < curves.size()) curves[k + 3]->PrefetchHead();
    if (k + 2 < curves.size()) curves[k + 2]->PrefetchLevels();
    if (keyed && curves[k]->MatchesBook(venue, side, qty_scale)) {
      bucket->next = k + 1;
      if (out->get() != curves[k].get()) *out = curves[k];
      return absl::OkStatus();
    }
  }
  // Built outside the lock: concurrent decisions do not wait for it.
  lock_.unlock();
  absl::StatusOr<std::shared_ptr<const VenueCurve>> built =
      VenueCurve::Build(venue, side, qty_scale);
  lock_.lock();
  if (!built.ok()) return built.status();
  ++cache_.builds_;
  const auto at = by_symbol.try_emplace(symbol).first;
  Bucket& home = at->second;
  auto it = std::partition_point(home.curves.begin(), home.curves.end(), before);
  if (it != home.curves.end() && same_venue(*it)) {
    *it = *built;
  } else {
    it = home.curves.insert(it, *built);
  }
  home.next = static_cast<size_t>(it - home.curves.begin()) + 1;
  bucket_ = &home;
  bucket_buy_ = buy;
  bucket_symbol_ = &at->first;
  *out = *std::move(built);
  return absl::OkStatus();
}

uint64_t CurveCache::builds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return builds_;
}

}  // namespace exo::solver
