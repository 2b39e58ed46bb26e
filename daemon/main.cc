// exorouted: the exoroute smart order router daemon. See README.md and docs/configuration.md.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "daemon/config.h"
#include "daemon/exorouted.h"
#include "exo/clock.h"
#include "exo/log.h"

namespace {

constexpr char kUsage[] =
    "usage: exorouted [--config FILE] [--check-config] [--print-default-config] [--version]\n"
    "  --config FILE            JSON config (docs/configuration.md); default: embedded\n"
    "                           (three simulated venues, ./exoroute-data, dev TLS certs)\n"
    "  --check-config           validate the config and exit (0 = valid)\n"
    "  --print-default-config   print the embedded default config and exit\n";

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
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
  if (check_only) {
    std::printf("config %s is valid\n", config_path.empty() ? "<embedded default>" : config_path.c_str());
    return 0;
  }

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto daemon = exo::daemon::Daemon::Start(*config, exo::SystemClock());
  if (!daemon.ok()) {
    exo::LogError("cannot start: %s", daemon.status().ToString());
    return 1;
  }
  const auto& d = **daemon;
  std::string ctl = d.plaintext()
                        ? std::string("exoroutectl --endpoint ") + d.endpoint() + " --insecure status"
                        : std::string("exoroutectl --endpoint ") + d.endpoint() + " --ca " +
                              d.ca_file() + " status";
  std::printf("exorouted ready on %s\n  try: ./build/clients/exoroutectl/%s\n", d.endpoint().c_str(),
              ctl.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  exo::LogInfo("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*daemon)->Shutdown();
  return 0;
}
