// A NodeLink that hands on another link's answers after a function has changed them: a faulty
// or lying peer, for the coordinator's tests and its fuzz target. Not thread-safe (as NodeLink).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "daemon/cluster/coordinator.h"

namespace exo::testing {

class ChangingLink final : public daemon::cluster::NodeLink {
 public:
  ChangingLink(std::unique_ptr<NodeLink> inner, std::function<void(exoroute::v1::PeerAnswer*)> change)
      : inner_(std::move(inner)), change_(std::move(change)) {}
  const std::string& node_id() const override { return inner_->node_id(); }

 protected:
  void DoSend(exoroute::v1::PeerCall call) override { inner_->Send(std::move(call)); }
  absl::StatusOr<exoroute::v1::PeerAnswer> DoReceive() override {
    absl::StatusOr<exoroute::v1::PeerAnswer> a = inner_->Receive();
    if (a.ok()) change_(&*a);
    return a;
  }

 private:
  std::unique_ptr<NodeLink> inner_;
  std::function<void(exoroute::v1::PeerAnswer*)> change_;
};

}  // namespace exo::testing
