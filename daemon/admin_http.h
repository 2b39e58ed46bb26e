// The admin HTTP port: GET /metrics and GET /healthz for monitoring (docs/configuration.md).
// Read-only and plain HTTP/1.1 (keep-alive), served by one thread of its own; nothing else is
// answered (404, or 405 for another method). Beast stays inside admin_http.cc.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace exo::daemon {

class AdminHttpServer {
 public:
  // Connections served at once; one more is answered 503 (too many connections) and closed, so
  // that idle clients cannot hold the file descriptors the store and the gRPC port need. With
  // twice as many open (refused ones awaiting their answer) a new one is closed unanswered.
  static constexpr int kMaxConnections = 64;
  struct Handlers {
    std::function<std::string()> metrics;   // The /metrics body (Prometheus text format).
    std::function<absl::Status()> health;   // OK: /healthz answers 200, else 503 with the message.
  };
  // Listens on `listen` (host:port; port 0 picks one). UNAVAILABLE naming admin.listen if it
  // cannot.
  static absl::StatusOr<std::unique_ptr<AdminHttpServer>> Start(const std::string& listen, Handlers handlers);
  ~AdminHttpServer();  // Stops.
  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  int port() const;
  // Closes the listener and every connection, joins the thread; idempotent.
  void Stop();

 private:
  struct Impl;
  explicit AdminHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace exo::daemon
