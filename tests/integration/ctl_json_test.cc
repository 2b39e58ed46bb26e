// `exoroutectl --json`: what scripts and integrators read instead of the tables. Every command's
// output is JSON — one object, or JSON lines for the streams (replay, watch, report) — holding
// the fields docs/api.md names, online and offline (--data-dir).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/e2e.h"
#include "tests/testing/temp_dir.h"

using exo::testing::CommandResult;
using exo::testing::Connect;
using exo::testing::Ctl;
using exo::testing::DaemonProcess;
using exo::testing::kBtc;
using exo::testing::TempDir;
using exo::testing::TestConfigJson;
using namespace exoroute::v1;  // NOLINT

namespace {

// `r`'s output as JSON objects: the whole output as one, or else each non-empty line as one.
// Fails the test (naming the line) when neither holds.
std::vector<google::protobuf::Struct> JsonObjects(const CommandResult& r) {
  std::vector<google::protobuf::Struct> out(1);
  if (google::protobuf::util::JsonStringToMessage(r.out, &out[0]).ok()) return out;
  out.clear();
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipWhitespace())) {
    google::protobuf::Struct s;
    const auto parsed = google::protobuf::util::JsonStringToMessage(std::string(line), &s);
    INFO("not a JSON object: " << line);
    REQUIRE(parsed.ok());
    out.push_back(std::move(s));
  }
  return out;
}

// Runs `args` with --json (through the daemon, or offline when they name --data-dir) and checks
// that it succeeds and prints `min_objects` JSON objects or more, the first holding `key`.
std::vector<google::protobuf::Struct> CheckJson(const DaemonProcess& d, std::vector<std::string> args,
                                                const std::string& key, size_t min_objects = 1) {
  args.insert(args.begin(), "--json");
  const bool offline = std::find(args.begin(), args.end(), "--data-dir") != args.end();
  const CommandResult r = offline ? exo::testing::Run(EXOROUTECTL_PATH, args) : Ctl(d, args);
  INFO(absl::StrJoin(args, " ") << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<google::protobuf::Struct> objects = JsonObjects(r);
  REQUIRE(objects.size() >= min_objects);
  if (!objects.empty()) CHECK(objects[0].fields().count(key) == 1);
  return objects;
}

}  // namespace

TEST_CASE("every exoroutectl command prints JSON with --json, online and offline", "[e2e][cli]") {
  TempDir dir;
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), TestConfigJson(dir.path()), &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  RouteResponse resp;
  REQUIRE(exo::testing::CallRoute(ch, exo::testing::BtcOrder("j-plan", SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());
  RouteRequest rest = exo::testing::BtcOrder("j-rest", SIDE_BUY, kBtc, ROUTE_MODE_EXECUTE);
  rest.mutable_order()->set_limit_price(10000);  // 100.00: rests, working.
  REQUIRE(exo::testing::CallRoute(ch, rest, &resp).ok());
  const std::string data = dir.path();

  // A plan traded to the end (route --execute --wait prints the settled plan).
  auto traded = CheckJson(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "0.5", "--id", "j-done",
                               "--execute", "--wait"}, "plan_id");
  CHECK(traded[0].fields().at("status").string_value() == "PLAN_STATUS_COMPLETED");
  auto status = CheckJson(*d, {"status"}, "node_id");
  CHECK(status[0].fields().at("node_id").string_value() == "node-1");
  CheckJson(*d, {"budgets"}, "node_id");
  CheckJson(*d, {"books", "BTC-USD"}, "venues");
  auto working = CheckJson(*d, {"plan", "list"}, "plan_id");
  CHECK(working.size() == 1);  // j-rest; the others settled.
  CHECK(working[0].fields().at("plan_id").string_value() == "j-rest");
  CheckJson(*d, {"plan", "show", "j-done"}, "children");
  auto amended = CheckJson(*d, {"plan", "amend", "j-rest", "--limit", "101"}, "plan");  // AmendPlanResponse.
  CHECK(amended[0].fields().at("plan").struct_value().fields().at("order").struct_value().fields().at("limit_price")
            .string_value() == "10100");
  CheckJson(*d, {"plan", "books", "j-done"}, "books");
  CheckJson(*d, {"route-status", "j-done"}, "filled_quantity");
  CheckJson(*d, {"watch", "j-done"}, "sequence", 4);
  CheckJson(*d, {"replay", "--plan", "j-done"}, "plan_id", 4);
  CheckJson(*d, {"report"}, "plan_id", 2);
  auto verified = CheckJson(*d, {"audit", "verify", "--recompute"}, "ok");
  CHECK(verified[0].fields().at("ok").bool_value());
  CheckJson(*d, {"audit", "head"}, "signed_head");
  CheckJson(*d, {"audit", "prove", "--sequence", "3"}, "root");
  CheckJson(*d, {"contracts"}, "edges");
  CheckJson(*d, {"halt", "--reason", "json test", "--venue", "SIM-C"}, "trading");
  CheckJson(*d, {"resume", "--reason", "json test", "--venue", "SIM-C"}, "trading");
  CheckJson(*d, {"config", "show"}, "node_id");
  CheckJson(*d, {"backup", "json-1"}, "path");
  REQUIRE(Ctl(*d, {"plan", "books", "j-done", "--out", dir / "books.json", "--config-out", dir / "terms.json"}).exit_code == 0);
  CheckJson(*d, {"solve", "--books", dir / "books.json", "--config", dir / "terms.json", "--side", "buy", "--qty", "1"},
            "stats");
  auto cancelled = CheckJson(*d, {"plan", "cancel", "j-rest"}, "plan");  // CancelPlanResponse.
  CHECK(cancelled[0].fields().at("plan").struct_value().fields().at("status").string_value() == "PLAN_STATUS_CANCELLED");

  // Offline, from the database directly (read-only, while the daemon runs).
  CheckJson(*d, {"--data-dir", data, "replay", "--plan", "j-done"}, "plan_id", 4);
  CheckJson(*d, {"--data-dir", data, "report"}, "plan_id", 2);
  CheckJson(*d, {"--data-dir", data, "audit", "verify"}, "ok");
  CheckJson(*d, {"--data-dir", data, "config", "show"}, "node_id");
  CheckJson(*d, {"--data-dir", data, "plan", "books", "j-done"}, "books");
  CHECK(d->Terminate() == 0);
}
