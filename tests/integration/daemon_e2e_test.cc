// End-to-end tests of the real exorouted binary over real TLS, driven by the C++ client library
// and the real exoroutectl.
#include <catch2/catch.hpp>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <mutex>
#include <set>
#include <thread>

#include <filesystem>
#include <fstream>
#include <functional>

#include <boost/asio/ip/tcp.hpp>

#include "adapters/fix/fix_engine.h"
#include "clients/cpp/exoroute_client.h"
#include "daemon/dev_certs.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "rocksdb/db.h"
#include "tests/testing/raw_store.h"
#include "store/head_signature.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/adapters/feed_server.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/e2e.h"
#include "tests/testing/free_port.h"
#include "tests/testing/http_get.h"
#include "tests/testing/recorded_feeds.h"
#include "tests/testing/temp_dir.h"

using exo::testing::CallRoute;
using exo::testing::Connect;
using exo::testing::Ctl;
using exo::testing::kBtc;
using exo::testing::DaemonProcess;
using exo::testing::TempDir;
using exo::testing::TestConfigJson;
using namespace exoroute::v1;  // NOLINT

namespace {

std::unique_ptr<DaemonProcess> StartDaemon(const std::string& dir, int api_port = 0) {
  std::string json = TestConfigJson(dir);
  if (api_port > 0) {  // Kept across restarts, as a deployment's is (a client dials it again).
    const std::string any_port = "127.0.0.1:0";
    json.replace(json.find(any_port), any_port.size(), "127.0.0.1:" + std::to_string(api_port));
  }
  std::string error;
  auto d = DaemonProcess::Start(dir, json, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  return d;
}

// `exoroutectl audit verify --recompute` against the node passes: the chain links up and every
// decision re-solves to the same bytes.
void CheckChainRecomputes(const DaemonProcess& d) {
  auto verified = Ctl(d, {"audit", "verify", "--recompute"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
}

RouteRequest Route(const std::string& id, Side side, int64_t qty, RouteMode mode) {
  return exo::testing::BtcOrder(id, side, qty, mode);
}

// A message as the JSON file an auditor keeps (what `--out` writes), and back.
void WriteJson(const google::protobuf::Message& m, const std::string& path) {
  std::string json;
  REQUIRE(google::protobuf::util::MessageToJsonString(m, &json).ok());
  std::ofstream(path) << json;
}

template <class M>
M ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::string json((std::istreambuf_iterator<char>(in)), {});
  M m;
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, &m).ok());
  return m;
}

// `exoroutectl ARGS` offline: refused as a proof or chain that does not check out (exit 3),
// saying `why`.
void CheckRefusedOffline(const std::vector<std::string>& args, const std::string& why) {
  auto r = exo::testing::Run(EXOROUTECTL_PATH, args);
  INFO(why << ": " << r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.out.find(why) != std::string::npos);
}

// Reads the plan's whole delta stream (WatchPlan ends when the plan settles).
std::vector<PlanDelta> WatchToEnd(const std::shared_ptr<grpc::Channel>& ch, const std::string& id) {
  WatchPlanRequest req;
  req.set_plan_id(id);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = RouterService::NewStub(ch)->WatchPlan(&ctx, req);
  std::vector<PlanDelta> out;
  WatchPlanResponse m;
  while (reader->Read(&m)) out.push_back(m.delta());
  auto st = reader->Finish();
  INFO(st.error_message());
  REQUIRE(st.ok());
  return out;
}

// The test FIX venue's side of the session with exorouted (sender FIXVENUE, target EXO),
// validated with the shipped FIX 4.4 dictionary.
exo::fix::SessionConfig FixVenueSide(int port, const std::string& store_dir) {
  exo::fix::SessionConfig c;
  c.port = port;
  c.sender_comp_id = "FIXVENUE";
  c.target_comp_id = "EXO";
  c.data_dictionary = std::string(EXO_SOURCE_DIR) + "/deploy/fix/FIX44.xml";
  c.store_dir = store_dir;
  return c;
}

// The test FIX venue on `port` (its store under `dir`), started: offering `asks` and `bids`,
// refusing orders above `max_order_qty` BTC (0: none).
std::unique_ptr<exo::fix::FixTestVenue> StartFixTestVenue(int port, const std::string& dir,
                                                          std::vector<exo::fix::FixTestVenue::Level> asks,
                                                          std::vector<exo::fix::FixTestVenue::Level> bids = {},
                                                          long long max_order_qty = 0) {
  std::string error;
  auto v = exo::fix::FixTestVenue::Create(FixVenueSide(port, dir + "/fix-venue-store"), std::move(asks),
                                          std::move(bids), &error, max_order_qty);
  INFO(error);
  REQUIRE(v);
  REQUIRE(v->Start(&error));
  return v;
}

// The default test config plus a FIX venue "FIXV" (books from SIM-A, lot 0.001 BTC, no fee)
// connected to the test FIX venue on `port`; `extra_fix` adds fields to its "fix" object.
std::string ConfigWithFixVenue(const std::string& data_dir, int port, const std::string& extra_fix = "") {
  std::string json = TestConfigJson(data_dir);
  json.insert(json.find("{\n      \"id\": \"SIM-A\""),
              R"({"id": "FIXV", "taker_fee_bps": 0, "book_from": "SIM-A",
      "markets": [{"symbol": "BTC-USD", "lot_size": 100000}],
      "fix": {"host": "127.0.0.1", "port": )" + std::to_string(port) +
                  (extra_fix.empty() ? "" : ", " + extra_fix) + R"(,
              "sender_comp_id": "EXO", "target_comp_id": "FIXVENUE",
              "data_dictionary": ")" + std::string(EXO_SOURCE_DIR) + R"(/deploy/fix/FIX44.xml"}},
    )");
  return json;
}

// The venue's entry in Status, if the call works and the venue is known.
std::optional<VenueStatus> VenueStatusOf(const std::shared_ptr<grpc::Channel>& ch, const std::string& venue) {
  StatusResponse st;
  grpc::ClientContext ctx;
  if (!AdminService::NewStub(ch)->Status(&ctx, StatusRequest(), &st).ok()) return std::nullopt;
  for (const auto& v : st.venues()) {
    if (v.venue() == venue) return v;
  }
  return std::nullopt;
}

// Whether Status reports a book for the venue (it gives the book's age once there is one).
bool VenueHasBook(const std::shared_ptr<grpc::Channel>& ch, const std::string& venue) {
  auto v = VenueStatusOf(ch, venue);
  return v && v->book_age_ms() >= 0;
}

// A venue's state as Status reports it (UNSPECIFIED if the call fails or the venue is unknown).
AdapterState VenueState(const std::shared_ptr<grpc::Channel>& ch, const std::string& venue) {
  auto v = VenueStatusOf(ch, venue);
  return v ? v->state() : ADAPTER_STATE_UNSPECIFIED;
}

// The plan `id` as the daemon has it now.
Plan PlanNow(const std::shared_ptr<grpc::Channel>& ch, const std::string& id) {
  grpc::ClientContext ctx;
  GetPlanRequest req;
  req.set_plan_id(id);
  GetPlanResponse resp;
  const grpc::Status s = RouterService::NewStub(ch)->GetPlan(&ctx, req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp.plan();
}

// Cancels plan `id` and reads its deltas to the end: its last (the one that finished it).
PlanDelta CancelToEnd(const std::shared_ptr<grpc::Channel>& ch, const std::string& id) {
  {
    grpc::ClientContext ctx;
    CancelPlanRequest req;
    req.set_plan_id(id);
    CancelPlanResponse out;
    const grpc::Status s = RouterService::NewStub(ch)->CancelPlan(&ctx, req, &out);
    INFO(s.error_message());
    REQUIRE(s.ok());
  }
  return WatchToEnd(ch, id).back();
}

// A daemon in `dir` with FIX venue FIXV (Day orders; `extra_fix` more of its "fix" fields) at a
// test FIX venue that only sells far above the market, and a child of 0.1 BTC of plan `id`
// resting there.
struct RestingFixChild {
  std::string json;  // The daemon's config, to start it again.
  std::unique_ptr<exo::fix::FixTestVenue> venue;
  std::unique_ptr<DaemonProcess> d;
  std::shared_ptr<grpc::Channel> ch;

  RestingFixChild(const TempDir& dir, const std::string& id, const std::string& extra_fix = "") {
    const int fix_port = exo::testing::FreePort();
    venue = StartFixTestVenue(fix_port, dir.path(), {{"99999.00", "100"}});
    json = ConfigWithFixVenue(dir.path(), fix_port, R"("time_in_force": "0")" + extra_fix);
    Start(dir);
    RouteRequest r = Route(id, SIDE_BUY, kBtc / 10, ROUTE_MODE_EXECUTE);
    r.mutable_order()->add_allowed_venues("FIXV");
    RouteResponse resp;
    REQUIRE(CallRoute(ch, r, &resp).ok());
    REQUIRE(exo::testing::WaitFor([&] { return venue->orders_received() == 1; }));
  }
  // Starts the daemon (again: same data directory and config) and waits for FIXV's session.
  void Start(const TempDir& dir) {
    std::string error;
    d = DaemonProcess::Start(dir.path(), json, &error);
    INFO(error);
    REQUIRE(d != nullptr);
    ch = Connect(*d);
    REQUIRE(exo::testing::WaitFor([&] { return VenueState(ch, "FIXV") == ADAPTER_STATE_UP; }));
  }
};

}  // namespace

TEST_CASE("route across three simulated venues over TLS, watch it fill, replay and verify",
          "[e2e]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);

  StatusResponse status;
  grpc::ClientContext sctx;
  REQUIRE(AdminService::NewStub(ch)->Status(&sctx, StatusRequest(), &status).ok());
  CHECK(status.node_id() == "node-1");
  REQUIRE(status.venues_size() == 3);
  for (const auto& v : status.venues()) CHECK(v.state() == ADAPTER_STATE_UP);

  RouteResponse resp;
  REQUIRE(CallRoute(ch, Route("tour-1", SIDE_BUY, 4 * kBtc, ROUTE_MODE_EXECUTE), &resp).ok());
  CHECK(resp.plan().status() == PLAN_STATUS_WORKING);
  std::vector<PlanDelta> deltas = WatchToEnd(ch, "tour-1");
  REQUIRE_FALSE(deltas.empty());
  CHECK(deltas.front().has_created());
  CHECK(deltas.back().has_finished());
  CHECK(deltas.back().finished().status() == PLAN_STATUS_COMPLETED);
  for (size_t i = 0; i < deltas.size(); ++i) CHECK(deltas[i].plan_version() == i + 1);
  int64_t filled = 0;
  for (const auto& x : deltas) filled += x.has_fill() ? x.fill().quantity() : 0;
  CHECK(filled == 4 * kBtc);

  // The CLI sees the same plan, replays it and verifies the chain and the decisions.
  auto show = Ctl(*d, {"plan", "show", "tour-1"});
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("COMPLETED") != std::string::npos);
  auto replay = Ctl(*d, {"replay", "--plan", "tour-1", "--json"});
  CHECK(replay.exit_code == 0);
  CHECK(static_cast<size_t>(std::count(replay.out.begin(), replay.out.end(), '\n')) == deltas.size());
  auto verify = Ctl(*d, {"audit", "verify", "--recompute"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  CHECK(verify.out.rfind("OK: ", 0) == 0);
  CHECK(verify.out.find(" re-solved identically") != std::string::npos);
  // Offline, read-only, while the daemon runs.
  auto offline = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "verify", "--data-dir", dir.path()});
  CHECK(offline.exit_code == 0);
  // Another CA than the one that signed the node's certificate: one line saying what failed
  // (gRPC printed its handshake error raw, once per attempt, before a bare "cannot reach").
  auto other = exo::daemon::EnsureDevCerts(dir / "other-ca", "other");
  REQUIRE(other.ok());
  auto wrong_ca = exo::testing::Run(
      EXOROUTECTL_PATH, {"--endpoint", d->endpoint(), "--ca", other->ca_cert, "--timeout", "2000", "status"});
  CHECK(wrong_ca.exit_code == 1);
  CHECK(wrong_ca.err.rfind("exoroutectl: UNAVAILABLE: cannot reach exorouted at " + d->endpoint() + " within 2000 ms (", 0) ==
        0);
  CHECK(wrong_ca.err.find("; last transport error: Handshake failed with fatal error SSL_ERROR_SSL: ") != std::string::npos);
  CHECK(wrong_ca.err.find("certificate verify failed. (is --ca the CA that signed the node's certificate? ") !=
        std::string::npos);
  CHECK(std::count(wrong_ca.err.begin(), wrong_ca.err.end(), '\n') == 1);
  // A range that starts beyond the chain is refused, naming its end (it said "FAILED at sequence
  // N: cannot read delta: NotFound", a false alarm, or "OK: 0 deltas verified"); from the last
  // delta, one is verified.
  const uint64_t head = std::stoull(Ctl(*d, {"audit", "head"}).out);
  const std::string past = std::to_string(head + 1), last = std::to_string(head);
  auto beyond = Ctl(*d, {"audit", "verify", "--from", past});
  CHECK(beyond.exit_code == 1);
  CHECK(beyond.err == "exoroutectl: OUT_OF_RANGE: range.from_sequence: " + past +
                          " is beyond the chain, which ends at sequence " + last + "\n");
  beyond = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "verify", "--from", past, "--data-dir", dir.path()});
  CHECK(beyond.exit_code == 1);
  CHECK(beyond.err == "exoroutectl: OUT_OF_RANGE: --from: " + past + " is beyond the chain, which ends at sequence " +
                          last + "\n");
  auto one = Ctl(*d, {"audit", "verify", "--from", last});
  CHECK(one.exit_code == 0);
  CHECK(one.out.rfind("OK: 1 delta verified; chain head " + last + " ", 0) == 0);
  // The plan's replay read offline from the database is the node's, line for line.
  auto replay_offline = exo::testing::Run(EXOROUTECTL_PATH, {"replay", "--plan", "tour-1", "--json", "--data-dir", dir.path()});
  INFO(replay_offline.err);
  CHECK(replay_offline.exit_code == 0);
  CHECK(replay_offline.out == replay.out);
  auto replay_text = Ctl(*d, {"replay", "--plan", "tour-1"});
  auto replay_text_offline = exo::testing::Run(EXOROUTECTL_PATH, {"replay", "--plan", "tour-1", "--data-dir", dir.path()});
  CHECK(replay_text.exit_code == 0);
  CHECK(replay_text_offline.exit_code == 0);
  CHECK(replay_text_offline.out == replay_text.out);
  CHECK(replay_text.out.find("tour-1") != std::string::npos);
  auto unknown_offline = exo::testing::Run(EXOROUTECTL_PATH, {"replay", "--plan", "no-such", "--data-dir", dir.path()});
  CHECK(unknown_offline.exit_code == 1);
  CHECK(unknown_offline.err.find("plan \"no-such\" not found") != std::string::npos);
  auto dot = Ctl(*d, {"contracts", "--dot"});
  CHECK(dot.exit_code == 0);
  CHECK(dot.out.find("\"venue SIM-A (sim)\" -> \"engine solver\" [label=\"marketdata.l2book/1.0\"];") !=
        std::string::npos);
  auto status_cli = Ctl(*d, {"status"});
  CHECK(status_cli.exit_code == 0);
  CHECK(status_cli.out.find("SIM-C") != std::string::npos);

  CHECK(d->Terminate() == 0);
  CHECK(d->log().find("store closed at chain head") != std::string::npos);
}

TEST_CASE("the command exorouted prints when it is ready works as printed", "[e2e]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  std::string command;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (command.empty() && std::chrono::steady_clock::now() < deadline) {
    const std::string out = d->output();
    const size_t at = out.find("  try: ");
    if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
      command = out.substr(at + 7, out.find('\n', at) - at - 7);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  INFO(d->output());
  REQUIRE_FALSE(command.empty());
  CHECK(command.find(d->endpoint()) != std::string::npos);
  // Pasted into a shell in the directory exorouted was started from.
  auto r = exo::testing::Run("/bin/sh", {"-c", command});
  INFO(command << "\n" << r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("node-1") != std::string::npos);
  CHECK(r.out.find("SIM-A") != std::string::npos);
}

TEST_CASE("the admin HTTP port: /metrics follows the node's Status, /healthz says it serves", "[e2e][metrics]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  // Port 0 in the test config: the bound address is in <data_dir>/admin_endpoint.
  std::string admin;
  std::ifstream(dir / "admin_endpoint") >> admin;
  REQUIRE(admin.rfind("127.0.0.1:", 0) == 0);
  const int port = std::stoi(admin.substr(admin.find(':') + 1));

  auto status_cli = Ctl(*d, {"status"});
  CHECK(status_cli.out.find("metrics     http://" + admin + "/metrics") != std::string::npos);
  CHECK(status_cli.out.find("signing key ") != std::string::npos);
  auto health = exo::testing::HttpRequest(port, "GET", "/healthz");
  CHECK(health.status == 200);
  auto before = exo::testing::HttpRequest(port, "GET", "/metrics");
  REQUIRE(before.status == 200);
  CHECK(before.body.find("exoroute_build_info{node=\"node-1\"") != std::string::npos);
  CHECK(before.body.find("exoroute_plans_total 0\n") != std::string::npos);
  CHECK(before.body.find("# TYPE exoroute_checkpoint_sequence gauge\n") != std::string::npos);
  CHECK(before.body.find("exoroute_start_deltas_read 0\n") != std::string::npos);
  for (const char* v : {"SIM-A", "SIM-B", "SIM-C"}) {
    CHECK(before.body.find(std::string("exoroute_venue_up{venue=\"") + v + "\",adapter=\"sim\",state=\"up\"} 1\n") !=
          std::string::npos);
  }

  RouteResponse resp;
  REQUIRE(CallRoute(ch, Route("metrics-1", SIDE_BUY, 4 * kBtc, ROUTE_MODE_EXECUTE), &resp).ok());
  WatchToEnd(ch, "metrics-1");
  auto after = exo::testing::HttpRequest(port, "GET", "/metrics");
  REQUIRE(after.status == 200);
  CHECK(after.body.find("exoroute_plans_total 1\n") != std::string::npos);
  CHECK(after.body.find("exoroute_plans_working 0\n") != std::string::npos);
  // (0 or 1: the settled plan leaves memory at the engine's next tick.)
  CHECK(after.body.find("# TYPE exoroute_plans_in_memory gauge\nexoroute_plans_in_memory ") != std::string::npos);
  // One Route answered, at least one decision made (the first plan; re-plans add more).
  CHECK(after.body.find("exoroute_route_duration_seconds_count 1\n") != std::string::npos);
  CHECK(after.body.find("exoroute_route_duration_seconds_bucket{le=\"+Inf\"} 1\n") != std::string::npos);
  CHECK(after.body.find("exoroute_decision_duration_seconds_count{kind=\"first\"} 1\n") != std::string::npos);
  CHECK(after.body.find("exoroute_decision_duration_seconds_count{kind=\"replan\"} ") != std::string::npos);
  CHECK(after.body.find("# TYPE exoroute_decision_duration_seconds histogram") != std::string::npos);
  // The daemon's own process, under Prometheus's standard names: some memory, some descriptors.
  for (const char* m : {"process_resident_memory_bytes ", "process_open_fds ", "process_cpu_seconds_total ",
                        "process_start_time_seconds "}) {
    const size_t at = after.body.find(std::string("\n") + m);
    INFO(m);
    REQUIRE(at != std::string::npos);
    const std::string value = after.body.substr(at + 1 + strlen(m), after.body.find('\n', at + 1) - at - 1 - strlen(m));
    CHECK(std::stod(value) > 0);
  }
  // Every decision's input work too: at least as many as the decisions of both kinds.
  CHECK(after.body.find("# TYPE exoroute_decision_inputs_duration_seconds histogram") != std::string::npos);
  auto count_of = [&](const std::string& series) {
    const size_t at = after.body.find(series + " ");
    return at == std::string::npos ? -1 : std::stoll(after.body.substr(at + series.size() + 1));
  };
  const int64_t decisions = count_of("exoroute_decision_duration_seconds_count{kind=\"first\"}") +
                            count_of("exoroute_decision_duration_seconds_count{kind=\"replan\"}");
  CHECK(decisions >= 1);
  CHECK(count_of("exoroute_decision_inputs_duration_seconds_count") == decisions);
  // Per venue, the same counts as the Status RPC.
  StatusResponse status;
  grpc::ClientContext sctx;
  REQUIRE(AdminService::NewStub(ch)->Status(&sctx, StatusRequest(), &status).ok());
  uint64_t sent = 0;
  for (const auto& v : status.venues()) {
    sent += v.children_sent();
    CHECK(after.body.find("exoroute_venue_children_sent_total{venue=\"" + v.venue() + "\"} " +
                          std::to_string(v.children_sent()) + "\n") != std::string::npos);
    CHECK(after.body.find("exoroute_venue_fills_total{venue=\"" + v.venue() + "\"} " + std::to_string(v.fills()) +
                          "\n") != std::string::npos);
    // How the venue's children ended: every child of the settled plan once, each timed.
    const uint64_t done = v.children_filled() + v.children_partial() + v.children_unfilled() + v.children_rejected();
    CHECK(done == v.children_sent());
    const std::pair<const char*, uint64_t> outcomes[] = {{"filled", v.children_filled()},
                                                         {"partial", v.children_partial()},
                                                         {"unfilled", v.children_unfilled()},
                                                         {"rejected", v.children_rejected()}};
    for (const auto& [outcome, n] : outcomes) {
      CHECK(after.body.find("exoroute_venue_children_done_total{venue=\"" + v.venue() + "\",outcome=\"" + outcome +
                            "\"} " + std::to_string(n) + "\n") != std::string::npos);
    }
    CHECK(count_of("exoroute_venue_child_seconds_count{venue=\"" + v.venue() + "\"}") == static_cast<int64_t>(done));
  }
  CHECK(sent > 0);
  CHECK(after.body.find("exoroute_chain_head_sequence " + std::to_string(status.chain_head().sequence()) + "\n") !=
        std::string::npos);
  CHECK(d->Terminate() == 0);
  CHECK(exo::testing::HttpRequest(port, "GET", "/healthz").status == 0);  // Gone with the daemon.
}

TEST_CASE("signed chain heads: an auditor keeps one, and verify proves the chain still has it", "[e2e][audit]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  RouteResponse resp;
  REQUIRE(CallRoute(ch, Route("signed-1", SIDE_BUY, 2 * kBtc, ROUTE_MODE_EXECUTE), &resp).ok());
  WatchToEnd(ch, "signed-1");

  // A file that cannot be written says which and why (it said PERMISSION_DENIED for any reason).
  auto unwritable = Ctl(*d, {"audit", "head", "--out", dir / "no-such-dir/head.json"});
  CHECK(unwritable.exit_code == 1);
  CHECK(unwritable.err == "exoroutectl: FAILED_PRECONDITION: --out: cannot create " + (dir / "no-such-dir/head.json") +
                              ": No such file or directory\n");
  unwritable = Ctl(*d, {"audit", "head", "--out", "/dev/full"});
  CHECK(unwritable.exit_code == 1);
  CHECK(unwritable.err == "exoroutectl: FAILED_PRECONDITION: --out: cannot write /dev/full: No space left on device\n");

  const std::string kept = dir / "head-1.json";
  auto head = Ctl(*d, {"audit", "head", "--out", kept});
  INFO(head.out << head.err);
  REQUIRE(head.exit_code == 0);
  CHECK(head.out.find("signed by node-1, Ed25519 key ") != std::string::npos);
  const SignedChainHead signed_head = ReadJson<SignedChainHead>(kept);
  CHECK(signed_head.head().sequence() > 0);
  CHECK(exo::store::VerifySignedHead(signed_head).ok());
  const std::string key_hex = absl::BytesToHexString(signed_head.public_key());

  // Later, more deltas: the kept head is still in the chain, online and offline.
  REQUIRE(CallRoute(ch, Route("signed-2", SIDE_SELL, kBtc, ROUTE_MODE_EXECUTE), &resp).ok());
  WatchToEnd(ch, "signed-2");
  auto ok = Ctl(*d, {"audit", "verify", "--signed-head", kept, "--public-key", key_hex});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("OK: signed head " + std::to_string(signed_head.head().sequence()) +
                    " of node node-1 (Ed25519 key " + key_hex + ") is in this chain") != std::string::npos);

  // A head signed by the node's key but not in its chain (what a rewritten history leaves
  // behind), a head past the chain's end, a changed file, another key: all exit 3.
  const std::string forged = dir / "forged.json";
  auto signer = exo::store::HeadSigner::LoadOrCreate(dir / "keys/chain-head.key");
  REQUIRE(signer.ok());
  ChainHead other = signed_head.head();
  (*other.mutable_hash())[0] ^= 1;
  WriteJson((*signer)->Sign("node-1", other), forged);
  auto rewritten = Ctl(*d, {"audit", "verify", "--signed-head", forged});
  CHECK(rewritten.exit_code == 3);
  CHECK(rewritten.out.find("the chain was changed after the head was signed") != std::string::npos);
  other.set_sequence(1'000'000);
  WriteJson((*signer)->Sign("node-1", other), forged);
  auto removed = Ctl(*d, {"audit", "verify", "--signed-head", forged});
  CHECK(removed.exit_code == 3);
  CHECK(removed.out.find("deltas were removed") != std::string::npos);
  SignedChainHead edited = signed_head;
  edited.mutable_head()->set_sequence(signed_head.head().sequence() - 1);
  WriteJson(edited, forged);
  auto bad_sig = Ctl(*d, {"audit", "verify", "--signed-head", forged});
  CHECK(bad_sig.exit_code == 3);
  CHECK(bad_sig.out.find("the signature does not verify") != std::string::npos);
  auto wrong_key = Ctl(*d, {"audit", "verify", "--signed-head", kept, "--public-key", std::string(64, '0')});
  CHECK(wrong_key.exit_code == 3);
  CHECK(wrong_key.out.find("not the expected") != std::string::npos);
  // A file that holds no signed head, or none at all: said, naming it (nothing was checked).
  std::ofstream(dir / "not-a-head.json") << R"({"head": {"sequence": "many"}})";
  auto garbled = Ctl(*d, {"audit", "verify", "--signed-head", dir / "not-a-head.json"});
  CHECK(garbled.exit_code == 1);
  CHECK(garbled.err.rfind("exoroutectl: INVALID_ARGUMENT: --signed-head " + (dir / "not-a-head.json") +
                              ": not a signed chain head: head.sequence: must be a whole number within 0..2^64-1, got "
                              "\"many\"\n",
                          0) == 0);
  auto no_file = Ctl(*d, {"audit", "verify", "--signed-head", dir / "nowhere.json"});
  CHECK(no_file.exit_code == 1);
  CHECK(no_file.err.rfind("exoroutectl: NOT_FOUND: --signed-head: " + (dir / "nowhere.json"), 0) == 0);

  // One decision proved in the log, checked offline from the proof file alone.
  const std::string proof_file = dir / "proof.json";
  ReplayRequest rr;
  rr.set_plan_id("signed-1");
  uint64_t alloc_seq = 0;
  {
    grpc::ClientContext rctx;
    auto reader = AuditService::NewStub(ch)->Replay(&rctx, rr);
    ReplayResponse m;
    while (reader->Read(&m)) {
      if (m.delta().has_allocated() && alloc_seq == 0) alloc_seq = m.delta().sequence();
    }
    REQUIRE(reader->Finish().ok());
  }
  REQUIRE(alloc_seq > 0);
  auto prove = Ctl(*d, {"audit", "prove", "--sequence", std::to_string(alloc_seq), "--out", proof_file});
  INFO(prove.out << prove.err);
  REQUIRE(prove.exit_code == 0);
  CHECK(prove.out.find("delta " + std::to_string(alloc_seq) + " is leaf " + std::to_string(alloc_seq - 1)) == 0);
  auto checked = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "check-proof", proof_file, "--public-key", key_hex});
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);
  CHECK(checked.out.find("OK: delta " + std::to_string(alloc_seq) + " (signed-1 v2, allocated) is in the log of node node-1") ==
        0);
  const InclusionProof proof = ReadJson<InclusionProof>(proof_file);
  auto check_altered = [&](const std::function<void(InclusionProof&)>& alter, const std::string& why) {
    InclusionProof p = proof;
    alter(p);
    WriteJson(p, dir / "altered.json");
    CheckRefusedOffline({"audit", "check-proof", dir / "altered.json"}, why);
  };
  check_altered([](InclusionProof& p) { (*p.mutable_canonical())[p.canonical().size() - 1] ^= 1; },
                "inclusion proof: the path does not lead to the tree's root");
  check_altered([](InclusionProof& p) { (*p.mutable_path(0))[3] ^= 1; },
                "inclusion proof: the path does not lead to the tree's root");
  check_altered([](InclusionProof& p) { p.set_tree_size(p.tree_size() + 100); }, "inclusion proof: the path");
  check_altered([](InclusionProof& p) { (*p.mutable_signature())[0] ^= 1; }, "tree head: the signature does not verify");
  auto wrong = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "check-proof", proof_file, "--public-key", std::string(64, '1')});
  CHECK(wrong.exit_code == 3);
  // A file that is no proof, or no file: said, naming it (exit 1: nothing was checked).
  std::ofstream(dir / "typo.json") << R"({"sequense": 3})";
  for (const auto& [file, why] : std::vector<std::pair<std::string, std::string>>{
           {dir / "typo.json", dir / "typo.json" + ": not a InclusionProof file: sequense: unknown key (not in InclusionProof)"},
           {dir.path(), "cannot read " + dir.path() + ": "}}) {
    auto refused = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "check-proof", file});
    INFO(refused.err);
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.rfind("exoroutectl: INVALID_ARGUMENT: audit check-proof: " + why, 0) == 0);
  }
  // After one more route, the node proves its log begins with the first `size` deltas (into
  // `out`), and the proof checks out offline against the tree head kept in `kept`.
  auto grow_and_check = [&](const std::string& route, uint64_t size, const std::string& out, const std::string& kept) {
    REQUIRE(CallRoute(ch, Route(route, SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());
    auto grown = Ctl(*d, {"audit", "prove", "--from-size", std::to_string(size), "--out", out});
    INFO(grown.out << grown.err);
    REQUIRE(grown.exit_code == 0);
    auto consistent =
        exo::testing::Run(EXOROUTECTL_PATH, {"audit", "check-consistency", out, "--kept", kept, "--public-key", key_hex});
    INFO(consistent.out << consistent.err);
    CHECK(consistent.exit_code == 0);
    CHECK(consistent.out.find("begins with the " + std::to_string(size) + " of the kept tree head, unchanged") !=
          std::string::npos);
  };
  // Later, more deltas: the log now begins with the tree the kept proof's head signed.
  const std::string consistency_file = dir / "consistency.json";
  grow_and_check("signed-3", proof.tree_size(), consistency_file, proof_file);
  {
    // A kept head whose root the log no longer has (what a rewrite leaves): refused.
    InclusionProof forged_kept = proof;
    (*forged_kept.mutable_root())[0] ^= 1;
    forged_kept.set_signature((*signer)->SignText(
        exo::store::TreeHeadMessage("node-1", forged_kept.tree_size(), forged_kept.root())));
    WriteJson(forged_kept, dir / "forged-kept.json");
    CheckRefusedOffline({"audit", "check-consistency", consistency_file, "--kept", dir / "forged-kept.json"},
                        "the log was changed after the kept head was signed");
  }
  {
    // An altered consistency proof is refused, whichever part was changed; a kept head of
    // another node is not compared at all.
    const ConsistencyProof consistency = ReadJson<ConsistencyProof>(consistency_file);
    REQUIRE(consistency.path_size() > 0);
    auto check_altered_consistency = [&](const std::function<void(ConsistencyProof&)>& alter, const std::string& why) {
      ConsistencyProof p = consistency;
      alter(p);
      WriteJson(p, dir / "altered-consistency.json");
      CheckRefusedOffline({"audit", "check-consistency", dir / "altered-consistency.json", "--kept", proof_file}, why);
    };
    check_altered_consistency([](ConsistencyProof& p) { (*p.mutable_path(0))[5] ^= 1; }, "consistency proof: ");
    check_altered_consistency([](ConsistencyProof& p) { (*p.mutable_to_root())[0] ^= 1; }, "consistency proof: ");
    check_altered_consistency([](ConsistencyProof& p) { (*p.mutable_signature())[0] ^= 1; },
                              "tree head: the signature does not verify");
    // The node's own key signing another node's name: the kept head is that node's.
    InclusionProof elsewhere = proof;
    elsewhere.set_node_id("node-9");
    elsewhere.set_signature((*signer)->SignText(exo::store::TreeHeadMessage("node-9", elsewhere.tree_size(), elsewhere.root())));
    WriteJson(elsewhere, dir / "elsewhere-kept.json");
    CheckRefusedOffline({"audit", "check-consistency", consistency_file, "--kept", dir / "elsewhere-kept.json"},
                        "the kept tree head is node node-9's, the proof node node-1's");
    // A consistency proof kept earlier serves as the kept head of the next one.
    grow_and_check("signed-4", consistency.to_size(), dir / "consistency-next.json", consistency_file);
  }
  {
    // An inclusion proof moved to another delta's place: the delta it carries says otherwise.
    InclusionProof moved = proof;
    moved.set_sequence(proof.sequence() + 1);
    WriteJson(moved, dir / "moved.json");
    CheckRefusedOffline({"audit", "check-proof", dir / "moved.json"},
                        "the delta says sequence " + std::to_string(proof.sequence()) + ", the proof " +
                            std::to_string(proof.sequence() + 1));
  }
  auto missing = Ctl(*d, {"audit", "prove", "--sequence", "99999"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("sequence: must be within 1..") != std::string::npos);
  auto too_big = Ctl(*d, {"audit", "prove", "--from-size", "99999"});
  CHECK(too_big.exit_code == 1);
  CHECK(too_big.err.find("from_size: must be within 1..") != std::string::npos);

  // The node keeps its key across a restart: the old head still verifies against the key.
  CHECK(d->Terminate() == 0);
  auto offline = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "verify", "--data-dir", dir.path(), "--signed-head",
                                                     kept, "--public-key", key_hex});
  INFO(offline.out << offline.err);
  CHECK(offline.exit_code == 0);
  d = StartDaemon(dir.path());
  auto again = Ctl(*d, {"audit", "head", "--json"});
  GetChainHeadResponse restarted;
  REQUIRE(google::protobuf::util::JsonStringToMessage(again.out, &restarted).ok());
  CHECK(restarted.signed_head().public_key() == signed_head.public_key());
  CHECK(d->Terminate() == 0);
}

namespace {

// The governance deltas of the daemon's chain, in order.
std::vector<PlanDelta> GovernanceDeltas(const DaemonProcess& d) {
  ReplayRequest req;
  req.mutable_range();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto reader = AuditService::NewStub(Connect(d))->Replay(&ctx, req);
  std::vector<PlanDelta> out;
  ReplayResponse m;
  while (reader->Read(&m)) {
    if (m.delta().has_governance()) out.push_back(m.delta());
  }
  REQUIRE(reader->Finish().ok());
  return out;
}

}  // namespace

TEST_CASE("governance events: the config in force and the signing key are in the chain, once per change",
          "[e2e][audit]") {
  TempDir dir;
  std::string config = TestConfigJson(dir.path());
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), config, &error);
  REQUIRE(d != nullptr);
  std::vector<PlanDelta> gov = GovernanceDeltas(*d);
  REQUIRE(gov.size() == 2);
  CHECK(gov[0].plan_id() == "node/governance");
  CHECK(gov[0].governance().kind() == GOVERNANCE_KIND_CONFIG_APPLIED);
  CHECK(gov[0].governance().detail() == "first config recorded in this chain");
  CHECK(gov[0].inputs_digest() == gov[0].governance().digest());  // The config is stored with it.
  CHECK(gov[1].governance().kind() == GOVERNANCE_KIND_SIGNING_KEY);
  GetChainHeadResponse head;
  {
    grpc::ClientContext ctx;
    REQUIRE(AuditService::NewStub(Connect(*d))->GetChainHead(&ctx, GetChainHeadRequest(), &head).ok());
  }
  CHECK(gov[1].governance().digest() == head.signed_head().public_key());
  CHECK(d->Terminate() == 0);

  // The same config again: nothing new.
  d = DaemonProcess::Start(dir.path(), config, &error);
  REQUIRE(d != nullptr);
  CHECK(GovernanceDeltas(*d).size() == 2);
  CHECK(d->Terminate() == 0);

  // A changed config: recorded with what changed.
  auto replace = [&config](const std::string& from, const std::string& to) {
    size_t at = config.find(from);
    REQUIRE(at != std::string::npos);
    config.replace(at, from.size(), to);
  };
  replace("\"replan_interval_ms\": 10", "\"replan_interval_ms\": 20");
  replace("\"taker_fee_bps\": 2.0", "\"taker_fee_bps\": 3.0");
  d = DaemonProcess::Start(dir.path(), config, &error);
  REQUIRE(d != nullptr);
  gov = GovernanceDeltas(*d);
  REQUIRE(gov.size() == 3);
  const std::string detail = gov[2].governance().detail();
  INFO(detail);
  CHECK(gov[2].governance().kind() == GOVERNANCE_KIND_CONFIG_APPLIED);
  CHECK(detail.find("routing.replan_interval_ms: 10 -> 20") != std::string::npos);
  CHECK(detail.find("venues[0].taker_fee_bps: 2 -> 3") != std::string::npos);
  CHECK(gov[2].governance().digest() != gov[0].governance().digest());
  auto listed = Ctl(*d, {"replay", "--from", std::to_string(gov[2].sequence()), "--to",
                         std::to_string(gov[2].sequence())});
  CHECK(listed.out.find("governance") != std::string::npos);
  CHECK(d->Terminate() == 0);

  // A replaced signing key: recorded with the key it replaces.
  const std::string old_key = gov[1].governance().digest();
  std::filesystem::remove(dir / "keys/chain-head.key");
  d = DaemonProcess::Start(dir.path(), config, &error);
  REQUIRE(d != nullptr);
  gov = GovernanceDeltas(*d);
  REQUIRE(gov.size() == 4);
  CHECK(gov[3].governance().kind() == GOVERNANCE_KIND_SIGNING_KEY);
  CHECK(gov[3].governance().digest() != old_key);
  CHECK(gov[3].governance().detail() ==
        "replaced; heads signed before were signed by key " + absl::BytesToHexString(old_key));
  // Every stored config matches its digest, and the chain verifies.
  CheckChainRecomputes(*d);
  CHECK(d->Terminate() == 0);
}

TEST_CASE("config reload and SIGHUP change a running node's risk limits and fees, recorded, the rest takes a restart",
          "[e2e][config]") {
  TempDir dir;
  std::string config =
      TestConfigJson(dir.path(), R"("risk": [{"symbol": "BTC-USD", "max_order_quantity": 1000000000}])");
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), config, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  const std::string file = dir / "config.json";  // What DaemonProcess started it with.
  auto edit = [&](const std::string& from, const std::string& to) {
    size_t at = config.find(from);
    REQUIRE(at != std::string::npos);
    config.replace(at, from.size(), to);
    std::ofstream(file) << config;
  };
  auto route6 = [&] { return Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "6"}); };
  REQUIRE(route6().exit_code == 0);
  const size_t events = GovernanceDeltas(*d).size();

  edit("\"max_order_quantity\": 1000000000", "\"max_order_quantity\": 500000000");
  edit("\"taker_fee_bps\": 2.0", "\"taker_fee_bps\": 1.5");
  exo::testing::CommandResult r = Ctl(*d, {"config", "reload", "--dry-run"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "a reload of " + file + " would change:\n  modified: venues[0].taker_fee_bps: 2 -> 1.5\n"
                 "  modified: risk[0].max_order_quantity: 1000000000 -> 500000000\n"
                 "nothing applied (exoroutectl config reload applies it)\n");
  CHECK(route6().exit_code == 0);  // Nothing applied.

  r = Ctl(*d, {"config", "reload"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("config " + file + " reloaded (recorded at sequence ", 0) == 0);
  CHECK(r.out.find("); changed:\n  modified: venues[0].taker_fee_bps: 2 -> 1.5\n") != std::string::npos);
  r = route6();
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("INVALID_ARGUMENT: order.quantity: 6.00000000 BTC-USD is over this node's limit of 5.00000000 per "
                   "order (risk[0].max_order_quantity)") != std::string::npos);
  r = Ctl(*d, {"status"});
  CHECK(r.out.find("config      " + file + "  sha256 ") != std::string::npos);
  CHECK(r.out.find(", 1 reload applied (last ") != std::string::npos);
  CHECK(r.out.find("risk        BTC-USD: order <= 5.00000000") != std::string::npos);
  CHECK(r.out.find("  SIM-A      sim     UP     BTC-USD,ETH-USD") != std::string::npos);
  CHECK(r.out.find("    1.50 ") != std::string::npos);  // SIM-A's fee column.

  // A change that takes a restart: refused whole, named; the node keeps what it runs with.
  edit("\"depth\": 20", "\"depth\": 21");
  edit("\"max_order_quantity\": 500000000", "\"max_order_quantity\": 700000000");
  r = Ctl(*d, {"config", "reload"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.rfind("exoroutectl: FAILED_PRECONDITION: config " + file +
                        ": takes a restart: modified: venues[0].sim.depth: 20 -> 21 (a running node takes only ",
                    0) == 0);
  CHECK(route6().exit_code == 1);  // Still 5.
  r = Ctl(*d, {"status"});
  CHECK(r.out.find("WARNING     the last config reload was refused, the config before it is in force: config " + file +
                   ": takes a restart") != std::string::npos);
  std::string metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics").body;
  CHECK(metrics.find("\nexoroute_config_reloads_total{result=\"applied\"} 1\n") != std::string::npos);
  CHECK(metrics.find("\nexoroute_config_reloads_total{result=\"refused\"} 1\n") != std::string::npos);
  CHECK(metrics.find("\nexoroute_config_reload_refused 1\n") != std::string::npos);

  // SIGHUP reads the file again: with the book depth put back, the new limit applies.
  edit("\"depth\": 21", "\"depth\": 20");
  REQUIRE(kill(d->pid(), SIGHUP) == 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (route6().exit_code != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(route6().exit_code == 0);  // 6 <= 7.
  metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics").body;
  CHECK(metrics.find("\nexoroute_config_reloads_total{result=\"applied\"} 2\n") != std::string::npos);
  CHECK(metrics.find("\nexoroute_config_reload_refused 0\n") != std::string::npos);
  CHECK(d->log().find("received SIGHUP: reloading the config") != std::string::npos);

  // An order rate reloaded in: the second executed order in a second is refused, saying so.
  edit("\"max_order_quantity\": 700000000", "\"max_order_quantity\": 700000000, \"max_orders_per_second\": 1");
  REQUIRE(Ctl(*d, {"config", "reload"}).exit_code == 0);
  RouteResponse resp;
  REQUIRE(CallRoute(Connect(*d), exo::testing::BtcOrder("rate-1", SIDE_BUY, kBtc / 10, ROUTE_MODE_EXECUTE), &resp).ok());
  const grpc::Status second =
      CallRoute(Connect(*d), exo::testing::BtcOrder("rate-2", SIDE_BUY, kBtc / 10, ROUTE_MODE_EXECUTE), &resp);
  CHECK(second.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(second.error_message().rfind("order: this node admitted 1 executed BTC-USD orders in the last second, its "
                                     "limit (risk[0].max_orders_per_second); retry in ",
                                     0) == 0);
  metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics").body;
  CHECK(metrics.find("\nexoroute_risk_refused_total{symbol=\"BTC-USD\",limit=\"max_orders_per_second\"} 1\n") !=
        std::string::npos);

  // Each applied config is in the chain, stored whole; decisions under each re-solve as made.
  std::vector<PlanDelta> gov = GovernanceDeltas(*d);
  REQUIRE(gov.size() == events + 3);
  CHECK(gov[events].governance().kind() == GOVERNANCE_KIND_CONFIG_APPLIED);
  // Each says how it was asked: by a client (with mutual TLS, its certificate's name: the
  // Python SDK's test checks that), on the signal.
  CHECK(gov[events].governance().detail().find(" (reloaded by an API client)") != std::string::npos);
  CHECK(gov[events + 1].governance().detail() ==
        "modified: risk[0].max_order_quantity: 500000000 -> 700000000 (reloaded on SIGHUP)");
  CHECK(gov[events + 2].governance().detail() ==
        "added: risk[0].max_orders_per_second: 1 (reloaded by an API client)");
  r = Ctl(*d, {"audit", "verify", "--recompute"});
  CHECK(r.exit_code == 0);

  // The chain says which config was in force at any delta: now, and before the first reload.
  auto shown = [](const exo::testing::CommandResult& r) {
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    DaemonConfig c;
    REQUIRE(google::protobuf::util::JsonStringToMessage(r.out, &c).ok());
    return c;
  };
  DaemonConfig now = shown(Ctl(*d, {"config", "show"}));
  CHECK(now.venues(0).taker_fee_bps() == 1.5);
  CHECK(now.risk(0).max_orders_per_second() == 1);
  r = Ctl(*d, {"config", "show"});
  CHECK(r.err.rfind(absl::StrCat("config in force now: recorded at sequence ", gov[events + 2].sequence(), " ("), 0) == 0);
  CHECK(r.err.find("added: risk[0].max_orders_per_second: 1 (reloaded by an API client)\n") != std::string::npos);
  const std::string before = std::to_string(gov[events].sequence() - 1);
  DaemonConfig then = shown(Ctl(*d, {"config", "show", "--at", before}));
  CHECK(then.venues(0).taker_fee_bps() == 2.0);
  CHECK(then.risk(0).max_order_quantity() == 1'000'000'000);
  CHECK(Ctl(*d, {"config", "show", "--at", "0"}).exit_code == 2);
  // A sequence the chain has not reached is no moment of it (it showed today's config).
  const uint64_t head_now = std::stoull(Ctl(*d, {"audit", "head"}).out);
  r = Ctl(*d, {"config", "show", "--at", "999999"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err == absl::StrCat("exoroutectl: OUT_OF_RANGE: --at 999999: the chain ends at sequence ", head_now, "\n"));
  r = Ctl(*d, {"replay", "--plan", "node/governance"});
  CHECK(r.exit_code == 0);
  CHECK(r.err == std::to_string(gov.size()) + " deltas\n");
  CHECK(d->Terminate() == 0);
  // Offline, from the data directory: the same.
  r = exo::testing::Run(EXOROUTECTL_PATH, {"config", "show", "--data-dir", dir.path()});
  CHECK(shown(r).SerializeAsString() == now.SerializeAsString());
  auto beyond = exo::testing::Run(EXOROUTECTL_PATH, {"config", "show", "--at", "999999", "--data-dir", dir.path()});
  CHECK(beyond.exit_code == 1);
  CHECK(beyond.err == absl::StrCat("exoroutectl: OUT_OF_RANGE: --at 999999: the chain ends at sequence ", head_now, "\n"));
  // What it prints is a config file exorouted takes.
  std::ofstream(dir / "shown.json") << r.out;
  r = exo::testing::Run(EXOROUTED_PATH, {"--check-config", "--config", dir / "shown.json"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);

  // A restart on the same file: its config is the chain's last, nothing new is recorded.
  d = DaemonProcess::Start(dir.path(), config, &error);
  REQUIRE(d != nullptr);
  CHECK(GovernanceDeltas(*d).size() == events + 3);
  CHECK(d->Terminate() == 0);
}

TEST_CASE("every RPC validates its request and answers with the right code", "[e2e]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  RouteResponse resp;
  grpc::Status s = CallRoute(ch, Route("bad", SIDE_BUY, 0, ROUTE_MODE_PLAN_ONLY), &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "order.quantity: must be > 0, got 0");
  s = CallRoute(ch, Route("bad", SIDE_UNSPECIFIED, 1, ROUTE_MODE_PLAN_ONLY), &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  auto unknown = Route("bad", SIDE_BUY, 1, ROUTE_MODE_PLAN_ONLY);
  unknown.mutable_order()->set_symbol("NOPE");
  s = CallRoute(ch, unknown, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message() == "order.symbol: unknown symbol \"NOPE\" (this node trades: BTC-USD, ETH-USD)");
  s = CallRoute(ch, Route("bad", SIDE_BUY, 1, ROUTE_MODE_UNSPECIFIED), &resp);
  CHECK(s.error_message().rfind("mode: ", 0) == 0);
  // A field this node does not know (a newer client's, say a protection it added to the order)
  // is refused, not ignored, and nothing is planned.
  auto newer = Route("from-newer-client", SIDE_BUY, 100'000'000, ROUTE_MODE_PLAN_ONLY);
  newer.mutable_order()->GetReflection()->MutableUnknownFields(newer.mutable_order())->AddVarint(99, 25);
  s = CallRoute(ch, newer, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "order: field number 99 is not one this node knows: refused rather than ignored (is the "
                             "client built against a newer exoroute.v1? upgrade the node, or leave the field out)");
  {
    grpc::ClientContext ctx;
    GetPlanRequest req;
    req.set_plan_id("from-newer-client");
    GetPlanResponse r;
    CHECK(RouterService::NewStub(ch)->GetPlan(&ctx, req, &r).error_code() == grpc::StatusCode::NOT_FOUND);
    grpc::ClientContext again;
    req.GetReflection()->MutableUnknownFields(&req)->AddLengthDelimited(7, "x");
    s = RouterService::NewStub(ch)->GetPlan(&again, req, &r);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().rfind("request: field number 7 is not one this node knows", 0) == 0);
  }

  {
    grpc::ClientContext ctx;
    GetPlanRequest req;
    req.set_plan_id("missing");
    GetPlanResponse r;
    s = RouterService::NewStub(ch)->GetPlan(&ctx, req, &r);
    CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    CancelPlanResponse r;
    s = RouterService::NewStub(ch)->CancelPlan(&ctx, CancelPlanRequest(), &r);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message() == "plan_id: required");
  }
  {
    grpc::ClientContext ctx;
    WatchPlanRequest req;
    req.set_plan_id("missing");
    auto reader = RouterService::NewStub(ch)->WatchPlan(&ctx, req);
    WatchPlanResponse m;
    CHECK_FALSE(reader->Read(&m));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    ReplayRequest req;
    req.mutable_range()->set_from_sequence(5);
    req.mutable_range()->set_to_sequence(2);
    auto reader = AuditService::NewStub(ch)->Replay(&ctx, req);
    ReplayResponse m;
    CHECK_FALSE(reader->Read(&m));
    auto fin = reader->Finish();
    CHECK(fin.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(fin.error_message() == "range.from_sequence: must be <= to_sequence (2), got 5");
  }
  // GetRoute on a single node: its own plan, or the field named.
  auto get_route = [&ch](const std::string& id, GetRouteResponse* out) {
    grpc::ClientContext ctx;
    GetRouteRequest req;
    req.set_route_id(id);
    return RouterService::NewStub(ch)->GetRoute(&ctx, req, out);
  };
  GetRouteResponse progress;
  s = get_route("", &progress);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "route_id: required");
  s = get_route("no spaces", &progress);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().rfind("route_id: must match [A-Za-z0-9._:-]{1,64}", 0) == 0);
  s = get_route("missing", &progress);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  REQUIRE(CallRoute(ch, Route("one-node", SIDE_BUY, 100'000'000, ROUTE_MODE_PLAN_ONLY), &resp).ok());
  REQUIRE(get_route("one-node", &progress).ok());
  REQUIRE(progress.nodes_size() == 1);
  CHECK(progress.quantity() == 100'000'000);
  CHECK(progress.order_quantity() == 100'000'000);  // A plan works its own shortfall: none left over.
  CHECK(progress.shortfall() == 0);
  CHECK(progress.settled());  // Plan-only.
  // Watching a settled plan: from the version after its last (a client resuming after the
  // settling delta) ends at once, with nothing; from further on is named as a mistake.
  const std::vector<PlanDelta> one_node = WatchToEnd(ch, "one-node");
  REQUIRE_FALSE(one_node.empty());
  const uint32_t last_version = one_node.back().plan_version();
  for (const uint32_t from : {last_version + 1, last_version + 2}) {
    grpc::ClientContext ctx;
    WatchPlanRequest req;
    req.set_plan_id("one-node");
    req.set_from_version(from);
    auto reader = RouterService::NewStub(ch)->WatchPlan(&ctx, req);
    WatchPlanResponse m;
    CHECK_FALSE(reader->Read(&m));
    const grpc::Status fin = reader->Finish();
    if (from == last_version + 1) {
      CHECK(fin.ok());
    } else {
      CHECK(fin.error_code() == grpc::StatusCode::OUT_OF_RANGE);
      CHECK(fin.error_message() == absl::StrCat("from_version: plan \"one-node\" settled at version ", last_version,
                                                "; asked from ", from));
    }
  }
  {
    auto w = Ctl(*d, {"watch", "one-node", "--from", std::to_string(last_version + 5)});
    CHECK(w.exit_code == 1);
    CHECK(w.out.empty());
    CHECK(w.err == absl::StrCat("exoroutectl: OUT_OF_RANGE: from_version: plan \"one-node\" settled at version ",
                                last_version, "; asked from ", last_version + 5, "\n"));
  }

  // The CLI reports the same errors and exits non-zero.
  auto r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--allow", "NOPE"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "exoroutectl: INVALID_ARGUMENT: order.allowed_venues[0]: unknown venue \"NOPE\"\n");
  r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "up", "--qty", "1"});
  CHECK(r.exit_code == 2);
  r = Ctl(*d, {"route", "--symbol", "XBT-USD", "--side", "buy", "--qty", "1"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "exoroutectl: FAILED_PRECONDITION: --symbol: unknown symbol \"XBT-USD\" (this node trades: BTC-USD, "
                 "ETH-USD)\n");
  // A quantity that cannot be right is refused before any call, in the units the user typed.
  r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "-1"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("exoroutectl: route: --qty: must be > 0, got \"-1\"\n", 0) == 0);
  // So is a limit price (not the node's "order.limit_price: … got -500" in price units).
  r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--limit", "-5"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("exoroutectl: route: --limit: must be > 0, got \"-5\"\n", 0) == 0);
  // --tif: each time in force reaches the order as typed; anything else is a usage error.
  auto order_of = [&](const std::string& id) {
    grpc::ClientContext ctx;
    GetPlanRequest req;
    req.set_plan_id(id);
    GetPlanResponse got;
    REQUIRE(RouterService::NewStub(ch)->GetPlan(&ctx, req, &got).ok());
    return got.plan().order();
  };
  r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "0.5", "--tif", "ioc", "--id", "cli-ioc"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(order_of("cli-ioc").time_in_force() == TIME_IN_FORCE_IOC);
  r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "0.5", "--expire-ms", "5000", "--id", "cli-gtt"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const ParentOrder gtt = order_of("cli-gtt");  // --expire-ms alone means GTT.
  CHECK(gtt.time_in_force() == TIME_IN_FORCE_GTT);
  CHECK(gtt.expire_after_ms() == 5000);
  r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "0.5", "--tif", "day"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("route: --tif must be gtc, ioc or gtt") != std::string::npos);
  // A deadline with a time in force that has none is refused, not dropped.
  for (const std::string tif : {"gtc", "ioc"}) {
    r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "0.5", "--tif", tif, "--expire-ms", "5000"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("exoroutectl: route: --expire-ms goes with --tif gtt (or alone), not --tif " + tif + "\n", 0) == 0);
  }
  // What needs no node is refused as a usage error even where no node answers.
  r = exo::testing::Run(EXOROUTECTL_PATH, {"--endpoint", "127.0.0.1:1", "--insecure", "--timeout", "200", "route",
                                           "--symbol", "BTC-USD", "--side", "Buy", "--qty", "1"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("exoroutectl: route: --side must be buy or sell\n", 0) == 0);
  r = Ctl(*d, {"--timeout", "0", "status"});  // (A deadline every call misses.)
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("exoroutectl: --timeout: must be at least 1 ms, got 0", 0) == 0);
  r = Ctl(*d, {"--reconnect-for", "86401", "watch", "x"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("exoroutectl: --reconnect-for: at most 86400 (s), got 86401\n", 0) == 0);
  r = Ctl(*d, {"--reconnect-for", "soon", "watch", "x"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("exoroutectl: --reconnect-for: ", 0) == 0);
  // A plaintext client cannot talk to the TLS server.
  exo::client::ConnectOptions plain;
  plain.endpoint = d->endpoint();
  plain.insecure = true;
  plain.connect_timeout = std::chrono::milliseconds(1000);
  CHECK(exo::client::Connect(plain).status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("an operator lists the plans a node is working and cancels them all", "[e2e][plans]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  // Three buys far below the market keep working (waiting for a book within their limit); a
  // plan-only route settles at once.
  for (const char* id : {"far-2", "far-3", "far-1"}) {
    auto r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--limit", "1", "--execute",
                      "--id", id});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  REQUIRE(Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--id", "look"}).exit_code == 0);

  auto list = Ctl(*d, {"plan", "list"});
  INFO(list.out << list.err);
  REQUIRE(list.exit_code == 0);
  const size_t p1 = list.out.find("\nfar-1 "), p2 = list.out.find("\nfar-2 "), p3 = list.out.find("\nfar-3 ");
  CHECK(p1 != std::string::npos);
  CHECK((p1 < p2 && p2 < p3 && p3 != std::string::npos));
  CHECK(list.out.find("look") == std::string::npos);
  CHECK(list.out.find("WORKING    buy  BTC-USD") != std::string::npos);
  CHECK(list.out.find("3 working plans\n") != std::string::npos);
  auto json = Ctl(*d, {"plan", "list", "--json", "--symbol", "BTC-USD"});
  REQUIRE(json.exit_code == 0);
  CHECK(std::count(json.out.begin(), json.out.end(), '\n') == 3);
  CHECK(json.out.rfind("{\"plan_id\":\"far-1\"", 0) == 0);
  auto unknown = Ctl(*d, {"plan", "list", "--symbol", "NOPE"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err ==
        "exoroutectl: FAILED_PRECONDITION: symbol: unknown symbol \"NOPE\" (this node trades: BTC-USD, ETH-USD)\n");

  // The RPC a page at a time, and its checks.
  auto list_plans = [&](const ListPlansRequest& req, ListPlansResponse* resp) {
    grpc::ClientContext ctx;
    return RouterService::NewStub(ch)->ListPlans(&ctx, req, resp);
  };
  ListPlansRequest req;
  req.set_page_size(2);
  ListPlansResponse page;
  REQUIRE(list_plans(req, &page).ok());
  REQUIRE(page.plans_size() == 2);
  CHECK(page.plans(0).plan_id() == "far-1");
  CHECK(page.plans(1).plan_id() == "far-2");
  CHECK(page.next_page_token() == "far-2");
  req.set_page_token(page.next_page_token());
  page.Clear();
  REQUIRE(list_plans(req, &page).ok());
  REQUIRE(page.plans_size() == 1);
  CHECK(page.plans(0).plan_id() == "far-3");
  CHECK(page.next_page_token().empty());
  req.set_page_size(5000);
  grpc::Status s = list_plans(req, &page);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "page_size: must be <= 1000 (0 = 100), got 5000");

  // The operator's stop: every working plan cancelled, with the reason recorded.
  CHECK(Ctl(*d, {"plan", "cancel", "far-1", "--all"}).exit_code == 2);
  // A flag of another command (halt's --venue) is refused, not ignored: nothing is cancelled.
  auto venue = Ctl(*d, {"plan", "cancel", "--all", "--venue", "SIM-A", "--reason", "SIM-A down"});
  CHECK(venue.exit_code == 2);
  CHECK(venue.err.rfind("exoroutectl: plan cancel --all: --venue is not one of its flags", 0) == 0);
  CHECK(Ctl(*d, {"plan", "list"}).out.find("3 working plans\n") != std::string::npos);
  auto all = Ctl(*d, {"plan", "cancel", "--all", "--reason", "desk halt"});
  INFO(all.out << all.err);
  CHECK(all.exit_code == 0);
  CHECK(all.out.find("3 cancelled, 0 finished meanwhile, 0 not cancelled\n") != std::string::npos);
  CHECK(Ctl(*d, {"plan", "list"}).out == "no working plans\n");
  for (const char* id : {"far-1", "far-2", "far-3"}) {
    grpc::ClientContext ctx;
    GetPlanRequest get;
    get.set_plan_id(id);
    GetPlanResponse got;
    REQUIRE(RouterService::NewStub(ch)->GetPlan(&ctx, get, &got).ok());
    CHECK(got.plan().status() == PLAN_STATUS_CANCELLED);
    CHECK(got.plan().reason() == "desk halt");
  }
  // Nothing left: nothing to cancel, and that is no failure.
  auto none = Ctl(*d, {"plan", "cancel", "--all"});
  CHECK(none.exit_code == 0);
  CHECK(none.out == "0 cancelled, 0 finished meanwhile, 0 not cancelled\n");
}

TEST_CASE("an operator amends a resting order from the CLI: a new limit within the book fills it, the chain verifies",
          "[e2e][plans]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  auto routed = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "0.5", "--limit", "1", "--execute",
                         "--id", "rest"});
  INFO(routed.out << routed.err);
  REQUIRE(routed.exit_code == 0);

  auto smaller = Ctl(*d, {"plan", "amend", "rest", "--qty", "0.4", "--reason", "desk trims"});
  INFO(smaller.out << smaller.err);
  REQUIRE(smaller.exit_code == 0);
  CHECK(smaller.out.find("order     buy 0.40000000 BTC-USD limit 1.00") != std::string::npos);
  CHECK(smaller.out.find("amended   1 time, routed as 0.50000000 limit 1.00\n") != std::string::npos);
  CHECK(smaller.out.find("expected  nothing placed now, SHORTFALL 0.40000000\n") != std::string::npos);
  auto again = Ctl(*d, {"plan", "amend", "rest", "--qty", "0.4"});
  CHECK(again.exit_code == 0);
  CHECK(again.out.rfind("plan rest already has these terms: nothing amended\n", 0) == 0);
  auto nothing = Ctl(*d, {"plan", "amend", "rest"});
  CHECK(nothing.exit_code == 2);
  CHECK(nothing.err.find("plan amend: give --qty, --limit, --market or --urgency (or several)") != std::string::npos);
  auto both = Ctl(*d, {"plan", "amend", "rest", "--limit", "5", "--market"});
  CHECK(both.exit_code == 2);
  CHECK(both.err.find("plan amend: --limit or --market, not both (a new limit, or none)") != std::string::npos);
  auto soon = Ctl(*d, {"plan", "amend", "rest", "--urgency", "soon"});
  CHECK(soon.exit_code == 2);
  CHECK(soon.err.find("plan amend: --urgency must be low, normal or high, got \"soon\"") != std::string::npos);
  auto urgent = Ctl(*d, {"plan", "amend", "rest", "--urgency", "high"});
  INFO(urgent.out << urgent.err);
  REQUIRE(urgent.exit_code == 0);
  CHECK(urgent.out.find("order     buy 0.40000000 BTC-USD limit 1.00  GTC  EXECUTE  urgency HIGH") != std::string::npos);
  CHECK(urgent.out.find("amended   2 times, routed as 0.50000000 limit 1.00\n") != std::string::npos);
  auto off_lot = Ctl(*d, {"plan", "amend", "rest", "--qty", "0.4000001"});
  CHECK(off_lot.exit_code == 1);
  CHECK(off_lot.err.rfind("exoroutectl: INVALID_ARGUMENT: quantity: 0.40000010 is not a multiple of the smallest lot", 0) == 0);

  // A limit above the market: decided at once, and the plan fills within it.
  auto reach = Ctl(*d, {"plan", "amend", "rest", "--limit", "100000"});
  INFO(reach.out << reach.err);
  REQUIRE(reach.exit_code == 0);
  CHECK(reach.out.find("amended   3 times, routed as 0.50000000 limit 1.00\n") != std::string::npos);
  REQUIRE(Ctl(*d, {"watch", "rest"}).exit_code == 0);  // Until it settles.
  auto shown = Ctl(*d, {"plan", "show", "rest"});
  CHECK(shown.out.find("plan      rest  COMPLETED") != std::string::npos);
  CHECK(shown.out.find("filled    0.40000000 of 0.40000000") != std::string::npos);
  auto replay = Ctl(*d, {"replay", "--plan", "rest"});
  CHECK(replay.out.find("amended    quantity 0.40000000: desk trims\n") != std::string::npos);
  CHECK(replay.out.find("amended    quantity 0.40000000 urgency HIGH: amended by client\n") != std::string::npos);
  CHECK(replay.out.find("amended    quantity 0.40000000 limit 100000.00: amended by client\n") != std::string::npos);
  CheckChainRecomputes(*d);

  // The execution report: the plan as filled, with its amendments; the same offline.
  auto report = Ctl(*d, {"report", "--csv"});
  INFO(report.out << report.err);
  REQUIRE(report.exit_code == 0);
  CHECK(report.out.find("\nrest,BTC-USD,buy,COMPLETED,0.40000000,0.40000000,") != std::string::npos);
  const size_t row = report.out.find("\nrest,");
  REQUIRE(row != std::string::npos);
  const std::vector<std::string> fields =
      absl::StrSplit(report.out.substr(row + 1, report.out.find('\n', row + 1) - row - 1), ',');
  REQUIRE(fields.size() == 17);  // (routed_by last)
  CHECK(fields[12] == "3");  // amendments
  auto table = Ctl(*d, {"report", "--symbol", "BTC-USD"});
  CHECK(table.out.find("BTC-USD buy: 1 plan, filled 0.40000000 for ") != std::string::npos);
  auto offline = exo::testing::Run(EXOROUTECTL_PATH, {"report", "--csv", "--data-dir", dir.path()});
  CHECK(offline.exit_code == 0);
  CHECK(offline.out == report.out);
  CHECK(Ctl(*d, {"report", "--csv", "--json"}).exit_code == 2);
  auto json = Ctl(*d, {"report", "--json"});
  CHECK(json.out.rfind("{\"plan_id\":\"rest\",\"symbol\":\"BTC-USD\",\"side\":\"buy\",\"status\":\"COMPLETED\"", 0) == 0);
  CHECK(json.out.find("\"amendments\":3,") != std::string::npos);
  // By when the orders arrived: today's include it, tomorrow's nothing; a time that is none is named.
  const std::string today = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  CHECK(Ctl(*d, {"report", "--csv", "--since", today}).out == report.out);
  auto none = Ctl(*d, {"report", "--since", "2999-01-01T00:00:00Z"});
  CHECK(none.out == "no executed plans in the range\n");
  auto bad = Ctl(*d, {"report", "--since", "yesterday"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("report: --since: not a time: \"yesterday\"") != std::string::npos);
  // A range that ends before it starts is a mistake, not an empty report.
  auto reversed = Ctl(*d, {"report", "--since", "2026-12-07", "--until", "2026-12-01"});
  CHECK(reversed.exit_code == 2);
  CHECK(reversed.err.rfind("exoroutectl: report: --since (2026-12-07) must be before --until (2026-12-01)\n", 0) == 0);

  // A resting order amended to market fills at once; the limit's removal is in the chain.
  REQUIRE(Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "sell", "--qty", "0.3", "--limit", "1000000", "--execute",
                   "--id", "rest-2"})
              .exit_code == 0);
  auto market = Ctl(*d, {"plan", "amend", "rest-2", "--market", "--reason", "get out"});
  INFO(market.out << market.err);
  REQUIRE(market.exit_code == 0);
  CHECK(market.out.find("order     sell 0.30000000 BTC-USD market  GTC  EXECUTE") != std::string::npos);
  REQUIRE(Ctl(*d, {"watch", "rest-2"}).exit_code == 0);
  CHECK(Ctl(*d, {"plan", "show", "rest-2"}).out.find("plan      rest-2  COMPLETED") != std::string::npos);
  CHECK(Ctl(*d, {"replay", "--plan", "rest-2"}).out.find("amended    quantity 0.30000000 market (limit removed): get out\n") !=
        std::string::npos);
  CheckChainRecomputes(*d);

  auto late = Ctl(*d, {"plan", "amend", "rest", "--qty", "1"});
  CHECK(late.exit_code == 1);
  CHECK(late.err == "exoroutectl: FAILED_PRECONDITION: plan \"rest\" already finished: COMPLETED; nothing to amend\n");
  grpc::ClientContext ctx;
  AmendPlanResponse resp;
  grpc::Status s = RouterService::NewStub(ch)->AmendPlan(&ctx, AmendPlanRequest(), &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "plan_id: required");
}

namespace {

// How many times `needle` occurs in `text`.
size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// A client of the [disconnect] tests: rests buys limited at 1.00 (they never fill) and watches them.
class RestingClient {
 public:
  explicit RestingClient(std::shared_ptr<grpc::Channel> ch) : ch_(std::move(ch)), router_(RouterService::NewStub(ch_)) {}

  void Rest(const std::string& id) {
    RouteRequest req = Route(id, SIDE_BUY, kBtc / 2, ROUTE_MODE_EXECUTE);
    req.mutable_order()->set_limit_price(100);
    RouteResponse resp;
    REQUIRE(CallRoute(ch_, req, &resp).ok());
    REQUIRE(resp.plan().status() == PLAN_STATUS_WORKING);
  }
  // Cancels plan `id` (its watches then end, as a settled plan's do).
  void Cancel(const std::string& id) {
    CancelPlanRequest req;
    req.set_plan_id(id);
    req.set_reason("test over");
    CancelPlanResponse resp;
    grpc::ClientContext ctx;
    REQUIRE(router_->CancelPlan(&ctx, req, &resp).ok());
  }
  Plan PlanOf(const std::string& id) {
    GetPlanRequest req;
    req.set_plan_id(id);
    GetPlanResponse resp;
    grpc::ClientContext ctx;
    REQUIRE(router_->GetPlan(&ctx, req, &resp).ok());
    return resp.plan();
  }
  // A watch that has read the plan's first delta (so the node holds it), left open.
  struct OpenWatch {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<WatchPlanResponse>> reader;
    void Drop() {
      ctx.TryCancel();
      WatchPlanResponse m;
      while (reader->Read(&m)) {
      }
      (void)reader->Finish();
    }
  };
  std::unique_ptr<OpenWatch> Watch(const std::string& id, bool cancel_on_disconnect, uint32_t grace_ms) {
    auto w = std::make_unique<OpenWatch>();
    WatchPlanRequest req;
    req.set_plan_id(id);
    req.set_cancel_on_disconnect(cancel_on_disconnect);
    req.set_disconnect_grace_ms(grace_ms);
    w->reader = router_->WatchPlan(&w->ctx, req);
    WatchPlanResponse m;
    REQUIRE(w->reader->Read(&m));
    CHECK(m.delta().has_created());
    return w;
  }
  bool CancelledWithin(const std::string& id, int seconds) {
    for (int i = 0; i < seconds * 100; ++i) {
      if (PlanOf(id).status() == PLAN_STATUS_CANCELLED) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  StatusResponse Status() {
    StatusResponse st;
    grpc::ClientContext ctx;
    REQUIRE(AdminService::NewStub(ch_)->Status(&ctx, StatusRequest(), &st).ok());
    return st;
  }

 private:
  std::shared_ptr<grpc::Channel> ch_;
  std::unique_ptr<RouterService::Stub> router_;
};

}  // namespace

TEST_CASE("a plan watched with cancel_on_disconnect is cancelled when the watch goes away, not when one comes back",
          "[e2e][disconnect]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  auto router = RouterService::NewStub(ch);
  RestingClient client(ch);

  // The watch goes away (the client cancels it; a crash or a lost connection ends it alike).
  client.Rest("dms-1");
  client.Watch("dms-1", true, 0)->Drop();
  REQUIRE(client.CancelledWithin("dms-1", 10));
  CHECK(client.PlanOf("dms-1").reason() ==
        "cancelled on disconnect: the watch that asked for it ended before it settled, and none came back within 0 ms");
  auto replayed = Ctl(*d, {"replay", "--plan", "dms-1"});
  CHECK(replayed.out.find("cancelled on disconnect") != std::string::npos);

  // A plain watch that goes away changes nothing; one that comes back within the grace keeps the
  // plan working past the grace; the last one going away cancels it.
  client.Rest("dms-2");
  client.Watch("dms-2", false, 0)->Drop();
  auto first = client.Watch("dms-2", true, 1500);
  first->Drop();
  auto second = client.Watch("dms-2", true, 1500);  // Back at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(client.PlanOf("dms-2").status() == PLAN_STATUS_WORKING);
  second->Drop();
  CHECK(client.CancelledWithin("dms-2", 10));

  // Refusals name the field; a plan that settles ends its watch without a cancel.
  {
    grpc::ClientContext ctx;
    WatchPlanRequest req;
    req.set_plan_id("dms-1");
    req.set_disconnect_grace_ms(10);
    auto r = router->WatchPlan(&ctx, req);
    WatchPlanResponse m;
    while (r->Read(&m)) {
    }
    grpc::Status st = r->Finish();
    CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(st.error_message() == "disconnect_grace_ms: only with cancel_on_disconnect");
  }
  {
    grpc::ClientContext ctx;
    WatchPlanRequest req;
    req.set_plan_id("dms-none");
    req.set_cancel_on_disconnect(true);
    auto r = router->WatchPlan(&ctx, req);
    WatchPlanResponse m;
    while (r->Read(&m)) {
    }
    CHECK(r->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  }
  auto done = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "0.1", "--execute", "--wait",
                       "--cancel-on-disconnect", "--id", "dms-3"});
  INFO(done.out << done.err);
  CHECK(done.exit_code == 0);
  CHECK(done.out.find("plan      dms-3  COMPLETED") != std::string::npos);
  auto no_wait = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "0.1", "--execute",
                          "--cancel-on-disconnect"});
  CHECK(no_wait.exit_code == 2);
  CHECK(no_wait.err.find("route: --cancel-on-disconnect goes with --execute --wait") != std::string::npos);
  auto grace_alone = Ctl(*d, {"watch", "dms-3", "--grace-ms", "5"});
  CHECK(grace_alone.exit_code == 2);
  CHECK(grace_alone.err.find("watch: --grace-ms goes with --cancel-on-disconnect") != std::string::npos);
}

TEST_CASE("a dead man's switch is recorded and outlives a crash: armed plans whose client does not come back are "
          "cancelled after their grace",
          "[e2e][disconnect]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  std::optional<RestingClient> client(std::in_place, Connect(*d));
  client->Rest("armed-gone");
  client->Rest("armed-back");
  client->Rest("plain");
  auto gone = client->Watch("armed-gone", true, 4000);
  auto gone_again = client->Watch("armed-gone", true, 4000);  // The same grace again: recorded once.
  auto back = client->Watch("armed-back", true, 4000);
  auto plain = client->Watch("plain", false, 0);
  CHECK(client->Status().disconnect_held() == 2);
  CHECK(client->PlanOf("armed-gone").cancel_on_disconnect());
  CHECK(client->PlanOf("armed-gone").disconnect_grace_ms() == 4000);
  CHECK_FALSE(client->PlanOf("plain").cancel_on_disconnect());
  auto shown = Ctl(*d, {"plan", "show", "armed-gone"});
  CHECK(shown.out.find("switch    cancelled if no cancel-on-disconnect watch holds it for 4000 ms\n") != std::string::npos);
  auto replayed = Ctl(*d, {"replay", "--plan", "armed-gone"});
  INFO(replayed.out);
  CHECK(Occurrences(replayed.out, "armed      cancel on disconnect, grace 4000 ms\n") == 1);
  CHECK(Ctl(*d, {"status"}).out.find("switches    2 plans held by a cancel-on-disconnect watch, 0 waiting out their grace\n") !=
        std::string::npos);
  auto metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics");
  CHECK(metrics.body.find("\nexoroute_disconnect_switches{state=\"held\"} 2\n") != std::string::npos);

  // The node crashes with every watch open; its clients' streams end with it.
  d->Kill9();
  for (auto* w : {gone.get(), gone_again.get(), back.get(), plain.get()}) w->Drop();
  client.reset();
  d = StartDaemon(dir.path());
  client.emplace(Connect(*d));
  const auto started = std::chrono::steady_clock::now();
  // Both armed plans wait out their grace from when the node's API served; one client comes back in time.
  CHECK(client->Status().disconnect_waiting() == 2);
  auto returned = client->Watch("armed-back", true, 4000);
  CHECK(client->PlanOf("armed-gone").status() == PLAN_STATUS_WORKING);
  REQUIRE(client->CancelledWithin("armed-gone", 20));
  // Not before its grace: it began when the API served again, before `started` (the test saw
  // the node up) by at most the time the test took to see it.
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(3000));
  CHECK(client->PlanOf("armed-gone").reason() ==
        "cancelled on disconnect: the watch that asked for it ended before it settled, and none came back within 4000 ms");
  CHECK(client->PlanOf("armed-back").status() == PLAN_STATUS_WORKING);
  CHECK(client->PlanOf("plain").status() == PLAN_STATUS_WORKING);
  const StatusResponse st = client->Status();
  CHECK(st.disconnect_held() == 1);
  CHECK(st.disconnect_waiting() == 0);
  CHECK(st.disconnect_cancels() == 1);  // Counted since this start.
  CHECK(Ctl(*d, {"status"}).out.find("switches    1 plan held by a cancel-on-disconnect watch, 0 waiting out their "
                                     "grace; 1 cancelled on disconnect since start\n") != std::string::npos);
  CHECK(exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics")
            .body.find("\nexoroute_disconnect_cancels_total 1\n") != std::string::npos);
  // Re-armed with the grace it had: nothing new recorded for it.
  auto again = Ctl(*d, {"replay", "--plan", "armed-back"});
  CHECK(Occurrences(again.out, "armed      cancel on disconnect") == 1);
  returned->Drop();
  CHECK(client->CancelledWithin("armed-back", 20));
  CheckChainRecomputes(*d);
}

TEST_CASE("exoroutectl watch --cancel-on-disconnect rides out a restart of the node, watching again, and the order stays",
          "[e2e][disconnect]") {
  TempDir dir;
  const int api_port = exo::testing::FreePort();  // Kept across the restart (the CLI dials it again).
  auto d = StartDaemon(dir.path(), api_port);
  std::optional<RestingClient> client(std::in_place, Connect(*d));
  client->Rest("cli-held");
  const std::vector<std::string> args = {"--endpoint", d->endpoint(), "--ca", d->ca_file(), "watch", "cli-held",
                                         "--cancel-on-disconnect", "--grace-ms", "3000"};
  exo::testing::CommandResult watch;
  std::thread watcher([&] { watch = exo::testing::Run(EXOROUTECTL_PATH, args); });
  auto held_within = [&](int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (client->Status().disconnect_held() == 1) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  CHECK(held_within(10));

  d->Kill9();
  client.reset();
  d = StartDaemon(dir.path(), api_port);
  client.emplace(Connect(*d));
  CHECK(held_within(10));  // The CLI is back, holding the switch again...
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  CHECK(client->PlanOf("cli-held").status() == PLAN_STATUS_WORKING);  // ...so the grace passed without a cancel.
  CHECK(client->Status().disconnect_cancels() == 0);
  // The plan settling ends the CLI's watch as ever: exit 0, every delta printed once.
  client->Cancel("cli-held");
  watcher.join();
  INFO(watch.out << watch.err);
  CHECK(watch.exit_code == 0);
  CHECK(watch.err.find("exoroutectl: the node went away (") != std::string::npos);
  CHECK(watch.err.find("exoroutectl: watching cli-held again (its switch is held)") != std::string::npos);
  for (const char* kind : {" created ", " armed ", " cancel_req ", " finished "}) {
    INFO(kind);
    CHECK(Occurrences(watch.out, kind) == 1);
  }
}

TEST_CASE("exoroutectl route --execute --wait rides out a graceful restart of the node and ends with the plan",
          "[e2e][watch]") {
  TempDir dir;
  const int api_port = exo::testing::FreePort();  // Kept across the restart (the CLI dials it again).
  auto d = StartDaemon(dir.path(), api_port);
  // A buy limited far below the market rests: the wait has nothing to end it but a cancel.
  const std::vector<std::string> args = {"--endpoint", d->endpoint(), "--ca", d->ca_file(), "route", "--symbol",
                                         "BTC-USD", "--side", "buy", "--qty", "1", "--limit", "1.00", "--id",
                                         "waits-through", "--execute", "--wait"};
  exo::testing::CommandResult waited;
  std::thread waiter([&] { waited = exo::testing::Run(EXOROUTECTL_PATH, args); });
  auto watched_within = [&](DaemonProcess& node, int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (RestingClient(Connect(node)).Status().open_watches() == 1) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  CHECK(watched_within(*d, 10));
  CHECK(d->Terminate() == 0);  // SIGTERM: the node's watches end "shutting down".
  d = StartDaemon(dir.path(), api_port);
  CHECK(watched_within(*d, 10));  // The CLI watches again...
  RestingClient(Connect(*d)).Cancel("waits-through");
  waiter.join();
  // ...and ends as a wait ends: the plan as it settled, exit 0. (It ended at the restart with
  // "UNAVAILABLE: exorouted is shutting down; watch again", exit 1.)
  INFO(waited.out << waited.err);
  CHECK(waited.exit_code == 0);
  CHECK(waited.err.find("exoroutectl: the node went away (exorouted is shutting down") != std::string::npos);
  CHECK(waited.err.find("exoroutectl: watching waits-through again\n") != std::string::npos);
  CHECK(waited.out.rfind("plan      waits-through  CANCELLED", 0) == 0);
}

TEST_CASE("exoroutectl books shows what the node reads now, and why a side leaves a venue out", "[e2e][books]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  auto books = Ctl(*d, {"books", "BTC-USD", "--depth", "3"});
  INFO(books.out << books.err);
  REQUIRE(books.exit_code == 0);
  CHECK(books.out.rfind("books     BTC-USD  as an executed order decided now reads them\nbest      bid ", 0) == 0);
  for (const char* venue : {"\nSIM-A      fee 2.00 bp  age ", "\nSIM-B      fee 1.00 bp  age ", "\nSIM-C      fee 3.50 bp  age "}) {
    CHECK(books.out.find(venue) != std::string::npos);
  }
  CHECK(books.out.find("leaves it out") == std::string::npos);
  // An operator's halt of one venue: both sides leave it out, in the words a decision records.
  REQUIRE(Ctl(*d, {"halt", "--venue", "SIM-B", "--reason", "SIM-B misprices"}).exit_code == 0);
  auto halted = Ctl(*d, {"books", "BTC-USD", "--json"});
  REQUIRE(halted.exit_code == 0);
  GetBooksResponse r;
  REQUIRE(google::protobuf::util::JsonStringToMessage(halted.out, &r).ok());
  REQUIRE(r.venues_size() == 3);
  CHECK(r.venues(1).venue() == "SIM-B");
  CHECK(r.venues(1).buy_exclusion().find("halted by an operator") != std::string::npos);
  CHECK(r.venues(1).buy_exclusion().find("SIM-B misprices") != std::string::npos);
  CHECK(r.venues(0).buy_exclusion().empty());
  CHECK(r.venues(0).book().asks_size() == 5);  // The default depth.
  CHECK(r.best_ask() == std::min(r.venues(0).book().asks(0).price(), r.venues(2).book().asks(0).price()));
  CHECK(Ctl(*d, {"books", "BTC-USD"}).out.find("\n  a buy leaves it out: halted by an operator") != std::string::npos);
  // Refusals name the field, with the right codes.
  auto admin = AdminService::NewStub(ch);
  auto call = [&](const std::string& symbol, uint32_t depth) {
    GetBooksRequest req;
    req.set_symbol(symbol);
    req.set_depth(depth);
    GetBooksResponse resp;
    grpc::ClientContext ctx;
    return admin->GetBooks(&ctx, req, &resp);
  };
  grpc::Status st = call("", 0);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message() == "symbol: required");
  st = call("BTC-USD", 51);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message() == "depth: must be <= 50 (0 = 5), got 51");
  st = call("XRP-USD", 0);
  CHECK(st.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(st.error_message() == "symbol: unknown symbol \"XRP-USD\" (this node trades: BTC-USD, ETH-USD)");
  auto usage = Ctl(*d, {"books"});
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.find("books: expected one symbol") != std::string::npos);
}

TEST_CASE("exoroutectl plan settle ends a child its venue never answered, and the order is worked elsewhere",
          "[e2e][settle]") {
  TempDir dir;
  std::string config = TestConfigJson(dir.path());
  const size_t at = config.find("\"latency_ms\": 2,");  // SIM-A's: a session up but not working.
  REQUIRE(at != std::string::npos);
  config.insert(at, "\"unresponsive\": true, ");
  const size_t replan = config.find("\"replan_interval_ms\": 10");  // Overdue after 300 ms.
  REQUIRE(replan != std::string::npos);
  config.insert(replan, "\"child_timeout_ms\": 300, ");
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), config, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  RouteResponse resp;
  REQUIRE(CallRoute(ch, Route("st-1", SIDE_BUY, 5 * kBtc, ROUTE_MODE_EXECUTE), &resp).ok());
  REQUIRE(Ctl(*d, {"halt", "--venue", "SIM-A", "--reason", "SIM-A does not answer"}).exit_code == 0);
  // Once the order's children at the other venues have ended, SIM-A's are what is open.
  std::vector<std::string> open;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto shown = Ctl(*d, {"plan", "show", "st-1", "--json"});
    REQUIRE(shown.exit_code == 0);
    Plan p;
    REQUIRE(google::protobuf::util::JsonStringToMessage(shown.out, &p).ok());
    open.clear();
    bool others_done = true;
    for (const ChildState& c : p.children()) {
      if (c.order().venue() != "SIM-A") others_done = others_done && c.done();
      if (c.order().venue() == "SIM-A" && !c.done()) open.push_back(c.order().cl_ord_id());
    }
    if (others_done && !open.empty()) break;  // (The plan decides again once none is open.)
    open.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(!open.empty());
  // Past the child timeout, status lists them (the oldest first) and says what to do.
  StatusResponse unanswered;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       std::chrono::steady_clock::now() < until && unanswered.unanswered_children_total() < open.size();) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto json = Ctl(*d, {"status", "--json"});
    REQUIRE(google::protobuf::util::JsonStringToMessage(json.out, &unanswered).ok());
  }
  REQUIRE(unanswered.unanswered_children_total() == open.size());
  CHECK(unanswered.unanswered_children(0).order().cl_ord_id() == open[0]);
  CHECK(unanswered.unanswered_children(0).plan_id() == "st-1");
  auto status_text = Ctl(*d, {"status"});
  CHECK(status_text.out.find("\n  " + open[0] + " ") != std::string::npos);
  CHECK(status_text.out.find("once reconciled with the venue: exoroutectl plan settle PLAN CHILD") != std::string::npos);
  // The command's own checks, then the node's, each naming what is wrong.
  auto no_filled = Ctl(*d, {"plan", "settle", "st-1", open[0], "--reason", "x"});
  CHECK(no_filled.exit_code == 2);
  CHECK(no_filled.err.find("plan settle: --filled is required") != std::string::npos);
  auto no_price = Ctl(*d, {"plan", "settle", "st-1", open[0], "--filled", "0.001", "--reason", "desk"});
  CHECK(no_price.exit_code == 1);
  CHECK(no_price.err.find("INVALID_ARGUMENT: price: required for the 100000 filled that the plan has not recorded") !=
        std::string::npos);
  // A negative fill, and a price of 0 (the request's "no price"), are the command's to refuse.
  auto negative = Ctl(*d, {"plan", "settle", "st-1", open[0], "--filled", "-1", "--reason", "desk"});
  CHECK(negative.exit_code == 2);
  CHECK(negative.err.rfind("exoroutectl: plan settle: --filled: must be >= 0, got \"-1\"\n", 0) == 0);
  auto zero_price = Ctl(*d, {"plan", "settle", "st-1", open[0], "--filled", "0.001", "--price", "0", "--reason", "desk"});
  CHECK(zero_price.exit_code == 2);
  CHECK(zero_price.err.rfind("exoroutectl: plan settle: --price: must be > 0, got \"0\"\n", 0) == 0);
  auto unknown = Ctl(*d, {"plan", "settle", "st-1", "st-1.99", "--filled", "0", "--reason", "desk"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("NOT_FOUND: cl_ord_id: plan \"st-1\" has no child \"st-1.99\"") != std::string::npos);
  {
    grpc::ClientContext ctx;
    SettleChildRequest req;
    req.set_plan_id("st-1");
    req.set_cl_ord_id(open[0]);
    SettleChildResponse r;
    grpc::Status st = AdminService::NewStub(ch)->SettleChild(&ctx, req, &r);
    CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(st.error_message() == "reason: required (it is recorded in the chain: say who confirmed the settlement)");
  }
  // The desk confirms SIM-A filled 0.001 of the first at 65000.00 and nothing of the others.
  auto settled = Ctl(*d, {"plan", "settle", "st-1", open[0], "--filled", "0.001", "--price", "65000.00", "--fee",
                          "0.01", "--reason", "SIM-A desk, ticket 4711"});
  INFO(settled.out << settled.err);
  REQUIRE(settled.exit_code == 0);
  CHECK(settled.out.rfind("child " + open[0] + " settled: 0.00100000 filled (recorded)\n", 0) == 0);
  CHECK(settled.out.find("settled by operator: SIM-A desk, ticket 4711") != std::string::npos);
  for (size_t i = 1; i < open.size(); ++i) {
    REQUIRE(Ctl(*d, {"plan", "settle", "st-1", open[i], "--filled", "0", "--reason", "SIM-A: no fill"}).exit_code == 0);
  }
  auto again = Ctl(*d, {"plan", "settle", "st-1", open[0], "--filled", "0.001", "--reason", "desk"});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("FAILED_PRECONDITION: cl_ord_id: child " + open[0] + " has ended already") != std::string::npos);
  // The rest is worked at SIM-B and SIM-C to the whole order; the chain holds and re-solves.
  std::vector<PlanDelta> deltas = WatchToEnd(ch, "st-1");
  REQUIRE(!deltas.empty());
  REQUIRE(deltas.back().has_finished());
  CHECK(deltas.back().finished().status() == PLAN_STATUS_COMPLETED);
  int settled_fills = 0;
  for (const PlanDelta& x : deltas) {
    if (!x.has_fill() || x.fill().exec_id() != "settled-by-operator") continue;
    ++settled_fills;
    CHECK(x.fill().quantity() == 100'000);
    CHECK(x.fill().price() == 6'500'000);
    CHECK(x.fill().fee() == 1);
  }
  CHECK(settled_fills == 1);
  auto status = Ctl(*d, {"status", "--json"});
  StatusResponse sr;
  REQUIRE(google::protobuf::util::JsonStringToMessage(status.out, &sr).ok());
  for (const VenueStatus& v : sr.venues()) {
    if (v.venue() == "SIM-A") CHECK(v.children_partial() + v.children_unfilled() == open.size());
    CHECK(v.children_unanswered() == 0);
  }
  CHECK(sr.unanswered_children_total() == 0);
  CheckChainRecomputes(*d);
}

TEST_CASE("a follower of the node's chain gets every delta once, live, follows it through a restart, and where to "
          "follow again from when the node stays away",
          "[e2e][follow]") {
  TempDir dir;
  const int api_port = exo::testing::FreePort();  // Kept across the restart (the CLI dials it again).
  auto d = StartDaemon(dir.path(), api_port);
  auto ch = Connect(*d);
  auto audit = AuditService::NewStub(ch);
  auto refused = [&](ReplayRequest req) {
    grpc::ClientContext ctx;
    auto r = audit->Replay(&ctx, req);
    ReplayResponse m;
    while (r->Read(&m)) {
    }
    return r->Finish();
  };
  ReplayRequest bad;
  bad.set_plan_id("f-1");
  bad.set_follow(true);
  grpc::Status s = refused(bad);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "follow: only with a range (WatchPlan follows one plan)");
  bad.mutable_range()->set_to_sequence(5);
  s = refused(bad);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "range.to_sequence: must be 0 (open) with follow, got 5");
  auto usage = Ctl(*d, {"replay", "--follow", "--plan", "f-1"});
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.find("replay: --follow follows the node's chain from --from N: not with --plan, --to or --data-dir") !=
        std::string::npos);
  auto verify_usage = Ctl(*d, {"audit", "verify", "--follow", "--recompute"});
  CHECK(verify_usage.exit_code == 2);
  CHECK(verify_usage.err.find("audit verify --follow checks the node's chain as it grows, from --from N: not with --to, "
                              "--recompute, --signed-head or --data-dir") != std::string::npos);
  auto head = [&] {
    grpc::ClientContext ctx;
    GetChainHeadResponse h;
    REQUIRE(audit->GetChainHead(&ctx, GetChainHeadRequest(), &h).ok());
    return h.head().sequence();
  };
  auto open_replays = [&] {
    grpc::ClientContext ctx;
    StatusResponse st;
    REQUIRE(AdminService::NewStub(ch)->Status(&ctx, StatusRequest(), &st).ok());
    return st.open_replays();
  };

  // From the first delta: the stored ones, then each as it is recorded.
  grpc::ClientContext ctx;
  ReplayRequest req;
  req.mutable_range()->set_from_sequence(1);
  req.set_follow(true);
  auto reader = audit->Replay(&ctx, req);
  std::vector<PlanDelta> seen;
  ReplayResponse m;
  auto read_to = [&](uint64_t sequence) {
    while (seen.size() < sequence && reader->Read(&m)) seen.push_back(m.delta());
    REQUIRE(seen.size() == sequence);
  };
  read_to(head());
  CHECK(open_replays() == 1);
  // The CLI follows too, from the next delta on, through a restart of the node, until the node
  // stays away longer than --reconnect-for; and checks the chain's links from the second delta
  // on as they come, the restarted node's extending the ones checked before.
  const uint64_t cli_from = seen.size() + 1;
  exo::testing::CommandResult cli, checker;
  std::thread cli_thread(
      [&] { cli = Ctl(*d, {"--reconnect-for", "5", "replay", "--follow", "--from", std::to_string(cli_from)}); });
  std::thread checker_thread(
      [&] { checker = Ctl(*d, {"--reconnect-for", "5", "audit", "verify", "--follow", "--from", "2"}); });
  for (int i = 0; i < 500 && open_replays() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(open_replays() == 3);
  RouteResponse resp;
  REQUIRE(CallRoute(ch, Route("f-1", SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());
  REQUIRE(CallRoute(ch, Route("f-2", SIDE_SELL, kBtc, ROUTE_MODE_EXECUTE), &resp).ok());
  const std::vector<PlanDelta> f2 = WatchToEnd(ch, "f-2");
  read_to(head());
  // Gapless, chained, and what a replay of the range gives, byte for byte.
  for (size_t i = 0; i < seen.size(); ++i) {
    INFO("delta " << i + 1);
    CHECK(seen[i].sequence() == i + 1);
    if (i > 0) CHECK(seen[i].prev_hash() == seen[i - 1].hash());
  }
  {
    grpc::ClientContext all_ctx;
    ReplayRequest all;
    all.mutable_range()->set_to_sequence(seen.size());
    auto r = audit->Replay(&all_ctx, all);
    size_t i = 0;
    while (r->Read(&m)) {
      REQUIRE(i < seen.size());
      CHECK(m.delta().SerializeAsString() == seen[i++].SerializeAsString());
    }
    CHECK(r->Finish().ok());
    CHECK(i == seen.size());
  }
  CHECK(std::any_of(seen.begin(), seen.end(), [&](const PlanDelta& x) {
    return x.plan_id() == "f-2" && x.plan_version() == f2.back().plan_version() && x.has_finished();
  }));
  // A follower that leaves is let go on the node.
  {
    grpc::ClientContext gone_ctx;
    auto gone = audit->Replay(&gone_ctx, req);
    REQUIRE(gone->Read(&m));
    CHECK(open_replays() == 4);
    gone_ctx.TryCancel();
    while (gone->Read(&m)) {
    }
    CHECK(gone->Finish().error_code() == grpc::StatusCode::CANCELLED);
    for (int i = 0; i < 500 && open_replays() != 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(open_replays() == 3);
  }

  // The node stops: a follower is told where to follow again from.
  const uint64_t last = seen.size();
  CHECK(d->Terminate() == 0);
  while (reader->Read(&m)) seen.push_back(m.delta());
  s = reader->Finish();
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(s.error_message() == absl::StrCat("exorouted is shutting down; follow again from sequence ", seen.size() + 1));
  CHECK(last <= seen.size());
  const uint64_t before_restart = seen.size();
  // It starts again on the same port: the CLI's two followers are back, and go on with what the
  // restarted node records.
  d = StartDaemon(dir.path(), api_port);
  ch = Connect(*d);
  audit = AuditService::NewStub(ch);
  for (int i = 0; i < 1000 && open_replays() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(open_replays() == 2);
  REQUIRE(CallRoute(ch, Route("f-3", SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());
  GetChainHeadResponse final_head;
  {
    grpc::ClientContext head_ctx;
    REQUIRE(audit->GetChainHead(&head_ctx, GetChainHeadRequest(), &final_head).ok());
  }
  REQUIRE(final_head.head().sequence() > before_restart);
  // It stops again and stays away: each follower waits --reconnect-for, then says where to
  // follow again from.
  CHECK(d->Terminate() == 0);
  const std::string where =
      absl::StrCat("UNAVAILABLE: exorouted is shutting down; follow again from sequence ", final_head.head().sequence() + 1);
  cli_thread.join();
  INFO(cli.out << cli.err);
  CHECK(cli.exit_code == 1);
  CHECK(cli.err.find("exoroutectl: the node went away (exorouted is shutting down; follow again from sequence ") == 0);
  CHECK(cli.err.find(absl::StrCat("exoroutectl: following the chain again from sequence ", before_restart + 1, "\n")) !=
        std::string::npos);
  CHECK(cli.err.find("; following the chain again as soon as it answers, for up to 5s\n") != std::string::npos);
  CHECK(cli.err.find(absl::StrCat("exoroutectl: ", where, "\n")) != std::string::npos);
  // The CLI printed a line per delta from where it started, once each, across the restart: the
  // three plans' among them.
  const std::vector<std::string> lines = absl::StrSplit(cli.out, '\n', absl::SkipEmpty());
  CHECK(lines.size() == final_head.head().sequence() - cli_from + 1);
  CHECK(cli.out.find(" f-1 ") != std::string::npos);
  CHECK(cli.out.find(" f-2 ") != std::string::npos);
  CHECK(cli.out.find(" f-3 ") != std::string::npos);
  // The checker said how far the chain checked out, before the restart and up to the last delta
  // after it, with their hashes.
  checker_thread.join();
  INFO(checker.out << checker.err);
  CHECK(checker.exit_code == 1);
  CHECK(checker.err.find(absl::StrCat("exoroutectl: checking the chain again from delta ", before_restart + 1, "\n")) !=
        std::string::npos);
  CHECK(checker.err.find(where) != std::string::npos);
  CHECK(checker.out.find(absl::StrCat("verified through ", before_restart, "  ",
                                      absl::BytesToHexString(seen.back().hash()), "\n")) != std::string::npos);
  CHECK(checker.out.find(absl::StrCat("verified through ", final_head.head().sequence(), "  ",
                                      absl::BytesToHexString(final_head.head().hash()), "\n")) != std::string::npos);
}

namespace {
ChainHead HeadOf(const DaemonProcess& d) {
  grpc::ClientContext ctx;
  GetChainHeadResponse h;
  REQUIRE(AuditService::NewStub(Connect(d))->GetChainHead(&ctx, GetChainHeadRequest(), &h).ok());
  return h.head();
}
}  // namespace

TEST_CASE("audit verify --follow and replay --follow catch a node that comes back on another chain than the one they read",
          "[e2e][follow]") {
  // Three data directories, one API port: a node's own, another node's whose chain is longer,
  // and a new one (a chain of two deltas).
  TempDir mine, longer, fresh;
  const int api_port = exo::testing::FreePort();
  auto plan_only = [](const DaemonProcess& d, int orders, const std::string& prefix) {
    auto ch = Connect(d);
    for (int i = 0; i < orders; ++i) {
      RouteResponse resp;
      REQUIRE(CallRoute(ch, Route(prefix + std::to_string(i), SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());
    }
  };
  auto d = StartDaemon(mine.path(), api_port);
  // The same TLS certificates in all three (the checker trusts the CA it was given): only the
  // chain differs.
  for (const TempDir* other : {&longer, &fresh}) {
    std::filesystem::copy(mine / "certs", *other / "certs", std::filesystem::copy_options::recursive);
  }
  {
    auto other = StartDaemon(longer.path());
    plan_only(*other, 8, "other-");
    CHECK(other->Terminate() == 0);
  }
  plan_only(*d, 3, "mine-");
  auto follows_within = [](const DaemonProcess& node, int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      grpc::ClientContext ctx;
      StatusResponse st;
      if (AdminService::NewStub(Connect(node))->Status(&ctx, StatusRequest(), &st).ok() && st.open_replays() == 1) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  // The node comes back on another node's longer chain: its delta at the last one checked is not
  // the one checked. A drop copy (replay --follow) says so too, instead of going on with the
  // other chain's deltas.
  exo::testing::CommandResult checker, copy;
  std::thread checker_thread([&] { checker = Ctl(*d, {"--reconnect-for", "20", "audit", "verify", "--follow"}); });
  std::thread copy_thread([&] { copy = Ctl(*d, {"--reconnect-for", "20", "replay", "--follow"}); });
  for (int i = 0; i < 200 && RestingClient(Connect(*d)).Status().open_replays() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(RestingClient(Connect(*d)).Status().open_replays() == 2);
  const uint64_t checked = HeadOf(*d).sequence();
  CHECK(d->Terminate() == 0);
  d = StartDaemon(longer.path(), api_port);
  checker_thread.join();
  copy_thread.join();
  for (const exo::testing::CommandResult* r : {&checker, &copy}) {
    INFO(r->out << r->err);
    CHECK(r->exit_code == 3);
    CHECK(r->err.find(absl::StrCat("exoroutectl: DATA_LOSS: delta ", checked,
                                   " is not the one read before the node went away: its hash is ")) != std::string::npos);
    CHECK(r->err.find(": not the chain it had\n") != std::string::npos);
  }
  CHECK(checker.out.find(absl::StrCat("verified through ", checked, "  ")) != std::string::npos);
  const std::vector<std::string> copied = absl::StrSplit(copy.out, '\n', absl::SkipEmpty());
  CHECK(copied.size() == checked);  // Every delta of the first chain, none of the other's.
  CHECK(copy.out.find("other-") == std::string::npos);
  // From that chain, the node comes back on a new one, shorter.
  const uint64_t longer_head = HeadOf(*d).sequence();
  std::thread second_thread([&] { checker = Ctl(*d, {"--reconnect-for", "20", "audit", "verify", "--follow"}); });
  REQUIRE(follows_within(*d, 10));
  CHECK(d->Terminate() == 0);
  d = StartDaemon(fresh.path(), api_port);
  second_thread.join();
  INFO(checker.out << checker.err);
  CHECK(checker.exit_code == 3);
  CHECK(checker.err.find(absl::StrCat("exoroutectl: DATA_LOSS: the node came back with a chain of ", HeadOf(*d).sequence(),
                                      " deltas, shorter than the ", longer_head,
                                      " read before it went away: not the chain it had\n")) != std::string::npos);
}

namespace {
// After a resume: a 1 BTC executed route completes, `replay` shows each of `lines` (the halt's
// and the resume's), and the chain verifies with every decision re-solved.
void TradesAgainAndChainSays(const exo::testing::DaemonProcess& d, const std::vector<std::string>& lines) {
  auto traded = Ctl(d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--execute", "--wait"});
  INFO(traded.out << traded.err);
  CHECK(traded.exit_code == 0);
  CHECK(traded.out.find("COMPLETED") != std::string::npos);
  auto replay = Ctl(d, {"replay"});
  for (const std::string& line : lines) CHECK(replay.out.find(line) != std::string::npos);
  auto verify = Ctl(d, {"audit", "verify", "--recompute"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
}
// The command `plan books … --out FILE` prints to re-run its decision ("re-run it: exoroutectl
// …"), as exoroutectl's arguments.
std::vector<std::string> RerunArgs(const std::string& out) {
  const std::string mark = "re-run it: exoroutectl ";
  const size_t at = out.find(mark);
  REQUIRE(at != std::string::npos);
  const size_t from = at + mark.size();
  return absl::StrSplit(out.substr(from, out.find('\n', from) - from), ' ');
}

// `exoroutectl ARGS` (a solve with --json): its Decision.
Decision SolvedBy(const std::vector<std::string>& args) {
  auto r = exo::testing::Run(EXOROUTECTL_PATH, args);
  INFO(absl::StrJoin(args, " ") << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  Decision d;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.out, &d).ok());
  return d;
}
}  // namespace

TEST_CASE("exoroutectl halt stops trading on a node across a restart and resume lifts it", "[e2e][halt]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  auto set_trading = [&](TradingAction action, const std::string& reason, SetTradingResponse* resp) {
    grpc::ClientContext ctx;
    SetTradingRequest req;
    req.set_action(action);
    req.set_reason(reason);
    return AdminService::NewStub(ch)->SetTrading(&ctx, req, resp);
  };
  SetTradingResponse resp;
  grpc::Status s = set_trading(TRADING_ACTION_UNSPECIFIED, "x", &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "action: must be TRADING_ACTION_HALT or TRADING_ACTION_RESUME, got 0");
  s = set_trading(TRADING_ACTION_HALT, "", &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "reason: required (it is recorded in the chain)");
  s = set_trading(TRADING_ACTION_HALT, std::string(257, 'r'), &resp);
  CHECK(s.error_message() == "reason: at most 256 bytes, got 257");
  s = set_trading(TRADING_ACTION_HALT, "venue down\n2026-12-06T00:00:00.000Z INFO  trading resumed", &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().rfind("reason: one line of text, without control characters; byte 11 is 0x0a in ", 0) == 0);
  CHECK(Ctl(*d, {"halt"}).exit_code == 2);  // --reason is required.

  auto halt = Ctl(*d, {"halt", "--reason", "venue SIM-B misprices"});
  INFO(halt.out << halt.err);
  REQUIRE(halt.exit_code == 0);
  CHECK(halt.out.rfind("trading halted (recorded at sequence ", 0) == 0);
  CHECK(Ctl(*d, {"halt", "--reason", "again"}).out == "trading was already halted; nothing recorded\n");
  auto route = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--execute"});
  CHECK(route.exit_code == 1);
  CHECK(route.err.rfind("exoroutectl: FAILED_PRECONDITION: trading is halted on this node since ", 0) == 0);
  CHECK(route.err.find(": venue SIM-B misprices (exoroutectl resume lifts it") != std::string::npos);
  CHECK(Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--id", "what-if"}).exit_code == 0);
  CHECK(Ctl(*d, {"status"}).out.find("trading     HALTED since ") != std::string::npos);
  auto metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics");
  CHECK(metrics.body.find("\nexoroute_trading_halted 1\n") != std::string::npos);

  // A restart does not lift it.
  REQUIRE(d->Terminate() == 0);
  d = StartDaemon(dir.path());
  ch = Connect(*d);
  auto status = Ctl(*d, {"status"});
  CHECK(status.out.find("trading     HALTED since ") != std::string::npos);
  CHECK(status.out.find("venue SIM-B misprices") != std::string::npos);
  CHECK(Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--execute"}).exit_code == 1);

  auto resume = Ctl(*d, {"resume", "--reason", "SIM-B fixed"});
  INFO(resume.out << resume.err);
  CHECK(resume.exit_code == 0);
  CHECK(resume.out.rfind("trading resumed (recorded at sequence ", 0) == 0);
  CHECK(Ctl(*d, {"status"}).out.find("trading ") == std::string::npos);
  TradesAgainAndChainSays(*d, {"governance trading halted: venue SIM-B misprices",
                               "governance trading active: SIM-B fixed"});

  // One venue alone: executed routes decide without it and say why; the node trades on.
  auto venue_halt = Ctl(*d, {"halt", "--venue", "SIM-B", "--reason", "SIM-B misprices"});
  INFO(venue_halt.out << venue_halt.err);
  CHECK(venue_halt.out.rfind("trading at venue SIM-B halted (recorded at sequence ", 0) == 0);
  auto bad_venue = Ctl(*d, {"halt", "--venue", "NOPE", "--reason", "x"});
  CHECK(bad_venue.err == "exoroutectl: INVALID_ARGUMENT: venue: unknown venue \"NOPE\" (this node's: SIM-A, SIM-B, SIM-C)\n");
  auto status_v = Ctl(*d, {"status"});
  INFO(status_v.out);
  CHECK(status_v.out.find("  SIM-B      sim     HALTED ") != std::string::npos);
  CHECK(status_v.out.find("HALTED since ") != std::string::npos);
  CHECK(status_v.out.find(": SIM-B misprices (adapter UP; exoroutectl resume --venue SIM-B)") != std::string::npos);
  CHECK(status_v.out.find("trading     HALTED") == std::string::npos);
  metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics");
  CHECK(metrics.body.find("\nexoroute_venue_halted{venue=\"SIM-B\"} 1\n") != std::string::npos);
  CHECK(metrics.body.find("\nexoroute_venue_halted{venue=\"SIM-A\"} 0\n") != std::string::npos);
  auto without_b = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "12", "--execute", "--wait"});
  INFO(without_b.out << without_b.err);
  CHECK(without_b.exit_code == 0);
  CHECK(without_b.out.find("excluded SIM-B: halted by an operator since ") != std::string::npos);
  const size_t children_table = without_b.out.find("  CHILD ");
  REQUIRE(children_table != std::string::npos);
  CHECK(without_b.out.find("SIM-B", children_table) == std::string::npos);  // No child there.
  CHECK(Ctl(*d, {"resume", "--venue", "SIM-B", "--reason", "fixed"}).exit_code == 0);
  CHECK(Ctl(*d, {"status"}).out.find("HALTED") == std::string::npos);
}

TEST_CASE("exoroutectl halt --symbol stops one symbol while the others trade on", "[e2e][halt]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  {
    grpc::ClientContext ctx;
    SetTradingRequest req;
    req.set_action(TRADING_ACTION_HALT);
    req.set_reason("x");
    req.set_venue("SIM-A");
    req.set_symbol("BTC-USD");
    SetTradingResponse resp;
    grpc::Status s = AdminService::NewStub(ch)->SetTrading(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message() == "venue, symbol: halt or resume one venue or one symbol, not both");
  }
  CHECK(Ctl(*d, {"halt", "--symbol", "BTC-USD", "--venue", "SIM-A", "--reason", "x"}).exit_code == 2);
  auto bad = Ctl(*d, {"halt", "--symbol", "XBT-USD", "--reason", "x"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err == "exoroutectl: INVALID_ARGUMENT: symbol: unknown symbol \"XBT-USD\" (this node trades: BTC-USD, ETH-USD)\n");

  auto halt = Ctl(*d, {"halt", "--symbol", "BTC-USD", "--reason", "BTC reference data suspect"});
  INFO(halt.out << halt.err);
  REQUIRE(halt.exit_code == 0);
  CHECK(halt.out.rfind("trading in BTC-USD halted (recorded at sequence ", 0) == 0);
  CHECK(Ctl(*d, {"halt", "--symbol", "BTC-USD", "--reason", "again"}).out ==
        "trading in BTC-USD was already halted; nothing recorded\n");
  auto btc = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--execute"});
  CHECK(btc.exit_code == 1);
  CHECK(btc.err.rfind("exoroutectl: FAILED_PRECONDITION: trading in BTC-USD is halted on this node since ", 0) == 0);
  CHECK(btc.err.find(": BTC reference data suspect (exoroutectl resume --symbol BTC-USD lifts it") != std::string::npos);
  CHECK(Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--id", "what-if"}).exit_code == 0);
  auto eth = Ctl(*d, {"route", "--symbol", "ETH-USD", "--side", "buy", "--qty", "2", "--execute", "--wait"});
  INFO(eth.out << eth.err);
  CHECK(eth.exit_code == 0);
  CHECK(eth.out.find("COMPLETED") != std::string::npos);

  auto status = Ctl(*d, {"status"});
  INFO(status.out);
  CHECK(status.out.find("trading     BTC-USD HALTED since ") != std::string::npos);
  CHECK(status.out.find("): BTC reference data suspect; no child order of it is sent (exoroutectl resume --symbol "
                        "BTC-USD)\n") != std::string::npos);
  CHECK(status.out.find("trading     HALTED") == std::string::npos);  // Not the node.
  auto metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics");
  CHECK(metrics.body.find("\nexoroute_symbol_halted{symbol=\"BTC-USD\"} 1\n") != std::string::npos);
  CHECK(metrics.body.find("\nexoroute_symbol_halted{symbol=\"ETH-USD\"} 0\n") != std::string::npos);
  CHECK(metrics.body.find("\nexoroute_trading_halted 0\n") != std::string::npos);

  // Kept across a restart; resumed, BTC trades again; the chain says both and verifies.
  REQUIRE(d->Terminate() == 0);
  d = StartDaemon(dir.path());
  CHECK(Ctl(*d, {"status"}).out.find("trading     BTC-USD HALTED since ") != std::string::npos);
  CHECK(Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--execute"}).exit_code == 1);
  auto resume = Ctl(*d, {"resume", "--symbol", "BTC-USD", "--reason", "data fixed"});
  INFO(resume.out << resume.err);
  CHECK(resume.out.rfind("trading in BTC-USD resumed (recorded at sequence ", 0) == 0);
  CHECK(Ctl(*d, {"status"}).out.find("HALTED") == std::string::npos);
  TradesAgainAndChainSays(*d, {"governance trading symbol BTC-USD halted: BTC reference data suspect",
                               "governance trading symbol BTC-USD active: data fixed"});
}

TEST_CASE("a low-urgency route takes only its band now and keeps its urgency across a restart", "[e2e][urgency]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  {
    RouteRequest bad = Route("u-bad", SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY);
    bad.mutable_order()->set_urgency(static_cast<Urgency>(7));
    RouteResponse resp;
    grpc::Status s = CallRoute(ch, bad, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message() == "order.urgency: must be URGENCY_LOW, URGENCY_NORMAL or URGENCY_HIGH (or unset), got 7");
  }
  CHECK(Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--urgency", "soon"}).exit_code == 2);
  // More than lies within 2 bp of the best bid on the sim books.
  auto low = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "sell", "--qty", "60", "--urgency", "low", "--id", "u-low"});
  INFO(low.out << low.err);
  REQUIRE(low.exit_code == 0);
  CHECK(low.out.find("  PLAN_ONLY  urgency LOW\n") != std::string::npos);
  CHECK(low.out.find(", band limit ") != std::string::npos);
  CHECK(low.out.find("SHORTFALL") != std::string::npos);
  auto low_json = Ctl(*d, {"--json", "plan", "show", "u-low"});
  Plan lp;
  REQUIRE(google::protobuf::util::JsonStringToMessage(low_json.out, &lp).ok());
  CHECK(lp.last_solve().price_band_limit() > 0);
  for (const auto& a : lp.allocations()) CHECK(a.limit_price() >= lp.last_solve().price_band_limit());  // A sell's band.
  // Its books, re-run offline with the decision's own terms: the same band, the same split; with
  // high urgency on the same books, no band and more taken.
  auto books = Ctl(*d, {"plan", "books", "u-low", "--out", dir / "books.json", "--config-out", dir / "terms.json"});
  INFO(books.out << books.err);
  REQUIRE(books.exit_code == 0);
  std::vector<std::string> rerun = RerunArgs(books.out);
  CHECK(std::find(rerun.begin(), rerun.end(), "--urgency") != rerun.end());
  rerun.push_back("--json");
  const Decision again = SolvedBy(rerun);
  CHECK(again.stats().price_band_limit() == lp.last_solve().price_band_limit());
  CHECK(again.shortfall() == lp.shortfall());
  REQUIRE(again.allocations_size() == lp.allocations_size());
  for (int i = 0; i < lp.allocations_size(); ++i) CHECK(again.allocations(i).quantity() == lp.allocations(i).quantity());
  *std::find(rerun.begin(), rerun.end(), "low") = "high";
  const Decision taken = SolvedBy(rerun);
  CHECK(taken.stats().price_band_limit() == 0);
  CHECK(taken.shortfall() < again.shortfall());

  // Price protection: the mid at arrival + 1 bp, fixed by the first decision and shown.
  auto protected_buy = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "60", "--arrival-band-bps",
                                "1", "--id", "u-arrival"});
  INFO(protected_buy.out << protected_buy.err);
  REQUIRE(protected_buy.exit_code == 0);
  CHECK(protected_buy.out.find("  PLAN_ONLY  arrival band 1 bp (limit ") != std::string::npos);
  CHECK(protected_buy.out.find("SHORTFALL") != std::string::npos);
  CHECK(Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--arrival-band-bps", "-1"}).exit_code == 2);

  // After a restart the plans still say so (their deltas are in canonical formats 2 and 3), and
  // the chain verifies with every decision re-solved.
  REQUIRE(d->Terminate() == 0);
  d = StartDaemon(dir.path());
  CHECK(Ctl(*d, {"plan", "show", "u-arrival"}).out.find("  PLAN_ONLY  arrival band 1 bp (limit ") != std::string::npos);
  auto arrival_replay = Ctl(*d, {"replay", "--plan", "u-arrival"});
  CHECK(arrival_replay.out.find("created    buy 60.00000000 BTC-USD PLAN_ONLY arrival band 1 bp\n") != std::string::npos);
  CHECK(arrival_replay.out.find("  arrival limit ") != std::string::npos);
  auto shown = Ctl(*d, {"plan", "show", "u-low"});
  CHECK(shown.out.find("  PLAN_ONLY  urgency LOW\n") != std::string::npos);
  CHECK(shown.out.find(", band limit ") != std::string::npos);
  auto replay = Ctl(*d, {"replay", "--plan", "u-low"});
  CHECK(replay.out.find("created    sell 60.00000000 BTC-USD PLAN_ONLY urgency LOW\n") != std::string::npos);
  CHECK(replay.out.find("  band limit ") != std::string::npos);
  CheckChainRecomputes(*d);
}

TEST_CASE("kill -9 under concurrent routing loses no acknowledged plan and the chain verifies",
          "[e2e][crash]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> acks{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 500 && !stop; ++i) {
        std::string id = "crash-" + std::to_string(t) + "-" + std::to_string(i);
        RouteResponse resp;
        RouteMode mode = i % 2 ? ROUTE_MODE_EXECUTE : ROUTE_MODE_PLAN_ONLY;
        if (CallRoute(ch, Route(id, i % 3 ? SIDE_BUY : SIDE_SELL, kBtc / 10, mode), &resp).ok()) {
          std::lock_guard<std::mutex> l(mu);
          acked.insert(id);
          ++acks;
        }
      }
    });
  }
  // Crash in the middle of the traffic.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (acks < 60 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  d->Kill9();
  stop = true;
  for (auto& c : clients) c.join();
  REQUIRE(acks >= 60);

  // Offline verification of the crashed database, then a restart on it: from the checkpoint of
  // the first start (an empty chain), reading every delta since.
  auto offline = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "verify", "--recompute", "--data-dir", dir.path()});
  INFO(offline.out << offline.err);
  CHECK(offline.exit_code == 0);
  auto crashed_head = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "head", "--data-dir", dir.path()});
  REQUIRE(crashed_head.exit_code == 0);
  d = StartDaemon(dir.path());
  ch = Connect(*d);
  {
    StatusResponse st;
    grpc::ClientContext sctx;
    REQUIRE(AdminService::NewStub(ch)->Status(&sctx, StatusRequest(), &st).ok());
    CHECK(st.started_from_checkpoint());
    CHECK(st.start_deltas_read() == std::stoull(crashed_head.out));
  }
  for (const auto& id : acked) {
    grpc::ClientContext ctx;
    GetPlanRequest req;
    req.set_plan_id(id);
    GetPlanResponse r;
    INFO(id);
    CHECK(RouterService::NewStub(ch)->GetPlan(&ctx, req, &r).ok());
  }
  // Plans that were executing when the node died resume and finish.
  for (const auto& id : acked) {
    auto deltas = WatchToEnd(ch, id);
    REQUIRE_FALSE(deltas.empty());
  }
  CheckChainRecomputes(*d);
  CHECK(d->Terminate() == 0);
}

TEST_CASE("a changed byte in a stored delta is named by audit verify and refused at start",
          "[e2e][tamper]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  for (int i = 0; i < 5; ++i) {
    RouteResponse resp;
    REQUIRE(CallRoute(ch, Route("t" + std::to_string(i), SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());
  }
  REQUIRE(d->Terminate() == 0);

  // Flip one byte of the plan id in t3's first (created) delta, through RocksDB.
  uint64_t seq = 0;
  exo::testing::RawEditDeltas(dir / "db", [&seq](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* deltas) {
    std::string v;
    size_t at = std::string::npos;
    while (at == std::string::npos && seq < 64) {
      REQUIRE(db->Get(rocksdb::ReadOptions(), deltas, exo::testing::DeltaKey(++seq), &v).ok());
      at = v.find(std::string("\0\0\0\x02t3", 6));  // The plan id, as a length-prefixed str.
    }
    REQUIRE(at != std::string::npos);
    v[at + 5] = '4';
    REQUIRE(db->Put(rocksdb::WriteOptions(), deltas, exo::testing::DeltaKey(seq), v).ok());
  });
  auto verify = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "verify", "--data-dir", dir.path()});
  CHECK(verify.exit_code == 3);
  CHECK(verify.out == "FAILED at sequence " + std::to_string(seq) + ": hash mismatch: the delta's content was changed\n");

  std::string error;
  auto refused = DaemonProcess::Start(dir.path(), TestConfigJson(dir.path()), &error);
  CHECK(refused == nullptr);
  CHECK(error.find("the chain does not verify at sequence " + std::to_string(seq)) != std::string::npos);
}

TEST_CASE("a bad config is refused with the path of the field", "[e2e][config]") {
  TempDir dir;
  std::string json = TestConfigJson(dir.path());
  json.replace(json.find("\"lot_size\": 100000"), 18, "\"lot_size\": -1");
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), json, &error);
  CHECK(d == nullptr);
  CHECK(error.find("venues[0].markets[0].lot_size: must be > 0, got -1") != std::string::npos);
  auto check = exo::testing::Run(EXOROUTED_PATH, {"--check-config", "--config", dir / "config.json"});
  CHECK(check.exit_code == 2);
  // Two configs on one command line: refused, not the last one taken; a --config without a file
  // says so (it said "unknown argument").
  check = exo::testing::Run(EXOROUTED_PATH, {"--config", dir / "config.json", "--config=other.json", "--check-config"});
  CHECK(check.exit_code == 2);
  CHECK(check.err.rfind("exorouted: --config given twice (\"" + (dir / "config.json") +
                            "\", then \"other.json\"): give it once\n",
                        0) == 0);
  check = exo::testing::Run(EXOROUTED_PATH, {"--check-config", "--config"});
  CHECK(check.exit_code == 2);
  CHECK(check.err.rfind("exorouted: --config needs a file\n", 0) == 0);
}

TEST_CASE("a data directory the daemon could not use is refused by --check-config, and at start", "[e2e][config]") {
  TempDir dir;
  std::ofstream(dir / "in-the-way") << "a file, not a directory\n";
  for (const std::string& data_dir : {dir / "in-the-way", dir / "in-the-way/data"}) {
    const std::string json = TestConfigJson(data_dir);
    const std::string why = data_dir == dir / "in-the-way" ? "data_dir " + data_dir + ": not a directory"
                                                           : "data_dir " + data_dir + ": " + (dir / "in-the-way") +
                                                                 " is not a directory";
    std::string error;
    auto d = DaemonProcess::Start(dir.path(), json, &error);  // (It writes config.json to dir.)
    REQUIRE(d == nullptr);
    CHECK(error.find(why) != std::string::npos);
    // A config error: exit 2, which the systemd unit does not restart after.
    auto start = exo::testing::Run(EXOROUTED_PATH, {"--config", dir / "config.json"});
    CHECK(start.exit_code == 2);
    CHECK(start.err == "exorouted: config " + (dir / "config.json") + ": " + why + "\n");
    // Before a start is tried (systemd's ExecStartPre, docs/deployment.md): a config error.
    auto check = exo::testing::Run(EXOROUTED_PATH, {"--check-config", "--config", dir / "config.json"});
    CHECK(check.exit_code == 2);
    CHECK(check.err == "exorouted: config " + (dir / "config.json") + ": " + why + "\n");
  }
  // A data directory that is not there yet, under one that is, is one the start makes.
  std::ofstream(dir / "config.json") << TestConfigJson(dir / "new/data");
  auto check = exo::testing::Run(EXOROUTED_PATH, {"--check-config", "--config", dir / "config.json"});
  CHECK(check.exit_code == 0);
  CHECK(!std::filesystem::exists(dir / "new"));  // (Checked, not made.)
}

TEST_CASE("a second daemon on a port another holds is refused: it does not take a share of the clients",
          "[e2e][config]") {
  TempDir first_dir, second_dir, third_dir;
  std::string error;
  auto first = DaemonProcess::Start(first_dir.path(), TestConfigJson(first_dir.path()), &error);
  REQUIRE(first != nullptr);
  std::string json = TestConfigJson(second_dir.path());
  json.replace(json.find("127.0.0.1:0"), 11, first->endpoint());  // The client API's listen address.
  auto second = DaemonProcess::Start(second_dir.path(), json, &error);
  CHECK(second == nullptr);
  CHECK(error.find("cannot listen on " + first->endpoint() + " (address in use") != std::string::npos);
  // Nor one on its admin HTTP port: its scrapes would go to either.
  const std::string admin = "127.0.0.1:" + std::to_string(exo::testing::AdminPort(first_dir.path()));
  json = TestConfigJson(third_dir.path());
  const size_t api = json.find("127.0.0.1:0");
  json.replace(json.find("127.0.0.1:0", api + 1), 11, admin);  // The admin port's listen address.
  auto third = DaemonProcess::Start(third_dir.path(), json, &error);
  CHECK(third == nullptr);
  INFO(error);
  CHECK(error.find("admin.listen: cannot listen on " + admin + ": Address already in use") != std::string::npos);
  // The first daemon still answers every client itself.
  for (int i = 0; i < 5; ++i) {
    auto status = exo::testing::Ctl(*first, {"status"});
    INFO(status.err);
    CHECK(status.exit_code == 0);
  }
}

TEST_CASE("SIGTERM ends live watches, exits 0 and keeps every acknowledged delta", "[e2e]") {
  TempDir dir;
  auto d = StartDaemon(dir.path());
  auto ch = Connect(*d);
  RouteRequest waiting = Route("slow", SIDE_BUY, kBtc, ROUTE_MODE_EXECUTE);
  waiting.mutable_order()->set_limit_price(100);  // Never fills: the watch stays open.
  RouteResponse resp;
  REQUIRE(CallRoute(ch, waiting, &resp).ok());
  uint64_t acked_seq = resp.plan().last_sequence();

  grpc::ClientContext ctx;
  WatchPlanRequest req;
  req.set_plan_id("slow");
  auto reader = RouterService::NewStub(ch)->WatchPlan(&ctx, req);
  WatchPlanResponse m;
  REQUIRE(reader->Read(&m));  // The stream is live.
  CHECK(d->Terminate() == 0);
  while (reader->Read(&m)) {
  }
  CHECK(reader->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);

  auto head = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "head", "--data-dir", dir.path()});
  CHECK(head.exit_code == 0);
  CHECK(std::stoull(head.out) >= acked_seq);

  // The stop left a checkpoint at the head: the next start reads no delta, and says so.
  d = StartDaemon(dir.path());
  auto status = Ctl(*d, {"status"});
  INFO(status.out << status.err);
  CHECK(status.out.find("start-up    0 deltas read at start (after its checkpoint); last checkpoint at sequence " +
                        std::to_string(std::stoull(head.out)) + "\n") != std::string::npos);
  CHECK(d->Terminate() == 0);
}

TEST_CASE("what would the router do on this book: fixed books from a file", "[e2e][book_file]") {
  TempDir dir;
  std::ofstream(dir / "books.json") << R"({"books": [
    {"venue": "A", "symbol": "BTC-USD",
     "asks": [{"price": 6500000, "size": 100000000}, {"price": 6501000, "size": 200000000}],
     "bids": [{"price": 6499000, "size": 100000000}]},
    {"venue": "B", "symbol": "BTC-USD",
     "asks": [{"price": 6499000, "size": 100000000}, {"price": 6500000, "size": 100000000}],
     "bids": [{"price": 6498000, "size": 100000000}]}]})";
  std::string config = R"({"node_id": "whatif", "data_dir": ")" + dir.path() + R"(",
    "listen": {"address": "127.0.0.1:0"},
    "instruments": [{"symbol": "BTC-USD", "price_scale": 2, "qty_scale": 8}],
    "venues": [
      {"id": "A", "taker_fee_bps": 0, "markets": [{"symbol": "BTC-USD", "lot_size": 1000000}],
       "sim": {"book_file": ")" + (dir / "books.json") + R"("}},
      {"id": "B", "taker_fee_bps": 10, "markets": [{"symbol": "BTC-USD", "lot_size": 1000000}],
       "sim": {"book_file": ")" + (dir / "books.json") + R"("}}]})";
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), config, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  // Fee-adjusted asks: A 65000.00 x1, A 65010.00 x2, B 65054.99 x1, B 65065.00 x1.
  // Buying 3.5 takes all of A and 0.5 of B's first level.
  auto r = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "3.5", "--id", "w1", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  Plan plan;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.out, &plan).ok());
  REQUIRE(plan.allocations_size() == 2);
  CHECK(plan.allocations(0).venue() == "A");
  CHECK(plan.allocations(0).quantity() == 300000000);
  CHECK(plan.allocations(0).limit_price() == 6501000);
  CHECK(plan.allocations(0).expected_cost() == 19502000);
  CHECK(plan.allocations(1).venue() == "B");
  CHECK(plan.allocations(1).quantity() == 50000000);
  CHECK(plan.allocations(1).expected_cost() == 3252750);  // 0.5 x 64990.00 x 1.001, rounded
  CHECK(plan.shortfall() == 0);
  CHECK(plan.last_solve().marginal_price() == 6505499);   // 64990.00 x 1.001 = 65054.99

  // `exoroutectl solve` on the same file and config makes the plan the node made — for the
  // same order, with its venue lists and venue limit too — and refuses what the node refuses.
  std::ofstream(dir / "config.json") << config;
  auto same_order = [&](const std::vector<std::string>& flags, const std::string& id) {
    std::vector<std::string> route = {"route", "--symbol", "BTC-USD", "--side", "buy", "--id", id, "--json"};
    std::vector<std::string> solve = {"solve", "--books", dir / "books.json", "--config", dir / "config.json",
                                      "--side", "buy", "--json"};
    route.insert(route.end(), flags.begin(), flags.end());
    solve.insert(solve.end(), flags.begin(), flags.end());
    return std::make_pair(Ctl(*d, route), exo::testing::Run(EXOROUTECTL_PATH, solve));
  };
  int routes = 1;
  for (const auto& [flags, venues] : std::vector<std::pair<std::vector<std::string>, int>>{
           {{"--qty", "3.5"}, 2}, {{"--qty", "1.5", "--deny", "A"}, 1}, {{"--qty", "2.5", "--max-venues", "1"}, 1},
           {{"--qty", "1", "--allow", "B", "--limit", "64995"}, 1}}) {
    auto [routed, solved] = same_order(flags, "w" + std::to_string(++routes));
    INFO(absl::StrJoin(flags, " ") << "\n" << routed.err << solved.err);
    REQUIRE(routed.exit_code == 0);
    REQUIRE(solved.exit_code == 0);
    Plan p;
    Decision w;
    REQUIRE(google::protobuf::util::JsonStringToMessage(routed.out, &p).ok());
    REQUIRE(google::protobuf::util::JsonStringToMessage(solved.out, &w).ok());
    REQUIRE(p.allocations_size() == venues);
    REQUIRE(w.allocations_size() == venues);
    for (int i = 0; i < venues; ++i) {
      CHECK(w.allocations(i).venue() == p.allocations(i).venue());
      CHECK(w.allocations(i).quantity() == p.allocations(i).quantity());
      CHECK(w.allocations(i).expected_cost() == p.allocations(i).expected_cost());
    }
    CHECK(w.shortfall() == p.shortfall());
    CHECK(w.stats().marginal_price() == p.last_solve().marginal_price());
    CHECK(w.exclusions_size() == p.exclusions_size());
  }
  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"--qty", "1.005"}, {"--qty", "1", "--deny", "C"}, {"--qty", "1", "--allow", "A", "--deny", "A"},
           // Repeated, a list flag adds up: both venues denied (the last one alone, before).
           {"--qty", "1", "--deny", "A", "--deny", "B"}}) {
    auto [routed, solved] = same_order(flags, "refused");
    INFO(absl::StrJoin(flags, " "));
    CHECK(routed.exit_code == 1);
    CHECK(solved.exit_code == 1);
    CHECK(!solved.err.empty());
    CHECK(solved.err == routed.err);
  }
  CHECK(d->Terminate() == 0);
}

TEST_CASE("plan books: a past decision's books, re-run by exoroutectl solve, give its plan", "[e2e][what_if]") {
  TempDir dir;
  // Books older than 300 ms are stale: the re-run must decide as at the decision's time. SIM-A's
  // fee is not the embedded default's: the re-run must use the node's terms.
  std::string config = TestConfigJson(dir.path());
  for (size_t at = config.find("\"taker_fee_bps\""); at != std::string::npos;
       at = config.find("\"taker_fee_bps\"", at + 40)) {
    config.insert(at, "\"max_book_age_ms\": 300, ");
  }
  const size_t fee_a = config.find("\"taker_fee_bps\": 2.0");
  REQUIRE(fee_a != std::string::npos);
  config.replace(fee_a, std::string("\"taker_fee_bps\": 2.0").size(), "\"taker_fee_bps\": 0.5");
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), config, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto routed = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "12", "--limit", "65060",
                         "--deny", "SIM-C", "--id", "pb1", "--json"});
  INFO(routed.err);
  REQUIRE(routed.exit_code == 0);
  Plan plan;
  REQUIRE(google::protobuf::util::JsonStringToMessage(routed.out, &plan).ok());
  REQUIRE(plan.allocations_size() >= 2);

  auto books = Ctl(*d, {"plan", "books", "pb1", "--out", dir / "books.json"});
  INFO(books.err);
  REQUIRE(books.exit_code == 0);
  CHECK(books.out.find("plan pb1: the books its decision at sequence ") == 0);
  CHECK(books.out.find("2 venues; left out then: SIM-C (in the order's denied_venues)") != std::string::npos);
  std::vector<std::string> rerun = RerunArgs(books.out);
  CHECK(books.out.find("(with the node's config as --config FILE, unless it runs the embedded default; or\n"
                       " --config-out FILE writes one with the decision's own venue terms)\n") != std::string::npos);
  REQUIRE(rerun.size() > 4);
  CHECK(rerun[0] == "solve");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // Every book now older than 300 ms.
  rerun.insert(rerun.end(), {"--config", dir / "config.json", "--json"});
  auto solved = exo::testing::Run(EXOROUTECTL_PATH, rerun);
  INFO(absl::StrJoin(rerun, " ") << "\n" << solved.err);
  REQUIRE(solved.exit_code == 0);
  Decision again;
  REQUIRE(google::protobuf::util::JsonStringToMessage(solved.out, &again).ok());
  REQUIRE(again.allocations_size() == plan.allocations_size());
  for (int i = 0; i < plan.allocations_size(); ++i) {
    CHECK(again.allocations(i).venue() == plan.allocations(i).venue());
    CHECK(again.allocations(i).quantity() == plan.allocations(i).quantity());
    CHECK(again.allocations(i).limit_price() == plan.allocations(i).limit_price());
    CHECK(again.allocations(i).expected_cost() == plan.allocations(i).expected_cost());
  }
  CHECK(again.stats().marginal_price() == plan.last_solve().marginal_price());
  CHECK(again.stats().rounds() == plan.last_solve().rounds());
  // Without --at the same books are stale now: nothing to route on.
  std::vector<std::string> now(rerun.begin(), rerun.end());
  const auto at = std::find(now.begin(), now.end(), "--at");
  REQUIRE(at != now.end());
  now.erase(at, at + 2);
  auto stale = exo::testing::Run(EXOROUTECTL_PATH, now);
  Decision late;
  REQUIRE(google::protobuf::util::JsonStringToMessage(stale.out, &late).ok());
  CHECK(late.allocations_size() == 0);
  // In text a note says why and gives the --at of the file's newest book, which decides as then.
  std::vector<std::string> text(now.begin(), now.end());
  text.erase(std::find(text.begin(), text.end(), "--json"));
  auto noted = exo::testing::Run(EXOROUTECTL_PATH, text);
  INFO(noted.out);
  const std::string note = "note      2 venues left out as stale now: the file's newest book arrived at ";
  const size_t note_at = noted.out.find(note);
  REQUIRE(note_at != std::string::npos);
  const size_t flag = noted.out.find("; --at ", note_at);
  const size_t then = noted.out.find(" decides as then\n", flag);
  REQUIRE(flag != std::string::npos);
  REQUIRE(then != std::string::npos);
  text.insert(text.end(), {"--at", noted.out.substr(flag + 7, then - flag - 7), "--json"});
  auto as_then = exo::testing::Run(EXOROUTECTL_PATH, text);
  INFO(as_then.err);
  Decision fresh;
  REQUIRE(google::protobuf::util::JsonStringToMessage(as_then.out, &fresh).ok());
  CHECK(fresh.allocations_size() == plan.allocations_size());
  std::vector<std::string> rerun_text(rerun.begin(), rerun.end() - 1);  // Without its --json.
  auto rerun_noted = exo::testing::Run(EXOROUTECTL_PATH, rerun_text);
  CHECK(rerun_noted.out.find("what-if   buy 12.00000000 BTC-USD\n") == 0);
  CHECK(rerun_noted.out.find("note ") == std::string::npos);  // --at given: nothing left out as stale.

  // With --config-out the file comes with a config of the decision's own venue terms: its
  // command re-makes the plan with no config of the node's; the embedded default's fees do not.
  auto with_config = Ctl(*d, {"plan", "books", "pb1", "--out", dir / "books2.json", "--config-out", dir / "terms.json"});
  INFO(with_config.err);
  REQUIRE(with_config.exit_code == 0);
  std::vector<std::string> own = RerunArgs(with_config.out);
  CHECK(own.back() == dir / "terms.json");
  own.push_back("--json");
  Decision by_terms = SolvedBy(own);
  // The same decision (the exclusions name the other book file).
  by_terms.clear_exclusions();
  Decision again_kept = again;
  again_kept.clear_exclusions();
  CHECK(by_terms.SerializeAsString() == again_kept.SerializeAsString());
  std::vector<std::string> embedded(own.begin(), own.end() - 3);  // Without --config FILE --json.
  embedded.push_back("--json");
  auto default_terms = exo::testing::Run(EXOROUTECTL_PATH, embedded);
  Decision by_default;
  REQUIRE(google::protobuf::util::JsonStringToMessage(default_terms.out, &by_default).ok());
  CHECK(by_default.expected_cost() != again.expected_cost());

  // The same file from the database (offline, while the node runs); errors name what is missing.
  auto offline = exo::testing::Run(EXOROUTECTL_PATH, {"--data-dir", dir.path(), "plan", "books", "pb1"});
  INFO(offline.err);
  REQUIRE(offline.exit_code == 0);
  std::ifstream written(dir / "books.json");
  const std::string online_json((std::istreambuf_iterator<char>(written)), {});
  CHECK(offline.out == online_json);
  auto latest = Ctl(*d, {"plan", "books", "pb1", "--version", "last"});  // A plan-only plan decides once.
  CHECK(latest.exit_code == 0);
  CHECK(latest.out == online_json);
  auto bad_version = Ctl(*d, {"plan", "books", "pb1", "--version", "first"});
  CHECK(bad_version.exit_code == 2);
  CHECK(bad_version.err.find("(or \"last\")") != std::string::npos);
  auto no_version = Ctl(*d, {"plan", "books", "pb1", "--version", "1"});
  CHECK(no_version.exit_code == 1);
  CHECK(no_version.err == "exoroutectl: NOT_FOUND: plan \"pb1\" has no decision at version 1 (its decisions: versions 2)\n");
  auto no_plan = Ctl(*d, {"plan", "books", "nope"});
  CHECK(no_plan.exit_code == 1);
  CHECK(no_plan.err == "exoroutectl: NOT_FOUND: plan \"nope\" not found\n");
  CHECK(d->Terminate() == 0);
  // Recorded inputs gone underneath the store: DATA_LOSS naming the decision, no book file.
  exo::testing::RawEditFamily(dir / "db", "inputs", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* inputs) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), inputs));
    for (it->SeekToFirst(); it->Valid(); it->Next()) REQUIRE(db->Delete(rocksdb::WriteOptions(), inputs, it->key()).ok());
  });
  auto lost = exo::testing::Run(EXOROUTECTL_PATH, {"--data-dir", dir.path(), "plan", "books", "pb1"});
  INFO(lost.err);
  CHECK(lost.exit_code == 1);
  CHECK(lost.out.empty());
  CHECK(lost.err.find("exoroutectl: DATA_LOSS: delta ") == 0);
  CHECK(lost.err.find(": no recorded inputs with digest ") != std::string::npos);
}

TEST_CASE("exoroutectl solve: a what-if on books from a file, offline", "[e2e][what_if]") {
  TempDir dir;
  std::ofstream(dir / "books.json") << R"({"books": [
    {"venue": "SIM-A", "symbol": "BTC-USD",
     "asks": [{"price": 6500050, "size": 25000000}, {"price": 6500100, "size": 50000000}],
     "bids": [{"price": 6499950, "size": 30000000}]},
    {"venue": "SIM-B", "symbol": "BTC-USD",
     "asks": [{"price": 6500000, "size": 40000000}, {"price": 6500300, "size": 90000000},
              {"price": 6502000, "size": 100000000}],
     "bids": [{"price": 6499900, "size": 30000000}]}]})";
  // Embedded default venues: SIM-A 2 bp, SIM-B 1 bp. After fees: B 65006.50 x0.4, B 65009.50
  // x0.9, A 65013.50 x0.25, A 65014.00 x0.5, B 65026.50 x1: 1.5 BTC = B's first 1.3 + 0.2 of A.
  auto r = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "books.json", "--side",
                                                "buy", "--qty", "1.5", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  Decision d;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.out, &d).ok());
  REQUIRE(d.allocations_size() == 2);
  CHECK(d.allocations(0).venue() == "SIM-A");
  CHECK(d.allocations(0).quantity() == 20000000);
  CHECK(d.allocations(1).quantity() == 130000000);
  CHECK(d.stats().marginal_price() == 6501350);
  REQUIRE(d.exclusions_size() == 1);
  CHECK(d.exclusions(0).reason() == "no book for it in " + (dir / "books.json"));
  // A symbol the config does not trade: named with where it came from.
  auto unknown = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "books.json", "--side", "buy",
                                                      "--qty", "1.5", "--symbol", "XBT-USD"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err == "exoroutectl: FAILED_PRECONDITION: --symbol: unknown symbol \"XBT-USD\" (the config trades: "
                       "BTC-USD, ETH-USD)\n");
  // A limit that cannot be right, in the units typed.
  auto no_limit = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "books.json", "--side", "buy",
                                                       "--qty", "1.5", "--limit", "0"});
  CHECK(no_limit.exit_code == 2);
  CHECK(no_limit.err.rfind("exoroutectl: solve: --limit: must be > 0, got \"0\"\n", 0) == 0);
  // The config's risk limits, as a node checks them: the notional at the file's mid (best bid
  // 64999.50 of SIM-A, best ask 65000.00 of SIM-B).
  std::ofstream(dir / "risky.json") << exo::testing::TestConfigJson(
      dir / "data", R"("risk": [{"symbol": "BTC-USD", "max_order_quantity": 140000000, "max_order_notional": 9000000}])");
  auto solve_with_limits = [&](const std::string& qty) {
    return exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "books.json", "--config", dir / "risky.json",
                                                "--side", "buy", "--qty", qty});
  };
  auto big = solve_with_limits("1.5");
  CHECK(big.exit_code == 1);
  CHECK(big.err == "exoroutectl: INVALID_ARGUMENT: order.quantity: 1.50000000 BTC-USD is over this node's limit of "
                   "1.40000000 per order (risk[0].max_order_quantity)\n");
  auto dear = solve_with_limits("1.4");
  CHECK(dear.exit_code == 1);
  CHECK(dear.err == "exoroutectl: INVALID_ARGUMENT: order.quantity: 1.40000000 BTC-USD at 64999.75 (the mid now) is a "
                    "notional of 90999.65, over this node's limit of 90000.00 per order (risk[0].max_order_notional)\n");
  CHECK(solve_with_limits("1.3").exit_code == 0);

  auto table = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "books.json", "--side",
                                                    "buy", "--qty", "1.5"});
  CHECK(table.out.find("expected  cost 97513.85, avg 65009.23 incl. fees, 1.46 bp vs mid 64999.75") !=
        std::string::npos);
  // Beside the split, the best venue alone: B, its last 0.2 at 65026.50 instead of A's 65013.50.
  CHECK(table.out.find("one venue SIM-B alone: cost 97516.45, avg 65010.97; the split saves 2.60 (0.27 bp)\n") !=
        std::string::npos);
  auto sell = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "books.json", "--side", "sell", "--qty", "0.5"});
  CHECK(sell.out.find("one venue none fills the order alone (the most: SIM-A, 0.30000000)\n") != std::string::npos);
  CHECK(d.mid_price() == 6499975);             // Best bid 64999.50 (A), best ask 65000.00 (B).
  CHECK(d.expected_average_price() == 6500923);
  CHECK(d.slippage_cbps() == 146);
  CHECK(d.stats().optimality_gap() == 0);
  // The same what-if with ADMM (the method a daemon configured for it would use): the same plan.
  const Decision da =
      SolvedBy({"solve", "--books", dir / "books.json", "--side", "buy", "--qty", "1.5", "--method", "admm", "--json"});
  CHECK(da.stats().method() == SOLVER_METHOD_ADMM);
  CHECK(d.stats().method() == SOLVER_METHOD_EXACT);
  REQUIRE(da.allocations_size() == 2);
  CHECK(da.allocations(0).quantity() == 20000000);
  CHECK(da.allocations(1).quantity() == 130000000);
  CHECK(da.expected_cost() == d.expected_cost());
  // Low urgency: the band is 2 bp of the best ask (65000.00): up to 65013.00, all but B's last level.
  const Decision dl =
      SolvedBy({"solve", "--books", dir / "books.json", "--side", "buy", "--qty", "1.5", "--urgency", "low", "--json"});
  CHECK(dl.stats().price_band_limit() == 6501300);
  CHECK(dl.allocated_quantity() == d.allocated_quantity());
  // An arrival band of 1 bp: the mid (64999.75) + 1 bp = 65006.249975, rounded down; 2.05 BTC lie
  // within it (all but B's 65020.00), so an order of 2.5 leaves 0.45.
  const Decision dn = SolvedBy(
      {"solve", "--books", dir / "books.json", "--side", "buy", "--qty", "2.5", "--arrival-band-bps", "1", "--json"});
  CHECK(dn.stats().arrival_limit() == 6500624);
  CHECK(dn.shortfall() == 45000000);
  for (const auto& a : dn.allocations()) CHECK(a.limit_price() <= 6500624);
  auto too_wide = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "books.json", "--side", "buy",
                                                       "--qty", "1", "--arrival-band-bps", "1001"});
  CHECK(too_wide.exit_code == 2);
  CHECK(too_wide.err.find("--arrival-band-bps must be <= 1000, got 1001") != std::string::npos);
  auto wrong = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "books.json", "--side",
                                                    "buy", "--qty", "1.5", "--method", "lp"});
  CHECK(wrong.exit_code == 2);
  CHECK(wrong.err.find("solve: --method must be exact or admm") != std::string::npos);
  std::ofstream(dir / "bad.json") << R"({"books": [{"venue": "NOPE", "symbol": "BTC-USD", "asks": []}]})";
  auto bad = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "bad.json", "--side", "buy",
                                                  "--qty", "1"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err == "exoroutectl: INVALID_ARGUMENT: book file " + dir / "bad.json" +
                       ": books[0].venue: \"NOPE\" is not a venue in the config\n");
  // A book the config's venue does not trade (SIM-C has no ETH-USD market) is refused, not ignored.
  std::ofstream(dir / "eth.json") << R"({"books": [{"venue": "SIM-C", "symbol": "ETH-USD",
    "asks": [{"price": 350000, "size": 1000000}]}]})";
  auto eth = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "eth.json", "--side", "buy",
                                                  "--qty", "0.5"});
  CHECK(eth.exit_code == 1);
  CHECK(eth.err == "exoroutectl: INVALID_ARGUMENT: book file " + dir / "eth.json" +
                       ": books[0]: venue \"SIM-C\" does not trade ETH-USD in the config\n");
  // Books of two symbols need --symbol; a file without books says so.
  std::ofstream(dir / "two.json") << R"({"books": [{"venue": "SIM-A", "symbol": "BTC-USD"},
    {"venue": "SIM-A", "symbol": "ETH-USD"}]})";
  auto two = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "two.json", "--side", "buy", "--qty", "1"});
  CHECK(two.exit_code == 1);
  CHECK(two.err.find("books of several symbols (\"BTC-USD\", \"ETH-USD\"): choose one (--symbol)") !=
        std::string::npos);
  std::ofstream(dir / "none.json") << R"({"books": []})";
  auto none = exo::testing::Run(EXOROUTECTL_PATH, {"solve", "--books", dir / "none.json", "--side", "buy", "--qty", "1"});
  CHECK(none.exit_code == 1);
  CHECK(none.err == "exoroutectl: INVALID_ARGUMENT: book file " + dir / "none.json" + ": no books\n");
}

TEST_CASE("one order across a simulated venue and a WebSocket-fed venue", "[e2e][ws]") {
  // The recorded Binance NKNUSDT feed, served by a local exchange.
  const std::string snapshot = exo::testing::RecordedBinanceSnapshot("NKNUSDT");
  const std::vector<std::string> frames = exo::testing::RecordedFrames("BINANCE.ws.1.0");
  exo::testing::FeedServer::Options so;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = snapshot;
  so.script = [&](int) { return exo::testing::FeedServer::Script{frames}; };
  exo::testing::FeedServer exchange(so);
  std::string base = "127.0.0.1:" + std::to_string(exchange.port());

  TempDir dir;
  // NKN-USDT at 4 decimals of price and 8 of quantity; the sim venue quotes around the
  // recorded book (best ask 0.3522) so the two compete.
  std::string config = R"({"node_id": "mixed", "data_dir": ")" + dir.path() + R"(",
    "listen": {"address": "127.0.0.1:0"},
    "instruments": [{"symbol": "NKN-USDT", "price_scale": 8, "qty_scale": 8}],
    "venues": [
      {"id": "BINANCE", "taker_fee_bps": 10, "max_book_age_ms": 600000,
       "markets": [{"symbol": "NKN-USDT", "lot_size": 100000000, "feed_symbol": "NKNUSDT"}],
       "ws_feed": {"format": "FEED_FORMAT_BINANCE_SPOT",
                   "url": "ws://)" + base + R"(/stream?streams=nknusdt@depth@100ms",
                   "snapshot_url": "http://)" + base + R"(/api/v3/depth?symbol={symbol}&limit=1000"}},
      {"id": "SIM", "taker_fee_bps": 5,
       "markets": [{"symbol": "NKN-USDT", "lot_size": 100000000}],
       "sim": {"seed": 7, "mid_price": 35200000, "tick_size": 10000, "depth": 10,
               "level_size": 200000000000, "update_interval_ms": 20}}]})";
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), config, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  // The feed is in sync once Status reports an age for the venue's book.
  REQUIRE(exo::testing::WaitFor([&] { return VenueHasBook(ch, "BINANCE"); }, 20000));
  auto status = Ctl(*d, {"status"});
  CHECK(status.out.find("feed connected, 1 connects, 0 resyncs, 0 malformed frames") != std::string::npos);

  // More than the sim venue shows (10 levels of ~2000 NKN), so the feed's venue must take part.
  RouteRequest plan_only = Route("mix-1", SIDE_BUY, 60000 * 100000000LL, ROUTE_MODE_PLAN_ONLY);
  plan_only.mutable_order()->set_symbol("NKN-USDT");
  RouteResponse resp;
  grpc::Status s = CallRoute(ch, plan_only, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  std::set<std::string> used;
  for (const auto& a : resp.plan().allocations()) used.insert(a.venue());
  CHECK(used == std::set<std::string>{"BINANCE", "SIM"});

  // Executing: the feed-only venue takes no orders, so everything goes to the sim venue.
  RouteRequest exec = plan_only;
  exec.mutable_order()->set_id("mix-2");
  exec.set_mode(ROUTE_MODE_EXECUTE);
  REQUIRE(CallRoute(ch, exec, &resp).ok());
  bool binance_excluded = false;
  for (const auto& e : resp.plan().exclusions()) {
    binance_excluded = binance_excluded || (e.venue() == "BINANCE" &&
                                            e.reason() == "market data only: the venue takes no orders");
  }
  CHECK(binance_excluded);
  for (const auto& c : resp.plan().children()) CHECK(c.order().venue() == "SIM");
  CHECK(d->Terminate() == 0);
}

TEST_CASE("one order across a FIX venue, a WebSocket-fed venue and a simulated venue",
          "[e2e][ws][fix]") {
  // The recorded Binance NKNUSDT feed, served by a local exchange.
  const std::string snapshot = exo::testing::RecordedBinanceSnapshot("NKNUSDT");
  const std::vector<std::string> frames = exo::testing::RecordedFrames("BINANCE.ws.1.0");
  exo::testing::FeedServer::Options so;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = snapshot;
  so.script = [&](int) { return exo::testing::FeedServer::Script{frames}; };
  exo::testing::FeedServer exchange(so);
  std::string feed = "127.0.0.1:" + std::to_string(exchange.port());

  TempDir dir;
  const std::string dictionary = std::string(EXO_SOURCE_DIR) + "/deploy/fix/FIX44.xml";
  const int fix_port = exo::testing::FreePort();
  // The FIX venue quotes deep liquidity at 0.35 (better than the feed's book it is routed on).
  auto fix_venue = StartFixTestVenue(fix_port, dir.path(), {{"0.35000000", "100000"}}, {{"0.34000000", "100000"}});
  std::string error;

  std::string config = R"({"node_id": "three", "data_dir": ")" + dir.path() + R"(",
    "listen": {"address": "127.0.0.1:0"},
    "instruments": [{"symbol": "NKN-USDT", "price_scale": 8, "qty_scale": 8}],
    "routing": {"replan_interval_ms": 10},
    "venues": [
      {"id": "BINANCE", "taker_fee_bps": 2, "max_book_age_ms": 600000,
       "markets": [{"symbol": "NKN-USDT", "lot_size": 100000000, "feed_symbol": "NKNUSDT"}],
       "ws_feed": {"format": "FEED_FORMAT_BINANCE_SPOT",
                   "url": "ws://)" + feed + R"(/stream?streams=nknusdt@depth@100ms",
                   "snapshot_url": "http://)" + feed + R"(/api/v3/depth?symbol={symbol}&limit=1000"}},
      {"id": "FIXV", "taker_fee_bps": 2, "book_from": "BINANCE", "max_book_age_ms": 600000,
       "markets": [{"symbol": "NKN-USDT", "lot_size": 100000000}],
       "fix": {"host": "127.0.0.1", "port": )" + std::to_string(fix_port) + R"(,
               "sender_comp_id": "EXO", "target_comp_id": "FIXVENUE",
               "data_dictionary": ")" + dictionary + R"("}},
      {"id": "SIM", "taker_fee_bps": 2,
       "markets": [{"symbol": "NKN-USDT", "lot_size": 100000000}],
       "sim": {"seed": 7, "mid_price": 35100000, "tick_size": 10000, "depth": 10,
               "level_size": 10000000000, "update_interval_ms": 1000}}]})";
  // Who takes what follows from the prices: SIM shows ~1000 NKN below the feed's best ask
  // (0.3522), so it fills first; BINANCE and FIXV see the same book at the same fee, so they tie
  // and split the rest -- until executing, where BINANCE (market data only) drops out.
  auto d = DaemonProcess::Start(dir.path(), config, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  // Ready when the feed has a book and the FIX session is logged on.
  REQUIRE(exo::testing::WaitFor(
      [&] { return VenueHasBook(ch, "BINANCE") && VenueState(ch, "FIXV") == ADAPTER_STATE_UP; }, 20000));

  RouteRequest plan = Route("three-1", SIDE_BUY, 3000 * 100000000LL, ROUTE_MODE_PLAN_ONLY);
  plan.mutable_order()->set_symbol("NKN-USDT");
  RouteResponse resp;
  REQUIRE(CallRoute(ch, plan, &resp).ok());
  std::set<std::string> used;
  for (const auto& a : resp.plan().allocations()) used.insert(a.venue());
  CHECK(used == std::set<std::string>{"BINANCE", "FIXV", "SIM"});

  RouteRequest exec = plan;
  exec.mutable_order()->set_id("three-2");
  exec.set_mode(ROUTE_MODE_EXECUTE);
  REQUIRE(CallRoute(ch, exec, &resp).ok());
  auto deltas = WatchToEnd(ch, "three-2");
  REQUIRE_FALSE(deltas.empty());
  CHECK(deltas.back().finished().status() == PLAN_STATUS_COMPLETED);
  std::set<std::string> filled_at;
  for (const auto& x : deltas) {
    if (x.has_fill()) filled_at.insert(x.fill().venue());
  }
  CHECK(filled_at == std::set<std::string>{"FIXV", "SIM"});  // Never the market-data-only venue.
  CHECK(fix_venue->orders_received() >= 1);
  auto verify = Ctl(*d, {"audit", "verify", "--recompute"});
  CHECK(verify.exit_code == 0);
  CHECK(d->Terminate() == 0);
  fix_venue->Stop();
}

TEST_CASE("a FIX session drop: the venue goes down, routes continue elsewhere, it comes back",
          "[e2e][fix]") {
  TempDir dir;
  const int fix_port = exo::testing::FreePort();
  auto start_venue = [&] { return StartFixTestVenue(fix_port, dir.path(), {{"64999.00", "100"}}); };
  auto fix_venue = start_venue();
  // The default sim venues, plus a FIX venue that takes SIM-A's book.
  const std::string json = ConfigWithFixVenue(dir.path(), fix_port, R"("reconnect_s": 1)");
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), json, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  auto fix_state = [&] { return VenueState(ch, "FIXV"); };
  REQUIRE(exo::testing::WaitFor([&] { return fix_state() == ADAPTER_STATE_UP; }));
  auto status = Ctl(*d, {"status"});
  CHECK(status.out.find("FIX EXO->FIXVENUE logged on, next seq out 2 in 2, last message (heartbeat or "
                        "other) ") != std::string::npos);

  fix_venue->Stop();  // The venue goes away.
  REQUIRE(exo::testing::WaitFor([&] { return fix_state() == ADAPTER_STATE_DOWN; }));
  RouteResponse resp;
  REQUIRE(CallRoute(ch, Route("while-down", SIDE_BUY, kBtc, ROUTE_MODE_EXECUTE), &resp).ok());
  bool excluded = false;
  for (const auto& e : resp.plan().exclusions()) {
    INFO(e.venue() << ": " << e.reason());
    excluded = excluded || (e.venue() == "FIXV" && e.reason().rfind("venue DOWN: FIX EXO->FIXVENUE not logged on, ", 0) == 0);
  }
  CHECK(excluded);
  auto deltas = WatchToEnd(ch, "while-down");
  CHECK(deltas.back().finished().status() == PLAN_STATUS_COMPLETED);  // On the sim venues.

  // Back on the same port: the session reconnects by itself. (The old acceptor must be gone
  // first: QuickFIX keeps one process-wide registry of sessions by id.)
  fix_venue.reset();
  fix_venue = start_venue();
  CHECK(exo::testing::WaitFor([&] { return fix_state() == ADAPTER_STATE_UP; }, 15000));
  CHECK(d->Terminate() == 0);
  fix_venue->Stop();
}

TEST_CASE("an order lost with a FIX connection is found out at the next logon, and the plan places it again",
          "[e2e][fix]") {
  TempDir dir;
  RestingFixChild f(dir, "lost-1", R"(, "reconnect_s": 1)");
  const int asked_before = f.venue->status_requests();
  // The connection drops and the venue turns out never to have had the order (it was lost on
  // the way): the router logs on again, asks where its open child stands, hears "unknown
  // order", ends the child and places its quantity again.
  f.venue->ForgetOrders();
  REQUIRE(f.venue->DropSession());
  REQUIRE(exo::testing::WaitFor([&] { return f.venue->orders_received() == 2; }, 15000));
  CHECK(f.venue->status_requests() > asked_before);
  const Plan plan = PlanNow(f.ch, "lost-1");
  REQUIRE(plan.children_size() == 2);
  CHECK(plan.children(0).done());
  CHECK(plan.children(0).done_reason() == "not at the venue: it never received the child (unknown order)");
  CHECK_FALSE(plan.children(1).done());  // The new one rests at the venue.
  CHECK(CancelToEnd(f.ch, "lost-1").finished().status() == PLAN_STATUS_CANCELLED);
  CHECK(f.d->Terminate() == 0);
  f.venue->Stop();
}

TEST_CASE("kill -9 mid-order at a FIX venue: after restart the child is reconciled, not re-sent",
          "[e2e][fix][crash]") {
  TempDir dir;
  RestingFixChild f(dir, "rest-1");
  f.d->Kill9();  // Mid-order: the child rests at the venue.
  f.Start(dir);
  const Plan plan = PlanNow(f.ch, "rest-1");
  REQUIRE(plan.children_size() == 1);
  CHECK_FALSE(plan.children(0).done());  // Reconciled: still the venue's live order.
  CHECK(CancelToEnd(f.ch, "rest-1").finished().status() == PLAN_STATUS_CANCELLED);
  CHECK(f.venue->orders_received() == 1);  // Never sent twice.
  auto verify = Ctl(*f.d, {"audit", "verify", "--recompute"});
  CHECK(verify.exit_code == 0);
  CHECK(f.d->Terminate() == 0);
  f.venue->Stop();
}

TEST_CASE("a crash after a FIX child is recorded and before it is sent: the venue says it never saw it, and the "
          "plan routes that quantity again, once", "[e2e][fix][crash]") {
  TempDir dir;
  const int fix_port = exo::testing::FreePort();
  auto fix_venue = StartFixTestVenue(fix_port, dir.path(), {{"64990.00", "5"}});
  std::string error;
  std::string json = ConfigWithFixVenue(dir.path(), fix_port);
  // A venue that refused this order's last child is left out of it for a minute: the plan below
  // finishes within WatchToEnd's deadline only if the child's end is not taken for a refusal.
  const size_t routing = json.find("\"replan_interval_ms\": 10");
  REQUIRE(routing != std::string::npos);
  json.insert(routing, "\"reject_backoff_ms\": 60000, ");
  // It kills itself once the first child's `child_sent` is synced, before the child goes out
  // (daemon/crash_point.h): the plan is on disk, the venue has nothing, the client no answer.
  auto d = DaemonProcess::Start(dir.path(), json, &error, {"EXOROUTED_CRASH_AT=child_recorded"});
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  auto fix_up = [&] { return VenueState(ch, "FIXV") == ADAPTER_STATE_UP; };
  REQUIRE(exo::testing::WaitFor(fix_up));
  RouteRequest r = Route("unsent-1", SIDE_BUY, kBtc / 10, ROUTE_MODE_EXECUTE);
  r.mutable_order()->add_allowed_venues("FIXV");
  RouteResponse resp;
  CHECK(CallRoute(ch, r, &resp).error_code() == grpc::StatusCode::UNAVAILABLE);
  REQUIRE(d->WaitForExit(std::chrono::seconds(30)) == 128 + SIGKILL);
  CHECK(d->log().find("crash point child_recorded reached") != std::string::npos);
  CHECK(fix_venue->orders_received() == 0);

  d = DaemonProcess::Start(dir.path(), json, &error);  // Same data directory and config, no crash point.
  INFO(error);
  REQUIRE(d != nullptr);
  ch = Connect(*d);
  // The recorded child is asked about, the venue answers "unknown order" (OrdStatus 8,
  // OrdRejReason 5, nothing filled), and the plan routes the 0.1 BTC again at once as a new
  // child (not a refusal by the venue: no back-off from it), which fills.
  const std::vector<PlanDelta> deltas = WatchToEnd(ch, "unsent-1");
  std::vector<std::string> children_done;
  int64_t filled = 0;
  for (const PlanDelta& x : deltas) {
    if (x.has_child_done()) children_done.push_back(x.child_done().reason());
    if (x.has_fill()) filled += x.fill().quantity();
  }
  CHECK(children_done == std::vector<std::string>{"not at the venue: it never received the child (unknown order)", "filled"});
  CHECK(filled == kBtc / 10);
  CHECK(deltas.back().finished().status() == PLAN_STATUS_COMPLETED);
  CHECK(fix_venue->status_requests() >= 1);
  CHECK(fix_venue->orders_received() == 1);  // The new child only: nothing was sent twice.
  // The client's retry of the route it had no answer to is answered with the plan as it is.
  RouteResponse again;
  const grpc::Status retried = CallRoute(ch, r, &again);
  INFO(retried.error_message());
  REQUIRE(retried.ok());
  CHECK(again.plan().filled_quantity() == kBtc / 10);
  auto verify = Ctl(*d, {"audit", "verify", "--recompute"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  CHECK(d->Terminate() == 0);
  fix_venue->Stop();
}

TEST_CASE("a crash point that does not exist stops the start, naming the ones that do", "[e2e][crash]") {
  TempDir dir;
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), TestConfigJson(dir.path()), &error, {"EXOROUTED_CRASH_AT=child_sent"});
  CHECK(d == nullptr);
  CHECK(error.find("EXOROUTED_CRASH_AT: no crash point \"child_sent\" (there are child_recorded, sub_route_routed, "
                   "cluster_route_executed, share_recorded; unset it to run normally)") != std::string::npos);
}

TEST_CASE("through the daemon: a partial FIX fill with the remainder cancelled, and a reject",
          "[e2e][fix]") {
  TempDir dir;
  const int fix_port = exo::testing::FreePort();
  // The venue has only 0.05 BTC (at a price inside the router's view, SIM-A's book) and refuses orders
  // above 1 BTC.
  auto fix_venue = StartFixTestVenue(fix_port, dir.path(), {{"64990.00", "0.05"}}, {}, /*max_order_qty=*/1);
  std::string error;
  const std::string json = ConfigWithFixVenue(dir.path(), fix_port);
  auto d = DaemonProcess::Start(dir.path(), json, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  REQUIRE(exo::testing::WaitFor([&] { return VenueState(ch, "FIXV") == ADAPTER_STATE_UP; }));
  auto kinds = [&](const std::string& id) {
    std::vector<std::string> out;
    for (const auto& x : WatchToEnd(ch, id)) {
      if (x.has_fill()) out.push_back("fill " + std::to_string(x.fill().quantity()));
      if (x.has_child_done()) out.push_back("child_done " + x.child_done().reason());
      if (x.has_finished()) out.push_back("finished " + PlanStatus_Name(x.finished().status()));
    }
    return out;
  };
  RouteRequest partial = Route("fix-partial", SIDE_BUY, kBtc / 2, ROUTE_MODE_EXECUTE);
  partial.mutable_order()->set_time_in_force(TIME_IN_FORCE_IOC);
  partial.mutable_order()->add_allowed_venues("FIXV");
  RouteResponse resp;
  REQUIRE(CallRoute(ch, partial, &resp).ok());
  CHECK(kinds("fix-partial") == std::vector<std::string>{"fill 5000000", "child_done cancelled: ioc remainder",
                                                         "finished PLAN_STATUS_EXPIRED"});
  RouteRequest big = Route("fix-big", SIDE_BUY, 2 * kBtc, ROUTE_MODE_EXECUTE);
  big.mutable_order()->set_time_in_force(TIME_IN_FORCE_IOC);
  big.mutable_order()->add_allowed_venues("FIXV");
  REQUIRE(CallRoute(ch, big, &resp).ok());
  CHECK(kinds("fix-big") == std::vector<std::string>{
                                "child_done rejected: order quantity above the venue maximum",
                                "finished PLAN_STATUS_EXPIRED"});
  CHECK(d->Terminate() == 0);
  fix_venue->Stop();
}

TEST_CASE("a FIX venue whose reports are lost: the overdue child's status request recovers its fill and its end",
          "[e2e][fix]") {
  TempDir dir;
  const int fix_port = exo::testing::FreePort();
  auto fix_venue = StartFixTestVenue(fix_port, dir.path(), {{"64990.00", "0.05"}});
  std::string error;
  std::string json = ConfigWithFixVenue(dir.path(), fix_port);
  const size_t replan = json.find("\"replan_interval_ms\": 10");  // Overdue after 300 ms.
  REQUIRE(replan != std::string::npos);
  json.insert(replan, "\"child_timeout_ms\": 300, ");
  auto d = DaemonProcess::Start(dir.path(), json, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  REQUIRE(exo::testing::WaitFor([&] { return VenueState(ch, "FIXV") == ADAPTER_STATE_UP; }));
  fix_venue->DropReports(true);  // The venue fills the child; its reports never arrive.
  RouteRequest r = Route("lost-1", SIDE_BUY, kBtc / 20, ROUTE_MODE_EXECUTE);
  r.mutable_order()->set_time_in_force(TIME_IN_FORCE_IOC);
  r.mutable_order()->add_allowed_venues("FIXV");
  RouteResponse resp;
  REQUIRE(CallRoute(ch, r, &resp).ok());
  std::vector<std::string> kinds;
  for (const PlanDelta& x : WatchToEnd(ch, "lost-1")) {
    if (x.has_fill()) {
      kinds.push_back("fill " + std::to_string(x.fill().quantity()) + " at " + std::to_string(x.fill().price()));
      CHECK(x.fill().exec_id().rfind("status:", 0) == 0);  // From the venue's answer to the status request.
    }
    if (x.has_child_done()) kinds.push_back("child_done " + x.child_done().reason());
    if (x.has_finished()) kinds.push_back("finished " + PlanStatus_Name(x.finished().status()));
  }
  CHECK(kinds == std::vector<std::string>{"fill 5000000 at 6499000", "child_done filled", "finished PLAN_STATUS_COMPLETED"});
  std::optional<VenueStatus> v = VenueStatusOf(ch, "FIXV");
  REQUIRE(v.has_value());
  CHECK(v->children_overdue() == 1);
  CHECK(v->children_unanswered() == 0);
  CHECK(fix_venue->orders_received() == 1);
  CHECK(d->log().find("asked to cancel it and where it stands") != std::string::npos);
  CheckChainRecomputes(*d);
  CHECK(d->Terminate() == 0);
  fix_venue->Stop();
}

TEST_CASE("with log.format JSON every line exorouted writes, gRPC's own included, is one JSON object naming the node",
          "[e2e][log]") {
  TempDir dir;
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), TestConfigJson(dir.path(), R"("log": {"format": "LOG_FORMAT_JSON"})"),
                                &error);
  INFO(error);
  REQUIRE(d != nullptr);
  RouteResponse resp;
  REQUIRE(CallRoute(Connect(*d), exo::testing::BtcOrder("json-log", SIDE_BUY, kBtc, ROUTE_MODE_EXECUTE), &resp).ok());
  // A plaintext client at the TLS port: gRPC's own error line, in the same format.
  CHECK(exo::testing::Run(EXOROUTECTL_PATH, {"--insecure", "--endpoint", d->endpoint(), "--timeout", "1000", "status"})
            .exit_code == 1);
  CHECK(d->Terminate() == 0);
  const std::vector<std::string> lines = absl::StrSplit(d->log(), '\n', absl::SkipEmpty());
  REQUIRE(lines.size() >= 3);
  std::set<std::string> levels;
  bool opened = false, stopped = false, grpc = false;
  for (const std::string& line : lines) {
    INFO(line);
    google::protobuf::Struct parsed;
    REQUIRE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok());
    const auto& f = parsed.fields();
    REQUIRE(f.count("message") == 1);
    CHECK(f.at("node").string_value() == "node-1");  // The default config's.
    CHECK(f.at("time").string_value().size() == std::string("2026-12-04T05:06:07.089Z").size());
    levels.insert(f.at("level").string_value());
    const std::string& m = f.at("message").string_value();
    opened = opened || m.rfind("store ", 0) == 0;
    stopped = stopped || m == "received SIGTERM";
    grpc = grpc || (m.rfind("grpc: ", 0) == 0 && m.find("Handshake failed") != std::string::npos &&
                    f.at("level").string_value() == "error");
  }
  CHECK(opened);
  CHECK(stopped);
  CHECK(grpc);
  CHECK(levels.count("info") == 1);
  for (const std::string& l : levels) CHECK((l == "info" || l == "warning" || l == "error"));
}

TEST_CASE("a risk limit refuses an order over the API and the CLI, and status and metrics count it", "[e2e][risk]") {
  TempDir dir;
  std::string error;
  auto d = DaemonProcess::Start(
      dir.path(),
      TestConfigJson(dir.path(), R"("risk": [{"symbol": "BTC-USD", "max_order_quantity": 1000000000, "max_working_quantity": 2000000000}])"),
      &error);
  INFO(error);
  REQUIRE(d != nullptr);
  RouteResponse resp;
  const grpc::Status big = CallRoute(Connect(*d), exo::testing::BtcOrder("big", SIDE_BUY, 11 * kBtc, ROUTE_MODE_PLAN_ONLY), &resp);
  CHECK(big.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(big.error_message() ==
        "order.quantity: 11.00000000 BTC-USD is over this node's limit of 10.00000000 per order (risk[0].max_order_quantity)");
  const exo::testing::CommandResult cli = Ctl(*d, {"route", "--symbol", "BTC-USD", "--side", "sell", "--qty", "12"});
  CHECK(cli.exit_code == 1);
  CHECK(cli.err ==
        "exoroutectl: INVALID_ARGUMENT: order.quantity: 12.00000000 BTC-USD is over this node's limit of 10.00000000 per "
        "order (risk[0].max_order_quantity)\n");
  REQUIRE(CallRoute(Connect(*d), exo::testing::BtcOrder("small", SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());

  const exo::testing::CommandResult status = Ctl(*d, {"status"});
  INFO(status.out << status.err);
  CHECK(status.out.find("risk        BTC-USD: order <= 10.00000000, working 0.00000000 of 20.00000000, 2 orders refused "
                        "(2 max_order_quantity)\n") != std::string::npos);
  std::string metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics").body;
  CHECK(metrics.find("\nexoroute_risk_refused_total{symbol=\"BTC-USD\",limit=\"max_order_quantity\"} 2\n") != std::string::npos);
  // Every limit the symbol has is exported from 0, so a first refusal is an increase.
  CHECK(metrics.find("\nexoroute_risk_refused_total{symbol=\"BTC-USD\",limit=\"max_working_quantity\"} 0\n") !=
        std::string::npos);
  CHECK(metrics.find("limit=\"max_order_notional\"") == std::string::npos);  // Not a limit of this node.
  CHECK(metrics.find("\nexoroute_risk_max_working_quantity{symbol=\"BTC-USD\"} 2000000000\n") != std::string::npos);
  CHECK(metrics.find("\nexoroute_risk_working_quantity{symbol=\"BTC-USD\"} 0\n") != std::string::npos);

  // Two resting buys of 10 (limit 100.00, far below the market) take the working limit of 20:
  // one more is refused by it, and counted as such.
  for (const char* id : {"rest-1", "rest-2"}) {
    RouteRequest rest = exo::testing::BtcOrder(id, SIDE_BUY, 10 * kBtc, ROUTE_MODE_EXECUTE);
    rest.mutable_order()->set_limit_price(10000);
    const grpc::Status rested = CallRoute(Connect(*d), rest, &resp);
    INFO(rested.error_message());
    REQUIRE(rested.ok());
  }
  const grpc::Status over = CallRoute(Connect(*d), exo::testing::BtcOrder("over", SIDE_SELL, kBtc, ROUTE_MODE_EXECUTE), &resp);
  CHECK(over.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  const exo::testing::CommandResult later = Ctl(*d, {"status"});
  CHECK(later.out.find("risk        BTC-USD: order <= 10.00000000, working 20.00000000 of 20.00000000, 3 orders refused "
                       "(2 max_order_quantity, 1 max_working_quantity)\n") != std::string::npos);
  metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics").body;
  CHECK(metrics.find("\nexoroute_risk_refused_total{symbol=\"BTC-USD\",limit=\"max_working_quantity\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.find("\nexoroute_risk_working_quantity{symbol=\"BTC-USD\"} 2000000000\n") != std::string::npos);
  CHECK(d->Terminate() == 0);
}
