// Runs the real exorouted and exoroutectl binaries for integration tests: a daemon on a free
// loopback port (port 0, read back from <data_dir>/endpoint) with real TLS, and CLI invocations
// with their exit code and output. Waits are on conditions with deadlines, never bare sleeps.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "exoroute/v1/router.pb.h"
#include "grpcpp/grpcpp.h"
#include <string>
#include <vector>

namespace exo::testing {

// The embedded default config, with the data dir set, port 0 and fast simulated venues.
std::string TestConfigJson(const std::string& data_dir);
// The same with `members` (top-level JSON members, e.g. R"("log": {"format": "LOG_FORMAT_JSON"})")
// added.
std::string TestConfigJson(const std::string& data_dir, const std::string& members);

class DaemonProcess {
 public:
  // Starts `exorouted --config <data_dir>/config.json` and waits until it serves. On failure
  // returns null and puts the reason (with the daemon's log) in *error.
  // `env` ("NAME=value") is added to the environment it inherits (EXOROUTED_CRASH_AT:
  // daemon/crash_point.h).
  static std::unique_ptr<DaemonProcess> Start(const std::string& data_dir,
                                              const std::string& config_json, std::string* error,
                                              const std::vector<std::string>& env = {});
  ~DaemonProcess();

  const std::string& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }
  std::string ca_file() const { return data_dir_ + "/certs/ca.pem"; }
  std::string log() const;
  // What it printed on stdout so far.
  std::string output() const;
  // SIGTERM, then waits; returns the exit status (-1 if it did not exit in 30 s).
  int Terminate();
  // SIGKILL: a crash.
  void Kill9();
  // Waits for it to end by itself (a crash point); returns its exit status as Terminate does
  // (128 + the signal), -1 if it still runs after `limit`.
  int WaitForExit(std::chrono::seconds limit);
  // SIGSTOP / SIGCONT: a node that stalls (alive, connections open, answering nothing).
  void Pause();
  void Resume();

 private:
  pid_t pid_ = -1;
  std::string data_dir_, endpoint_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs a binary with arguments; captures stdout and stderr.
CommandResult Run(const std::string& binary, const std::vector<std::string>& args);

// A GTC parent order for BTC-USD (the test configs' instrument).
exoroute::v1::RouteRequest BtcOrder(const std::string& id, exoroute::v1::Side side, int64_t qty,
                                    exoroute::v1::RouteMode mode);

// A TLS channel to the daemon's client API, trusting its development CA.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelTo(const DaemonProcess& d);

// The admin HTTP port a daemon with data in `data_dir` bound (its admin_endpoint file; the test
// configs ask for port 0). Throws when the file does not name a loopback port.
int AdminPort(const std::string& data_dir);

// exoroutectl against a running daemon (adds --endpoint and --ca).
CommandResult Ctl(const DaemonProcess& d, std::vector<std::string> args);

// exoroutectl against a running daemon as client `client`: its certificate and key from
// `certs` (deploy/gen-certs.sh's layout: <certs>/<client>.pem, .key, ca.pem).
CommandResult CtlAs(const DaemonProcess& d, const std::string& certs, const std::string& client,
                    std::vector<std::string> args);

}  // namespace exo::testing
