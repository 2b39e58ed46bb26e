// Who may call what on a real exorouted (mutual TLS, the config's access section): traders,
// operators and readers told apart by their client certificates, a stranger refused every RPC
// of the API, and the rules changed by a reload without a restart.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "clients/cpp/exoroute_client.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/integration/daemon_process.h"
#include "tests/testing/cluster_certs.h"
#include "tests/testing/temp_dir.h"

namespace {

using exo::testing::DaemonProcess;
using exo::testing::TempDir;
using exo::testing::TestConfigJson;

// Calls `method` ("/exoroute.v1.RouterService/Route") with an empty request, as any gRPC
// client could, and returns how the call ended (a stream's first message, if any, is dropped).
grpc::Status CallEmpty(const std::shared_ptr<grpc::Channel>& channel, const std::string& method) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(&ctx, method, &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](void* want) {
    REQUIRE(cq.Next(&tag, &ok));
    REQUIRE(tag == want);
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(reinterpret_cast<void*>(1));
  grpc::Slice nothing("", 0);
  grpc::ByteBuffer request(&nothing, 1);
  call->WriteLast(request, grpc::WriteOptions(), reinterpret_cast<void*>(2));
  step(reinterpret_cast<void*>(2));
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  step(reinterpret_cast<void*>(3));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  step(reinterpret_cast<void*>(4));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// Every method of the API port's services, as "/exoroute.v1.RouterService/Route".
std::vector<std::string> ApiMethods() {
  std::vector<std::string> out;
  for (const char* service : {"exoroute.v1.RouterService", "exoroute.v1.AdminService", "exoroute.v1.AuditService"}) {
    const google::protobuf::ServiceDescriptor* s =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    REQUIRE(s != nullptr);
    for (int i = 0; i < s->method_count(); ++i) out.push_back("/" + s->full_name() + "/" + s->method(i)->name());
  }
  return out;
}

std::string AccessConfigJson(const std::string& data_dir, const std::string& certs, const std::string& access) {
  return TestConfigJson(data_dir, R"("tls": {"cert_file": ")" + certs + R"(/server.pem", "key_file": ")" + certs +
                                      R"(/server.key", "ca_file": ")" + certs +
                                      R"(/ca.pem", "require_client_cert": true}, "access": )" + access);
}

TEST_CASE("access by client certificate: traders trade, operators operate, readers read, strangers nothing",
          "[e2e][tls][access]") {
  TempDir dir;
  const std::string certs = dir / "certs";
  REQUIRE(exo::testing::GenerateClusterCerts(certs, "server desk-a desk-b ops-1 auditor stranger"));
  const std::string data = dir / "data";
  const std::string roles = R"({"trade": ["desk-a", "desk-b"], "operate": ["ops-1"], "read": ["auditor"]})";
  std::string error;
  auto d = DaemonProcess::Start(data, AccessConfigJson(data, certs, roles), &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto as = [&](const std::string& client, std::vector<std::string> args) {
    return exo::testing::CtlAs(*d, certs, client, std::move(args));
  };
  auto denied = [](const exo::testing::CommandResult& r, const std::string& message) {
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err == "exoroutectl: PERMISSION_DENIED: " + message + "\n");
  };
  // The trader routes and reads its plan; it may not halt the node.
  auto routed = as("desk-a", {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "2", "--id", "acc-1"});
  INFO(routed.out << routed.err);
  CHECK(routed.exit_code == 0);
  // Who sent it is recorded with the plan, in its chain.
  auto shown = as("desk-a", {"plan", "show", "acc-1"});
  CHECK(shown.exit_code == 0);
  CHECK(shown.out.find("  PLAN_ONLY  by client desk-a\n") != std::string::npos);
  auto replayed = as("auditor", {"replay", "--plan", "acc-1"});
  INFO(replayed.out << replayed.err);
  CHECK(replayed.out.find(" by client desk-a") != std::string::npos);
  denied(as("desk-a", {"halt", "--reason", "not mine to do"}),
         "client \"desk-a\" may not call AdminService.SetTrading (access.operate names who may)");
  // Another trader may not change desk-a's order; desk-a may (the plan-only plan has nothing
  // left to change: refused for that, not for who asks).
  denied(as("desk-b", {"plan", "amend", "acc-1", "--limit", "64000"}),
         "client \"desk-b\" may not amend plan \"acc-1\": client \"desk-a\" routed it (a trader changes only the "
         "orders it sent; access.operate may cancel any)");
  denied(as("desk-b", {"plan", "cancel", "acc-1"}),
         "client \"desk-b\" may not cancel plan \"acc-1\": client \"desk-a\" routed it (a trader changes only the "
         "orders it sent; access.operate may cancel any)");
  auto own = as("desk-a", {"plan", "amend", "acc-1", "--limit", "64000"});
  CHECK(own.err.find("PERMISSION_DENIED") == std::string::npos);
  CHECK(as("ops-1", {"plan", "cancel", "acc-1"}).err.find("PERMISSION_DENIED") == std::string::npos);
  // Working orders far from the market, one per desk: listed with who sent them, by desk too,
  // and an operator cancels one desk's orders alone.
  for (const std::string desk : {"desk-a", "desk-b"}) {
    auto r = as(desk, {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--limit", "1000", "--id",
                       "rest-" + desk, "--execute"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  auto listed = as("ops-1", {"plan", "list"});
  INFO(listed.out << listed.err);
  CHECK(listed.out.find("  BY\n") != std::string::npos);
  CHECK(listed.out.find(" desk-a\n") != std::string::npos);
  CHECK(listed.out.find(" desk-b\n") != std::string::npos);
  auto of_b = as("auditor", {"plan", "list", "--client", "desk-b"});
  CHECK(of_b.out.find("rest-desk-b") != std::string::npos);
  CHECK(of_b.out.find("rest-desk-a") == std::string::npos);
  // The execution report totals per client, and keeps one client's orders.
  auto report = as("auditor", {"report"});
  INFO(report.out << report.err);
  CHECK(report.out.find("BTC-USD buy by desk-a: 1 plan") != std::string::npos);
  CHECK(report.out.find("BTC-USD buy by desk-b: 1 plan") != std::string::npos);
  auto report_b = as("auditor", {"report", "--client", "desk-b"});
  CHECK(report_b.out.find("rest-desk-b") != std::string::npos);
  CHECK(report_b.out.find("rest-desk-a") == std::string::npos);
  auto cancelled = as("ops-1", {"plan", "cancel", "--all", "--client", "desk-b", "--reason", "desk-b halted"});
  INFO(cancelled.out << cancelled.err);
  CHECK(cancelled.exit_code == 0);
  CHECK(cancelled.out.find("1 cancelled, 0 finished meanwhile, 0 not cancelled") != std::string::npos);
  auto left = as("ops-1", {"plan", "list"});
  CHECK(left.out.find("rest-desk-a") != std::string::npos);
  CHECK(left.out.find("rest-desk-b") == std::string::npos);
  // The operator halts and resumes the node and reloads its config; it sends no order.
  CHECK(as("ops-1", {"halt", "--reason", "desk halt"}).exit_code == 0);
  CHECK(as("ops-1", {"resume", "--reason", "desk halt over"}).exit_code == 0);
  denied(as("ops-1", {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--id", "acc-2"}),
         "client \"ops-1\" may not call RouterService.Route (access.trade names who may)");
  // Each client can ask what it is to the node.
  for (const auto& [client, roles] : {std::pair<std::string, std::string>{"desk-a", "trade"}, {"ops-1", "operate"},
                                      {"auditor", "read"}}) {
    auto shown = as(client, {"status"});
    INFO(shown.out << shown.err);
    CHECK(shown.out.find("access      by client certificate (config access): you are \"" + client + "\", " + roles +
                         "\n") != std::string::npos);
  }
  // The auditor reads the node, the plan and the chain, and changes nothing.
  CHECK(as("auditor", {"status"}).exit_code == 0);
  CHECK(as("auditor", {"plan", "show", "acc-1"}).exit_code == 0);
  auto verified = as("auditor", {"audit", "verify"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  denied(as("auditor", {"plan", "cancel", "acc-1"}),
         "client \"auditor\" may not call RouterService.CancelPlan (access.trade or access.operate names who may)");
  // A certificate from the same CA that no list names: refused every RPC of the API, before its
  // request is read (an empty one would otherwise be INVALID_ARGUMENT for most); the health
  // check stays open, for load balancers.
  exo::client::ConnectOptions o;
  o.endpoint = d->endpoint();
  o.ca_file = certs + "/ca.pem";
  o.cert_file = certs + "/stranger.pem";
  o.key_file = certs + "/stranger.key";
  absl::StatusOr<std::shared_ptr<grpc::Channel>> stranger = exo::client::Connect(o);
  REQUIRE(stranger.ok());
  const std::vector<std::string> methods = ApiMethods();
  CHECK(methods.size() == 21);
  for (const std::string& method : methods) {
    const grpc::Status s = CallEmpty(*stranger, method);
    INFO(method << ": " << s.error_code() << " " << s.error_message());
    CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(s.error_message().rfind("client \"stranger\" may not call ", 0) == 0);
  }
  CHECK(CallEmpty(*stranger, "/grpc.health.v1.Health/Check").ok());
  // Refusals are counted (the five above and the stranger's twenty-one) and the last one shown.
  auto status = as("ops-1", {"status"});
  INFO(status.out);
  CHECK(status.out.find("WARNING     26 calls refused by the access rules (config access); the last: client "
                        "\"stranger\" may not call AuditService.ProveConsistency") != std::string::npos);
  // A reload lets everyone with a certificate read: the stranger now reads, and still trades nothing.
  {
    std::ofstream f(data + "/config.json", std::ios::trunc);
    f << AccessConfigJson(data, certs, R"({"trade": ["desk-a"], "operate": ["ops-1"], "read": ["auditor", "*"]})");
  }
  auto reloaded = as("ops-1", {"config", "reload"});
  INFO(reloaded.out << reloaded.err);
  REQUIRE(reloaded.exit_code == 0);
  CHECK(as("stranger", {"plan", "show", "acc-1"}).exit_code == 0);
  CHECK(as("auditor", {"status"}).out.find("you are \"auditor\", read\n") != std::string::npos);
  CHECK(as("stranger", {"status"}).out.find("you are \"stranger\", read\n") != std::string::npos);
  denied(as("stranger", {"route", "--symbol", "BTC-USD", "--side", "sell", "--qty", "1", "--id", "acc-3"}),
         "client \"stranger\" may not call RouterService.Route (access.trade names who may)");
}

}  // namespace
