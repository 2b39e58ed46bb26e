// RouterEngine: construction, configuration, recovery and checkpoints, start and stop, the
// solver's inputs, a plan's next step and how it is recorded, Route, and finding plans. The
// other router_engine_*.cc files hold the rest of the class (router_engine.h).
#include "daemon/router_engine.h"

#include <algorithm>
#include <chrono>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "daemon/crash_point.h"
#include "daemon/internal/router_engine_internal.h"
#include "daemon/plan_fold.h"
#include "daemon/solve_inputs.h"
#include "exo/deterministic.h"
#include "exo/fixed_point.h"
#include "exo/log.h"
#include "exo/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "solver/solver.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT
using store::PendingDelta;
using internal::PlanNotFound;

namespace internal {

absl::Status PlanNotFound(const std::string& plan_id) {
  return absl::NotFoundError(absl::StrCat("plan \"", plan_id, "\" not found"));
}

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string StatusName(PlanStatus s) {
  std::string n = PlanStatus_Name(s);
  return n.substr(std::string("PLAN_STATUS_").size());
}

std::string FillOutOfBounds(const Plan& plan, int64_t quantity, int64_t price, int64_t fee) {
  constexpr __int128 kMaxNotional = __int128{1} << 62;
  if (quantity <= 0 || quantity > kMaxUnits) return absl::StrCat("quantity ", quantity, " not within 1..2^53 units");
  if (price <= 0 || price > kMaxUnits) return absl::StrCat("price ", price, " not within 1..2^53 units");
  if (plan.filled_quantity() + quantity > kMaxUnits) {
    return absl::StrCat("the plan's filled quantity would pass 2^53 units (", plan.filled_quantity(), " + ", quantity, ")");
  }
  const __int128 notional = static_cast<__int128>(price) * quantity / Pow10(plan.instrument().qty_scale());
  if (plan.filled_notional() + notional > kMaxNotional) return "the plan's filled notional would pass 2^62 price units";
  const __int128 fees = static_cast<__int128>(plan.fees()) + fee;
  if (fee > kMaxNotional || fee < -kMaxNotional || fees > kMaxNotional || fees < -kMaxNotional) {
    return absl::StrCat("fee ", fee, ": the plan's fees would pass 2^62 price units");
  }
  return "";
}

std::string ChildOrderId(const std::string& plan_id, const DaemonConfig& config, uint32_t version) {
  if (!config.has_cluster()) return absl::StrCat(plan_id, ".", version);
  return absl::StrCat(plan_id, "@", config.node_id(), ".", version);
}

std::string PlanIdOfChild(const std::string& cl_ord_id) {
  const size_t dot = cl_ord_id.rfind('.');
  if (dot == std::string::npos) return "";
  const std::string before = cl_ord_id.substr(0, dot);
  const size_t at = before.rfind('@');
  return at == std::string::npos ? before : before.substr(0, at);
}

}  // namespace internal

RouterEngine::RouterEngine(DaemonConfig config, store::DeltaStore* store,
                           std::vector<Venue> venues, Clock* clock)
    : store_(store), clock_(clock), child_outcomes_([&venues] {
        std::vector<std::string> ids;
        for (const Venue& v : venues) ids.push_back(v.config.id());
        return ids;
      }()) {
  configs_.push_back(std::make_unique<const DaemonConfig>(std::move(config)));
  config_.store(configs_.back().get());
  for (Venue& v : venues) {
    const DaemonConfig& cfg = *configs_.back();
    for (int i = 0; i < cfg.venues_size(); ++i) {
      if (cfg.venues(i).id() == v.config.id()) v.config_index = i;
    }
    std::string id = v.config.id();
    venues_.emplace(std::move(id), std::move(v));
  }
  for (const auto& [id, v] : venues_) venue_configs_.push_back(&v.config);
}

RouterEngine::~RouterEngine() { Stop(); }

absl::Status RouterEngine::ApplyConfig(const DaemonConfig& next) {
  std::lock_guard<std::mutex> lock(configs_mu_);
  // Venues are read by their place in the config: it must be the same list.
  for (const auto& [id, v] : venues_) {
    if (v.config_index >= next.venues_size() || next.venues(v.config_index).id() != id) {
      return absl::FailedPreconditionError(absl::StrCat("venues: the new config does not list venue ", id,
                                                        " where the node's does (a restart takes it)"));
    }
  }
  configs_.push_back(std::make_unique<const DaemonConfig>(next));
  config_.store(configs_.back().get());
  for (auto& [id, v] : venues_) v.adapter->SetFeeBps(next.venues(v.config_index).taker_fee_bps());
  {
    std::lock_guard<std::mutex> wake(stop_mu_);  // The tick thread waits on the interval in force.
    config_applied_ = true;
  }
  stop_cv_.notify_all();
  return absl::OkStatus();
}

const Instrument* RouterEngine::FindInstrument(const std::string& symbol) const {
  for (const auto& i : config().instruments()) {
    if (i.symbol() == symbol) return &i;
  }
  return nullptr;
}

bool RouterEngine::ChildrenRest(const std::string& venue) const {
  auto it = venues_.find(venue);
  if (it == venues_.end() || !it->second.config.has_fix()) return false;
  const std::string& tif = it->second.config.fix().time_in_force();
  return !tif.empty() && tif != "3" && tif != "4";  // Not IOC, not FOK.
}

int64_t RouterEngine::StatusPollNs(const std::string& venue) const {
  auto it = venues_.find(venue);
  if (it == venues_.end() || !it->second.config.has_fix()) return 0;
  return int64_t{it->second.config.fix().status_poll_ms()} * 1'000'000;
}

adapters::VenueAdapter* RouterEngine::AdapterFor(const std::string& venue) const {
  auto it = venues_.find(venue);
  return it == venues_.end() ? nullptr : it->second.adapter.get();
}

absl::StatusOr<RecoveryCheckpoint> RouterEngine::ReadCheckpoint() const {
  EXO_ASSIGN_OR_RETURN(std::string bytes, store_->GetCheckpoint());
  RecoveryCheckpoint cp;
  if (!cp.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("the checkpoint is garbled (", bytes.size(), " bytes)"));
  }
  if (cp.format() != 1) return absl::DataLossError(absl::StrCat("checkpoint format ", cp.format(), " is not 1"));
  if (cp.node_id() != config().node_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the checkpoint is node \"", cp.node_id(), "\"'s; this node is \"", config().node_id(), "\""));
  }
  const uint64_t head = store_->Head().sequence();
  if (cp.sequence() > head) {
    return absl::FailedPreconditionError(
        absl::StrCat("the checkpoint at sequence ", cp.sequence(), " is beyond the chain head ", head));
  }
  std::string hash = store::GenesisHash();
  if (cp.sequence() > 0) {
    EXO_RETURN_IF_ERROR(store_->Scan(cp.sequence(), cp.sequence(), [&](const PlanDelta& d, std::string_view) {
      hash = d.hash();
      return false;
    }));
  }
  if (hash != cp.hash()) {
    return absl::FailedPreconditionError(absl::StrCat("the checkpoint at sequence ", cp.sequence(),
                                                      " does not match the chain there (another hash)"));
  }
  return cp;
}

void RouterEngine::MaybeCheckpoint() {
  const uint64_t head = store_->Head().sequence();
  if (head > checkpoint_at_ && head - checkpoint_at_ >= config().store().checkpoint_every_deltas()) WriteCheckpoint();
}

std::shared_lock<std::shared_mutex> RouterEngine::AppendLock() {
  if (checkpoint_waiting_.load()) {  // Behind a checkpoint that waits (it waits for no append after it).
    std::unique_lock<std::mutex> lock(gate_mu_);
    gate_cv_.wait(lock, [&] { return !checkpoint_waiting_.load(); });
  }
  return std::shared_lock<std::shared_mutex>(chain_mu_);
}

void RouterEngine::WriteCheckpoint() {
  RecoveryCheckpoint cp;
  {
    // plans_mu_ first: an appender holding chain_mu_ never waits for plans_mu_, while a Route
    // holding plans_mu_ may wait for the plan mutex of an appender.
    std::lock_guard<std::mutex> plans_lock(plans_mu_);
    // The gate closed, the appends in flight end and no new one starts until it opens: a
    // checkpoint waits at most for one group commit, even on a node that never stops appending.
    checkpoint_waiting_ = true;
    std::unique_lock<std::shared_mutex> alone(chain_mu_);
    absl::Cleanup open_gate = [&] {
      alone.unlock();
      std::lock_guard<std::mutex> lock(gate_mu_);
      checkpoint_waiting_ = false;
      gate_cv_.notify_all();
    };
    cp.set_format(1);
    cp.set_node_id(config().node_id());
    const exoroute::v1::ChainHead head = store_->Head();
    cp.set_sequence(head.sequence());
    cp.set_hash(head.hash());
    cp.set_plans_total(plans_total_.load());
    for (const auto& [id, rec] : plans_) {  // (A map: the ids come sorted.)
      if (rec->version.load() > 0 && !rec->settled.load()) cp.add_working(id);
    }
    std::lock_guard<std::mutex> lock(node_events_mu_);
    for (const auto& [series, version] : node_event_versions_) {
      auto* e = cp.add_node_events();
      e->set_series(series);
      e->set_version(version);
    }
    for (const auto& [key, digest] : last_governance_) {
      auto* g = cp.add_governance();
      g->set_kind(key.first);
      g->set_subject(key.second);
      g->set_digest(digest);
    }
  }
  // What it records is of one moment; appends may go on while it is written.
  absl::Status s = store_->PutCheckpoint(SerializeDeterministic(cp));
  if (s.ok()) {
    checkpoint_at_ = cp.sequence();
  } else {
    LogWarning("start-up checkpoint not written (the next start reads the chain from an earlier one): %s",
               s.ToString());
  }
}

absl::Status RouterEngine::Recover() {
  // One pass over the chain, from the start-up checkpoint when it matches the chain (the plans
  // working then are read back whole, with their later deltas), else from the first delta.
  // Only plans not settled at the delta last read are held, so memory peaks at the plans
  // working at once, not at every plan ever made. A delta of a plan that settled and was let
  // go (a planned route cancelled later, say) reads the whole plan back from the store — all
  // of it, later deltas included — and the pass skips what it has folded.
  std::map<std::string, std::shared_ptr<PlanRecord>> plans;
  std::map<std::string, uint32_t> read_back_to;  // Plans read back whole: up to which version.
  recovery_ = RecoveryStats{};
  auto from_checkpoint = [&]() -> absl::StatusOr<uint64_t> {
    EXO_ASSIGN_OR_RETURN(RecoveryCheckpoint cp, ReadCheckpoint());
    for (const std::string& id : cp.working()) {
      EXO_ASSIGN_OR_RETURN(std::shared_ptr<PlanRecord> rec, LoadRecord(id));
      if (rec == nullptr) {
        return absl::DataLossError(absl::StrCat("the checkpoint's working plan \"", id, "\" has no deltas"));
      }
      read_back_to[id] = rec->plan.version();
      plans.emplace(id, std::move(rec));
    }
    plans_total_ = cp.plans_total();
    for (const auto& e : cp.node_events()) node_event_versions_[e.series()] = e.version();
    for (const auto& g : cp.governance()) last_governance_[{g.kind(), g.subject()}] = g.digest();
    recovery_.from_checkpoint = true;
    recovery_.checkpoint_sequence = cp.sequence();
    return cp.sequence() + 1;
  };
  absl::StatusOr<uint64_t> from = from_checkpoint();
  if (!from.ok()) {
    if (!absl::IsNotFound(from.status())) {  // (NotFound: there is none, as on a new node.)
      recovery_.checkpoint_ignored = std::string(from.status().message());
      LogWarning("start-up checkpoint ignored, reading the whole chain: %s", recovery_.checkpoint_ignored);
    }
    plans.clear();
    read_back_to.clear();
    node_event_versions_.clear();
    last_governance_.clear();
    plans_total_ = 0;
    from = 1;
  }
  absl::Status read_back = absl::OkStatus();
  EXO_RETURN_IF_ERROR(store_->Scan(*from, 0, [&](const PlanDelta& d, std::string_view) {
    ++recovery_.deltas_read;
    if (d.has_privacy_refused() || d.has_governance()) {  // Node events, not plans.
      node_event_versions_[d.plan_id()] = d.plan_version();
      if (d.has_governance()) {
        last_governance_[{d.governance().kind(), d.governance().subject()}] = d.governance().digest();
      }
      return true;
    }
    auto it = plans.find(d.plan_id());
    if (it == plans.end()) {
      if (auto done = read_back_to.find(d.plan_id()); done != read_back_to.end() && d.plan_version() <= done->second) {
        return true;  // Folded already, when the plan was read back.
      }
      std::shared_ptr<PlanRecord> rec = std::make_shared<PlanRecord>();
      if (d.plan_version() > 1) {
        absl::StatusOr<std::shared_ptr<PlanRecord>> loaded = LoadRecord(d.plan_id());
        if (!loaded.ok() || *loaded == nullptr) {
          read_back = loaded.ok() ? absl::DataLossError(absl::StrCat("plan \"", d.plan_id(), "\" has no deltas"))
                                  : loaded.status();
          return false;
        }
        rec = *std::move(loaded);
        read_back_to[d.plan_id()] = rec->plan.version();
      }
      it = plans.emplace(d.plan_id(), std::move(rec)).first;
    }
    PlanRecord& rec = *it->second;
    if (d.plan_version() > rec.plan.version()) {
      ApplyDelta(d, &rec.plan);
      NoteExecution(d, rec);
    }
    if (d.plan_version() == 1) ++plans_total_;
    if (IsSettled(rec.plan)) plans.erase(it);
    return true;
  }));
  EXO_RETURN_IF_ERROR(read_back);
  std::erase_if(plans, [](const auto& kv) { return IsSettled(kv.second->plan); });  // (Read back settled.)
  uint64_t resumed = 0;
  for (auto& [id, rec] : plans) {
    std::lock_guard<std::mutex> lock(rec->mu);
    Plan& p = rec->plan;
    if (!IsSettled(p) && OpenChildren(p) > 0) {
      std::vector<PendingDelta> batch;
      uint32_t version = p.version();
      for (const ChildState& c : p.children()) {
        if (c.done()) continue;
        adapters::VenueAdapter* venue = AdapterFor(c.order().venue());
        if (venue != nullptr && venue->can_reconcile()) {
          // The venue can tell us where the child stands: ask it once it is up (Start).
          reconcile_.push_back({c.order(), p.order().symbol(), c.filled_quantity()});
          continue;
        }
        PendingDelta pd;
        pd.delta = NewDelta(p, clock_->NowNs());
        pd.delta.set_plan_version(++version);
        auto* done = pd.delta.mutable_child_done();
        done->set_cl_ord_id(c.order().cl_ord_id());
        done->set_venue(c.order().venue());
        done->set_canceled_quantity(c.order().quantity() - c.filled_quantity());
        done->set_reason("lost in restart: the venue keeps no state across restarts");
        batch.push_back(std::move(pd));
      }
      EXO_RETURN_IF_ERROR(Commit(*rec, std::move(batch)));
    }
    if (!IsSettled(p)) ++resumed;
    rec->symbol = p.order().symbol();
    rec->routed_by = p.routed_by();
    NoteState(*rec);
  }
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    plans_ = std::move(plans);
  }
  if (recovery_.from_checkpoint) {
    LogInfo("recovered %d plans from the store (%d to resume): checkpoint at sequence %d and %d deltas after it, "
            "chain head %d", plans_total_.load(), resumed, recovery_.checkpoint_sequence, recovery_.deltas_read,
            store_->Head().sequence());
  } else {
    LogInfo("recovered %d plans from the store (%d to resume): %d deltas read, chain head %d", plans_total_.load(),
            resumed, recovery_.deltas_read, store_->Head().sequence());
  }
  EXO_RETURN_IF_ERROR(RestoreTrading());
  // The next start can begin here.
  WriteCheckpoint();
  recovered_ = true;
  return absl::OkStatus();
}

absl::Status RouterEngine::Start() {
  // Open children are handed to their venues before the venues connect, so that a report the
  // venue resends on logon (one it sent while this node was down) finds its order known.
  for (const Reconciling& r : reconcile_) {
    absl::Status s = AdapterFor(r.child.venue())->Reconcile(r.child, r.symbol, r.filled);
    if (!s.ok()) LogError("cannot reconcile %s: %s", r.child.cl_ord_id(), s.ToString());
  }
  if (!reconcile_.empty()) LogInfo("reconciling %d open children with their venues", reconcile_.size());
  reconcile_.clear();
  for (auto& [id, v] : venues_) {
    EXO_RETURN_IF_ERROR(v.adapter->Start([this](adapters::ExecutionEvent e) { OnExecution(std::move(e)); }));
    LogInfo("venue %s (%s) started", id, v.adapter->kind());
  }
  started_ = true;
  event_thread_ = std::thread([this] { EventLoop(); });
  tick_thread_ = std::thread([this] { TickLoop(); });
  return absl::OkStatus();
}

void RouterEngine::AwaitArmedSwitches() {
  // Every watch that held a switch before the restart ended with it.
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    const auto now = DisconnectCancels::Clock::now();
    for (const auto& [id, rec] : plans_) {
      std::lock_guard<std::mutex> rec_lock(rec->mu);
      if (!rec->settled.load() && rec->plan.cancel_on_disconnect()) {
        disconnects_.Await(id, std::chrono::milliseconds(rec->plan.disconnect_grace_ms()), now);
      }
    }
  }
  if (size_t armed = disconnects_.waiting(); armed > 0) {
    LogInfo("working plans armed to cancel on disconnect: %d (each is cancelled unless a watch holds it again "
            "within its grace, from now: the API serves)",
            armed);
  }
}

void RouterEngine::BeginDrain() {
  draining_ = true;
  std::lock_guard<std::mutex> lock(watch_mu_);
  watch_cv_.notify_all();
}

bool RouterEngine::AwaitNoWriters(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(watch_mu_);
  return watch_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                            [&] { return writers_.load() == 0; });
}

void RouterEngine::Stop() {
  if (stopping_.exchange(true)) return;
  BeginDrain();
  {
    std::lock_guard<std::mutex> lock(events_mu_);
    events_cv_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_cv_.notify_all();
  }
  if (started_) {
    event_thread_.join();
    tick_thread_.join();
  }
  for (auto& [id, v] : venues_) v.adapter->Stop();
  // A clean stop: the next start can begin here.
  if (recovered_) WriteCheckpoint();
}

int64_t RouterEngine::SmallestLot(const ParentOrder& order) const { return daemon::SmallestLot(order, venue_configs_); }

absl::Status RouterEngine::CheckRoutable(const ParentOrder& order) const {
  const Instrument* inst = FindInstrument(order.symbol());
  if (inst == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("order.symbol: unknown symbol \"", order.symbol(),
                                                      "\" (this node trades: ", KnownSymbols(), ")"));
  }
  return CheckOrderVenues(order, *inst, venue_configs_);
}

SolveInput RouterEngine::BuildSolveInput(const Plan& plan, int64_t now) const {
  const ParentOrder& o = plan.order();
  const DaemonConfig& cfg = config();
  SolveInput in = OrderSolveInput(o, plan.instrument(), o.quantity() - plan.filled_quantity(),
                                  cfg.routing(), std::nullopt, now);
  if (plan.arrival_limit() > 0) {  // Fixed by an earlier decision: it binds, or the order's if tighter.
    in.set_arrival_band_bps(0);
    // (Plan.arrival_limit: the tighter of the band's price and the order's limit when it was
    // fixed, the band's own price after an amendment; the order's limit now binds if tighter.)
    in.set_limit_price(o.has_limit_price()
                           ? solver::TighterLimit(plan.arrival_limit(), o.limit_price(), o.side() == SIDE_BUY)
                           : plan.arrival_limit());
  }
  const std::map<std::string, std::string> backed_off =
      plan.mode() == ROUTE_MODE_EXECUTE ? RejectBackoffs(plan, now, cfg.routing().reject_backoff_ms())
                                        : std::map<std::string, std::string>();
  for (const auto& [id, v] : venues_) {
    std::optional<VenueInput> base = VenueInputFor(cfg.venues(v.config_index), o.symbol());
    if (!base) continue;
    VenueInput* vi = in.add_venues();
    *vi = *std::move(base);
    if (std::string_view why = OrderExclusion(o, id); !why.empty()) {
      vi->set_exclusion(std::string(why));
    } else if (std::string halt = plan.mode() == ROUTE_MODE_EXECUTE ? VenueHalt(id) : ""; !halt.empty()) {
      vi->set_exclusion(std::move(halt));
    } else if (plan.mode() == ROUTE_MODE_EXECUTE && !v.adapter->can_trade()) {
      vi->set_exclusion("market data only: the venue takes no orders");
    } else if (plan.mode() == ROUTE_MODE_EXECUTE &&
               v.adapter->state() != ADAPTER_STATE_UP) {
      // ("venue DOWN: FIX EXO->V not logged on, next seq out 4 in 1": what `status` shows of it.)
      const std::string detail = v.adapter->detail();
      vi->set_exclusion(absl::StrCat("venue ", absl::StripPrefix(AdapterState_Name(v.adapter->state()), "ADAPTER_STATE_"),
                                     detail.empty() ? "" : ": ", detail));
    } else if (auto rejected = backed_off.find(id); rejected != backed_off.end()) {
      vi->set_exclusion(rejected->second);
    }
    // Order-entry-only venues take their book from another venue's adapter.
    adapters::VenueAdapter* books = BookSource(v);
    if (vi->exclusion().empty()) {
      if (std::string problem = books->BookProblem(o.symbol()); !problem.empty()) vi->set_exclusion(problem);
    }
    if (auto book = books->Book(o.symbol())) CopyDecidedBook(*book, o.side(), id, vi->mutable_book());
  }
  *in.mutable_previous() = plan.allocations();
  return in;
}

bool RouterEngine::AnyBookWithinLimit(const ParentOrder& o, int64_t limit) const {
  const bool buy = o.side() == SIDE_BUY;
  for (const auto& [id, v] : venues_) {
    // Any venue BuildSolveInput would add, whatever excludes it there: only a venue without a
    // level within the limit may be passed over.
    const auto& markets = v.config.markets();
    if (std::none_of(markets.begin(), markets.end(), [&](const auto& m) { return m.symbol() == o.symbol(); })) continue;
    adapters::VenueAdapter* books = BookSource(v);
    std::shared_ptr<const exoroute::v1::VenueBook> book = books->Book(o.symbol());
    if (book == nullptr) continue;
    const auto& levels = buy ? book->asks() : book->bids();
    // The best level is the first (asks ascending, bids descending); the solver cuts each
    // venue at the limit on the level's own price (solver/local_problem.cc).
    if (!levels.empty() && (buy ? levels[0].price() <= limit : levels[0].price() >= limit)) {
      return true;
    }
  }
  return false;
}

adapters::VenueAdapter* RouterEngine::BookSource(const Venue& v) const {
  return v.config.book_from().empty() ? v.adapter.get() : AdapterFor(v.config.book_from());
}

absl::StatusOr<GetBooksResponse> RouterEngine::BooksNow(const std::string& symbol, int depth) const {
  const Instrument* instrument = FindInstrument(symbol);
  if (instrument == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("symbol: unknown symbol \"", symbol, "\" (this node trades: ", KnownSymbols(), ")"));
  }
  const int64_t now = clock_->NowNs();
  GetBooksResponse out;
  *out.mutable_instrument() = *instrument;
  out.set_time_ns(now);
  // What each side's decision would leave out and why: the venues of a one-unit executed
  // order's decision input, built as a decision builds them (its exclusions, word for word).
  std::map<std::string, std::string> left_out[2];
  SolveInput input[2];
  for (int i = 0; i < 2; ++i) {
    Plan p;
    p.mutable_order()->set_id("books");
    p.mutable_order()->set_symbol(symbol);
    p.mutable_order()->set_side(i == 0 ? SIDE_BUY : SIDE_SELL);
    p.mutable_order()->set_quantity(1);
    p.set_mode(ROUTE_MODE_EXECUTE);
    *p.mutable_instrument() = *instrument;
    input[i] = BuildSolveInput(p, now);
    (void)solver::BuildLocalProblems(input[i], &left_out[i]);
  }
  // Each side's levels as that side's decision read them (the buy's asks, the sell's bids);
  // the two inputs list the same venues in the same order (every venue that lists the symbol).
  for (int v = 0; v < input[0].venues_size(); ++v) {
    const VenueInput& buy = input[0].venues(v);
    const VenueInput& sell = input[1].venues(v);
    VenueBookView* view = out.add_venues();
    view->set_venue(buy.venue());
    view->set_fee_bps(buy.fee_bps());
    view->set_buy_exclusion(left_out[0][buy.venue()]);
    view->set_sell_exclusion(left_out[1][buy.venue()]);
    const VenueBook& asks = buy.book();
    const VenueBook& bids = sell.book();
    if (asks.receive_time_ns() == 0 && bids.receive_time_ns() == 0) {  // No book yet.
      view->set_age_ms(-1);
      continue;
    }
    const VenueBook& newer = asks.receive_time_ns() >= bids.receive_time_ns() ? asks : bids;
    view->set_age_ms(std::max<int64_t>(0, (now - newer.receive_time_ns()) / 1'000'000));
    VenueBook* shown = view->mutable_book();
    shown->set_venue(buy.venue());
    shown->set_symbol(symbol);
    shown->set_sequence(newer.sequence());
    shown->set_receive_time_ns(newer.receive_time_ns());
    for (int k = 0; k < std::min(depth, bids.bids_size()); ++k) *shown->add_bids() = bids.bids(k);
    for (int k = 0; k < std::min(depth, asks.asks_size()); ++k) *shown->add_asks() = asks.asks(k);
    if (view->buy_exclusion().empty() && !asks.asks().empty() &&
        (out.best_ask() == 0 || asks.asks(0).price() < out.best_ask())) {
      out.set_best_ask(asks.asks(0).price());
    }
    if (view->sell_exclusion().empty() && !bids.bids().empty()) {
      out.set_best_bid(std::max(out.best_bid(), bids.bids(0).price()));
    }
  }
  return out;
}

std::optional<int64_t> RouterEngine::MarketMid(const std::string& symbol) const {
  const int64_t now = clock_->NowNs();
  const DaemonConfig& cfg = config();
  int64_t best_bid = 0, best_ask = 0;
  for (const auto& [id, v] : venues_) {
    const auto& markets = v.config.markets();
    if (std::none_of(markets.begin(), markets.end(), [&](const auto& m) { return m.symbol() == symbol; })) continue;
    adapters::VenueAdapter* books = BookSource(v);
    std::shared_ptr<const exoroute::v1::VenueBook> book = books != nullptr ? books->Book(symbol) : nullptr;
    if (book == nullptr) continue;
    // (The config's default is applied at load: 5000.) A stale book values nothing.
    const int64_t max_age_ms = cfg.venues(v.config_index).max_book_age_ms();
    if (static_cast<__int128>(now) - book->receive_time_ns() > static_cast<__int128>(max_age_ms) * 1'000'000) {
      continue;
    }
    if (!book->bids().empty()) best_bid = std::max(best_bid, book->bids(0).price());
    if (!book->asks().empty() && (best_ask == 0 || book->asks(0).price() < best_ask)) best_ask = book->asks(0).price();
  }
  if (best_bid == 0 || best_ask == 0) return std::nullopt;
  return MulDivRound(static_cast<__int128>(best_bid) + best_ask, 1, 2);
}

PlanDelta RouterEngine::NewDelta(const Plan& plan, int64_t now) const {
  PlanDelta d;
  d.set_plan_id(plan.plan_id());
  d.set_plan_version(plan.version() + 1);
  d.set_event_time_ns(now);
  return d;
}

absl::StatusOr<RouterEngine::Step> RouterEngine::NextStep(PlanRecord& rec, const Plan& p, int64_t now) {
  Step step;
  // `p` with the step's deltas applied: copied at the first one (most ticks add none).
  std::optional<Plan> projected;
  auto add = [&](PlanDelta d, std::string inputs = {}) {
    if (!projected) projected = p;
    d.set_plan_version(projected->version() + 1);
    ApplyDelta(d, &*projected);
    step.deltas.push_back({std::move(d), std::move(inputs)});
  };
  auto finish = [&](PlanStatus status, std::string reason) {
    PlanDelta d = NewDelta(p, now);
    d.mutable_finished()->set_status(status);
    d.mutable_finished()->set_reason(std::move(reason));
    add(std::move(d));
  };
  if (IsSettled(p)) return step;
  const ParentOrder& o = p.order();
  const int64_t remaining = o.quantity() - p.filled_quantity();
  const uint32_t qs = p.instrument().qty_scale();
  const bool allocated_once = p.last_solve().method() != SOLVER_METHOD_UNSPECIFIED;
  const bool expired = o.time_in_force() == TIME_IN_FORCE_GTT &&
                       now >= p.created_time_ns() + o.expire_after_ms() * 1'000'000;
  if (OpenChildren(p) > 0) {
    // Waiting on venues. On expiry or a cancel, ask them to cancel (once per child); and a child
    // a venue left unanswered past the child timeout, asked again each timeout while it stays so.
    const uint32_t timeout_ms = config().routing().child_timeout_ms();
    const int64_t timeout_ns = int64_t{timeout_ms == 0 ? 10'000 : timeout_ms} * 1'000'000;
    // And once the order is filled (a venue filled a child beyond its quantity), every child
    // still open but one filled exactly (its end is on its way): it could only add to that.
    const bool cancel_all = expired || p.status() == PLAN_STATUS_CANCELLING;
    for (const ChildState& c : p.children()) {
      if (c.done()) continue;
      const std::string& id = c.order().cl_ord_id();
      const bool cancel_asked = std::count(rec.cancel_sent.begin(), rec.cancel_sent.end(), id) > 0;
      const bool overfilling = remaining <= 0 && c.filled_quantity() != c.order().quantity();
      if ((cancel_all || overfilling) && !cancel_asked) {
        rec.cancel_sent.push_back(id);
        step.cancels.push_back(c.order());
        continue;
      }
      if (c.sent_time_ns() <= 0) continue;
      if (ChildrenRest(c.order().venue())) {  // Never overdue; asked where it stands, if so configured.
        const int64_t poll_ns = StatusPollNs(c.order().venue());
        if (poll_ns == 0) continue;
        const auto polled = rec.status_asked.find(id);
        if (now - (polled == rec.status_asked.end() ? c.sent_time_ns() : polled->second) < poll_ns) continue;
        rec.status_asked[id] = now;
        step.status_asks.push_back(c.order());
        continue;
      }
      const auto asked = rec.overdue_asked.find(id);  // When the node last asked, for want of an answer.
      if (now - (asked == rec.overdue_asked.end() ? c.sent_time_ns() : asked->second) < timeout_ns) continue;
      step.overdue.push_back({c.order(), asked == rec.overdue_asked.end()});
      rec.overdue_asked[id] = now;
      if (!cancel_asked) rec.cancel_sent.push_back(id);
      step.cancels.push_back(c.order());
    }
    return step;
  }
  if (p.status() == PLAN_STATUS_CANCELLING) {
    finish(PLAN_STATUS_CANCELLED, p.reason());
    return step;
  }
  if (remaining <= 0) {
    // Over the order: a child filled beyond its quantity, or else a fill reported after its
    // child's end (the rest had been placed again meanwhile).
    const bool child_over = std::any_of(p.children().begin(), p.children().end(), [](const ChildState& c) {
      return c.filled_quantity() > c.order().quantity();
    });
    const char* why = child_over ? " (a venue filled a child beyond its quantity)"
                                 : " (a venue reported a fill after its child's end)";
    finish(PLAN_STATUS_COMPLETED,
           absl::StrCat("filled ", FormatDecimal(p.filled_quantity(), qs),
                        remaining == 0 ? ""
                                       : absl::StrCat(", ", FormatDecimal(-remaining, qs), " more than the order's ",
                                                      FormatDecimal(o.quantity(), qs), why)));
    return step;
  }
  if (expired) {
    finish(PLAN_STATUS_EXPIRED, absl::StrCat("expired after ", o.expire_after_ms(), " ms with ",
                                             FormatDecimal(p.filled_quantity(), qs), " of ",
                                             FormatDecimal(o.quantity(), qs), " filled"));
    return step;
  }
  if (int64_t lot = SmallestLot(o); remaining < lot) {
    // Only a venue that filled off its lot grid can get here; nothing could ever place this.
    finish(PLAN_STATUS_FAILED, absl::StrCat("remaining ", FormatDecimal(remaining, qs),
                                            " is below the smallest lot (", FormatDecimal(lot, qs),
                                            ") and cannot be placed"));
    return step;
  }
  if (o.time_in_force() == TIME_IN_FORCE_IOC && allocated_once) {
    finish(PLAN_STATUS_EXPIRED,
           absl::StrCat("immediate-or-cancel: ", FormatDecimal(remaining, qs), " of ",
                        FormatDecimal(o.quantity(), qs), " unfilled and cancelled"));
    return step;
  }

  // Trading halted by an operator: no new decision, so no child is sent, until it resumes.
  if (p.mode() == ROUTE_MODE_EXECUTE && TradingHalted(o.symbol())) return step;

  // A plan waiting for its limit price (or its arrival band's, once fixed): while no venue's book
  // has a level within it, the solver would cut every venue at the limit, allocate nothing and
  // nothing would be recorded — so no decision is made (thousands of resting limit orders would
  // otherwise cost a full decision each, every tick).
  if (allocated_once && p.arrival_limit() > 0 && !AnyBookWithinLimit(o, p.arrival_limit())) return step;
  if (allocated_once && o.has_limit_price() && !AnyBookWithinLimit(o, o.limit_price())) return step;

  // Operational timing only (not an input): snapshot and serialisation of the inputs, and the solve.
  using SteadyClock = std::chrono::steady_clock;
  auto ns_since = [](SteadyClock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - t).count();
  };
  const auto inputs_start = SteadyClock::now();
  SolveInput input = !allocated_once && rec.first_input ? *rec.first_input : BuildSolveInput(p, now);
  int64_t inputs_ns = ns_since(inputs_start);
  // A re-plan's search opens at the plan's last λ* (recorded with the inputs like the books).
  if (allocated_once && rec.last_lambda && input.method() != exoroute::v1::SOLVER_METHOD_ADMM) {
    input.set_opening_lambda(*rec.last_lambda);
  }
  // One Decision per thread, reused: its allocation messages are not allocated per decision.
  thread_local Decision decision;
  double lambda = 0;
  const auto solve_start = SteadyClock::now();
  absl::Status solved = solver::SolveInto(input, &decision, &curves_, &lambda);
  decision_latency_[allocated_once ? 1 : 0].Record(ns_since(solve_start));
  // Wait for liquidity (nothing recorded) — unless the decision fixed the order's arrival band
  // (its first with a two-sided market): that is recorded, so later decisions keep it.
  const bool wait = solved.ok() && allocated_once && decision.allocated_quantity() == 0 &&
                    decision.stats().arrival_limit() == 0;
  if (!solved.ok() || wait) inputs_latency_.Record(inputs_ns);
  EXO_RETURN_IF_ERROR(solved);
  if (decision.allocated_quantity() > 0) rec.last_lambda = lambda;
  if (wait) return step;

  const auto serialize_start = SteadyClock::now();
  std::string recorded = SerializeDeterministic(input);
  inputs_latency_.Record(inputs_ns + ns_since(serialize_start));
  PlanDelta d = NewDelta(p, now);
  *d.mutable_allocated() = solver::ToPlanAllocated(decision, p.allocations(), allocated_once);
  add(std::move(d), std::move(recorded));

  if (p.mode() == ROUTE_MODE_EXECUTE) {
    for (const Allocation& x : decision.allocations()) {
      PlanDelta c = NewDelta(*projected, now);
      ChildOrder* child = c.mutable_child_sent();
      child->set_cl_ord_id(internal::ChildOrderId(projected->plan_id(), config(), c.plan_version()));
      child->set_venue(x.venue());
      child->set_side(o.side());
      child->set_quantity(x.quantity());
      child->set_limit_price(x.limit_price());
      step.sends.push_back(*child);
      add(std::move(c));
    }
  }
  return step;
}

absl::Status RouterEngine::Commit(PlanRecord& rec, std::vector<PendingDelta> batch,
                                  const std::function<void()>& recorded) {
  if (batch.empty()) return absl::OkStatus();
  std::shared_lock<std::shared_mutex> appending = AppendLock();
  EXO_ASSIGN_OR_RETURN(std::vector<PlanDelta> stored, Record(std::move(batch)));
  for (const PlanDelta& d : stored) {
    ApplyDelta(d, &rec.plan);
    NoteExecution(d, rec);
    if (d.plan_version() == 1) ++plans_total_;
  }
  if (recorded) recorded();
  Publish(rec);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PlanDelta>> RouterEngine::Record(std::vector<store::PendingDelta> batch) {
  absl::StatusOr<std::vector<PlanDelta>> stored = store_->Append(std::move(batch));
  if (!stored.ok() && !store_->WriteFailure().ok() && !write_failure_logged_.exchange(true)) {
    LogError("%s", store_->WriteFailure().message());
    std::lock_guard<std::mutex> lock(write_failure_mu_);
    if (on_write_failure_) on_write_failure_(store_->WriteFailure());
  }
  return stored;
}

void RouterEngine::OnWriteFailure(std::function<void(const absl::Status&)> fn) {
  std::lock_guard<std::mutex> lock(write_failure_mu_);
  on_write_failure_ = std::move(fn);
  if (write_failure_logged_) on_write_failure_(store_->WriteFailure());
}

void RouterEngine::NoteState(PlanRecord& rec) {
  const Plan& p = rec.plan;
  rec.version = p.version();
  rec.settled = IsSettled(p);
  rec.working_quantity =
      !rec.settled && p.mode() == ROUTE_MODE_EXECUTE ? std::max<int64_t>(0, p.order().quantity() - p.filled_quantity()) : 0;
}

void RouterEngine::Publish(PlanRecord& rec) {
  NoteState(rec);
  std::lock_guard<std::mutex> lock(watch_mu_);
  watch_cv_.notify_all();
}

absl::Status RouterEngine::Drive(PlanRecord& rec, std::vector<PendingDelta> prefix,
                                 const std::function<void()>& prefix_recorded) {
  for (int guard = 0; guard < 64; ++guard) {
    int64_t now = clock_->NowNs();
    std::optional<Plan> projected;  // With the prefix applied (none: the plan as it is).
    if (!prefix.empty()) {
      projected = rec.plan;
      for (auto& pd : prefix) {
        pd.delta.set_plan_version(projected->version() + 1);
        ApplyDelta(pd.delta, &*projected);
      }
    }
    EXO_ASSIGN_OR_RETURN(Step step, NextStep(rec, projected ? *projected : rec.plan, now));
    std::vector<PendingDelta> batch = std::move(prefix);
    prefix.clear();
    for (auto& d : step.deltas) batch.push_back(std::move(d));
    for (const Step::Overdue& o : step.overdue) {
      if (o.first) child_outcomes_.Overdue(o.child.venue());
      // A venue that can say where an order stands is asked too: a report lost on the way is
      // then recovered (its fills, its end) without anyone's help.
      adapters::VenueAdapter* a = AdapterFor(o.child.venue());
      const bool ask = a != nullptr && a->can_reconcile();
      if (ask) {
        if (absl::Status s = a->AskStatus(o.child.cl_ord_id()); !s.ok() && !absl::IsNotFound(s)) {
          LogWarning("status request for %s at %s failed: %s", o.child.cl_ord_id(), o.child.venue(), s.ToString());
        }
      }
      LogWarning("child %s at %s: no answer from the venue %s (routing.child_timeout_ms): asked to cancel it%s%s; its "
                 "quantity stays reserved until the venue answers",
                 o.child.cl_ord_id(), o.child.venue(), o.first ? "since it was sent" : "since the node last asked",
                 ask ? " and where it stands" : "", o.first ? "" : " again");
    }
    for (const ChildOrder& c : step.status_asks) {
      adapters::VenueAdapter* a = AdapterFor(c.venue());
      if (a == nullptr || !a->can_reconcile()) continue;
      if (absl::Status s = a->AskStatus(c.cl_ord_id()); !s.ok() && !absl::IsNotFound(s)) {
        LogWarning("status request for %s at %s failed: %s", c.cl_ord_id(), c.venue(), s.ToString());
      }
    }
    for (const ChildOrder& c : step.cancels) {
      if (auto* a = AdapterFor(c.venue())) {
        absl::Status s = a->Cancel(c.cl_ord_id());
        if (!s.ok() && !absl::IsNotFound(s)) {
          LogWarning("cancel %s at %s failed: %s", c.cl_ord_id(), c.venue(), s.ToString());
        }
      }
    }
    if (batch.empty()) return absl::OkStatus();
    // Recorded before sent: a crash after this line can never place the same child twice.
    EXO_RETURN_IF_ERROR(Commit(rec, std::move(batch), guard == 0 ? prefix_recorded : nullptr));
    if (!step.sends.empty()) CrashPoint(kCrashChildRecorded);
    for (const ChildOrder& c : step.sends) {
      adapters::VenueAdapter* a = AdapterFor(c.venue());
      child_outcomes_.Sent(c.cl_ord_id(), ChildOutcomes::Clock::now());
      absl::Status s = a->Send(c, rec.plan.order().symbol());
      if (!s.ok()) {
        adapters::ExecutionEvent rejected;
        rejected.type = adapters::ExecutionEvent::Type::kDone;
        rejected.venue = c.venue();
        rejected.cl_ord_id = c.cl_ord_id();
        rejected.canceled_quantity = c.quantity();
        rejected.reason = absl::StrCat("rejected: ", s.message());
        OnExecution(std::move(rejected));
      }
    }
  }
  return absl::InternalError("plan did not settle within 64 steps");
}

absl::Status RouterEngine::CheckClusterShare(const ParentOrder& order) const {
  if (FindInstrument(order.symbol()) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("order.symbol: unknown symbol \"", order.symbol(), "\""));
  }
  for (const auto& [id, v] : venues_) {
    for (const MarketConfig& m : v.config.markets()) {
      if (m.symbol() == order.symbol()) return absl::OkStatus();
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no venue can trade ", order.symbol(), " (no configured venue lists it)"));
}

std::vector<std::string> RouterEngine::OwnListedVenues(const ParentOrder& order) const {
  std::vector<std::string> out;
  for (const auto* list : {&order.allowed_venues(), &order.denied_venues()}) {
    for (const std::string& name : *list) {
      if (venues_.count(name) > 0) out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<SolveInput> RouterEngine::SnapshotInput(const ParentOrder& order,
                                                       RouteMode mode) const {
  EXO_RETURN_IF_ERROR(CheckClusterShare(order));
  Plan p;
  *p.mutable_order() = order;
  p.set_mode(mode);
  *p.mutable_instrument() = *FindInstrument(order.symbol());
  return BuildSolveInput(p, clock_->NowNs());
}

absl::StatusOr<Plan> RouterEngine::Route(const ParentOrder& order, RouteMode mode,
                                         std::optional<SolveInput> first_input, const std::string& routed_by) {
  WriterGuard writing(this);
  if (draining_) return absl::UnavailableError("exorouted is shutting down");
  EXO_RETURN_IF_ERROR(first_input.has_value() ? CheckClusterShare(order) : CheckRoutable(order));
  std::shared_ptr<PlanRecord> rec;
  std::unique_lock<std::mutex> rec_lock;
  // A plan of that id may have settled and left memory: the store is asked first (the record
  // then stays in memory until the next sweep, so the check below finds it).
  EXO_RETURN_IF_ERROR(FindRecord(order.id()).status());
  // (A halt recorded after this check sends nothing anyway: NextStep makes no decision while
  // halted.)
  const absl::Status trading = mode == ROUTE_MODE_EXECUTE ? CheckTradingAllowed(order.symbol()) : absl::OkStatus();
  // (A cluster share is checked on the coordinator, against the whole order.)
  RiskRefusal order_risk_by;
  const absl::Status order_risk =
      first_input.has_value() ? absl::OkStatus() : CheckOrderRisk(order, routed_by, &order_risk_by);
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    auto it = plans_.find(order.id());
    if (it != plans_.end()) {
      std::lock_guard<std::mutex> existing(it->second->mu);
      const Plan& p = it->second->plan;
      // (An amended plan is the order as it was routed.)
      const ParentOrder& routed = p.amendments() > 0 ? p.routed_order() : p.order();
      if (p.mode() == mode && google::protobuf::util::MessageDifferencer::Equals(routed, order)) {
        return p;  // An idempotent retry.
      }
      return absl::AlreadyExistsError(absl::StrCat(
          "order.id: plan \"", order.id(), "\" already exists with a different order"));
    }
    if (!trading.ok()) return trading;  // (After the retry: a plan made before the halt is answered.)
    if (!order_risk.ok()) return RiskRefused(order, order_risk_by, order_risk);  // (After the retry, as the halt.)
    if (!first_input.has_value()) {
      RiskRefusal by;
      if (absl::Status working = CheckWorkingRiskLocked(order, mode, routed_by, &by); !working.ok()) {
        return RiskRefused(order, by, working);
      }
      // Last: an order refused for anything else takes no place in the rate's window.
      if (absl::Status rate = AdmitOrderRateLocked(order, mode, routed_by, &by); !rate.ok()) {
        return RiskRefused(order, by, rate);
      }
    }
    rec = std::make_shared<PlanRecord>();
    rec_lock = std::unique_lock<std::mutex>(rec->mu);
    rec->first_input = std::move(first_input);
    rec->symbol = order.symbol();
    rec->routed_by = routed_by;
    // Counted from now: a route checked after this one sees it (its fills come later).
    rec->working_quantity = mode == ROUTE_MODE_EXECUTE ? order.quantity() : 0;
    plans_.emplace(order.id(), rec);
  }
  PendingDelta created;
  created.delta.set_plan_id(order.id());
  created.delta.set_event_time_ns(clock_->NowNs());
  auto* c = created.delta.mutable_created();
  *c->mutable_order() = order;
  c->set_mode(mode);
  *c->mutable_instrument() = *FindInstrument(order.symbol());
  c->set_routed_by(routed_by);
  std::vector<PendingDelta> prefix;
  prefix.push_back(std::move(created));
  absl::Status s = Drive(*rec, std::move(prefix));
  if (!s.ok() && rec->plan.version() == 0) {
    // Nothing became durable: forget the plan so that a retry can create it.
    std::lock_guard<std::mutex> lock(plans_mu_);
    plans_.erase(order.id());
    return s;
  }
  if (!s.ok()) LogError("plan %s: %s", order.id(), s.ToString());
  return rec->plan;
}

absl::StatusOr<std::shared_ptr<RouterEngine::PlanRecord>> RouterEngine::LoadRecord(const std::string& id) const {
  auto rec = std::make_shared<PlanRecord>();
  EXO_RETURN_IF_ERROR(store_->ScanPlan(id, 1, [&](const PlanDelta& d, std::string_view) {
    if (d.has_privacy_refused() || d.has_governance()) return true;  // Node events, not plans.
    ApplyDelta(d, &rec->plan);
    NoteExecution(d, *rec);
    return true;
  }));
  if (rec->plan.version() == 0) return nullptr;
  rec->symbol = rec->plan.order().symbol();
  rec->routed_by = rec->plan.routed_by();
  NoteState(*rec);
  return rec;
}

absl::StatusOr<std::shared_ptr<RouterEngine::PlanRecord>> RouterEngine::FindRecord(const std::string& id) const {
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    auto it = plans_.find(id);
    if (it != plans_.end()) return it->second;
  }
  // Not in memory: no one is changing the plan (every change goes through its record there),
  // so the store holds all of it. Read outside the lock; the first record in wins.
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<PlanRecord> loaded, LoadRecord(id));
  if (loaded == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(plans_mu_);
  return plans_.emplace(id, std::move(loaded)).first->second;
}

absl::StatusOr<std::shared_ptr<RouterEngine::PlanRecord>> RouterEngine::ExistingRecord(const std::string& plan_id) const {
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<PlanRecord> rec, FindRecord(plan_id));
  if (!rec) return PlanNotFound(plan_id);
  return rec;
}

absl::StatusOr<std::shared_ptr<RouterEngine::PlanRecord>> RouterEngine::RecordToChange(const std::string& plan_id) const {
  if (draining_) return absl::UnavailableError("exorouted is shutting down");
  return ExistingRecord(plan_id);
}

void RouterEngine::EvictSettled() {
  std::lock_guard<std::mutex> lock(plans_mu_);
  for (auto it = plans_.begin(); it != plans_.end();) {
    // use_count() == 1: only this map holds it, and a holder can only be made under plans_mu_.
    const bool idle = it->second.use_count() == 1 && it->second->settled.load();
    it = idle ? plans_.erase(it) : std::next(it);
  }
}

uint64_t RouterEngine::PlansInMemory() const {
  std::lock_guard<std::mutex> lock(plans_mu_);
  return plans_.size();
}

absl::StatusOr<Plan> RouterEngine::GetPlan(const std::string& plan_id) const {
  EXO_ASSIGN_OR_RETURN(std::shared_ptr<PlanRecord> rec, ExistingRecord(plan_id));
  std::lock_guard<std::mutex> lock(rec->mu);
  if (rec->plan.version() == 0) return PlanNotFound(plan_id);
  return rec->plan;
}

std::vector<std::string> RouterEngine::WorkingPlanIds(const std::string& prefix) const {
  std::vector<std::string> ids;
  std::lock_guard<std::mutex> lock(plans_mu_);
  for (auto it = plans_.lower_bound(prefix); it != plans_.end() && absl::StartsWith(it->first, prefix); ++it) {
    if (it->second->version.load() > 0 && !it->second->settled.load()) ids.push_back(it->first);
  }
  return ids;
}

absl::StatusOr<std::vector<Plan>> RouterEngine::WorkingPlans(const std::string& symbol, const std::string& after,
                                                             size_t limit, bool* more,
                                                             const std::string& routed_by) const {
  if (!symbol.empty() && FindInstrument(symbol) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("symbol: unknown symbol \"", symbol, "\" (this node trades: ", KnownSymbols(), ")"));
  }
  // The candidates under plans_mu_ (held, so none leaves memory), each read under its own lock
  // after: plans_mu_ is not held while a plan is copied.
  std::vector<std::shared_ptr<PlanRecord>> candidates;
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    for (auto it = plans_.upper_bound(after); it != plans_.end(); ++it) {
      if (it->second->version.load() > 0 && !it->second->settled.load()) candidates.push_back(it->second);
    }
  }
  std::vector<Plan> out;
  *more = false;
  for (const std::shared_ptr<PlanRecord>& rec : candidates) {
    std::lock_guard<std::mutex> lock(rec->mu);
    if (rec->plan.version() == 0 || IsSettled(rec->plan)) continue;
    if (!symbol.empty() && rec->plan.order().symbol() != symbol) continue;
    if (!routed_by.empty() && rec->plan.routed_by() != routed_by) continue;
    if (out.size() == limit) {
      *more = true;
      break;
    }
    out.push_back(rec->plan);
  }
  return out;
}

}  // namespace exo::daemon
