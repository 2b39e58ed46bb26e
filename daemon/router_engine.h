// RouterEngine: the core of exorouted. Owns the plans, turns parent orders into decisions
// (solver), decisions into child orders (adapters), and every change into a durable PlanDelta
// (store) before anything acts on it.
//
// Threads: gRPC handlers call Route/GetPlan/Cancel/AwaitVersion concurrently; adapters' events
// arrive on one queue drained by the engine's event thread; a tick thread re-plans working plans
// and enforces expiry. Each plan has its own mutex, held across its appends, so a plan's deltas
// are ordered while appends of different plans share one WAL sync (group commit). Lock order:
// plans_mu_ before a plan's mutex; never the other way round. gRPC handlers never wait on venue
// I/O, only on the store.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/venue_adapter.h"
#include "exo/clock.h"
#include "exoroute/v1/admin.pb.h"
#include "exoroute/v1/config.pb.h"
#include "exoroute/v1/recovery.pb.h"
#include "exoroute/v1/router.pb.h"
#include "exoroute/v1/types.pb.h"
#include "daemon/child_outcomes.h"
#include "daemon/disconnect_cancels.h"
#include "daemon/latency_histogram.h"
#include "daemon/node_events.h"
#include "daemon/order_rate.h"
#include "solver/venue_curve.h"
#include "store/delta_store.h"

namespace exo::daemon {

class RouterEngine {
 public:

  struct Venue {
    // As the node started: its id, markets and adapter never change while the node runs; its
    // terms (fee, impact, book age) are those of config().venues(config_index).
    exoroute::v1::VenueConfig config;
    std::unique_ptr<adapters::VenueAdapter> adapter;
    int config_index = 0;  // Its place in the config's venues (set by the engine).
  };

  RouterEngine(exoroute::v1::DaemonConfig config, store::DeltaStore* store,
               std::vector<Venue> venues, Clock* clock);
  ~RouterEngine();

  // Rebuilds every working plan from the store. Children that were open when the node stopped
  // are reconciled with their venue where it can say where they stand (FIX:
  // OrderStatusRequest), else recorded as lost (simulated venues keep no state across restarts)
  // so plans resume. Reads the chain from the start-up checkpoint written at the end of the
  // last Recover or Stop when it matches the chain (docs/architecture.md), else whole.
  absl::Status Recover();
  // How the last Recover read the chain.
  struct RecoveryStats {
    bool from_checkpoint = false;
    uint64_t checkpoint_sequence = 0;  // With from_checkpoint: the chain read after it.
    uint64_t deltas_read = 0;          // Chain deltas the pass read (not plans read back).
    std::string checkpoint_ignored;    // Why a checkpoint in the store was not used.
  };
  const RecoveryStats& recovery() const { return recovery_; }
  // The chain head at the last start-up checkpoint written.
  uint64_t checkpoint_sequence() const { return checkpoint_at_.load(); }
  // Starts the adapters and the engine's threads.
  absl::Status Start();
  // Refuses new routes from now on and wakes every watcher (first step of a graceful stop).
  void BeginDrain();
  // Waits until no Route or Cancel is in progress (or the timeout passes); true when idle.
  // After BeginDrain, this is when every acknowledged change is durable.
  bool AwaitNoWriters(absl::Duration timeout);
  // Stops threads and adapters. Idempotent.
  void Stop();
  // Called once when the store's first write fails (at once if it has already): the node can
  // record nothing more, so it takes itself out of rotation.
  void OnWriteFailure(std::function<void(const absl::Status&)> fn);

  // `first_input`, when given, is what the plan's first decision is solved from instead of the
  // books at that moment: a cluster node's share, decided on the books it answered from (the
  // order is then checked as a cluster share: CheckClusterShare). `routed_by`: who sent the
  // order (a client certificate's name; "" = not known), recorded with the plan.
  absl::StatusOr<exoroute::v1::Plan> Route(const exoroute::v1::ParentOrder& order,
                                           exoroute::v1::RouteMode mode,
                                           std::optional<exoroute::v1::SolveInput> first_input = {},
                                           const std::string& routed_by = "");
  // Appends a node event to the chain: a privacy release refused for an exhausted budget.
  absl::Status RecordPrivacyRefusal(const exoroute::v1::PrivacyRefused& refusal);
  // Records `event` (plan id "node/governance") unless the last governance event of its kind
  // about its subject has the same digest; `detail(previous digest, "" if none)` fills its
  // detail. `inputs` (e.g. the serialized config) is stored under the delta's inputs digest.
  // Check and record are one step (safe from any thread). True if recorded.
  // With `stored`, the delta recorded is written there.
  absl::StatusOr<bool> RecordGovernanceIfChanged(
      exoroute::v1::GovernanceEvent event, const std::function<std::string(const std::string& previous)>& detail,
      std::string inputs = "", exoroute::v1::PlanDelta* stored = nullptr);

  // Trading on this node (AdminService.SetTrading). While halted no child order is sent:
  // EXECUTE routes are refused and working EXECUTE plans make no new decision (cancels, fills
  // and expiries go on); plan-only routes are decided as ever. One venue can be halted alone
  // (executed plans then decide without it, its exclusion saying why), or one symbol (its
  // orders as if the node were halted, other symbols trading on). Each change is a governance
  // event (GOVERNANCE_KIND_TRADING, subject TradingScope::Subject), read back at start-up: what
  // was halted before a restart is halted after it.
  struct Trading {
    bool halted = false;
    std::string reason;     // Of the last change ("" if never changed).
    int64_t since_ns = 0;   // Its event time (0 if never).
    uint64_t sequence = 0;  // Its delta's sequence (0 if never).
    exoroute::v1::TradingStatus ToProto() const;
  };
  // What a halt covers: the whole node (both empty), one venue, or one symbol.
  struct TradingScope {
    std::string venue;
    std::string symbol;
    static TradingScope Venue(std::string id) { return {std::move(id), ""}; }
    static TradingScope Symbol(std::string symbol) { return {"", std::move(symbol)}; }
    // Its governance subject: "trading", "trading venue <id>" or "trading symbol <symbol>".
    std::string Subject() const;
  };
  // Halts (or resumes) `scope` and records it: true; false when it is already so (nothing
  // recorded). InvalidArgument for a venue or symbol the node does not have, or both at once.
  absl::StatusOr<bool> SetTrading(bool halted, const std::string& reason, const TradingScope& scope = {});
  // The state of `scope` (the node's by default).
  Trading trading(const TradingScope& scope = {}) const;
  // The symbols halted or resumed alone, by symbol.
  std::map<std::string, Trading> TradingBySymbol() const;
  // FailedPrecondition saying since when and why trading is halted on the node or for
  // `symbol`; OK when it is not.
  absl::Status CheckTradingAllowed(const std::string& symbol) const;
  // The solver input `order` would be decided from now (for a cluster route's node session).
  // The order is the cluster's: see CheckClusterShare.
  absl::StatusOr<exoroute::v1::SolveInput> SnapshotInput(const exoroute::v1::ParentOrder& order,
                                                         exoroute::v1::RouteMode mode) const;
  // A cluster order as this node takes part in it: its allow and deny lists may name other
  // nodes' venues (ignored here), its quantity is checked against the whole cluster's lots
  // (by the coordinator), and lists that leave none of this node's venues are not an error (the
  // node answers zeros). FailedPrecondition only when the symbol is unknown or no venue of this
  // node trades it.
  absl::Status CheckClusterShare(const exoroute::v1::ParentOrder& order) const;
  // The node's pre-trade risk limits on `order` (DaemonConfig.risk; see RiskLimit for what each
  // checks and answers), as Route checks them for a new plan (an idempotent retry is answered
  // before them): for a cluster route, on the coordinator before any node is asked. A refusal
  // is counted (RiskStatuses) and logged. A plan already under order.id is not counted against
  // its own order. An executed order that passes takes its place in the order rate's window (it
  // is admitted, as Route admits it).
  // `routed_by`: who sends it (its sender's own limits apply too; "" = not known).
  absl::Status CheckRisk(const exoroute::v1::ParentOrder& order, exoroute::v1::RouteMode mode,
                         const std::string& routed_by = "") const;
  // Each configured limit with its instrument's working quantity now and its refusals.
  std::vector<exoroute::v1::RiskStatus> RiskStatuses() const;
  // What this node's executed plans of `symbol` may still fill, of every client's ("") or one
  // client's plans (a cluster coordinator sums every node's for its working-quantity limit).
  int64_t WorkingQuantity(const std::string& symbol, const std::string& client = "") const;
  // The refusal of a cluster route by this node's working-quantity limit entry of `client` ("":
  // the instrument's) over the cluster's working quantity: counted and logged as CheckRisk's.
  absl::Status RefuseWorking(const exoroute::v1::ParentOrder& order, const std::string& client,
                             absl::Status refused) const;
  // Which names of the order's allowed and denied lists are venues of this node.
  std::vector<std::string> OwnListedVenues(const exoroute::v1::ParentOrder& order) const;
  // Smallest lot among the venues `order` may use on this node (0 if none).
  int64_t SmallestLot(const exoroute::v1::ParentOrder& order) const;
  // The configured instrument, or null.
  const exoroute::v1::Instrument* FindInstrument(const std::string& symbol) const;
  // The node's clock (the one every delta and book age is read on), in Unix nanoseconds.
  int64_t NowNs() const { return clock_->NowNs(); }
  const Clock& clock() const { return *clock_; }
  // The venues' cost curves this engine keeps (shared with this node's cluster sessions).
  solver::CurveCache* curves() { return &curves_; }
  absl::StatusOr<exoroute::v1::Plan> GetPlan(const std::string& plan_id) const;
  // The ids of the plans not yet settled whose id begins with `prefix`, in id order.
  std::vector<std::string> WorkingPlanIds(const std::string& prefix) const;
  // Up to `limit` plans not yet settled whose id sorts after `after` ("" = from the first), by
  // plan id; only `symbol`'s when it is not empty (FailedPrecondition for a symbol this node does
  // not trade), only those `routed_by` sent when it is not empty. `*more`: working plans remain
  // after the last one returned.
  absl::StatusOr<std::vector<exoroute::v1::Plan>> WorkingPlans(const std::string& symbol, const std::string& after,
                                                               size_t limit, bool* more,
                                                               const std::string& routed_by = "") const;
  absl::StatusOr<exoroute::v1::Plan> Cancel(const std::string& plan_id, const std::string& reason);
  // A working executed plan's order amended (AmendPlan): its whole quantity (what has filled
  // counts towards it), its limit price (or no limit: a market order) and/or its urgency. Recorded (PlanAmended) before the plan decides
  // on the new terms, then driven as after a fill: a re-plan at once when no child is open
  // (children already sent keep their terms), completed when the new quantity has filled.
  // The order's checks and risk limits apply to the new terms (the working quantity counts
  // what the plan may still fill). `*changed` false: the order already had them (nothing
  // recorded). NotFound; FailedPrecondition (finished, cancelling, plan-only, a quantity
  // below what has filled or open children may still fill); ResourceExhausted (a limit).
  struct Amendment {
    // The new whole quantity; nullopt: unchanged. (0 only as a cluster share's cut to what it
    // has filled when that is nothing: the API asks for at least 1.)
    std::optional<int64_t> quantity;
    std::optional<int64_t> limit_price;  // nullopt: unchanged.
    bool remove_limit = false;           // A market order from now (not with limit_price).
    exoroute::v1::Urgency urgency = exoroute::v1::URGENCY_UNSPECIFIED;  // Unspecified: unchanged.
    std::string reason;                  // "" : "amended by client".
    // What an AmendPlan request asks for (validated: ValidateAmend).
    static Amendment Of(const exoroute::v1::AmendPlanRequest& r);
  };
  absl::StatusOr<exoroute::v1::Plan> Amend(const std::string& plan_id, const Amendment& amendment, bool* changed);
  // An operator's settlement of an open child its venue never reported the end of
  // (AdminService.SettleChild): the venue's word, reconciled outside the node. Records a fill of
  // what the venue filled beyond what the plan has (exec_id kSettledExecId) and the child's end
  // (reason "settled by operator: " + reason), asks the venue to cancel the child, and drives
  // the plan on as after any child's end. Reports for the child after it are not applied
  // (counted and logged as an ERROR). NotFound (plan, child); FailedPrecondition (the child has
  // ended; the plan is plan-only); InvalidArgument (a quantity below what is recorded or above
  // the child's, a price missing or out of bounds); Unavailable (draining); a store error.
  struct Settlement {
    std::string cl_ord_id;
    int64_t filled_quantity = 0;  // The child's whole filled quantity, as the venue states it.
    int64_t price = 0;            // Of the part not recorded yet (0 when there is none).
    int64_t fee = 0;
    std::string reason;           // Recorded after "settled by operator: ".
    bool check_only = false;      // Only check it against the plan: record nothing, ask nothing.
  };
  static constexpr const char* kSettledExecId = "settled-by-operator";
  static constexpr const char* kSettledReasonPrefix = "settled by operator: ";
  absl::StatusOr<exoroute::v1::Plan> SettleChild(const std::string& plan_id, const Settlement& settlement);
  // Arms the plan's dead man's switch with `grace` before a cancel_on_disconnect watch holds
  // it: records DisconnectArmed unless the plan is armed with that grace already (or has
  // settled: nothing is left to cancel). Recorded, the switch outlives a restart: AwaitArmedSwitches
  // makes every armed working plan wait out its grace, as if its watch had just ended. NotFound;
  // Unavailable (draining); a store error.
  absl::Status ArmDisconnect(const std::string& plan_id, std::chrono::milliseconds grace);
  // Makes every working plan armed before this start wait out its grace from now (no watch
  // holds it: each ended with the node). Called once the client API serves, so that a client
  // has the whole grace to watch again however long the start took.
  void AwaitArmedSwitches();
  // A watch with cancel_on_disconnect (WatchPlan) opened on the plan / ended: `lost` when the
  // plan had not settled and the node is not shutting down. The tick cancels a plan whose last
  // such watch ended lost and that no new one held within `grace` (DisconnectCancels).
  void HoldOnDisconnect(const std::string& plan_id) { disconnects_.Hold(plan_id); }
  void ReleaseOnDisconnect(const std::string& plan_id, bool lost, std::chrono::milliseconds grace) {
    disconnects_.Release(plan_id, lost, grace, DisconnectCancels::Clock::now());
  }
  // Plans held by a cancel_on_disconnect watch now, and plans waiting out their grace.
  size_t disconnect_held() const { return disconnects_.held(); }
  size_t disconnect_waiting() const { return disconnects_.waiting(); }
  // Plans cancelled on disconnect since start.
  uint64_t disconnect_cancels() const { return disconnect_cancels_.load(); }
  // On a cluster node a plan is a cluster route's share, and its switch cancels the whole route
  // on every node (the cluster's CancelPlan), which the cluster sets here once it runs; until
  // then a cluster node's plans due for cancellation wait. Called by the tick's thread only.
  using RouteCanceller =
      std::function<absl::StatusOr<exoroute::v1::Plan>(const std::string& plan_id, const std::string& reason)>;
  void SetRouteCanceller(RouteCanceller canceller);
  // The books the node holds now for `symbol` (AdminService.GetBooks): per venue that lists
  // it, by id, at most `depth` levels a side, its age and fee, and per side the reason an
  // executed order decided now would record for leaving it out ("" : it would use it); the best
  // bid and ask over the venues it would use. NotFound for a symbol the node does not trade.
  absl::StatusOr<exoroute::v1::GetBooksResponse> BooksNow(const std::string& symbol, int depth) const;
  // Waits until every execution report the venues delivered so far has been handled (applied
  // to its plan, or refused and counted); false if the timeout passed first.
  bool AwaitExecutionsHandled(absl::Duration timeout);

  // Waits until the plan's version exceeds `seen_version`, the timeout passes, or the engine
  // drains. Returns the plan's version and whether it has settled (no more deltas will come).
  struct PlanProgress {
    uint32_t version = 0;
    bool settled = false;
  };
  absl::StatusOr<PlanProgress> AwaitVersion(const std::string& plan_id, uint32_t seen_version,
                                            absl::Duration timeout) const;

  bool draining() const { return draining_.load(); }
  std::vector<exoroute::v1::VenueStatus> VenueStatuses() const;
  // The open children of working plans that the node found overdue (no last report from their
  // venue within routing.child_timeout_ms: it asked the venue to cancel each) and that are still
  // open, the oldest sent first (then by id).
  std::vector<exoroute::v1::UnansweredChild> UnansweredChildren() const;
  // Plans planned on this node (all time, from its store) and those not yet settled.
  void CountPlans(uint64_t* total, uint64_t* working) const;
  // Plans held in memory: those not yet settled, those in use, and settled ones read back from
  // the store since the last sweep (TickLoop). Settled plans leave memory; the store has them.
  uint64_t PlansInMemory() const;
  // The config in force: the one the node started with, or the last one a reload applied
  // (ApplyConfig). A reference stays valid for the engine's life (every config applied is
  // kept); read it once per operation for a consistent view.
  const exoroute::v1::DaemonConfig& config() const { return *config_.load(); }
  // Puts `next` in force for every decision and check from now on: risk limits, urgency bands,
  // the solver method, the re-plan interval (the tick thread is woken to take it), venue terms
  // (fee, impact, book age; the adapters charge fills at the new fee). The caller
  // has checked that only what a reload may change differs (CheckReloadable, config_reload.h)
  // and recorded it in the chain. FailedPrecondition (nothing applied) if its venues are not
  // the node's, in the same places. Any thread; reloads are rare (each config is kept).
  absl::Status ApplyConfig(const exoroute::v1::DaemonConfig& next);
  uint64_t unknown_executions() const { return unknown_executions_.load(); }
  // Wall time of the solver decisions this engine made: a plan's first (`replan` false) or
  // its re-plans (which open their search at the plan's last λ*).
  const LatencyHistogram& decision_latency(bool replan) const { return decision_latency_[replan ? 1 : 0]; }
  // Per decision, what it costs to snapshot the books into its SolveInput and, when the
  // decision is recorded, to serialise that input (the rest of a decision's CPU besides solving).
  const LatencyHistogram& inputs_latency() const { return inputs_latency_; }
  // What became of the children sent to each venue since start (Status.venues, /metrics).
  const ChildOutcomes& child_outcomes() const { return child_outcomes_; }
  uint64_t duplicate_executions() const { return duplicate_executions_.load(); }
  // Fills that took a child beyond its quantity since start (Status.overfills).
  uint64_t overfills() const { return overfills_.load(); }
  // Fills a venue reported after the child's end, recorded since start (Status.late_fills).
  uint64_t late_fills() const { return late_fills_.load(); }

 private:
  class WriterGuard;
  struct PlanRecord {
    mutable std::mutex mu;
    exoroute::v1::Plan plan;             // Guarded by mu; changed only by ApplyDelta.
    std::vector<std::string> cancel_sent;  // Guarded by mu; open children we asked to cancel.
    // Guarded by mu: open children asked to cancel for want of an answer, and when last asked.
    std::map<std::string, int64_t> overdue_asked;
    // Guarded by mu: resting children the node asked where they stand (fix.status_poll_ms), and
    // when last asked.
    std::map<std::string, int64_t> status_asked;
    std::optional<exoroute::v1::SolveInput> first_input;  // Guarded by mu; see Route.
    // Guarded by mu: λ* of the plan's last decision, where its next re-plan's search opens
    // (SolveInput.opening_lambda). Not kept across restarts: a re-plan then searches afresh.
    std::optional<double> last_lambda;
    // Guarded by mu: ExecutionKey of every recorded fill, so that a report delivered twice is
    // recorded once.
    std::set<std::string> exec_ids;
    std::atomic<uint32_t> version{0};
    std::atomic<bool> settled{false};
    // The order's symbol and who sent it, set before the record is shared (never changed).
    std::string symbol;
    std::string routed_by;
    // What an executed plan may still fill (its quantity less its fills) while it works; 0
    // once settled, and for a plan-only plan. Read without mu (risk limits).
    std::atomic<int64_t> working_quantity{0};
  };
  // version, settled and working_quantity from rec.plan (caller holds rec.mu).
  static void NoteState(PlanRecord& rec);
  // What one step of a plan decides: deltas to append, then children to send and cancel.
  struct Step {
    std::vector<store::PendingDelta> deltas;
    std::vector<exoroute::v1::ChildOrder> sends;
    std::vector<exoroute::v1::ChildOrder> cancels;
    // Of `cancels`, those asked because the venue left them unanswered (routing.child_timeout_ms):
    // `first` the first time for that child.
    struct Overdue {
      exoroute::v1::ChildOrder child;
      bool first = false;
    };
    std::vector<Overdue> overdue;
    // Resting children to ask their venue about (fix.status_poll_ms).
    std::vector<exoroute::v1::ChildOrder> status_asks;
  };

  // A child's ClOrdID and a venue's execution id: a report delivered twice has both the same (a
  // venue may reuse execution ids across its own restarts, never within one child order).
  static std::string ExecutionKey(const std::string& cl_ord_id, const std::string& exec_id);
  // Remembers a recorded fill's execution id in `rec` (see PlanRecord::exec_ids).
  static void NoteExecution(const exoroute::v1::PlanDelta& d, PlanRecord& rec);
  absl::Status CheckRoutable(const exoroute::v1::ParentOrder& order) const;
  exoroute::v1::SolveInput BuildSolveInput(const exoroute::v1::Plan& plan, int64_t now) const;
  // Whether the venue's children rest there (a FIX venue's time_in_force other than IOC or
  // FOK): they are never overdue (routing.child_timeout_ms).
  bool ChildrenRest(const std::string& venue) const;
  // How often to ask the venue where a resting child stands (fix.status_poll_ms), in ns; 0: never.
  int64_t StatusPollNs(const std::string& venue) const;
  // Some venue's book (of those BuildSolveInput would add) has a level within `limit` on the
  // order's side.
  bool AnyBookWithinLimit(const exoroute::v1::ParentOrder& order, int64_t limit) const;
  // Decides the plan's next step from its state (with `projected` = state incl. `prefix`).
  absl::StatusOr<Step> NextStep(PlanRecord& rec, const exoroute::v1::Plan& projected, int64_t now);
  // Appends step after step until the plan has nothing more to do now. Caller holds rec.mu.
  // `prefix_recorded`, if given, runs once the prefix is durable and before any watcher or
  // reader of the plan can see it (a child's end counted in Status before its plan settles).
  absl::Status Drive(PlanRecord& rec, std::vector<store::PendingDelta> prefix,
                     const std::function<void()>& prefix_recorded = nullptr);
  absl::Status Commit(PlanRecord& rec, std::vector<store::PendingDelta> batch,
                      const std::function<void()>& recorded = nullptr);
  // store_->Append, and the store's first write failure logged (it takes no more writes).
  absl::StatusOr<std::vector<exoroute::v1::PlanDelta>> Record(std::vector<store::PendingDelta> batch);
  std::atomic<bool> write_failure_logged_{false};
  std::mutex write_failure_mu_;
  std::function<void(const absl::Status&)> on_write_failure_;  // Guarded by write_failure_mu_.
  void Publish(PlanRecord& rec);
  // The plan's record, from memory or else folded from the store and kept until the next
  // sweep; nullptr when the store has no such plan. Never two records for one plan: a record
  // is read back only when memory has none, and leaves memory only when nothing holds it.
  absl::StatusOr<std::shared_ptr<PlanRecord>> FindRecord(const std::string& plan_id) const;
  // FindRecord, NotFound for no plan: the record a client's call names. RecordToChange: the same
  // for a change, Unavailable while draining (the caller holds a WriterGuard).
  absl::StatusOr<std::shared_ptr<PlanRecord>> ExistingRecord(const std::string& plan_id) const;
  absl::StatusOr<std::shared_ptr<PlanRecord>> RecordToChange(const std::string& plan_id) const;
  // A plan folded from the store (nullptr if it has none of the plan's deltas).
  absl::StatusOr<std::shared_ptr<PlanRecord>> LoadRecord(const std::string& plan_id) const;
  // The store's start-up checkpoint if it matches the chain: NotFound if there is none, else
  // why it cannot be used.
  absl::StatusOr<exoroute::v1::RecoveryCheckpoint> ReadCheckpoint() const;
  // Records what Recover would find at the chain head now, holding chain_mu_ alone so that the
  // head, the counts and the working plans it reads are of one moment.
  void WriteCheckpoint();
  // WriteCheckpoint when the chain has grown store.checkpoint_every_deltas since the last one
  // (the tick thread).
  void MaybeCheckpoint();
  // chain_mu_ shared, for an append and folding what it stored; waits while a checkpoint does.
  std::shared_lock<std::shared_mutex> AppendLock();
  // Drops settled plans that nothing holds from memory (the tick thread, every tick).
  void EvictSettled();
  // Cancels the plans whose cancel_on_disconnect watches went away and did not come back within
  // their grace (the tick thread, every tick).
  void CancelDisconnected();
  void OnExecution(adapters::ExecutionEvent event);
  void HandleExecution(const adapters::ExecutionEvent& event);
  void EventLoop();
  void TickLoop();
  adapters::VenueAdapter* AdapterFor(const std::string& venue) const;
  // Where `v` takes its books from: its own adapter, or (an order-entry-only venue) another
  // venue's (VenueConfig.book_from).
  adapters::VenueAdapter* BookSource(const Venue& v) const;
  exoroute::v1::PlanDelta NewDelta(const exoroute::v1::Plan& plan, int64_t now) const;

  // The config in force, one of configs_ (never freed, so references handed out stay valid).
  std::atomic<const exoroute::v1::DaemonConfig*> config_;
  std::mutex configs_mu_;
  std::vector<std::unique_ptr<const exoroute::v1::DaemonConfig>> configs_;  // Guarded by configs_mu_.
  store::DeltaStore* const store_;
  std::map<std::string, Venue> venues_;  // By venue id (the tie-break order).
  // venues_' start configs, in the same order (for their markets and lots, which never change).
  std::vector<const exoroute::v1::VenueConfig*> venue_configs_;
  // Each venue's cost curve per side, built once per distinct book and shared by decisions.
  solver::CurveCache curves_;
  Clock* const clock_;

  // Which limit refused an order: its entry's client ("" = the instrument's) and field.
  struct RiskRefusal {
    std::string client;
    std::string_view field;
  };
  // The limits below apply to `order` from `routed_by` (its sender; "" = not known): its
  // instrument's entry and its sender's (risk_limits.h, RiskLimitsOn). Each sets `*by` when it
  // refuses.
  // The order size and notional limits (no lock held: it reads the books).
  absl::Status CheckOrderRisk(const exoroute::v1::ParentOrder& order, const std::string& routed_by,
                              RiskRefusal* by) const;
  // The working-quantity limits, plans_mu_ held (Route checks them and creates the plan as one
  // step): a client's counts only the plans it sent.
  absl::Status CheckWorkingRiskLocked(const exoroute::v1::ParentOrder& order, exoroute::v1::RouteMode mode,
                                      const std::string& routed_by, RiskRefusal* by) const;
  // Counts (by symbol, the entry's client and the RiskLimit field that refused it) and logs a
  // refusal by a risk limit ("<what> <order id> refused …"); returns it.
  absl::Status RiskRefused(const exoroute::v1::ParentOrder& order, const RiskRefusal& by, absl::Status refused,
                           std::string_view what = "order") const;
  // The mid of the best bid and best ask over this node's fresh books of `symbol`, if both exist.
  std::optional<int64_t> MarketMid(const std::string& symbol) const;
  // Executed orders admitted per symbol in the last second (RiskLimit.max_orders_per_second).
  // Guarded by plans_mu_, so that admission is one step with the plan's creation.
  mutable OrderRateLimiter order_rate_;
  DisconnectCancels disconnects_;
  std::atomic<uint64_t> disconnect_cancels_{0};
  mutable std::mutex route_canceller_mu_;
  RouteCanceller route_canceller_;  // Guarded by route_canceller_mu_.
  // Admits an executed order against its instrument's order rate and its sender's (plans_mu_
  // held; by all or by none): RESOURCE_EXHAUSTED saying when to retry when the last second has
  // had a limit's orders.
  absl::Status AdmitOrderRateLocked(const exoroute::v1::ParentOrder& o, exoroute::v1::RouteMode mode,
                                    const std::string& routed_by, RiskRefusal* by) const;
  mutable std::mutex risk_mu_;
  // Refusals by (symbol, the entry's client), then by limit field; guarded by risk_mu_.
  mutable std::map<std::pair<std::string, std::string>, std::map<std::string, uint64_t, std::less<>>> risk_refused_;
  mutable std::mutex plans_mu_;
  // Guarded by plans_mu_. Working plans, and settled ones until the next sweep: a cache of the
  // store (mutable: reading a plan back is no change to the engine).
  mutable std::map<std::string, std::shared_ptr<PlanRecord>> plans_;
  std::atomic<uint64_t> plans_total_{0};  // Plans with at least one delta, all time.

  std::mutex events_mu_;
  std::condition_variable events_cv_;
  std::deque<adapters::ExecutionEvent> events_;  // Guarded by events_mu_.
  uint64_t events_received_ = 0, events_handled_ = 0;  // Guarded by events_mu_.
  std::condition_variable events_handled_cv_;

  std::mutex stop_mu_;  // With stop_cv_: wakes the tick thread on Stop, and on a new config.
  std::condition_variable stop_cv_;
  bool config_applied_ = false;  // Guarded by stop_mu_: ApplyConfig since the tick thread last waited.

  mutable std::mutex watch_mu_;
  mutable std::condition_variable watch_cv_;

  // Route/Cancel calls in progress; counted before the draining check so that AwaitNoWriters
  // after BeginDrain cannot miss one.
  std::atomic<int> writers_{0};
  // Children open at the last stop, to be re-adopted by venues that can reconcile.
  struct Reconciling {
    exoroute::v1::ChildOrder child;
    std::string symbol;
    int64_t filled = 0;
  };
  std::vector<Reconciling> reconcile_;  // Filled by Recover, consumed by Start.
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
  LatencyHistogram decision_latency_[2];  // [replan]
  LatencyHistogram inputs_latency_;
  ChildOutcomes child_outcomes_;
  std::atomic<uint64_t> unknown_executions_{0};
  std::atomic<uint64_t> duplicate_executions_{0};
  std::atomic<uint64_t> overfills_{0};
  std::atomic<uint64_t> late_fills_{0};
  // Appends a delta that is no plan's (its plan id names the event series), numbered per series.
  absl::Status AppendNodeEvent(store::PendingDelta p, exoroute::v1::PlanDelta* stored = nullptr);
  // Trading as the chain last recorded it (end of Recover).
  absl::Status RestoreTrading();
  std::mutex trading_change_mu_;  // Serialises SetTrading: check, record, update as one step.
  // Guards trading_; held only to read or write it (never while a delta is appended: a
  // decision reads it under its plan's lock).
  mutable std::mutex trading_mu_;
  std::map<std::string, Trading> trading_;  // By scope subject: the node and what was ever halted.
  std::atomic<bool> halted_{false};            // The node's halt, read without the lock,
  std::atomic<int> symbols_halted_{0};         // and how many symbols are halted alone.
  // The exclusion of a venue halted alone ("" if it is not).
  std::string VenueHalt(const std::string& venue) const;
  // Whether orders of `symbol` may send no child now (the node or the symbol halted).
  bool TradingHalted(const std::string& symbol) const;
  // The node's instruments' symbols, for an error naming an unknown one: "BTC-USD, ETH-USD".
  std::string KnownSymbols() const;
  std::mutex governance_mu_;  // Serialises RecordGovernanceIfChanged.
  mutable std::mutex node_events_mu_;
  std::map<std::string, uint32_t> node_event_versions_;  // Guarded by node_events_mu_ after Recover.
  // (kind, subject) -> digest of the last governance event. Guarded by node_events_mu_.
  std::map<std::pair<exoroute::v1::GovernanceKind, std::string>, std::string> last_governance_;
  std::thread event_thread_, tick_thread_;
  bool started_ = false;
  RecoveryStats recovery_;
  bool recovered_ = false;  // Recover succeeded: Stop may write a checkpoint.
  // Held shared by every append together with folding what it stored into memory (Commit,
  // AppendNodeEvent), exclusively by a checkpoint. Lock order: plans_mu_ or a plan's mutex,
  // then this, then node_events_mu_ or watch_mu_.
  mutable std::shared_mutex chain_mu_;
  std::atomic<bool> checkpoint_waiting_{false};  // The gate (AppendLock); set and cleared by a checkpoint.
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  std::atomic<uint64_t> checkpoint_at_{0};  // Sequence of the last checkpoint written.
};

}  // namespace exo::daemon
