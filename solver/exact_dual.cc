#include "solver/exact_dual.h"

#include "absl/strings/str_cat.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "exo/status_macros.h"
#include "solver/internal/lot_fill.h"
#include "solver/internal/ordered_double.h"

namespace exo::solver {
namespace {

// Relative bracket width below which the remaining breakpoints are stepped over one by one.
constexpr double kBracketTolerance = 1e-12;
constexpr int kMaxRootRounds = 100;
// The quantile step aims this fraction of the undecided quantity past Q, towards the middle:
// a step that lands just short on the near side leaves the far end of the bracket where it
// was; one that overshoots a little moves it. (0.02: the fewest rounds at the tail over the
// property tests' books; 0 has the same median and a longer tail.)
constexpr double kQuantileAim = 0.02;
// The λ a round names to the oracle's Lookahead: where the undecided quantity would reach Q less
// and plus this fraction of itself, under the quantile step's density. (A twelfth: measured on
// the solver's random books against a sixth, a sixteenth, a twenty-fifth and the even spread
// used before — the fewest round trips with at most 18 λ taken; docs/BENCHMARKS.md.)
constexpr double kLookaheadSpread = 1.0 / 12;

}  // namespace

// Where a quantity spread over [lo, hi] with mean `mean` reaches the fraction f of itself,
// under the density of one free parameter that has that mean: linear over [lo, hi] when the
// mean lies in the middle third, else a triangle at the near end (the linear density at the
// third's edge). Only +, -, ×, ÷ and √: the same bits on every IEEE machine.
double SupplyQuantile(double lo, double hi, double mean, double f) {
  const double width = hi - lo;
  const double m = std::clamp((mean - lo) / width, 0.0, 1.0);
  double t;
  if (m <= 1.0 / 3) {
    const double s = 3 * m;  // Density 2(s - t)/s² on [0, s].
    t = s * (1 - std::sqrt(1 - f));
  } else if (m >= 2.0 / 3) {
    const double s = 3 * (1 - m);  // Its mirror image on [1 - s, 1].
    t = 1 - s * (1 - std::sqrt(f));
  } else {
    // Density 1 + β(t - 1/2), mean 1/2 + β/12: F(t) = t + β(t² - t)/2 = f, the stable root.
    const double beta = 12 * (m - 0.5), b = 1 - beta / 2;
    t = 2 * f / (b + std::sqrt(b * b + 2 * beta * f));
  }
  return lo + width * t;
}

void GroupSummary::Add(const GroupSummary& other) {
  capacity += other.capacity;
  min_cost = std::min(min_cost, other.min_cost);
  max_cost = std::max(max_cost, other.max_cost);
  total_cost += other.total_cost;
}

namespace {

// FindDualPrice for an oracle of a known type: a decision searches over its own VenueGroup
// (final), whose calls are then direct and inlined; a cluster's coordinator through DualOracle.
template <class Oracle>
absl::StatusOr<DualPrice> Search(Oracle& oracle, const GroupSummary& group, int64_t quantity,
                                 const SearchOptions& options) {
  const bool quantile = options.step == SearchStep::kQuantile;
  const bool approximate = options.approximate, lookahead = options.lookahead && !quantile;
  DualPrice out;
  if (group.capacity <= quantity) {
    // Everything fits: take all of it. λ is the most expensive marginal cost used.
    out.takes_all = true;
    out.lambda = group.max_cost;
    out.lo = out.hi = group.capacity;
    return out;
  }
  if (options.trajectory) out.trajectory.reserve(24);
  auto evaluate = [&](double lambda) {
    ++out.rounds;
    if (options.trajectory) out.trajectory.push_back(lambda);
    return oracle.Evaluate(lambda);
  };
  // Invariant: S_hi(a) < Q < S_lo(b). Everything with marginal cost in (a, b) is undecided:
  // quantity qb - qa costing cb - ca. Its average marginal cost (the centroid) lies in (a, b)
  // and is exactly λ* when one price level is left; each step discards at least one level.
  double a = internal::NextDown(group.min_cost);
  double b = internal::NextUp(group.max_cost);
  int64_t qa = 0, qb = group.capacity;
  double ca = 0, cb = group.total_cost;
  // Quantile step: the undecided quantity lies in [lo_s, hi_s] (ends at breakpoints when the
  // oracle reports the nearest ones; lo_s == hi_s: one price level left, λ* itself).
  double lo_s = group.min_cost, hi_s = group.max_cost;
  // The last quantile step moved no quantity and the oracle named no breakpoint: the next step
  // is the centroid (λ* itself if one level is left, as for the centroid search).
  bool centroid_next = false;
  bool found = false;
  // λ* is `lambda`, where the answers `s` bracket the quantity.
  auto settle = [&](double lambda, const LocalProblem::Response& s) {
    out.lambda = lambda;
    out.lo = s.lo;
    out.hi = s.hi;
    found = true;
  };
  int slow_steps = 0;  // Steps in a row that did not halve the undecided quantity.
  // The λ answered ahead: the opening, then what each round names to the oracle's Lookahead.
  // (Only a search that looks ahead adds to them: the others read the opening in place.)
  std::vector<double> named_ahead;
  if (lookahead) named_ahead.assign(options.opening.begin(), options.opening.end());
  size_t next_ahead = 0;
  for (int it = 0; it < kMaxRootRounds && !found; ++it) {
    double width = b - a;
    double scale = std::max({1.0, std::fabs(a), std::fabs(b)});
    if (width <= kBracketTolerance * scale) break;
    const bool bisect = slow_steps >= 2;
    double c;
    if (!quantile) {
      c = bisect ? a + width / 2 : (cb - ca) / static_cast<double>(qb - qa);
    } else if (lo_s >= hi_s) {
      c = lo_s;
    } else if (bisect) {
      c = lo_s + (hi_s - lo_s) / 2;
    } else if (centroid_next) {
      c = (cb - ca) / static_cast<double>(qb - qa);
    } else {
      const double f = static_cast<double>(quantity - qa) / static_cast<double>(qb - qa);
      c = SupplyQuantile(lo_s, hi_s, (cb - ca) / static_cast<double>(qb - qa),
                     f < 0.5 ? f + kQuantileAim : f - kQuantileAim);
    }
    const std::span<const double> ahead = lookahead ? std::span<const double>(named_ahead) : options.opening;
    while (next_ahead < ahead.size() && !(ahead[next_ahead] > a && ahead[next_ahead] < b)) ++next_ahead;
    const bool opened = next_ahead < ahead.size();
    if (opened) c = ahead[next_ahead++];
    if (!(c > a && c < b)) c = a + width / 2;
    if (lookahead && !opened) {
      const double undecided_q = static_cast<double>(qb - qa);
      const double f = static_cast<double>(quantity - qa) / undecided_q, mean = (cb - ca) / undecided_q;
      size_t named = 0;
      for (const double at : {f - kLookaheadSpread, f + kLookaheadSpread}) {
        const double l = SupplyQuantile(a, b, mean, std::clamp(at, 0.0, 1.0));
        if (l > a && l < b && l != c && (named == 0 || l != named_ahead.back())) {
          named_ahead.push_back(l);
          ++named;
        }
      }
      oracle.Lookahead(std::span<const double>(named_ahead).last(named));
    }
    const int64_t undecided = qb - qa;
    const bool centroid_step = quantile && centroid_next && !bisect && !opened && lo_s < hi_s;
    EXO_ASSIGN_OR_RETURN(LocalProblem::Response s, evaluate(c));
    bool progress = true;
    bool snapped = false;  // The oracle named the breakpoint where the bracket's new end sits.
    if (s.hi < quantity) {
      progress = s.hi > qa;
      a = c;
      qa = s.hi;
      ca = s.cost_hi;
      // Nothing changes up to the next breakpoint: the undecided quantity starts there.
      if (quantile) {
        const double above = oracle.Nearest().above;
        snapped = std::isfinite(above);
        lo_s = std::max(lo_s, snapped ? above : c);
      }
      oracle.Narrow(/*lower=*/true);
    } else if (s.lo > quantity) {
      progress = s.lo < qb;
      b = c;
      qb = s.lo;
      cb = s.cost_lo;
      if (quantile) {  // The same below: it ends at the breakpoint before c.
        const double below = oracle.Nearest().below;
        snapped = std::isfinite(below);
        hi_s = std::min(hi_s, snapped ? below : c);
      }
      oracle.Narrow(/*lower=*/false);
    } else {
      settle(c, s);
    }
    if (quantile) {
      // A step that moves no quantity still narrows [lo_s, hi_s] to the breakpoints it found.
      // Without them (an oracle that cannot tell) it lay between two levels: the centroid next,
      // and a centroid that moves nothing ends the search as below.
      centroid_next = false;
      if (!found && !progress && !snapped && !opened && !bisect) {
        if (centroid_step && !approximate) break;
        centroid_next = !centroid_step;
        if (centroid_step) slow_steps = 2;
        continue;
      }
      slow_steps = bisect || found || opened ? 0 : (2 * (qb - qa) > undecided ? slow_steps + 1 : 0);
      continue;
    }
    // A centroid that moves no quantity sits a rounding error away from the last level (or,
    // with noisy answers, the noise hid the move: bisect next).
    if (!progress && !bisect && !approximate && !opened) break;
    // (An opening λ is no centroid step: it never sends the search to bisection.)
    slow_steps = bisect || found || opened ? 0 : !progress ? 2 : (2 * (qb - qa) > undecided ? slow_steps + 1 : 0);
  }
  if (!found && approximate) {
    out.lambda = a;
    out.upper = b;
    return out;
  }
  // Step exactly over the breakpoints left in (a, b): the first one whose S_hi reaches Q is λ*.
  // (kStepAndBisect: each step is followed by a bisection of (a, b) by count of doubles. Since
  // S_lo of a double is S_hi of the one before, the bracket S_hi(a) < Q < S_lo(b) cannot close
  // to adjacent doubles: the search finds λ* before.)
  while (!found) {
    EXO_ASSIGN_OR_RETURN(double m, oracle.NextBreakpoint(a));
    if (!std::isfinite(m)) return absl::InternalError("dual search ran past the last breakpoint");
    EXO_ASSIGN_OR_RETURN(LocalProblem::Response s, evaluate(m));
    if (s.hi >= quantity) {
      settle(m, s);
    } else if (!(m > a && m < b)) {
      // Short of Q at or beyond b, where S_lo(b) > Q: no supply answers so (a cluster's sums
      // from a faulty node can). Going on would leave the bracket inverted.
      return absl::InternalError(absl::StrCat("dual search: the supply is short of ", quantity, " at λ ", m,
                                              " past the bracket's upper end ", b, ": the answers are no supply"));
    } else {
      a = m;
      oracle.Narrow(/*lower=*/true);
    }
    if (found || options.finish != SearchFinish::kStepAndBisect) continue;
    const int64_t ka = internal::OrderedKey(a), kb = internal::OrderedKey(b);
    if (internal::DoublesApart(ka, kb) <= 1) continue;
    const double mid = internal::FromOrderedKey(internal::MidKey(ka, kb));
    EXO_ASSIGN_OR_RETURN(s, evaluate(mid));
    if (s.hi < quantity) {
      a = mid;
      oracle.Narrow(/*lower=*/true);
    } else if (s.lo > quantity) {
      b = mid;
      oracle.Narrow(/*lower=*/false);
    } else {
      settle(mid, s);
    }
  }
  out.upper = b;
  return out;
}

}  // namespace

absl::StatusOr<DualPrice> FindDualPrice(DualOracle& oracle, const GroupSummary& group,
                                        int64_t quantity, const SearchOptions& options) {
  return Search(oracle, group, quantity, options);
}

void VenueGroup::Reset(const std::vector<LocalProblem>& problems) {
  problems_ = &problems;
  lanes_.resize(problems.size());
  active_.resize(problems.size());
  evaluated_ = false;
  last_lambda_ = 0;
  nearest_ = {};
  fixed_q_ = 0;
  fixed_cost_ = 0;
  GroupSummary& g = summary_;
  g = {};
  g.min_cost = std::numeric_limits<double>::infinity();
  g.max_cost = -g.min_cost;
  for (size_t i = 0; i < problems.size(); ++i) {
    const LocalProblem& p = problems[i];
    Lane& l = lanes_[i];
    l.problem = &p;
    l.qa = 0;
    l.ca = 0;
    l.window = {};
    l.last = {};
    l.qb = p.capacity();
    l.cb = p.total_cost();
    active_[i] = static_cast<uint32_t>(i);
    g.capacity += l.qb;
    g.min_cost = std::min(g.min_cost, p.min_unit_cost());
    g.max_cost = std::max(g.max_cost, p.max_unit_cost());
    g.total_cost += l.cb;
  }
}

GroupSummary VenueGroup::Summary() const { return summary_; }

LocalProblem::Nearest VenueGroup::Nearest() const { return evaluated_ ? nearest_ : LocalProblem::Nearest{}; }

absl::StatusOr<LocalProblem::Response> VenueGroup::Evaluate(double lambda) {
  // Frozen venues from their bracket, active ones asked (in venue order: determinism), summed
  // field by field.
  int64_t lo = fixed_q_, hi = fixed_q_;
  double cost_lo = fixed_cost_, cost_hi = fixed_cost_;
  LocalProblem::Nearest nearest;
  auto take = [&](Lane& l, const LocalProblem::Response& r) {
    // (Found here while the venue's segments are at hand: a pass of its own costs more.)
    const LocalProblem::Nearest n = l.problem->NearestTo(r, l.window);
    nearest.below = std::max(nearest.below, n.below);
    nearest.above = std::min(nearest.above, n.above);
    l.last.lo = r.lo;
    l.last.hi = r.hi;
    l.last.cost_lo = r.cost_lo;
    l.last.cost_hi = r.cost_hi;
    lo += r.lo;
    hi += r.hi;
    cost_lo += r.cost_lo;
    cost_hi += r.cost_hi;
  };
  for (const uint32_t i : active_) {
    Lane& l = lanes_[i];
    // Two branches, each summing its own answer: the inline search's answer stays in registers.
    // Merged into one, it went through memory as the call's does, and GCC summed pairs of its
    // 8-byte fields with 16-byte loads that cannot be forwarded from 8-byte stores — a
    // store-forwarding stall per venue per round, over half of Evaluate's samples in `perf`.
    if (l.problem->has_impact()) {
      take(l, l.problem->At(lambda));
    } else {
      take(l, l.problem->At(lambda, &l.window));
    }
  }
  nearest_ = nearest;
  evaluated_ = true;
  last_lambda_ = lambda;
  return LocalProblem::Response{lo, hi, cost_lo, cost_hi};
}

void VenueGroup::Narrow(bool lower) {
  if (!evaluated_) return;
  size_t kept = 0;
  for (const uint32_t i : active_) {
    Lane& l = lanes_[i];
    if (lower) {
      l.qa = l.last.hi;
      l.ca = l.last.cost_hi;
      l.window.from = l.window.at;
    } else {
      l.qb = l.last.lo;
      l.cb = l.last.cost_lo;
      l.window.to = l.window.at;
    }
    if (l.qa == l.qb) {
      fixed_q_ += l.qa;
      fixed_cost_ += l.ca;
    } else {
      active_[kept++] = i;
    }
  }
  active_.resize(kept);
  evaluated_ = false;
}

absl::StatusOr<double> VenueGroup::NextBreakpoint(double lambda) {
  double m = std::numeric_limits<double>::infinity();
  for (const uint32_t i : active_) m = std::min(m, (*problems_)[i].NextBreakpoint(lambda));
  return m;
}

uint32_t VenueGroup::TiedAtLast() const {
  uint32_t tied = 0;  // A frozen venue answers the same at both ends of the bracket: no tie.
  if (evaluated_) {
    for (const uint32_t i : active_) tied += lanes_[i].last.hi > lanes_[i].last.lo ? 1 : 0;
  }
  return tied;
}

LocalProblem::Response VenueGroup::At(size_t i, double lambda) const {
  const Lane& l = lanes_[i];
  if (l.qa == l.qb) return {l.qa, l.qa, l.ca, l.ca};
  if (evaluated_ && lambda == last_lambda_) return l.last;  // Asked of it in the last round.
  LocalProblem::Window w = l.window;
  return l.problem->At(lambda, &w);
}

std::vector<int64_t> PlaceAtDualPrice(const std::vector<LocalProblem>& problems, double lambda,
                                      int64_t need, int64_t tied_total, int64_t spare_cap,
                                      std::vector<int64_t>* spare_lots, bool below) {
  std::vector<LocalProblem::Response> at_lambda;
  at_lambda.reserve(problems.size());
  for (const LocalProblem& p : problems) at_lambda.push_back(p.At(lambda));
  return PlaceAtDualPrice(problems, at_lambda, need, tied_total, spare_cap, spare_lots, below);
}

std::vector<int64_t> PlaceAtDualPrice(const std::vector<LocalProblem>& problems,
                                      const std::vector<LocalProblem::Response>& at_lambda,
                                      int64_t need, int64_t tied_total, int64_t spare_cap,
                                      std::vector<int64_t>* spare_lots, bool below) {
  std::vector<int64_t> quantities;
  PlaceAtDualPriceInto(problems, at_lambda, need, tied_total, spare_cap, spare_lots, &quantities, below);
  return quantities;
}

void PlaceAtDualPriceInto(const std::vector<LocalProblem>& problems,
                          const std::vector<LocalProblem::Response>& at_lambda, int64_t need,
                          int64_t tied_total, int64_t spare_cap, std::vector<int64_t>* spare_lots,
                          std::vector<int64_t>* out, bool below) {
  std::vector<int64_t>& quantities = *out;
  quantities.resize(problems.size());
  spare_lots->assign(problems.size(), 0);
  for (size_t i = 0; i < problems.size(); ++i) {
    LocalProblem::Response r = at_lambda[i];
    if (below) r = {0, r.lo, 0, r.cost_lo};  // The pool is what lies below λ.
    const int64_t tied = r.hi - r.lo, lot = problems[i].lot_size();
    int64_t share = 0;
    if (need > 0 && tied > 0 && tied_total > 0) {  // (An untied venue's share is 0 anyway.)
      share = static_cast<int64_t>(static_cast<__int128>(need) * tied / tied_total) / lot * lot;
    }
    quantities[i] = r.lo + share;
    if (tied > 0) (*spare_lots)[i] = std::min((tied - share) / lot, spare_cap);  // (Else 0: assigned.)
  }
}

namespace {

// One pass: each venue in order takes a lot if it has one spare and the lot fits what is left.
// Returns whether any did.
bool AssignOnePass(const std::vector<SpareVenue>& spare, int64_t remainder, std::vector<int64_t>& lots,
                   int64_t& given) {
  bool progress = false;
  for (size_t i = 0; i < spare.size() && given < remainder; ++i) {
    if (lots[i] < spare[i].spare_lots && spare[i].lot >= 1 && remainder - given >= spare[i].lot) {
      ++lots[i];
      given += spare[i].lot;
      progress = true;
    }
  }
  return progress;
}

}  // namespace

std::vector<int64_t> AssignRemainderPassByPass(const std::vector<SpareVenue>& spare, int64_t remainder) {
  std::vector<int64_t> lots(spare.size(), 0);
  int64_t given = 0;
  while (given < remainder && AssignOnePass(spare, remainder, lots, given)) {
  }
  return lots;
}

std::vector<int64_t> AssignRemainder(const std::vector<SpareVenue>& spare, int64_t remainder) {
  std::vector<int64_t> lots(spare.size(), 0);
  int64_t given = 0;
  while (given < remainder) {
    // The venues that can still take a lot: one spare, and a lot that fits what is left (which
    // only shrinks: a venue whose lot stops fitting never takes one again).
    const int64_t left = remainder - given;
    __int128 pass = 0;  // What a pass gives when every one of them takes a lot.
    int64_t passes = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i < spare.size(); ++i) {
      if (lots[i] >= spare[i].spare_lots || spare[i].lot > left || spare[i].lot < 1) continue;
      pass += spare[i].lot;
      passes = std::min(passes, spare[i].spare_lots - lots[i]);
    }
    if (pass == 0) break;
    if (pass <= left) {
      // Every pass until one of them runs out of spare lots, or what is left no longer holds
      // a whole pass, gives each of them one lot: those passes at once.
      passes = std::min<int64_t>(passes, static_cast<int64_t>(left / pass));
      for (size_t i = 0; i < spare.size(); ++i) {
        if (lots[i] >= spare[i].spare_lots || spare[i].lot > left || spare[i].lot < 1) continue;
        lots[i] += passes;
        given += passes * spare[i].lot;
      }
      continue;
    }
    // Less than a whole pass is left: one pass as it goes, in which some venue's lot stops
    // fitting for good.
    if (!AssignOnePass(spare, remainder, lots, given)) break;
  }
  return lots;
}

std::vector<int64_t> PlaceAtBracketingPrice(const std::vector<LocalProblem>& problems,
                                            const std::vector<LocalProblem::Response>& at_lambda,
                                            int64_t quantity, int64_t lo, int64_t hi) {
  std::vector<int64_t> quantities;
  PlaceAtBracketingPriceInto(problems, at_lambda, quantity, lo, hi, &quantities);
  return quantities;
}

void PlaceAtBracketingPriceInto(const std::vector<LocalProblem>& problems,
                                const std::vector<LocalProblem::Response>& at_lambda, int64_t quantity,
                                int64_t lo, int64_t hi, std::vector<int64_t>* out) {
  // Below λ every venue takes its `lo`; the quantity tied at λ is split by one fraction.
  const int64_t need = quantity - lo, tied_total = hi - lo;
  thread_local std::vector<int64_t> spare_lots;
  std::vector<int64_t>& quantities = *out;
  PlaceAtDualPriceInto(problems, at_lambda, need, tied_total, need, &spare_lots, &quantities);
  int64_t placed = 0;
  for (int64_t q : quantities) placed += q;
  if (placed < quantity) {
    // In venue order, which is all AssignRemainder needs of the names here.
    std::vector<SpareVenue> spare(problems.size());
    for (size_t i = 0; i < problems.size(); ++i) {
      spare[i].lot = problems[i].lot_size();
      spare[i].spare_lots = spare_lots[i];
    }
    std::vector<int64_t> extra = AssignRemainder(spare, quantity - placed);
    for (size_t i = 0; i < problems.size(); ++i) {
      quantities[i] += extra[i] * problems[i].lot_size();
      placed += extra[i] * problems[i].lot_size();
    }
  }
  // With mixed lot sizes the tied venues may not be able to place the last few units exactly:
  // take them one lot at a time from the cheapest next lot that fits (ties by venue id), so a
  // coarse-lot venue never leaves a shortfall that a finer-lot venue could fill.
  if (placed < quantity) internal::FillCheapestLots(problems, quantity, quantities);
}

DualSolution SolveExactDual(const std::vector<LocalProblem>& problems, int64_t quantity,
                            std::optional<double> opening, SearchStep step, SearchFinish finish) {
  DualSolution out;
  SolveExactDualInto(problems, quantity, opening, step, finish, &out);
  return out;
}

void SolveExactDualInto(const std::vector<LocalProblem>& problems, int64_t quantity,
                        std::optional<double> opening, SearchStep step, SearchFinish finish,
                        DualSolution* solution) {
  DualSolution& out = *solution;
  out.quantities.clear();
  out.at_lambda.clear();
  out.segment_near.clear();
  out.lambda = 0;
  out.rounds = 0;
  if (problems.empty()) return;
  thread_local VenueGroup venues;  // (Its lanes kept from one decision to the next.)
  venues.Reset(problems);
  // A local group never fails: its answers are computed here.
  SearchOptions options;
  options.step = step;
  options.finish = finish;
  options.trajectory = false;
  if (opening) options.opening = std::span<const double>(&*opening, 1);
  DualPrice price = *Search(venues, venues.Summary(), quantity, options);
  out.lambda = price.lambda;
  out.rounds = price.rounds;
  if (price.takes_all) {
    out.quantities.reserve(problems.size());
    for (const LocalProblem& p : problems) out.quantities.push_back(p.capacity());
    return;
  }
  // Every venue's response at λ*: frozen venues from their bracket, the others asked once more.
  out.at_lambda.reserve(problems.size());
  out.segment_near.reserve(problems.size());
  for (size_t i = 0; i < problems.size(); ++i) {
    out.at_lambda.push_back(venues.At(i, price.lambda));
    out.segment_near.push_back(venues.SegmentNear(i));
  }
  PlaceAtBracketingPriceInto(problems, out.at_lambda, quantity, price.lo, price.hi, &out.quantities);
}

}  // namespace exo::solver
