// The coordinator of a cluster route: runs the exact dual search over every node's sums, splits
// the tie at the final λ by one broadcast fraction, gives out the remainder lots, and asks each
// node to fix and record its share. Nodes are reached through NodeLink: in process for this
// node's own venues, over mutual-TLS gRPC for peers. A node that fails or misses a round's
// deadline is dropped and the search restarts without it (or the route fails), per policy.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/cluster/cluster_node.h"
#include "daemon/cluster/fan_out.h"
#include "exoroute/v1/config.pb.h"
#include "exoroute/v1/peer.grpc.pb.h"
#include "exoroute/v1/router.pb.h"

namespace exo::daemon::cluster {

class NodeLink {
 public:
  virtual ~NodeLink() = default;
  virtual const std::string& node_id() const = 0;
  virtual absl::StatusOr<exoroute::v1::PrepareReply> Prepare(const exoroute::v1::PrepareRequest&) = 0;
  virtual absl::StatusOr<exoroute::v1::EvaluateReply> Evaluate(const exoroute::v1::EvaluateRequest&) = 0;
  virtual absl::StatusOr<exoroute::v1::BreakpointReply> NextBreakpoint(
      const exoroute::v1::BreakpointRequest&) = 0;
  virtual absl::StatusOr<exoroute::v1::SplitTiesReply> SplitTies(const exoroute::v1::SplitTiesRequest&) = 0;
  virtual absl::StatusOr<exoroute::v1::LimitsReply> CheckLimits(const exoroute::v1::LimitsRequest&) = 0;
  virtual absl::StatusOr<exoroute::v1::ExecuteReply> Execute(const exoroute::v1::ExecuteRequest&) = 0;
  virtual void Abort(const std::string& route_id) = 0;
};

// This node's own venues.
std::unique_ptr<NodeLink> LocalLink(ClusterNode* node);
// A peer over `channel`; every call has `timeout_ms` as its deadline.
std::unique_ptr<NodeLink> RemoteLink(std::string node_id, std::shared_ptr<grpc::Channel> channel,
                                     uint32_t timeout_ms);

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
  // and the route's summary. Serialised: one cluster route at a time per coordinator.
  absl::StatusOr<exoroute::v1::RouteResponse> Route(const exoroute::v1::ParentOrder& order,
                                                    exoroute::v1::RouteMode mode,
                                                    RouterEngine* engine);

 private:
  const std::string node_id_;
  std::vector<std::unique_ptr<NodeLink>> links_;
  const exoroute::v1::NodeFailurePolicy policy_;
  const bool noisy_;
  const exoroute::v1::NodeFailurePolicy on_exhausted_;
  std::mutex mu_;     // One route at a time.
  FanOutPool pool_;   // The calls of a round, one thread per peer (used under mu_).
};

}  // namespace exo::daemon::cluster
