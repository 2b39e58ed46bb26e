// Reloading the config of a running node (AdminService.ReloadConfig, SIGHUP): the file exorouted
// was started with is read and checked again, and when it changes only what a running node can
// take — risk limits, urgency bands, the solver method, the re-plan and checkpoint intervals,
// venues' terms, who may call what (access) — it is recorded in the chain and put in force; anything else changed refuses
// the whole reload. docs/configuration.md, "Reloading the config".
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/router_engine.h"
#include "exoroute/v1/admin.pb.h"
#include "exoroute/v1/config.pb.h"
#include "store/delta_store.h"

namespace exo::daemon {

// What a reload may change, as the config names the fields.
inline constexpr char kReloadableFields[] =
    "risk, routing.low_urgency_band_bps, routing.normal_urgency_band_bps, routing.method, "
    "routing.replan_interval_ms, routing.reject_backoff_ms, routing.child_timeout_ms, routing.settle_approvals, store.checkpoint_every_deltas, venues[].taker_fee_bps, venues[].impact_bps, "
    "venues[].max_book_age_ms, access";

// OK when `next` differs from `current` only in kReloadableFields; else FailedPrecondition
// naming what else differs ("takes a restart: modified: listen.address: … (a running node takes
// only …; nothing applied)").
absl::Status CheckReloadable(const exoroute::v1::DaemonConfig& current, const exoroute::v1::DaemonConfig& next);

class ConfigReloader {
 public:
  // `path`: the file the node was started with ("" = the embedded default: nothing to reload).
  ConfigReloader(std::string path, RouterEngine* engine, const store::DeltaStore* store, Clock* clock);

  // Reads the file and, unless `dry_run`, records and applies it (one reload at a time).
  // `how` says how it was asked, for the chain's event and the log ("by client ops-1", "on
  // SIGHUP").
  // FailedPrecondition: the file does not load (its error), or changes what takes a restart;
  // nothing is applied then. Each outcome is counted and logged.
  absl::StatusOr<exoroute::v1::ReloadConfigResponse> Reload(bool dry_run, const std::string& how);
  exoroute::v1::ConfigStatus Status() const;

 private:
  absl::StatusOr<exoroute::v1::ReloadConfigResponse> ReloadLocked(bool dry_run, const std::string& how);

  const std::string path_;
  RouterEngine* const engine_;
  const store::DeltaStore* const store_;
  Clock* const clock_;
  mutable std::mutex mu_;              // One reload at a time; guards the counts.
  exoroute::v1::ConfigStatus status_;  // Guarded by mu_ (its digest is filled by Status()).
};

}  // namespace exo::daemon
