// exo::solver — the routing decision, as a pure function.
//
// `Solve` splits a parent order's remaining quantity across venues at minimal expected cost.
// Inputs in, decision out: no I/O, no threads, no clock (the decision time is an input), and
// the same input always gives the same bytes, which is what makes replay possible.
// See docs/architecture.md for the method.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "solver/local_problem.h"
#include "exoroute/v1/types.pb.h"

namespace exo::solver {

// The most venues one decision takes (each venue's depth is at most 2^53 units, kMaxUnits:
// summed over this many it stays within int64).
inline constexpr int kMaxVenues = 1024;

// Solves with the exact dual method. InvalidArgument if the input itself is malformed (no
// quantity, bad scales); venues that cannot be used are reported in Decision.exclusions, and a
// quantity that cannot be fully placed is reported as Decision.shortfall.
// With `curves`, each venue's curve is taken from that cache (built there once per distinct
// book): the decision is the same, bit for bit, and only the search and the assembly remain.
// With `dual_price`, λ* of the decision is written there exactly (it is not in the Decision,
// whose stats keep it rounded): what a later re-plan of the same order passes as
// SolveInput.opening_lambda.
absl::StatusOr<exoroute::v1::Decision> Solve(const exoroute::v1::SolveInput& input,
                                             CurveCache* curves = nullptr,
                                             double* dual_price = nullptr);
// The same decision, written into `*out` (cleared first; unspecified on error). A caller that
// decides again and again passes the same Decision: its allocation messages and their strings
// are reused instead of allocated anew.
absl::Status SolveInto(const exoroute::v1::SolveInput& input, exoroute::v1::Decision* out,
                       CurveCache* curves = nullptr, double* dual_price = nullptr);

// Every venue of `input` that can take part, as its LocalProblem (in venue order): what Solve
// decides over, and what a cluster node answers the coordinator from. The others go to
// `excluded` (venue -> reason) when given.
std::vector<LocalProblem> BuildLocalProblems(const exoroute::v1::SolveInput& input,
                                             std::map<std::string, std::string>* excluded = nullptr,
                                             CurveCache* curves = nullptr);
// The same into `out`, reusing its problems: a problem that keeps the curve it held is not
// re-pointed (no reference count traffic on a hit). With a price band (price_band_bps), every
// venue is cut at the band's limit — the best price on the order's side over the venues usable
// under the order's own limit, ± the band, or that limit if tighter — written to `band_limit`
// (0 without a band). With SolveInput.band_limit, every venue is cut there (or at the order's
// limit if tighter) in one build. With SolveInput.arrival_band_bps, every venue is first cut at
// the arrival limit — the mid (DecisionMid) ± the band, or that limit if tighter — written to
// `arrival_limit` (0 without one; then, when there is no two-sided market, none is built and
// each usable venue is excluded saying so), and any
// price band is taken under it. With SolveInput.arrival_limit, every venue is cut there (or at
// the order's limit if tighter), which is written to `arrival_limit`. With `market`, the
// market's best bid and ask there (MarketQuotes, found while the venues are read).
struct Quotes;
void BuildLocalProblemsInto(const exoroute::v1::SolveInput& input,
                            std::map<std::string, std::string>* excluded, CurveCache* curves,
                            std::vector<LocalProblem>* out, int64_t* band_limit = nullptr,
                            int64_t* arrival_limit = nullptr, Quotes* market = nullptr);

// The mid of the best bid and best ask over `problems` (rounded half away from zero, as a
// Decision's mid_price); nullopt unless both sides have a price.

std::optional<int64_t> MidPrice(const std::vector<LocalProblem>& problems);
// The market's best bid and best ask at the decision: over every venue of `input` whose book
// is quotable (LocalProblem::Quotable), whatever the limit price; 0 for a side none has.
struct Quotes {
  int64_t best_bid = 0;
  int64_t best_ask = 0;
};
Quotes MarketQuotes(const exoroute::v1::SolveInput& input);
// A decision's mid as `input.mid_rule` says: over the market (`market`, its MarketQuotes) or
// over `usable`, the venues usable under the order's limit (MidPrice). nullopt without a
// two-sided market.
std::optional<int64_t> DecisionMid(const exoroute::v1::SolveInput& input, const Quotes& market,
                                   const std::vector<LocalProblem>& usable);
// The best price on the order's side (`buy`: the lowest ask, else the highest bid) over
// `problems`; 0 if none has one.
int64_t BestPrice(const std::vector<LocalProblem>& problems, bool buy);
// `price`, or `limit` when that is the tighter of the two for an order of side `buy` (the
// lower to buy, the higher to sell).
int64_t TighterLimit(int64_t price, std::optional<int64_t> limit, bool buy);
// The limit a price band of `band_bps` puts on an order whose best price is `best` (> 0): best
// ± the band, rounded inwards (down to buy, up to sell), or `limit` when that is tighter. One
// node's decisions and a cluster's coordinator both fix a band through this.
int64_t PriceBandLimit(int64_t best, uint32_t band_bps, bool buy, std::optional<int64_t> limit);

// The limits no sum can enforce: a venue's minimum child size and the order's venue limit.
// Solve keeps them by dropping one venue and solving again, until neither binds: first the
// smallest share below its venue's minimum, else (more venues used than the order allows) the
// smallest share; ties drop the higher venue id. A cluster route keeps them the same way across
// nodes (daemon/cluster), so both use these.
struct VenueLimits {
  // Among `shares` (per venue, sorted by venue id; 0 = unused) with `min_quantity` per venue:
  // the venue to drop, or shares.size() when none must go, and the reason for its exclusion.
  static size_t ToDrop(const std::vector<int64_t>& shares, const std::vector<int64_t>& min_quantity,
                       uint32_t max_venues, const ReasonFormat& words, std::string* why);
  // The candidate of one kind only (for a cluster node: its own venues): the smallest share
  // below its minimum (`below_min`) or the smallest share; shares.size() if none.
  static size_t Smallest(const std::vector<int64_t>& shares, const std::vector<int64_t>& min_quantity,
                         bool below_min);
  static std::string BelowMinReason(int64_t share, int64_t min_quantity, const ReasonFormat& words);
  static std::string MaxVenuesReason(uint32_t max_venues, const ReasonFormat& words);
};

// What a re-plan delta carries: for every venue (in venue-id order) whose allocation differs
// between `before` and `after`, the new allocation (quantity 0 when the venue was dropped).
std::vector<exoroute::v1::Allocation> DiffAllocations(
    const google::protobuf::RepeatedPtrField<exoroute::v1::Allocation>& before,
    const google::protobuf::RepeatedPtrField<exoroute::v1::Allocation>& after);

// The PlanDelta change recording `decision`: all allocations for a first allocation; for a
// re-plan, only what changed against `previous` (incremental) when that takes fewer entries
// than the whole decision, else the whole decision as a replacement. The engine and the replay audit both build the
// delta through this, so a replayed decision can be compared byte for byte.
exoroute::v1::PlanAllocated ToPlanAllocated(
    const exoroute::v1::Decision& decision,
    const google::protobuf::RepeatedPtrField<exoroute::v1::Allocation>& previous, bool replan);

}  // namespace exo::solver
