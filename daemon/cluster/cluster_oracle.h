// The cluster's side of the exact dual search (solver::FindDualPrice): a solver::DualOracle whose
// answers at λ are the sums of every live node's masked replies (docs/cluster.md, "Protocol",
// step 2). It takes the rounds the nodes answered ahead (Prepare's opening, λ asked along) without
// asking again, and refuses sums that are no supply. One route's, on the coordinator's thread.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/cluster/cluster_node.h"
#include "daemon/cluster/node_link.h"
#include "daemon/cluster/secure_sum.h"
#include "exoroute/v1/peer.pb.h"
#include "solver/exact_dual.h"
#include "solver/local_problem.h"

namespace exo::daemon::cluster {

// The sums S(λ) a dual search got from the cluster, with the λ it asked, in order.
using SearchSums = std::vector<std::pair<double, solver::LocalProblem::Response>>;

// Beyond any cluster's supply (every book's levels are within 2^53 units); a total this far off
// is a faulty node's.
constexpr int64_t kFarUnits = int64_t{1} << 61;

// The cluster's sums over every live node (added in node order: determinism of the sums).
class ClusterOracle final : public solver::DualOracle {
 public:
  // The nodes' replies at one λ, added up.
  struct Summed {
    solver::LocalProblem::Response sum;
    uint64_t tied = 0;  // Venues with quantity tied at λ (>= kTiedUnknown: not known).
  };
  // `opening`: the rounds the nodes answered with Prepare (λ and summed replies, in the order
  // they evaluated them). The search's Evaluate at one of those λ — or at one it named to
  // Lookahead, answered along with the round before — takes its sums instead of asking again
  // (one it passes over is dropped); the rounds asked here are numbered after them, since a
  // round's masks serve one release only.
  // `capacity`: the cluster's, from Prepare; `noisy`: the sums carry privacy noise.
  ClusterOracle(std::string route_id, const std::vector<NodeLink*>& nodes,
                std::vector<std::pair<double, Summed>> opening, int64_t capacity, bool noisy)
      : route_id_(std::move(route_id)), nodes_(nodes), ahead_(std::move(opening)),
        round_(static_cast<uint32_t>(ahead_.size())), capacity_(capacity), noisy_(noisy) {
    if (!ahead_.empty()) node_last_ = ahead_.back().first;
  }
  absl::StatusOr<solver::LocalProblem::Response> Evaluate(double lambda) override;
  // Venues tied at the λ of the search's last Evaluate, over the cluster (>= kTiedUnknown: not
  // known, some node noises its sums).
  uint64_t tied_last() const { return tied_last_; }
  // Every λ the search asked and the sums it got, in order.
  const SearchSums& answers() const { return answers_; }
  // The exact (masked, noise-free) totals at λ: the one such release of a noisy route.
  absl::StatusOr<solver::LocalProblem::Response> EvaluateExact(double lambda);
  // The λ the search names for its next rounds go along with its next round (never with the
  // exact release).
  void Lookahead(std::span<const double> lambdas) override { also_.assign(lambdas.begin(), lambdas.end()); }
  absl::StatusOr<Summed> Sum(double lambda, bool exact);
  // The sum of the nodes' masked replies (`of` picks each one's EvaluateReply), in node order.
  template <typename Replies, typename Of>
  static Summed Total(const Replies& replies, Of of) {
    uint64_t lo = 0, hi = 0, tied = 0;
    uint128 cost_lo = 0, cost_hi = 0;
    for (const auto& reply : replies) {
      const exoroute::v1::EvaluateReply& r = of(reply);
      lo += r.lo();
      hi += r.hi();
      tied += r.tied();
      cost_lo += FromWire(r.cost_lo());
      cost_hi += FromWire(r.cost_hi());
    }
    return {solver::LocalProblem::Response{static_cast<int64_t>(lo), static_cast<int64_t>(hi),
                                           FixedToCost(cost_lo), FixedToCost(cost_hi)},
            tied};
  }
  // A node narrows from its answers at the λ it evaluated last: only when that is the λ the
  // search narrows from (not so after an opening round the search passed over or took early).
  void Narrow(bool lower) override {
    using exoroute::v1::NARROW_LOWER, exoroute::v1::NARROW_NONE, exoroute::v1::NARROW_UPPER;
    narrow_ = asked_last_ != node_last_ ? NARROW_NONE : lower ? NARROW_LOWER : NARROW_UPPER;
  }
  absl::StatusOr<double> NextBreakpoint(double lambda) override;
  size_t failed() const { return failed_; }

 private:
  // The cluster's totals at λ are a supply: 0 <= S_lo <= S_hi <= the capacity (when that is
  // exact: no noise), costs finite. Noisy sums may stray from that by the noise, never beyond
  // 2^61 units. Anything else is a faulty node's (masked, the sum cannot tell whose) and would
  // overflow the search's arithmetic: the route fails, saying so.
  absl::StatusOr<Summed> Checked(double lambda, Summed got, bool noisy_sums) const;
  exoroute::v1::Narrow TakeNarrow() {
    exoroute::v1::Narrow n = narrow_;
    narrow_ = exoroute::v1::NARROW_NONE;
    return n;
  }
  absl::Status Failed(size_t i, absl::Status s) {
    failed_ = i;
    return s;
  }
  std::string route_id_;
  const std::vector<NodeLink*>& nodes_;
  std::vector<std::pair<double, Summed>> ahead_;  // Rounds answered before the search asks them.
  size_t next_ahead_ = 0;
  std::vector<double> also_;  // λ to ask along with the next round.
  SearchSums answers_;
  uint64_t tied_last_ = ClusterNode::kTiedUnknown;
  // The λ the search asked last, and the λ the nodes evaluated last (NaN: none to narrow from).
  double asked_last_ = std::numeric_limits<double>::quiet_NaN();
  double node_last_ = std::numeric_limits<double>::quiet_NaN();
  exoroute::v1::Narrow narrow_ = exoroute::v1::NARROW_NONE;
  uint32_t round_;
  const int64_t capacity_;
  const bool noisy_;
  size_t failed_ = std::numeric_limits<size_t>::max();
};
}  // namespace exo::daemon::cluster
