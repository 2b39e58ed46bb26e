// The peer transport alone: a tiny unary call (PeerService.Hello) over mutual TLS on loopback,
// served by gRPC's synchronous server (a thread pool polling the completion queues) and by its
// callback server (the handler runs on gRPC's own event thread), one call at a time and two
// calls at once to two servers (a coordinator's fan-out to two peers); and the coordinator's
// own way, a call on an open Exchange stream (PeerStream). Figures: docs/BENCHMARKS.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "daemon/cluster/peer_service.h"
#include "daemon/cluster/peer_stream.h"
#include "exoroute/v1/config.pb.h"
#include "exoroute/v1/peer.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/cluster_certs.h"
#include "tests/testing/free_port.h"

using namespace exoroute::v1;  // NOLINT

namespace {

class SyncHello final : public PeerService::Service {
  grpc::Status Hello(grpc::ServerContext*, const HelloRequest*, HelloReply* reply) override {
    reply->set_node("sync");
    return grpc::Status::OK;
  }
  // Every call answered at once (an abort's empty reply): the stream's own cost.
  grpc::Status Exchange(grpc::ServerContext* ctx, grpc::ServerReaderWriter<PeerAnswer, PeerCall>* stream) override {
    PeerCall call;
    PeerAnswer answer;
    answer.mutable_abort();
    while (stream->Read(&call)) {
      if (!stream->Write(answer)) break;
    }
    return grpc::Status::OK;
  }
};

class CallbackHello final : public PeerService::CallbackService {
  grpc::ServerUnaryReactor* Hello(grpc::CallbackServerContext* ctx, const HelloRequest*,
                                  HelloReply* reply) override {
    reply->set_node("callback");
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  // The same stream as a reactor: each call answered on gRPC's own thread as it is read.
  class Echo final : public grpc::ServerBidiReactor<PeerCall, PeerAnswer> {
   public:
    Echo() {
      answer_.mutable_abort();
      StartRead(&call_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status::OK);
        return;
      }
      StartWrite(&answer_);
    }
    void OnWriteDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status::OK);
        return;
      }
      StartRead(&call_);
    }
    void OnDone() override { delete this; }

   private:
    PeerCall call_;
    PeerAnswer answer_;
  };
  grpc::ServerBidiReactor<PeerCall, PeerAnswer>* Exchange(grpc::CallbackServerContext*) override { return new Echo; }
};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double CallUs(PeerService::Stub& stub) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HelloReply reply;
  auto t0 = std::chrono::steady_clock::now();
  grpc::Status s = stub.Hello(&ctx, HelloRequest(), &reply);
  if (!s.ok()) {
    std::fprintf(stderr, "call failed: %s\n", s.error_message().c_str());
    std::exit(1);
  }
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

struct Servers {
  std::vector<std::unique_ptr<grpc::Server>> servers;
  std::vector<std::unique_ptr<PeerService::Stub>> stubs;
  std::vector<std::shared_ptr<grpc::Channel>> channels;  // Only for servers that stream.
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <typename Service>
Servers Start(const ClusterConfig& cluster, Service* service, int count, bool lean = false) {
  Servers out;
  for (int i = 0; i < count; ++i) {
    grpc::ServerBuilder builder;
    if (lean) builder.AddChannelArgument(GRPC_ARG_MINIMAL_STACK, 1);
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", *exo::daemon::cluster::PeerServerCredentials(cluster), &port);
    builder.RegisterService(service);
    out.servers.push_back(builder.BuildAndStart());
    PeerConfig peer;
    peer.set_node_id("n2");
    peer.set_address("127.0.0.1:" + std::to_string(port));
    if (!lean) {
      std::shared_ptr<grpc::Channel> channel = *exo::daemon::cluster::PeerChannel(cluster, peer);
      out.stubs.push_back(PeerService::NewStub(channel));
      out.channels.push_back(channel);
      continue;
    }
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = Slurp(cluster.ca_file());
    opts.pem_cert_chain = Slurp(cluster.cert_file());
    opts.pem_private_key = Slurp(cluster.key_file());
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("n2");
    args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    out.stubs.push_back(PeerService::NewStub(grpc::CreateCustomChannel(peer.address(), grpc::SslCredentials(opts), args)));
  }
  return out;
}

void Measure(const char* name, Servers& s) {
  constexpr int kWarm = 200, kCalls = 3000;
  std::vector<double> one, two;
  for (int i = 0; i < kWarm + kCalls; ++i) {
    double us = CallUs(*s.stubs[0]);
    if (i >= kWarm) one.push_back(us);
  }
  // Two calls at once, one to each server, from two caller threads (as a round's fan-out).
  for (int i = 0; i < kWarm + kCalls; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    std::thread other([&] { CallUs(*s.stubs[1]); });
    CallUs(*s.stubs[0]);
    other.join();
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    if (i >= kWarm) two.push_back(us);
  }
  // Two at once from this one thread: both started on a completion queue, then both awaited.
  std::vector<double> two_async;
  grpc::CompletionQueue cq;
  for (int i = 0; i < kWarm + kCalls; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    grpc::ClientContext ctx[2];
    HelloReply reply[2];
    grpc::Status status[2];
    std::unique_ptr<grpc::ClientAsyncResponseReader<HelloReply>> call[2];
    for (int k = 0; k < 2; ++k) {
      ctx[k].set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      call[k] = s.stubs[k]->AsyncHello(&ctx[k], HelloRequest(), &cq);
      call[k]->Finish(&reply[k], &status[k], reinterpret_cast<void*>(static_cast<intptr_t>(k + 1)));
    }
    for (int k = 0; k < 2; ++k) {
      void* tag = nullptr;
      bool ok = false;
      if (!cq.Next(&tag, &ok) || !ok) std::exit(1);
    }
    if (!status[0].ok() || !status[1].ok()) std::exit(1);
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    if (i >= kWarm) two_async.push_back(us);
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  // The same through PeerStream (the coordinator's way): one Exchange stream per server, calls
  // sent to both before either answer is awaited, from this one thread.
  std::vector<double> stream_one, stream_two;
  if (s.channels.size() == 2) {
    exo::daemon::cluster::PeerStream a("a", s.channels[0], 5000), b("b", s.channels[1], 5000);
    PeerCall call;
    call.mutable_abort()->set_route_id("bench");
    for (int i = 0; i < kWarm + kCalls; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      a.Send(call);
      if (!a.Receive().ok()) std::exit(1);
      double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      if (i >= kWarm) stream_one.push_back(us);
    }
    for (int i = 0; i < kWarm + kCalls; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      a.Send(call);
      b.Send(call);
      if (!a.Receive().ok() || !b.Receive().ok()) std::exit(1);
      double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      if (i >= kWarm) stream_two.push_back(us);
    }
    std::printf("%-9s Exchange stream: one call p50 %5.0f us p99 %5.0f us | two at once p50 %5.0f us p99 %5.0f us\n",
                name, Percentile(stream_one, 0.5), Percentile(stream_one, 0.99), Percentile(stream_two, 0.5),
                Percentile(stream_two, 0.99));
  }
  std::printf("%-9s one call p50 %5.0f us p99 %5.0f us | two at once, two threads p50 %5.0f us p99 %5.0f us | "
              "two at once, one thread (async) p50 %5.0f us p99 %5.0f us\n",
              name, Percentile(one, 0.5), Percentile(one, 0.99), Percentile(two, 0.5), Percentile(two, 0.99),
              Percentile(two_async, 0.5), Percentile(two_async, 0.99));
}

}  // namespace

int main() {
  const std::string root = (std::filesystem::temp_directory_path() / "exo-transport-bench").string();
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  const std::string certs = root + "/certs";
  if (!exo::testing::GenerateClusterCerts(certs, "n1 n2")) {
    std::fprintf(stderr, "gen-certs.sh failed\n");
    return 1;
  }
  // Server and client present the n2 certificate (only the CA matters to these servers).
  ClusterConfig cluster;
  cluster.set_ca_file(certs + "/ca.pem");
  cluster.set_cert_file(certs + "/n2.pem");
  cluster.set_key_file(certs + "/n2.key");
  std::printf("PeerService.Hello over mutual TLS, loopback, 3000 calls after 200 warm-up\n");
  for (int rep = 0; rep < 2; ++rep) {
    {
      SyncHello service;
      Servers s = Start(cluster, &service, 2);
      Measure("sync", s);
      for (auto& srv : s.servers) srv->Shutdown();
    }
    {
      CallbackHello service;
      Servers s = Start(cluster, &service, 2);
      Measure("callback", s);
      for (auto& srv : s.servers) srv->Shutdown();
    }
    {
      SyncHello service;
      Servers s = Start(cluster, &service, 2, /*lean=*/true);
      Measure("sync lean", s);
      for (auto& srv : s.servers) srv->Shutdown();
    }
  }
  return 0;
}
