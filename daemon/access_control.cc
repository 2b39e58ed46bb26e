#include "daemon/access_control.h"

#include <algorithm>
#include <array>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/router_engine.h"
#include "exo/log.h"

namespace exo::daemon {

namespace {

//                          read   trade  operate
constexpr std::array<ApiRpcRule, 22> kRules = {{
    {ApiRpc::kRoute, "RouterService.Route", false, true, false},
    {ApiRpc::kGetPlan, "RouterService.GetPlan", true, true, true},
    {ApiRpc::kCancelPlan, "RouterService.CancelPlan", false, true, true},
    {ApiRpc::kAmendPlan, "RouterService.AmendPlan", false, true, false},
    {ApiRpc::kWatchPlan, "RouterService.WatchPlan", true, true, true},
    {ApiRpc::kWatchPlanWithSwitch, "RouterService.WatchPlan with cancel_on_disconnect", false, true, false},
    {ApiRpc::kGetRoute, "RouterService.GetRoute", true, true, true},
    {ApiRpc::kWatchRoute, "RouterService.WatchRoute", true, true, true},
    {ApiRpc::kListPlans, "RouterService.ListPlans", true, true, true},
    {ApiRpc::kStatus, "AdminService.Status", true, true, true},
    {ApiRpc::kListVenues, "AdminService.ListVenues", true, true, true},
    {ApiRpc::kListContracts, "AdminService.ListContracts", true, true, true},
    {ApiRpc::kGetBooks, "AdminService.GetBooks", true, true, true},
    {ApiRpc::kBackup, "AdminService.Backup", false, false, true},
    {ApiRpc::kSetTrading, "AdminService.SetTrading", false, false, true},
    {ApiRpc::kSettleChild, "AdminService.SettleChild", false, false, true},
    {ApiRpc::kReloadConfig, "AdminService.ReloadConfig", false, false, true},
    {ApiRpc::kReplay, "AuditService.Replay", true, true, true},
    {ApiRpc::kVerify, "AuditService.Verify", true, true, true},
    {ApiRpc::kGetChainHead, "AuditService.GetChainHead", true, true, true},
    {ApiRpc::kProveInclusion, "AuditService.ProveInclusion", true, true, true},
    {ApiRpc::kProveConsistency, "AuditService.ProveConsistency", true, true, true},
}};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < kRules.size(); ++i) {
    if (static_cast<size_t>(kRules[i].rpc) != i) return false;
  }
  return kRules.size() == static_cast<size_t>(ApiRpc::kProveConsistency) + 1;
}
static_assert(InEnumOrder(), "kRules lists every ApiRpc once, in the enum's order");

bool Lists(const google::protobuf::RepeatedPtrField<std::string>& names, const std::string& client) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return n == "*" || n == client; });
}

}  // namespace

absl::Span<const ApiRpcRule> ApiRpcRules() { return kRules; }

const ApiRpcRule& RuleOf(ApiRpc rpc) { return kRules[static_cast<size_t>(rpc)]; }

absl::Status Authorize(const exoroute::v1::AccessConfig& access, const std::string& client, ApiRpc rpc) {
  const ApiRpcRule& rule = RuleOf(rpc);
  std::vector<const char*> lists;  // The roles that would let a caller call it.
  if (rule.read) lists.push_back("access.read");
  if (rule.trade) lists.push_back("access.trade");
  if (rule.operate) lists.push_back("access.operate");
  if (client.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        rule.name, ": call with a client certificate (this node lets callers in by their certificates' names: ",
        absl::StrJoin(lists, ", "), ")"));
  }
  if ((rule.read && Lists(access.read(), client)) || (rule.trade && Lists(access.trade(), client)) ||
      (rule.operate && Lists(access.operate(), client))) {
    return absl::OkStatus();
  }
  // A watch that cancels is a trader's, though any reader may watch.
  const bool watch = rpc == ApiRpc::kWatchPlanWithSwitch &&
                     (Lists(access.read(), client) || Lists(access.operate(), client));
  return absl::PermissionDeniedError(absl::StrCat(
      "client \"", client, "\" may not call ", rule.name, " (",
      lists.size() == 1 ? absl::StrCat(lists[0], " names who may")
                        : absl::StrCat(absl::StrJoin(lists.begin(), lists.end() - 1, ", "), " or ", lists.back(),
                                       " names who may"),
      watch ? "; it may watch without cancel_on_disconnect" : "", ")"));
}

std::vector<std::string> RolesOf(const exoroute::v1::AccessConfig& access, const std::string& client) {
  std::vector<std::string> out;
  if (client.empty()) return out;
  if (Lists(access.trade(), client)) out.push_back("trade");
  if (Lists(access.operate(), client)) out.push_back("operate");
  if (Lists(access.read(), client)) out.push_back("read");
  return out;
}

std::string ClientIdentity(const grpc::ServerContext& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  for (const char* property : {"x509_common_name", "x509_subject_alternative_name"}) {
    for (const grpc::string_ref& v : auth->FindPropertyValues(property)) {
      if (v.size() > 0) return std::string(v.data(), v.size());
    }
  }
  return "";
}

grpc::Status AccessControl::Check(const grpc::ServerContext& ctx, ApiRpc rpc) {
  const exoroute::v1::DaemonConfig& config = engine_->config();
  if (!config.has_access()) return grpc::Status::OK;
  const std::string client = ClientIdentity(ctx);
  const absl::Status s = Authorize(config.access(), client, rpc);
  if (s.ok()) return grpc::Status::OK;
  return Refuse(client, rpc, s);
}

grpc::Status AccessControl::Refuse(const std::string& client, ApiRpc rpc, const absl::Status& refusal) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++denied_;
    last_denied_ = std::string(refusal.message());
    // Logged once per client and RPC: a client calling in a loop does not flood the log.
    if (logged_.size() < kLogged && logged_.emplace(client, rpc).second) {
      LogWarning("refused a call: %s", refusal.message());
    }
  }
  return grpc::Status(static_cast<grpc::StatusCode>(refusal.code()), std::string(refusal.message()));
}

uint64_t AccessControl::denied() const {
  std::lock_guard<std::mutex> lock(mu_);
  return denied_;
}

std::string AccessControl::last_denied() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_denied_;
}

}  // namespace exo::daemon
