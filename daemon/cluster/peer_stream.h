// PeerStream: a coordinator's calls to one peer over one long-lived PeerService.Exchange
// stream (mutual TLS), one call at a time, each with its own deadline. Send returns at once, so
// a coordinator sends a round's calls to every peer from one thread and then collects the
// answers (not thread-safe: one caller at a time).
//
// A call on an open stream is one message each way: no new HTTP/2 stream, headers or deadline
// per call, which is most of what a unary call costs on loopback (docs/BENCHMARKS.md). The
// stream is opened on the first call and again after it breaks: a call that misses its deadline
// cancels the stream (the next call opens a new one), and a stream found broken by a call (the
// peer restarted since the last one) is replaced once within the same call's deadline.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "exoroute/v1/peer.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace exo::daemon::cluster {

class PeerStream {
 public:
  PeerStream(std::string node_id, std::shared_ptr<grpc::Channel> channel, uint32_t timeout_ms);
  ~PeerStream();
  PeerStream(const PeerStream&) = delete;
  PeerStream& operator=(const PeerStream&) = delete;

  // Sends `call` (opening the stream first if none is open); its deadline starts now.
  void Send(exoroute::v1::PeerCall call);
  // The peer's answer to the call sent last (its reply, or the error it answered), or why there
  // is none: DEADLINE_EXCEEDED after timeout_ms, the stream's own failure otherwise (UNAVAILABLE
  // when the peer is down, PERMISSION_DENIED when it refuses this node), naming the node.
  absl::StatusOr<exoroute::v1::PeerAnswer> Receive();

 private:
  struct Open;
  void Start();
  // Ends the open stream: cancelled first when `cancel`, else the peer's status is awaited
  // (until `deadline`). Returns the stream's final status.
  grpc::Status Close(bool cancel, std::chrono::system_clock::time_point deadline);

  const std::string node_id_;
  const std::unique_ptr<exoroute::v1::PeerService::Stub> stub_;
  const uint32_t timeout_ms_;
  std::unique_ptr<Open> open_;  // The stream, when one is open.
  // The call in flight (kept to send again on a new stream) and its deadline.
  exoroute::v1::PeerCall call_;
  std::chrono::system_clock::time_point deadline_;
  bool fresh_ = false;  // It went out on a stream opened for it.
};

}  // namespace exo::daemon::cluster
