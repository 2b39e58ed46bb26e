#include "adapters/ws/ws_feed_venue.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "exo/log.h"
#include "exo/status_macros.h"

namespace exo::adapters::ws {

using exoroute::v1::FEED_FORMAT_BINANCE_SPOT;

WsFeedVenue::WsFeedVenue(Options options) : options_(std::move(options)) {
  for (const Market& m : options_.markets) {
    Feed f;
    f.market = m;
    f.scales = {m.instrument.price_scale(), m.instrument.qty_scale()};
    scales_[m.feed_symbol] = f.scales;
    feeds_.emplace(m.feed_symbol, std::move(f));
  }
}

WsFeedVenue::~WsFeedVenue() { Stop(); }

bool WsFeedVenue::binance() const { return options_.config.format() == FEED_FORMAT_BINANCE_SPOT; }

absl::Status WsFeedVenue::Start(EventSink) {
  FeedConnection::Options o;
  o.url = options_.config.url();
  o.ca_file = options_.config.ca_file();
  if (options_.config.stall_timeout_ms() > 0) o.stall_timeout_ms = static_cast<int>(options_.config.stall_timeout_ms());
  if (!binance()) {
    std::vector<std::string> products;
    for (const auto& [symbol, f] : feeds_) products.push_back(absl::StrCat("\"", symbol, "\""));
    o.subscribe = absl::StrCat(R"({"type":"subscribe","product_ids":[)", absl::StrJoin(products, ","),
                               R"(],"channels":["level2"]})");
  }
  FeedConnection::Callbacks cb;
  cb.on_open = [this] { OnOpen(); };
  cb.on_frame = [this](std::string_view f) { OnFrame(f); };
  cb.on_close = [this](const absl::Status& s) { OnClose(s); };
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
  }
  if (binance()) snapshot_thread_ = std::thread([this] { SnapshotWorker(); });
  connection_ = std::make_unique<FeedConnection>(std::move(o), std::move(cb));
  connection_->Start();
  return absl::OkStatus();
}

void WsFeedVenue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  snapshot_cv_.notify_all();
  if (connection_) connection_->Stop();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  connected_ = false;
}

exoroute::v1::AdapterState WsFeedVenue::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!started_) return exoroute::v1::ADAPTER_STATE_STARTING;
  return connected_ ? exoroute::v1::ADAPTER_STATE_UP : exoroute::v1::ADAPTER_STATE_DOWN;
}

SyncState WsFeedVenue::StateOf(const Feed& f) const {
  return binance() ? f.binance.state() : f.coinbase.state();
}

const WsFeedVenue::Feed* WsFeedVenue::FindBySymbol(std::string_view symbol) const {
  for (const auto& [feed_symbol, f] : feeds_) {
    if (f.market.instrument.symbol() == symbol) return &f;
  }
  return nullptr;
}

WsFeedVenue::Feed* WsFeedVenue::FindByFeedSymbol(const std::string& s) {
  auto it = feeds_.find(s);
  return it == feeds_.end() ? nullptr : &it->second;
}

std::shared_ptr<const exoroute::v1::VenueBook> WsFeedVenue::Book(std::string_view symbol) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Feed* f = FindBySymbol(symbol);
  if (f == nullptr || StateOf(*f) != SyncState::kSynced) return nullptr;
  if (f->cached_at != f->updates) {
    const L2Book& book = binance() ? f->binance.book() : f->coinbase.book();
    auto b = std::make_shared<exoroute::v1::VenueBook>(
        book.Snapshot(options_.config.depth() == 0 ? 50 : options_.config.depth()));
    b->set_venue(options_.venue_id);
    b->set_symbol(std::string(symbol));
    b->set_sequence(binance() ? f->binance.last_update_id() : f->updates);
    b->set_receive_time_ns(f->last_update_ns);
    f->cached = std::move(b);
    f->cached_at = f->updates;
  }
  return f->cached;
}

std::string WsFeedVenue::BookProblem(std::string_view symbol) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Feed* f = FindBySymbol(symbol);
  if (f == nullptr) return absl::StrCat(options_.venue_id, " has no feed for ", Sv(symbol));
  if (!connected_) {
    return last_close_.empty() ? "feed not connected yet" : absl::StrCat("feed disconnected: ", last_close_);
  }
  switch (StateOf(*f)) {
    case SyncState::kWaitingForSnapshot:
      if (f->snapshot_failures == 0) return "book resyncing: waiting for a snapshot";
      return absl::StrCat("book resyncing: waiting for a snapshot; ",
                          f->snapshot_failures == 1 ? "the last one failed: "
                                                    : absl::StrCat("the last ", f->snapshot_failures, " failed, the last: "),
                          f->snapshot_error);
    case SyncState::kOutOfSync:
      return absl::StrCat("book out of sync: ", binance() ? f->binance.error() : f->coinbase.error());
    case SyncState::kSynced:
      return {};
  }
  return {};
}

absl::Status WsFeedVenue::Send(const exoroute::v1::ChildOrder&, std::string_view) {
  return absl::FailedPreconditionError(absl::StrCat(options_.venue_id, " is market data only"));
}

absl::Status WsFeedVenue::Cancel(std::string_view) {
  return absl::FailedPreconditionError(absl::StrCat(options_.venue_id, " is market data only"));
}

std::string WsFeedVenue::detail() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string failing;  // Books whose snapshots keep failing, by feed symbol.
  for (const auto& [feed_symbol, f] : feeds_) {
    if (f.snapshot_failures == 0 || StateOf(f) != SyncState::kWaitingForSnapshot) continue;
    absl::StrAppend(&failing, failing.empty() ? "; snapshot failing: " : ", ", feed_symbol, " (", f.snapshot_failures,
                    " in a row)");
  }
  return absl::StrCat(connected_ ? "feed connected" : "feed not connected", ", ",
                      connection_ ? connection_->connects() : 0, " connects, ", resyncs_,
                      " resyncs, ", malformed_, " malformed frames", failing);
}

uint64_t WsFeedVenue::malformed_frames() const {
  std::lock_guard<std::mutex> lock(mu_);
  return malformed_;
}

uint64_t WsFeedVenue::resyncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resyncs_;
}

void WsFeedVenue::OnOpen() {
  std::vector<std::string> fetch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = true;
    for (auto& [symbol, f] : feeds_) {
      f.binance.Resync();
      f.coinbase.Resync();
      fetch.push_back(symbol);
    }
  }
  if (const uint64_t held = close_warning_.Clear(); held > 0) {
    LogInfo("%s: feed connected (%s) after %d more failed connections, not logged", options_.venue_id,
            options_.config.url(), held);
  } else {
    LogInfo("%s: feed connected (%s)", options_.venue_id, options_.config.url());
  }
  if (binance()) {
    for (const auto& s : fetch) FetchSnapshot(s);
  }
}

void WsFeedVenue::OnClose(const absl::Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  connected_ = false;
  last_close_ = std::string(why.message());
  close_warning_.Log(absl::StrFormat("%s: feed connection ended: %s; reconnecting", options_.venue_id, why.ToString()));
}

void WsFeedVenue::FetchSnapshot(const std::string& feed_symbol) {
  std::lock_guard<std::mutex> lock(mu_);
  if (std::find(snapshot_queue_.begin(), snapshot_queue_.end(), feed_symbol) == snapshot_queue_.end()) {
    snapshot_queue_.push_back(feed_symbol);
  }
  snapshot_cv_.notify_all();
}

// Fetches Binance REST snapshots off the connection thread: the stream keeps buffering meanwhile.
void WsFeedVenue::SnapshotWorker() {
  using Clock = std::chrono::steady_clock;
  FeedParser parser;  // This thread's own.
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // Retries that are due join the queue; the worker wakes for the next one.
    const Clock::time_point now = Clock::now();
    Clock::time_point next = Clock::time_point::max();
    for (auto& [feed_symbol, f] : feeds_) {
      if (!f.retry_pending) continue;
      if (f.retry_at > now) {
        next = std::min(next, f.retry_at);
        continue;
      }
      f.retry_pending = false;
      if (std::find(snapshot_queue_.begin(), snapshot_queue_.end(), feed_symbol) == snapshot_queue_.end()) {
        snapshot_queue_.push_back(feed_symbol);
      }
    }
    if (snapshot_queue_.empty()) {
      auto woken = [&] { return stopping_ || !snapshot_queue_.empty(); };
      if (next == Clock::time_point::max()) {
        snapshot_cv_.wait(lock, woken);
      } else {
        snapshot_cv_.wait_until(lock, next, woken);
      }
      continue;
    }
    std::string feed_symbol = snapshot_queue_.front();
    snapshot_queue_.pop_front();
    Feed* f = FindByFeedSymbol(feed_symbol);
    // A book in sync meanwhile needs none; a disconnected feed fetches one when it is back.
    if (f == nullptr || !connected_ || f->binance.state() != SyncState::kWaitingForSnapshot) continue;
    const std::string url = absl::StrReplaceAll(options_.config.snapshot_url(), {{"{symbol}", feed_symbol}});
    lock.unlock();
    const absl::StatusOr<std::string> body = HttpGet(url, options_.config.ca_file(), 5000);
    lock.lock();
    if (stopping_) return;
    TakeSnapshot(*f, url, body, parser);
  }
}

void WsFeedVenue::TakeSnapshot(Feed& f, const std::string& url, const absl::StatusOr<std::string>& body,
                               FeedParser& parser) {
  const std::string& feed_symbol = f.market.feed_symbol;
  std::string failed;
  if (!body.ok()) {
    failed = std::string(body.status().message());
  } else if (absl::StatusOr<FeedEvent> snap = parser.ParseBinanceSnapshot(*body, f.scales); !snap.ok()) {
    ++malformed_;
    failed = absl::StrCat("bad snapshot: ", snap.status().message());
  } else {
    switch (f.binance.OnSnapshot(*snap)) {
      case SyncState::kSynced:
        f.last_update_ns = options_.clock->NowNs();
        ++f.updates;
        f.snapshot_failures = 0;
        f.snapshot_error.clear();
        LogInfo("%s: %s in sync at update id %d", options_.venue_id, feed_symbol, f.binance.last_update_id());
        return;
      case SyncState::kWaitingForSnapshot:  // Refused; the buffered stream waits for a newer one.
        failed = f.binance.error();
        break;
      case SyncState::kOutOfSync:  // The buffered stream itself has a gap: start it over.
        ++resyncs_;
        failed = f.binance.error();
        f.binance.Resync();
        break;
    }
  }
  ++f.snapshot_failures;
  f.snapshot_error = failed;
  const int shift = static_cast<int>(std::min<uint32_t>(f.snapshot_failures - 1, 16));
  const int64_t wait_ms = std::min<int64_t>(kMaxSnapshotRetryMs, int64_t{kSnapshotRetryMs} << shift);
  f.retry_pending = true;
  f.retry_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  LogWarning("%s: snapshot %s failed (%d in a row): %s; fetching again in %.2f s", options_.venue_id, url,
             f.snapshot_failures, failed, static_cast<double>(wait_ms) / 1000);
}

void WsFeedVenue::OnFrame(std::string_view frame) {
  auto ev = binance() ? parser_.ParseBinanceFrame(frame, scales_) : parser_.ParseCoinbaseFrame(frame, scales_);
  bool resync = false, reconnect = false;
  std::string symbol;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ev.ok()) {
      ++malformed_;
      malformed_warning_.Log(absl::StrFormat("%s: malformed frame ignored: %s", options_.venue_id, ev.status().ToString()));
      return;
    }
    if (ev->kind == FeedEvent::Kind::kIgnored) return;
    Feed* f = FindByFeedSymbol(ev->symbol);
    if (f == nullptr) return;
    symbol = ev->symbol;
    SyncState before = StateOf(*f);
    SyncState after = binance() ? f->binance.OnUpdate(*std::move(ev)) : f->coinbase.OnMessage(*ev);
    if (after == SyncState::kSynced) {
      f->last_update_ns = options_.clock->NowNs();
      ++f->updates;
    }
    if (after == SyncState::kOutOfSync && before != SyncState::kOutOfSync) {
      ++resyncs_;
      LogWarning("%s: %s out of sync (%s); resyncing", options_.venue_id, symbol,
                 binance() ? f->binance.error() : f->coinbase.error());
      if (binance()) {
        f->binance.Resync();
        resync = true;
      } else {
        reconnect = true;  // Coinbase level2 has no sequence: re-subscribe from a new snapshot.
      }
    }
  }
  if (resync) FetchSnapshot(symbol);
  if (reconnect) connection_->Reconnect();
}

}  // namespace exo::adapters::ws
