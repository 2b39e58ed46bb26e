// FollowAgain: how a follower (replay --follow, audit verify --follow, watch) waits for a node
// that went away, and what it reports when the node stays away. A real gRPC server on loopback
// stands for the node (the last test's answers as a node's shutdown gives them).
#include "clients/exoroutectl/context.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <grpcpp/grpcpp.h>
#include <initializer_list>
#include <iostream>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/exoroutectl/command_specs.h"
#include "clients/exoroutectl/commands.h"
#include "exo/sha256.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "store/delta_codec.h"
#include "store/delta_store.h"

namespace {

// A server on loopback (plaintext) serving `services`: a scripted node. Its port into `*port`.
std::unique_ptr<grpc::Server> Serve(std::initializer_list<grpc::Service*> services, int* port) {
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  for (grpc::Service* s : services) b.RegisterService(s);
  return b.BuildAndStart();
}

struct Node {
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve({}, &port);
  void Stop() {
    server->Shutdown();
    server->Wait();
  }
};

exo::ctl::Context Following(const Node& node, absl::Duration patience) {
  exo::ctl::Context c;
  c.reconnect_for = patience;
  c.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", node.port), grpc::InsecureChannelCredentials());
  return c;
}

// What a scripted node's Status answers: one instrument, BTC-USD, two decimals each.
void OneInstrument(exoroute::v1::StatusResponse* out) {
  exoroute::v1::Instrument& i = *out->add_instruments();
  i.set_symbol("BTC-USD");
  i.set_qty_scale(2);
  i.set_price_scale(2);
}

}  // namespace

TEST_CASE("a follower that gives up on a node that stays away reports where the node said to follow again from") {
  Node node;
  exo::ctl::Context c = Following(node, absl::Milliseconds(1500));
  exo::ctl::FollowAgain again(c, "checking the chain");
  const absl::Status went = absl::UnavailableError("exorouted is shutting down; follow again from sequence 17");
  absl::Status ended = went;
  // The node answers again: follow again, the status as it was.
  REQUIRE(again.After(&ended));
  CHECK(ended == went);
  // The stream opened again is cut by the node's shutdown (CANCELLED), and the node stays away:
  // the follower gives up naming where to follow again from, not the bare CANCELLED.
  node.Stop();
  ended = absl::CancelledError("CANCELLED");
  CHECK_FALSE(again.After(&ended));
  CHECK(ended == went);
}

TEST_CASE("a follower reports the last status as it is when the node never said where to follow again from or when "
          "the stream ended for another reason") {
  Node node;
  exo::ctl::Context c = Following(node, absl::Milliseconds(300));
  node.Stop();
  exo::ctl::FollowAgain again(c, "following the chain");
  absl::Status ended = absl::CancelledError("CANCELLED");
  CHECK_FALSE(again.After(&ended));
  CHECK(ended == absl::CancelledError("CANCELLED"));
  // Not the node going away: no wait, reported as it is.
  absl::Status lost = absl::DataLossError("delta 9 is not the one read before the node went away");
  CHECK_FALSE(again.After(&lost));
  CHECK(lost == absl::DataLossError("delta 9 is not the one read before the node went away"));
}

namespace {

// A node that goes away twice: its follow stream sends delta 1 and ends as a shutting-down node
// ends it (UNAVAILABLE, naming where to follow again from); when the follower, seeing the node
// answer again, checks that it still has the chain it followed, the node's shutdown cuts that call
// (CANCELLED), and the node stops for good.
class GoingAwayNode final : public exoroute::v1::AuditService::Service {
 public:
  static constexpr const char* kGoing = "exorouted is shutting down; follow again from sequence 2";
  grpc::Status Replay(grpc::ServerContext*, const exoroute::v1::ReplayRequest* req,
                      grpc::ServerWriter<exoroute::v1::ReplayResponse>* out) override {
    if (req->range().from_sequence() <= 1) {  // Delta 1, linked as a node links it.
      exoroute::v1::ReplayResponse m;
      exoroute::v1::PlanDelta& d = *m.mutable_delta();
      d.set_sequence(1);
      d.set_plan_id("p-1");
      d.set_plan_version(1);
      d.set_event_time_ns(1000);
      d.mutable_fill()->set_cl_ord_id("p-1.1");
      d.mutable_fill()->set_venue("V");
      d.mutable_fill()->set_quantity(1);
      d.mutable_fill()->set_price(100);
      m.set_canonical(exo::store::EncodeCanonical(d));
      d.set_prev_hash(exo::store::GenesisHash());
      d.set_hash(exo::DigestToString(exo::Sha256Of(d.prev_hash() + m.canonical())));
      m.set_head_sequence(1);
      out->Write(m);
    }
    return {grpc::StatusCode::UNAVAILABLE, kGoing};
  }
  grpc::Status GetChainHead(grpc::ServerContext*, const exoroute::v1::GetChainHeadRequest*,
                            exoroute::v1::GetChainHeadResponse*) override {
    checks.fetch_add(1);
    return grpc::Status::CANCELLED;
  }
  std::atomic<int> checks{0};
};

// What a command returned and printed.
struct Ran {
  int code = 0;
  std::string out, err;
};

// Points file descriptor `fd` at a temporary file until Take() gives back what was written to it.
class Captured {
 public:
  explicit Captured(int fd) : fd_(fd), file_(std::tmpfile()), saved_(dup(fd)) {
    REQUIRE(file_ != nullptr);
    dup2(fileno(file_), fd_);
  }
  std::string Take() {
    dup2(saved_, fd_);
    close(saved_);
    std::string text;
    std::rewind(file_);
    for (int ch; (ch = std::fgetc(file_)) != EOF;) text.push_back(static_cast<char>(ch));
    std::fclose(file_);
    return text;
  }

 private:
  int fd_;
  std::FILE* file_;
  int saved_;
};

// What `command` (exoroutectl's words and flags) returned and printed, run against the node on
// `port` with `patience` to wait for it.
Ran RunCtl(int (*command)(exo::ctl::Context&), std::vector<std::string> words, int port, absl::Duration patience) {
  words.insert(words.begin(), "exoroutectl");
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  absl::StatusOr<exo::ctl::Args> args = exo::ctl::Args::Parse(static_cast<int>(argv.size()), argv.data(),
                                                              exo::ctl::ValueFlags(), exo::ctl::BooleanFlags());
  REQUIRE(args.ok());
  exo::ctl::Context c;
  c.args = *args;
  c.json = c.args.Has("json");
  c.reconnect_for = patience;
  c.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  // stdout and stderr into files for the command's run.
  std::cout.flush();
  std::fflush(nullptr);
  Captured out(1), err(2);
  Ran ran;
  ran.code = command(c);
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ran.err = err.Take();
  ran.out = out.Take();
  return ran;
}

}  // namespace

TEST_CASE("a follower whose check of the chain is cut by the node's shutdown waits on and reports where to follow "
          "again from") {
  for (const bool verify : {false, true}) {
    INFO((verify ? "audit verify --follow" : "replay --follow"));
    GoingAwayNode node;
    int port = 0;
    std::unique_ptr<grpc::Server> server = Serve({&node}, &port);
    // The node stops for good once its shutdown has cut the follower's check (or after 10 s
    // without one: the CHECK below then says so, instead of the test hanging).
    std::thread stopper([&] {
      for (int i = 0; i < 2000 && node.checks.load() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      server->Shutdown();
    });
    const auto [code, out, err] =
        verify ? RunCtl(exo::ctl::CmdAudit, {"audit", "verify", "--follow"}, port, absl::Milliseconds(1500))
               : RunCtl(exo::ctl::CmdReplay, {"replay", "--follow"}, port, absl::Milliseconds(1500));
    stopper.join();
    INFO(err);
    CHECK(node.checks.load() >= 1);
    CHECK(code == 1);
    // Said once that the node went away; never that it was back (it was not); and at the end what
    // the node said as it went, not the bare CANCELLED of the cut check.
    CHECK(err.find("exoroutectl: the node went away (exorouted is shutting down; follow again from sequence 2)") == 0);
    CHECK(std::count(err.begin(), err.end(), '\n') == 2);
    CHECK(err.find("CANCELLED") == std::string::npos);
    CHECK(absl::EndsWith(err, absl::StrCat("exoroutectl: UNAVAILABLE: ", GoingAwayNode::kGoing, "\n")));
  }
}

namespace {

// A node that takes a watch and shuts down before its first answer: the first WatchRoute and the
// first WatchPlan end as its shutdown's deadline cuts them (CANCELLED, no message, nothing sent);
// once back, it answers with the route settled, and with the plan's last delta.
class CutBeforeAnsweringNode final : public exoroute::v1::RouterService::Service {
 public:
  grpc::Status WatchRoute(grpc::ServerContext*, const exoroute::v1::WatchRouteRequest* req,
                          grpc::ServerWriter<exoroute::v1::GetRouteResponse>* out) override {
    if (route_watches.fetch_add(1) == 0) return grpc::Status::CANCELLED;
    exoroute::v1::GetRouteResponse r;
    r.set_symbol("BTC-USD");
    r.set_settled(true);
    r.set_order_quantity(3);
    r.set_shortfall(3);
    r.mutable_nodes()->Add()->set_node(req->route_id() + "-node");
    out->Write(r);
    return grpc::Status::OK;
  }
  grpc::Status WatchPlan(grpc::ServerContext*, const exoroute::v1::WatchPlanRequest* req,
                         grpc::ServerWriter<exoroute::v1::WatchPlanResponse>* out) override {
    if (plan_watches.fetch_add(1) == 0) return grpc::Status::CANCELLED;
    from_version = req->from_version();
    exoroute::v1::WatchPlanResponse m;
    m.mutable_delta()->set_plan_id(req->plan_id());
    m.mutable_delta()->set_plan_version(1);
    m.mutable_delta()->set_sequence(41);
    out->Write(m);
    return grpc::Status::OK;
  }
  std::atomic<int> route_watches{0}, plan_watches{0};
  std::atomic<uint32_t> from_version{0};
};

}  // namespace

TEST_CASE("route-status --follow and watch ride out a node that went away before its first answer") {
  CutBeforeAnsweringNode node;
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve({&node}, &port);
  {
    const Ran ran = RunCtl(exo::ctl::CmdRouteStatus, {"route-status", "r1", "--follow", "--json"}, port,
                           absl::Seconds(10));
    INFO(ran.out << ran.err);
    CHECK(ran.code == 0);
    CHECK(node.route_watches.load() == 2);
    CHECK(ran.err == "exoroutectl: the node went away (CANCELLED); following r1 again as soon as it answers, for up "
                     "to 10s\nexoroutectl: following r1 again\n");
    // The settled answer it came back with, printed once, as JSON.
    CHECK(ran.out ==
          "{\"nodes\":[{\"node\":\"r1-node\"}],\"settled\":true,\"symbol\":\"BTC-USD\",\"order_quantity\":\"3\","
          "\"shortfall\":\"3\"}\n");
  }
  {
    const Ran ran = RunCtl(exo::ctl::CmdWatch, {"watch", "p1", "--json"}, port, absl::Seconds(10));
    INFO(ran.out << ran.err);
    CHECK(ran.code == 0);
    CHECK(node.plan_watches.load() == 2);
    CHECK(node.from_version.load() == 1);  // Nothing came before: watched again from the first delta.
    CHECK(ran.err == "exoroutectl: the node went away (CANCELLED); watching p1 again as soon as it answers, for up "
                     "to 10s\nexoroutectl: watching p1 again\n");
    CHECK(ran.out == "{\"sequence\":\"41\",\"plan_id\":\"p1\",\"plan_version\":1}\n");
  }
  server->Shutdown();
}

namespace {

// A node that goes away just after its first answer to route-status --follow: from then until it
// is watched again (back), its Status fails as a node that is gone. Once back it answers the
// route settled.
class GoneAfterFirstAnswerNode final : public exoroute::v1::RouterService::Service,
                                       public exoroute::v1::AdminService::Service {
 public:
  grpc::Status WatchRoute(grpc::ServerContext*, const exoroute::v1::WatchRouteRequest*,
                          grpc::ServerWriter<exoroute::v1::GetRouteResponse>* out) override {
    exoroute::v1::GetRouteResponse r;
    r.set_symbol("BTC-USD");
    r.set_order_quantity(300);
    r.set_quantity(300);
    if (route_watches.fetch_add(1) == 0) {
      gone = true;  // (Before the answer: the client reads it gone.)
      r.set_filled_quantity(100);
      out->Write(r);
      return grpc::Status::CANCELLED;
    }
    gone = false;
    r.set_filled_quantity(300);
    r.set_settled(true);
    out->Write(r);
    return grpc::Status::OK;
  }
  grpc::Status Status(grpc::ServerContext*, const exoroute::v1::StatusRequest*,
                      exoroute::v1::StatusResponse* out) override {
    if (gone) return {grpc::StatusCode::UNAVAILABLE, "exorouted is shutting down"};
    OneInstrument(out);
    return grpc::Status::OK;
  }
  std::atomic<int> route_watches{0};
  std::atomic<bool> gone{false};
};

}  // namespace

TEST_CASE("route-status --follow asks for the instrument before it follows so a node gone after its first answer "
          "ends nothing") {
  GoneAfterFirstAnswerNode node;
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve(
      {static_cast<exoroute::v1::RouterService::Service*>(&node), static_cast<exoroute::v1::AdminService::Service*>(&node)},
      &port);
  const Ran ran = RunCtl(exo::ctl::CmdRouteStatus, {"route-status", "r1", "--follow"}, port, absl::Seconds(10));
  server->Shutdown();
  INFO(ran.out << ran.err);
  CHECK(ran.code == 0);
  CHECK(node.route_watches.load() == 2);
  CHECK(ran.err.find("exoroutectl: the node went away (CANCELLED); following r1 again") == 0);
  // Each answer's line, with the instrument's scales, then the settled route's table.
  CHECK(ran.out.find("  route     in progress, filled 1.00 of 3.00\n") != std::string::npos);
  CHECK(ran.out.find("  route     settled, filled 3.00 of 3.00\n") != std::string::npos);
  CHECK(ran.out.find("\nroute     settled, filled 3.00 of 3.00\n") != std::string::npos);
}

namespace {

// A node that settles a route at once and goes away just after: its first GetPlan (the plan as
// it settled, asked once the watch ended) finds it gone.
class GoneAfterSettlingNode final : public exoroute::v1::RouterService::Service,
                                    public exoroute::v1::AdminService::Service {
 public:
  grpc::Status Status(grpc::ServerContext*, const exoroute::v1::StatusRequest*,
                      exoroute::v1::StatusResponse* out) override {
    OneInstrument(out);
    return grpc::Status::OK;
  }
  grpc::Status Route(grpc::ServerContext*, const exoroute::v1::RouteRequest* req,
                     exoroute::v1::RouteResponse* out) override {
    out->mutable_plan()->set_plan_id(req->order().id());
    return grpc::Status::OK;
  }
  grpc::Status WatchPlan(grpc::ServerContext*, const exoroute::v1::WatchPlanRequest* req,
                         grpc::ServerWriter<exoroute::v1::WatchPlanResponse>* out) override {
    exoroute::v1::WatchPlanResponse m;
    m.mutable_delta()->set_plan_id(req->plan_id());
    m.mutable_delta()->set_plan_version(1);
    out->Write(m);
    return grpc::Status::OK;
  }
  grpc::Status GetPlan(grpc::ServerContext*, const exoroute::v1::GetPlanRequest* req,
                       exoroute::v1::GetPlanResponse* out) override {
    if (plans_asked.fetch_add(1) == 0) return {grpc::StatusCode::UNAVAILABLE, "exorouted is shutting down"};
    out->mutable_plan()->set_plan_id(req->plan_id());
    out->mutable_plan()->set_status(exoroute::v1::PLAN_STATUS_COMPLETED);
    return grpc::Status::OK;
  }
  std::atomic<int> plans_asked{0};
};

}  // namespace

TEST_CASE("route --execute --wait asks again for the settled plan when the node went away just after it settled") {
  GoneAfterSettlingNode node;
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve(
      {static_cast<exoroute::v1::RouterService::Service*>(&node), static_cast<exoroute::v1::AdminService::Service*>(&node)},
      &port);
  const Ran ran = RunCtl(exo::ctl::CmdRoute,
                         {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--id", "p1", "--execute",
                          "--wait", "--json"},
                         port, absl::Seconds(10));
  server->Shutdown();
  INFO(ran.out << ran.err);
  CHECK(ran.code == 0);
  CHECK(node.plans_asked.load() == 2);
  CHECK(ran.err == "exoroutectl: the node went away (exorouted is shutting down); asking for p1 again as soon as it "
                   "answers, for up to 10s\n");
  CHECK(ran.out == "{\"plan_id\":\"p1\",\"status\":\"PLAN_STATUS_COMPLETED\"}\n");
}
