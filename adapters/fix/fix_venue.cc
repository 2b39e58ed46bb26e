#include "adapters/fix/fix_venue.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "exo/fixed_point.h"
#include "exo/log.h"
#include "exo/quoted.h"
#include "exo/status_macros.h"

namespace exo::adapters {

FixVenue::FixVenue(Options options) : options_(std::move(options)), fee_bps_(options_.fee_bps) {}

FixVenue::~FixVenue() { Stop(); }

const exoroute::v1::Instrument* FixVenue::InstrumentOf(const std::string& symbol) const {
  for (const auto& i : options_.instruments) {
    if (i.symbol() == symbol) return &i;
  }
  return nullptr;
}

absl::Status FixVenue::Start(EventSink sink) {
  sink_ = std::move(sink);
  const auto& c = options_.config;
  fix::SessionConfig sc;
  sc.host = c.host();
  sc.port = static_cast<int>(c.port());
  sc.sender_comp_id = c.sender_comp_id();
  sc.target_comp_id = c.target_comp_id();
  sc.heartbeat_s = c.heartbeat_s() == 0 ? 30 : static_cast<int>(c.heartbeat_s());
  sc.reconnect_s = c.reconnect_s() == 0 ? 1 : static_cast<int>(c.reconnect_s());
  sc.data_dictionary = c.data_dictionary();
  sc.store_dir = options_.store_dir;
  std::error_code ec;
  std::filesystem::create_directories(sc.store_dir, ec);
  fix::FixClient::Callbacks cb;
  cb.on_logon = [this] {
    if (const uint64_t held = down_warning_.Clear(); held > 0) {
      LogInfo("%s: FIX session logged on (after %d more failed logons, not logged)", options_.venue_id, held);
    } else {
      LogInfo("%s: FIX session logged on", options_.venue_id);
    }
    if (options_.config.market_data()) {
      std::vector<std::string> symbols;
      {
        std::lock_guard<std::mutex> lock(mu_);
        const auto now = std::chrono::steady_clock::now();
        for (const auto& i : options_.instruments) {
          // Fresh: wait for the snapshot, asked for now; again if none came within the longest back-off.
          MdBook& b = md_[i.symbol()] = MdBook{};
          b.next_ask = now + std::chrono::milliseconds(kMaxSnapshotAskMs);
          symbols.push_back(i.symbol());
        }
      }
      std::string error;
      if (!client_->SendMarketDataRequest(absl::StrCat(options_.venue_id, "-md"), symbols,
                                          static_cast<int>(options_.config.market_depth()), true, &error)) {
        LogWarning("%s: market data request failed: %s", options_.venue_id, error);
      }
    }
    // Every open child is asked about at each logon: a report (or the order itself) may have been
    // lost with the connection, and an order is never sent again (a resend of one is gap-filled:
    // fix_engine.cc) — the venue answers a child it never received as unknown, and it ends.
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, o] : open_) {
        if (std::find(pending_status_.begin(), pending_status_.end(), id) == pending_status_.end()) {
          pending_status_.push_back(id);
        }
      }
    }
    SendPendingStatusRequests();
  };
  cb.on_md_snapshot = [this](const std::string& symbol, const std::vector<fix::MdEntry>& e) {
    OnMarketData(symbol, e);
  };
  cb.on_md_incremental = [this](const std::vector<fix::MdEntry>& e) { OnMarketData("", e); };
  cb.on_heartbeat = [this] { OnHeartbeat(); };
  cb.on_logout = [this](const std::string& why) {
    down_warning_.Log(absl::StrFormat("%s: FIX session down (%s); not routing here until it is back",
                                      options_.venue_id, why));
  };
  cb.on_exec_report = [this](const fix::ExecReport& r) { OnReport(r); };
  cb.on_cancel_reject = [this](const std::string& id, const std::string& orig, const std::string& why) {
    // The order stays as the venue last reported it; its own ExecutionReports still decide.
    LogWarning("%s: cancel %s of %s rejected by the venue: %s", options_.venue_id, id, orig, why);
  };
  std::string error;
  client_ = options_.client_factory ? options_.client_factory(sc, std::move(cb), &error)
                                    : fix::FixClient::Create(sc, std::move(cb), &error);
  if (!client_) return absl::InvalidArgumentError(absl::StrCat(options_.venue_id, ": ", error));
  if (!client_->Start(&error)) return absl::UnavailableError(absl::StrCat(options_.venue_id, ": ", error));
  std::lock_guard<std::mutex> lock(mu_);
  started_ = true;
  return absl::OkStatus();
}

void FixVenue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) return;
    started_ = false;
  }
  LogInfo("%s: logging out of the FIX session", options_.venue_id);
  client_->Stop();
}

exoroute::v1::AdapterState FixVenue::state() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ && !client_) return exoroute::v1::ADAPTER_STATE_STARTING;
  }
  return client_ && client_->logged_on() ? exoroute::v1::ADAPTER_STATE_UP
                                         : exoroute::v1::ADAPTER_STATE_DOWN;
}

absl::Status FixVenue::Send(const exoroute::v1::ChildOrder& child, std::string_view symbol) {
  const exoroute::v1::Instrument* inst = InstrumentOf(std::string(symbol));
  if (inst == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(options_.venue_id, " does not trade ", Sv(symbol)));
  }
  if (!client_ || !client_->logged_on()) {
    return absl::UnavailableError(absl::StrCat(options_.venue_id, ": FIX session not logged on"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_[child.cl_ord_id()] = {child, std::string(symbol)};
    ++sent_;
  }
  std::string tif = options_.config.time_in_force().empty() ? "3" : options_.config.time_in_force();
  std::string error;
  if (!client_->SendNewOrder(child.cl_ord_id(), std::string(symbol), child.side() == exoroute::v1::SIDE_BUY,
                             FormatDecimal(child.quantity(), inst->qty_scale()),
                             FormatDecimal(child.limit_price(), inst->price_scale()), tif, &error)) {
    std::lock_guard<std::mutex> lock(mu_);
    open_.erase(child.cl_ord_id());
    return absl::UnavailableError(absl::StrCat(options_.venue_id, ": ", error));
  }
  return absl::OkStatus();
}

absl::Status FixVenue::Cancel(std::string_view cl_ord_id) {
  Open o;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(std::string(cl_ord_id));
    if (it == open_.end()) return absl::NotFoundError(absl::StrCat("no open child ", Sv(cl_ord_id)));
    o = it->second;
  }
  const exoroute::v1::Instrument* inst = InstrumentOf(o.symbol);
  std::string error;
  if (!client_->SendCancel(absl::StrCat(Sv(cl_ord_id), "-C"), std::string(cl_ord_id), o.symbol,
                           o.child.side() == exoroute::v1::SIDE_BUY,
                           FormatDecimal(o.child.quantity(), inst->qty_scale()), &error)) {
    return absl::UnavailableError(absl::StrCat(options_.venue_id, ": ", error));
  }
  return absl::OkStatus();
}

std::string FixVenue::detail() const {
  return client_ ? absl::StrCat("FIX ", client_->state()) : "FIX not started";
}

absl::Status FixVenue::Reconcile(const exoroute::v1::ChildOrder& child, std::string_view symbol,
                                 int64_t filled) {
  if (InstrumentOf(std::string(symbol)) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(options_.venue_id, " does not trade ", Sv(symbol)));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_[child.cl_ord_id()] = {child, std::string(symbol), filled};
    pending_status_.push_back(child.cl_ord_id());
  }
  if (client_ && client_->logged_on()) SendPendingStatusRequests();
  return absl::OkStatus();
}

absl::Status FixVenue::AskStatus(std::string_view cl_ord_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_.count(std::string(cl_ord_id)) == 0) {
      return absl::NotFoundError(absl::StrCat("no open child ", Sv(cl_ord_id)));
    }
    // Sent now if logged on, else at the next logon (once, however often asked meanwhile).
    if (std::find(pending_status_.begin(), pending_status_.end(), cl_ord_id) == pending_status_.end()) {
      pending_status_.push_back(std::string(cl_ord_id));
    }
  }
  if (client_ && client_->logged_on()) SendPendingStatusRequests();
  return absl::OkStatus();
}

void FixVenue::SendPendingStatusRequests() {
  std::vector<Open> ask;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : pending_status_) {
      auto it = open_.find(id);
      if (it != open_.end()) ask.push_back(it->second);
    }
    pending_status_.clear();
  }
  for (const Open& o : ask) {
    std::string error;
    if (!client_->SendStatusRequest(o.child.cl_ord_id(), o.symbol,
                                    o.child.side() == exoroute::v1::SIDE_BUY, &error)) {
      LogWarning("%s: status request for %s failed: %s", options_.venue_id, o.child.cl_ord_id(), error);
      std::lock_guard<std::mutex> lock(mu_);
      pending_status_.push_back(o.child.cl_ord_id());  // Asked again at the next logon.
    } else {
      LogInfo("%s: reconciling %s with the venue", options_.venue_id, o.child.cl_ord_id());
    }
  }
}

namespace {

// Why an entry cannot go into a book ("" if it can): the same bounds as the WebSocket feeds'
// levels and the solver's.
std::string EntryProblem(const fix::MdEntry& e, const exoroute::v1::Instrument& inst, int64_t* price,
                         int64_t* size) {
  auto px = ParseDecimal(e.price, inst.price_scale());
  auto sz = ParseDecimal(e.size, inst.qty_scale());
  if (!px.ok()) return absl::StrCat("MDEntryPx ", Quoted(e.price), ": ", px.status().message());
  if (!sz.ok()) return absl::StrCat("MDEntrySize ", Quoted(e.size), ": ", sz.status().message());
  if (*px <= 0 || *px > kMaxUnits) return absl::StrCat("MDEntryPx ", Quoted(e.price), " not within 1..2^53 units");
  if (*sz < 0 || *sz > kMaxUnits) return absl::StrCat("MDEntrySize ", Quoted(e.size), " not within 0..2^53 units");
  *price = *px;
  *size = *sz;
  return "";
}

}  // namespace

std::vector<std::string> FixVenue::DueSnapshotAsks(const std::vector<std::string>& symbols,
                                                   std::chrono::steady_clock::time_point now) {
  std::vector<std::string> due;
  for (const std::string& symbol : symbols) {
    MdBook& b = md_[symbol];
    if (b.snapshot && b.refused.empty()) continue;
    if (now < b.next_ask) continue;
    const int shift = static_cast<int>(std::min<uint32_t>(b.asks_in_a_row, 16));
    const int64_t wait_ms = std::min<int64_t>(kMaxSnapshotAskMs, int64_t{kSnapshotAskMs} << shift);
    b.next_ask = now + std::chrono::milliseconds(wait_ms);
    ++b.asks_in_a_row;
    due.push_back(symbol);
  }
  return due;
}

void FixVenue::AskSnapshots(const std::vector<std::string>& symbols) {
  if (symbols.empty()) return;
  uint64_t request = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    request = ++snapshot_requests_;
  }
  std::string error;
  // A snapshot only, under a request id of its own: the subscription goes on as it was.
  if (!client_->SendMarketDataRequest(absl::StrCat(options_.venue_id, "-md-snapshot-", request), symbols,
                                      static_cast<int>(options_.config.market_depth()), false, &error)) {
    LogWarning("%s: market data request failed: %s", options_.venue_id, error);
  }
}

void FixVenue::OnHeartbeat() {
  if (!options_.config.market_data()) return;
  std::vector<std::string> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> symbols;
    for (const auto& [symbol, b] : md_) symbols.push_back(symbol);
    due = DueSnapshotAsks(symbols, std::chrono::steady_clock::now());
  }
  AskSnapshots(due);
}

// A snapshot (symbol given) replaces the book; an incremental refresh changes it. An entry that
// cannot be taken leaves the book unusable (Book() null, BookProblem() says why) until a snapshot
// is taken whole. One is asked for at once, and again as the venue's messages for the symbol
// keep coming or its heartbeats (OnHeartbeat), after kSnapshotAskMs doubled for each ask in a
// row (at most kMaxSnapshotAskMs).
void FixVenue::OnMarketData(const std::string& snapshot_symbol, const std::vector<fix::MdEntry>& entries) {
  std::vector<std::string> ask_again;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> touched;  // The symbols this message is about.
    if (!snapshot_symbol.empty()) {
      auto it = md_.find(snapshot_symbol);
      if (it == md_.end()) return;
      it->second.book.Clear();
      it->second.snapshot = true;
      it->second.refused.clear();
      touched.push_back(snapshot_symbol);
    }
    for (const fix::MdEntry& e : entries) {
      auto it = md_.find(snapshot_symbol.empty() ? e.symbol : snapshot_symbol);
      if (it != md_.end() && snapshot_symbol.empty() &&
          std::find(touched.begin(), touched.end(), it->first) == touched.end()) {
        touched.push_back(it->first);
      }
      const exoroute::v1::Instrument* inst = it == md_.end() ? nullptr : InstrumentOf(it->first);
      if (inst == nullptr || !it->second.snapshot || !it->second.refused.empty()) continue;
      int64_t price = 0, size = 0;
      if (std::string why = EntryProblem(e, *inst, &price, &size); !why.empty()) {
        it->second.refused = absl::StrCat("FIX market data entry refused (", why, "); waiting for a snapshot");
        LogWarning("%s: %s: %s", options_.venue_id, it->first, it->second.refused);
        continue;
      }
      it->second.book.Set(e.bid ? ws::BookSide::kBid : ws::BookSide::kAsk, price, e.action == '2' ? 0 : size);
      it->second.receive_ns = options_.clock ? options_.clock->NowNs() : 0;
      ++it->second.updates;
    }
    for (const std::string& symbol : touched) {
      MdBook& b = md_[symbol];
      if (snapshot_symbol.empty()) continue;
      if (b.refused.empty()) b.asks_in_a_row = 0;  // A snapshot taken whole.
      if (b.asks_in_a_row == 0) b.next_ask = {};   // None of our asks is outstanding: ask at once if need be.
    }
    ask_again = DueSnapshotAsks(touched, std::chrono::steady_clock::now());
  }
  AskSnapshots(ask_again);
}

std::shared_ptr<const exoroute::v1::VenueBook> FixVenue::Book(std::string_view symbol) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = md_.find(std::string(symbol));
  if (it == md_.end() || !it->second.snapshot || !it->second.refused.empty() || it->second.book.Crossed()) {
    return nullptr;
  }
  auto b = std::make_shared<exoroute::v1::VenueBook>(it->second.book.Snapshot(1000));
  b->set_venue(options_.venue_id);
  b->set_symbol(std::string(symbol));
  b->set_sequence(it->second.updates);
  b->set_receive_time_ns(it->second.receive_ns);
  return b;
}

std::string FixVenue::BookProblem(std::string_view symbol) const {
  if (!options_.config.market_data()) return {};  // The book comes from another venue.
  if (!client_ || !client_->logged_on()) return "FIX session not logged on: no market data";
  std::lock_guard<std::mutex> lock(mu_);
  auto it = md_.find(std::string(symbol));
  if (it == md_.end() || !it->second.snapshot) return "waiting for the FIX market data snapshot";
  if (!it->second.refused.empty()) return it->second.refused;
  if (it->second.book.Crossed()) return "FIX market data book crossed";
  return {};
}

uint64_t FixVenue::children_sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

uint64_t FixVenue::fills() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fills_;
}

void FixVenue::Refuse(const std::string& cl_ord_id, std::string why) {
  // It changes no plan; the engine counts it in Status (unknown_executions) and logs it.
  ExecutionEvent e;
  e.type = ExecutionEvent::Type::kUnknown;
  e.venue = options_.venue_id;
  e.cl_ord_id = cl_ord_id;
  e.reason = std::move(why);
  sink_(std::move(e));
}

ExecutionEvent FixVenue::FillEvent(const fix::ExecReport& r, const exoroute::v1::Instrument& inst, int64_t quantity,
                                  int64_t price, std::string exec_id) const {
  ExecutionEvent f;
  f.type = ExecutionEvent::Type::kFill;
  f.venue = options_.venue_id;
  f.cl_ord_id = r.cl_ord_id;
  f.quantity = quantity;
  f.price = price;
  // Within 2^53 units each, as every order and book: the product fits 128 bits.
  f.fee = MulDivRound(static_cast<__int128>(price) * quantity, FeePpm(fee_bps_.load()),
                      static_cast<__int128>(1'000'000) * Pow10(inst.qty_scale()));
  f.exec_id = std::move(exec_id);
  return f;
}

void FixVenue::TakeUnheldFill(const fix::ExecReport& r) {
  const exoroute::v1::Instrument* inst = InstrumentOf(r.symbol);
  if (inst == nullptr) {
    Refuse(r.cl_ord_id, r.symbol.empty()
                            ? std::string("fill of an order this session does not hold, naming no Symbol (55): not taken")
                            : absl::StrCat("fill of an order this session does not hold, in ", Quoted(r.symbol),
                                           ", which this venue does not trade: not taken"));
    return;
  }
  auto qty = ParseDecimal(r.last_qty, inst->qty_scale());
  auto px = ParseDecimal(r.last_px, inst->price_scale());
  auto cum = ParseDecimal(r.cum_qty, inst->qty_scale());
  if (!qty.ok() || !px.ok() || !cum.ok() || *qty <= 0 || *px <= 0 || *cum < *qty || *qty > kMaxUnits ||
      *px > kMaxUnits || *cum > kMaxUnits) {
    Refuse(r.cl_ord_id, absl::StrCat("fill of an order this session does not hold, unreadable (LastQty ",
                                     Quoted(r.last_qty), ", LastPx ", Quoted(r.last_px), ", CumQty ",
                                     Quoted(r.cum_qty), "): not taken"));
    return;
  }
  // Its order ended before a restart, or too long ago to be kept (ended_): what of it is new only
  // the plan knows, from the venue's count (cum_quantity).
  ExecutionEvent f = FillEvent(r, *inst, *qty, *px, r.exec_id);
  f.cum_quantity = *cum;
  f.symbol = r.symbol;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++fills_;
  }
  sink_(std::move(f));
}

int64_t FixVenue::TakeUnreported(const fix::ExecReport& r, const exoroute::v1::Instrument& inst, int64_t reported,
                                 std::string_view exec_id_prefix) {
  auto cum = ParseDecimal(r.cum_qty.empty() ? "0" : r.cum_qty, inst.qty_scale());
  if (!cum.ok() || *cum <= reported) return reported;
  auto avg = ParseDecimal(r.avg_px.empty() ? "0" : r.avg_px, inst.price_scale());
  if (!avg.ok() || *avg <= 0 || *avg > kMaxUnits || *cum > kMaxUnits) {
    Refuse(r.cl_ord_id, absl::StrCat("unreadable fills beyond those reported (ExecType ", r.exec_type, ", CumQty ",
                                     Quoted(r.cum_qty), ", AvgPx ", Quoted(r.avg_px), ")"));
    return reported;
  }
  ExecutionEvent f = FillEvent(r, inst, *cum - reported, *avg, std::string(exec_id_prefix) + r.exec_id);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = open_.find(r.cl_ord_id); it != open_.end()) {
      it->second.reported = *cum;
      it->second.counted_by_cum = true;
    }
    ++fills_;
  }
  sink_(std::move(f));
  return *cum;
}

int64_t FixVenue::UncountedQuantity(const fix::ExecReport& r, const exoroute::v1::Instrument& inst, int64_t last_qty,
                                    int64_t reported) {
  // A status answer or the end report counted every fill up to its CumQty (TakeUnreported): of a
  // fill reported after it, only what takes the venue's count (this report's CumQty) past what is
  // recorded is new. No readable CumQty: the fill's own quantity.
  if (r.cum_qty.empty()) return last_qty;
  auto cum = ParseDecimal(r.cum_qty, inst.qty_scale());
  if (!cum.ok() || *cum < 0 || *cum > kMaxUnits) return last_qty;
  return std::clamp<int64_t>(*cum - reported, 0, last_qty);
}

void FixVenue::OnReport(const fix::ExecReport& r) {
  Open o;
  bool known = false;
  bool ended = false;  // The venue reported the order's end before this.
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = open_.find(r.cl_ord_id); it != open_.end()) {
      o = it->second;
      known = true;
    } else if (auto e = ended_.find(r.cl_ord_id); e != ended_.end()) {
      o = e->second;
      known = ended = true;
    }
  }
  if (!known) {
    // Not an order this session holds (from before a restart, ended long ago, or not ours). A
    // trade of it still goes to the engine, which knows what its plan has recorded.
    if (r.exec_type == "F") {
      TakeUnheldFill(r);
    } else {
      Refuse(r.cl_ord_id, absl::StrCat("unknown execution report (ExecType ", r.exec_type, ")"));
    }
    return;
  }
  if (r.exec_type == "G" || r.exec_type == "H") {
    // A trade the venue corrects or cancels (busts) after reporting it. The plan's fills stay as
    // recorded — nothing already acknowledged is taken back — and the operator is told to
    // reconcile (Status.unknown_executions, the log). If it ends the order too, the child's
    // timeout asks the venue where it stands.
    Refuse(r.cl_ord_id, absl::StrCat(r.exec_type == "G" ? "trade correction" : "trade cancel (a bust)", " (ExecType ",
                                     r.exec_type, ") of execution ", Quoted(r.exec_ref_id), ", now LastQty ",
                                     Quoted(r.last_qty), " at LastPx ", Quoted(r.last_px),
                                     ": not applied, the plan keeps the fill as recorded; reconcile with the venue"));
    return;
  }
  if (ended && r.exec_type != "F") {
    // A repeat of its end, or a status answer after it: the order's end stands.
    Refuse(r.cl_ord_id, absl::StrCat("execution report after the order's end (ExecType ", r.exec_type, ", OrdStatus ",
                                     r.ord_status, "): ignored"));
    return;
  }
  const exoroute::v1::Instrument* inst = InstrumentOf(o.symbol);
  int64_t reported = o.reported;
  if (r.exec_type == "I") {
    // An order-status answer (reconciliation): whatever filled while we were away and is not
    // recorded yet becomes one fill at the order's average price.
    reported = TakeUnreported(r, *inst, reported, "status:");
  }
  if (r.exec_type == "F") {
    auto qty = ParseDecimal(r.last_qty, inst->qty_scale());
    auto px = ParseDecimal(r.last_px, inst->price_scale());
    // Within 2^53 units, as every order and book: the fee's product (FillEvent) then fits 128 bits.
    if (!qty.ok() || !px.ok() || *qty <= 0 || *px <= 0 || *qty > kMaxUnits || *px > kMaxUnits) {
      // Not a fill a plan can take: reported to the engine, which logs and counts it, applies
      // nothing (the order's later reports, or a status request, say where it stands).
      const bool readable = qty.ok() && px.ok() && *qty > 0 && *px > 0;
      Refuse(r.cl_ord_id, absl::StrCat(readable ? "fill beyond 2^53 units" : "unreadable fill", " (LastQty ",
                                       Quoted(r.last_qty), ", LastPx ", Quoted(r.last_px), ")"));
    } else if (int64_t take = ended || o.counted_by_cum ? UncountedQuantity(r, *inst, *qty, reported) : *qty;
               take == 0) {
      // Out of order, so told (counted with the reports not applied): reconcile with the venue.
      Refuse(r.cl_ord_id, absl::StrCat("fill ", Quoted(r.exec_id), " (LastQty ", Quoted(r.last_qty), ", CumQty ",
                                       Quoted(r.cum_qty), ") counted already by an earlier report's CumQty: not "
                                       "taken again"));
    } else {
      // (After the order's end too: it traded. The engine records it and says it came late.)
      ExecutionEvent f = FillEvent(r, *inst, take, *px, r.exec_id);
      reported += take;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++fills_;
        auto& kept = ended ? ended_ : open_;
        if (auto it = kept.find(r.cl_ord_id); it != kept.end()) it->second.reported = reported;
      }
      sink_(std::move(f));
    }
  }
  if (ended) return;
  // Terminal order states: filled (2), done for day (3: no further executions that day, so the
  // node works the rest elsewhere), cancelled (4), rejected (8), expired (C).
  const std::string& s = r.ord_status;
  if (s == "2" || s == "3" || s == "4" || s == "8" || s == "C") {
    // What the venue counts filled (CumQty) beyond the fills it reported — a fill report lost,
    // or never sent on its own — is recorded first, at the order's average price: the plan's
    // fills then add up to the venue's.
    if (r.exec_type != "I") reported = TakeUnreported(r, *inst, reported, "cum:");
    ExecutionEvent done;
    done.type = ExecutionEvent::Type::kDone;
    done.venue = options_.venue_id;
    done.cl_ord_id = r.cl_ord_id;
    // A terminal report's LeavesQty is 0 by definition: what did not fill is the order quantity
    // minus CumQty.
    // A CumQty that cannot be one (unreadable, negative, beyond 2^53 units): what this node
    // recorded of the child stands for it.
    auto cum = ParseDecimal(r.cum_qty.empty() ? "0" : r.cum_qty, inst->qty_scale());
    const int64_t cum_units = cum.ok() && *cum >= 0 && *cum <= kMaxUnits ? *cum : reported;
    done.canceled_quantity = std::clamp<int64_t>(o.child.quantity() - cum_units, 0, o.child.quantity());
    // Asked about a child it never received (sent by a process that stopped before it went
    // out), a venue answers it rejected as an unknown order: not a refusal of what was sent, so
    // not counted as one (no back-off from the venue).
    const bool never_received = r.exec_type == "I" && s == "8" && r.ord_rej_reason == "5" && cum_units == 0;
    done.reason = s == "2" ? "filled"
                  : s == "3" ? absl::StrCat("done for day", r.text.empty() ? "" : ": " + r.text)
                  : s == "4" ? absl::StrCat("cancelled", r.text.empty() ? "" : ": " + r.text)
                  : never_received ? "not at the venue: it never received the child (unknown order)"
                  : s == "8" ? absl::StrCat("rejected: ", r.text.empty() ? "by the venue" : r.text)
                             : "expired";
    {
      // Kept a while after: a fill the venue reports after the end is still taken (it traded).
      std::lock_guard<std::mutex> lock(mu_);
      auto it = open_.find(r.cl_ord_id);
      if (it != open_.end()) {
        it->second.reported = reported;
        ended_[r.cl_ord_id] = std::move(it->second);
        ended_order_.push_back(r.cl_ord_id);
        open_.erase(it);
        if (ended_order_.size() > kEndedKept) {
          ended_.erase(ended_order_.front());
          ended_order_.pop_front();
        }
      }
    }
    sink_(std::move(done));
  }
}

}  // namespace exo::adapters
