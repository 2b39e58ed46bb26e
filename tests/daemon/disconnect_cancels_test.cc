// DisconnectCancels on explicit times: a plan whose last cancel_on_disconnect watch went away
// falls due after its grace, unless a watch holds it again first; a watch that ends with the
// plan settled (or the node stopping) leaves nothing due.
#include <catch2/catch.hpp>

#include "daemon/disconnect_cancels.h"

using exo::daemon::DisconnectCancels;
using std::chrono::milliseconds;

namespace {

std::vector<std::string> Due(DisconnectCancels& d, DisconnectCancels::Clock::time_point at) {
  std::vector<std::string> out;
  for (const auto& p : d.TakeDue(at)) out.push_back(p.plan_id);
  return out;
}

}  // namespace

TEST_CASE("a plan whose watch went away is due after its grace, once", "[disconnect]") {
  DisconnectCancels d;
  const auto t0 = DisconnectCancels::Clock::now();
  d.Hold("a");
  d.Hold("b");
  CHECK(d.held() == 2);
  CHECK(Due(d, t0 + milliseconds(10'000)).empty());  // Held: never due.
  d.Release("a", /*lost=*/true, milliseconds(500), t0);
  CHECK(d.held() == 1);
  CHECK(d.waiting() == 1);
  CHECK(Due(d, t0 + milliseconds(499)).empty());
  auto due = d.TakeDue(t0 + milliseconds(500));
  REQUIRE(due.size() == 1);
  CHECK(due[0].plan_id == "a");
  CHECK(due[0].grace == milliseconds(500));
  CHECK(Due(d, t0 + milliseconds(10'000)).empty());  // Taken once.
  CHECK(d.waiting() == 0);
  // A grace of 0: due at once.
  d.Release("b", /*lost=*/true, milliseconds(0), t0);
  CHECK(Due(d, t0) == std::vector<std::string>{"b"});
}

TEST_CASE("a watch that comes back within the grace keeps the plan, the last of two decides", "[disconnect]") {
  DisconnectCancels d;
  const auto t0 = DisconnectCancels::Clock::now();
  d.Hold("a");
  d.Release("a", true, milliseconds(1000), t0);
  d.Hold("a");  // Back within the grace.
  CHECK(Due(d, t0 + milliseconds(5000)).empty());
  // Two watches: the first going away is not the plan's end while the second holds it.
  d.Hold("a");
  d.Release("a", true, milliseconds(0), t0);
  CHECK(Due(d, t0 + milliseconds(5000)).empty());
  CHECK(d.held() == 1);
  d.Release("a", true, milliseconds(100), t0 + milliseconds(200));
  CHECK(Due(d, t0 + milliseconds(299)).empty());
  CHECK(Due(d, t0 + milliseconds(300)) == std::vector<std::string>{"a"});
}

TEST_CASE("a watch that ends with its plan settled, or the node stopping, leaves nothing due", "[disconnect]") {
  DisconnectCancels d;
  const auto t0 = DisconnectCancels::Clock::now();
  d.Hold("a");
  d.Release("a", /*lost=*/false, milliseconds(0), t0);
  CHECK(Due(d, t0 + milliseconds(10'000)).empty());
  CHECK(d.held() == 0);
  CHECK(d.waiting() == 0);
  // A release with no hold (say, after the plan was taken due) is ignored.
  d.Release("never", true, milliseconds(0), t0);
  CHECK(Due(d, t0 + milliseconds(10'000)).empty());
}

TEST_CASE("a plan armed before a restart is due after its grace unless a watch holds it first",
          "[disconnect]") {
  DisconnectCancels d;
  const auto t0 = DisconnectCancels::Clock::now();
  d.Await("a", milliseconds(1000), t0);
  d.Await("b", milliseconds(1000), t0);
  CHECK(d.waiting() == 2);
  CHECK(d.held() == 0);
  d.Hold("b");  // Its client came back.
  CHECK(Due(d, t0 + milliseconds(999)).empty());
  CHECK(Due(d, t0 + milliseconds(1000)) == std::vector<std::string>{"a"});
  CHECK(d.held() == 1);
  // b's watch ends with b settled: nothing is due for it, ever.
  d.Release("b", /*lost=*/false, milliseconds(0), t0);
  CHECK(Due(d, t0 + milliseconds(60'000)).empty());
  // A plan held already is left held.
  d.Hold("c");
  d.Await("c", milliseconds(0), t0);
  CHECK(Due(d, t0 + milliseconds(60'000)).empty());
  CHECK(d.held() == 1);
}
