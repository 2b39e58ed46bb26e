// ChildOutcomes on explicit times: how a child ended from what had filled and its last report's
// reason; per venue counts; the time from sending to done for the children this process sent.
#include "daemon/child_outcomes.h"

#include <catch2/catch.hpp>

using exo::daemon::ChildOutcomes;
using std::chrono::milliseconds;

TEST_CASE("a child's outcome: filled whole, partly, not at all, or rejected", "[outcomes]") {
  CHECK(ChildOutcomes::Of(5, 5, "filled") == ChildOutcomes::kFilled);
  CHECK(ChildOutcomes::Of(6, 5, "filled") == ChildOutcomes::kFilled);  // An overfill is still filled.
  CHECK(ChildOutcomes::Of(2, 5, "ioc remainder") == ChildOutcomes::kPartial);
  CHECK(ChildOutcomes::Of(2, 5, "rejected: price") == ChildOutcomes::kPartial);  // Something filled.
  CHECK(ChildOutcomes::Of(0, 5, "cancelled") == ChildOutcomes::kUnfilled);
  CHECK(ChildOutcomes::Of(0, 5, "rejected: quantity 9 above the venue's maximum order size 5") ==
        ChildOutcomes::kRejected);
  CHECK(std::string(ChildOutcomes::Name(ChildOutcomes::kPartial)) == "partial");
}

TEST_CASE("per venue: each child counted once by outcome, timed from its sending by this process", "[outcomes]") {
  ChildOutcomes o({"A", "B"});
  const auto t0 = ChildOutcomes::Clock::time_point{} + std::chrono::hours(1);
  o.Sent("p.1", t0);
  o.Sent("p.2", t0 + milliseconds(1));
  CHECK(o.open() == 2);
  o.Done("A", "p.1", ChildOutcomes::kFilled, t0 + milliseconds(3));
  o.Done("B", "p.2", ChildOutcomes::kRejected, t0 + milliseconds(2));
  o.Done("A", "p.0", ChildOutcomes::kUnfilled, t0 + milliseconds(9));  // Sent before a restart: not timed.
  o.Done("Z", "p.9", ChildOutcomes::kFilled, t0);                      // Not a venue of this node.
  CHECK(o.open() == 0);
  const ChildOutcomes::Figures a = o.Read("A"), b = o.Read("B");
  CHECK(a.counts[ChildOutcomes::kFilled] == 1);
  CHECK(a.counts[ChildOutcomes::kUnfilled] == 1);
  CHECK(a.counts[ChildOutcomes::kRejected] == 0);
  CHECK(a.to_done.count == 1);
  CHECK(a.to_done.sum_ns == 3'000'000);
  CHECK(b.counts[ChildOutcomes::kRejected] == 1);
  CHECK(b.to_done.sum_ns == 1'000'000);
  CHECK(o.Read("Z").to_done.count == 0);
}
