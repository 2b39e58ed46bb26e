// The client API's certificates replaced while exorouted runs: new connections get the new set
// within the reload interval, connections already open go on, an unusable set on disk is
// refused with the reason while the last good set is still served, and an unusable set at
// start-up stops the start naming the file.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "clients/cpp/exoroute_client.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/integration/daemon_process.h"
#include "tests/testing/cluster_certs.h"
#include "tests/testing/temp_dir.h"

using exo::testing::DaemonProcess;
using exo::testing::TempDir;
using exo::testing::TestConfigJson;
using namespace exoroute::v1;  // NOLINT

namespace {

// Copies `from` over `to` through a rename, as an operator's deployment tool would.
void Install(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to + ".new", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(to + ".new", to);
}

// The test config serving the certificate files in `tls_dir`, re-read every second.
std::string ConfigServing(const std::string& data_dir, const std::string& tls_dir) {
  return TestConfigJson(data_dir, R"("tls": {"cert_file": ")" + tls_dir + R"(/server.pem", "key_file": ")" + tls_dir +
                                      R"(/server.key", "ca_file": ")" + tls_dir + R"(/ca.pem", "reload_interval_s": 1})");
}

// A new connection that trusts only `ca_file`, or the error.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const DaemonProcess& d, const std::string& ca_file) {
  exo::client::ConnectOptions o;
  o.endpoint = d.endpoint();
  o.ca_file = ca_file;
  o.connect_timeout = std::chrono::milliseconds(2000);
  return exo::client::Connect(o);
}

absl::StatusOr<StatusResponse> StatusOf(const std::shared_ptr<grpc::Channel>& ch) {
  StatusResponse st;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  const grpc::Status s = AdminService::NewStub(ch)->Status(&ctx, StatusRequest(), &st);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return st;
}

// The Status entry of the client API's certificate (empty if none).
CertificateStatus Api(const StatusResponse& st) {
  for (const auto& c : st.certificates()) {
    if (c.port() == "api") return c;
  }
  return {};
}

// Waits up to 20 s for `done`.
bool Eventually(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

// Two CAs (a, b), each with a "server" certificate for 127.0.0.1, and the directory the
// daemon is configured to serve its certificate files from (`live`).
struct TwoCas {
  TempDir dir;
  std::string a = dir / "ca-a", b = dir / "ca-b", live = dir / "served";
  TwoCas() {
    REQUIRE(exo::testing::GenerateClusterCerts(a, "server"));
    REQUIRE(exo::testing::GenerateClusterCerts(b, "server"));
    std::filesystem::create_directories(live);
  }
  // Starts exorouted serving `cert` and `key` with CA a's bundle.
  std::unique_ptr<DaemonProcess> Start(const std::string& cert, const std::string& key, std::string* error) {
    Install(cert, live + "/server.pem");
    Install(key, live + "/server.key");
    Install(a + "/ca.pem", live + "/ca.pem");
    return DaemonProcess::Start(dir / "data", ConfigServing(dir / "data", live), error);
  }
};

}  // namespace

TEST_CASE("certificates replaced on disk are served to new connections without a restart, "
          "an unusable set is refused and the last good one stays",
          "[e2e][tls]") {
  TwoCas cas;
  const std::string &a = cas.a, &b = cas.b, &live = cas.live;
  std::string error;
  auto d = cas.Start(a + "/server.pem", a + "/server.key", &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto old = Dial(*d, a + "/ca.pem");
  REQUIRE(old.ok());
  REQUIRE(StatusOf(*old).ok());
  CHECK_FALSE(Dial(*d, b + "/ca.pem").ok());  // Not yet.
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  absl::StatusOr<StatusResponse> st = StatusOf(*old);
  REQUIRE(st.ok());
  REQUIRE(st->certificates_size() == 1);  // No cluster: no peer port.
  CHECK(Api(*st).not_after_s() > now_s + 800 * 86400);  // gen-certs.sh: 825 days.
  CHECK(Api(*st).reloads() == 0);

  // Rotation: the CA's new certificate and key (the key first: the set is checked whole).
  Install(b + "/server.key", live + "/server.key");
  Install(b + "/server.pem", live + "/server.pem");
  Install(b + "/ca.pem", live + "/ca.pem");
  CHECK(Eventually([&] { return Dial(*d, b + "/ca.pem").ok(); }));
  CHECK_FALSE(Dial(*d, a + "/ca.pem").ok());
  // The connection opened before goes on.
  st = StatusOf(*old);
  REQUIRE(st.ok());
  CHECK(Api(*st).reloads() == 1);
  CHECK(Api(*st).refused().empty());

  // An unusable set: the old key beside the new certificate. Refused with the reason; new
  // connections still get the last good set, also after gRPC has read the served copy again.
  Install(a + "/server.key", live + "/server.key");
  CHECK(Eventually([&] {
    auto s = StatusOf(*old);
    return s.ok() && !Api(*s).refused().empty();
  }));
  st = StatusOf(*old);
  REQUIRE(st.ok());
  CHECK(Api(*st).refused() == live + "/server.key: not the private key of the certificate in " + live +
                                       "/server.pem");
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    auto fresh = Dial(*d, b + "/ca.pem");
    INFO(fresh.status().ToString());
    CHECK(fresh.ok());
  }
  // Put right: served again, nothing to reload (the same set).
  Install(b + "/server.key", live + "/server.key");
  CHECK(Eventually([&] {
    auto s = StatusOf(*old);
    return s.ok() && Api(*s).refused().empty();
  }));
  st = StatusOf(*old);
  REQUIRE(st.ok());
  CHECK(Api(*st).reloads() == 1);
  CHECK(d->Terminate() == 0);
}

TEST_CASE("an unusable certificate set at start-up stops the start, naming the file", "[e2e][tls]") {
  TwoCas cas;
  std::string error;
  auto d = cas.Start(cas.a + "/server.pem", cas.b + "/server.key", &error);
  CHECK(d == nullptr);
  const std::string why = "tls: " + cas.live + "/server.key: not the private key of the certificate in " + cas.live +
                          "/server.pem";
  CHECK(error.find(why) != std::string::npos);
  // `--check-config` says the same before a start is tried.
  auto check = exo::testing::Run(EXOROUTED_PATH, {"--check-config", "--config", cas.dir / "data/config.json"});
  CHECK(check.exit_code == 2);
  CHECK(check.err == "exorouted: " + why + "\n");
  // And passes the usable set.
  Install(cas.a + "/server.key", cas.live + "/server.key");
  check = exo::testing::Run(EXOROUTED_PATH, {"--check-config", "--config", cas.dir / "data/config.json"});
  INFO(check.err);
  CHECK(check.exit_code == 0);
}

TEST_CASE("with client certificates required a halt records which client made it", "[e2e][tls][halt]") {
  TempDir dir;
  const std::string certs = dir / "certs";
  REQUIRE(exo::testing::GenerateClusterCerts(certs, "server ops-1"));
  const std::string json =
      TestConfigJson(dir / "data", R"("tls": {"cert_file": ")" + certs + R"(/server.pem", "key_file": ")" + certs +
                                       R"(/server.key", "ca_file": ")" + certs + R"(/ca.pem", "require_client_cert": true})");
  std::string error;
  auto d = DaemonProcess::Start(dir / "data", json, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--endpoint", d->endpoint(), "--ca", certs + "/ca.pem", "--cert", certs + "/ops-1.pem",
                               "--key", certs + "/ops-1.key"});
    return exo::testing::Run(EXOROUTECTL_PATH, args);
  };
  auto halt = ctl({"halt", "--reason", "desk halt"});
  INFO(halt.out << halt.err);
  REQUIRE(halt.exit_code == 0);
  auto status = ctl({"status"});
  CHECK(status.out.find(": desk halt (by client ops-1); no child order is sent") != std::string::npos);
  auto resume = ctl({"resume", "--venue", "SIM-A", "--reason", "nothing"});
  CHECK(resume.out == "trading at venue SIM-A was not halted; nothing recorded\n");
  auto replay = ctl({"replay"});
  CHECK(replay.out.find("governance trading halted: desk halt (by client ops-1)") != std::string::npos);
  // Without a client certificate the port answers nothing at all.
  auto anonymous = exo::testing::Run(EXOROUTECTL_PATH, {"--endpoint", d->endpoint(), "--ca", certs + "/ca.pem",
                                                        "--timeout", "2000", "halt", "--reason", "x"});
  CHECK(anonymous.exit_code == 1);
}

TEST_CASE("with four eyes on settlements one operator proposes, another approves the same figures, both recorded",
          "[e2e][tls][settle]") {
  TempDir dir;
  const std::string certs = dir / "certs";
  REQUIRE(exo::testing::GenerateClusterCerts(certs, "server ops-1 ops-2"));
  std::string json =
      TestConfigJson(dir / "data", R"("tls": {"cert_file": ")" + certs + R"(/server.pem", "key_file": ")" + certs +
                                       R"(/server.key", "ca_file": ")" + certs + R"(/ca.pem", "require_client_cert": true})");
  const size_t sim_a = json.find("\"latency_ms\": 2,");  // SIM-A's: a session up but not working.
  REQUIRE(sim_a != std::string::npos);
  json.insert(sim_a, "\"unresponsive\": true, ");
  const size_t routing = json.find("\"replan_interval_ms\": 10");
  REQUIRE(routing != std::string::npos);
  json.insert(routing, "\"settle_approvals\": 2, ");
  std::string error;
  auto d = DaemonProcess::Start(dir / "data", json, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto as = [&](const std::string& client, std::vector<std::string> args) {
    return exo::testing::CtlAs(*d, certs, client, std::move(args));
  };
  auto routed = as("ops-1", {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "5", "--id", "fe-1", "--execute"});
  INFO(routed.out << routed.err);
  REQUIRE(routed.exit_code == 0);
  REQUIRE(as("ops-1", {"halt", "--venue", "SIM-A", "--reason", "SIM-A does not answer"}).exit_code == 0);
  // SIM-A's children stay open: it answers nothing.
  auto open_child = [&]() -> std::string {
    auto shown = as("ops-1", {"plan", "show", "fe-1", "--json"});
    Plan p;
    if (shown.exit_code != 0 || !google::protobuf::util::JsonStringToMessage(shown.out, &p).ok()) return "";
    for (const ChildState& c : p.children()) {
      if (c.order().venue() == "SIM-A" && !c.done()) return c.order().cl_ord_id();
    }
    return "";
  };
  std::string child;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       child.empty() && std::chrono::steady_clock::now() < until;) {
    child = open_child();
    if (child.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(!child.empty());
  // A proposal the plan could never take is refused at once, naming the field.
  auto too_much = as("ops-1", {"plan", "settle", "fe-1", child, "--filled", "99", "--price", "65000", "--reason", "x"});
  CHECK(too_much.exit_code == 1);
  CHECK(too_much.err.find("INVALID_ARGUMENT: filled_quantity: 9900000000 is more than the child's quantity") !=
        std::string::npos);
  // ops-1 proposes that SIM-A filled nothing of it: nothing is recorded yet.
  const std::vector<std::string> none = {"plan", "settle", "fe-1", child, "--filled", "0"};
  auto with_reason = [&](std::vector<std::string> args, const std::string& reason) {
    args.insert(args.end(), {"--reason", reason});
    return args;
  };
  auto proposed = as("ops-1", with_reason(none, "SIM-A desk: no fill, ticket 4711"));
  INFO(proposed.out << proposed.err);
  REQUIRE(proposed.exit_code == 0);
  CHECK(proposed.out == "settlement of child " + child +
                            " proposed by client ops-1: 0.00000000 filled\nnothing is recorded until another operator "
                            "(another client certificate) settles it with the same figures (routing.settle_approvals 2)\n");
  CHECK(open_child() == child);
  // The proposer cannot approve its own proposal: asking again leaves it proposed.
  auto self = as("ops-1", with_reason(none, "SIM-A desk: no fill, ticket 4711"));
  CHECK(self.exit_code == 0);
  CHECK(self.out.rfind("settlement of child " + child + " proposed by client ops-1", 0) == 0);
  CHECK(open_child() == child);
  // Status shows what awaits approval, and by whom.
  auto status = as("ops-2", {"status"});
  CHECK(status.out.find("SETTLEMENT TO APPROVE") != std::string::npos);
  CHECK(status.out.find("by ops-1 ") != std::string::npos);
  CHECK(status.out.find("SIM-A desk: no fill, ticket 4711") != std::string::npos);
  // ops-2 with other figures settles nothing, and is told which figure differs.
  auto other = as("ops-2", {"plan", "settle", "fe-1", child, "--filled", "0.001", "--price", "65000.00", "--reason",
                            "checked"});
  CHECK(other.exit_code == 1);
  CHECK(other.err.find("FAILED_PRECONDITION: filled_quantity: 100000 is not the 0 that client ops-1 proposed for "
                       "child " + child) != std::string::npos);
  CHECK(open_child() == child);
  // A typo the plan itself refuses leaves ops-1's proposal as it was (the approval below finds it).
  auto typo = as("ops-2", {"plan", "settle", "fe-1", child, "--filled", "99", "--price", "65000", "--reason", "x"});
  CHECK(typo.exit_code == 1);
  CHECK(typo.err.find("INVALID_ARGUMENT: filled_quantity: 9900000000 is more than the child's quantity") !=
        std::string::npos);
  // ops-2 with the same figures settles it; the chain names both operators.
  auto approved = as("ops-2", with_reason(none, "checked with SIM-A, ticket 4711"));
  INFO(approved.out << approved.err);
  REQUIRE(approved.exit_code == 0);
  CHECK(approved.out.rfind("child " + child + " settled: 0.00000000 filled (recorded)\n", 0) == 0);
  CHECK(open_child() != child);
  auto replay = as("ops-2", {"replay", "--plan", "fe-1"});
  CHECK(replay.out.find("settled by operator: SIM-A desk: no fill, ticket 4711 (proposed by client ops-1; approved by "
                        "client ops-2: checked with SIM-A, ticket 4711)") != std::string::npos);
  status = as("ops-1", {"status"});
  CHECK(status.out.find("SETTLEMENT TO APPROVE") == std::string::npos);
  // Settled: a second approval finds the child ended.
  auto twice = as("ops-1", with_reason(none, "again"));
  CHECK(twice.exit_code == 1);
  CHECK(twice.err.find("FAILED_PRECONDITION: cl_ord_id: child " + child + " has ended already") != std::string::npos);
  CHECK(d->Terminate() == 0);
}
