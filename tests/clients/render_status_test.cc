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

TEST_CASE("status shows the chain-signing key and the metrics URL when the node has them", "[ctl]") {
  StatusResponse r;
  r.set_node_id("n1");
  std::string plain = exo::ctl::RenderStatus(r);
  CHECK(plain.find("signing key") == std::string::npos);
  CHECK(plain.find("metrics") == std::string::npos);
  r.set_chain_signing_key(std::string(31, '\0') + "\x2a");
  r.set_admin_url("http://127.0.0.1:9464");
  std::string full = exo::ctl::RenderStatus(r);
  CHECK(full.find("signing key " + std::string(62, '0') + "2a (Ed25519, chain heads)\n") != std::string::npos);
  CHECK(full.find("metrics     http://127.0.0.1:9464/metrics\n") != std::string::npos);
}
