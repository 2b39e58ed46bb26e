#include "daemon/governance.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "exo/log.h"
#include "exo/sha256.h"
#include "exo/status_macros.h"
#include "exo/deterministic.h"
#include "google/protobuf/util/message_differencer.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT

std::string DescribeConfigChange(const DaemonConfig& before, const DaemonConfig& after, size_t max_chars) {
  std::string report;
  {
    google::protobuf::util::MessageDifferencer diff;
    diff.ReportDifferencesToString(&report);
    diff.Compare(before, after);
  }  // The reporter writes when the differencer goes.
  // One line per difference from the differencer; joined into one.
  while (!report.empty() && report.back() == '\n') report.pop_back();
  report = absl::StrReplaceAll(report, {{"\n", "; "}});
  if (report.size() > max_chars) report = absl::StrCat(report.substr(0, max_chars), "… (truncated)");
  return report;
}

absl::StatusOr<bool> RecordConfigApplied(const DaemonConfig& config, RouterEngine& engine,
                                         const store::DeltaStore& store, PlanDelta* stored, const std::string& how) {
  const std::string bytes = SerializeDeterministic(config);
  GovernanceEvent e;
  e.set_kind(GOVERNANCE_KIND_CONFIG_APPLIED);
  e.set_subject("config");
  e.set_digest(DigestToString(Sha256Of(bytes)));
  auto config_change = [&](const std::string& previous) -> std::string {
    if (previous.empty()) return "first config recorded in this chain";
    absl::StatusOr<std::string> raw = store.GetInputs(previous);
    if (!raw.ok()) return absl::StrCat("changed (the previous config is not stored: ", raw.status().message(), ")");
    DaemonConfig before;
    if (!before.ParseFromString(*raw)) return "changed (the previous config does not parse)";
    const std::string change = DescribeConfigChange(before, config);
    return how.empty() ? change : absl::StrCat(change, " ", how);
  };
  EXO_ASSIGN_OR_RETURN(bool recorded, engine.RecordGovernanceIfChanged(e, config_change, bytes, stored));
  if (recorded) LogInfo("governance: config %s recorded", absl::BytesToHexString(e.digest()).substr(0, 16));
  return recorded;
}

absl::Status RecordGovernanceChanges(const DaemonConfig& config, const std::string& signing_public_key,
                                     RouterEngine& engine, const store::DeltaStore& store) {
  EXO_RETURN_IF_ERROR(RecordConfigApplied(config, engine, store).status());
  GovernanceEvent e;
  e.set_kind(GOVERNANCE_KIND_SIGNING_KEY);
  e.set_subject("chain-head key");
  e.set_digest(signing_public_key);
  EXO_ASSIGN_OR_RETURN(bool recorded, engine.RecordGovernanceIfChanged(e, [](const std::string& previous) {
    return previous.empty() ? std::string("first chain-head signing key recorded in this chain")
                            : absl::StrCat("replaced; heads signed before were signed by key ",
                                           absl::BytesToHexString(previous));
  }));
  if (recorded) LogInfo("governance: chain-head key %s recorded", absl::BytesToHexString(signing_public_key));
  return absl::OkStatus();
}

absl::Status RecordPairKey(const std::string& node_id, const std::string& public_key, bool own, RouterEngine& engine) {
  GovernanceEvent e;
  e.set_kind(GOVERNANCE_KIND_PAIR_KEY);
  e.set_subject(absl::StrCat("pair key ", node_id));
  e.set_digest(public_key);
  EXO_ASSIGN_OR_RETURN(bool recorded, engine.RecordGovernanceIfChanged(e, [&](const std::string& previous) {
    if (own) return std::string("this node's X25519 key for the cluster's pairwise masks (new at every start)");
    return previous.empty() ? absl::StrCat("peer ", node_id, " joined: its first key in this chain")
                            : absl::StrCat("peer ", node_id, " presented a new key (it restarted or rotated it); ",
                                           "the previous was ", absl::BytesToHexString(previous));
  }));
  if (recorded) LogInfo("governance: pair key of %s recorded", node_id);
  return absl::OkStatus();
}

}  // namespace exo::daemon
