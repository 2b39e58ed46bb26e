// Backups of a running node (`exoroutectl backup NAME`, AdminService.Backup): a consistent copy
// made while the node routes, which an auditor opens offline and another exorouted starts from.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/e2e.h"
#include "tests/testing/temp_dir.h"

using exo::testing::Connect;
using exo::testing::Ctl;
using exo::testing::DaemonProcess;
using exo::testing::kBtc;
using exo::testing::TempDir;
using exo::testing::TestConfigJson;
using namespace exoroute::v1;  // NOLINT

namespace {

grpc::Status PlanOnly(const std::shared_ptr<grpc::Channel>& ch, const std::string& id) {
  RouteResponse resp;
  return exo::testing::CallRoute(ch, exo::testing::BtcOrder(id, SIDE_BUY, kBtc / 4, ROUTE_MODE_PLAN_ONLY), &resp);
}

grpc::StatusCode GetPlanCode(const std::shared_ptr<grpc::Channel>& ch, const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  GetPlanRequest req;
  req.set_plan_id(id);
  GetPlanResponse resp;
  return RouterService::NewStub(ch)->GetPlan(&ctx, req, &resp).error_code();
}

grpc::Status Backup(const std::shared_ptr<grpc::Channel>& ch, const std::string& name, BackupResponse* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  BackupRequest req;
  req.set_name(name);
  return AdminService::NewStub(ch)->Backup(&ctx, req, resp);
}

}  // namespace

TEST_CASE("a backup made while the node routes holds every plan acknowledged before it and starts as a node") {
  TempDir dir;
  std::string error;
  auto d = DaemonProcess::Start(dir.path(), TestConfigJson(dir.path()), &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto ch = Connect(*d);
  for (int i = 0; i < 3; ++i) REQUIRE(PlanOnly(ch, "before-" + std::to_string(i)).ok());

  // Routes go on from another client while the backup is made.
  std::atomic<bool> stop{false};
  std::atomic<int> routed{0}, refused{0};
  std::thread client([&] {
    for (int i = 0; !stop; ++i) (PlanOnly(ch, "during-" + std::to_string(i)).ok() ? routed : refused)++;
  });
  while (routed < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int routed_before = routed;
  auto out = Ctl(*d, {"backup", "nightly-1"});
  const int routed_after = routed;
  while (routed < routed_after + 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  client.join();
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  CHECK(refused == 0);  // No route was turned away for it,
  CHECK(routed_after >= routed_before);
  const std::string backup = (std::filesystem::path(dir.path()) / "backups" / "nightly-1").string();
  CHECK(out.out.rfind("backup nightly-1: " + backup + "\n", 0) == 0);
  CHECK(out.out.find("check it:  exoroutectl audit verify --data-dir " + backup) != std::string::npos);
  REQUIRE(PlanOnly(ch, "after").ok());

  // What a backup holds: a data directory with the database, the signing key (owner only) and
  // the development certificates; no half-made directory beside it.
  CHECK(std::filesystem::exists(backup + "/db/CURRENT"));
  CHECK(std::filesystem::exists(backup + "/keys/chain-head.key"));
  CHECK(std::filesystem::exists(backup + "/certs/ca.pem"));
  CHECK((std::filesystem::status(backup + "/keys/chain-head.key").permissions() &
         (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) == std::filesystem::perms::none);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "backups")) entries += e.is_directory() ? 1 : 0;
  CHECK(entries == 1);

  // Names: never a path, never written over (gRPC codes, and the CLI's words).
  BackupResponse resp;
  grpc::Status s = Backup(ch, "x/../../elsewhere", &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "name: only letters, digits, '.', '_' and '-' (one directory name)");
  CHECK(Backup(ch, "", &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  s = Backup(ch, "../elsewhere", &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "name: must not start with '.'");
  auto again = Ctl(*d, {"backup", "nightly-1"});
  CHECK(again.exit_code != 0);
  CHECK(again.err.find("name: a backup \"nightly-1\" already exists in") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "elsewhere"));

  // Checked offline, as an auditor would: the chain verifies to the head the backup reported.
  REQUIRE(Backup(ch, "nightly-2", &resp).ok());
  auto verify = exo::testing::Run(EXOROUTECTL_PATH, {"audit", "verify", "--data-dir", resp.path()});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  CHECK(verify.out.rfind("OK: ", 0) == 0);
  CHECK(resp.head().sequence() > 0);
  CHECK(resp.bytes() > 0);

  // Started as a node (the original still running): every plan acknowledged before the first
  // backup is there, the one routed after it is not, and its own chain verifies.
  auto restored = DaemonProcess::Start(backup, TestConfigJson(backup), &error);
  INFO(error);
  REQUIRE(restored != nullptr);
  auto rch = Connect(*restored);
  for (int i = 0; i < 3; ++i) CHECK(GetPlanCode(rch, "before-" + std::to_string(i)) == grpc::StatusCode::OK);
  for (int i = 0; i < routed_before; ++i) CHECK(GetPlanCode(rch, "during-" + std::to_string(i)) == grpc::StatusCode::OK);
  CHECK(GetPlanCode(rch, "after") == grpc::StatusCode::NOT_FOUND);
  auto restored_verify = Ctl(*restored, {"audit", "verify"});
  CHECK(restored_verify.exit_code == 0);
}

TEST_CASE("a backup into a directory that cannot be made is refused naming store.backup_dir, and the node goes on") {
  TempDir dir;
  // The backup directory would sit under a regular file.
  const std::string blocker = dir / "not-a-directory";
  { std::ofstream(blocker) << "x"; }
  std::string error;
  auto d = DaemonProcess::Start(
      dir.path(), TestConfigJson(dir.path(), R"("store": {"backup_dir": ")" + blocker + R"(/backups"})"), &error);
  INFO(error);
  REQUIRE(d != nullptr);
  auto out = Ctl(*d, {"backup", "nightly-1"});
  INFO(out.out << out.err);
  CHECK(out.exit_code == 1);
  CHECK(out.err.find("FAILED_PRECONDITION: store.backup_dir: cannot create " + blocker + "/backups: ") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(blocker + "/backups"));
  // The node routes on after the refusal.
  CHECK(PlanOnly(Connect(*d), "after-refused-backup").ok());
}
