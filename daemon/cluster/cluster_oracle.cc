#include "daemon/cluster/cluster_oracle.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace exo::daemon::cluster {

using exoroute::v1::BreakpointReply;
using exoroute::v1::BreakpointRequest;
using exoroute::v1::EvaluateReply;
using exoroute::v1::EvaluateRequest;

absl::StatusOr<solver::LocalProblem::Response> ClusterOracle::Evaluate(double lambda) {
  absl::StatusOr<Summed> got;
  while (next_ahead_ < ahead_.size() && ahead_[next_ahead_].first != lambda) ++next_ahead_;
  if (next_ahead_ < ahead_.size()) {
    got = ahead_[next_ahead_++].second;
  } else {
    got = Sum(lambda, /*exact=*/false);
  }
  asked_last_ = lambda;
  if (got.ok()) got = Checked(lambda, *std::move(got), noisy_);
  if (!got.ok()) return got.status();
  answers_.push_back({lambda, got->sum});
  tied_last_ = got->tied;
  return got->sum;
}

absl::StatusOr<solver::LocalProblem::Response> ClusterOracle::EvaluateExact(double lambda) {
  absl::StatusOr<Summed> got = Sum(lambda, true);
  if (got.ok()) got = Checked(lambda, *std::move(got), /*noisy_sums=*/false);
  if (!got.ok()) return got.status();
  return got->sum;
}

absl::StatusOr<ClusterOracle::Summed> ClusterOracle::Sum(double lambda, bool exact) {
  EvaluateRequest req;
  req.set_route_id(route_id_);
  req.set_round(++round_);
  req.set_lambda(lambda);
  req.set_previous(TakeNarrow());
  req.set_exact(exact);
  node_last_ = lambda;
  if (!exact) {
    for (double l : also_) req.add_also(l);
    round_ += static_cast<uint32_t>(also_.size());  // Each one is a round of its own.
    if (!also_.empty()) node_last_ = also_.back();
  }
  also_.clear();
  // Every reply is masked; the masks cancel in the sum (modulo 2^64 and 2^128).
  auto replies = FanOut(nodes_, [&req](size_t) -> const EvaluateRequest& { return req; });
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!replies[i].ok()) return Failed(i, replies[i].status());
    if (replies[i]->also_size() != req.also_size()) {
      return Failed(i, absl::InternalError(absl::StrCat("node ", nodes_[i]->node_id(), " answered ",
                                                        replies[i]->also_size(), " of ", req.also_size(),
                                                        " λ asked along")));
    }
  }
  for (int k = 0; k < req.also_size(); ++k) {
    ahead_.push_back({req.also(k), Total(replies, [k](const absl::StatusOr<EvaluateReply>& r) -> const EvaluateReply& {
                        return r->also(k);
                      })});
  }
  return Total(replies, [](const absl::StatusOr<EvaluateReply>& r) -> const EvaluateReply& { return *r; });
}

absl::StatusOr<double> ClusterOracle::NextBreakpoint(double lambda) {
  BreakpointRequest req;
  req.set_route_id(route_id_);
  req.set_lambda(lambda);
  req.set_previous(TakeNarrow());
  double m = std::numeric_limits<double>::infinity();
  auto replies = FanOut(nodes_, [&req](size_t) -> const BreakpointRequest& { return req; });
  for (size_t i = 0; i < nodes_.size(); ++i) {
    absl::StatusOr<BreakpointReply>& r = replies[i];
    if (!r.ok()) return Failed(i, r.status());
    // A price above λ, or +inf for none: anything else (NaN, a price at or below λ) is a
    // faulty node's, and would stall the search or end it short.
    if (!(r->next() > lambda)) {
      return Failed(i, absl::InternalError(absl::StrCat("node ", nodes_[i]->node_id(), " answered ", r->next(),
                                                        " as its next breakpoint above λ ", lambda, ": refused")));
    }
    m = std::min(m, r->next());
  }
  return m;
}

absl::StatusOr<ClusterOracle::Summed> ClusterOracle::Checked(double lambda, Summed got, bool noisy_sums) const {
  const solver::LocalProblem::Response& r = got.sum;
  const bool supply = noisy_sums ? r.lo > -kFarUnits && r.lo < kFarUnits && r.hi > -kFarUnits && r.hi < kFarUnits
                                 : r.lo >= 0 && r.lo <= r.hi && r.hi < kFarUnits && (noisy_ || r.hi <= capacity_);
  if (supply && std::isfinite(r.cost_lo) && std::isfinite(r.cost_hi)) return got;
  return absl::InternalError(absl::StrCat("route ", route_id_, ": the nodes' sums at λ ", lambda,
                                          " are no supply (S_lo ", r.lo, ", S_hi ", r.hi, " of a capacity of ",
                                          capacity_, ", costs ", r.cost_lo, " and ", r.cost_hi,
                                          "): some node answers wrongly"));
}
}  // namespace exo::daemon::cluster
