// exorouted: the exoroute smart order router daemon. See README.md and docs/configuration.md.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "daemon/config.h"
#include "daemon/exorouted.h"
#include "exo/clock.h"
#include "exo/log.h"
#include "exo/openssl_exit.h"
#include "grpc/support/log.h"

namespace {

constexpr char kUsage[] =
    "usage: exorouted [--config FILE] [--check-config] [--print-default-config] [--version]\n"
    "  --config FILE            JSON config (docs/configuration.md); default: embedded\n"
    "                           (three simulated venues, ./exoroute-data, dev TLS certs);\n"
    "                           SIGHUP reads it again (risk limits, bands, venue terms)\n"
    "  --check-config           validate the config and exit (0 = valid)\n"
    "  --print-default-config   print the embedded default config and exit\n"
    "exit status: 0 stopped by SIGTERM/SIGINT, 2 a bad config or data directory, 3 a damaged\n"
    "database (restore it from a backup), 1 any other failure to start\n";

// `s` as one shell word.
std::string ShellWord(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789_./:@%+=,-") == std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// exoroutectl as a user in this directory would type it: next to this exorouted (installed
// side by side), or in the build tree (build/daemon/exorouted -> build/clients/exoroutectl/),
// relative when it is under the working directory; else the one on PATH.
std::string CtlPath() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "exoroutectl";
  const fs::path dir = self.parent_path();
  for (const fs::path& p : {dir / "exoroutectl", dir.parent_path() / "clients" / "exoroutectl" / "exoroutectl"}) {
    if (!fs::exists(p, ec)) continue;
    const fs::path cwd = fs::current_path(ec);
    const fs::path rel = ec ? fs::path() : p.lexically_normal().lexically_relative(cwd);
    if (!rel.empty() && *rel.begin() != "..") return "./" + rel.string();
    return p.lexically_normal().string();
  }
  return "exoroutectl";
}

// gRPC's log messages (those its verbosity lets through: errors by default, GRPC_VERBOSITY) as
// exorouted's own lines, "grpc: <file>:<line>: <message>".
void GrpcLogLine(gpr_log_func_args* args) {
  const std::string file = args->file != nullptr ? std::filesystem::path(args->file).filename().string() : "?";
  exo::LogLine(args->severity == GPR_LOG_SEVERITY_ERROR ? exo::LogLevel::kError : exo::LogLevel::kInfo,
               "grpc: " + file + ":" + std::to_string(args->line) + ": " + (args->message != nullptr ? args->message : ""));
}

}  // namespace

int main(int argc, char** argv) {
  exo::KeepOpenSslUntilExit();  // Before anything uses OpenSSL (exo/openssl_exit.h).
  std::string config_path;
  bool config_seen = false;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 >= argc) {
      std::fprintf(stderr, "exorouted: --config needs a file\n%s", kUsage);
      return 2;
    }
    if (a == "--config" || a.rfind("--config=", 0) == 0) {
      const std::string path = a == "--config" ? argv[++i] : a.substr(9);
      if (config_seen) {  // (The last one was taken, without a word.)
        std::fprintf(stderr, "exorouted: --config given twice (\"%s\", then \"%s\"): give it once\n%s",
                     config_path.c_str(), path.c_str(), kUsage);
        return 2;
      }
      config_seen = true;
      config_path = path;
    } else if (a == "--check-config") {
      check_only = true;
    } else if (a == "--print-default-config") {
      std::fputs(exo::daemon::DefaultConfigJson().c_str(), stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("exorouted %s\n", EXO_VERSION);
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "exorouted: unknown argument \"%s\"\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  auto config = exo::daemon::LoadConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "exorouted: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  exo::SetLogFormat(config->log().format() == exoroute::v1::LOG_FORMAT_JSON ? exo::LogFormat::kJson
                                                                            : exo::LogFormat::kText,
                    config->node_id());
  // gRPC's own messages (a failed TLS handshake, say) in the same format as every other line.
  gpr_set_log_function(GrpcLogLine);
  // A data directory the start could not use: a config error (exit 2), with or without a start.
  if (absl::Status s = exo::daemon::CheckDataDir(*config); !s.ok()) {
    std::fprintf(stderr, "exorouted: config %s: %s\n", config_path.empty() ? "<embedded default>" : config_path.c_str(),
                 std::string(s.message()).c_str());
    return 2;
  }
  if (check_only) {
    // The certificate files too, as the start would check them (the dev ones are made at start).
    if (absl::Status s = exo::daemon::CheckCertificateFiles(*config); !s.ok()) {
      std::fprintf(stderr, "exorouted: %s\n", std::string(s.message()).c_str());
      return 2;
    }
    std::printf("config %s is valid\n", config_path.empty() ? "<embedded default>" : config_path.c_str());
    return 0;
  }

  // A write past the file-size limit (ulimit -f) fails with EFBIG, reported by the store as any
  // write error is, instead of killing the process mid-write without a word.
  signal(SIGXFSZ, SIG_IGN);
  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Absolute: a reload reads the same file whatever the working directory is by then.
  std::error_code ec;
  const std::string reload_path = config_path.empty() ? "" : std::filesystem::absolute(config_path, ec).string();
  auto daemon = exo::daemon::Daemon::Start(*config, exo::SystemClock(), ec ? config_path : reload_path);
  if (!daemon.ok()) {
    exo::LogError("cannot start: %s", daemon.status().ToString());
    // A damaged database (the store refused it, or its chain does not verify): starting again
    // will not mend it (exit 3; the systemd unit does not restart after it).
    return absl::IsDataLoss(daemon.status()) ? 3 : 1;
  }
  const auto& d = **daemon;
  const std::string ctl = ShellWord(CtlPath()) + " --endpoint " + ShellWord(d.endpoint()) +
                          (d.plaintext() ? " --insecure" : " --ca " + ShellWord(d.ca_file())) + " status";
  std::printf("exorouted ready on %s\n  try: %s\n", d.endpoint().c_str(), ctl.c_str());
  std::fflush(stdout);

  int sig = 0;
  // SIGHUP: read the config file again (the reload logs what it applied or why it refused).
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    exo::LogInfo("received SIGHUP: reloading the config");
    (void)(*daemon)->ReloadConfig();
  }
  exo::LogInfo("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*daemon)->Shutdown();
  return 0;
}
