#include "tests/integration/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <sstream>
#include <thread>

#include "clients/cpp/exoroute_client.h"
#include "daemon/config.h"

extern char** environ;

namespace exo::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t Spawn(const std::string& binary, const std::vector<std::string>& args, const std::string& out,
            const std::string& err, const std::vector<std::string>& env = {}) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int WaitExit(pid_t pid, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

}  // namespace

exoroute::v1::RouteRequest BtcOrder(const std::string& id, exoroute::v1::Side side, int64_t qty,
                                    exoroute::v1::RouteMode mode) {
  exoroute::v1::RouteRequest r;
  auto* o = r.mutable_order();
  o->set_id(id);
  o->set_symbol("BTC-USD");
  o->set_side(side);
  o->set_quantity(qty);
  o->set_time_in_force(exoroute::v1::TIME_IN_FORCE_GTC);
  r.set_mode(mode);
  return r;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelTo(const DaemonProcess& d) {
  client::ConnectOptions o;
  o.endpoint = d.endpoint();
  o.ca_file = d.ca_file();
  return client::Connect(o);
}

std::string TestConfigJson(const std::string& data_dir) {
  std::string json = daemon::DefaultConfigJson();
  auto replace = [&json](const std::string& from, const std::string& to) {
    for (size_t at = json.find(from); at != std::string::npos; at = json.find(from, at + to.size())) {
      json.replace(at, from.size(), to);
    }
  };
  replace("./exoroute-data", data_dir);
  replace("127.0.0.1:50551", "127.0.0.1:0");
  replace("127.0.0.1:9464", "127.0.0.1:0");
  replace("\"update_interval_ms\": 100", "\"update_interval_ms\": 20");
  replace("\"replan_interval_ms\": 50", "\"replan_interval_ms\": 10");
  return json;
}

std::string TestConfigJson(const std::string& data_dir, const std::string& members) {
  std::string json = TestConfigJson(data_dir);
  const size_t at = json.find("\"data_dir\": ");
  if (at == std::string::npos) throw std::logic_error("the default config has no data_dir to add members before");
  json.insert(at, members + ",\n  ");
  return json;
}

int AdminPort(const std::string& data_dir) {
  std::string admin;
  std::ifstream(data_dir + "/admin_endpoint") >> admin;
  if (admin.rfind("127.0.0.1:", 0) != 0) throw std::runtime_error("no admin port in " + data_dir + "/admin_endpoint");
  return std::stoi(admin.substr(admin.find(':') + 1));
}

std::unique_ptr<DaemonProcess> DaemonProcess::Start(const std::string& data_dir,
                                                    const std::string& config_json,
                                                    std::string* error,
                                                    const std::vector<std::string>& env) {
  std::filesystem::create_directories(data_dir);
  std::filesystem::remove(data_dir + "/endpoint");
  std::ofstream(data_dir + "/config.json") << config_json;
  auto d = std::unique_ptr<DaemonProcess>(new DaemonProcess);
  d->data_dir_ = data_dir;
  d->pid_ = Spawn(EXOROUTED_PATH, {"--config", data_dir + "/config.json"}, data_dir + "/exorouted.out",
                  data_dir + "/exorouted.log", env);
  if (d->pid_ < 0) {
    *error = "cannot spawn " EXOROUTED_PATH;
    return nullptr;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(data_dir + "/endpoint");
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) {
      d->endpoint_ = line;
      return d;
    }
    int status = 0;
    if (waitpid(d->pid_, &status, WNOHANG) == d->pid_) {
      d->pid_ = -1;
      *error = "exorouted exited during start-up:\n" + d->log();
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *error = "exorouted did not become ready in 30 s:\n" + d->log();
  return nullptr;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) Kill9();
}

std::string DaemonProcess::log() const { return Slurp(data_dir_ + "/exorouted.log"); }
std::string DaemonProcess::output() const { return Slurp(data_dir_ + "/exorouted.out"); }

void DaemonProcess::Pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void DaemonProcess::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

int DaemonProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int code = WaitExit(pid_, std::chrono::seconds(30));
  if (code == -1) Kill9();
  pid_ = -1;
  return code;
}

int DaemonProcess::WaitForExit(std::chrono::seconds limit) {
  if (pid_ <= 0) return -1;
  const int code = WaitExit(pid_, limit);
  if (code != -1) pid_ = -1;
  return code;
}

void DaemonProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  WaitExit(pid_, std::chrono::seconds(30));
  pid_ = -1;
}

CommandResult Run(const std::string& binary, const std::vector<std::string>& args) {
  char out_tmpl[] = "/tmp/exo-run-out-XXXXXX", err_tmpl[] = "/tmp/exo-run-err-XXXXXX";
  int fo = mkstemp(out_tmpl), fe = mkstemp(err_tmpl);
  close(fo);
  close(fe);
  CommandResult r;
  pid_t pid = Spawn(binary, args, out_tmpl, err_tmpl);
  if (pid > 0) r.exit_code = WaitExit(pid, std::chrono::seconds(120));
  r.out = Slurp(out_tmpl);
  r.err = Slurp(err_tmpl);
  unlink(out_tmpl);
  unlink(err_tmpl);
  return r;
}

CommandResult Ctl(const DaemonProcess& d, std::vector<std::string> args) {
  args.insert(args.begin(), {"--endpoint", d.endpoint(), "--ca", d.ca_file()});
  return Run(EXOROUTECTL_PATH, args);
}

CommandResult CtlAs(const DaemonProcess& d, const std::string& certs, const std::string& client,
                    std::vector<std::string> args) {
  args.insert(args.begin(), {"--endpoint", d.endpoint(), "--ca", certs + "/ca.pem", "--cert",
                             certs + "/" + client + ".pem", "--key", certs + "/" + client + ".key"});
  return Run(EXOROUTECTL_PATH, args);
}

}  // namespace exo::testing
