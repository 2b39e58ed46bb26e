// Development TLS certificates, generated with OpenSSL on first start when the config names no
// certificate files: a CA, a server certificate for localhost/127.0.0.1/::1 and a client
// certificate, all ECDSA P-256, valid 825 days, written under <dir> (keys mode 0600).
// Existing files are reused, so clients keep trusting the same CA across restarts.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace exo::daemon {

struct DevCertPaths {
  std::string ca_cert, server_cert, server_key, client_cert, client_key;
};

absl::StatusOr<DevCertPaths> EnsureDevCerts(const std::string& dir, const std::string& node_id);

}  // namespace exo::daemon
