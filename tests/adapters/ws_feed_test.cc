// The feed core on real recorded Binance and Coinbase messages (tests/testdata/feeds).
#include <catch2/catch.hpp>
#include <fstream>
#include <random>
#include <set>

#include "adapters/ws/book_sync.h"
#include "adapters/ws/feed_parser.h"

using namespace exo::adapters::ws;  // NOLINT

namespace {

// One recorded line: the JSON of a received frame ("<ts>: {...}") or a REST answer
// ("<url> -> <ts>: {...}"); `rest` says which. Other lines (sent frames, connects) are skipped.
struct Recorded {
  bool rest = false;
  std::string url, json;
};

std::vector<Recorded> Load(const std::string& name) {
  std::ifstream in(std::string(EXO_TESTDATA_DIR) + "/feeds/" + name);
  REQUIRE(in);
  std::vector<Recorded> out;
  std::string line;
  while (std::getline(in, line)) {
    size_t brace = line.find(": {");
    if (brace == std::string::npos) continue;
    Recorded r;
    std::string head = line.substr(0, brace);
    if (head.find(" <- ") != std::string::npos) continue;  // Sent by the client.
    size_t arrow = head.find(" -> ");
    r.rest = arrow != std::string::npos;
    if (r.rest) r.url = head.substr(0, arrow);
    r.json = line.substr(brace + 2);
    out.push_back(std::move(r));
  }
  return out;
}

const std::map<std::string, Scales> kBinance = {{"NKNUSDT", {8, 8}}, {"LRCBTC", {8, 8}},
                                                {"BLZETH", {8, 8}}, {"RUNEEUR", {8, 8}}};

FeedEvent Snapshot(FeedParser& p, const std::string& symbol) {
  for (const auto& r : Load("BINANCE.http.0.0")) {
    if (r.rest && r.url.find("symbol=" + symbol) != std::string::npos) {
      auto s = p.ParseBinanceSnapshot(r.json, kBinance.at(symbol));
      REQUIRE(s.ok());
      return *s;
    }
  }
  FAIL("no snapshot for " << symbol);
  return {};
}

std::vector<FeedEvent> Updates(FeedParser& p, const std::string& symbol) {
  std::vector<FeedEvent> out;
  for (const auto& r : Load("BINANCE.ws.1.0")) {
    auto e = p.ParseBinanceFrame(r.json, kBinance);
    INFO(r.json.substr(0, 120));
    REQUIRE(e.ok());
    if (e->kind == FeedEvent::Kind::kBinanceDepthUpdate && e->symbol == symbol) out.push_back(*e);
  }
  return out;
}

}  // namespace

TEST_CASE("Binance snapshots and depth updates parse exactly into fixed point", "[ws][binance]") {
  FeedParser p;
  FeedEvent snap = Snapshot(p, "NKNUSDT");
  CHECK(snap.last_update_id == 499869752);
  REQUIRE_FALSE(snap.bids.empty());
  CHECK(snap.bids[0].price == 35210000);       // "0.35210000"
  CHECK(snap.bids[0].size == 67200000000);     // "672.00000000"
  auto updates = Updates(p, "NKNUSDT");
  CHECK(updates.size() == 150);
  CHECK(updates[0].first_update_id == 499869750);
  CHECK(updates[0].bids[0].price == 35130000);
  // Other streams in the same connection are recognised and ignored.
  auto ticker = p.ParseBinanceFrame(
      R"({"stream":"nknusdt@bookTicker","data":{"u":1,"s":"NKNUSDT","b":"0.1","B":"1","a":"0.2","A":"1"}})", kBinance);
  REQUIRE(ticker.ok());
  CHECK(ticker->kind == FeedEvent::Kind::kIgnored);
}

TEST_CASE("the Binance book syncs from snapshot plus buffered stream and stays in sync",
          "[ws][binance]") {
  FeedParser p;
  for (const char* symbol : {"NKNUSDT", "LRCBTC", "BLZETH"}) {
    INFO(symbol);
    BinanceBookSync sync;
    auto updates = Updates(p, symbol);
    // The stream is buffered from the start; the snapshot arrives after the first events.
    for (auto& u : updates) {
      if (u.last_update_id > Snapshot(p, symbol).last_update_id + 3) break;
      sync.OnUpdate(u);
    }
    CHECK(sync.state() == SyncState::kWaitingForSnapshot);
    CHECK(sync.OnSnapshot(Snapshot(p, symbol)) == SyncState::kSynced);
    for (auto& u : updates) sync.OnUpdate(u);  // Already-applied events are dropped.
    INFO(sync.error());
    CHECK(sync.state() == SyncState::kSynced);
    CHECK(sync.last_update_id() == updates.back().last_update_id);
    CHECK_FALSE(sync.book().Crossed());
    auto book = sync.book().Snapshot(20);
    CHECK(book.bids_size() > 0);
    CHECK(book.asks_size() > 0);
  }
}

TEST_CASE("a missing Binance event is a gap: out of sync until a new snapshot", "[ws][binance]") {
  FeedParser p;
  auto updates = Updates(p, "NKNUSDT");
  BinanceBookSync sync;
  REQUIRE(sync.OnSnapshot(Snapshot(p, "NKNUSDT")) == SyncState::kSynced);
  size_t i = 0;
  while (i < updates.size() && updates[i].last_update_id <= sync.last_update_id()) ++i;
  REQUIRE(i + 10 < updates.size());
  for (size_t k = i; k < i + 5; ++k) REQUIRE(sync.OnUpdate(updates[k]) == SyncState::kSynced);
  // Drop one event.
  CHECK(sync.OnUpdate(updates[i + 6]) == SyncState::kOutOfSync);
  CHECK(sync.error() == "gap: expected U=" + std::to_string(updates[i + 5].first_update_id) +
                            ", got U=" + std::to_string(updates[i + 6].first_update_id));
  CHECK(sync.OnUpdate(updates[i + 7]) == SyncState::kOutOfSync);  // Stays out until resynced.
  sync.Resync();
  CHECK(sync.state() == SyncState::kWaitingForSnapshot);
  // A snapshot too old for the buffered stream is refused, and the stream kept for a newer one.
  FeedEvent stale = Snapshot(p, "NKNUSDT");
  for (size_t k = i + 8; k < i + 10; ++k) sync.OnUpdate(updates[k]);
  CHECK(sync.OnSnapshot(stale) == SyncState::kWaitingForSnapshot);
  CHECK(sync.error() == "snapshot older than the stream (its lastUpdateId " + std::to_string(stale.last_update_id) +
                            ", the stream buffered from U=" + std::to_string(updates[i + 8].first_update_id) + ")");
  CHECK(sync.book().best_bid() == 0);  // No book is served from it.
  FeedEvent newer = stale;  // As of the event before the buffered ones: they carry on from it.
  newer.last_update_id = updates[i + 8].first_update_id - 1;
  CHECK(sync.OnSnapshot(newer) == SyncState::kSynced);
  CHECK(sync.error().empty());
  CHECK(sync.last_update_id() == updates[i + 9].last_update_id);  // Both buffered events applied.
  for (size_t k = i + 10; k < updates.size(); ++k) REQUIRE(sync.OnUpdate(updates[k]) == SyncState::kSynced);
}

TEST_CASE("a crossed Binance snapshot is refused and the buffered stream kept for the next one", "[ws][binance]") {
  FeedParser p;
  auto updates = Updates(p, "NKNUSDT");
  const FeedEvent good = Snapshot(p, "NKNUSDT");
  BinanceBookSync sync;
  for (const FeedEvent& u : updates) {
    if (u.last_update_id > good.last_update_id + 3) break;
    sync.OnUpdate(u);
  }
  FeedEvent crossed = good;
  crossed.bids = {{200, 5}};
  crossed.asks = {{100, 5}};
  CHECK(sync.OnSnapshot(crossed) == SyncState::kWaitingForSnapshot);
  CHECK(sync.error() == "snapshot is crossed (bid 200 >= ask 100)");
  CHECK(sync.OnSnapshot(good) == SyncState::kSynced);
  CHECK(sync.last_update_id() > good.last_update_id);  // The events buffered before the first snapshot, applied.
  CHECK_FALSE(sync.book().Crossed());
}

TEST_CASE("the Coinbase level2 books build from snapshot and l2updates", "[ws][coinbase]") {
  FeedParser p;
  std::map<std::string, Scales> scales;
  for (const char* product : {"SKL-USD", "SKL-BTC", "BAND-GBP", "NMR-EUR", "BAND-BTC", "YFI-BTC",
                              "DASH-BTC", "NU-GBP", "CRV-EUR", "SKL-GBP"}) {
    scales[product] = {10, 8};
  }
  std::map<std::string, CoinbaseBookSync> books;
  size_t updates = 0, ignored = 0;
  for (const auto& r : Load("COINBASE.ws.28.0")) {
    auto e = p.ParseCoinbaseFrame(r.json, scales);
    INFO(r.json.substr(0, 120));
    REQUIRE(e.ok());
    if (e->kind == FeedEvent::Kind::kIgnored) {
      ++ignored;
      continue;
    }
    auto& sync = books[e->symbol];
    sync.OnMessage(*e);
    INFO(e->symbol << ": " << sync.error());
    REQUIRE(sync.state() == SyncState::kSynced);
    if (e->kind == FeedEvent::Kind::kCoinbaseUpdate) ++updates;
  }
  CHECK(books.size() == 10);
  CHECK(updates == 9719);
  CHECK(ignored > 200);  // subscriptions, tickers, matches
  for (const auto& [product, sync] : books) {
    INFO(product);
    CHECK_FALSE(sync.book().Crossed());
    CHECK(sync.applied() > 0);
  }
}

TEST_CASE("a crossed book after an update is out of sync", "[ws]") {
  CoinbaseBookSync sync;
  FeedEvent snap;
  snap.kind = FeedEvent::Kind::kCoinbaseSnapshot;
  snap.bids = {{100, 5}};
  snap.asks = {{101, 5}};
  REQUIRE(sync.OnMessage(snap) == SyncState::kSynced);
  FeedEvent up;
  up.kind = FeedEvent::Kind::kCoinbaseUpdate;
  up.bids = {{102, 1}};
  CHECK(sync.OnMessage(up) == SyncState::kOutOfSync);
  CHECK(sync.error() == "book crossed: bid 102 >= ask 101");
  CHECK(sync.OnMessage(snap) == SyncState::kSynced);  // A new snapshot brings it back.
}

TEST_CASE("garbled frames get a specific error and never crash", "[ws]") {
  FeedParser p;
  auto err = [&](const std::string& frame) {
    auto e = p.ParseBinanceFrame(frame, kBinance);
    REQUIRE_FALSE(e.ok());
    CHECK(e.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(e.status().message());
  };
  CHECK(err(R"({"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":5,"u":4,"b":[],"a":[]}})") ==
        "binance frame: data.U: greater than u");
  CHECK(err(R"({"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":1,"u":2,"b":[["0.123456789","1"]],"a":[]}})") ==
        "binance frame: data.b[0][0]: \"0.123456789\" has more than 8 decimal places");
  CHECK(err(R"({"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":1,"u":2,"b":[[0.5,"1"]],"a":[]}})")
            .rfind("binance frame: data.b[0][0]: expected a decimal string", 0) == 0);
  CHECK(err(R"({"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","u":2,"b":[],"a":[]}})") ==
        "binance frame: U: missing");
  CHECK(err(R"({"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":1,"u")")
            .rfind("binance frame: ", 0) == 0);
  CHECK(err("not json at all").rfind("binance frame: json: ", 0) == 0);
  auto cb = p.ParseCoinbaseFrame(R"({"type":"l2update","product_id":"X","changes":[["hold","1","1"]]})",
                                 {{"X", {2, 2}}});
  REQUIRE_FALSE(cb.ok());
  CHECK(cb.status().message() == "coinbase frame: changes[0][0]: side must be buy or sell, got \"hold\"");
  // The feed's own text is quoted escaped: the error (logged, and why a venue is left out) stays one line.
  auto escaped = p.ParseCoinbaseFrame(R"({"type":"l2update","product_id":"X","changes":[["b\nuy","1","1"]]})",
                                      {{"X", {2, 2}}});
  REQUIRE_FALSE(escaped.ok());
  CHECK(escaped.status().message() == "coinbase frame: changes[0][0]: side must be buy or sell, got \"b\\nuy\"");
  CHECK(err(R"({"stream":"x@depth","data":{"e":"trade"}})") == "binance frame: data.e: expected depthUpdate, got \"trade\"");
}

namespace {

// Corruptions of one frame: every cut of its first 64 bytes and 64 cuts spread over the rest,
// and `n` random byte changes (a JSON delimiter, a digit, a sign, a control or high byte in
// place of a byte; a byte deleted; a span repeated).
std::vector<std::string> Corruptions(const std::string& frame, std::mt19937_64& rng, int n) {
  std::vector<std::string> out;
  for (size_t cut = 0; cut < frame.size() && cut < 64; ++cut) out.push_back(frame.substr(0, cut));
  for (int k = 1; k <= 64 && frame.size() > 64; ++k) out.push_back(frame.substr(0, frame.size() * k / 65));
  static const char kBytes[] = "\"{}[],:-+.0915eE \\\x01\xff";
  for (int k = 0; k < n && !frame.empty(); ++k) {
    std::string s = frame;
    const size_t at = rng() % s.size();
    switch (rng() % 3) {
      case 0: s[at] = kBytes[rng() % (sizeof(kBytes) - 1)]; break;
      case 1: s.erase(at, 1); break;
      default: s.insert(at, s.substr(at, 1 + rng() % 16)); break;
    }
    out.push_back(std::move(s));
  }
  return out;
}

// A corrupted frame either parses to levels a book can take, or is refused as InvalidArgument
// with a message that starts with the message kind (`where`); counts each outcome.
template <typename ParseFn>
void CheckCorruptions(const std::vector<std::string>& frames, const std::string& where, ParseFn parse,
                      int per_frame, size_t* refused, size_t* parsed) {
  std::mt19937_64 rng(2026);
  for (const auto& frame : frames) {
    for (const std::string& bad : Corruptions(frame, rng, per_frame)) {
      absl::StatusOr<FeedEvent> e = parse(bad);
      if (e.ok()) {
        ++*parsed;
        for (const auto* side : {&e->bids, &e->asks}) {
          for (const PriceLevel& l : *side) {
            INFO(bad.substr(0, 200));
            REQUIRE(l.price > 0);
            REQUIRE(l.size >= 0);
          }
        }
        continue;
      }
      ++*refused;
      INFO(bad.substr(0, 200) << "\n-> " << e.status());
      REQUIRE(e.status().code() == absl::StatusCode::kInvalidArgument);
      REQUIRE(e.status().message().substr(0, where.size()) == where);
    }
  }
}

}  // namespace

TEST_CASE("every cut and random corruption of recorded frames parses or gets a named error", "[ws]") {
  FeedParser p;
  std::vector<std::string> binance_frames, coinbase_frames, snapshots;
  for (const auto& r : Load("BINANCE.ws.1.0")) {
    if (binance_frames.size() < 40) binance_frames.push_back(r.json);
  }
  for (const auto& r : Load("BINANCE.http.0.0")) {
    if (r.rest && snapshots.size() < 2) snapshots.push_back(r.json);
  }
  std::map<std::string, Scales> coinbase_scales;
  std::set<std::string> kinds;
  for (const auto& r : Load("COINBASE.ws.28.0")) {
    // The first frame of every kind the recording has (snapshot, l2update, ticker, ...), and
    // l2updates up to 40 frames.
    const size_t t = r.json.find("\"type\":\"");
    const std::string kind = t == std::string::npos ? "" : r.json.substr(t + 8, r.json.find('"', t + 8) - t - 8);
    if (kinds.insert(kind).second || (kind == "l2update" && coinbase_frames.size() < 40)) {
      coinbase_frames.push_back(r.json);
    }
  }
  for (const char* product : {"SKL-USD", "SKL-BTC", "BAND-GBP", "NMR-EUR", "BAND-BTC", "YFI-BTC",
                              "DASH-BTC", "NU-GBP", "CRV-EUR", "SKL-GBP"}) {
    coinbase_scales[product] = {10, 8};
  }
  REQUIRE(binance_frames.size() == 40);
  REQUIRE(snapshots.size() == 2);
  REQUIRE(coinbase_frames.size() >= 40);
  REQUIRE(kinds.count("snapshot") == 1);
  REQUIRE(kinds.count("l2update") == 1);

  size_t refused = 0, parsed = 0;
  CheckCorruptions(binance_frames, "binance frame: ",
                   [&](const std::string& s) { return p.ParseBinanceFrame(s, kBinance); }, 1000, &refused, &parsed);
  CheckCorruptions(snapshots, "binance depth snapshot: ",
                   [&](const std::string& s) { return p.ParseBinanceSnapshot(s, kBinance.at("NKNUSDT")); }, 1000,
                   &refused, &parsed);
  CheckCorruptions(coinbase_frames, "coinbase frame: ",
                   [&](const std::string& s) { return p.ParseCoinbaseFrame(s, coinbase_scales); }, 1000, &refused,
                   &parsed);
  // Both outcomes occur: corruptions inside a value can still be valid JSON and decimals.
  CHECK(refused > 40000);  // Of ~92 000 (58 665 when written).
  CHECK(parsed > 20000);
}
