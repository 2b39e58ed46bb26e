// What `exoroutectl status` tells an operator about counters that need a look.
#include <catch2/catch.hpp>

#include "clients/exoroutectl/render.h"

using namespace exoroute::v1;  // NOLINT

TEST_CASE("status shows execution and peer counters only when they are non-zero", "[ctl]") {
  StatusResponse r;
  r.set_node_id("n1");
  std::string quiet = exo::ctl::RenderStatus(r);
  CHECK(quiet.find("arrived twice") == std::string::npos);
  CHECK(quiet.find("matched no open child") == std::string::npos);
  CHECK(quiet.find("peer calls refused") == std::string::npos);

  r.set_duplicate_executions(2);
  r.set_unknown_executions(1);
  r.set_peer_calls_refused(3);
  std::string busy = exo::ctl::RenderStatus(r);
  CHECK(busy.find("executions  2 fill reports arrived twice (venue resends) and were recorded once") !=
        std::string::npos);
  CHECK(busy.find("WARNING     1 execution reports matched no open child order") != std::string::npos);
  CHECK(busy.find("WARNING     3 peer calls refused") != std::string::npos);
}
