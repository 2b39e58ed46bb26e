// C++14 translation unit: the only place that includes QuickFIX (see fix_engine.h).
#include "adapters/fix/fix_engine.h"

#include <quickfix/Application.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Message.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>
#include <quickfix/SocketInitiator.h>
#include <quickfix/Values.h>
#include <quickfix/fix44/MarketDataIncrementalRefresh.h>
#include <quickfix/fix44/MarketDataRequest.h>
#include <quickfix/fix44/MarketDataSnapshotFullRefresh.h>

#include <atomic>
#include <type_traits>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>

namespace exo {
namespace fix {
namespace {

std::string Settings(const SessionConfig& c, bool initiator) {
  std::ostringstream s;
  s << "[DEFAULT]\n"
    << "ConnectionType=" << (initiator ? "initiator" : "acceptor") << "\n"
    << "FileStorePath=" << c.store_dir << "\n"
    // Equal start and end times: QuickFIX keeps the session up around the clock.
    << "StartTime=00:00:00\nEndTime=00:00:00\n"
    << "HeartBtInt=" << c.heartbeat_s << "\n"
    << "ReconnectInterval=" << c.reconnect_s << "\n"
    << "UseDataDictionary=" << (c.data_dictionary.empty() ? "N" : "Y") << "\n";
  if (!c.data_dictionary.empty()) s << "DataDictionary=" << c.data_dictionary << "\n";
  s << "FileLogPath=" << c.store_dir << "/log\n";
  if (initiator) {
    s << "SocketConnectHost=" << c.host << "\nSocketConnectPort=" << c.port << "\n";
  } else {
    s << "SocketAcceptPort=" << c.port << "\nSocketReuseAddress=Y\n";
  }
  s << "[SESSION]\nBeginString=FIX.4.4\n"
    << "SenderCompID=" << c.sender_comp_id << "\nTargetCompID=" << c.target_comp_id << "\n";
  return s.str();
}

// The test venue keeps quantities in units of 1e-8 so decimal sizes ("0.10000000") match exactly.
long long ToUnits(const std::string& decimal) {
  return static_cast<long long>(std::llround(std::stold(decimal) * 100000000.0L));
}
std::string FromUnits(long long units) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s%lld.%08lld", units < 0 ? "-" : "", std::llabs(units) / 100000000,
                std::llabs(units) % 100000000);
  return buf;
}

std::string Get(const FIX::Message& m, int tag) {
  return m.isSetField(tag) ? m.getField(tag) : std::string();
}

// A repeating group's count field (0 when absent). Not a count (a venue sent "abc" or a number
// no message holds): IncorrectDataFormat, which QuickFIX answers with a session-level Reject
// naming the field — never an exception it does not know (that would end the process).
int GroupCount(const FIX::FieldMap& m, int tag) {
  if (!m.isSetField(tag)) return 0;
  const std::string& text = m.getField(tag);
  int n = 0;
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw FIX::IncorrectDataFormat(tag, text);
  }
  for (char c : text) n = n * 10 + (c - '0');
  return n;
}

// An application message, as the session received it, to the callbacks that take its type.
// A field the router needs missing or unreadable: QuickFIX's own exceptions (FieldNotFound,
// IncorrectDataFormat), which the session answers with a Reject naming the field.
void DeliverApp(const FIX::Message& m, const FixClient::Callbacks& cb) {
  FIX::MsgType type;
  m.getHeader().getField(type);
  if (type.getValue() == FIX::MsgType_MarketDataSnapshotFullRefresh && cb.on_md_snapshot) {
    std::vector<MdEntry> entries;
    const std::string symbol = Get(m, FIX::FIELD::Symbol);
    FIX44::MarketDataSnapshotFullRefresh::NoMDEntries g;
    const int n = GroupCount(m, FIX::FIELD::NoMDEntries);
    for (int i = 1; i <= n; ++i) {
      m.getGroup(i, g);
      MdEntry e;
      e.bid = g.getField(FIX::FIELD::MDEntryType) == "0";
      e.symbol = symbol;
      e.price = g.getField(FIX::FIELD::MDEntryPx);
      e.size = g.getField(FIX::FIELD::MDEntrySize);
      entries.push_back(e);
    }
    cb.on_md_snapshot(symbol, entries);
    return;
  }
  if (type.getValue() == FIX::MsgType_MarketDataIncrementalRefresh && cb.on_md_incremental) {
    std::vector<MdEntry> entries;
    FIX44::MarketDataIncrementalRefresh::NoMDEntries g;
    const int n = GroupCount(m, FIX::FIELD::NoMDEntries);
    for (int i = 1; i <= n; ++i) {
      m.getGroup(i, g);
      MdEntry e;
      e.action = g.getField(FIX::FIELD::MDUpdateAction)[0];
      e.bid = g.getField(FIX::FIELD::MDEntryType) == "0";
      e.symbol = g.isSetField(FIX::FIELD::Symbol) ? g.getField(FIX::FIELD::Symbol) : std::string();
      e.price = g.getField(FIX::FIELD::MDEntryPx);
      e.size = g.isSetField(FIX::FIELD::MDEntrySize) ? g.getField(FIX::FIELD::MDEntrySize) : "0";
      entries.push_back(e);
    }
    cb.on_md_incremental(entries);
    return;
  }
  if (type.getValue() == FIX::MsgType_OrderCancelReject) {
    if (cb.on_cancel_reject) {
      cb.on_cancel_reject(Get(m, FIX::FIELD::ClOrdID), Get(m, FIX::FIELD::OrigClOrdID), Get(m, FIX::FIELD::Text));
    }
    return;
  }
  if (type.getValue() != FIX::MsgType_ExecutionReport || !cb.on_exec_report) return;
  ExecReport r;
  r.cl_ord_id = Get(m, FIX::FIELD::ClOrdID);
  r.exec_id = Get(m, FIX::FIELD::ExecID);
  r.exec_type = Get(m, FIX::FIELD::ExecType);
  r.symbol = Get(m, FIX::FIELD::Symbol);
  r.exec_ref_id = Get(m, FIX::FIELD::ExecRefID);
  r.ord_status = Get(m, FIX::FIELD::OrdStatus);
  r.text = Get(m, FIX::FIELD::Text);
  r.ord_rej_reason = Get(m, FIX::FIELD::OrdRejReason);
  r.last_qty = Get(m, FIX::FIELD::LastQty);
  r.last_px = Get(m, FIX::FIELD::LastPx);
  r.leaves_qty = Get(m, FIX::FIELD::LeavesQty);
  r.cum_qty = Get(m, FIX::FIELD::CumQty);
  r.avg_px = Get(m, FIX::FIELD::AvgPx);
  cb.on_exec_report(r);
}

// What a QuickFIX endpoint owns, in construction order (the message store and log factories
// must outlive the connector, so they are declared first), and its start/stop. `Connector` is
// FIX::SocketInitiator or FIX::SocketAcceptor. QuickFIX exceptions become `false` + message.
template <typename Connector>
class Endpoint {
 public:
  bool Init(FIX::Application& app, const SessionConfig& config, const char* what, std::string* error) {
    try {
      std::istringstream in(Settings(config, std::is_same<Connector, FIX::SocketInitiator>::value));
      settings_.reset(new FIX::SessionSettings(in));
      store_.reset(new FIX::FileStoreFactory(*settings_));
      log_.reset(new FIX::FileLogFactory(*settings_));
      connector_.reset(new Connector(app, *store_, *settings_, *log_));
      return true;
    } catch (const std::exception& e) {
      *error = std::string(what) + " config: " + e.what();
      return false;
    }
  }
  bool Start(const char* what, std::string* error) {
    try {
      connector_->start();
      started_ = true;
      return true;
    } catch (const std::exception& e) {
      *error = std::string(what) + ": " + e.what();
      return false;
    }
  }
  void Stop() {
    if (!started_.exchange(false)) return;
    try {
      connector_->stop();
    } catch (...) {
    }
  }

 private:
  std::unique_ptr<FIX::SessionSettings> settings_;
  std::unique_ptr<FIX::FileStoreFactory> store_;
  std::unique_ptr<FIX::FileLogFactory> log_;  // Session events and messages, per session.
  std::unique_ptr<Connector> connector_;
  std::atomic<bool> started_{false};
};

class Client final : public FixClient, public FIX::Application {
 public:
  Client(const SessionConfig& c, Callbacks cb) : config_(c), callbacks_(std::move(cb)) {}
  ~Client() override { Stop(); }

  bool Init(std::string* error) {
    session_ = FIX::SessionID("FIX.4.4", config_.sender_comp_id, config_.target_comp_id);
    return link_.Init(*this, config_, "FIX session", error);
  }
  bool Start(std::string* error) override { return link_.Start("FIX initiator", error); }
  void Stop() override { link_.Stop(); }

  bool logged_on() const override { return logged_on_.load(); }

  std::string state() const override {
    std::ostringstream s;
    s << config_.sender_comp_id << "->" << config_.target_comp_id << " "
      << (logged_on_ ? "logged on" : "not logged on");
    if (FIX::Session* session = FIX::Session::lookupSession(session_)) {
      s << ", next seq out " << session->getExpectedSenderNum() << " in "
        << session->getExpectedTargetNum();
    }
    long long last = last_received_ms_.load();
    if (last > 0) {
      char age[32];
      std::snprintf(age, sizeof(age), "%.1f", static_cast<double>(NowMs() - last) / 1000.0);
      s << ", last message (heartbeat or other) " << age << " s ago";
    }
    return s.str();
  }

  bool SendNewOrder(const std::string& cl_ord_id, const std::string& symbol, bool buy,
                    const std::string& quantity, const std::string& price,
                    const std::string& tif, std::string* error) override {
    FIX::Message m;
    m.getHeader().setField(FIX::MsgType(FIX::MsgType_NewOrderSingle));
    m.setField(FIX::ClOrdID(cl_ord_id));
    m.setField(FIX::Symbol(symbol));
    m.setField(FIX::Side(buy ? FIX::Side_BUY : FIX::Side_SELL));
    m.setField(FIX::TransactTime());
    m.setField(FIX::OrdType(FIX::OrdType_LIMIT));
    m.setField(FIX::FIELD::OrderQty, quantity);
    m.setField(FIX::FIELD::Price, price);
    m.setField(FIX::FIELD::TimeInForce, tif);
    return Send(m, error);
  }

  bool SendMarketDataRequest(const std::string& req_id, const std::vector<std::string>& symbols,
                             int depth, bool subscribe, std::string* error) override {
    // Braces: with parentheses this reads as a function declaration to clang (most vexing parse).
    FIX44::MarketDataRequest m{FIX::MDReqID(req_id),
                               FIX::SubscriptionRequestType(subscribe ? FIX::SubscriptionRequestType_SNAPSHOT_PLUS_UPDATES
                                                                      : FIX::SubscriptionRequestType_SNAPSHOT),
                               FIX::MarketDepth(depth)};
    if (subscribe) m.set(FIX::MDUpdateType(FIX::MDUpdateType_INCREMENTAL_REFRESH));
    for (char type : {FIX::MDEntryType_BID, FIX::MDEntryType_OFFER}) {
      FIX44::MarketDataRequest::NoMDEntryTypes t;
      t.set(FIX::MDEntryType(type));
      m.addGroup(t);
    }
    for (const std::string& s : symbols) {
      FIX44::MarketDataRequest::NoRelatedSym r;
      r.set(FIX::Symbol(s));
      m.addGroup(r);
    }
    return Send(m, error);
  }

  bool SendStatusRequest(const std::string& cl_ord_id, const std::string& symbol, bool buy,
                         std::string* error) override {
    FIX::Message m;
    m.getHeader().setField(FIX::MsgType(FIX::MsgType_OrderStatusRequest));
    m.setField(FIX::ClOrdID(cl_ord_id));
    m.setField(FIX::Symbol(symbol));
    m.setField(FIX::Side(buy ? FIX::Side_BUY : FIX::Side_SELL));
    return Send(m, error);
  }

  bool SendCancel(const std::string& cl_ord_id, const std::string& orig, const std::string& symbol,
                  bool buy, const std::string& quantity, std::string* error) override {
    FIX::Message m;
    m.getHeader().setField(FIX::MsgType(FIX::MsgType_OrderCancelRequest));
    m.setField(FIX::ClOrdID(cl_ord_id));
    m.setField(FIX::OrigClOrdID(orig));
    m.setField(FIX::Symbol(symbol));
    m.setField(FIX::Side(buy ? FIX::Side_BUY : FIX::Side_SELL));
    m.setField(FIX::TransactTime());
    m.setField(FIX::FIELD::OrderQty, quantity);
    return Send(m, error);
  }

  // FIX::Application
  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID&) override {
    logged_on_ = true;
    if (callbacks_.on_logon) callbacks_.on_logon();
  }
  void onLogout(const FIX::SessionID&) override {
    logged_on_ = false;
    if (callbacks_.on_logout) callbacks_.on_logout("logged out");
  }
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  // An order is never sent twice. Answering the venue's ResendRequest, QuickFIX would send a
  // stored NewOrderSingle again (PossDupFlag Y) — one that may be long stale, and whose child
  // the router may have given up: a send made while the session was down fails here but still
  // takes a sequence number and waits in the store, and its child is then ended and its
  // quantity routed again. It is gap-filled instead; a child still open is asked about at its
  // timeout (the venue answers it unknown if it never came). Cancels and status requests are
  // resent: they only ever take risk off.
  void toApp(FIX::Message& m, const FIX::SessionID&) throw(FIX::DoNotSend) override {
    const FIX::Header& h = m.getHeader();
    if (h.isSetField(FIX::FIELD::PossDupFlag) && h.getField(FIX::FIELD::PossDupFlag) == "Y" &&
        h.getField(FIX::FIELD::MsgType) == FIX::MsgType_NewOrderSingle) {
      throw FIX::DoNotSend();
    }
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::RejectLogon) override {
    last_received_ms_ = NowMs();  // Heartbeats, test requests, logons...
    FIX::MsgType type;
    if (callbacks_.on_heartbeat && m.getHeader().getFieldIfSet(type) && type.getValue() == FIX::MsgType_Heartbeat) {
      callbacks_.on_heartbeat();
    }
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    last_received_ms_ = NowMs();
    DeliverApp(m, callbacks_);
  }

 private:
  bool Send(FIX::Message& m, std::string* error) {
    try {
      if (!FIX::Session::sendToTarget(m, session_)) {
        *error = "FIX session is not logged on";
        return false;
      }
      return true;
    } catch (const std::exception& e) {
      *error = std::string("FIX send: ") + e.what();
      return false;
    }
  }

  SessionConfig config_;
  Callbacks callbacks_;
  Endpoint<FIX::SocketInitiator> link_;
  FIX::SessionID session_;
  static long long NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  std::atomic<bool> logged_on_{false};
  std::atomic<long long> last_received_ms_{0};
};

class TestVenue final : public FixTestVenue, public FIX::Application {
 public:
  TestVenue(const SessionConfig& c, std::vector<Level> asks, std::vector<Level> bids, long long max)
      : config_(c), asks_(std::move(asks)), bids_(std::move(bids)), max_order_qty_(max) {}
  ~TestVenue() override { Stop(); }

  bool Init(std::string* error) { return link_.Init(*this, config_, "FIX acceptor", error); }
  bool Start(std::string* error) override { return link_.Start("FIX acceptor", error); }
  void Stop() override { link_.Stop(); }
  int orders_received() const override { return orders_.load(); }
  int status_requests() const override { return status_requests_.load(); }
  int ExpireResting() override {
    std::lock_guard<std::mutex> lock(mu_);
    int expired = 0;
    for (const auto& entry : resting_) {  // (C++14 here: no structured bindings.)
      const auto& id = entry.first;
      const auto& r = entry.second;
      all_[id].status = "C";
      all_[id].leaves = 0;
      Report(order_session_, id, r.symbol, r.buy, "C", FIX::ExecType_EXPIRED, 0, "0", 0, r.cum,
             "end of trading day");
      ++expired;
    }
    resting_.clear();
    return expired;
  }
  void DropReports(bool drop) override {
    std::lock_guard<std::mutex> lock(mu_);
    drop_reports_ = drop;
  }
  void ForgetOrders() override {
    std::lock_guard<std::mutex> lock(mu_);
    resting_.clear();
    all_.clear();
  }
  bool DropSession() override {
    FIX::Session* session = FIX::Session::lookupSession(order_session_);
    if (session == nullptr) return false;
    session->disconnect();
    return true;
  }
  bool RepeatLastFill() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!last_fill_) return false;
    FIX::Message again = *last_fill_;
    again.getHeader().setField(FIX::PossResend(true));
    FIX::Session::sendToTarget(again, last_fill_session_);
    return true;
  }
  bool ReportTradeAfterCancel(const std::string& price, const std::string& size) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = all_.find(last_cancelled_);
    if (it == all_.end() || it->second.cum > 0) return false;
    Order& o = it->second;
    const long long q = ToUnits(size);
    o.cum = q;
    o.avg_px = price;
    Report(order_session_, last_cancelled_, o.symbol, o.buy, "4", FIX::ExecType_TRADE, q, price, 0, q, "", price);
    return true;
  }
  int FillResting(const std::string& price) override {
    std::lock_guard<std::mutex> lock(mu_);
    int filled = 0;
    for (const auto& entry : resting_) {
      const auto& id = entry.first;
      const auto& r = entry.second;
      Order& o = all_[id];
      const long long q = o.leaves, cum = r.cum + q;
      o.status = "2";
      o.cum = cum;
      o.leaves = 0;
      o.avg_px = price;
      Report(order_session_, id, r.symbol, r.buy, "2", FIX::ExecType_TRADE, q, price, 0, cum, "",
             price);
      ++filled;
    }
    resting_.clear();
    return filled;
  }

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID&) override {}
  void onLogout(const FIX::SessionID&) override {}
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message&, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::RejectLogon) override {}
  void fromApp(const FIX::Message& m, const FIX::SessionID& session) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    FIX::MsgType type;
    m.getHeader().getField(type);
    std::lock_guard<std::mutex> lock(mu_);
    if (type.getValue() == FIX::MsgType_OrderCancelRequest) {
      const std::string orig = m.getField(FIX::FIELD::OrigClOrdID);
      auto it = resting_.find(orig);
      if (it == resting_.end()) {
        FIX::Message reject;
        reject.getHeader().setField(FIX::MsgType(FIX::MsgType_OrderCancelReject));
        reject.setField(FIX::OrderID("NONE"));
        reject.setField(FIX::ClOrdID(m.getField(FIX::FIELD::ClOrdID)));
        reject.setField(FIX::OrigClOrdID(orig));
        reject.setField(FIX::FIELD::OrdStatus, "2");
        reject.setField(FIX::CxlRejResponseTo(FIX::CxlRejResponseTo_ORDER_CANCEL_REQUEST));
        reject.setField(FIX::Text("too late to cancel"));
        if (!drop_reports_) FIX::Session::sendToTarget(reject, session);
        return;
      }
      Resting r = it->second;
      resting_.erase(it);
      all_[orig].status = "4";
      all_[orig].leaves = 0;
      last_cancelled_ = orig;
      Report(session, orig, r.symbol, r.buy, "4", FIX::ExecType_CANCELED, 0, "0", 0, r.cum,
             "cancelled on request");
      return;
    }
    if (type.getValue() == FIX::MsgType_MarketDataRequest) {
      // 263=0: one snapshot; otherwise the symbols are subscribed to as well.
      const bool subscribe = m.getField(FIX::FIELD::SubscriptionRequestType) != "0";
      md_session_ = session;
      md_subscribed_ = md_subscribed_ || subscribe;
      FIX44::MarketDataRequest::NoRelatedSym r;
      const int n = GroupCount(m, FIX::FIELD::NoRelatedSym);
      for (int i = 1; i <= n; ++i) {
        m.getGroup(i, r);
        const std::string symbol = r.getField(FIX::FIELD::Symbol);
        if (subscribe) md_symbols_.push_back(symbol);
        FIX44::MarketDataSnapshotFullRefresh w;
        w.set(FIX::Symbol(symbol));
        w.set(FIX::MDReqID(m.getField(FIX::FIELD::MDReqID)));
        for (int side = 0; side < 2; ++side) {
          for (const Level& l : side == 0 ? bids_ : asks_) {
            if (ToUnits(l.size) == 0) continue;
            FIX44::MarketDataSnapshotFullRefresh::NoMDEntries e;
            e.set(FIX::MDEntryType(side == 0 ? FIX::MDEntryType_BID : FIX::MDEntryType_OFFER));
            e.setField(FIX::FIELD::MDEntryPx, l.price);
            e.setField(FIX::FIELD::MDEntrySize, l.size);
            w.addGroup(e);
          }
        }
        FIX::Session::sendToTarget(w, session);
      }
      return;
    }
    if (type.getValue() == FIX::MsgType_OrderStatusRequest) {
      ++status_requests_;
      const std::string id = m.getField(FIX::FIELD::ClOrdID);
      auto it = all_.find(id);
      if (it == all_.end()) {
        // Never seen (sent by a router that stopped before it went out): FIX 4.4 answers the
        // request with the order rejected as unknown, nothing filled.
        Report(session, id, m.getField(FIX::FIELD::Symbol), m.getField(FIX::FIELD::Side) == "1", "8",
               FIX::ExecType_ORDER_STATUS, 0, "0", 0, 0, "unknown order", "0", FIX::OrdRejReason_UNKNOWN_ORDER);
        return;
      }
      const Order& o = it->second;
      Report(session, id, o.symbol, o.buy, o.status, FIX::ExecType_ORDER_STATUS, 0, "0", o.leaves,
             o.cum, "", o.avg_px);
      return;
    }
    if (type.getValue() != FIX::MsgType_NewOrderSingle) return;
    ++orders_;
    order_session_ = session;
    const std::string id = m.getField(FIX::FIELD::ClOrdID), symbol = m.getField(FIX::FIELD::Symbol);
    const bool buy = m.getField(FIX::FIELD::Side) == "1";
    long long left = ToUnits(m.getField(FIX::FIELD::OrderQty));
    if (max_order_qty_ > 0 && left > max_order_qty_ * 100000000LL) {
      Report(session, id, symbol, buy, "8", FIX::ExecType_REJECTED, 0, "0", 0, 0,
             "order quantity above the venue maximum");
      return;
    }
    const bool ioc = m.isSetField(FIX::FIELD::TimeInForce) && m.getField(FIX::FIELD::TimeInForce) == "3";
    const double limit = std::stod(m.getField(FIX::FIELD::Price));
    long long cum = 0;
    std::vector<std::pair<Level*, bool>> changed;  // Levels a fill changed, for market data.
    std::vector<Level>& levels = buy ? asks_ : bids_;
    for (Level& l : levels) {
      if (left == 0) break;
      double px = std::stod(l.price);
      if (buy ? px > limit : px < limit) break;
      long long size = ToUnits(l.size);
      long long q = std::min(left, size);
      if (q == 0) continue;
      left -= q;
      cum += q;
      l.size = FromUnits(size - q);
      changed.push_back(std::make_pair(&l, buy));
      last_px_ = l.price;
      Report(session, id, symbol, buy, left == 0 ? "2" : "1", FIX::ExecType_TRADE, q, l.price, left, cum, "");
    }
    PublishChanges(symbol, changed);
    std::string avg = last_px_.empty() ? "0" : last_px_;
    if (left == 0) {
      all_[id] = Order{symbol, buy, "2", cum, 0, avg};
      return;
    }
    if (ioc) {
      all_[id] = Order{symbol, buy, "4", cum, 0, avg};
      Report(session, id, symbol, buy, "4", FIX::ExecType_CANCELED, 0, "0", 0, cum, "ioc remainder");
    } else {
      resting_[id] = Resting{symbol, buy, cum};
      all_[id] = Order{symbol, buy, cum > 0 ? "1" : "0", cum, left, avg};
      Report(session, id, symbol, buy, cum > 0 ? "1" : "0", FIX::ExecType_NEW, 0, "0", left, cum, "");
    }
  }

 private:
  // An incremental refresh (X) with the levels a fill changed: change, or delete when empty.
  void PublishChanges(const std::string& symbol, const std::vector<std::pair<Level*, bool>>& changed) {
    if (!md_subscribed_ || changed.empty()) return;
    FIX44::MarketDataIncrementalRefresh x;
    for (const auto& c : changed) {
      FIX44::MarketDataIncrementalRefresh::NoMDEntries e;
      bool empty = ToUnits(c.first->size) == 0;
      e.set(FIX::MDUpdateAction(empty ? FIX::MDUpdateAction_DELETE : FIX::MDUpdateAction_CHANGE));
      e.set(FIX::MDEntryType(c.second ? FIX::MDEntryType_OFFER : FIX::MDEntryType_BID));
      e.set(FIX::Symbol(symbol));
      e.setField(FIX::FIELD::MDEntryPx, c.first->price);
      if (!empty) e.setField(FIX::FIELD::MDEntrySize, c.first->size);
      x.addGroup(e);
    }
    FIX::Session::sendToTarget(x, md_session_);
  }

  struct Resting {
    std::string symbol;
    bool buy;
    long long cum;
  };
  struct Order {  // Every order seen, for OrderStatusRequests.
    std::string symbol;
    bool buy = true;
    std::string status;
    long long cum = 0, leaves = 0;
    std::string avg_px;
  };

  void Report(const FIX::SessionID& session, const std::string& id, const std::string& symbol,
              bool buy, const std::string& status, char exec_type, long long qty,
              const std::string& px, long long leaves, long long cum, const std::string& text,
              const std::string& avg_px = "0", int ord_rej_reason = -1) {
    FIX::Message er;
    er.getHeader().setField(FIX::MsgType(FIX::MsgType_ExecutionReport));
    er.setField(FIX::OrderID("V-" + id));
    er.setField(FIX::ExecID("E" + std::to_string(++exec_seq_)));
    er.setField(FIX::ExecType(exec_type));
    er.setField(FIX::FIELD::OrdStatus, status);
    er.setField(FIX::ClOrdID(id));
    er.setField(FIX::Symbol(symbol));
    er.setField(FIX::Side(buy ? FIX::Side_BUY : FIX::Side_SELL));
    er.setField(FIX::FIELD::LeavesQty, FromUnits(leaves));
    er.setField(FIX::FIELD::CumQty, FromUnits(cum));
    er.setField(FIX::FIELD::AvgPx, avg_px);
    if (qty > 0) {
      er.setField(FIX::FIELD::LastQty, FromUnits(qty));
      er.setField(FIX::FIELD::LastPx, px);
    }
    if (!text.empty()) er.setField(FIX::Text(text));
    if (ord_rej_reason >= 0) er.setField(FIX::OrdRejReason(ord_rej_reason));
    if (drop_reports_ && exec_type != FIX::ExecType_ORDER_STATUS) return;  // Lost on the way.
    if (qty > 0) {
      last_fill_ = std::make_unique<FIX::Message>(er);
      last_fill_session_ = session;
    }
    FIX::Session::sendToTarget(er, session);
  }

  SessionConfig config_;
  std::mutex mu_;
  std::vector<Level> asks_, bids_;
  std::map<std::string, Resting> resting_;  // Open non-IOC orders by ClOrdID.
  std::map<std::string, Order> all_;
  std::string last_px_;
  bool md_subscribed_ = false;
  FIX::SessionID md_session_;
  FIX::SessionID order_session_;  // Where orders came from: expiries go back there.
  std::unique_ptr<FIX::Message> last_fill_;  // For RepeatLastFill.
  FIX::SessionID last_fill_session_;
  std::string last_cancelled_;  // For ReportTradeAfterCancel.
  std::vector<std::string> md_symbols_;
  long long max_order_qty_ = 0;
  Endpoint<FIX::SocketAcceptor> link_;
  std::atomic<int> orders_{0};
  std::atomic<int> status_requests_{0};
  long long exec_seq_ = 0;
  bool drop_reports_ = false;  // DropReports (guarded by mu_).
};

}  // namespace

std::unique_ptr<FixClient> FixClient::Create(const SessionConfig& config, Callbacks callbacks,
                                             std::string* error) {
  std::unique_ptr<Client> c(new Client(config, std::move(callbacks)));
  if (!c->Init(error)) return nullptr;
  return std::unique_ptr<FixClient>(c.release());
}

bool DeliverRawMessage(const std::string& raw, const std::string& data_dictionary,
                       const FixClient::Callbacks& callbacks, std::string* error) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<FIX::DataDictionary>>* loaded =
      new std::map<std::string, std::unique_ptr<FIX::DataDictionary>>();  // Lives to the end.
  try {
    const FIX::DataDictionary* dd = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu);
      std::unique_ptr<FIX::DataDictionary>& d = (*loaded)[data_dictionary];
      if (!d) d.reset(new FIX::DataDictionary(data_dictionary));
      dd = d.get();
    }
    // As a session with UseDataDictionary=Y and ValidateLengthAndChecksum=Y takes a message.
    FIX::Message m(raw, *dd, true);
    FIX::DataDictionary::validate(m, dd, dd);
    if (m.isApp()) DeliverApp(m, callbacks);
    return true;
  } catch (const FIX::Exception& e) {  // What the session would reject (or drop, if unparsable).
    *error = std::string(e.type) + ": " + e.what();
    return false;
  }
}

std::unique_ptr<FixTestVenue> FixTestVenue::Create(const SessionConfig& config,
                                                   std::vector<Level> asks, std::vector<Level> bids,
                                                   std::string* error, long long max_order_qty) {
  std::unique_ptr<TestVenue> v(new TestVenue(config, std::move(asks), std::move(bids), max_order_qty));
  if (!v->Init(error)) return nullptr;
  return std::unique_ptr<FixTestVenue>(v.release());
}

}  // namespace fix
}  // namespace exo
