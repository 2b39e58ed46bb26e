#include "clients/cpp/exoroute_client.h"

#include <fstream>

#include "absl/strings/str_cat.h"

namespace exo::client {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", what, " \"", path, "\""));
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

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
    return absl::UnavailableError(absl::StrCat(
        "cannot reach exorouted at ", o.endpoint, " within ", o.connect_timeout.count(),
        " ms (is it running? right --endpoint? ", o.insecure ? "plaintext" : "TLS with --ca " + o.ca_file,
        ")"));
  }
  return channel;
}

}  // namespace exo::client
