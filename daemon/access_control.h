// Who may call which RPC of the API port (config `access`): callers are told apart by their
// client certificates, and each RPC is open to one or more roles — read, trade, operate. Without
// an access section every client may call every RPC. Every handler asks AccessControl::Check
// first, before it reads its request (docs/configuration.md, "Access").
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "exoroute/v1/config.pb.h"
#include "grpcpp/grpcpp.h"

namespace exo::daemon {

class RouterEngine;

// Every RPC of the API port, as access control knows it.
enum class ApiRpc : uint8_t {
  kRoute,
  kGetPlan,
  kCancelPlan,
  kAmendPlan,
  kWatchPlan,
  kWatchPlanWithSwitch,  // WatchPlan with cancel_on_disconnect: the watch can cancel the plan.
  kGetRoute,
  kWatchRoute,
  kListPlans,
  kStatus,
  kListVenues,
  kListContracts,
  kGetBooks,
  kBackup,
  kSetTrading,
  kSettleChild,
  kReloadConfig,
  kReplay,
  kVerify,
  kGetChainHead,
  kProveInclusion,
  kProveConsistency,
};

// An RPC ("RouterService.Route": its service and method, as the protos name them) and the
// roles any of which lets a caller call it.
struct ApiRpcRule {
  ApiRpc rpc;
  const char* name;
  bool read, trade, operate;
};

// Every rule, in ApiRpc order.
absl::Span<const ApiRpcRule> ApiRpcRules();
const ApiRpcRule& RuleOf(ApiRpc rpc);

// OK when `access` lets `client` (its certificate's name; "" = it presented none) call `rpc`:
// some role the RPC takes lists the client, or "*". PERMISSION_DENIED naming the client, the RPC
// and the lists that would let it; UNAUTHENTICATED for a caller without a certificate name.
absl::Status Authorize(const exoroute::v1::AccessConfig& access, const std::string& client, ApiRpc rpc);

// The roles `access` gives `client`: "trade", "operate", "read", in that order, each whose list
// names it or "*".
std::vector<std::string> RolesOf(const exoroute::v1::AccessConfig& access, const std::string& client);

// The caller's client certificate name: its common name, else its first subject alternative
// name; "" when it presented none (or the port is not mutual TLS).
std::string ClientIdentity(const grpc::ServerContext& ctx);

// The check every handler makes, against the access section of the config in force (a reload
// changes it for the next call). Refusals are counted, and logged once per client and RPC.
class AccessControl {
 public:
  explicit AccessControl(const RouterEngine* engine) : engine_(engine) {}
  grpc::Status Check(const grpc::ServerContext& ctx, ApiRpc rpc);
  // Counts and logs a refusal made elsewhere (a trader changing another client's order), and
  // returns it as the call's status.
  grpc::Status Refuse(const std::string& client, ApiRpc rpc, const absl::Status& refusal);
  uint64_t denied() const;
  std::string last_denied() const;

 private:
  const RouterEngine* engine_;
  mutable std::mutex mu_;
  uint64_t denied_ = 0;
  std::string last_denied_;
  std::set<std::pair<std::string, ApiRpc>> logged_;  // At most kLogged, then counted only.
  static constexpr size_t kLogged = 1024;
};

}  // namespace exo::daemon
