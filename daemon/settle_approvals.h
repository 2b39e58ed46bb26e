// Four eyes on settlements (routing.settle_approvals 2): the first operator's SettleChild
// proposes a child's settlement, and it is settled only when another operator (another client
// certificate) asks for the same figures. Proposals are kept in memory only: nothing is
// recorded until the approval, and a restart, the child's end (Forget) or kLifetime forgets one.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "exoroute/v1/admin.pb.h"

namespace exo::daemon {

class SettleApprovals {
 public:
  static constexpr int64_t kLifetimeNs = int64_t{3600} * 1'000'000'000;  // An hour.

  // What an operator's call does to the child's settlement.
  enum class Step {
    kProposed,  // The first call, or its proposer's again (a correction replaces the figures).
    kApproved,  // Another operator's call with the same figures: settle it now.
  };
  struct Offered {
    Step step;
    // kProposed: the proposal as it now stands. kApproved: the proposal approved (its
    // proposer's reason and name go into the recorded reason).
    exoroute::v1::SettleProposal proposal;
  };

  // `offer` carries the call's figures, reason, proposed_by (the caller's name, not empty) and
  // proposed_time_ns (now). FAILED_PRECONDITION naming the first figure that differs when
  // another operator's figures are not the proposal's. An approved proposal is forgotten.
  absl::StatusOr<Offered> Offer(exoroute::v1::SettleProposal offer);
  // Forgets the child's proposal, if any (it settled, ended, or can no longer be).
  void Forget(const std::string& plan_id, const std::string& cl_ord_id);
  // The proposals still awaiting approval at `now_ns`, oldest first.
  std::vector<exoroute::v1::SettleProposal> Pending(int64_t now_ns);

 private:
  void DropExpired(int64_t now_ns);  // Under mu_.
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, exoroute::v1::SettleProposal> proposals_;  // By (plan, child).
};

// The reason recorded for an approved settlement: both operators' names and reasons.
std::string ApprovedReason(const exoroute::v1::SettleProposal& proposal, const std::string& approver,
                           const std::string& approver_reason);

}  // namespace exo::daemon
