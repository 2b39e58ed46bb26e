// Daemon: wires config, store, venues, engine and the gRPC server into one running node, and
// takes it down gracefully. This is the only place that knows every module.
//
// Start order: data directory → store (refuses a foreign or broken database) → venues → engine
// recovery → TLS credentials (dev certificates when none are configured) → gRPC server →
// <data_dir>/endpoint. Shutdown: refuse new routes, let routes and cancels in progress finish
// (up to 5 s), stop the server, stop venues and engine threads, close the store (WAL synced).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "exo/clock.h"
#include "exoroute/v1/admin.pb.h"
#include "exoroute/v1/config.pb.h"

namespace exo::daemon {

// The certificate files the config names (tls.*, cluster.*) checked as a start would check them
// (`exorouted --check-config`): the first set that could not be served, naming the file.
absl::Status CheckCertificateFiles(const exoroute::v1::DaemonConfig& config);
// The config's data_dir usable as a start would use it: a directory this process may write in,
// or one it can create (its nearest existing ancestor a writable directory). FailedPrecondition
// naming the path in the way (a file, a directory not writable) otherwise, or PermissionDenied.
absl::Status CheckDataDir(const exoroute::v1::DaemonConfig& config);

class Daemon {
 public:
  // `config_path`: the file `config` was read from, read again by a reload ("" = the embedded
  // default, which cannot be reloaded).
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(const exoroute::v1::DaemonConfig& config,
                                                       Clock* clock, const std::string& config_path = "");
  ~Daemon();

  // host:port clients should dial (the bound port when the config asked for port 0).
  const std::string& endpoint() const;
  // The CA certificate clients should trust ("" with plaintext).
  const std::string& ca_file() const;
  bool plaintext() const;
  // Reads the config file again and applies it, as AdminService.ReloadConfig does (exorouted
  // calls it on SIGHUP, and the chain says so): what changed, or why nothing was applied.
  // Logged either way.
  absl::StatusOr<exoroute::v1::ReloadConfigResponse> ReloadConfig();
  // Graceful stop; idempotent.
  void Shutdown();

 private:
  struct Impl;
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace exo::daemon
