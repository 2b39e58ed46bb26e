// Who may call which RPC: every RPC of the API port has a rule, and a caller is let in by the
// roles the config's access section gives its certificate name.
#include "daemon/access_control.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "exoroute/v1/admin.pb.h"
#include "exoroute/v1/audit.pb.h"
#include "exoroute/v1/router.pb.h"
#include "google/protobuf/descriptor.h"

namespace {

using exo::daemon::ApiRpc;
using exo::daemon::Authorize;

TEST_CASE("every RPC of the API port has exactly one access rule, and every rule names an RPC", "[access]") {
  std::set<std::string> methods;
  for (const char* service : {"exoroute.v1.RouterService", "exoroute.v1.AdminService", "exoroute.v1.AuditService"}) {
    const google::protobuf::ServiceDescriptor* s =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    REQUIRE(s != nullptr);
    for (int i = 0; i < s->method_count(); ++i) methods.insert(s->name() + "." + s->method(i)->name());
  }
  std::set<std::string> ruled;
  for (const exo::daemon::ApiRpcRule& r : exo::daemon::ApiRpcRules()) {
    INFO(r.name);
    CHECK((r.read || r.trade || r.operate));
    const std::string name = r.name;
    // (The watch that cancels on disconnect is WatchPlan with a flag: a rule of its own.)
    const std::string method = name.substr(0, name.find(' '));
    CHECK(methods.count(method) == 1);
    if (name == method) CHECK(ruled.insert(method).second);
  }
  CHECK(ruled == methods);
}

TEST_CASE("a caller is let in by the roles its certificate name holds, and told which list would let it", "[access]") {
  exoroute::v1::AccessConfig access;
  access.add_trade("desk-a");
  access.add_operate("ops-1");
  access.add_read("auditor");
  // A trader sends and changes orders and reads; it neither operates the node nor settles.
  CHECK(Authorize(access, "desk-a", ApiRpc::kRoute).ok());
  CHECK(Authorize(access, "desk-a", ApiRpc::kAmendPlan).ok());
  CHECK(Authorize(access, "desk-a", ApiRpc::kCancelPlan).ok());
  CHECK(Authorize(access, "desk-a", ApiRpc::kWatchPlanWithSwitch).ok());
  CHECK(Authorize(access, "desk-a", ApiRpc::kGetPlan).ok());
  CHECK(Authorize(access, "desk-a", ApiRpc::kReplay).ok());
  absl::Status s = Authorize(access, "desk-a", ApiRpc::kSetTrading);
  CHECK(s.code() == absl::StatusCode::kPermissionDenied);
  CHECK(s.message() == "client \"desk-a\" may not call AdminService.SetTrading (access.operate names who may)");
  CHECK(Authorize(access, "desk-a", ApiRpc::kSettleChild).code() == absl::StatusCode::kPermissionDenied);
  // An operator halts, settles, reloads, backs up and cancels; it sends no order.
  for (ApiRpc rpc : {ApiRpc::kSetTrading, ApiRpc::kSettleChild, ApiRpc::kReloadConfig, ApiRpc::kBackup,
                     ApiRpc::kCancelPlan, ApiRpc::kStatus, ApiRpc::kVerify}) {
    CHECK(Authorize(access, "ops-1", rpc).ok());
  }
  s = Authorize(access, "ops-1", ApiRpc::kRoute);
  CHECK(s.message() == "client \"ops-1\" may not call RouterService.Route (access.trade names who may)");
  CHECK(Authorize(access, "ops-1", ApiRpc::kAmendPlan).code() == absl::StatusCode::kPermissionDenied);
  // A reader reads and watches, but a watch that can cancel the plan is a trader's.
  for (ApiRpc rpc : {ApiRpc::kGetPlan, ApiRpc::kWatchPlan, ApiRpc::kGetRoute, ApiRpc::kListPlans, ApiRpc::kStatus,
                     ApiRpc::kListVenues, ApiRpc::kListContracts, ApiRpc::kGetBooks, ApiRpc::kReplay,
                     ApiRpc::kVerify, ApiRpc::kGetChainHead, ApiRpc::kProveInclusion, ApiRpc::kProveConsistency}) {
    CHECK(Authorize(access, "auditor", rpc).ok());
  }
  s = Authorize(access, "auditor", ApiRpc::kWatchPlanWithSwitch);
  CHECK(s.message() == "client \"auditor\" may not call RouterService.WatchPlan with cancel_on_disconnect "
                       "(access.trade names who may; it may watch without cancel_on_disconnect)");
  s = Authorize(access, "auditor", ApiRpc::kCancelPlan);
  CHECK(s.message() == "client \"auditor\" may not call RouterService.CancelPlan (access.trade or access.operate "
                       "names who may)");
  // A certificate the lists do not name reads nothing either; names are matched whole.
  s = Authorize(access, "desk-a2", ApiRpc::kGetPlan);
  CHECK(s.code() == absl::StatusCode::kPermissionDenied);
  CHECK(s.message() == "client \"desk-a2\" may not call RouterService.GetPlan (access.read, access.trade or "
                       "access.operate names who may)");
  // "*": any client with a certificate.
  access.add_read("*");
  CHECK(Authorize(access, "desk-a2", ApiRpc::kGetPlan).ok());
  CHECK(Authorize(access, "desk-a2", ApiRpc::kRoute).code() == absl::StatusCode::kPermissionDenied);
  // No certificate name: not known, whatever the lists say.
  s = Authorize(access, "", ApiRpc::kGetPlan);
  CHECK(s.code() == absl::StatusCode::kUnauthenticated);
  CHECK(s.message() == "RouterService.GetPlan: call with a client certificate (this node lets callers in by their "
                       "certificates' names: access.read, access.trade, access.operate)");
}

}  // namespace
