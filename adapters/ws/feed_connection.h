// FeedConnection: a WebSocket market-data connection that stays up.
//
// One thread per connection: resolve, connect, TLS (wss://: the server certificate is verified
// against `ca_file`, or the system store when empty, and its host name checked), WebSocket
// handshake, an optional subscribe message, then every text frame goes to `on_frame`. Pings from
// the server are answered automatically and count as activity (a quiet book on a live connection
// is not a stall). A connection that errors, closes, or receives nothing — no data, no ping — for
// `stall_timeout_ms` (a watchdog thread checks) is reopened after a jittered exponential backoff,
// started over after a connection that was open `healthy_after_ms`.
// Callbacks run on the connection's thread. Start/Stop are thread-safe; Stop is idempotent and
// prompt.
//
// HttpGet: a blocking GET over http:// or https:// (for REST snapshots), same TLS rules.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"

namespace exo::adapters::ws {

struct Url {
  bool tls = false;
  std::string host, port, target;
};

// ws://, wss://, http://, https://; InvalidArgument naming what is wrong.
absl::StatusOr<Url> ParseUrl(std::string_view url);

absl::StatusOr<std::string> HttpGet(const std::string& url, const std::string& ca_file,
                                    int timeout_ms);

class FeedConnection {
 public:
  struct Options {
    std::string url;
    std::string subscribe;       // Sent once after each handshake; empty = nothing.
    std::string ca_file;         // wss:// trust anchor; empty = the system store.
    int stall_timeout_ms = 10000;
    int reconnect_min_ms = 100;
    int reconnect_max_ms = 5000;
    // A connection that stayed open this long after its handshake starts the backoff over: the
    // next reconnect waits reconnect_min_ms again, however many came before.
    int healthy_after_ms = 10000;
  };
  struct Callbacks {
    std::function<void()> on_open;                      // After the handshake.
    std::function<void(std::string_view)> on_frame;     // Each text frame.
    std::function<void(const absl::Status&)> on_close;  // Why the connection ended.
  };

  FeedConnection(Options options, Callbacks callbacks);
  ~FeedConnection();
  void Start();
  void Stop();
  // Drops the current connection; it is reopened after the backoff (e.g. to re-subscribe).
  void Reconnect();
  uint64_t connects() const { return connects_.load(); }

 private:
  void Run();
  absl::Status RunOnce();
  void SetSocket(int fd);
  // Drops a connection that has received nothing for stall_timeout_ms (Asio's blocking reads
  // retry EAGAIN internally, so a socket receive timeout cannot do this).
  void Watchdog();
  int64_t NowMs() const;

  Options options_;
  Callbacks callbacks_;
  std::thread thread_, watchdog_;
  std::atomic<int64_t> last_activity_ms_{0};
  std::atomic<bool> stalled_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int fd_ = -1;  // Guarded by mu_: the live socket, so Stop can shut it down.
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> connects_{0};
  std::atomic<int64_t> opened_ms_{0};  // When the current connection's handshake completed (0: not yet).
};

}  // namespace exo::adapters::ws
