// The FIX layer (exo_fix) against the test FIX venue over a real QuickFIX session.
#include "adapters/fix/fix_engine.h"

#include <catch2/catch.hpp>
#include <mutex>

#include "tests/testing/free_port.h"
#include "tests/testing/recorded_feeds.h"
#include "tests/testing/temp_dir.h"

TEST_CASE("a cancel for an order the venue no longer has comes back as an OrderCancelReject",
          "[fix]") {
  exo::testing::TempDir dir;
  exo::fix::SessionConfig venue;
  venue.port = exo::testing::FreePort();
  venue.sender_comp_id = "V";
  venue.target_comp_id = "E";
  venue.store_dir = dir / "venue";
  exo::fix::SessionConfig client = venue;
  client.sender_comp_id = "E";
  client.target_comp_id = "V";
  client.store_dir = dir / "client";
  std::string error;
  auto v = exo::fix::FixTestVenue::Create(venue, {{"100", "5"}}, {}, &error);
  REQUIRE(v);
  REQUIRE(v->Start(&error));
  std::mutex mu;
  std::vector<std::string> rejects;
  std::vector<exo::fix::ExecReport> reports;
  exo::fix::FixClient::Callbacks cb;
  cb.on_cancel_reject = [&](const std::string& id, const std::string& orig, const std::string& text) {
    std::lock_guard<std::mutex> l(mu);
    rejects.push_back(id + " " + orig + " " + text);
  };
  cb.on_exec_report = [&](const exo::fix::ExecReport& r) {
    std::lock_guard<std::mutex> l(mu);
    reports.push_back(r);
  };
  auto c = exo::fix::FixClient::Create(client, cb, &error);
  REQUIRE(c);
  REQUIRE(c->Start(&error));
  REQUIRE(exo::testing::WaitFor([&] { return c->logged_on(); }));
  // An IOC order fills at once; cancelling it afterwards is too late.
  REQUIRE(c->SendNewOrder("o1", "X", true, "2", "100", "3", &error));
  REQUIRE(exo::testing::WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return !reports.empty() && reports.back().ord_status == "2";
  }));
  REQUIRE(c->SendCancel("o1-C", "o1", "X", true, "2", &error));
  REQUIRE(exo::testing::WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return !rejects.empty();
  }));
  CHECK(rejects[0] == "o1-C o1 too late to cancel");
  CHECK(reports[0].last_qty == "2.00000000");
  CHECK(reports[0].exec_type == "F");
  c->Stop();
  v->Stop();
}
