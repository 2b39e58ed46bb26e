// exoroute C++ client library: how to reach an exorouted node.
//
// Builds a gRPC channel with TLS (the node's CA; a client certificate when the node requires
// mutual TLS) or plaintext when asked, and waits for it to connect so that an unreachable node
// is a clear error up front instead of a deadline later. Stubs for RouterService, AuditService
// and AdminService are made from the channel in the usual way. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace exo::client {

struct ConnectOptions {
  std::string endpoint = "127.0.0.1:50551";
  std::string ca_file;    // PEM; required unless insecure.
  std::string cert_file;  // Client certificate (mutual TLS), optional.
  std::string key_file;
  bool insecure = false;  // Plaintext.
  std::chrono::milliseconds connect_timeout{5000};
};

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectOptions& options);

// Converts a failed RPC to absl::Status (codes are numerically identical).
absl::Status FromGrpc(const grpc::Status& s);

// For a command-line tool: gRPC's own error lines (a failed TLS handshake, once per connection
// attempt) are kept instead of printed, and Connect's error when it cannot reach the node ends
// with the last of them ("… certificate verify failed"). Not when GRPC_VERBOSITY asks for
// gRPC's lines. Call once, before any channel is made.
void KeepGrpcErrors();
// The last error line kept (empty when none).
std::string LastGrpcError();

}  // namespace exo::client
