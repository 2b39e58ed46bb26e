// FollowAgain: how a follower (replay --follow, audit verify --follow, watch) waits for a node
// that went away, and what it reports when the node stays away. A real gRPC server on loopback
// stands for the node.
#include "clients/exoroutectl/context.h"

#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"

namespace {

struct Node {
  int port = 0;
  std::unique_ptr<grpc::Server> server;
  Node() {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    server = b.BuildAndStart();
  }
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
