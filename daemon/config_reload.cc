#include "daemon/config_reload.h"

#include "absl/strings/str_cat.h"
#include "daemon/config.h"
#include "daemon/governance.h"
#include "exo/deterministic.h"
#include "exo/log.h"
#include "exo/sha256.h"
#include "google/protobuf/util/message_differencer.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT

absl::Status CheckReloadable(const DaemonConfig& current, const DaemonConfig& next) {
  // `next` with every reloadable field put back as it is now: what is left is what changed
  // and takes a restart.
  DaemonConfig rest = next;
  *rest.mutable_risk() = current.risk();
  rest.mutable_routing()->set_low_urgency_band_bps(current.routing().low_urgency_band_bps());
  rest.mutable_routing()->set_normal_urgency_band_bps(current.routing().normal_urgency_band_bps());
  rest.mutable_routing()->set_method(current.routing().method());
  rest.mutable_routing()->set_replan_interval_ms(current.routing().replan_interval_ms());
  rest.mutable_routing()->set_reject_backoff_ms(current.routing().reject_backoff_ms());
  rest.mutable_routing()->set_child_timeout_ms(current.routing().child_timeout_ms());
  rest.mutable_routing()->set_settle_approvals(current.routing().settle_approvals());
  rest.mutable_store()->set_checkpoint_every_deltas(current.store().checkpoint_every_deltas());
  if (current.has_access()) {
    *rest.mutable_access() = current.access();
  } else {
    rest.clear_access();
  }
  for (int i = 0; i < rest.venues_size() && i < current.venues_size(); ++i) {
    VenueConfig* v = rest.mutable_venues(i);
    v->set_taker_fee_bps(current.venues(i).taker_fee_bps());
    v->set_impact_bps(current.venues(i).impact_bps());
    v->set_max_book_age_ms(current.venues(i).max_book_age_ms());
  }
  if (google::protobuf::util::MessageDifferencer::Equals(current, rest)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("takes a restart: ", DescribeConfigChange(current, rest, 1000),
                                                    " (a running node takes only ", kReloadableFields,
                                                    "; nothing applied)"));
}

ConfigReloader::ConfigReloader(std::string path, RouterEngine* engine, const store::DeltaStore* store, Clock* clock)
    : path_(std::move(path)), engine_(engine), store_(store), clock_(clock) {
  status_.set_path(path_);
}

absl::StatusOr<ReloadConfigResponse> ConfigReloader::Reload(bool dry_run, const std::string& how) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<ReloadConfigResponse> out = ReloadLocked(dry_run, how);
  if (dry_run) return out;
  if (!out.ok()) {
    status_.set_reloads_refused(status_.reloads_refused() + 1);
    status_.set_last_refused(std::string(out.status().message()));
    LogWarning("config reload %s refused: %s", how, out.status().message());
    return out;
  }
  status_.clear_last_refused();
  if (out->changed()) {
    status_.set_reloads_applied(status_.reloads_applied() + 1);
    status_.set_last_applied_ns(clock_->NowNs());
    LogInfo("config reloaded from %s %s (chain sequence %d): %s", path_, how, out->sequence(), out->change());
  } else {
    LogInfo("config reload: %s is the config in force; nothing changed", path_);
  }
  return out;
}

absl::StatusOr<ReloadConfigResponse> ConfigReloader::ReloadLocked(bool dry_run, const std::string& how) {
  if (path_.empty()) {
    return absl::FailedPreconditionError(
        "exorouted runs on its embedded default config (started without --config FILE): there is no file to "
        "read again; restart it with --config to change its config");
  }
  absl::StatusOr<DaemonConfig> next = LoadConfig(path_);
  // The file's own error names it and the field ("config /etc/…: risk[0].symbol: …").
  if (!next.ok()) return absl::FailedPreconditionError(next.status().message());
  const DaemonConfig& current = engine_->config();
  if (absl::Status s = CheckReloadable(current, *next); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("config ", path_, ": ", s.message()));
  }
  ReloadConfigResponse out;
  out.set_path(path_);
  if (google::protobuf::util::MessageDifferencer::Equals(current, *next)) return out;
  out.set_changed(true);
  out.set_change(DescribeConfigChange(current, *next));
  if (dry_run) return out;
  // Recorded before it is in force: a decision that reads it comes after the event in the chain.
  // The event also says how it was asked.
  PlanDelta recorded;
  absl::StatusOr<bool> stored =
      RecordConfigApplied(*next, *engine_, *store_, &recorded, absl::StrCat("(reloaded ", how, ")"));
  if (!stored.ok()) return stored.status();
  if (absl::Status s = engine_->ApplyConfig(*next); !s.ok()) return s;  // (CheckReloadable has kept venues.)
  // (Not recorded only if the chain's last config were this one already: not while every
  // config in force is recorded before it applies.)
  if (*stored) out.set_sequence(recorded.sequence());
  return out;
}

ConfigStatus ConfigReloader::Status() const {
  ConfigStatus out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = status_;
  }
  out.set_digest(DigestToString(Sha256Of(SerializeDeterministic(engine_->config()))));
  return out;
}

}  // namespace exo::daemon
