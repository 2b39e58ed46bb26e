#include "daemon/cluster/cluster_node.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "daemon/cluster/discrete_noise.h"
#include "daemon/crash_point.h"
#include "daemon/plan_fold.h"
#include "daemon/request_validation.h"
#include "daemon/solve_inputs.h"
#include "exo/fixed_point.h"
#include "exo/log.h"
#include "exo/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "solver/solver.h"

namespace exo::daemon::cluster {
namespace {

using namespace exoroute::v1;  // NOLINT: the wire types of this file.

// A session the coordinator never finished (it died, or a peer did) is forgotten after this.
constexpr int64_t kSessionTtlNs = 60'000'000'000;

void ApplyNarrow(solver::VenueGroup& group, Narrow previous) {
  if (previous == NARROW_LOWER) group.Narrow(/*lower=*/true);
  if (previous == NARROW_UPPER) group.Narrow(/*lower=*/false);
}

// An Exchange answer: the reply into its field of the oneof, or the error in its place.
template <typename Reply>
void Put(absl::StatusOr<Reply> result, Reply* (PeerAnswer::*field)(), PeerAnswer* answer) {
  if (result.ok()) {
    *(answer->*field)() = *std::move(result);
    return;
  }
  answer->mutable_error()->set_code(static_cast<int>(result.status().code()));
  answer->mutable_error()->set_message(std::string(result.status().message()));
}

}  // namespace

ClusterNode::ClusterNode(RouterEngine* engine, const PairKeys* keys, KeyDirectory* directory,
                         PrivacyConfig privacy, store::DeltaStore* store, Clock* clock)
    : engine_(engine),
      privacy_(std::move(privacy)),
      store_(store),
      keys_(keys),
      directory_(directory),
      node_id_(keys->node_id()),
      clock_(clock) {}

namespace {

// Releases budgeted at once: Prepare's two and twelve rounds of four (one synced ledger write
// covers a typical route; unused budget is not given back).
constexpr int kReserveValues = 2 + 4 * 12;

int64_t WindowSeconds(const PrivacyConfig& p) { return p.window_s() > 0 ? p.window_s() : 86400; }

std::string Signal(const std::string& symbol) { return absl::StrCat("supply/", symbol); }

}  // namespace

absl::Status ClusterNode::Reserve(Session& s, int values) {
  const int64_t need = static_cast<int64_t>(values) * privacy_.epsilon_milli();
  if (s.reserved_milli >= need) {
    s.reserved_milli -= need;
    return absl::OkStatus();
  }
  const int64_t window = WindowSeconds(privacy_);
  const int64_t start = clock_->NowNs() / 1'000'000'000 / window * window;
  const int64_t chunk = std::max<int64_t>(need, static_cast<int64_t>(kReserveValues) * privacy_.epsilon_milli());
  const std::string key = absl::StrCat(Signal(s.order.symbol()), "@", start);
  absl::StatusOr<int64_t> spent = store_->Spend(key, chunk, privacy_.budget_milli());
  if (!spent.ok() && absl::IsResourceExhausted(spent.status()) && chunk > need) {
    spent = store_->Spend(key, need, privacy_.budget_milli());  // The last of the window.
    if (spent.ok()) {
      s.reserved_milli = 0;
      return absl::OkStatus();
    }
  }
  if (!spent.ok()) {
    if (absl::IsResourceExhausted(spent.status())) {
      ++budget_refusals_;
      LogWarning("node %s: privacy budget exhausted, not releasing: %s", node_id_,
                 std::string(spent.status().message()));
      // The refusal is an audit event in the node's chain (once per refused release).
      PrivacyRefused refusal;
      refusal.set_signal(Signal(s.order.symbol()));
      refusal.set_window_start_s(start);
      absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> ledger = store_->Spent(key);
      if (ledger.ok() && !ledger->empty()) refusal.set_spent_milli(ledger->front().second);
      refusal.set_limit_milli(privacy_.budget_milli());
      refusal.set_requested_milli(need);
      refusal.set_route_id(s.order.id());
      if (absl::Status a = engine_->RecordPrivacyRefusal(refusal); !a.ok()) {
        LogError("node %s: cannot record the privacy refusal: %s", node_id_, a.ToString());
      }
      return absl::ResourceExhaustedError(absl::StrCat("node ", node_id_, ": ", spent.status().message()));
    }
    return spent.status();
  }
  s.reserved_milli += chunk - need;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ClusterNode::NoisyCount(Session& s, const std::string& release, int64_t value) {
  if (!noisy()) return value;
  EXO_ASSIGN_OR_RETURN(int64_t z, DiscreteLaplace(static_cast<uint64_t>(privacy_.sensitivity()) * 1000,
                                                  privacy_.epsilon_milli()));
  NoiseDraw* d = &s.noise.emplace_back();
  d->set_release(release);
  d->set_value(z);
  return value + z;
}

absl::StatusOr<double> ClusterNode::NoisyCost(Session& s, const std::string& release, double value,
                                              double unit) {
  if (!noisy()) return value;
  EXO_ASSIGN_OR_RETURN(int64_t z, NoisyCount(s, release, 0));
  return value + static_cast<double>(z) * std::fabs(unit);
}

Masks ClusterNode::MasksFor(const Session& s, const std::string& route_id, const char* kind,
                            uint32_t round) const {
  return MaskFor(node_id_, s.pair_prfs, route_id, s.attempt, kind, round);
}

template <typename Map>
absl::Status ClusterNode::CheckRoom(const Map& open, const std::string& route_id, const char* what,
                                    const char* closes) {
  ExpireOld();
  if (open.size() < kMaxOpenRoutes || open.count(route_id) > 0) return absl::OkStatus();
  absl::Status refused = absl::UnavailableError(absl::StrCat(
      "node ", node_id_, " has ", open.size(), " routes ", what, ", the most it keeps at once (each closes at ",
      closes, ", or ", kSessionTtlNs / 1'000'000'000, " s after it opened): route ", route_id, " refused"));
  room_warning_.Log(absl::StrCat(refused.message(), " (a coordinator opens routes and does not close them?)"));
  ++routes_refused_;
  return refused;
}

void ClusterNode::ExpireOld() {
  const int64_t now = clock_->NowNs();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = now - it->second->opened_ns > kSessionTtlNs ? sessions_.erase(it) : std::next(it);
  }
  for (auto it = probes_.begin(); it != probes_.end();) {
    it = now - it->second.opened_ns > kSessionTtlNs ? probes_.erase(it) : std::next(it);
  }
}

namespace {

// The calls that open a route (BestPrice, Prepare): the release they were sent by and the
// order they are about.
absl::Status CheckOpening(uint32_t protocol, const std::string& node_id, const std::string& route_id,
                          const ParentOrder& order, RouteMode mode) {
  if (protocol != ClusterNode::kPeerProtocol) {
    return absl::UnimplementedError(absl::StrCat(
        "protocol: node ", node_id, " speaks peer protocol ", ClusterNode::kPeerProtocol, ", the coordinator ", protocol,
        " (run one exoroute release on every node of a cluster)"));
  }
  if (route_id.empty()) return absl::InvalidArgumentError("route_id: required");
  if (order.id() != route_id) return absl::InvalidArgumentError("order.id: must equal route_id");
  // Enums the node records with its share: a value its chain's codec does not know would make
  // the share unreadable (and its chain unverifiable).
  if (!Side_IsValid(order.side())) return absl::InvalidArgumentError(absl::StrCat("order.side: not a Side, got ", order.side()));
  if (!TimeInForce_IsValid(order.time_in_force())) {
    return absl::InvalidArgumentError(
        absl::StrCat("order.time_in_force: not a TimeInForce, got ", order.time_in_force()));
  }
  if (!Urgency_IsValid(order.urgency())) {
    return absl::InvalidArgumentError(absl::StrCat("order.urgency: not an Urgency, got ", order.urgency()));
  }
  if (!RouteMode_IsValid(mode)) return absl::InvalidArgumentError(absl::StrCat("mode: not a RouteMode, got ", mode));
  return absl::OkStatus();
}

// Why this node takes no share of `order` now: its trading is halted (all of it, or the order's
// symbol) and the order trades; empty when it may.
std::string HaltedFor(const RouterEngine& engine, const ParentOrder& order, RouteMode mode) {
  if (mode != ROUTE_MODE_EXECUTE) return "";
  const absl::Status s = engine.CheckTradingAllowed(order.symbol());
  return s.ok() ? "" : std::string(s.message());
}

// What a node answers a route from: its solver input for `order` (its books now).
absl::StatusOr<SolveInput> RouteSnapshot(RouterEngine& engine, const ParentOrder& order, RouteMode mode,
                                         std::string* halted) {
  // A halted node (or one that halted the order's symbol) takes no share of a route that
  // trades, but still answers — as a node whose every venue is excluded, with why in `halted` —
  // so that its working quantity counts in the coordinator's limits (PrepareReply.halted).
  *halted = HaltedFor(engine, order, mode);
  EXO_ASSIGN_OR_RETURN(SolveInput input, engine.SnapshotInput(order, mode));
  if (!halted->empty()) {
    for (VenueInput& v : *input.mutable_venues()) {
      if (v.exclusion().empty()) v.set_exclusion(*halted);
    }
  }
  // A cluster route's urgency and arrival bands are over every node's venues: the coordinator
  // fixes their limits (PrepareRequest.band_limit, arrival_limit), never this node's venues alone.
  input.set_price_band_bps(0);
  input.set_arrival_band_bps(0);
  return input;
}

// `input` with the venues `req` excludes marked excluded, cut at the route's band limit.
absl::Status ApplyPrepare(const PrepareRequest& req, SolveInput* input) {
  for (int i = 0; i < req.excluded_size(); ++i) {
    const VenueExclusion& x = req.excluded(i);
    if (x.venue().empty() || x.reason().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("excluded[", i, "]: venue and reason are required"));
    }
    for (VenueInput& v : *input->mutable_venues()) {
      if (v.venue() == x.venue() && v.exclusion().empty()) v.set_exclusion(x.reason());
    }
  }
  if (req.band_limit() < 0 || req.band_limit() > kMaxUnits) {
    return absl::InvalidArgumentError(
        absl::StrCat("band_limit: must be within 0..2^53 price units, got ", req.band_limit()));
  }
  input->set_band_limit(req.band_limit());
  if (req.arrival_limit() < 0 || req.arrival_limit() > kMaxUnits) {
    return absl::InvalidArgumentError(
        absl::StrCat("arrival_limit: must be within 0..2^53 price units, got ", req.arrival_limit()));
  }
  input->set_arrival_limit(req.arrival_limit());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BestPriceReply> ClusterNode::BestPrice(const BestPriceRequest& req) {
  EXO_RETURN_IF_ERROR(CheckOpening(req.protocol(), node_id_, req.route_id(), req.order(), req.mode()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    EXO_RETURN_IF_ERROR(CheckRoom(probes_, req.route_id(), "probed for a best price", "its Prepare or Abort"));
  }
  Probe probe;
  probe.order = req.order();
  probe.mode = req.mode();
  probe.opened_ns = clock_->NowNs();
  EXO_ASSIGN_OR_RETURN(probe.input, RouteSnapshot(*engine_, req.order(), req.mode(), &probe.halted));
  BestPriceReply reply;
  reply.set_node(node_id_);
  const std::vector<solver::LocalProblem> usable = solver::BuildLocalProblems(probe.input, nullptr, engine_->curves());
  reply.set_price(solver::BestPrice(usable, req.order().side() == SIDE_BUY));
  // The market's quotes over the node's venues (an arrival band's mid is the market's, whatever
  // the order's limit: SolveInput.mid_rule).
  const solver::Quotes quotes = solver::MarketQuotes(probe.input);
  reply.set_best_bid(quotes.best_bid);
  reply.set_best_ask(quotes.best_ask);
  std::lock_guard<std::mutex> lock(mu_);
  ExpireOld();
  probes_[req.route_id()] = std::move(probe);
  return reply;
}

absl::StatusOr<SolveInput> ClusterNode::PreparedInput(const PrepareRequest& req, std::string* halted) {
  // The route's first Prepare after a BestPrice decides from the books that price came from.
  std::optional<Probe> probe;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = probes_.find(req.route_id()); it != probes_.end()) {
      probe = std::move(it->second);
      probes_.erase(it);
    }
  }
  SolveInput input;
  // (Not when trading was halted or resumed since: the probe's venues would say otherwise.)
  if (probe && probe->mode == req.mode() && google::protobuf::util::MessageDifferencer::Equals(probe->order, req.order()) &&
      probe->halted.empty() == HaltedFor(*engine_, req.order(), req.mode()).empty()) {
    input = std::move(probe->input);
    *halted = std::move(probe->halted);
  } else {
    EXO_ASSIGN_OR_RETURN(input, RouteSnapshot(*engine_, req.order(), req.mode(), halted));
  }
  EXO_RETURN_IF_ERROR(ApplyPrepare(req, &input));
  return input;
}

absl::StatusOr<PrepareReply> ClusterNode::Prepare(const PrepareRequest& req) {
  EXO_RETURN_IF_ERROR(CheckOpening(req.protocol(), node_id_, req.route_id(), req.order(), req.mode()));
  if (std::find(req.participants().begin(), req.participants().end(), node_id_) ==
      req.participants().end()) {
    return absl::InvalidArgumentError(absl::StrCat("participants: must include this node (", node_id_, ")"));
  }
  if (!std::is_sorted(req.participants().begin(), req.participants().end()) ||
      std::adjacent_find(req.participants().begin(), req.participants().end()) != req.participants().end()) {
    return absl::InvalidArgumentError("participants: must be sorted and unique");
  }
  {
    // Before any work (a noised release spends budget): a faulty coordinator that opens routes
    // and never closes them cannot make this node keep more than that.
    std::lock_guard<std::mutex> lock(mu_);
    EXO_RETURN_IF_ERROR(CheckRoom(sessions_, req.route_id(), "open", "Execute or Abort"));
  }
  if (req.working_of_size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("working_of: at most 2 (every client's, one client's), got ",
                                                   req.working_of_size()));
  }
  if (req.opening_size() > kMaxOpening) {
    return absl::InvalidArgumentError(absl::StrCat("opening: at most ", kMaxOpening, " λ, got ", req.opening_size()));
  }
  for (int i = 0; i < req.opening_size(); ++i) {
    if (!std::isfinite(req.opening(i))) return absl::InvalidArgumentError(absl::StrCat("opening[", i, "]: must be finite"));
  }
  auto session = std::make_shared<Session>();
  session->order = req.order();
  session->mode = req.mode();
  session->opened_ns = clock_->NowNs();
  session->attempt = req.attempt();
  std::string halted;
  EXO_ASSIGN_OR_RETURN(session->input, PreparedInput(req, &halted));
  session->problems = solver::BuildLocalProblems(session->input, nullptr, engine_->curves());
  session->group = std::make_unique<solver::VenueGroup>(session->problems);
  solver::GroupSummary g = session->group->Summary();
  PrepareReply reply;
  for (const std::string& peer : req.participants()) {
    if (peer == node_id_) continue;
    absl::StatusOr<Prf> prf = directory_->PairPrfWith(peer, req.refresh_keys());
    if (!prf.ok()) {
      NodeUnreachable* u = reply.add_unreachable();
      u->set_node(peer);
      u->set_reason(std::string(prf.status().message()));
      continue;
    }
    session->pair_prfs.emplace(peer, *std::move(prf));
    KeyUse* use = reply.add_keys_used();
    use->set_node(peer);
    use->set_fingerprint(directory_->CachedFingerprint(peer));
  }
  Masks m = MasksFor(*session, req.route_id(), "prepare", 0);
  if (noisy()) EXO_RETURN_IF_ERROR(Reserve(*session, 2));
  const double unit = std::max(std::fabs(g.min_cost), std::fabs(g.max_cost));
  EXO_ASSIGN_OR_RETURN(int64_t capacity, NoisyCount(*session, absl::StrCat("prepare/", req.attempt(), "/capacity"), g.capacity));
  EXO_ASSIGN_OR_RETURN(double total_cost,
                       NoisyCost(*session, absl::StrCat("prepare/", req.attempt(), "/total_cost"), g.total_cost, std::isfinite(unit) ? unit : 0));
  reply.set_node(node_id_);
  reply.set_halted(halted);
  reply.set_protocol(kPeerProtocol);
  reply.set_noisy(noisy());
  if (const Instrument* inst = engine_->FindInstrument(req.order().symbol())) *reply.mutable_instrument() = *inst;
  reply.set_capacity(static_cast<uint64_t>(capacity) + m.q[0]);
  // What this node's executed plans may still fill, per scope asked (q[1], q[2]: unused by the
  // summary): the coordinator's working-quantity limits count the cluster's total.
  for (int i = 0; i < req.working_of_size(); ++i) {
    const int64_t working = engine_->WorkingQuantity(req.order().symbol(), req.working_of(i));
    reply.add_working(static_cast<uint64_t>(working) + m.q[1 + i]);
  }
  reply.set_min_cost(g.min_cost);
  reply.set_max_cost(g.max_cost);
  *reply.mutable_total_cost() = ToWire(CostToFixed(total_cost) + m.c[0]);
  reply.set_venues(static_cast<uint32_t>(session->problems.size()));
  reply.set_key_fingerprint(keys_->fingerprint());
  reply.set_smallest_lot(engine_->SmallestLot(req.order()));
  for (const solver::LocalProblem& p : session->problems) {
    if (reply.usable_lot_min() == 0 || p.lot_size() < reply.usable_lot_min()) reply.set_usable_lot_min(p.lot_size());
    reply.set_usable_lot_max(std::max(reply.usable_lot_max(), p.lot_size()));
  }
  // (Or keeps the route's shortfall record: an executed GTC or GTT route no node took a share of
  // leaves no plan, only that; one that cannot be read is taken as kept.)
  bool taken = engine_->GetPlan(req.route_id()).ok();
  if (!taken && shortfall_ != nullptr && !IsSubRouteId(req.route_id())) {
    absl::StatusOr<std::optional<ShortfallRecord>> record = shortfall_->Record(req.route_id());
    taken = !record.ok() || record->has_value();
  }
  reply.set_has_plan(taken);
  if (shortfall_ != nullptr) {
    absl::StatusOr<std::optional<CancelNotice>> notice = shortfall_->CancelNoticeOf(RouteOf(req.route_id()));
    // (A notice that cannot be read is taken as one: nothing is placed against a cancel.)
    if (!notice.ok()) {
      LogWarning("route %s: its notice of a cancel cannot be read, so it is taken as cancelled: %s", req.route_id(),
                 notice.status().ToString());
    }
    reply.set_cancel_noticed(!notice.ok() || notice->has_value());
  }
  for (std::string& name : engine_->OwnListedVenues(req.order())) reply.add_listed_venues(std::move(name));
  for (const VenueInput& v : session->input.venues()) {
    if (v.exclusion().empty() && v.min_quantity() > v.lot_size()) reply.set_min_sizes(true);
  }
  // The opening rounds, answered with the summary (the session is not shared yet).
  for (int i = 0; i < req.opening_size(); ++i) {
    EvaluateRequest round;
    round.set_route_id(req.route_id());
    round.set_round(static_cast<uint32_t>(i + 1));
    round.set_lambda(req.opening(i));
    EXO_ASSIGN_OR_RETURN(*reply.add_opening(), EvaluateIn(*session, round));
  }
  std::lock_guard<std::mutex> lock(mu_);
  ExpireOld();
  // A new attempt of the same route: what the earlier attempts released stays journaled.
  if (auto it = sessions_.find(req.route_id()); it != sessions_.end()) {
    std::lock_guard<std::mutex> earlier(it->second->mu);
    session->noise.insert(session->noise.begin(), it->second->noise.begin(), it->second->noise.end());
  }
  sessions_[req.route_id()] = std::move(session);
  return reply;
}

absl::StatusOr<std::shared_ptr<ClusterNode::Session>> ClusterNode::Find(
    const std::string& route_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(route_id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("route_id: no open route \"", route_id, "\" on node ", node_id_));
  }
  return it->second;
}

absl::StatusOr<EvaluateReply> ClusterNode::Evaluate(const EvaluateRequest& req) {
  if (!std::isfinite(req.lambda())) return absl::InvalidArgumentError("lambda: must be finite");
  if (req.also_size() > kMaxOpening) {
    return absl::InvalidArgumentError(absl::StrCat("also: at most ", kMaxOpening, " λ, got ", req.also_size()));
  }
  if (req.also_size() > 0 && req.exact()) {
    return absl::InvalidArgumentError("also: not with exact (the exact totals are one release)");
  }
  for (int i = 0; i < req.also_size(); ++i) {
    if (!std::isfinite(req.also(i))) return absl::InvalidArgumentError(absl::StrCat("also[", i, "]: must be finite"));
  }
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, Find(req.route_id()));
  std::lock_guard<std::mutex> lock(s->mu);
  EXO_ASSIGN_OR_RETURN(EvaluateReply reply, EvaluateIn(*s, req));
  // The λ asked along, as the rounds after this one (each its own release: its own masks).
  for (int i = 0; i < req.also_size(); ++i) {
    EvaluateRequest round;
    round.set_route_id(req.route_id());
    round.set_round(req.round() + 1 + static_cast<uint32_t>(i));
    round.set_lambda(req.also(i));
    EXO_ASSIGN_OR_RETURN(*reply.add_also(), EvaluateIn(*s, round));
  }
  return reply;
}

absl::StatusOr<EvaluateReply> ClusterNode::EvaluateIn(Session& s, const EvaluateRequest& req) {
  ApplyNarrow(*s.group, req.previous());
  solver::LocalProblem::Response r;
  uint64_t tied = 0;
  if (req.exact()) {
    // The exact totals finish a noisy search: its bracket, and with it the venues the group
    // froze, came from noisy sums and may be wrong, and the λ may lie outside it. Every venue
    // is asked.
    for (const solver::LocalProblem& p : s.problems) {
      const solver::LocalProblem::Response a = p.At(req.lambda());
      r.lo += a.lo;
      r.hi += a.hi;
      r.cost_lo += a.cost_lo;
      r.cost_hi += a.cost_hi;
      tied += a.hi > a.lo ? 1 : 0;
    }
  } else {
    EXO_ASSIGN_OR_RETURN(r, s.group->Evaluate(req.lambda()));
    tied = s.group->TiedAtLast();
  }
  if (!req.exact() && noisy()) {
    EXO_RETURN_IF_ERROR(Reserve(s, 4));
    const std::string at = absl::StrCat("evaluate/", s.attempt, "/", req.round(), "/");
    EXO_ASSIGN_OR_RETURN(r.lo, NoisyCount(s, at + "lo", r.lo));
    EXO_ASSIGN_OR_RETURN(r.hi, NoisyCount(s, at + "hi", r.hi));
    EXO_ASSIGN_OR_RETURN(r.cost_lo, NoisyCost(s, at + "cost_lo", r.cost_lo, req.lambda()));
    EXO_ASSIGN_OR_RETURN(r.cost_hi, NoisyCost(s, at + "cost_hi", r.cost_hi, req.lambda()));
  }
  Masks m = MasksFor(s, req.route_id(), req.exact() ? "exact" : "evaluate", req.round());
  EvaluateReply reply;
  reply.set_lo(static_cast<uint64_t>(r.lo) + m.q[0]);
  reply.set_hi(static_cast<uint64_t>(r.hi) + m.q[1]);
  reply.set_tied((noisy() ? kTiedUnknown : tied) + m.q[2]);
  *reply.mutable_cost_lo() = ToWire(CostToFixed(r.cost_lo) + m.c[0]);
  *reply.mutable_cost_hi() = ToWire(CostToFixed(r.cost_hi) + m.c[1]);
  return reply;
}

absl::StatusOr<BreakpointReply> ClusterNode::NextBreakpoint(const BreakpointRequest& req) {
  if (std::isnan(req.lambda())) return absl::InvalidArgumentError("lambda: must be a number");
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, Find(req.route_id()));
  std::lock_guard<std::mutex> lock(s->mu);
  ApplyNarrow(*s->group, req.previous());
  // Over every venue, not only those the group still asks: after a noisy search the λ may lie
  // beyond the bracket the group froze venues for (inside it the answer is the same).
  double next = std::numeric_limits<double>::infinity();
  for (const solver::LocalProblem& p : s->problems) next = std::min(next, p.NextBreakpoint(req.lambda()));
  BreakpointReply reply;
  reply.set_next(next);
  return reply;
}

absl::StatusOr<SplitTiesReply> ClusterNode::SplitTies(const SplitTiesRequest& req) {
  if (req.tie_need() < 0 || req.tie_total() < 0 || req.tie_need() > req.tie_total()) {
    return absl::InvalidArgumentError("tie_need: must be within [0, tie_total]");
  }
  if (req.spare_cap() < 0) return absl::InvalidArgumentError("spare_cap: must be >= 0");
  if (!TiePool_IsValid(req.pool())) return absl::InvalidArgumentError(absl::StrCat("pool: not a TiePool, got ", req.pool()));
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, Find(req.route_id()));
  std::lock_guard<std::mutex> lock(s->mu);
  std::vector<int64_t> spare;
  std::vector<int64_t> q = solver::PlaceAtDualPrice(s->problems, req.lambda(), req.tie_need(),
                                                    req.tie_total(), req.spare_cap(), &spare,
                                                    req.pool() == TIE_POOL_BELOW_LAMBDA);
  SplitTiesReply reply;
  // A second tie call (more spare lots asked for) releases the same sum again: the same masks.
  uint64_t placed = MasksFor(*s, req.route_id(), "ties", req.spare_cap() > 0 ? 1 : 0).q[0];
  for (size_t i = 0; i < q.size(); ++i) {
    placed += static_cast<uint64_t>(q[i]);
    if (spare[i] <= 0) continue;
    SpareLots* sl = reply.add_spare();
    sl->set_venue(s->problems[i].venue());
    sl->set_lot(s->problems[i].lot_size());
    sl->set_lots(spare[i]);
  }
  reply.set_placed(placed);
  return reply;
}

absl::StatusOr<Decision> ClusterNode::ShareAt(const Session& s, const FixedDual& fixed,
                                               SolveInput* input) const {
  *input = s.input;
  *input->mutable_fixed_dual() = fixed;
  for (const NoiseDraw& n : s.noise) *input->mutable_fixed_dual()->add_noise() = n;
  // The node's share is what its venues take at the coordinator's λ.
  input->set_quantity(std::numeric_limits<int64_t>::max() / 4);
  return solver::Solve(*input, engine_->curves());
}

absl::StatusOr<LimitsReply> ClusterNode::CheckLimits(const LimitsRequest& req) {
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, Find(req.route_id()));
  std::lock_guard<std::mutex> lock(s->mu);
  SolveInput input;
  EXO_ASSIGN_OR_RETURN(Decision d, ShareAt(*s, req.fixed_dual(), &input));
  // Every share with its venue's minimum, in venue-id order (the solver's drop rule's input).
  std::vector<std::string> venues;
  std::vector<int64_t> shares, min_quantity;
  int a = 0;
  for (const VenueInput& v : input.venues()) {
    int64_t x = 0;
    if (a < d.allocations_size() && d.allocations(a).venue() == v.venue()) x = d.allocations(a++).quantity();
    venues.push_back(v.venue());
    shares.push_back(x);
    min_quantity.push_back(v.min_quantity());
  }
  LimitsReply reply;
  if (req.reveal() == LIMIT_REVEAL_NONE) {
    uint64_t used = 0, below_min = 0;
    for (size_t i = 0; i < shares.size(); ++i) {
      used += shares[i] > 0 ? 1 : 0;
      below_min += shares[i] > 0 && shares[i] < min_quantity[i] ? 1 : 0;
    }
    Masks m = MasksFor(*s, req.route_id(), "limits", 0);
    reply.set_used(used + m.q[0]);
    reply.set_below_min(below_min + m.q[1]);
    return reply;
  }
  const bool below = req.reveal() == LIMIT_REVEAL_BELOW_MIN;
  const size_t i = solver::VenueLimits::Smallest(shares, min_quantity, below);
  if (i == shares.size()) return reply;
  VenueShare* c = reply.mutable_candidate();
  c->set_venue(venues[i]);
  c->set_quantity(shares[i]);
  const solver::ReasonFormat words(s->input);
  c->set_reason(below ? solver::VenueLimits::BelowMinReason(shares[i], min_quantity[i], words)
                      : solver::VenueLimits::MaxVenuesReason(s->order.max_venues(), words));
  return reply;
}

absl::StatusOr<ExecuteReply> ClusterNode::Execute(const ExecuteRequest& req) {
  if (!TiePool_IsValid(req.fixed_dual().pool())) {
    return absl::InvalidArgumentError(
        absl::StrCat("fixed_dual.pool: not a TiePool, got ", req.fixed_dual().pool()));
  }
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, Find(req.route_id()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(req.route_id());
  }
  std::lock_guard<std::mutex> lock(s->mu);
  // The route's record names the whole order: the one this node was asked to share (a
  // coordinator of an older release names none, and the node records the order's own).
  const int64_t named = req.fixed_dual().route().order_quantity();
  if (named != 0 && named != s->order.quantity()) {
    return absl::InvalidArgumentError(absl::StrCat("execute.fixed_dual.route.order_quantity: ", named,
                                                   ", but the order this node prepared is ", s->order.quantity(),
                                                   " units: refused"));
  }
  SolveInput input;
  EXO_ASSIGN_OR_RETURN(Decision d, ShareAt(*s, req.fixed_dual(), &input));
  input.mutable_fixed_dual()->mutable_route()->set_order_quantity(s->order.quantity());
  ExecuteReply reply;
  reply.set_node(node_id_);
  // Every node's share is >= 0 and they add up to at most the order: one share beyond the whole
  // order is a coordinator's error (a λ above λ*, a remainder not this node's), never traded.
  if (d.allocated_quantity() > s->order.quantity()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "execute.fixed_dual: this node's share at λ ", req.fixed_dual().lambda(), " would be ",
        d.allocated_quantity(), " units, more than the whole order (", s->order.quantity(), "): refused"));
  }
  reply.set_quantity(d.allocated_quantity());
  if (d.allocated_quantity() == 0) return reply;  // Nothing for this node's venues.
  // A route whose cancel this node noted (Prepare said so) takes no share here, whatever the
  // coordinator asks.
  if (shortfall_ != nullptr) {
    absl::StatusOr<std::optional<CancelNotice>> notice = shortfall_->CancelNoticeOf(RouteOf(req.route_id()));
    if (!notice.ok()) return notice.status();  // (DATA_LOSS naming the route: no share against it.)
    if (notice->has_value()) {
      return absl::FailedPreconditionError(absl::StrCat("route \"", RouteOf(req.route_id()),
                                                        "\" was cancelled: this node keeps a notice of it"));
    }
  }
  input.set_quantity(d.allocated_quantity());
  ParentOrder order = s->order;
  order.set_quantity(d.allocated_quantity());
  EXO_ASSIGN_OR_RETURN(Plan plan, engine_->Route(order, s->mode, std::move(input), req.routed_by()));
  CrashPoint(kCrashShareRecorded);
  reply.set_plan_id(plan.plan_id());
  reply.set_status(plan.status());
  return reply;
}

PeerAnswer ClusterNode::Answer(const PeerCall& call) {
  PeerAnswer answer;
  switch (call.call_case()) {
    case PeerCall::kBestPrice:
      Put(BestPrice(call.best_price()), &PeerAnswer::mutable_best_price, &answer);
      break;
    case PeerCall::kPrepare:
      Put(Prepare(call.prepare()), &PeerAnswer::mutable_prepare, &answer);
      break;
    case PeerCall::kEvaluate:
      Put(Evaluate(call.evaluate()), &PeerAnswer::mutable_evaluate, &answer);
      break;
    case PeerCall::kNextBreakpoint:
      Put(NextBreakpoint(call.next_breakpoint()), &PeerAnswer::mutable_next_breakpoint, &answer);
      break;
    case PeerCall::kSplitTies:
      Put(SplitTies(call.split_ties()), &PeerAnswer::mutable_split_ties, &answer);
      break;
    case PeerCall::kCheckLimits:
      Put(CheckLimits(call.check_limits()), &PeerAnswer::mutable_check_limits, &answer);
      break;
    case PeerCall::kExecute:
      Put(Execute(call.execute()), &PeerAnswer::mutable_execute, &answer);
      break;
    case PeerCall::kProgress:
      Put(Progress(call.progress()), &PeerAnswer::mutable_progress, &answer);
      break;
    case PeerCall::kCancel:
      Put(Cancel(call.cancel()), &PeerAnswer::mutable_cancel, &answer);
      break;
    case PeerCall::kAmend:
      Put(Amend(call.amend()), &PeerAnswer::mutable_amend, &answer);
      break;
    case PeerCall::kAbort:
      Abort(call.abort().route_id());
      answer.mutable_abort();
      break;
    case PeerCall::CALL_NOT_SET:
      answer.mutable_error()->set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
      answer.mutable_error()->set_message("call: empty (no request set)");
      break;
  }
  return answer;
}

absl::StatusOr<ProgressReply> ClusterNode::Progress(const ProgressRequest& req) const {
  if (req.route_id().empty()) return absl::InvalidArgumentError("route_id: required");
  std::optional<ShortfallRecord> held;
  std::optional<CancelNotice> notice;
  std::optional<TermsNotice> terms_notice;
  if (shortfall_ != nullptr) {
    EXO_ASSIGN_OR_RETURN(held, shortfall_->Record(req.route_id()));
    EXO_ASSIGN_OR_RETURN(notice, shortfall_->CancelNoticeOf(req.route_id()));
    EXO_ASSIGN_OR_RETURN(terms_notice, shortfall_->TermsNoticeOf(req.route_id()));
  }
  std::vector<uint32_t> subs;
  if (req.list_sub_routes() && !IsSubRouteId(req.route_id())) {
    const std::string prefix = SubRoutePrefix(req.route_id());
    for (const std::string& id : engine_->WorkingPlanIds(prefix)) {
      uint32_t n = 0;
      if (absl::SimpleAtoi(id.substr(prefix.size()), &n) && n >= 2) subs.push_back(n);
    }
    std::sort(subs.begin(), subs.end());
  }
  absl::StatusOr<Plan> found = engine_->GetPlan(req.route_id());
  if (!found.ok()) {
    if ((!held && !notice && !terms_notice && subs.empty()) || !absl::IsNotFound(found.status())) return found.status();
    // No share here, but this node works the route's shortfall (the order as it holds it),
    // keeps a notice of its cancel or new terms, or holds shares of its sub-routes.
    ProgressReply reply;
    reply.set_settled(true);
    if (notice) *reply.mutable_cancel_notice() = *notice;
    if (terms_notice) *reply.mutable_terms_notice() = *terms_notice;
    for (uint32_t n : subs) reply.add_working_sub_routes(n);
    if (!held) return reply;
    reply.set_symbol(held->order().symbol());
    reply.set_order_quantity(held->order().quantity());
    reply.set_routed_by(held->routed_by());
    *reply.mutable_shortfall_work() = held->work();
    return reply;
  }
  const Plan& plan = *found;
  ProgressReply reply;
  if (held) *reply.mutable_shortfall_work() = held->work();
  if (notice) *reply.mutable_cancel_notice() = *notice;
  if (terms_notice) *reply.mutable_terms_notice() = *terms_notice;
  for (uint32_t n : subs) reply.add_working_sub_routes(n);
  reply.set_status(plan.status());
  reply.set_mode(plan.mode());
  reply.set_quantity(plan.order().quantity());
  reply.set_filled_quantity(plan.filled_quantity());
  reply.set_filled_notional(plan.filled_notional());
  reply.set_fees(plan.fees());
  reply.set_routed_by(plan.routed_by());
  reply.set_settled(IsSettled(plan));
  reply.set_symbol(plan.order().symbol());
  int64_t open = 0;
  for (const ChildState& c : plan.children()) {
    if (!c.done()) open += std::max<int64_t>(0, c.order().quantity() - c.filled_quantity());
  }
  reply.set_open_quantity(open);
  reply.set_lot(engine_->SmallestLot(plan.order()));
  *reply.mutable_terms() = plan.order();
  reply.set_amended_ns(plan.terms_amended_ns());
  // The whole order, from the route's record in the share's first decision.
  absl::Status scanned = store_->ScanPlan(req.route_id(), 1, [&](const PlanDelta& d, std::string_view) {
    if (!d.has_allocated()) return true;
    SolveInput in;
    if (absl::StatusOr<std::string> raw = store_->GetInputs(d.inputs_digest()); raw.ok() && in.ParseFromString(*raw)) {
      reply.set_order_quantity(in.fixed_dual().route().order_quantity());
      *reply.mutable_route() = in.fixed_dual().route();
      reply.set_lambda(in.fixed_dual().lambda());
    }
    return false;
  });
  if (!scanned.ok()) LogWarning("route %s: its record not read for progress: %s", req.route_id(), scanned.ToString());
  return reply;
}

absl::StatusOr<CancelRouteReply> ClusterNode::Cancel(const CancelRouteRequest& req) {
  if (req.route_id().empty()) return absl::InvalidArgumentError("route_id: required");
  EXO_RETURN_IF_ERROR(ValidateReason(req.reason()));
  if (req.via().size() > 256) return absl::InvalidArgumentError("via: at most 256 characters");
  if (req.leave_notice()) {
    if (shortfall_ == nullptr) return absl::FailedPreconditionError("this node keeps no notices of cancels");
    CancelNotice notice;
    notice.set_route_id(req.route_id());
    notice.set_reason(req.reason());
    notice.set_via(req.via());
    notice.set_noted_ns(clock_->NowNs());
    EXO_RETURN_IF_ERROR(shortfall_->KeepCancelNotice(notice));
    CancelRouteReply reply;
    reply.set_noticed(true);
    return reply;
  }
  // The shortfall's work ends first (after an attempt in flight): no sub-route starts after it.
  std::optional<ShortfallWork> work;
  if (shortfall_ != nullptr) {
    EXO_ASSIGN_OR_RETURN(std::optional<ShortfallRecord> before, shortfall_->Record(req.route_id()));
    EXO_ASSIGN_OR_RETURN(work, shortfall_->Finish(req.route_id(), ShortfallWork::STATE_CANCELLED));
    if (before.has_value() && before->work().state() == ShortfallWork::STATE_OPEN) {
      LogInfo("route %s: a cancel reached this node (%s): its shortfall is no longer routed", req.route_id(),
              req.reason().empty() ? "no reason given" : req.reason());
    }
  }
  CancelRouteReply reply;
  if (work) *reply.mutable_shortfall_work() = *work;
  absl::StatusOr<Plan> plan = engine_->Cancel(req.route_id(), req.reason());
  if (plan.ok()) {
    reply.set_status(plan->status());
    return reply;
  }
  if (!work) return plan.status();
  // The work ended here; this node's share was none, or had finished.
  if (!absl::IsNotFound(plan.status())) reply.set_not_cancelled(std::string(plan.status().message()));
  return reply;
}

absl::StatusOr<AmendShareReply> ClusterNode::Amend(const AmendShareRequest& req) {
  if (req.route_id().empty()) return absl::InvalidArgumentError("route_id: required");
  EXO_RETURN_IF_ERROR(ValidateReason(req.reason()));
  if (req.has_limit_price() && (req.limit_price() <= 0 || req.limit_price() > kMaxUnits)) {
    return absl::InvalidArgumentError(absl::StrCat("limit_price: must be within 1..2^53, got ", req.limit_price()));
  }
  if (req.has_limit_price() && req.remove_limit()) {
    return absl::InvalidArgumentError("remove_limit: not with limit_price (a new limit, or none)");
  }
  if (!Urgency_IsValid(req.urgency())) {
    return absl::InvalidArgumentError(absl::StrCat("urgency: not an Urgency, got ", req.urgency()));
  }
  if (req.via().size() > 256) return absl::InvalidArgumentError("via: at most 256 characters");
  if (req.amended_ns() < 0 || (req.amended_ns() != 0 && !req.leave_notice())) {
    return absl::InvalidArgumentError("amended_ns: only with leave_notice, and >= 0");
  }
  // Nodes' clocks agree within NTP: a time a day ahead of this node's is no amendment's (it would
  // outrank every later one).
  if (constexpr int64_t kDayNs = int64_t{86'400} * 1'000'000'000; req.amended_ns() > clock_->NowNs() + kDayNs) {
    return absl::InvalidArgumentError(
        absl::StrCat("amended_ns: ", req.amended_ns(), " is more than a day ahead of this node's clock"));
  }
  if (req.leave_notice()) {
    if (req.quantity() != 0 || req.has_share_quantity() ||
        (!req.has_limit_price() && !req.remove_limit() && req.urgency() == URGENCY_UNSPECIFIED)) {
      return absl::InvalidArgumentError("leave_notice: only with new terms (limit_price, remove_limit or urgency)");
    }
    if (shortfall_ == nullptr) return absl::FailedPreconditionError("this node keeps no notices of new terms");
    EXO_RETURN_IF_ERROR(shortfall_->KeepTermsNotice(req, req.via(), clock_->NowNs()));
    AmendShareReply reply;
    reply.set_noticed(true);
    return reply;
  }
  if (req.quantity() != 0) return Resize(req);
  if (req.has_share_quantity()) return CutShare(req);
  // The sub-routes still to come take the new terms (after an attempt in flight).
  std::optional<ShortfallWork> work;
  bool terms_changed = false;
  if (shortfall_ != nullptr) {
    EXO_ASSIGN_OR_RETURN(work, shortfall_->Amend(req.route_id(), req, clock_->NowNs(), &terms_changed));
  }
  RouterEngine::Amendment a;
  if (req.has_limit_price()) a.limit_price = req.limit_price();
  a.remove_limit = req.remove_limit();
  a.urgency = req.urgency();
  a.reason = req.reason();
  bool changed = false;
  AmendShareReply reply;
  if (work) *reply.mutable_shortfall_work() = *work;
  reply.set_changed(terms_changed);
  absl::StatusOr<Plan> plan = engine_->Amend(req.route_id(), a, &changed);
  if (plan.ok()) {
    reply.set_changed(changed || terms_changed);
    reply.set_status(plan->status());
    return reply;
  }
  if (!work) return plan.status();
  if (!absl::IsNotFound(plan.status())) reply.set_not_amended(std::string(plan.status().message()));
  return reply;
}

absl::StatusOr<AmendShareReply> ClusterNode::CutShare(const AmendShareRequest& req) {
  if (req.share_quantity() < 0 || req.share_quantity() > kMaxUnits) {
    return absl::InvalidArgumentError(absl::StrCat("share_quantity: must be within 0..2^53, got ", req.share_quantity()));
  }
  if (req.has_limit_price() || req.remove_limit() || req.urgency() != URGENCY_UNSPECIFIED || req.quantity() != 0) {
    return absl::InvalidArgumentError("share_quantity: alone (a cut of this node's share, nothing else)");
  }
  EXO_ASSIGN_OR_RETURN(const Plan plan, engine_->GetPlan(req.route_id()));
  if (req.share_quantity() >= plan.order().quantity()) {
    return absl::InvalidArgumentError(absl::StrCat("share_quantity: ", req.share_quantity(), " is not below the share's ",
                                                   plan.order().quantity(), " units (a share is only cut)"));
  }
  RouterEngine::Amendment a;
  a.quantity = req.share_quantity();
  a.reason = req.reason();
  bool changed = false;
  EXO_ASSIGN_OR_RETURN(const Plan cut, engine_->Amend(req.route_id(), a, &changed));
  AmendShareReply reply;
  reply.set_changed(changed);
  reply.set_status(cut.status());
  return reply;
}

absl::StatusOr<AmendShareReply> ClusterNode::Resize(const AmendShareRequest& req) {
  const std::string& id = req.route_id();
  if (req.quantity() < 0 || req.quantity() > kMaxUnits) {
    return absl::InvalidArgumentError(absl::StrCat("quantity: must be within 1..2^53 (0 keeps it), got ", req.quantity()));
  }
  if (req.shares_cut() < 0 || req.shares_cut() > kMaxUnits) {
    return absl::InvalidArgumentError(absl::StrCat("shares_cut: must be within 0..2^53, got ", req.shares_cut()));
  }
  if (req.has_limit_price() || req.remove_limit() || req.urgency() != URGENCY_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "quantity: not with new terms in one call (a route's quantity goes to the node that keeps its shortfall work "
        "alone, its terms to every node)");
  }
  const absl::Status not_here = absl::FailedPreconditionError(absl::StrCat(
      "quantity: node ", node_id_, " keeps no shortfall work of route \"", id,
      "\": a route's quantity changes only on the node that does (GetRoute's shortfall_work.coordinator)"));
  if (shortfall_ == nullptr) return not_here;
  auto check = [&](const ShortfallRecord& now, const ShortfallRecord& next, int64_t placed) -> absl::Status {
    // What a share in doubt holds is not known yet: no new quantity can be squared with it.
    if (now.in_doubt_size() > 0) {
      return absl::UnavailableError(absl::StrCat(
          "quantity: node ", now.in_doubt(0).node(), "'s share of ", now.in_doubt(0).route_id(),
          " is in doubt (its Execute failed): nothing amended; send it again once that node is back and has said "
          "what it holds"));
    }
    const ParentOrder& o = next.order();
    const Instrument* inst = engine_->FindInstrument(o.symbol());
    const uint32_t qs = inst != nullptr ? inst->qty_scale() : 0;
    if (o.quantity() < placed) {
      return absl::FailedPreconditionError(absl::StrCat(
          "quantity: ", FormatDecimal(o.quantity(), qs), " is below the ", FormatDecimal(placed, qs),
          " the nodes' shares of route \"", id, "\" hold: this node takes back only what is left to route (",
          FormatDecimal(next.work().shortfall(), qs), "); the shares are cut by the node AmendPlan was sent to"));
    }
    // Less only takes risk off: neither the deadline nor a limit refuses it.
    if (o.quantity() <= now.order().quantity()) return absl::OkStatus();
    if (o.time_in_force() == TIME_IN_FORCE_GTT &&
        clock_->NowNs() >= next.created_ns() + o.expire_after_ms() * 1'000'000) {
      return absl::FailedPreconditionError(
          absl::StrCat("quantity: route \"", id, "\"'s GTT deadline has passed: nothing more is routed for it"));
    }
    // The order as it would stand, against this node's limits (as a route's on its coordinator).
    absl::Status risk = engine_->CheckRisk(o, ROUTE_MODE_PLAN_ONLY, next.routed_by());
    if (absl::string_view m = risk.message(); !risk.ok() && absl::ConsumePrefix(&m, "order.")) {
      return absl::Status(risk.code(), m);  // (It names AmendPlan's field, not the order's.)
    }
    return risk;
  };
  bool changed = false;
  const ShortfallLedger::Resizing to{req.quantity(), req.shares_cut(), req.at_least_shares()};
  EXO_ASSIGN_OR_RETURN(std::optional<ShortfallWork> work, shortfall_->Resize(id, to, check, &changed));
  if (!work) return not_here;
  AmendShareReply reply;
  reply.set_changed(changed);
  *reply.mutable_shortfall_work() = *std::move(work);
  return reply;
}

void ClusterNode::Abort(const std::string& route_id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(route_id);
  probes_.erase(route_id);
}

std::vector<PrivacyBudgetStatus> ClusterNode::Budgets() const {
  std::vector<PrivacyBudgetStatus> out;
  if (!noisy()) return out;
  const int64_t window = WindowSeconds(privacy_);
  const int64_t start = clock_->NowNs() / 1'000'000'000 / window * window;
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> spent = store_->Spent("supply/");
  if (!spent.ok()) return out;
  for (const auto& [key, milli] : *spent) {
    size_t at = key.rfind('@');
    int64_t key_start = 0;
    if (at == std::string::npos || !absl::SimpleAtoi(key.substr(at + 1), &key_start) || key_start != start) continue;
    PrivacyBudgetStatus& b = out.emplace_back();
    b.set_signal(key.substr(0, at));
    b.set_window_start_s(key_start);
    b.set_spent_milli(milli);
    b.set_limit_milli(privacy_.budget_milli());
  }
  return out;
}

size_t ClusterNode::open_sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

}  // namespace exo::daemon::cluster
