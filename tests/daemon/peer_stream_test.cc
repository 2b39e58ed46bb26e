// PeerStream, the coordinator's link to a peer, against a real gRPC server over mutual TLS on
// loopback: answers in order, an answered error keeps the stream, a stalled peer costs one
// deadline, a peer that restarted between two calls is reached by the second call, a peer that
// is down or refuses this node gives a clear status naming it. (The server's answers are
// scripted: the unit under test is the stream, not the node behind it.)
#include "daemon/cluster/peer_stream.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "daemon/cluster/peer_service.h"
#include "tests/testing/cluster_certs.h"
#include "tests/testing/free_port.h"
#include "tests/testing/temp_dir.h"

using namespace exoroute::v1;  // NOLINT
using exo::daemon::cluster::PeerStream;

namespace {

// Answers an evaluate call with lo = its round; round 0 as an error; sleeps `stall_ms` first
// when set; refuses every stream when `refuse`.
class ScriptedPeer final : public PeerService::Service {
 public:
  std::atomic<int> stall_ms{0};
  std::atomic<bool> refuse{false};
  std::atomic<int> streams{0};

  grpc::Status Exchange(grpc::ServerContext* ctx, grpc::ServerReaderWriter<PeerAnswer, PeerCall>* stream) override {
    if (refuse) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not a configured peer");
    ++streams;
    PeerCall call;
    while (stream->Read(&call)) {
      if (stall_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(stall_ms.load()));
      PeerAnswer answer;
      if (call.evaluate().round() == 0) {
        answer.mutable_error()->set_code(grpc::StatusCode::NOT_FOUND);
        answer.mutable_error()->set_message("no session");
      } else {
        answer.mutable_evaluate()->set_lo(call.evaluate().round());
      }
      if (!stream->Write(answer)) break;
    }
    return grpc::Status::OK;
  }
};

struct Fixture {
  exo::testing::TempDir dir;
  ClusterConfig cluster;
  int port = exo::testing::FreePort();
  ScriptedPeer peer;
  std::unique_ptr<grpc::Server> server;

  Fixture() {
    const std::string certs = dir / "certs";
    REQUIRE(exo::testing::GenerateClusterCerts(certs, "n1 n2"));
    cluster.set_ca_file(certs + "/ca.pem");
    cluster.set_cert_file(certs + "/n2.pem");
    cluster.set_key_file(certs + "/n2.key");
    Serve();
  }
  ~Fixture() { Stop(); }
  void Serve() {
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), *exo::daemon::cluster::PeerServerCredentials(cluster), &bound);
    builder.RegisterService(&peer);
    server = builder.BuildAndStart();
    REQUIRE(bound == port);
  }
  void Stop() {
    if (server == nullptr) return;
    server->Shutdown(std::chrono::system_clock::now());
    server->Wait();
    server.reset();
  }
  std::unique_ptr<PeerStream> Stream(uint32_t timeout_ms) {
    PeerConfig p;
    p.set_node_id("n2");
    p.set_address("127.0.0.1:" + std::to_string(port));
    return std::make_unique<PeerStream>("n2", *exo::daemon::cluster::PeerChannel(cluster, p), timeout_ms);
  }
};

PeerCall Evaluate(uint32_t round) {
  PeerCall c;
  c.mutable_evaluate()->set_round(round);
  return c;
}

absl::StatusOr<PeerAnswer> Ask(PeerStream& s, uint32_t round) {
  s.Send(Evaluate(round));
  return s.Receive();
}

double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

TEST_CASE("calls on one stream are answered in order, and an answered error keeps the stream", "[cluster][stream]") {
  Fixture f;
  auto s = f.Stream(2000);
  for (uint32_t round = 1; round <= 20; ++round) {
    absl::StatusOr<PeerAnswer> a = Ask(*s, round);
    REQUIRE(a.ok());
    CHECK(a->evaluate().lo() == round);
  }
  absl::StatusOr<PeerAnswer> err = Ask(*s, 0);
  REQUIRE(err.ok());  // The peer answered: an error is an answer, not a broken stream.
  CHECK(err->error().code() == grpc::StatusCode::NOT_FOUND);
  CHECK(err->error().message() == "no session");
  REQUIRE(Ask(*s, 21).ok());
  CHECK(f.peer.streams == 1);  // All of it on one stream.
}

TEST_CASE("a stalled peer costs one deadline, and the next call gets through on a new stream", "[cluster][stream]") {
  Fixture f;
  auto s = f.Stream(300);
  REQUIRE(Ask(*s, 1).ok());
  f.peer.stall_ms = 1000;
  auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<PeerAnswer> late = Ask(*s, 2);
  CHECK(Ms(t0) < 900);
  REQUIRE(!late.ok());
  CHECK(late.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(late.status().message() == "node n2: no answer within 300 ms");
  f.peer.stall_ms = 0;
  absl::StatusOr<PeerAnswer> next = Ask(*s, 3);
  INFO(next.status());
  REQUIRE(next.ok());
  CHECK(next->evaluate().lo() == 3);
  CHECK(f.peer.streams == 2);
}

TEST_CASE("a peer that restarted between two calls is reached by the second call", "[cluster][stream]") {
  Fixture f;
  auto s = f.Stream(3000);
  REQUIRE(Ask(*s, 1).ok());
  f.Stop();
  f.Serve();
  absl::StatusOr<PeerAnswer> a = Ask(*s, 2);
  INFO(a.status());
  REQUIRE(a.ok());
  CHECK(a->evaluate().lo() == 2);
}

TEST_CASE("a peer that is down or refuses this node gives a status naming it", "[cluster][stream]") {
  Fixture f;
  SECTION("down") {
    f.Stop();
    auto s = f.Stream(2000);
    auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<PeerAnswer> a = Ask(*s, 1);
    CHECK(Ms(t0) < 1500);  // Fails fast: nothing listens.
    REQUIRE(!a.ok());
    CHECK(a.status().code() == absl::StatusCode::kUnavailable);
    CHECK(a.status().message().rfind("node n2: ", 0) == 0);
  }
  SECTION("refuses") {
    f.peer.refuse = true;
    auto s = f.Stream(2000);
    absl::StatusOr<PeerAnswer> a = Ask(*s, 1);
    REQUIRE(!a.ok());
    CHECK(a.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK(a.status().message() == "node n2: not a configured peer");
  }
}
