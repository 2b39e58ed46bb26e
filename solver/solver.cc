#include "solver/solver.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "exo/fixed_point.h"
#include "exo/status_macros.h"
#include "solver/admm.h"
#include "solver/exact_dual.h"
#include "solver/internal/same_id.h"
#include "solver/local_problem.h"

namespace exo::solver {
namespace {

using exoroute::v1::Allocation;
using exoroute::v1::Decision;
using exoroute::v1::SolveInput;

// A band's width: at most 10000 basis points (the whole price). (The check inline, the message
// not: every decision checks four of these.)
[[gnu::noinline, gnu::cold]] absl::Status BandBpsError(uint32_t bps, const char* field) {
  return absl::InvalidArgumentError(absl::StrCat("solve_input.", field, ": must be <= 10000, got ", bps));
}
inline absl::Status CheckBandBps(uint32_t bps, const char* field) {
  return bps <= 10000 ? absl::OkStatus() : BandBpsError(bps, field);
}

// A limit fixed outside the decision: 0 (none) or a price within 2^53 units.
[[gnu::noinline, gnu::cold]] absl::Status GivenLimitError(int64_t limit, const char* field) {
  return absl::InvalidArgumentError(
      absl::StrCat("solve_input.", field, ": must be within 0..2^53 price units, got ", limit));
}
inline absl::Status CheckGivenLimit(int64_t limit, const char* field) {
  return limit >= 0 && limit <= kMaxUnits ? absl::OkStatus() : GivenLimitError(limit, field);
}

absl::Status ValidateInput(const SolveInput& in) {
  if (in.side() != exoroute::v1::SIDE_BUY && in.side() != exoroute::v1::SIDE_SELL) {
    return absl::InvalidArgumentError("solve_input.side: must be BUY or SELL");
  }
  if (in.quantity() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("solve_input.quantity: must be > 0, got ", in.quantity()));
  }
  // (A node's share at a fixed dual price searches nothing: its quantity only bounds the share,
  // and cluster nodes record it as int64 max / 4.)
  if (in.quantity() > kMaxUnits && !in.has_fixed_dual()) {
    return absl::InvalidArgumentError(
        absl::StrCat("solve_input.quantity: must be <= ", kMaxUnits, " (2^53 units), got ", in.quantity()));
  }
  if (in.has_limit_price() && in.limit_price() > kMaxUnits) {
    return absl::InvalidArgumentError(
        absl::StrCat("solve_input.limit_price: must be <= ", kMaxUnits, " (2^53 units), got ", in.limit_price()));
  }
  // (Each venue's depth is at most 2^53: summed over 1024 venues it stays within int64.)
  if (in.venues_size() > kMaxVenues) {
    return absl::InvalidArgumentError(
        absl::StrCat("solve_input.venues: at most ", kMaxVenues, ", got ", in.venues_size()));
  }
  for (int i = 0; i < in.venues_size(); ++i) {
    if (in.venues(i).min_quantity() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("solve_input.venues[", i, "].min_quantity: must be >= 0"));
    }
  }
  if (in.has_fixed_dual()) {
    const auto& f = in.fixed_dual();
    if (!std::isfinite(f.lambda()) || f.tie_need() < 0 || f.tie_total() < 0 ||
        f.tie_need() > f.tie_total()) {
      return absl::InvalidArgumentError(
          "solve_input.fixed_dual: lambda must be finite and 0 <= tie_need <= tie_total");
    }
    for (const auto& t : f.remainder()) {
      if (t.lots() < 0) return absl::InvalidArgumentError("solve_input.fixed_dual.remainder: lots < 0");
    }
  }
  EXO_RETURN_IF_ERROR(CheckBandBps(in.price_band_bps(), "price_band_bps"));
  EXO_RETURN_IF_ERROR(CheckGivenLimit(in.band_limit(), "band_limit"));
  if (in.band_limit() > 0 && in.price_band_bps() > 0) {
    return absl::InvalidArgumentError("solve_input.band_limit: not with price_band_bps (one band per decision)");
  }
  EXO_RETURN_IF_ERROR(CheckBandBps(in.arrival_band_bps(), "arrival_band_bps"));
  EXO_RETURN_IF_ERROR(CheckGivenLimit(in.arrival_limit(), "arrival_limit"));
  if (in.arrival_band_bps() > 0 && (in.band_limit() > 0 || in.arrival_limit() > 0 || in.has_fixed_dual())) {
    return absl::InvalidArgumentError(
        "solve_input.arrival_band_bps: not with band_limit, arrival_limit or fixed_dual (a cluster route's arrival "
        "limit is fixed by its coordinator)");
  }
  if (in.has_opening_lambda() && !std::isfinite(in.opening_lambda())) {
    return absl::InvalidArgumentError("solve_input.opening_lambda: must be finite");
  }
  if (!exoroute::v1::DualSearch_IsValid(in.dual_search())) {
    return absl::InvalidArgumentError(
        absl::StrCat("solve_input.dual_search: unknown value ", in.dual_search()));
  }
  if (!exoroute::v1::DualFinish_IsValid(in.dual_finish())) {
    return absl::InvalidArgumentError(
        absl::StrCat("solve_input.dual_finish: unknown value ", in.dual_finish()));
  }

  if (!exoroute::v1::MidRule_IsValid(in.mid_rule())) {
    return absl::InvalidArgumentError(absl::StrCat("solve_input.mid_rule: unknown value ", in.mid_rule()));
  }
  if (!exoroute::v1::ReasonText_IsValid(in.reason_text())) {
    return absl::InvalidArgumentError(absl::StrCat("solve_input.reason_text: unknown value ", in.reason_text()));
  }
  if (!exoroute::v1::AdmmVariant_IsValid(in.admm_variant())) {
    return absl::InvalidArgumentError(
        absl::StrCat("solve_input.admm_variant: unknown value ", in.admm_variant()));
  }
  if (in.instrument().qty_scale() > 12 || in.instrument().price_scale() > 12) {
    return absl::InvalidArgumentError("solve_input.instrument: scales must be <= 12");
  }
  for (int i = 1; i < in.venues_size(); ++i) {
    if (!internal::IdBefore(in.venues(i - 1).venue(), in.venues(i).venue())) {
      return absl::InvalidArgumentError(
          absl::StrCat("solve_input.venues: not sorted by unique venue id at index ", i));
    }
  }
  return absl::OkStatus();
}

// A cluster node's share: its venues at the coordinator's λ, the tie split by the broadcast
// fraction, plus the remainder lots the coordinator gave them.
DualSolution AllocateAtFixedDual(const std::vector<LocalProblem>& problems,
                                 const exoroute::v1::FixedDual& fixed) {
  DualSolution sol;
  sol.lambda = fixed.lambda();
  std::vector<int64_t> spare;
  sol.quantities = PlaceAtDualPrice(problems, fixed.lambda(), fixed.tie_need(), fixed.tie_total(),
                                    0, &spare, fixed.pool() == exoroute::v1::TIE_POOL_BELOW_LAMBDA);
  for (const exoroute::v1::TieLots& t : fixed.remainder()) {
    for (size_t i = 0; i < problems.size(); ++i) {
      if (problems[i].venue() != t.venue()) continue;
      sol.quantities[i] = std::min(sol.quantities[i] + t.lots() * problems[i].lot_size(),
                                   problems[i].capacity());
    }
  }
  return sol;
}

// Weak duality: for any λ, Σ_i min_x (f_i(x) - λx) + λ·X bounds the cost of placing X. (A
// function of its own: inlined into SolveInto the sum lived in memory, a store and a load per
// venue on its one dependency chain.)
[[gnu::noinline]] double LagrangianBound(const std::vector<LocalProblem>& problems, const DualSolution& sol, int64_t placed) {
  double bound = sol.lambda * static_cast<double>(placed);
  for (size_t i = 0; i < problems.size(); ++i) {
    const LocalProblem::Response r = sol.at_lambda.empty() ? problems[i].At(sol.lambda) : sol.at_lambda[i];
    bound += r.cost_lo - sol.lambda * static_cast<double>(r.lo);
  }
  return bound;
}

}  // namespace

size_t VenueLimits::Smallest(const std::vector<int64_t>& shares, const std::vector<int64_t>& min_quantity,
                             bool below_min) {
  size_t pick = shares.size();
  for (size_t i = 0; i < shares.size(); ++i) {
    const int64_t x = shares[i];
    if (x <= 0 || (below_min && x >= min_quantity[i])) continue;
    if (pick == shares.size() || x <= shares[pick]) pick = i;  // <=: the higher venue id goes.
  }
  return pick;
}

size_t VenueLimits::ToDrop(const std::vector<int64_t>& shares, const std::vector<int64_t>& min_quantity,
                           uint32_t max_venues, const ReasonFormat& words, std::string* why) {
  if (size_t i = Smallest(shares, min_quantity, /*below_min=*/true); i < shares.size()) {
    *why = BelowMinReason(shares[i], min_quantity[i], words);
    return i;
  }
  const auto used = static_cast<size_t>(std::count_if(shares.begin(), shares.end(), [](int64_t x) { return x > 0; }));
  if (max_venues == 0 || used <= max_venues) return shares.size();
  *why = MaxVenuesReason(max_venues, words);
  return Smallest(shares, min_quantity, /*below_min=*/false);
}

std::string VenueLimits::BelowMinReason(int64_t share, int64_t min_quantity, const ReasonFormat& words) {
  return absl::StrCat("share ", words.Qty(share), " below the venue's minimum child size ", words.Qty(min_quantity));
}

std::string VenueLimits::MaxVenuesReason(uint32_t max_venues, const ReasonFormat& words) {
  return absl::StrCat("the order allows at most ", words.Count(max_venues, "venue"), "; this one had the smallest share");
}

std::vector<LocalProblem> BuildLocalProblems(const SolveInput& in,
                                             std::map<std::string, std::string>* excluded,
                                             CurveCache* curves) {
  std::vector<LocalProblem> problems;
  BuildLocalProblemsInto(in, excluded, curves, &problems);
  return problems;
}

namespace {

void Quote(int64_t bid, int64_t ask, Quotes* q) {
  q->best_bid = std::max(q->best_bid, bid);
  if (ask != 0 && (q->best_ask == 0 || ask < q->best_ask)) q->best_ask = ask;
}

// Every venue of `in` that can take part under `limit`, into `out` (the others to `excluded`).
// With `market`, the market's best bid and ask are added up there too (MarketQuotes, without
// reading again what the build has read: a built venue is quotable but for one check).
void BuildUnderLimit(const SolveInput& in, std::optional<int64_t> limit,
                     std::map<std::string, std::string>* excluded, CurveCache* curves,
                     std::vector<LocalProblem>* out, Quotes* market = nullptr) {
  std::vector<LocalProblem>& problems = *out;
  std::optional<CurveCache::Reader> reader;
  if (curves != nullptr) reader.emplace(*curves);
  const ReasonFormat words(in);
  size_t built = 0;
  for (const auto& v : in.venues()) {
    if (built == problems.size()) problems.emplace_back();
    absl::Status s = LocalProblem::BuildInto(v, in.side(), limit, in.decision_time_ns(), in.instrument().qty_scale(),
                                             words, reader ? &*reader : nullptr, &problems[built]);
    if (s.ok()) {
      const LocalProblem& p = problems[built];
      if (market != nullptr && p.quotable()) Quote(p.best_bid(), p.best_ask(), market);
      ++built;
      continue;
    }
    if (market != nullptr && LocalProblem::Quotable(v, in.decision_time_ns())) {
      const auto& book = v.book();
      Quote(book.bids().empty() ? 0 : book.bids(0).price(), book.asks().empty() ? 0 : book.asks(0).price(), market);
    }
    if (excluded != nullptr) (*excluded)[v.venue()] = std::string(s.message());
  }
  problems.erase(problems.begin() + static_cast<long>(built), problems.end());
}

// The price band's limit (SolveInput.price_band_bps) over `problems`, the venues usable under
// the order's own `limit`: their best price on the order's side ± the band, rounded inwards,
// or `limit` when that is tighter. nullopt without a band or without a usable venue.
std::optional<int64_t> BandLimit(const SolveInput& in, const std::vector<LocalProblem>& problems,
                                 std::optional<int64_t> limit) {
  if (in.price_band_bps() == 0) return std::nullopt;
  const bool buy = in.side() == exoroute::v1::SIDE_BUY;
  const int64_t best = BestPrice(problems, buy);
  if (best == 0) return std::nullopt;
  return PriceBandLimit(best, in.price_band_bps(), buy, limit);
}

}  // namespace

int64_t TighterLimit(int64_t price, std::optional<int64_t> limit, bool buy) {
  if (!limit) return price;
  return buy ? std::min(price, *limit) : std::max(price, *limit);
}

int64_t BestPrice(const std::vector<LocalProblem>& problems, bool buy) {
  int64_t best = 0;
  for (const LocalProblem& p : problems) {
    const int64_t price = buy ? p.best_ask() : p.best_bid();
    if (price > 0 && (best == 0 || (buy ? price < best : price > best))) best = price;
  }
  return best;
}

int64_t PriceBandLimit(int64_t best, uint32_t band_bps, bool buy, std::optional<int64_t> limit) {
  const __int128 band = band_bps;
  const __int128 scaled = static_cast<__int128>(best) * (buy ? 10000 + band : 10000 - band);
  return TighterLimit(static_cast<int64_t>(buy ? scaled / 10000 : (scaled + 9999) / 10000), limit, buy);
}

namespace {

std::optional<int64_t> Mid(const Quotes& q) {
  if (q.best_bid == 0 || q.best_ask == 0) return std::nullopt;
  return MulDivRound(static_cast<__int128>(q.best_bid) + q.best_ask, 1, 2);
}

}  // namespace

std::optional<int64_t> MidPrice(const std::vector<LocalProblem>& problems) {
  Quotes q;
  for (const LocalProblem& p : problems) Quote(p.best_bid(), p.best_ask(), &q);
  return Mid(q);
}

Quotes MarketQuotes(const SolveInput& in) {
  Quotes q;
  for (const auto& v : in.venues()) {
    if (!LocalProblem::Quotable(v, in.decision_time_ns())) continue;
    const auto& book = v.book();
    Quote(book.bids().empty() ? 0 : book.bids(0).price(), book.asks().empty() ? 0 : book.asks(0).price(), &q);
  }
  return q;
}

std::optional<int64_t> DecisionMid(const SolveInput& in, const Quotes& market, const std::vector<LocalProblem>& usable) {
  return in.mid_rule() == exoroute::v1::MID_RULE_MARKET ? Mid(market) : MidPrice(usable);
}

void BuildLocalProblemsInto(const SolveInput& in, std::map<std::string, std::string>* excluded,
                            CurveCache* curves, std::vector<LocalProblem>* out, int64_t* band_limit,
                            int64_t* arrival_limit, Quotes* market) {
  Quotes quotes;
  if (market == nullptr) market = &quotes;
  *market = {};
  std::optional<int64_t> limit;
  if (in.has_limit_price()) limit = in.limit_price();
  if (band_limit != nullptr) *band_limit = 0;
  if (arrival_limit != nullptr) *arrival_limit = 0;
  if (in.arrival_limit() > 0) {  // Fixed outside the decision: one more limit.
    limit = TighterLimit(in.arrival_limit(), limit, in.side() == exoroute::v1::SIDE_BUY);
    if (arrival_limit != nullptr) *arrival_limit = *limit;
  }
  if (in.band_limit() > 0) {  // A band fixed outside the decision: one build, cut there.
    const int64_t given = TighterLimit(in.band_limit(), limit, in.side() == exoroute::v1::SIDE_BUY);
    if (band_limit != nullptr) *band_limit = given;
    BuildUnderLimit(in, given, excluded, curves, out, market);
    return;
  }
  BuildUnderLimit(in, limit, excluded, curves, out, market);
  // With an arrival band to fix, the venues are built again under it, from the decision's mid
  // (the market's; under the older rule, over the usable venues only, so fixed only once one
  // is usable); without a two-sided market there is nothing to fix it from, and nothing is
  // walked unprotected.
  const bool market_rule = in.mid_rule() == exoroute::v1::MID_RULE_MARKET;
  if (in.arrival_band_bps() > 0 && (market_rule || !out->empty())) {
    const std::optional<int64_t> mid = DecisionMid(in, *market, *out);
    if (!mid.has_value()) {
      if (excluded != nullptr) {
        for (const LocalProblem& p : *out) {
          (*excluded)[p.venue()] = market_rule ? "arrival band: no two-sided market to fix the arrival mid from"
                                          : "arrival band: no two-sided market over the usable venues to fix the arrival mid from";
        }
      }
      out->clear();
      return;
    }
    limit = PriceBandLimit(*mid, in.arrival_band_bps(), in.side() == exoroute::v1::SIDE_BUY, limit);
    if (arrival_limit != nullptr) *arrival_limit = *limit;
    if (out->empty()) return;  // Nothing usable under the order's limit: none under a tighter one.
    if (excluded != nullptr) excluded->clear();
    BuildUnderLimit(in, limit, excluded, curves, out);
  }
  // With a price band the venues are built again under it, from the best price of the usable ones.
  if (const std::optional<int64_t> band = BandLimit(in, *out, limit); band.has_value()) {
    if (band_limit != nullptr) *band_limit = *band;
    if (excluded != nullptr) excluded->clear();
    BuildUnderLimit(in, band, excluded, curves, out);
  }
}

absl::StatusOr<Decision> Solve(const SolveInput& in, CurveCache* curves, double* dual_price) {
  Decision d;
  if (absl::Status s = SolveInto(in, &d, curves, dual_price); !s.ok()) return s;
  return d;
}

absl::Status SolveInto(const SolveInput& in, Decision* out, CurveCache* curves, double* dual_price) {
  if (auto s = ValidateInput(in); !s.ok()) return s;
  Decision& d = *out;
  // Everything cleared but the allocation messages, which are rewritten in place below (every
  // field of each; the ones left over removed): a venue's id is then copied only when another
  // venue held that place in the last decision.
  // (The stats message too: Clear would delete it and the next line make a new one.)
  google::protobuf::RepeatedPtrField<Allocation> kept;
  kept.Swap(d.mutable_allocations());
  exoroute::v1::SolverStats* kept_stats = d.has_stats() ? d.release_stats() : nullptr;
  d.Clear();
  d.mutable_allocations()->Swap(&kept);
  if (kept_stats != nullptr) {
    kept_stats->Clear();
    d.set_allocated_stats(kept_stats);
  }

  std::map<std::string, std::string> excluded;  // venue -> reason (sorted by venue id)
  thread_local std::vector<LocalProblem> problems;
  int64_t band_limit = 0, arrival_limit = 0;
  Quotes market;
  BuildLocalProblemsInto(in, &excluded, curves, &problems, &band_limit, &arrival_limit, &market);
  thread_local std::vector<int64_t> min_quantity;
  min_quantity.clear();
  bool venue_limits = in.max_venues() > 0;  // Whether any limit no sum enforces is there to keep.
  for (const LocalProblem& p : problems) {
    min_quantity.push_back(p.min_quantity());
    venue_limits |= p.min_quantity() > 0;
  }
  // (Under the older rule, over the venues usable under the limits, before any is dropped below.)
  const std::optional<int64_t> mid = DecisionMid(in, market, problems);

  auto* stats = d.mutable_stats();
  const bool admm = in.method() == exoroute::v1::SOLVER_METHOD_ADMM;
  stats->set_method(in.has_fixed_dual() ? exoroute::v1::SOLVER_METHOD_CLUSTER_EXACT
                    : admm              ? exoroute::v1::SOLVER_METHOD_ADMM
                                        : exoroute::v1::SOLVER_METHOD_EXACT);
  stats->set_venues_considered(static_cast<uint32_t>(problems.size()));
  stats->set_price_band_limit(band_limit);
  stats->set_arrival_limit(arrival_limit);
  AdmmOptions admm_options;
  if (in.admm_variant() == exoroute::v1::ADMM_VARIANT_BALANCED) admm_options.variant = AdmmVariant::kBalanced;
  if (in.admm_variant() == exoroute::v1::ADMM_VARIANT_BALANCED_AT_PRICE) {
    admm_options.variant = AdmmVariant::kBalancedAtPrice;
  }
  thread_local DualSolution sol;  // (Its vectors' storage kept from one decision to the next.)
  uint32_t rounds = 0;
  if (in.has_fixed_dual()) {
    sol = AllocateAtFixedDual(problems, in.fixed_dual());
    rounds = in.fixed_dual().route().rounds();
  }
  // Minimum child sizes and the order's venue limit are not convex: solve, drop the offending
  // venue with the smallest share (ties: the higher venue id goes), re-solve. (A cluster
  // node's share is fixed by the coordinator's λ: the coordinator keeps these limits across
  // the nodes and tells each node which of its venues to leave out.)
  while (!in.has_fixed_dual()) {
    if (admm) {
      sol = SolveAdmm(problems, in.quantity(), admm_options);
    } else {
      SolveExactDualInto(problems, in.quantity(),
                         in.has_opening_lambda() ? std::optional<double>(in.opening_lambda()) : std::nullopt,
                         in.dual_search() == exoroute::v1::DUAL_SEARCH_QUANTILE ? SearchStep::kQuantile
                                                                                : SearchStep::kCentroid,
                         in.dual_finish() == exoroute::v1::DUAL_FINISH_STEP_AND_BISECT
                             ? SearchFinish::kStepAndBisect
                             : SearchFinish::kStepOverBreakpoints,
                         &sol);
    }
    rounds += sol.rounds;
    if (!venue_limits) break;
    std::string why;
    const size_t drop = VenueLimits::ToDrop(sol.quantities, min_quantity, in.max_venues(), ReasonFormat(in), &why);
    if (drop == problems.size()) break;
    excluded[problems[drop].venue()] = why;
    problems.erase(problems.begin() + static_cast<long>(drop));
    min_quantity.erase(min_quantity.begin() + static_cast<long>(drop));
  }
  stats->set_rounds(rounds);
  if (dual_price != nullptr) *dual_price = sol.lambda;
  for (const auto& [venue, reason] : excluded) {
    auto* e = d.add_exclusions();
    e->set_venue(venue);
    e->set_reason(reason);
  }

  const bool buy = in.side() == exoroute::v1::SIDE_BUY;
  int64_t allocated = 0;
  __int128 cost = 0;  // (Each child's is within int64; their sum is checked.)
  double chosen = 0;  // The allocation's cost on the solver's curves (the duality gap's primal).
  int used = 0;
  // (Asked once: GetReflection goes through the descriptors' call_once every time.)
  static const google::protobuf::Reflection* const reflection = Allocation::GetReflection();
  for (size_t i = 0; i < problems.size(); ++i) {
    int64_t x = sol.quantities[i];
    if (x <= 0) continue;
    Allocation* a = used < d.allocations_size() ? d.mutable_allocations(used) : d.add_allocations();
    ++used;
    // (A Decision parsed from elsewhere may carry fields this release does not know.)
    if (!reflection->GetUnknownFields(*a).empty()) a->Clear();
    if (!internal::SameId(a->venue(), problems[i].venue())) a->set_venue(problems[i].venue());
    a->set_quantity(x);
    const LocalProblem::Child child = problems[i].ChildFor(
        x, in.instrument().qty_scale(), sol.segment_near.empty() ? SIZE_MAX : sol.segment_near[i]);
    a->set_limit_price(child.limit_price);
    a->set_expected_cost(child.expected_cost);
    chosen += child.cost;  // In venue order (an unused venue would add 0).
    allocated += x;
    cost += a->expected_cost();
  }
  while (d.allocations_size() > used) d.mutable_allocations()->RemoveLast();
  if (allocated > 0) stats->set_marginal_price(std::llround(buy ? sol.lambda : -sol.lambda));
  if (cost > std::numeric_limits<int64_t>::max() || cost < std::numeric_limits<int64_t>::min()) {
    return absl::InvalidArgumentError("solve_input: the plan's expected cost is beyond 2^63 price units");
  }
  d.set_allocated_quantity(allocated);
  d.set_shortfall(in.quantity() - allocated);
  d.set_expected_cost(static_cast<int64_t>(cost));

  // The optimality gap: the chosen allocation's cost against the Lagrangian bound at λ*.
  const double qty_unit = static_cast<double>(Pow10(in.instrument().qty_scale()));
  const double bound = LagrangianBound(problems, sol, allocated);
  if (allocated > 0) stats->set_optimality_gap(std::max<int64_t>(0, std::llround((chosen - bound) / qty_unit)));

  if (mid.has_value()) d.set_mid_price(*mid);
  if (allocated > 0) {
    int64_t avg = MulDivRound(cost < 0 ? -cost : cost, Pow10(in.instrument().qty_scale()), allocated);
    d.set_expected_average_price(avg);
    if (d.mid_price() > 0) {
      int64_t worse = buy ? avg - d.mid_price() : d.mid_price() - avg;
      d.set_slippage_cbps(MulDivRound(worse, 1'000'000, d.mid_price()));
    }
  }
  return absl::OkStatus();
}

std::vector<Allocation> DiffAllocations(
    const google::protobuf::RepeatedPtrField<Allocation>& before,
    const google::protobuf::RepeatedPtrField<Allocation>& after) {
  std::map<std::string, const Allocation*> old_by_venue, new_by_venue;
  for (const Allocation& a : before) old_by_venue[a.venue()] = &a;
  for (const Allocation& a : after) new_by_venue[a.venue()] = &a;
  std::vector<Allocation> changed;
  for (const auto& [venue, next] : new_by_venue) {
    auto it = old_by_venue.find(venue);
    if (it == old_by_venue.end() || it->second->quantity() != next->quantity() ||
        it->second->limit_price() != next->limit_price() ||
        it->second->expected_cost() != next->expected_cost()) {
      changed.push_back(*next);
    }
  }
  for (const auto& [venue, prev] : old_by_venue) {
    if (new_by_venue.count(venue) == 0) {
      Allocation dropped;
      dropped.set_venue(venue);
      changed.push_back(dropped);
    }
  }
  std::sort(changed.begin(), changed.end(),
            [](const Allocation& x, const Allocation& y) { return x.venue() < y.venue(); });
  return changed;
}

exoroute::v1::PlanAllocated ToPlanAllocated(
    const Decision& decision, const google::protobuf::RepeatedPtrField<Allocation>& previous,
    bool replan) {
  exoroute::v1::PlanAllocated a;
  a.set_replan(replan);
  std::vector<Allocation> changes;
  if (replan) changes = DiffAllocations(previous, decision.allocations());
  if (replan && static_cast<int>(changes.size()) < decision.allocations_size()) {
    a.set_incremental(true);
    for (auto& x : changes) *a.add_allocations() = std::move(x);
  } else {
    *a.mutable_allocations() = decision.allocations();
  }
  a.set_shortfall(decision.shortfall());
  a.set_expected_cost(decision.expected_cost());
  *a.mutable_stats() = decision.stats();
  *a.mutable_exclusions() = decision.exclusions();
  a.set_expected_average_price(decision.expected_average_price());
  a.set_mid_price(decision.mid_price());
  a.set_slippage_cbps(decision.slippage_cbps());
  return a;
}

}  // namespace exo::solver
