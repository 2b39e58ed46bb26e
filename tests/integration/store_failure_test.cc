// A node whose store cannot write (a full disk; here the file-size limit `ulimit -f`, which
// fails writes the same way): it refuses new routes with the reason, takes itself out of
// rotation (/healthz), says so in Status and /metrics, and after a restart with room again has
// every delta it acknowledged and routes on. And a node whose database is damaged on disk does
// not start, and is not started again by its service manager.
#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/e2e.h"
#include "tests/testing/damaged_table.h"
#include "tests/testing/http_get.h"
#include "tests/testing/temp_dir.h"

using exo::testing::Connect;
using exo::testing::DaemonProcess;
using exo::testing::kBtc;
using exo::testing::TempDir;
using exo::testing::TestConfigJson;
using namespace exoroute::v1;  // NOLINT

namespace {

// A plan-only buy of half a BTC.
grpc::Status CallRoute(const std::shared_ptr<grpc::Channel>& ch, const std::string& id, RouteResponse* resp) {
  return exo::testing::CallRoute(ch, exo::testing::BtcOrder(id, SIDE_BUY, kBtc / 2, ROUTE_MODE_PLAN_ONLY), resp);
}

// The server's gRPC health status as a load balancer asks it (grpc.health.v1.Health/Check for
// the whole server): the serialized HealthCheckResponse, "\x08\x01" SERVING, "\x08\x02"
// NOT_SERVING.
std::string GrpcHealth(const std::shared_ptr<grpc::Channel>& ch) {
  grpc::GenericStub stub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  const grpc::Slice nothing{std::string()};  // HealthCheckRequest{service: ""} is empty.
  grpc::ByteBuffer request(&nothing, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  if (!done.get_future().get().ok()) return "call failed";
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return "unreadable";
  std::string out;
  for (const grpc::Slice& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

TEST_CASE("a store that cannot write: new routes refused with the reason, the node out of rotation, "
          "nothing acknowledged lost",
          "[e2e][store]") {
  TempDir dir;
  // The daemon inherits a file-size limit that its write-ahead log reaches after a few hundred
  // routes (the limit is put back for this process at once).
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = 600'000;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &low) == 0);
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), TestConfigJson(dir.path()), &error);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  CHECK(GrpcHealth(ch) == "\x08\x01");
  std::vector<std::string> acknowledged;
  grpc::Status refused;
  for (int i = 0; i < 3000 && refused.ok(); ++i) {
    RouteResponse resp;
    const std::string id = "r" + std::to_string(i);
    refused = CallRoute(ch, id, &resp);
    if (refused.ok()) acknowledged.push_back(id);
  }
  INFO(acknowledged.size() << " routes acknowledged");
  REQUIRE_FALSE(refused.ok());
  CHECK(acknowledged.size() > 100);
  CHECK(refused.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(refused.error_message().rfind("store: a write failed (append: IO error: ", 0) == 0);
  CHECK(refused.error_message().find("File too large); it takes no more writes until exorouted restarts. Every delta "
                                     "acknowledged before is on disk: fix the cause (disk space?) and restart") !=
        std::string::npos);
  // Every later route gets the same answer; the node says why everywhere an operator looks.
  RouteResponse resp;
  const grpc::Status again = CallRoute(ch, "later", &resp);
  CHECK(again.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(again.error_message() == refused.error_message());
  StatusResponse st;
  grpc::ClientContext ctx;
  REQUIRE(AdminService::NewStub(ch)->Status(&ctx, StatusRequest(), &st).ok());
  CHECK(st.store_write_failure() == refused.error_message());
  CHECK(st.chain_head().sequence() > 0);
  const int admin = exo::testing::AdminPort(dir.path());
  auto health = exo::testing::HttpRequest(admin, "GET", "/healthz");
  CHECK(health.status == 503);
  CHECK(health.body.find("store: a write failed") != std::string::npos);
  CHECK(GrpcHealth(ch) == "\x08\x02");
  auto metrics = exo::testing::HttpRequest(admin, "GET", "/metrics");
  CHECK(metrics.body.find("exoroute_store_writable 0\n") != std::string::npos);
  auto status_cli = exo::testing::Ctl(*d, {"status"});
  CHECK(status_cli.out.find("WARNING     store: a write failed (") != std::string::npos);
  CHECK(d->log().find("ERROR store: a write failed (") != std::string::npos);
  const uint64_t head = st.chain_head().sequence();
  CHECK(d->Terminate() == 0);  // A clean stop, though the last records could not be written.

  // Room again: a restart has every acknowledged plan and the chain as it was, and routes on.
  d = DaemonProcess::Start(dir.path(), TestConfigJson(dir.path()), &error);
  INFO(error);
  REQUIRE(d != nullptr);
  ch = Connect(*d);
  for (const std::string& id : acknowledged) {
    grpc::ClientContext c;
    GetPlanRequest req;
    req.set_plan_id(id);
    GetPlanResponse plan;
    const grpc::Status s = RouterService::NewStub(ch)->GetPlan(&c, req, &plan);
    INFO(id << ": " << s.error_message());
    CHECK(s.ok());
  }
  VerifyRequest vreq;
  VerifyResponse verified;
  grpc::ClientContext vctx;
  REQUIRE(AuditService::NewStub(ch)->Verify(&vctx, vreq, &verified).ok());
  CHECK(verified.ok());
  CHECK(verified.checked() >= head);
  CHECK(CallRoute(ch, "after", &resp).ok());
  CHECK(exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/healthz").status == 200);
  CHECK(d->Terminate() == 0);
}

TEST_CASE("the store's memory and log bounds in the config are the ones RocksDB runs with", "[e2e][store]") {
  TempDir dir;
  std::string error;
  auto d = DaemonProcess::Start(dir.path(),
                                TestConfigJson(dir.path(), R"("store": {"memtable_mib": 32, "max_wal_mib": 8})"), &error);
  INFO(error);
  REQUIRE(d != nullptr);
  RouteResponse resp;
  REQUIRE(CallRoute(Connect(*d), "bounded", &resp).ok());
  CHECK(d->log().find("(memtables <= 32 MiB, logs <= 8 MiB)") != std::string::npos);
  // RocksDB writes the options it opened with beside the data (OPTIONS-<n>, the newest last).
  std::string options_file;
  for (const auto& f : std::filesystem::directory_iterator(dir / "db")) {
    const std::string name = f.path().filename().string();
    if (name.rfind("OPTIONS-", 0) == 0 && name.find(".dbtmp") == std::string::npos &&
        f.path().string() > options_file) {
      options_file = f.path().string();
    }
  }
  REQUIRE(!options_file.empty());
  std::stringstream options;
  options << std::ifstream(options_file).rdbuf();
  CHECK(options.str().find("db_write_buffer_size=33554432\n") != std::string::npos);
  CHECK(options.str().find("max_total_wal_size=8388608\n") != std::string::npos);

  // Status, the CLI and the metrics show what the store holds against those bounds.
  StatusResponse st;
  grpc::ClientContext ctx;
  REQUIRE(AdminService::NewStub(Connect(*d))->Status(&ctx, StatusRequest(), &st).ok());
  CHECK(st.store().memtable_limit_bytes() == 32u << 20);
  CHECK(st.store().log_limit_bytes() == 8u << 20);
  CHECK(st.store().log_bytes() > 0);       // The route's deltas, synced to the log.
  CHECK(st.store().memtable_bytes() > 0);  // And not flushed yet.
  CHECK(st.store_size_bytes() == st.store().table_bytes() + st.store().log_bytes());
  const exo::testing::CommandResult status = exo::testing::Ctl(*d, {"status"});
  INFO(status.out << status.err);
  CHECK(status.exit_code == 0);
  CHECK(status.out.find(" of 8.0 MiB; memtables ") != std::string::npos);
  CHECK(status.out.find(" of 32.0 MiB)") != std::string::npos);
  const std::string metrics = exo::testing::HttpRequest(exo::testing::AdminPort(dir.path()), "GET", "/metrics").body;
  CHECK(metrics.find("\nexoroute_store_log_limit_bytes 8388608\n") != std::string::npos);
  CHECK(metrics.find("\nexoroute_store_memtable_limit_bytes 33554432\n") != std::string::npos);
  CHECK(metrics.find("\nexoroute_store_log_bytes ") != std::string::npos);
  CHECK(d->Terminate() == 0);
}

TEST_CASE("a node whose database has a damaged table does not start: exit 3 naming the file and the block, "
          "and the offline tools refuse it alike",
          "[e2e][store]") {
  TempDir dir;
  const std::string data = dir / "node";
  {
    std::string error;
    auto d = DaemonProcess::Start(data, TestConfigJson(data), &error);
    REQUIRE(d != nullptr);
    RouteResponse resp;
    REQUIRE(CallRoute(Connect(*d), "damaged-1", &resp).ok());
    REQUIRE(d->Terminate() == 0);  // Stopped cleanly: its deltas in tables.
  }
  const std::vector<std::string> tables = exo::testing::TableFiles(data + "/db");
  REQUIRE_FALSE(tables.empty());
  const std::string name = std::filesystem::path(tables.back()).filename().string();
  // (Before the store checked it, RocksDB stopped the process on this byte: tests/fuzz/corpus/store.)
  exo::testing::DamageTableProperties(tables.back());

  const auto start = exo::testing::Run(EXOROUTED_PATH, {"--config", data + "/config.json"});
  INFO(start.err);
  CHECK(start.exit_code == 3);  // Not restarted by the systemd unit (RestartPreventExitStatus).
  CHECK(start.err.find("cannot start: DATA_LOSS: refusing to open " + data + "/db: table file " + name +
                       " is damaged: its \"rocksdb.properties\" block (") != std::string::npos);
  CHECK(start.err.find("Nothing was changed; restore the node from a backup") != std::string::npos);

  const auto verify = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "verify", "--data-dir", data});
  INFO(verify.err);
  CHECK(verify.exit_code == 3);
  CHECK(verify.err.find("table file " + name + " is damaged") != std::string::npos);
}
