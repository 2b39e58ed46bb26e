#include "daemon/cluster/node_link.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/cord.h"
#include "daemon/cluster/peer_stream.h"

namespace exo::daemon::cluster {

using exoroute::v1::HelloReply;
using exoroute::v1::HelloRequest;
using exoroute::v1::PeerAnswer;
using exoroute::v1::PeerCall;
using exoroute::v1::PeerService;

void NodeLink::Send(PeerCall call) {
  not_sent_ = silent().has_value();
  if (not_sent_) return;
  kind_ = std::min<size_t>(static_cast<size_t>(call.call_case()), kKinds - 1);
  sent_ = std::chrono::steady_clock::now();
  DoSend(std::move(call));
}

absl::StatusOr<PeerAnswer> NodeLink::Receive() {
  if (not_sent_) {
    absl::Status refused = absl::UnavailableError(silent().value_or("silent"));
    refused.SetPayload(kSilentPayload, absl::Cord());
    return refused;
  }
  absl::StatusOr<PeerAnswer> answer = DoReceive();
  latency_[kind_].Record(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now() - sent_).count());
  if (absl::IsDeadlineExceeded(answer.status())) {
    std::lock_guard<std::mutex> lock(silent_mu_);
    silent_ = absl::StrCat(answer.status().message(), ": not asked again until it answers (asked every ",
                           kCheckSilentEvery.count() / 1000.0, " s)");
  }
  return answer;
}

std::optional<std::string> NodeLink::silent() const {
  std::lock_guard<std::mutex> lock(silent_mu_);
  return silent_;
}

bool NodeLink::CheckIfSilent() {
  if (!silent().has_value() || !Check().ok()) return false;
  std::lock_guard<std::mutex> lock(silent_mu_);
  silent_.reset();
  return true;
}

const LatencyHistogram& NodeLink::latency(PeerCall::CallCase kind) const {
  return latency_[std::min<size_t>(static_cast<size_t>(kind), kKinds - 1)];
}

namespace {

class InProcessLink final : public NodeLink {
 public:
  explicit InProcessLink(ClusterNode* node) : node_(node) {}
  const std::string& node_id() const override { return node_->node_id(); }

 protected:
  void DoSend(PeerCall call) override { call_ = std::move(call); }
  // Answered here, on the coordinator's thread, while the peers work on theirs.
  absl::StatusOr<PeerAnswer> DoReceive() override { return node_->Answer(call_); }

 private:
  ClusterNode* node_;
  PeerCall call_;
};

// A peer, over one Exchange stream (peer_stream.h).
class GrpcLink final : public NodeLink {
 public:
  GrpcLink(std::string node_id, std::shared_ptr<grpc::Channel> channel, uint32_t timeout_ms)
      : node_id_(node_id), check_stub_(PeerService::NewStub(channel)), timeout_ms_(timeout_ms),
        stream_(std::move(node_id), std::move(channel), timeout_ms) {}
  const std::string& node_id() const override { return node_id_; }
  absl::Status Check() override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_));
    HelloReply reply;
    const grpc::Status s = check_stub_->Hello(&ctx, HelloRequest(), &reply);
    const bool silent = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                        s.error_code() == grpc::StatusCode::UNAVAILABLE;
    return silent ? absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message()) : absl::OkStatus();
  }

 protected:
  void DoSend(PeerCall call) override { stream_.Send(std::move(call)); }
  absl::StatusOr<PeerAnswer> DoReceive() override { return stream_.Receive(); }

 private:
  std::string node_id_;
  const std::unique_ptr<PeerService::Stub> check_stub_;
  const uint32_t timeout_ms_;
  PeerStream stream_;
};

}  // namespace

std::unique_ptr<NodeLink> LocalLink(ClusterNode* node) { return std::make_unique<InProcessLink>(node); }

std::unique_ptr<NodeLink> RemoteLink(std::string node_id, std::shared_ptr<grpc::Channel> channel,
                                     uint32_t timeout_ms) {
  return std::make_unique<GrpcLink>(std::move(node_id), std::move(channel), timeout_ms);
}

}  // namespace exo::daemon::cluster
