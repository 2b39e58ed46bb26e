// VenueAdapter: how the router sees one venue — its books and its order entry.
//
// Adapters turn the outside world (a simulated venue, a FIX session, a WebSocket feed) into
// immutable VenueBook snapshots and ExecutionEvents, and know nothing of the solver or the store.
// Each adapter owns its I/O threads; execution events reach the core through the EventSink,
// called from the adapter's thread. All methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "exoroute/v1/admin.pb.h"
#include "exoroute/v1/types.pb.h"

namespace exo::adapters {

// What happened to a child order at a venue.
struct ExecutionEvent {
  // kUnknown: a report about an order the adapter does not know (e.g. from before a restart; a
  // fill of one is a kFill with cum_quantity, below), or one it cannot take (a fill of no
  // quantity or price, unreadable numbers), with the reason: counted and logged by the engine,
  // never applied to a plan.
  enum class Type { kFill, kDone, kUnknown };
  Type type = Type::kFill;
  std::string venue;
  std::string cl_ord_id;
  // kFill
  int64_t quantity = 0;
  int64_t price = 0;
  int64_t fee = 0;
  std::string exec_id;
  // A fill of an order the adapter does not hold (it ended before a restart, or too long ago to
  // be kept): the venue's cumulative filled quantity of the order with this fill (FIX CumQty),
  // and the symbol it named. The adapter cannot tell what of it is new; the engine takes only
  // what the plan has not recorded, min(quantity, cum_quantity − filled), on the plan's symbol
  // only. −1: the adapter held the order and counted the fill itself.
  int64_t cum_quantity = -1;
  std::string symbol;
  // kDone: the child will not fill any more.
  int64_t canceled_quantity = 0;
  std::string reason;
};

using EventSink = std::function<void(ExecutionEvent)>;

class VenueAdapter {
 public:
  virtual ~VenueAdapter() = default;

  virtual const std::string& venue_id() const = 0;
  // The adapter's kind as named in config ("sim", ...).
  virtual std::string kind() const = 0;
  // Starts I/O; execution events go to `sink` from then on.
  virtual absl::Status Start(EventSink sink) = 0;
  // Stops I/O and joins the adapter's threads. Idempotent.
  virtual void Stop() = 0;
  virtual exoroute::v1::AdapterState state() const = 0;
  // The latest book for `symbol`; null if none yet or the symbol is not traded here.
  virtual std::shared_ptr<const exoroute::v1::VenueBook> Book(std::string_view symbol) const = 0;
  // Sends a limit IOC child order. Non-blocking: fills and completion arrive via the sink.
  virtual absl::Status Send(const exoroute::v1::ChildOrder& child, std::string_view symbol) = 0;
  // Cancels a child that has not completed. NotFound if it already has.
  virtual absl::Status Cancel(std::string_view cl_ord_id) = 0;
  // Why the book for `symbol` cannot be used now ("feed disconnected", "book out of sync: gap
  // ..."), or empty. Staleness is judged by the solver from the book's receive time.
  virtual std::string BookProblem(std::string_view symbol) const { return {}; }
  // One line on the venue's connection for operators ("FIX EXO->V logged on, next seq out 12
  // in 9"); empty if there is nothing to say.
  virtual std::string detail() const { return {}; }
  // Whether the venue can be asked about orders sent before a restart (Reconcile).
  virtual bool can_reconcile() const { return false; }
  // Re-adopts a child that was open when the node stopped (`filled` of it already recorded) and
  // asks the venue where it stands; what happened meanwhile arrives as ordinary events (a fill
  // for quantity not yet recorded, the child's completion). Only if can_reconcile(). The engine
  // calls it before Start, so that the adapter knows the order when its session comes up (a
  // report resent then is matched); the venue is asked once it is connected.
  virtual absl::Status Reconcile(const exoroute::v1::ChildOrder& child, std::string_view symbol,
                                 int64_t filled) {
    return absl::UnimplementedError("this venue cannot reconcile");
  }
  // Asks the venue where an open child of this session stands, for want of its reports (the
  // engine asks when a child is overdue: a report may have been lost on the way). The answer
  // arrives as ordinary events: a fill for quantity not reported yet, the child's end. Only if
  // can_reconcile(); NotFound for a child the adapter does not hold open.
  virtual absl::Status AskStatus(std::string_view cl_ord_id) {
    return absl::UnimplementedError("this venue cannot be asked where an order stands");
  }
  // Whether this venue takes orders (a market-data-only venue does not).
  virtual bool can_trade() const { return true; }
  // The taker fee, in basis points of notional, the adapter charges fills at when the venue
  // reports none (the config's venues[].taker_fee_bps; a config reload changes it for fills
  // from then on). Any thread. Adapters that take no orders ignore it.
  virtual void SetFeeBps(double fee_bps) {}
  // Counters for Status.
  virtual uint64_t children_sent() const = 0;
  virtual uint64_t fills() const = 0;
};

}  // namespace exo::adapters
