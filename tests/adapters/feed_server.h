// A local exchange for feed tests: one loopback port (127.0.0.1:0) that answers plain HTTP GETs
// (REST snapshots) and WebSocket connections (a scripted stream of frames), over plain TCP or
// TLS. Started and stopped by the test; all I/O is on its own threads.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace exo::testing {

class FeedServer {
 public:
  struct Script {
    std::vector<std::string> frames;  // Sent in order after the handshake.
    int frame_interval_ms = 0;
    bool read_subscribe = false;      // Read (and record) one client message first.
    bool close_after = false;         // Close after the last frame; else stay open, silent...
    int ping_interval_ms = 0;         // ...or, when > 0, pinging at this interval (no data).
  };
  struct Options {
    std::map<std::string, std::string> http;    // GET target -> 200 body.
    // When set, answers every GET instead: (HTTP status, body) for the target and the GET's
    // place among all this server's GETs (0-based).
    std::function<std::pair<int, std::string>(const std::string& target, int request)> http_answer;
    std::function<Script(int connection)> script;  // For the n-th WebSocket connection (0-based).
    std::string cert_file, key_file;            // Both set: TLS.
  };

  explicit FeedServer(Options options);
  ~FeedServer();

  int port() const { return port_; }
  int websocket_connections() const { return ws_connections_.load(); }
  int http_requests() const { return http_requests_.load(); }
  std::vector<std::string> subscriptions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<int> ws_connections_{0}, http_requests_{0};
};

}  // namespace exo::testing
