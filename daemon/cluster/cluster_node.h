// ClusterNode: this node's part in cluster routes. It holds one session per route the
// coordinator opened: a snapshot of this node's solver input (its books at Prepare) and its
// venues' cost curves, and answers the coordinator's questions about λ with sums over its own
// venues. The coordinator's own venues are answered by the same object, in process.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/cluster/secure_sum.h"
#include "daemon/cluster/shortfall_ledger.h"
#include "daemon/router_engine.h"
#include "exo/log.h"
#include "store/delta_store.h"
#include "exoroute/v1/peer.pb.h"
#include "solver/exact_dual.h"

namespace exo::daemon::cluster {

class ClusterNode {
 public:
  // The peer protocol of this release (PrepareRequest.protocol): changed whenever a node of
  // another release would answer differently (2: the opening rounds, tied counts and λ asked
  // along; 3: BestPrice and the urgency band's limit; 4: the arrival band — BestPrice's best
  // bid and ask, Prepare's arrival limit; 5: that bid and ask the market's, whatever the order's
  // limit; 6: the nodes' working quantity at Prepare, a route's quantity amended through the
  // node that keeps its work and its shares cut; 7: a halted node answers an executed route's
  // Prepare with no usable venue and its working quantity (PrepareReply.halted) instead of
  // refusing it; 8: notices of a cancel, or of new terms no share could take, sent while the node
  // that works a route's shortfall could not be asked — kept, answered with Progress (and a
  // cancel's with Prepare: PrepareReply.cancel_noticed); 9: a notice of new terms sent again by
  // the nodes that keep it, with the time it was amended at (AmendShareRequest.amended_ns), and
  // a share's mode and route record in Progress (a retried route's answer rebuilt from them);
  // 0: releases before the field). Nodes of different protocols do not route together.
  static constexpr uint32_t kPeerProtocol = 9;
  // The most λ a Prepare may ask to be answered with it (PrepareRequest.opening).
  static constexpr int kMaxOpening = 4;
  // The most routes a node keeps open at once (Prepare's sessions; as many BestPrice
  // snapshots): a coordinator runs its routes one at a time, so a cluster of N nodes has at
  // most N open on a node, plus those of coordinators that died mid-route (60 s each).
  static constexpr size_t kMaxOpenRoutes = 1024;
  // EvaluateReply.tied from a node that noises its sums: the count is not released.
  static constexpr uint64_t kTiedUnknown = uint64_t{1} << 32;
  // `keys` and `directory` make the masks of every released sum (secure_sum.h); with
  // `privacy.epsilon_milli` > 0 the sums of the search are also noised, and what that spends is
  // recorded in `store`'s budget ledger before anything is released.
  ClusterNode(RouterEngine* engine, const PairKeys* keys, KeyDirectory* directory,
              exoroute::v1::PrivacyConfig privacy, store::DeltaStore* store, Clock* clock);

  const std::string& node_id() const { return node_id_; }
  // This node's best price for an order with an urgency band (plain), from a snapshot of its
  // books that the route's Prepare then decides from (if it comes within the session lifetime).
  absl::StatusOr<exoroute::v1::BestPriceReply> BestPrice(const exoroute::v1::BestPriceRequest& req);
  absl::StatusOr<exoroute::v1::PrepareReply> Prepare(const exoroute::v1::PrepareRequest& req);
  absl::StatusOr<exoroute::v1::EvaluateReply> Evaluate(const exoroute::v1::EvaluateRequest& req);
  absl::StatusOr<exoroute::v1::BreakpointReply> NextBreakpoint(
      const exoroute::v1::BreakpointRequest& req);
  absl::StatusOr<exoroute::v1::SplitTiesReply> SplitTies(const exoroute::v1::SplitTiesRequest& req);
  // Counts (masked) the venues the split gives a share and those below their minimum child
  // size; with a reveal, the node's candidate for dropping.
  absl::StatusOr<exoroute::v1::LimitsReply> CheckLimits(const exoroute::v1::LimitsRequest& req);
  // Records (and with EXECUTE starts) this node's plan for its share; ends the session.
  absl::StatusOr<exoroute::v1::ExecuteReply> Execute(const exoroute::v1::ExecuteRequest& req);
  void Abort(const std::string& route_id);
  // The shortfalls this node's coordinator works (set once, before the peer port opens): the
  // three calls below answer for a route whose shortfall it works even without a share of it
  // (status PLAN_STATUS_UNSPECIFIED), with the work in their reply.
  void SetShortfallLedger(ShortfallLedger* ledger) { shortfall_ = ledger; }
  // This node's plan of a route in totals (NOT_FOUND without one), with the notices of its
  // cancel or new terms this node keeps (it answers with one even without a share).
  absl::StatusOr<exoroute::v1::ProgressReply> Progress(const exoroute::v1::ProgressRequest& req) const;
  // Cancels this node's plan of a route (CancelPlan on the node: NOT_FOUND without one), and
  // first ends the work on its shortfall if this node holds it. With leave_notice: keeps a
  // notice of the cancel instead, and nothing else.
  absl::StatusOr<exoroute::v1::CancelRouteReply> Cancel(const exoroute::v1::CancelRouteRequest& req);
  // Amends the limit or urgency of this node's plan of a route (AmendPlan on the node, its
  // quantity kept: NOT_FOUND without one), and first the terms of the sub-routes still to come
  // of a shortfall this node works. With a quantity: the route's new whole quantity, for the
  // shortfall work this node keeps (ShortfallLedger::Resize; FAILED_PRECONDITION when it keeps
  // none), checked against this node's risk limits on the order as it would stand. With
  // leave_notice: keeps a notice of the new terms instead, and nothing else.
  absl::StatusOr<exoroute::v1::AmendShareReply> Amend(const exoroute::v1::AmendShareRequest& req);
  // Any of the calls above as one PeerCall: the reply of its kind, or the error in its place.
  // What a peer answers on its Exchange stream, and what the coordinator asks its own node.
  exoroute::v1::PeerAnswer Answer(const exoroute::v1::PeerCall& call);
  size_t open_sessions() const;
  // The budget ledger's current windows (Status, `exoroutectl budgets`).
  std::vector<exoroute::v1::PrivacyBudgetStatus> Budgets() const;
  uint64_t budget_refusals() const { return budget_refusals_.load(); }
  // Routes refused for want of room (kMaxOpenRoutes open already), since start.
  uint64_t routes_refused() const { return routes_refused_.load(); }

 private:
  // Amend's new quantity for the shortfall work this node keeps.
  absl::StatusOr<exoroute::v1::AmendShareReply> Resize(const exoroute::v1::AmendShareRequest& req);
  // Amend's cut of this node's share (share_quantity).
  absl::StatusOr<exoroute::v1::AmendShareReply> CutShare(const exoroute::v1::AmendShareRequest& req);
  struct Session {
    std::mutex mu;
    exoroute::v1::ParentOrder order;
    exoroute::v1::RouteMode mode = exoroute::v1::ROUTE_MODE_UNSPECIFIED;
    exoroute::v1::SolveInput input;  // The books every answer came from.
    std::vector<solver::LocalProblem> problems;
    std::unique_ptr<solver::VenueGroup> group;
    int64_t opened_ns = 0;
    uint32_t attempt = 0;
    std::map<std::string, Prf> pair_prfs;  // Other participant -> PRF keyed with K_ij.
    std::vector<exoroute::v1::NoiseDraw> noise;  // Every draw released, for the journal.
    int64_t reserved_milli = 0;  // Budget already recorded as spent and not yet used.
  };
  // A route's books as BestPrice saw them, until its Prepare.
  struct Probe {
    exoroute::v1::ParentOrder order;
    exoroute::v1::RouteMode mode = exoroute::v1::ROUTE_MODE_UNSPECIFIED;
    exoroute::v1::SolveInput input;
    std::string halted;  // Why this node takes no share of it (RouteSnapshot), or empty.
    int64_t opened_ns = 0;
  };
  // The solver input a Prepare opens its session on: the BestPrice snapshot of the same order
  // if there is one, else the books now; with the request's exclusions and band limit. Why a
  // halted node takes no share in `halted` (empty when it trades).
  absl::StatusOr<exoroute::v1::SolveInput> PreparedInput(const exoroute::v1::PrepareRequest& req, std::string* halted);
  bool noisy() const { return privacy_.epsilon_milli() > 0; }
  // The node's decision at the coordinator's fixed dual (every venue's share, uncapped by Q).
  absl::StatusOr<exoroute::v1::Decision> ShareAt(const Session& s, const exoroute::v1::FixedDual& fixed,
                                                 exoroute::v1::SolveInput* input) const;
  // Records `values` noised releases as spent before they are made (ResourceExhausted when
  // the signal's window has not enough left).
  absl::Status Reserve(Session& s, int values);
  // value + discrete Laplace noise of scale sensitivity/ε × unit, journaled as `release`.
  absl::StatusOr<int64_t> NoisyCount(Session& s, const std::string& release, int64_t value);
  absl::StatusOr<double> NoisyCost(Session& s, const std::string& release, double value, double unit);
  Masks MasksFor(const Session& s, const std::string& route_id, const char* kind, uint32_t round) const;
  // Evaluate on session `s` (held by the caller).
  absl::StatusOr<exoroute::v1::EvaluateReply> EvaluateIn(Session& s, const exoroute::v1::EvaluateRequest& req);
  absl::StatusOr<std::shared_ptr<Session>> Find(const std::string& route_id) const;
  void ExpireOld();
  // OK while `open` (sessions_ or probes_, held by the caller) has room for `route_id`: it is
  // open already or fewer than kMaxOpenRoutes are; else Unavailable naming the limit. Expires
  // the old ones first.
  template <typename Map>
  absl::Status CheckRoom(const Map& open, const std::string& route_id, const char* what, const char* closes);

  RouterEngine* const engine_;
  const exoroute::v1::PrivacyConfig privacy_;
  store::DeltaStore* const store_;
  ShortfallLedger* shortfall_ = nullptr;
  std::atomic<uint64_t> budget_refusals_{0};
  std::atomic<uint64_t> routes_refused_{0};
  // Routes refused for room come as fast as a coordinator opens them: logged once, then at most
  // once a minute with how many were held back (routes_refused counts them all).
  RepeatedWarning room_warning_;
  const PairKeys* const keys_;
  KeyDirectory* const directory_;
  const std::string node_id_;
  Clock* const clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;  // Guarded by mu_.
  std::map<std::string, Probe> probes_;                       // Guarded by mu_.
};

}  // namespace exo::daemon::cluster
