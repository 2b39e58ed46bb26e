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

absl::Status RecordGovernanceChanges(const DaemonConfig& config, const std::string& signing_public_key,
                                     RouterEngine& engine, const store::DeltaStore& store) {
  const std::string bytes = SerializeDeterministic(config);
  const std::string digest = DigestToString(Sha256Of(bytes));
  const std::string last = engine.LastGovernanceDigest(GOVERNANCE_KIND_CONFIG_APPLIED, "config");
  if (digest != last) {
    GovernanceEvent e;
    e.set_kind(GOVERNANCE_KIND_CONFIG_APPLIED);
    e.set_subject("config");
    e.set_digest(digest);
    if (last.empty()) {
      e.set_detail("first config recorded in this chain");
    } else if (absl::StatusOr<std::string> raw = store.GetInputs(last); raw.ok()) {
      DaemonConfig before;
      e.set_detail(before.ParseFromString(*raw) ? DescribeConfigChange(before, config)
                                                : "changed (the previous config does not parse)");
    } else {
      e.set_detail(absl::StrCat("changed (the previous config is not stored: ", raw.status().message(), ")"));
    }
    EXO_RETURN_IF_ERROR(engine.RecordGovernance(e, bytes));
    LogInfo("governance: config %s recorded: %s", absl::BytesToHexString(digest).substr(0, 16), e.detail());
  }
  const std::string last_key = engine.LastGovernanceDigest(GOVERNANCE_KIND_SIGNING_KEY, "chain-head key");
  if (signing_public_key != last_key) {
    GovernanceEvent e;
    e.set_kind(GOVERNANCE_KIND_SIGNING_KEY);
    e.set_subject("chain-head key");
    e.set_digest(signing_public_key);
    e.set_detail(last_key.empty() ? "first chain-head signing key recorded in this chain"
                                  : absl::StrCat("replaced; heads signed before were signed by key ",
                                                 absl::BytesToHexString(last_key)));
    EXO_RETURN_IF_ERROR(engine.RecordGovernance(e));
    LogInfo("governance: chain-head key %s recorded: %s", absl::BytesToHexString(signing_public_key), e.detail());
  }
  return absl::OkStatus();
}

}  // namespace exo::daemon
