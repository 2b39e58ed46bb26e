// The coordinator of a cluster route: runs the exact dual search over every node's sums, splits
// the tie at the final λ by one broadcast fraction, gives out the remainder lots, and asks each
// node to fix and record its share. Nodes are reached through NodeLink: in process for this
// node's own venues, over one mutual-TLS gRPC stream per peer; a round's calls go out to every
// node at once from the coordinator's thread. A node that fails or misses a round's
// deadline is dropped and the search restarts without it (or the route fails), per policy.
// What an executed GTC/GTT route leaves unplaced, the coordinator routes again as sub-routes
// until it is placed, cancelled or expired (coordinator_shortfall.cc, ShortfallLedger).
#pragma once

#include <deque>
#include <map>
#include <set>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/cluster/cluster_node.h"
#include "daemon/cluster/cluster_oracle.h"
#include "daemon/cluster/node_link.h"
#include "daemon/cluster/shortfall_ledger.h"
#include "daemon/latency_histogram.h"
#include "daemon/metrics.h"
#include "exoroute/v1/config.pb.h"
#include "exoroute/v1/peer.grpc.pb.h"
#include "exoroute/v1/router.pb.h"

namespace exo::daemon::cluster {

class Coordinator {
 public:
  // links[0] is this node.
  // `noisy`: the nodes add privacy noise to the search's sums (cluster.privacy), so the
  // search is approximate and the plan is fixed from one exact release at the final λ.
  // `on_exhausted`: what a node that has spent its privacy budget means for the route.
  Coordinator(std::string node_id, std::vector<std::unique_ptr<NodeLink>> links,
              exoroute::v1::NodeFailurePolicy policy, bool noisy = false,
              exoroute::v1::NodeFailurePolicy on_exhausted = exoroute::v1::NODE_FAILURE_POLICY_DROP_NODE);
  // Routes `order` across the cluster. Returns this node's plan (if its venues got a share)
  // and the route's summary. Serialised: one cluster route at a time per coordinator. A retry
  // of a route this coordinator answered (same id, order and mode) gets the same answer; an id
  // some node already has a plan under is refused with ALREADY_EXISTS.
  // `routed_by`: the client's certificate name ("" = not known), recorded with every node's share.
  absl::StatusOr<exoroute::v1::RouteResponse> Route(const exoroute::v1::ParentOrder& order,
                                                    exoroute::v1::RouteMode mode,
                                                    RouterEngine* engine, const std::string& routed_by = "");
  // Cancels a cluster route: every node's plan of it (CancelPlan on each, at once), and of
  // each of its sub-routes, after the node that works its shortfall has ended that work (`id`
  // may name the route or any of its sub-routes). Returns this node's plan of `id` if it has
  // one and each node's outcome; NOT_FOUND when no node has a plan of the route nor works its
  // shortfall, FAILED_PRECONDITION when every node's had already finished. When a node could
  // not be asked and none answered for the shortfall's work, the nodes asked keep a notice of
  // the cancel (noticed_on), which that node finds when it is back and ends its work on.
  absl::StatusOr<exoroute::v1::CancelPlanResponse> Cancel(const std::string& id, const std::string& reason,
                                                          RouterEngine* engine);
  // Amends a cluster route's limit or urgency: every node's share of it and of its sub-routes
  // (AmendPlan on each, at once; each share keeps its quantity), and the terms of the
  // sub-routes its shortfall's work will route (`amendment.plan_id` may name a sub-route).
  // Returns this node's plan if it has one and each node's outcome; NOT_FOUND when no node has
  // a plan of the route; when no node amended its share, the first node's error
  // (FAILED_PRECONDITION: every plan had finished; UNAVAILABLE: a node could not be asked).
  // A new quantity goes first, to the node that keeps the route's shortfall work alone (it
  // changes what is left to route; docs/cluster.md, "Amending a route's quantity"): when it is
  // refused, nothing is amended. FAILED_PRECONDITION when no node keeps that work (a plan-only
  // or IOC route…) or the route has settled; UNAVAILABLE when its node cannot be asked.
  absl::StatusOr<exoroute::v1::AmendPlanResponse> Amend(const exoroute::v1::AmendPlanRequest& amendment,
                                                        RouterEngine* engine);
  // Works the shortfalls of the executed GTC and GTT routes this node coordinates
  // (docs/cluster.md, "Working a shortfall"): `ledger` keeps them (set before any route), and a
  // thread routes what is left of each open one again every `retry_ms` as a sub-route
  // "<route id>~<n>", until it is placed, cancelled or expired (0 = every 1000 ms), and at once
  // when an amendment of a route's quantity leaves more to route. Without
  // `open_new` (cluster.leave_shortfall) the shortfalls of new routes are only reported, and
  // those recorded earlier still worked. Stopped by StopShortfallWork or the destructor.
  void WorkShortfalls(ShortfallLedger* ledger, RouterEngine* engine, uint32_t retry_ms, bool open_new = true);
  // The same thread sends again the cancels and the new terms this node keeps a notice of
  // (ResendNoticedCancels, ResendNoticedTerms).
  // One pass of that thread's work, at `now_ns` (tests call it without the thread).
  void WorkShortfallsOnce(RouterEngine* engine, int64_t now_ns);
  void StopShortfallWork();
  ~Coordinator();
  // A route's progress on every node (GetRoute): each node that has a plan of it, or could not
  // be asked, with what its fills cost; the route's average price at `engine`'s instrument
  // scale. NOT_FOUND when no node has one. With `missed`: what the node that keeps the route's
  // work may have missed while it could not be asked — the answer of the share (of the route or
  // of a sub-route) amended last, the latest notice of terms no share could take, and the first
  // notice of a cancel — each left as it was when there is none.
  struct Missed {
    exoroute::v1::ProgressReply share;
    exoroute::v1::TermsNotice terms;
    exoroute::v1::CancelNotice cancel;
    size_t peers_answered = 0;  // Other nodes that answered for the route itself (with or without a share).
  };
  absl::StatusOr<exoroute::v1::GetRouteResponse> Progress(const std::string& route_id, const RouterEngine& engine,
                                                          Missed* missed = nullptr);
  // Calls to `node` of the routes this coordinator ran, over every kind, and their total answer
  // time (zeros for a node it has no link to).
  struct CallTotals {
    uint64_t calls = 0;
    int64_t sum_ns = 0;
  };
  CallTotals Totals(const std::string& node) const;
  // Why the last route this coordinator ran left `node` out, if it did (nullopt once the node
  // took part in a later one, or before any route), for Status.
  struct LeftOut {
    std::string route_id, reason;
  };
  std::optional<LeftOut> LastLeftOut(const std::string& node) const;
  // Why this node's calls to `node` are held (NodeLink::silent), if they are.
  std::optional<std::string> Silent(const std::string& node) const;
  // exoroute_peer_call_seconds{node, call}: how long each node took to answer each kind of call
  // (this node's own, in process, included), for /metrics.
  std::vector<HistogramMetric> CallLatency() const;
  // `units` of `symbol`'s instrument as a decimal, for the log and messages ("N units" for a
  // symbol `engine` does not know).
  static std::string Units(const RouterEngine& engine, const std::string& symbol, int64_t units);

 private:
  const std::string node_id_;
  std::vector<std::unique_ptr<NodeLink>> links_;
  const exoroute::v1::NodeFailurePolicy policy_;
  const bool noisy_;
  const exoroute::v1::NodeFailurePolicy on_exhausted_;
  class Run;       // One route as it runs (coordinator.cc).
  // Every node's link, this node's first: whom a route, a cancel, an amendment or a progress
  // call asks.
  std::vector<NodeLink*> AllLinks() const;
  std::mutex mu_;  // One route at a time.
  absl::StatusOr<exoroute::v1::GetRouteResponse> ProgressLocked(const std::string& route_id, const RouterEngine& engine,
                                                                Missed* missed = nullptr);
  // Amend's new quantity (coordinator_resize.cc, under mu_): asked of the node that keeps the
  // route's shortfall work, and below what the shares hold, cut from the shares; that work as
  // it stands after, and each cut share's outcome, in `resp`.
  absl::Status ResizeLocked(const std::string& route_id, const exoroute::v1::AmendPlanRequest& amendment,
                            const RouterEngine& engine, exoroute::v1::AmendPlanResponse* resp);
  // Cancel under mu_. `resending`: the notice this node keeps of the cancel it sends again
  // (ResendNoticedCancels): the notices it leaves name the node that notice came through, and
  // are not logged. `reached` (if given) is set when the node that works the route's shortfall
  // answered, or every node did.
  absl::StatusOr<exoroute::v1::CancelPlanResponse> CancelLocked(const std::string& id, const std::string& reason,
                                                                RouterEngine* engine,
                                                                const exoroute::v1::CancelNotice* resending,
                                                                bool* reached);
  // Cancel's last step when the node that works the route's shortfall (if one does) could not
  // be asked (under mu_): every node of `all` but the `unasked` keeps a notice of the cancel;
  // those that did are added to `resp`'s noticed_on, and its notice_warning says when fewer
  // than half of the nodes keep it.
  void LeaveCancelNotices(const std::string& route_id, const std::string& reason, const std::vector<NodeLink*>& all,
                          const std::set<std::string>& unasked, const exoroute::v1::CancelNotice* resending,
                          exoroute::v1::CancelPlanResponse* resp);
  // WorkShortfallsOnce's first step: every cancel this node keeps a notice of is sent again, as
  // the client's was, until it reaches the node that works the route or every node answers it
  // (then the notice is marked delivered). A notice kept by fewer than half of the nodes thus
  // reaches the nodes that come back, and the node that works the route itself.
  void ResendNoticedCancels(RouterEngine* engine, int64_t now_ns);
  // The same for the new terms this node keeps a notice of: sent again (with the time they were
  // amended at) to every other node, until every node keeps them — so a notice that fewer than
  // half of the nodes kept reaches the nodes that come back, and no majority can miss it.
  void ResendNoticedTerms(int64_t now_ns);
  // The other nodes known to keep each notice ResendNoticedTerms sends (guarded by mu_), to
  // log those that newly do.
  std::map<std::string, std::vector<std::string>> terms_kept_by_;
  // Amend's, the same for new terms no share took: every node of `all` but the `unasked` keeps
  // a notice of them; those that did are added to `resp`'s noticed_on.
  void LeaveTermsNotices(const exoroute::v1::AmendShareRequest& terms, const std::vector<NodeLink*>& all,
                         const std::set<std::string>& unasked, exoroute::v1::AmendPlanResponse* resp);
  mutable std::mutex left_out_mu_;
  std::map<std::string, LeftOut> left_out_;  // By node (guarded by left_out_mu_).
  // Links to nodes that missed a call's deadline are silent (NodeLink::Receive): no call waits
  // on them. This thread asks each silent one whether it answers again every
  // NodeLink::kCheckSilentEvery (CheckIfSilent).
  void CheckSilentNodes();  // The checking thread's loop.
  std::mutex check_mu_;
  std::condition_variable check_cv_;
  bool check_stop_ = false;  // (Guarded by check_mu_.)
  std::thread check_thread_;
  void RecordLeftOut(const std::string& node, const std::string& route_id, std::string reason);
  void RecordTookPart(const std::string& node);
  // Routes this coordinator answered, for idempotent retries (guarded by mu_): the request and
  // the answer, the latest kRemembered of them.
  struct Answered {
    exoroute::v1::ParentOrder order;
    exoroute::v1::RouteMode mode;
    exoroute::v1::RouteResponse response;
  };
  static constexpr size_t kRemembered = 10000;
  // Keeps a route's answer for retries (under mu_; the latest kRemembered).
  void Remember(const exoroute::v1::ParentOrder& order, exoroute::v1::RouteMode mode,
                const exoroute::v1::RouteResponse& response);
  // A route this node kept no answer to, whose id some node has a plan under (routed through
  // another node, or through this one before it restarted): under mu_, the answer rebuilt from
  // what every node recorded with its share — the route's record and λ*, each node's share,
  // whether a node works its shortfall — when `order` and `mode` are the ones recorded;
  // ALREADY_EXISTS when they are not; `refusal` when a node cannot be asked (it may hold a
  // share) or no share recorded the route.
  absl::StatusOr<exoroute::v1::RouteResponse> RebuildAnswerLocked(const exoroute::v1::ParentOrder& order,
                                                                  exoroute::v1::RouteMode mode, RouterEngine* engine,
                                                                  const absl::Status& refusal);
  std::map<std::string, Answered> answered_;
  std::deque<std::string> answered_order_;
  // The sums the searches of the last kSumsKept routes got, per symbol and side, for a later
  // route's opening λ (guarded by mu_); older than kSumsKeptFor, the books have moved on.
  struct KeptSums {
    std::chrono::steady_clock::time_point at;
    SearchSums sums;
  };
  static constexpr size_t kSumsKept = 8;
  static constexpr std::chrono::seconds kSumsKeptFor{60};
  std::map<std::string, std::deque<KeptSums>> recent_sums_;
  SearchSums RecentSums(const std::string& key);
  void KeepSums(const std::string& key, SearchSums sums);
  // The shortfall work (WorkShortfalls): its ledger, and the thread that works it.
  ShortfallLedger* shortfall_ = nullptr;
  bool open_shortfalls_ = false;  // New routes' shortfalls are worked too.
  // Terms a route was amended to while this node could not be asked (down, or the amendment's
  // call to it failed): the share of the route or of a sub-route amended last, then the nodes'
  // notice of terms no share could take (Progress's `missed`), each when later than the
  // record's, give their terms to the sub-routes still to come (the nodes' clocks compared:
  // NTP-synchronised nodes).
  void AdoptLaterTerms(const std::string& route_id, const Missed& missed);
  // Records an executed GTC or GTT route's shortfall work (Run::Execute): open when something
  // is short, DONE when nothing is (a later amendment of its quantity may open it). True when
  // it is worked; false when nothing is short, or no record is kept (plan-only, IOC,
  // cluster.leave_shortfall, or the ledger could not record it).
  // What node `node` holds of route (or sub-route) `route_id` — its share's quantity, 0 when it
  // took none — asked of that node alone; the error when it cannot be asked.
  absl::StatusOr<int64_t> ShareHeld(const std::string& node, const std::string& route_id);
  // Asks each node whose share of the route is in doubt what it holds, and counts it (under the
  // worker's attempt): "" when none is left in doubt, else why the route must wait.
  std::string ResolveDoubts(const exoroute::v1::ShortfallRecord& record, const RouterEngine& engine);
  bool OpenShortfall(const exoroute::v1::ParentOrder& order, exoroute::v1::RouteMode mode, const std::string& routed_by,
                     const exoroute::v1::ClusterRouteSummary& summary, const RouterEngine& engine);
  std::mutex shortfall_stop_mu_;
  std::condition_variable shortfall_stop_cv_;
  bool shortfall_stop_ = false;
  bool shortfall_wake_ = false;  // A pass is due now (more left to route: ShortfallLedger::SetOnMoreToRoute).
  void WakeShortfallWork();
  std::thread shortfall_thread_;
};

}  // namespace exo::daemon::cluster
