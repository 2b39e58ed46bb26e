#include "daemon/settle_approvals.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace exo::daemon {

using exoroute::v1::SettleProposal;

absl::StatusOr<SettleApprovals::Offered> SettleApprovals::Offer(SettleProposal offer) {
  std::lock_guard<std::mutex> lock(mu_);
  DropExpired(offer.proposed_time_ns());
  const auto key = std::make_pair(offer.plan_id(), offer.cl_ord_id());
  auto it = proposals_.find(key);
  if (it == proposals_.end() || it->second.proposed_by() == offer.proposed_by()) {
    // A new proposal, or its proposer's again: the figures as they are now, from now.
    if (it != proposals_.end() && it->second.filled_quantity() == offer.filled_quantity() &&
        it->second.price() == offer.price() && it->second.fee() == offer.fee() &&
        it->second.reason() == offer.reason()) {
      return Offered{Step::kProposed, it->second};  // Asked again: the proposal stands as it was.
    }
    SettleProposal& kept = proposals_[key];
    kept = std::move(offer);
    return Offered{Step::kProposed, kept};
  }
  const SettleProposal& p = it->second;
  const auto differs = [&](const char* field, int64_t proposed, int64_t offered) -> absl::Status {
    return absl::FailedPreconditionError(absl::StrCat(
        field, ": ", offered, " is not the ", proposed, " that client ", p.proposed_by(), " proposed for child ",
        p.cl_ord_id(), " (", p.reason(), "): approve the same figures, or have ", p.proposed_by(),
        " propose again"));
  };
  if (p.filled_quantity() != offer.filled_quantity()) {
    return differs("filled_quantity", p.filled_quantity(), offer.filled_quantity());
  }
  if (p.price() != offer.price()) return differs("price", p.price(), offer.price());
  if (p.fee() != offer.fee()) return differs("fee", p.fee(), offer.fee());
  Offered out{Step::kApproved, p};
  proposals_.erase(it);
  return out;
}

void SettleApprovals::Forget(const std::string& plan_id, const std::string& cl_ord_id) {
  std::lock_guard<std::mutex> lock(mu_);
  proposals_.erase(std::make_pair(plan_id, cl_ord_id));
}

std::vector<SettleProposal> SettleApprovals::Pending(int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  DropExpired(now_ns);
  std::vector<SettleProposal> out;
  out.reserve(proposals_.size());
  for (const auto& [key, p] : proposals_) out.push_back(p);
  std::stable_sort(out.begin(), out.end(), [](const SettleProposal& a, const SettleProposal& b) {
    return a.proposed_time_ns() < b.proposed_time_ns();
  });
  return out;
}

void SettleApprovals::DropExpired(int64_t now_ns) {
  for (auto it = proposals_.begin(); it != proposals_.end();) {
    it = now_ns - it->second.proposed_time_ns() >= kLifetimeNs ? proposals_.erase(it) : std::next(it);
  }
}

std::string ApprovedReason(const SettleProposal& proposal, const std::string& approver,
                           const std::string& approver_reason) {
  return absl::StrCat(proposal.reason(), " (proposed by client ", proposal.proposed_by(), "; approved by client ",
                      approver, ": ", approver_reason, ")");
}

}  // namespace exo::daemon
