// Four eyes on settlements: who proposes, who approves, and which figures pass.
#include "daemon/settle_approvals.h"

#include <catch2/catch.hpp>

namespace {

using exo::daemon::SettleApprovals;
using exoroute::v1::SettleProposal;

constexpr int64_t kSecond = 1'000'000'000;

SettleProposal Offer(const std::string& by, int64_t filled, int64_t price, int64_t at_s,
                     const std::string& child = "p-1.2") {
  SettleProposal o;
  o.set_plan_id("p-1");
  o.set_cl_ord_id(child);
  o.set_filled_quantity(filled);
  o.set_price(price);
  o.set_fee(price > 0 ? 7 : 0);
  o.set_reason("desk " + by);
  o.set_proposed_by(by);
  o.set_proposed_time_ns(at_s * kSecond);
  return o;
}

}  // namespace

TEST_CASE("a settlement takes a second operator with the same figures", "[settle][approvals]") {
  SettleApprovals a;
  auto first = a.Offer(Offer("ops-1", 40, 650, 100));
  REQUIRE(first.ok());
  CHECK(first->step == SettleApprovals::Step::kProposed);
  CHECK(first->proposal.proposed_by() == "ops-1");
  // The proposer asking again approves nothing: it stays proposed, from when it was first.
  auto again = a.Offer(Offer("ops-1", 40, 650, 130));
  REQUIRE(again.ok());
  CHECK(again->step == SettleApprovals::Step::kProposed);
  CHECK(again->proposal.proposed_time_ns() == 100 * kSecond);
  REQUIRE(a.Pending(131 * kSecond).size() == 1);
  // Another operator with other figures approves nothing, and is told which figure differs.
  auto other = a.Offer(Offer("ops-2", 40, 651, 140));
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(other.status().message() ==
        "price: 651 is not the 650 that client ops-1 proposed for child p-1.2 (desk ops-1): approve the same figures, "
        "or have ops-1 propose again");
  auto fewer = a.Offer(Offer("ops-2", 30, 650, 140));
  REQUIRE_FALSE(fewer.ok());
  CHECK(fewer.status().message().rfind("filled_quantity: 30 is not the 40", 0) == 0);
  REQUIRE(a.Pending(141 * kSecond).size() == 1);  // Still the first proposal.
  // Another operator with the same figures approves it: it is handed over and forgotten.
  auto approved = a.Offer(Offer("ops-2", 40, 650, 150));
  REQUIRE(approved.ok());
  CHECK(approved->step == SettleApprovals::Step::kApproved);
  CHECK(approved->proposal.proposed_by() == "ops-1");
  CHECK(approved->proposal.reason() == "desk ops-1");
  CHECK(a.Pending(151 * kSecond).empty());
  CHECK(exo::daemon::ApprovedReason(approved->proposal, "ops-2", "checked ticket 4711") ==
        "desk ops-1 (proposed by client ops-1; approved by client ops-2: checked ticket 4711)");
}

TEST_CASE("a proposer corrects its proposal, proposals end with the child, or after an hour", "[settle][approvals]") {
  SettleApprovals a;
  REQUIRE(a.Offer(Offer("ops-1", 40, 650, 100)).ok());
  // The proposer's new figures replace its own (and restart the hour).
  auto corrected = a.Offer(Offer("ops-1", 50, 655, 200));
  REQUIRE(corrected.ok());
  CHECK(corrected->step == SettleApprovals::Step::kProposed);
  CHECK(corrected->proposal.filled_quantity() == 50);
  CHECK(corrected->proposal.proposed_time_ns() == 200 * kSecond);
  CHECK_FALSE(a.Offer(Offer("ops-2", 40, 650, 210)).ok());  // The old figures no longer pass.
  // Proposals of other children are their own, listed oldest first.
  REQUIRE(a.Offer(Offer("ops-3", 0, 0, 150, "p-1.3")).ok());
  auto pending = a.Pending(220 * kSecond);
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].cl_ord_id() == "p-1.3");
  CHECK(pending[1].cl_ord_id() == "p-1.2");
  // The child ended (settled, or the venue answered at last): its proposal is gone.
  a.Forget("p-1", "p-1.3");
  REQUIRE(a.Pending(220 * kSecond).size() == 1);
  // An hour after it was made, a proposal is forgotten: an approval then proposes anew.
  CHECK(a.Pending((200 + 3599) * kSecond).size() == 1);
  CHECK(a.Pending((200 + 3600) * kSecond).empty());
  auto late = a.Offer(Offer("ops-2", 50, 655, 200 + 3601));
  REQUIRE(late.ok());
  CHECK(late->step == SettleApprovals::Step::kProposed);
  CHECK(late->proposal.proposed_by() == "ops-2");
}
