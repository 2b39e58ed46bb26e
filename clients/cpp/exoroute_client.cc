#include "clients/cpp/exoroute_client.h"

#include <cstdlib>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "exo/read_file.h"
#include "grpc/support/log.h"

namespace exo::client {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  absl::StatusOr<std::string> pem = ReadWholeFile(path);
  if (!pem.ok()) return absl::Status(pem.status().code(), absl::StrCat("cannot read ", what, " ", pem.status().message()));
  return pem;
}

std::mutex& GrpcErrorMu() {
  static auto* mu = new std::mutex();
  return *mu;
}
std::string& GrpcError() {  // Guarded by GrpcErrorMu(); never destroyed (gRPC's threads log at exit).
  static auto* last = new std::string();
  return *last;
}

void KeepGrpcError(gpr_log_func_args* args) {
  if (args->severity != GPR_LOG_SEVERITY_ERROR || args->message == nullptr) return;
  std::lock_guard<std::mutex> lock(GrpcErrorMu());
  GrpcError() = args->message;
}

}  // namespace

void KeepGrpcErrors() {
  if (std::getenv("GRPC_VERBOSITY") != nullptr) return;  // Asked for: printed as gRPC prints them.
  gpr_set_log_function(KeepGrpcError);
}

std::string LastGrpcError() {
  std::lock_guard<std::mutex> lock(GrpcErrorMu());
  return GrpcError();
}

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectOptions& o) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    if (o.ca_file.empty()) {
      return absl::InvalidArgumentError("a CA certificate is required for TLS (--ca FILE), or --insecure");
    }
    grpc::SslCredentialsOptions ssl;
    auto ca = ReadPem(o.ca_file, "CA certificate");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    if (!o.cert_file.empty() || !o.key_file.empty()) {
      auto cert = ReadPem(o.cert_file, "client certificate");
      if (!cert.ok()) return cert.status();
      auto key = ReadPem(o.key_file, "client key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(ssl);
  }
  // A node that went away (a restart) is reached again within a second of its return, not after
  // gRPC's default backoff (up to two minutes): a watch holding a dead man's switch must come back
  // within its grace. (Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: it is also each connection
  // attempt's timeout, and a short one cuts TLS handshakes off on a busy machine.)
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto channel = grpc::CreateCustomChannel(o.endpoint, creds, args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + o.connect_timeout)) {
    const std::string transport = LastGrpcError();
    return absl::UnavailableError(absl::StrCat(
        "cannot reach exorouted at ", o.endpoint, " within ", o.connect_timeout.count(),
        " ms (is it running? right --endpoint? ", o.insecure ? "plaintext" : "TLS with --ca " + o.ca_file,
        ")", transport.empty() ? "" : "; last transport error: ", transport,
        absl::StrContains(transport, "certificate verify failed")
            ? " (is --ca the CA that signed the node's certificate? exorouted's dev CA is <data_dir>/certs/ca.pem)"
            : ""));
  }
  return channel;
}

}  // namespace exo::client
