// The QuickFIX boundary. Debian's QuickFIX headers need C++14 (dynamic exception
// specifications), so everything that includes them is compiled in exo_fix as C++14, behind this
// header, which uses standard types only. QuickFIX exceptions never cross it: failures come back
// as `false` plus a message.
//
// FixClient: one FIX 4.4 initiator session (QuickFIX's own threads, a FileStore so sequence
// numbers survive restarts, reconnects by itself). Callbacks run on QuickFIX's threads.
// FixTestVenue: a FIX 4.4 acceptor that matches limit orders against a fixed book, for tests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace exo::fix {

struct SessionConfig {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string sender_comp_id, target_comp_id;
  int heartbeat_s = 30;
  int reconnect_s = 1;
  std::string data_dictionary;  // FIX44.xml; messages are validated against it.
  std::string store_dir;        // FileStore (sequence numbers) lives here.
};

// One market-data entry (W or X); prices and sizes as their decimal text.
struct MdEntry {
  char action = '0';  // MDUpdateAction: '0' new, '1' change, '2' delete (snapshots: '0').
  bool bid = true;    // MDEntryType '0' bid, '1' offer.
  std::string symbol, price, size;
};

// The fields of an ExecutionReport the router needs; quantities and prices as their decimal text.
struct ExecReport {
  std::string cl_ord_id, exec_id, exec_type, ord_status, text;
  std::string symbol;  // Tag 55.
  std::string exec_ref_id;  // Tag 19: the execution a trade correction or cancel (G, H) is of.
  std::string ord_rej_reason;  // Tag 103, "" when absent ("5": unknown order).
  std::string last_qty, last_px, leaves_qty, cum_qty, avg_px;
};

class FixClient {
 public:
  struct Callbacks {
    std::function<void()> on_logon;
    // A Heartbeat (35=0) from the counterparty: what a quiet session still receives.
    std::function<void()> on_heartbeat;
    std::function<void(const std::string& why)> on_logout;
    std::function<void(const ExecReport&)> on_exec_report;
    // MarketDataSnapshotFullRefresh (W) for one symbol: the whole book.
    std::function<void(const std::string& symbol, const std::vector<MdEntry>&)> on_md_snapshot;
    // MarketDataIncrementalRefresh (X): changes, each naming its symbol.
    std::function<void(const std::vector<MdEntry>&)> on_md_incremental;
    // OrderCancelReject: (cl_ord_id of the cancel, orig_cl_ord_id, reason text).
    std::function<void(const std::string&, const std::string&, const std::string&)> on_cancel_reject;
  };
  static std::unique_ptr<FixClient> Create(const SessionConfig& config, Callbacks callbacks,
                                           std::string* error);
  virtual ~FixClient() = default;
  virtual bool Start(std::string* error) = 0;
  virtual void Stop() = 0;
  virtual bool logged_on() const = 0;
  // "EXO->VENUE logged on, next seq out 12 in 9".
  virtual std::string state() const = 0;
  // NewOrderSingle, limit, with the given TimeInForce (FIX 59 value, "3" = IOC).
  virtual bool SendNewOrder(const std::string& cl_ord_id, const std::string& symbol, bool buy,
                            const std::string& quantity, const std::string& price,
                            const std::string& time_in_force, std::string* error) = 0;
  // MarketDataRequest for both sides, `depth` levels (0 = all): with `subscribe`, a snapshot
  // plus incremental updates (263=1); without, one snapshot only (263=0), e.g. to rebuild a book.
  virtual bool SendMarketDataRequest(const std::string& req_id, const std::vector<std::string>& symbols,
                                     int depth, bool subscribe, std::string* error) = 0;
  // OrderStatusRequest: the venue answers with an ExecutionReport (ExecType I).
  virtual bool SendStatusRequest(const std::string& cl_ord_id, const std::string& symbol, bool buy,
                                 std::string* error) = 0;
  // OrderCancelRequest for `orig_cl_ord_id`.
  virtual bool SendCancel(const std::string& cl_ord_id, const std::string& orig_cl_ord_id,
                          const std::string& symbol, bool buy, const std::string& quantity,
                          std::string* error) = 0;
};

// One raw FIX 4.4 message (8=...|10=..., SOH-separated) taken as an initiator session takes it:
// body length and checksum checked, parsed and validated against `data_dictionary` (a path),
// and, if it is an application message, delivered to `callbacks` exactly as the session's
// fromApp delivers it. False, with QuickFIX's reason, for a message the session would reject or
// drop. Session state (sequence numbers, CompIDs) is not checked. For tests and fuzzing of the
// message path without a socket.
bool DeliverRawMessage(const std::string& raw, const std::string& data_dictionary,
                       const FixClient::Callbacks& callbacks, std::string* error);

class FixTestVenue {
 public:
  struct Level {
    std::string price, size;  // Decimal text; sizes are consumed as orders fill.
  };
  // A MarketDataRequest gets a snapshot (W) per symbol; after each fill the changed levels go
  // out as an incremental refresh (X). Orders above `max_order_qty` (0 = none) are rejected. IOC (59=3) orders fill what they can
  // and the rest is cancelled; other orders rest until cancelled (OrderCancelRequest), and a
  // cancel for an order that is no longer open gets an OrderCancelReject. ExpireResting ends
  // every resting order as a venue does at the end of its trading day (ExecType C, OrdStatus C).
  // An OrderStatusRequest is answered with the order's state (ExecType I), for an order the
  // venue never received with OrdStatus 8 and OrdRejReason 5 (unknown order), nothing filled.
  static std::unique_ptr<FixTestVenue> Create(const SessionConfig& config, std::vector<Level> asks,
                                              std::vector<Level> bids, std::string* error,
                                              long long max_order_qty = 0);
  virtual ~FixTestVenue() = default;
  virtual bool Start(std::string* error) = 0;
  virtual void Stop() = 0;
  virtual int orders_received() const = 0;
  // OrderStatusRequests received.
  virtual int status_requests() const = 0;
  // Expires every resting order; returns how many.
  virtual int ExpireResting() = 0;
  // Fills every resting order in full at `price` (the market came to it); returns how many.
  // Reports to a session that is not logged on are kept in its store and resent on request.
  virtual int FillResting(const std::string& price) = 0;
  // Sends the last fill's execution report again, same ExecID, flagged PossResend (97=Y), as a
  // venue does when unsure it was delivered. False if there was no fill yet.
  virtual bool RepeatLastFill() = 0;
  // Reports a trade of the order it last cancelled on request, for `size` at `price`, after the
  // cancel (ExecType F, OrdStatus 4): matched before the cancel reached the book, reported after
  // it, as a venue whose trade reports lag its order reports does. False if it cancelled none,
  // or the one it cancelled had a fill (it keeps one average price per order).
  virtual bool ReportTradeAfterCancel(const std::string& price, const std::string& size) = 0;
  // From now on (`drop` true) the venue works orders and cancels as ever but none of their
  // execution reports or cancel rejects reach the session (lost on the way); order status
  // requests are still answered. False: reports flow again.
  virtual void DropReports(bool drop) = 0;
  // Forgets every order it was sent, as if none had reached it (resting ones stop resting).
  virtual void ForgetOrders() = 0;
  // Drops the session its orders came on (the connection closes; the initiator logs on again).
  // False if no order came yet.
  virtual bool DropSession() = 0;
};

}  // namespace exo::fix
