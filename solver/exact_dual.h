// The exact dual method, over anything that answers sums of venue responses.
//
// For min Σ f_i(x_i) s.t. Σ x_i = Q with convex f_i, the optimum is where every venue takes what
// it would at one dual price λ*. The coordinator brackets λ* on the aggregate response
// S(λ) = Σ x_i(λ) and knows, from those sums, how much quantity is still undecided inside the
// bracket and what it costs (so its mean marginal cost). Each round it asks one λ, by one of
// two steps (SearchStep; recorded with a decision's inputs, so replay takes the same one):
// - centroid: the mean marginal cost of the undecided quantity, which is λ* itself once one
//   price level is left;
// - quantile: where the quantity would reach Q were the undecided quantity spread over the
//   bracket with that mean (a density of one free parameter: linear, or a triangle at one end),
//   the bracket's ends taken at the breakpoints nearest them when the oracle reports those
//   (DualOracle::Nearest) — once one price level is left both ends are on it, and that is λ*.
//   About half the rounds of the centroid (docs/BENCHMARKS.md).
// Bisection is the safeguard of both. It finishes exactly by stepping over any breakpoint left
// within rounding error, and splits the quantity tied at λ* in proportion to each venue's tied
// capacity (one broadcast fraction), in lots, remainder one lot at a time by venue id; what
// mixed lot sizes leave over goes to the cheapest next lot that fits.
//
// The search only sees a DualOracle: the sums S_lo, S_hi and their costs at a λ, the next
// breakpoint above a λ, and (if it can tell) the breakpoints nearest the last λ. A VenueGroup
// answers them for this node's venues; the cluster coordinator answers them by adding up the
// nodes' answers (daemon/cluster; no nearest breakpoints: its search takes the centroid step),
// so the same search runs on one node or across several without looking inside any book.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "solver/local_problem.h"

namespace exo::solver {

struct DualSolution {
  std::vector<int64_t> quantities;  // Per problem, same order as the input.
  // Per problem, its response at λ (empty when the method does not find one).
  std::vector<LocalProblem::Response> at_lambda;
  // Per problem, a segment that may be where its quantity ends, or the one after (ChildFor's
  // `near`); empty when the method does not find one.
  std::vector<size_t> segment_near;
  double lambda = 0;                // λ* (the marginal unit cost at the optimum).
  uint32_t rounds = 0;              // Evaluations of S(λ).
};

// What a group of venues reports before the search: summable over groups.
struct GroupSummary {
  int64_t capacity = 0;
  double min_cost = 0;    // Cheapest first lot's marginal cost (+inf if no venue).
  double max_cost = 0;    // Dearest last lot's marginal cost (-inf if no venue).
  double total_cost = 0;  // Cost of taking everything.
  void Add(const GroupSummary& other);
};

class DualOracle {
 public:
  virtual ~DualOracle() = default;
  // Σ over the group of each venue's response at λ.
  virtual absl::StatusOr<LocalProblem::Response> Evaluate(double lambda) = 0;
  // The breakpoints nearest the λ of the last Evaluate among the venues whose answer can still
  // change: the largest below it and the smallest above it. An oracle that cannot tell answers
  // -inf / +inf (a cluster: a node reveals sums, never a single price of its books).
  virtual LocalProblem::Nearest Nearest() const { return {}; }
  // The λ of the last Evaluate became the bracket's lower (or upper) end: venues whose answer
  // can no longer change may be frozen by the group.
  virtual void Narrow(bool lower) = 0;
  // Smallest breakpoint strictly above λ within the group (+inf if none).
  virtual absl::StatusOr<double> NextBreakpoint(double lambda) = 0;
  // λ the search may ask after the next Evaluate (FindDualPrice's `lookahead`): an oracle whose
  // every Evaluate costs a round trip can have them answered along with it. The search then
  // asks each one that still lies inside its bracket, in order, and passes over the others.
  virtual void Lookahead(std::span<const double> lambdas) { (void)lambdas; }
};

struct DualPrice {
  double lambda = 0;
  bool takes_all = false;   // Capacity <= Q: every venue takes everything.
  int64_t lo = 0;           // S_lo(λ*): placed strictly below λ*.
  int64_t hi = 0;           // S_hi(λ*): placed at or below λ*.
  uint32_t rounds = 0;
  std::vector<double> trajectory;  // Every λ asked, in order (SearchOptions::trajectory).
  // The upper end of the search's bracket when it ended, where the answers last reached the
  // quantity: with noisy answers (SearchOptions::approximate) the caller's exact finish
  // searches from [lambda, upper].
  double upper = 0;
};

// The quantile step's estimate: where a quantity spread over [lo, hi] with mean marginal cost
// `mean` reaches the fraction f (0 <= f <= 1) of itself, under a one-parameter density with that
// mean (linear, or a triangle at one end). lo < hi.
double SupplyQuantile(double lo, double hi, double mean, double f);

// How the search picks the λ of a round (see the top of this file).
enum class SearchStep { kCentroid, kQuantile };

// How the search ends once its bracket is as narrow as rounding allows and λ* is not found yet:
// - kStepOverBreakpoints: from the bracket's lower end, one breakpoint at a time (NextBreakpoint,
//   then an evaluation) until S_hi reaches the quantity. One step or two on books of price
//   levels; with an impact term every lot is a breakpoint, and fine lots took ~1500 steps
//   (10^12 lots on three venues: docs/BENCHMARKS.md).
// - kStepAndBisect: each such step is followed by one bisection of what is left of the bracket,
//   counted in doubles (an evaluation at the double halfway): the same first step, and at most
//   ~64 of each whatever the lots.
// λ* and the split are the same with either (up to λ inside a stretch where S_lo = S_hi = Q,
// which places the same quantities); the rounds are not.
enum class SearchFinish { kStepOverBreakpoints, kStepAndBisect };

struct SearchOptions {
  SearchStep step = SearchStep::kCentroid;
  // The oracle's answers are noisy: a round that moves nothing bisects instead of ending the
  // search, and it returns the bracket's lower end once the bracket is as narrow as rounding
  // allows (lo/hi then unknown, 0): the caller finishes from there with exact answers.
  bool approximate = false;
  // The first rounds ask these λ instead of their own step, in order, each one only if it still
  // lies inside the bracket (a cluster asks them before the group's summary is known:
  // daemon/cluster; a re-plan opens at the plan's last λ*).
  std::span<const double> opening;
  // Every round that asks a λ of its own also names two more to the oracle (Lookahead): where
  // the supply would reach the quantity less and plus a twelfth of what the bracket leaves
  // undecided, under the quantile step's density (SupplyQuantile); the rounds after take them
  // like opening λ.
  // Centroid step only (a cluster's search: its oracle names no breakpoint, and there the
  // centroid with λ asked along takes the fewest round trips); ignored with the quantile step.
  bool lookahead = false;
  // Keep every λ asked in DualPrice::trajectory (a cluster records it; one node's decision
  // does not).
  bool trajectory = true;
  SearchFinish finish = SearchFinish::kStepOverBreakpoints;
};

// Finds λ* with S_lo(λ*) <= quantity <= S_hi(λ*). quantity > 0. λ* and the tie are the same
// whatever the options; the rounds and the trajectory are not.
absl::StatusOr<DualPrice> FindDualPrice(DualOracle& oracle, const GroupSummary& group,
                                        int64_t quantity, const SearchOptions& options = {});

// One node's venues as a DualOracle. Frozen venues (same answer at both ends of the bracket)
// are summed once instead of asked every round. `problems` must outlive the group.
class VenueGroup final : public DualOracle {
 public:
  explicit VenueGroup(const std::vector<LocalProblem>& problems) { Reset(problems); }
  VenueGroup() = default;  // No venues yet: Reset before use.
  // Starts over on `problems` (a fresh search), keeping the group's storage: a caller that
  // searches again and again keeps one group.
  void Reset(const std::vector<LocalProblem>& problems);
  GroupSummary Summary() const;
  absl::StatusOr<LocalProblem::Response> Evaluate(double lambda) override;
  LocalProblem::Nearest Nearest() const override;
  void Narrow(bool lower) override;
  absl::StatusOr<double> NextBreakpoint(double lambda) override;
  // Venue i's own response at λ (inside the current bracket).
  LocalProblem::Response At(size_t i, double lambda) const;
  // How many venues have quantity tied at the λ of the last Evaluate (S_hi > S_lo for them).
  uint32_t TiedAtLast() const;
  // Where venue i's search last found λ's segment (its window's `at`): a segment at or just
  // after the one where its answer there ends.
  size_t SegmentNear(size_t i) const { return lanes_[i].window.at; }

 private:
  // One venue in the search: where its answers can still be, and its answer at the last λ.
  struct Lane {
    Lane() {}  // NOLINT(modernize-use-equals-default): as LocalProblem's, no zeroing first.
    const LocalProblem* problem = nullptr;
    int64_t qa = 0, qb = 0;  // Its quantity at the bracket's ends,
    double ca = 0, cb = 0;   // and their costs.
    LocalProblem::Window window;
    LocalProblem::Response last;
  };
  const std::vector<LocalProblem>* problems_ = nullptr;
  GroupSummary summary_;            // Of all venues, made with the lanes.
  std::vector<Lane> lanes_;         // Per venue, in venue order.
  std::vector<uint32_t> active_;    // Venues not frozen, in venue order.
  bool evaluated_ = false;          // `last` holds the answers at the last λ asked,
  double last_lambda_ = 0;          // this one,
  LocalProblem::Nearest nearest_;   // and the active venues' breakpoints nearest it.
  int64_t fixed_q_ = 0;
  double fixed_cost_ = 0;
};

// The tie split at λ*: `need` of the `tied_total` quantity tied at λ* (over all groups) is
// placed; each venue first gets its proportional share rounded down to lots. Returns, per
// problem, lo(λ*) plus that share, and in `spare_lots` how many more lots each tied venue could
// take at λ* (at most `spare_cap`). With `below`, the pool split is instead everything priced
// below λ (lo), and nothing is taken outright: the scaled-down plan of a noisy search that
// stopped above λ*.
std::vector<int64_t> PlaceAtDualPrice(const std::vector<LocalProblem>& problems, double lambda,
                                      int64_t need, int64_t tied_total, int64_t spare_cap,
                                      std::vector<int64_t>* spare_lots, bool below = false);
// The same from each problem's response at λ (`at_lambda`, one per problem).
std::vector<int64_t> PlaceAtDualPrice(const std::vector<LocalProblem>& problems,
                                      const std::vector<LocalProblem::Response>& at_lambda,
                                      int64_t need, int64_t tied_total, int64_t spare_cap,
                                      std::vector<int64_t>* spare_lots, bool below = false);
// The same into `*quantities` (its storage reused).
void PlaceAtDualPriceInto(const std::vector<LocalProblem>& problems,
                          const std::vector<LocalProblem::Response>& at_lambda, int64_t need,
                          int64_t tied_total, int64_t spare_cap, std::vector<int64_t>* spare_lots,
                          std::vector<int64_t>* quantities, bool below = false);

// A venue that can take more lots at λ*, for the remainder of the tie split.
struct SpareVenue {
  std::string venue;
  int64_t lot = 1;
  int64_t spare_lots = 0;
};
// Places `remainder` one lot at a time over `spare` (sorted by venue id) in passes, each venue
// taking a lot while it has one spare and the lot fits (a lot below one unit takes nothing: no
// venue has one, and it would never end). Returns lots per entry. (Passes in
// which every venue still taking lots takes one are made in bulk, so a fine-lot venue next to
// a coarse one costs a few steps, not one per lot: the same lots as pass by pass, which
// AssignRemainderPassByPass does, for tests.)
std::vector<int64_t> AssignRemainder(const std::vector<SpareVenue>& spare, int64_t remainder);
std::vector<int64_t> AssignRemainderPassByPass(const std::vector<SpareVenue>& spare, int64_t remainder);

// Places `quantity` at a price λ where the venues' answers bracket it: lo = S_lo(λ) <= quantity
// <= S_hi(λ) = hi, given each problem's response there (`at_lambda`). Everything below λ is taken,
// the quantity tied at λ split by one fraction (PlaceAtDualPrice), the remainder one lot at a
// time by venue id (AssignRemainder), and what mixed lot sizes leave over to the cheapest next
// lot that fits. At most a few lots per venue are placed one at a time, however fine the lots.
// `problems` sorted by venue id.
std::vector<int64_t> PlaceAtBracketingPrice(const std::vector<LocalProblem>& problems,
                                            const std::vector<LocalProblem::Response>& at_lambda,
                                            int64_t quantity, int64_t lo, int64_t hi);
// The same into `*quantities` (its storage reused).
void PlaceAtBracketingPriceInto(const std::vector<LocalProblem>& problems,
                                const std::vector<LocalProblem::Response>& at_lambda, int64_t quantity,
                                int64_t lo, int64_t hi, std::vector<int64_t>* quantities);

// `problems` must be sorted by venue id (the tie-break order). quantity > 0. The search takes
// `step` and asks `opening` first when it lies inside its bracket (FindDualPrice): the same
// split either way, fewer rounds when the opening is close to λ*.
DualSolution SolveExactDual(const std::vector<LocalProblem>& problems, int64_t quantity,
                            std::optional<double> opening = std::nullopt,
                            SearchStep step = SearchStep::kCentroid,
                            SearchFinish finish = SearchFinish::kStepOverBreakpoints);
// The same into `*solution`, reusing its vectors' storage (a decision after decision).
void SolveExactDualInto(const std::vector<LocalProblem>& problems, int64_t quantity,
                        std::optional<double> opening, SearchStep step, SearchFinish finish,
                        DualSolution* solution);

}  // namespace exo::solver
