// How a cluster route's coordinator reaches the nodes (docs/cluster.md, "Protocol"): NodeLink is
// one node — this node in process, a peer over its mutual-TLS Exchange stream — and FanOut asks
// every node one kind of call at once. A link serves one call at a time; the coordinator's
// thread owns the links it calls (Coordinator holds its mutex through a route).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/cluster/cluster_node.h"
#include "daemon/latency_histogram.h"
#include "exoroute/v1/peer.grpc.pb.h"

namespace exo::daemon::cluster {

// A node as the coordinator reaches it: this node in process, a peer over its Exchange stream.
// A call is sent, then its answer received, so that a round's calls to every node go out
// before any answer is awaited. One call at a time per link. Each link keeps, per kind of call,
// how long its answers took (from Send to the answer; /metrics).
class NodeLink {
 public:
  virtual ~NodeLink() = default;
  virtual const std::string& node_id() const = 0;
  void Send(exoroute::v1::PeerCall call);
  // The answer to the call sent last: the node's reply or the error it answered, or why there
  // is none (the node is down, refuses this node, or missed the round's deadline).
  //
  // A node that misses a call's deadline is silent from then on (it stalls, or its machine went
  // silent: powered off, cut off): later calls are not sent and fail at once, UNAVAILABLE with
  // the reason (and the kSilentPayload payload), so that no route, cancel or look at a route
  // waits on it again, until CheckIfSilent finds it answering.
  absl::StatusOr<exoroute::v1::PeerAnswer> Receive();
  // Answer times of the calls of `kind` (a PeerCall::CallCase).
  const LatencyHistogram& latency(exoroute::v1::PeerCall::CallCase kind) const;
  // Why the node is silent, if it is. Thread-safe.
  std::optional<std::string> silent() const;
  // For a silent node: asks it whether it answers at all (Check); once it does, it is no longer
  // silent (true). Thread-safe, and safe beside the link's calls.
  bool CheckIfSilent();
  static constexpr char kSilentPayload[] = "exoroute.silent-node";
  static constexpr std::chrono::milliseconds kCheckSilentEvery{1000};

 protected:
  // Whether the node answers at all, outside the link's calls: a peer is asked for its Hello
  // within the call deadline, on a call of its own (not the route's stream). OK when it
  // answered, even to refuse.
  virtual absl::Status Check() { return absl::OkStatus(); }
  virtual void DoSend(exoroute::v1::PeerCall call) = 0;
  virtual absl::StatusOr<exoroute::v1::PeerAnswer> DoReceive() = 0;

 private:
  static constexpr size_t kKinds = 12;  // PeerCall's cases, 0 (none) to 11.
  std::array<LatencyHistogram, kKinds> latency_;
  std::chrono::steady_clock::time_point sent_;
  size_t kind_ = 0;
  bool not_sent_ = false;  // The call sent last went nowhere: the node is silent.
  mutable std::mutex silent_mu_;
  std::optional<std::string> silent_;  // Why (guarded by silent_mu_).
};

// This node's own venues.
std::unique_ptr<NodeLink> LocalLink(ClusterNode* node);
// A peer over `channel`; every call has `timeout_ms` as its deadline.
std::unique_ptr<NodeLink> RemoteLink(std::string node_id, std::shared_ptr<grpc::Channel> channel,
                                     uint32_t timeout_ms);

// Each kind of call: its request and reply types, and where they go in PeerCall / PeerAnswer.
template <typename Request>
struct PeerKind;
#define EXO_PEER_KIND(Request, Reply, field, Case)                                                     \
  template <>                                                                                           \
  struct PeerKind<exoroute::v1::Request> {                                                              \
    using ReplyType = exoroute::v1::Reply;                                                              \
    static constexpr exoroute::v1::PeerAnswer::AnswerCase kCase = exoroute::v1::PeerAnswer::Case;       \
    static void Put(const exoroute::v1::Request& r, exoroute::v1::PeerCall* c) { *c->mutable_##field() = r; } \
    static exoroute::v1::Reply* Take(exoroute::v1::PeerAnswer* a) { return a->mutable_##field(); }      \
  };
EXO_PEER_KIND(BestPriceRequest, BestPriceReply, best_price, kBestPrice)
EXO_PEER_KIND(PrepareRequest, PrepareReply, prepare, kPrepare)
EXO_PEER_KIND(EvaluateRequest, EvaluateReply, evaluate, kEvaluate)
EXO_PEER_KIND(BreakpointRequest, BreakpointReply, next_breakpoint, kNextBreakpoint)
EXO_PEER_KIND(SplitTiesRequest, SplitTiesReply, split_ties, kSplitTies)
EXO_PEER_KIND(LimitsRequest, LimitsReply, check_limits, kCheckLimits)
EXO_PEER_KIND(ExecuteRequest, ExecuteReply, execute, kExecute)
EXO_PEER_KIND(AbortRequest, AbortReply, abort, kAbort)
EXO_PEER_KIND(CancelRouteRequest, CancelRouteReply, cancel, kCancel)
EXO_PEER_KIND(ProgressRequest, ProgressReply, progress, kProgress)
EXO_PEER_KIND(AmendShareRequest, AmendShareReply, amend, kAmend)
#undef EXO_PEER_KIND

// A node's error without the "node <id>: " ReplyOf names it with: for a field that names the
// node already (NodeAmend.error, NodeCancel.error, NodeProgress.error).
inline std::string WithoutNode(const absl::Status& s, const std::string& node) {
  absl::string_view m = s.message();
  absl::ConsumePrefix(&m, absl::StrCat("node ", node, ": "));
  return std::string(m);
}

// The reply of `Kind` in a node's answer, or the error it answered (naming the node).
template <typename Kind>
absl::StatusOr<typename Kind::ReplyType> ReplyOf(const std::string& node,
                                                 absl::StatusOr<exoroute::v1::PeerAnswer> answer) {
  if (!answer.ok()) return answer.status();
  if (answer->has_error()) {
    // An error is a gRPC status code other than OK (1..16); a node that answers another is faulty.
    const int32_t code = answer->error().code();
    if (code <= 0 || code > static_cast<int32_t>(absl::StatusCode::kUnauthenticated)) {
      return absl::InternalError(absl::StrCat("node ", node, ": answered an error with code ", code,
                                              ", which is not an error: ", answer->error().message()));
    }
    return absl::Status(static_cast<absl::StatusCode>(code), absl::StrCat("node ", node, ": ", answer->error().message()));
  }
  if (answer->answer_case() != Kind::kCase) {
    return absl::InternalError(absl::StrCat("node ", node, ": answered another kind of call"));
  }
  return std::move(*Kind::Take(&*answer));
}

// Asks node i make(i) for every node at once: every call goes out before any answer is awaited
// (this node's own is answered on this thread meanwhile). Answers in node order, so that sums
// are added in the same order every time.
template <typename MakeRequest>
auto FanOut(const std::vector<NodeLink*>& nodes, MakeRequest make) {
  using Kind = PeerKind<std::decay_t<decltype(make(size_t{0}))>>;
  for (size_t i = 0; i < nodes.size(); ++i) {
    exoroute::v1::PeerCall call;
    Kind::Put(make(i), &call);
    nodes[i]->Send(std::move(call));
  }
  std::vector<absl::StatusOr<typename Kind::ReplyType>> out;
  out.reserve(nodes.size());
  for (NodeLink* n : nodes) out.push_back(ReplyOf<Kind>(n->node_id(), n->Receive()));
  return out;
}

// Has `node` forget `route_id` (its answer, or none, does not matter).
inline void AbortOn(NodeLink* node, const std::string& route_id) {
  exoroute::v1::AbortRequest r;
  r.set_route_id(route_id);
  (void)FanOut({node}, [&r](size_t) -> const exoroute::v1::AbortRequest& { return r; });
}

}  // namespace exo::daemon::cluster
