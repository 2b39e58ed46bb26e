// exoroutectl's commands about the node itself: status, budgets, books, halt and resume,
// contracts, backup and its config.
#include "clients/exoroutectl/commands.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "clients/cpp/exoroute_client.h"
#include "clients/exoroutectl/render.h"
#include "daemon/node_events.h"
#include "exo/clock.h"
#include "exo/sha256.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "store/delta_store.h"

namespace exo::ctl {

using namespace exoroute::v1;  // NOLINT

int CmdStatus(Context& c) {
  auto r = FetchStatus(c);
  if (!r.ok()) return Fail(r.status());
  std::cout << (c.json ? ToJson(*r) + "\n" : RenderStatus(*r, SystemClock()->NowNs() / 1'000'000'000));
  return kExitOk;
}

// `books SYMBOL [--depth N]`: the node's books of one symbol now, as an executed order decided
// now reads them (GetBooks).
int CmdBooks(Context& c) {
  const auto& w = c.args.words();
  if (w.size() != 2) return Usage("books: expected one symbol (exoroutectl books BTC-USD)");
  auto depth = c.args.GetUint("depth", 0);
  if (!depth.ok()) return Usage(absl::StrCat("books: ", depth.status().message()));
  GetBooksRequest req;
  req.set_symbol(w[1]);
  req.set_depth(static_cast<uint32_t>(std::min<uint64_t>(*depth, UINT32_MAX)));
  auto r = Unary(c, &AdminService::Stub::GetBooks, req);
  if (!r.ok()) return Fail(r.status());
  std::cout << (c.json ? ToJson(*r) + "\n" : RenderBooks(*r));
  return kExitOk;
}

int CmdBudgets(Context& c) {
  auto r = FetchStatus(c);
  if (!r.ok()) return Fail(r.status());
  if (c.json) {
    StatusResponse only;
    only.set_node_id(r->node_id());
    *only.mutable_budgets() = r->budgets();
    std::cout << ToJson(only) << "\n";
    return kExitOk;
  }
  std::cout << RenderBudgets(*r);
  return kExitOk;
}

// `halt --reason TEXT [--venue V | --symbol S]` / `resume …`: AdminService.SetTrading.
int CmdSetTrading(Context& c, bool halt) {
  const char* cmd = halt ? "halt" : "resume";
  if (c.args.words().size() != 1) {
    return Usage(absl::StrCat(cmd, ": takes no arguments, only --reason TEXT [--venue V | --symbol S]"));
  }
  if (!c.args.Has("reason")) return Usage(absl::StrCat(cmd, ": --reason is required (it is recorded in the chain)"));
  if (c.args.Has("venue") && c.args.Has("symbol")) {
    return Usage(absl::StrCat(cmd, ": --venue or --symbol, not both"));
  }
  SetTradingRequest req;
  req.set_action(halt ? TRADING_ACTION_HALT : TRADING_ACTION_RESUME);
  req.set_reason(c.args.Get("reason"));
  req.set_venue(c.args.Get("venue"));
  req.set_symbol(c.args.Get("symbol"));
  absl::StatusOr<SetTradingResponse> r = Unary(c, &AdminService::Stub::SetTrading, req);
  if (!r.ok()) return Fail(r.status());
  if (c.json) {
    std::cout << ToJson(*r) << "\n";
    return kExitOk;
  }
  const TradingStatus& t = r->trading();
  const std::string where = !req.venue().empty()    ? absl::StrCat(" at venue ", req.venue())
                            : !req.symbol().empty() ? absl::StrCat(" in ", req.symbol())
                                                    : "";
  if (!r->changed()) {
    std::cout << "trading" << where << (t.halted() ? " was already halted" : " was not halted") << "; nothing recorded\n";
    return kExitOk;
  }
  if (!req.venue().empty()) {
    std::cout << "trading" << where << (t.halted() ? " halted" : " resumed") << " (recorded at sequence " << t.sequence()
              << (t.halted() ? "): executed plans decide without it; its open children stay open\n"
                             : "): executed plans use it again\n");
    return kExitOk;
  }
  if (!req.symbol().empty()) {
    if (t.halted()) {
      std::cout << "trading" << where << " halted (recorded at sequence " << t.sequence() << "): no child order of "
                << req.symbol() << " is sent and its EXECUTE routes are refused until `exoroutectl resume --symbol "
                << req.symbol() << "`; other symbols trade on; open children stay open (`exoroutectl plan cancel "
                << "--all --symbol " << req.symbol() << "` cancels them)\n";
    } else {
      std::cout << "trading" << where << " resumed (recorded at sequence " << t.sequence()
                << "): its working plans decide again\n";
    }
    return kExitOk;
  }
  if (t.halted()) {
    std::cout << "trading halted (recorded at sequence " << t.sequence()
              << "): no child order is sent and EXECUTE routes are refused until `exoroutectl resume`; "
                 "open children stay open (`exoroutectl plan cancel --all` cancels them)\n";
  } else {
    std::cout << "trading resumed (recorded at sequence " << t.sequence() << "): working plans decide again\n";
  }
  return kExitOk;
}

int CmdContracts(Context& c) {
  if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
  ListContractsResponse r;
  auto ctx = Rpc(c);
  auto st = AdminService::NewStub(c.channel)->ListContracts(ctx.get(), ListContractsRequest(), &r);
  if (!st.ok()) return Fail(client::FromGrpc(st));
  if (c.json) {
    std::cout << ToJson(r) << "\n";
  } else if (c.args.Has("dot")) {
    std::cout << "digraph contracts {\n  rankdir=LR;\n";
    for (const auto& n : r.nodes()) {
      std::cout << "  \"" << n.id() << "\" [shape=" << (n.kind() == "engine" ? "box" : "ellipse") << "];\n";
    }
    for (const auto& e : r.edges()) {
      std::cout << "  \"" << e.producer() << "\" -> \"" << e.consumer() << "\" [label=\"" << e.contract() << "\"];\n";
    }
    std::cout << "}\n";
  } else {
    std::cout << RenderContracts(r);
  }
  return kExitOk;
}

int CmdBackup(Context& c) {
  const auto& w = c.args.words();
  if (w.size() != 2) return Usage("backup NAME: one name (letters, digits, '.', '_', '-')");
  BackupRequest req;
  req.set_name(w[1]);
  // (A backup links or copies the whole database: more than a status call's time on a big one.)
  if (!c.args.Has("timeout")) c.timeout = std::chrono::minutes(10);
  absl::StatusOr<BackupResponse> r = Unary(c, &AdminService::Stub::Backup, req);
  if (!r.ok()) return Fail(r.status());
  if (c.json) {
    std::cout << ToJson(*r) << "\n";
    return kExitOk;
  }
  std::cout << "backup " << w[1] << ": " << r->path() << "\n"
            << "  chain head " << r->head().sequence() << " " << absl::BytesToHexString(r->head().hash()) << "\n"
            << "  " << r->bytes() << " bytes, " << r->duration_ms() << " ms\n"
            << "check it:  exoroutectl audit verify --data-dir " << r->path() << "\n"
            << "restore:   stop the node, put the backup's db/ and keys/ in its data directory, start it\n"
            << "           (or start exorouted with data_dir " << r->path() << ")\n";
  return kExitOk;
}

namespace {

// `config show [--at N] [--data-dir DIR]`: the config the chain says was in force at delta N
// (default: now), as a config file's JSON on stdout; which event recorded it on stderr.
int CmdConfigShow(Context& c) {
  auto at = c.args.GetUint("at", 0);
  if (!at.ok()) return Usage(std::string(at.status().message()));
  if (c.args.Has("at") && *at == 0) return Usage("config show --at N: a sequence number, from 1");
  std::optional<std::pair<PlanDelta, DaemonConfig>> found;
  auto consider = [&](const PlanDelta& d, const DaemonConfig* config) {
    if (d.governance().kind() != GOVERNANCE_KIND_CONFIG_APPLIED || (*at != 0 && d.sequence() > *at)) return;
    found.emplace(d, config != nullptr ? *config : DaemonConfig());
  };
  absl::Status result;
  uint64_t head = 0;  // The chain's last sequence: --at beyond it is no moment of this chain.
  if (c.args.Has("data-dir")) {
    auto st = OpenOffline(c.args.Get("data-dir"));
    if (!st.ok()) return Fail(st.status());
    const store::DeltaStore& s = **st;
    head = s.Head().sequence();
    result = s.ScanPlan(daemon::kGovernancePlanId, 1, [&](const PlanDelta& d, std::string_view) {
      if (d.governance().kind() != GOVERNANCE_KIND_CONFIG_APPLIED) return true;
      absl::StatusOr<std::string> raw = s.GetInputs(d.inputs_digest());
      DaemonConfig config;
      if (!raw.ok() || !config.ParseFromString(*raw)) {
        result = absl::DataLossError(absl::StrCat("delta ", d.sequence(), ": its stored config is missing or does not "
                                                  "parse (`exoroutectl audit verify` checks them all)"));
        return false;
      }
      consider(d, &config);
      return true;
    });
  } else {
    if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
    ReplayRequest req;
    req.set_plan_id(daemon::kGovernancePlanId);
    req.set_include_inputs(true);
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = AuditService::NewStub(c.channel)->Replay(ctx.get(), req);
    ReplayResponse msg;
    while (reader->Read(&msg)) consider(msg.delta(), &msg.config());
    result = client::FromGrpc(reader->Finish());
    if (result.ok()) {  // (After the replay: a head at least as far as every delta it read.)
      auto head_ctx = Rpc(c);
      GetChainHeadResponse r;
      auto st = AuditService::NewStub(c.channel)->GetChainHead(head_ctx.get(), GetChainHeadRequest(), &r);
      if (!st.ok()) return Fail(client::FromGrpc(st));
      head = r.head().sequence();
    }
  }
  if (!result.ok()) return Fail(result);
  if (*at > head) {
    // (It answered with the config in force now, as if sequence N had been recorded.)
    return Fail(absl::OutOfRangeError(absl::StrCat("--at ", *at, ": the chain ends at sequence ", head)));
  }
  if (!found) {
    return Fail(absl::NotFoundError(*at != 0 ? absl::StrCat("no config recorded at or before sequence ", *at)
                                             : std::string("no config recorded in this chain")));
  }
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(found->second, &json, opts).ok()) {
    return Fail(absl::InternalError("the config does not print as JSON"));
  }
  std::cout << json;
  const PlanDelta& d = found->first;
  std::fprintf(stderr, "config in force %s: recorded at sequence %llu (%s), sha256 %s; %s\n",
               *at != 0 ? absl::StrCat("at sequence ", *at).c_str() : "now",
               static_cast<unsigned long long>(d.sequence()),
               absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixNanos(d.event_time_ns()), absl::UTCTimeZone())
                   .c_str(),
               ToHex(d.governance().digest()).c_str(), d.governance().detail().c_str());
  return kExitOk;
}

}  // namespace

// `config reload [--dry-run]`: AdminService.ReloadConfig; `config show …`: CmdConfigShow.
int CmdConfig(Context& c) {
  const auto& w = c.args.words();
  if (w.size() == 2 && w[1] == "show") return CmdConfigShow(c);
  if (w.size() != 2 || w[1] != "reload") return Usage("config reload [--dry-run] | config show [--at N]");
  ReloadConfigRequest req;
  req.set_dry_run(c.args.Has("dry-run"));
  absl::StatusOr<ReloadConfigResponse> r = Unary(c, &AdminService::Stub::ReloadConfig, req);
  if (!r.ok()) return Fail(r.status());
  if (c.json) {
    std::cout << ToJson(*r) << "\n";
  } else {
    std::cout << RenderConfigReload(*r, req.dry_run());
  }
  return kExitOk;
}

}  // namespace exo::ctl
