// The gRPC port's limits on the real exorouted: streams that hold a server thread while open
// (WatchPlan, Replay) are admitted up to their limit and ended when their client stops reading
// or answering, and gRPC's thread quota (listen.max_threads) keeps a flood of calls from
// becoming a flood of threads.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/e2e.h"
#include "tests/testing/temp_dir.h"

using exo::testing::CallRoute;
using exo::testing::Connect;
using exo::testing::DaemonProcess;
using exo::testing::kBtc;
using exo::testing::TempDir;
using exo::testing::TestConfigJson;
using namespace exoroute::v1;  // NOLINT

namespace {

// The test config with `fields` added to its "listen" object.
std::unique_ptr<DaemonProcess> StartWithListen(const std::string& dir, const std::string& fields) {
  std::string json = TestConfigJson(dir);
  const std::string listen = R"("address": "127.0.0.1:0" })";
  REQUIRE(json.find(listen) != std::string::npos);
  json.replace(json.find(listen), listen.size(), R"("address": "127.0.0.1:0", )" + fields + " }");
  std::string error;
  auto d = DaemonProcess::Start(dir, json, &error);
  INFO(error);
  REQUIRE(d != nullptr);
  return d;
}

// A channel whose HTTP/2 receive window stays at 64 KiB (no bandwidth-delay probing): a client
// that stops reading stops the server's writes once that much is on its way, as any client does
// once its transport's buffers are full, without a chain of many megabytes.
std::shared_ptr<grpc::Channel> ConnectNarrow(const DaemonProcess& d) {
  std::ifstream in(d.ca_file());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  auto ch = grpc::CreateCustomChannel(d.endpoint(), grpc::SslCredentials(ssl), args);
  REQUIRE(ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)));
  return ch;
}

// `plans` plan-only routes: a chain of decisions, each with its recorded inputs.
void FillChain(const std::shared_ptr<grpc::Channel>& ch, int plans) {
  RouteResponse resp;
  for (int i = 0; i < plans; ++i) {
    const grpc::Status s = CallRoute(
        ch, exo::testing::BtcOrder("p" + std::to_string(i), i % 2 == 0 ? SIDE_BUY : SIDE_SELL, kBtc, ROUTE_MODE_PLAN_ONLY),
        &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
  }
}

// The process's thread count now (/proc/<pid>/status), 0 if unreadable.
int ThreadsOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return 0;
}

}  // namespace

TEST_CASE("watches beyond listen.max_watches are refused and routing goes on", "[e2e][limits]") {
  TempDir dir;
  auto d = StartWithListen(dir.path(), R"("max_watches": 2)");
  auto ch = Connect(*d);
  RouteRequest waiting = exo::testing::BtcOrder("slow", SIDE_BUY, kBtc, ROUTE_MODE_EXECUTE);
  waiting.mutable_order()->set_limit_price(100);  // Never fills: watches stay open.
  RouteResponse resp;
  REQUIRE(CallRoute(ch, waiting, &resp).ok());
  auto watch = [&](grpc::ClientContext* ctx) {
    WatchPlanRequest req;
    req.set_plan_id("slow");
    return RouterService::NewStub(ch)->WatchPlan(ctx, req);
  };
  grpc::ClientContext ctx1, ctx2, ctx3;
  auto w1 = watch(&ctx1), w2 = watch(&ctx2);
  WatchPlanResponse m;
  REQUIRE(w1->Read(&m));  // Both live.
  REQUIRE(w2->Read(&m));
  auto w3 = watch(&ctx3);
  CHECK_FALSE(w3->Read(&m));
  const grpc::Status refused = w3->Finish();
  CHECK(refused.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(refused.error_message().find("listen.max_watches") != std::string::npos);
  // Routing is not held up by the open watches.
  REQUIRE(CallRoute(ch, exo::testing::BtcOrder("meanwhile", SIDE_SELL, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());
  CHECK(resp.plan().status() == PLAN_STATUS_PLANNED);
  // A watch that ends frees its place.
  ctx1.TryCancel();
  while (w1->Read(&m)) {
  }
  (void)w1->Finish();
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    grpc::ClientContext ctx4;
    auto w4 = watch(&ctx4);
    admitted = w4->Read(&m);
    ctx4.TryCancel();
    while (w4->Read(&m)) {
    }
    (void)w4->Finish();
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(admitted);
  ctx2.TryCancel();
  while (w2->Read(&m)) {
  }
  (void)w2->Finish();
}

TEST_CASE("replays beyond listen.max_replays are refused: a reader that stops holds only its own place",
          "[e2e][limits]") {
  TempDir dir;
  auto d = StartWithListen(dir.path(), R"("max_replays": 2)");
  auto ch = ConnectNarrow(*d);
  FillChain(ch, 150);
  // The whole chain with every decision's inputs: more than the transport buffers for a reader
  // that takes one message and then stops.
  auto replay = [&](grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));  // (A failing check ends.)
    ReplayRequest req;
    req.set_include_inputs(true);
    req.set_include_canonical(true);
    return AuditService::NewStub(ch)->Replay(ctx, req);
  };
  grpc::ClientContext ctx1, ctx2, ctx3;
  auto r1 = replay(&ctx1), r2 = replay(&ctx2);
  ReplayResponse m;
  REQUIRE(r1->Read(&m));
  REQUIRE(r2->Read(&m));
  // Both stalled readers are still being served: the third is turned away, naming the limit.
  auto r3 = replay(&ctx3);
  CHECK_FALSE(r3->Read(&m));
  const grpc::Status refused = r3->Finish();
  CHECK(refused.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(refused.error_message() ==
        "replay: 2 replays are open, the limit (listen.max_replays); close one, or raise the limit");
  // Everything else is served meanwhile.
  RouteResponse resp;
  REQUIRE(CallRoute(ch, exo::testing::BtcOrder("meanwhile", SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());
  CHECK(resp.plan().status() == PLAN_STATUS_PLANNED);
  // A reader that goes away frees its place; a reader that reads gets the whole chain.
  ctx1.TryCancel();
  while (r1->Read(&m)) {
  }
  (void)r1->Finish();
  uint64_t read = 0, head = 0;
  for (int attempt = 0; attempt < 50 && read == 0; ++attempt) {
    grpc::ClientContext ctx4;
    auto r4 = replay(&ctx4);
    while (r4->Read(&m)) {
      ++read;
      head = m.head_sequence();
    }
    const grpc::Status s = r4->Finish();
    if (!s.ok()) {
      INFO(s.error_message());
      CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);  // The place not freed yet.
      read = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  CHECK(read > 150);
  CHECK(read == head);
  ctx2.TryCancel();
  while (r2->Read(&m)) {
  }
  (void)r2->Finish();
  CHECK(d->Terminate() == 0);
}

TEST_CASE("a flood of calls beyond listen.max_threads is refused at once and the thread count stays bounded",
          "[e2e][limits]") {
  TempDir dir;
  constexpr int kMaxThreads = 10;
  auto d = StartWithListen(dir.path(), R"("max_watches": 1, "max_replays": 1, "max_threads": 10)");
  auto ch = Connect(*d);
  FillChain(ch, 100);
  const int idle = ThreadsOf(d->pid());
  REQUIRE(idle > 0);
  // 48 callers at once, each re-checking the chain and re-making its decisions over and over.
  constexpr int kCallers = 48;
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::string exhausted_message, other_message;
  std::mutex mu;
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      auto stub = AuditService::NewStub(ch);
      while (!stop) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        VerifyRequest req;
        req.set_recompute_decisions(true);
        VerifyResponse resp;
        const grpc::Status s = stub->Verify(&ctx, req, &resp);
        std::lock_guard<std::mutex> lock(mu);
        if (s.ok() && resp.ok()) {
          ++ok;
        } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++exhausted;
          exhausted_message = s.error_message();
        } else {
          ++other;
          other_message = s.ok() ? resp.error() : s.error_message();
        }
      }
    });
  }
  int peak = idle;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    peak = std::max(peak, ThreadsOf(d->pid()));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stop = true;
  for (auto& t : callers) t.join();
  INFO("idle threads " << idle << ", peak " << peak << "; calls ok " << ok << ", refused " << exhausted
                       << " (" << exhausted_message << "), other " << other << " (" << other_message << ")");
  CHECK(other == 0);
  CHECK(ok > 0);
  CHECK(exhausted > 0);
  // The quota counts the server's threads (some already there when idle); gRPC's timer and
  // executor pools may start a few of their own under load. (Without the quota: 74 at the
  // peak from 20 idle, on this test's first run.)
  CHECK(peak <= idle + kMaxThreads + 4);
  // After the flood the node serves as before.
  RouteResponse resp;
  REQUIRE(CallRoute(ch, exo::testing::BtcOrder("after", SIDE_SELL, kBtc, ROUTE_MODE_PLAN_ONLY), &resp).ok());
  CHECK(resp.plan().status() == PLAN_STATUS_PLANNED);
  StatusResponse st;
  grpc::ClientContext ctx;
  CHECK(AdminService::NewStub(ch)->Status(&ctx, StatusRequest(), &st).ok());
  CHECK(d->Terminate() == 0);
}

TEST_CASE("a stream whose client reads nothing for listen.stream_stall_ms is ended and its place freed, "
          "a slow reader that reads is not",
          "[e2e][limits]") {
  TempDir dir;
  auto d = StartWithListen(dir.path(), R"("max_replays": 1, "stream_stall_ms": 2000)");
  auto ch = ConnectNarrow(*d);
  FillChain(ch, 150);
  auto replay = [&](grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ReplayRequest req;
    req.set_include_inputs(true);
    req.set_include_canonical(true);
    return AuditService::NewStub(ch)->Replay(ctx, req);
  };
  auto status = [&] {
    StatusResponse st;
    grpc::ClientContext ctx;
    REQUIRE(AdminService::NewStub(ch)->Status(&ctx, StatusRequest(), &st).ok());
    return st;
  };
  // A reader that takes one message and stops: it holds the only place...
  grpc::ClientContext stalled_ctx;
  auto stalled = replay(&stalled_ctx);
  ReplayResponse m;
  REQUIRE(stalled->Read(&m));
  CHECK(status().open_replays() == 1);
  {
    grpc::ClientContext ctx;
    auto refused = replay(&ctx);
    CHECK_FALSE(refused->Read(&m));
    CHECK(refused->Finish().error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  // ...until the watchdog ends its stream: the place is free again without the client doing
  // anything, and a reader that pauses 40 ms between its first 20 messages (800 ms in all,
  // well under the 2 s limit: no write of the server's can wait the whole limit) gets the
  // whole chain.
  uint64_t read = 0, head = 0;
  bool admitted = false;
  for (int attempt = 0; attempt < 200 && !admitted; ++attempt) {
    grpc::ClientContext ctx;
    auto slow = replay(&ctx);
    if (!slow->Read(&m)) {
      CHECK(slow->Finish().error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    admitted = true;
    read = 1;
    while (slow->Read(&m)) {
      if (++read <= 20) std::this_thread::sleep_for(std::chrono::milliseconds(40));
      head = m.head_sequence();
    }
    const grpc::Status s = slow->Finish();
    INFO(s.error_message());
    CHECK(s.ok());
  }
  REQUIRE(admitted);
  CHECK(read == head);
  CHECK(read > 150);
  // The stalled client learns its stream was ended (after what was already on its way).
  while (stalled->Read(&m)) {
  }
  CHECK(stalled->Finish().error_code() == grpc::StatusCode::CANCELLED);
  const StatusResponse st = status();
  CHECK(st.streams_stalled() == 1);
  CHECK(st.open_replays() == 0);
  CHECK(d->Terminate() == 0);
}

TEST_CASE("a watching client that hangs is found by listen.keepalive_s and its watch ended, a live idle one stays",
          "[e2e][limits]") {
  TempDir dir;
  auto d = StartWithListen(dir.path(), R"("keepalive_s": 1)");
  auto ch = Connect(*d);
  RouteRequest waiting = exo::testing::BtcOrder("slow", SIDE_BUY, kBtc, ROUTE_MODE_EXECUTE);
  waiting.mutable_order()->set_limit_price(100);  // Never fills: watches wait, writing nothing.
  RouteResponse resp;
  REQUIRE(CallRoute(ch, waiting, &resp).ok());
  auto open_watches = [&] {
    StatusResponse st;
    grpc::ClientContext ctx;
    REQUIRE(AdminService::NewStub(ch)->Status(&ctx, StatusRequest(), &st).ok());
    return st.open_watches();
  };
  auto wait_for_watches = [&](uint32_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (open_watches() != n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return open_watches();
  };
  // A live watcher in this process, waiting in Read as watchers do (a gRPC client answers pings
  // while it polls), and `exoroutectl watch` in a process of its own, which then hangs
  // (SIGSTOP: its connection stays open, nothing answers on it).
  grpc::ClientContext live_ctx;
  WatchPlanRequest req;
  req.set_plan_id("slow");
  auto live = RouterService::NewStub(ch)->WatchPlan(&live_ctx, req);
  WatchPlanResponse m;
  REQUIRE(live->Read(&m));
  std::thread reader([&] {
    WatchPlanResponse next;
    while (live->Read(&next)) {
    }
  });
  std::vector<std::string> args = {EXOROUTECTL_PATH, "--endpoint", d->endpoint(), "--ca", d->ca_file(),
                                   "watch", "slow"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t watcher = -1;
  REQUIRE(posix_spawn(&watcher, EXOROUTECTL_PATH, &fa, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  CHECK(wait_for_watches(2) == 2);
  ::kill(watcher, SIGSTOP);
  // Within about two keepalive periods the hung client's watch is gone; the live one stays.
  CHECK(wait_for_watches(1) == 1);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(open_watches() == 1);
  ::kill(watcher, SIGKILL);
  ::kill(watcher, SIGCONT);
  int status = 0;
  ::waitpid(watcher, &status, 0);
  live_ctx.TryCancel();
  reader.join();
  (void)live->Finish();
  CHECK(wait_for_watches(0) == 0);
  CHECK(d->Terminate() == 0);
}
