// RouterEngine's node events: privacy refusals, governance events, and trading halts and
// resumes by node, venue and symbol (recorded, and read back at start-up).
#include "daemon/router_engine.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "daemon/internal/router_engine_internal.h"
#include "exo/log.h"
#include "exo/status_macros.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT
using store::PendingDelta;

absl::Status RouterEngine::RecordPrivacyRefusal(const PrivacyRefused& refusal) {
  PendingDelta p;
  p.delta.set_plan_id(absl::StrCat("privacy/", refusal.signal(), "@", refusal.window_start_s()));
  *p.delta.mutable_privacy_refused() = refusal;
  return AppendNodeEvent(std::move(p));
}

absl::StatusOr<bool> RouterEngine::RecordGovernanceIfChanged(
    GovernanceEvent event, const std::function<std::string(const std::string& previous)>& detail,
    std::string inputs, PlanDelta* stored) {
  std::lock_guard<std::mutex> serial(governance_mu_);  // Check and record as one step.
  std::string previous;
  {
    std::lock_guard<std::mutex> lock(node_events_mu_);
    auto it = last_governance_.find({event.kind(), event.subject()});
    if (it != last_governance_.end()) previous = it->second;
  }
  if (previous == event.digest()) return false;
  event.set_detail(detail(previous));
  PendingDelta p;
  p.delta.set_plan_id(kGovernancePlanId);
  *p.delta.mutable_governance() = event;
  p.inputs = std::move(inputs);
  EXO_RETURN_IF_ERROR(AppendNodeEvent(std::move(p), stored));
  return true;
}

namespace {
constexpr char kTradingSubject[] = "trading";
constexpr char kHalted[] = "halted";
constexpr char kActive[] = "active";
constexpr char kVenueSubjectPrefix[] = "trading venue ";
constexpr char kSymbolSubjectPrefix[] = "trading symbol ";

std::string UtcSeconds(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}
}  // namespace

std::string RouterEngine::TradingScope::Subject() const {
  if (!venue.empty()) return absl::StrCat(kVenueSubjectPrefix, venue);
  if (!symbol.empty()) return absl::StrCat(kSymbolSubjectPrefix, symbol);
  return kTradingSubject;
}

std::string RouterEngine::KnownSymbols() const {
  std::vector<std::string> known;
  for (const auto& i : config().instruments()) known.push_back(i.symbol());
  return absl::StrJoin(known, ", ");
}

absl::StatusOr<bool> RouterEngine::SetTrading(bool halted, const std::string& reason, const TradingScope& scope) {
  if (!scope.venue.empty() && !scope.symbol.empty()) {
    return absl::InvalidArgumentError("venue, symbol: halt or resume one venue or one symbol, not both");
  }
  if (!scope.venue.empty() && venues_.count(scope.venue) == 0) {
    std::vector<std::string> known;
    for (const auto& [id, v] : venues_) known.push_back(id);
    return absl::InvalidArgumentError(absl::StrCat("venue: unknown venue \"", scope.venue, "\" (this node's: ",
                                                   absl::StrJoin(known, ", "), ")"));
  }
  if (!scope.symbol.empty() && FindInstrument(scope.symbol) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("symbol: unknown symbol \"", scope.symbol,
                                                   "\" (this node trades: ", KnownSymbols(), ")"));
  }
  std::lock_guard<std::mutex> serial(trading_change_mu_);
  const bool was = trading(scope).halted;
  if (!halted && !was) return false;  // Never halted, or resumed already.
  GovernanceEvent e;
  e.set_kind(GOVERNANCE_KIND_TRADING);
  e.set_subject(scope.Subject());
  e.set_digest(halted ? kHalted : kActive);
  PlanDelta stored;
  EXO_ASSIGN_OR_RETURN(bool recorded, RecordGovernanceIfChanged(
                                          e, [&](const std::string&) { return reason; }, "", &stored));
  if (!recorded) return false;  // Halted already.
  {
    std::lock_guard<std::mutex> lock(trading_mu_);
    trading_[scope.Subject()] = Trading{halted, reason, stored.event_time_ns(), stored.sequence()};
    if (scope.venue.empty() && scope.symbol.empty()) halted_ = halted;
    if (!scope.symbol.empty() && halted != was) symbols_halted_ += halted ? 1 : -1;
  }
  const std::string what = !scope.venue.empty()    ? absl::StrCat("trading at venue ", scope.venue)
                           : !scope.symbol.empty() ? absl::StrCat("trading in ", scope.symbol)
                                                   : std::string("trading");
  if (halted) {
    LogWarning("%s halted (recorded at sequence %d): %s", what, stored.sequence(), reason);
  } else {
    LogInfo("%s resumed (recorded at sequence %d): %s", what, stored.sequence(), reason);
  }
  return true;
}

exoroute::v1::TradingStatus RouterEngine::Trading::ToProto() const {
  exoroute::v1::TradingStatus out;
  out.set_halted(halted);
  out.set_reason(reason);
  out.set_since_ns(since_ns);
  out.set_sequence(sequence);
  return out;
}

RouterEngine::Trading RouterEngine::trading(const TradingScope& scope) const {
  std::lock_guard<std::mutex> lock(trading_mu_);
  auto it = trading_.find(scope.Subject());
  return it == trading_.end() ? Trading{} : it->second;
}

std::map<std::string, RouterEngine::Trading> RouterEngine::TradingBySymbol() const {
  std::map<std::string, Trading> out;
  std::lock_guard<std::mutex> lock(trading_mu_);
  for (auto it = trading_.lower_bound(kSymbolSubjectPrefix);
       it != trading_.end() && absl::StartsWith(it->first, kSymbolSubjectPrefix); ++it) {
    out[it->first.substr(std::string_view(kSymbolSubjectPrefix).size())] = it->second;
  }
  return out;
}

std::string RouterEngine::VenueHalt(const std::string& venue) const {
  const Trading t = trading(TradingScope::Venue(venue));
  if (!t.halted) return "";
  return absl::StrCat("halted by an operator since ", UtcSeconds(t.since_ns), ": ", t.reason);
}

bool RouterEngine::TradingHalted(const std::string& symbol) const {
  if (halted_.load()) return true;
  return symbols_halted_.load() > 0 && trading(TradingScope::Symbol(symbol)).halted;
}

absl::Status RouterEngine::CheckTradingAllowed(const std::string& symbol) const {
  if (!TradingHalted(symbol)) return absl::OkStatus();
  if (const Trading t = trading(); t.halted) {
    return absl::FailedPreconditionError(absl::StrCat("trading is halted on this node since ", UtcSeconds(t.since_ns),
                                                      ": ", t.reason,
                                                      " (exoroutectl resume lifts it; plan-only routes are answered)"));
  }
  if (const Trading t = trading(TradingScope::Symbol(symbol)); t.halted) {
    return absl::FailedPreconditionError(absl::StrCat("trading in ", symbol, " is halted on this node since ",
                                                      UtcSeconds(t.since_ns), ": ", t.reason,
                                                      " (exoroutectl resume --symbol ", symbol,
                                                      " lifts it; plan-only routes are answered)"));
  }
  return absl::OkStatus();  // Resumed meanwhile.
}

absl::Status RouterEngine::RestoreTrading() {
  // Which subjects the chain last recorded as halted or active.
  std::map<std::string, bool> last;  // subject -> halted
  {
    std::lock_guard<std::mutex> lock(node_events_mu_);
    for (const auto& [key, digest] : last_governance_) {
      if (key.first == GOVERNANCE_KIND_TRADING) last[key.second] = digest == kHalted;
    }
  }
  if (last.empty()) return absl::OkStatus();  // Never halted.
  // The reason and time of each one's last change: the node's governance events are few.
  std::map<std::string, Trading> read;
  EXO_RETURN_IF_ERROR(store_->ScanPlan(kGovernancePlanId, 1, [&](const PlanDelta& d, std::string_view) {
    if (d.has_governance() && d.governance().kind() == GOVERNANCE_KIND_TRADING) {
      read[d.governance().subject()] = Trading{false, d.governance().detail(), d.event_time_ns(), d.sequence()};
    }
    return true;
  }));
  std::lock_guard<std::mutex> lock(trading_mu_);
  for (const auto& [subject, halted] : last) {
    Trading t = read[subject];
    t.halted = halted;  // (The digest the chain last recorded decides.)
    if (subject == kTradingSubject) {
      trading_[subject] = t;
      halted_ = halted;
      if (halted) LogWarning("trading is halted on this node (since sequence %d): %s", t.sequence, t.reason);
      continue;
    }
    if (absl::StartsWith(subject, kVenueSubjectPrefix)) {
      const std::string venue = subject.substr(std::string_view(kVenueSubjectPrefix).size());
      if (venues_.count(venue) == 0) {
        if (halted) LogWarning("venue %s was halted and is no longer configured: its halt is not applied", venue);
        continue;
      }
      trading_[subject] = t;
      if (halted) LogWarning("trading at venue %s is halted (since sequence %d): %s", venue, t.sequence, t.reason);
      continue;
    }
    if (absl::StartsWith(subject, kSymbolSubjectPrefix)) {
      const std::string symbol = subject.substr(std::string_view(kSymbolSubjectPrefix).size());
      if (FindInstrument(symbol) == nullptr) {
        if (halted) LogWarning("symbol %s was halted and is no longer configured: its halt is not applied", symbol);
        continue;
      }
      trading_[subject] = t;
      if (halted) {
        ++symbols_halted_;
        LogWarning("trading in %s is halted (since sequence %d): %s", symbol, t.sequence, t.reason);
      }
      continue;
    }
    LogWarning("a trading event about \"%s\" (neither the node, a venue nor a symbol) is ignored", subject);
  }
  return absl::OkStatus();
}

absl::Status RouterEngine::AppendNodeEvent(PendingDelta p, PlanDelta* out) {
  p.delta.set_event_time_ns(clock_->NowNs());
  std::shared_lock<std::shared_mutex> appending = AppendLock();  // (Before node_events_mu_: a checkpoint's order.)
  std::lock_guard<std::mutex> lock(node_events_mu_);
  p.delta.set_plan_version(node_event_versions_[p.delta.plan_id()] + 1);
  std::vector<PendingDelta> batch;
  batch.push_back(std::move(p));
  EXO_ASSIGN_OR_RETURN(std::vector<PlanDelta> stored, Record(std::move(batch)));
  const PlanDelta& d = stored.front();
  node_event_versions_[d.plan_id()] = d.plan_version();
  if (d.has_governance()) last_governance_[{d.governance().kind(), d.governance().subject()}] = d.governance().digest();
  if (out != nullptr) *out = d;
  return absl::OkStatus();
}

}  // namespace exo::daemon
