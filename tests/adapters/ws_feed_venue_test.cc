// WsFeedVenue against a local exchange (FeedServer) serving the recorded feeds over real
// WebSocket and HTTP connections on loopback, plain and TLS.
#include "adapters/ws/ws_feed_venue.h"
#include "adapters/ws/feed_connection.h"

#include <catch2/catch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "daemon/dev_certs.h"
#include "tests/adapters/feed_server.h"
#include "tests/adapters/recorded_binance_venue.h"
#include "tests/testing/recorded_feeds.h"
#include "tests/testing/temp_dir.h"

using exo::adapters::ws::WsFeedVenue;
using exo::testing::FeedServer;
using namespace exoroute::v1;  // NOLINT

namespace {

struct Lines {
  std::string snapshot;              // NKNUSDT REST snapshot.
  std::vector<std::string> binance;  // All Binance frames (several streams), in order.
  std::vector<std::string> coinbase;  // All Coinbase frames, in order.
};

const Lines& Recorded() {
  static const Lines lines{exo::testing::RecordedBinanceSnapshot("NKNUSDT"),
                           exo::testing::RecordedFrames("BINANCE.ws.1.0"),
                           exo::testing::RecordedFrames("COINBASE.ws.28.0")};
  return lines;
}

class FixedClock : public exo::Clock {
 public:
  int64_t NowNs() const override { return 1; }
};

WsFeedVenue::Options BinanceVenue(int port, uint32_t stall_ms = 0) {
  static FixedClock clock;
  return exo::testing::RecordedBinanceVenue("BINANCE", port, stall_ms, &clock);
}

using exo::testing::WaitFor;

uint64_t LastNknUpdateId() {
  uint64_t last = 0;
  for (const auto& f : Recorded().binance) {
    if (f.find("nknusdt@depth") == std::string::npos) continue;
    last = std::stoull(f.substr(f.find("\"u\":") + 4));
  }
  return last;
}

}  // namespace

TEST_CASE("Binance over ws:// syncs from the REST snapshot and the buffered stream", "[ws_venue]") {
  FeedServer::Options so;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = Recorded().snapshot;
  so.script = [](int) { return FeedServer::Script{Recorded().binance}; };
  FeedServer server(so);
  WsFeedVenue venue(BinanceVenue(server.port()));
  CHECK(venue.BookProblem("NKN-USDT") == "feed not connected yet");
  REQUIRE(venue.Start(nullptr).ok());
  REQUIRE(WaitFor([&] { auto b = venue.Book("NKN-USDT"); return b && b->sequence() == LastNknUpdateId(); }));
  auto book = venue.Book("NKN-USDT");
  CHECK(book->venue() == "BINANCE");
  CHECK(book->bids(0).price() < book->asks(0).price());
  CHECK(venue.BookProblem("NKN-USDT").empty());
  CHECK(venue.state() == ADAPTER_STATE_UP);
  CHECK_FALSE(venue.can_trade());
  CHECK(venue.Send(ChildOrder(), "NKN-USDT").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(venue.malformed_frames() == 0);
  venue.Stop();
}

TEST_CASE("Binance over wss:// syncs from a REST snapshot fetched over https://, both checked against the CA",
          "[ws_venue][tls]") {
  exo::testing::TempDir dir;
  auto certs = exo::daemon::EnsureDevCerts(dir / "certs", "feed");
  REQUIRE(certs.ok());
  FeedServer::Options so;
  so.cert_file = certs->server_cert;
  so.key_file = certs->server_key;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = Recorded().snapshot;
  so.script = [](int) { return FeedServer::Script{Recorded().binance}; };
  FeedServer server(so);
  WsFeedVenue::Options o = BinanceVenue(server.port());
  const std::string at = "127.0.0.1:" + std::to_string(server.port());
  o.config.set_url("wss://" + at + "/stream?streams=nknusdt@depth@100ms");
  o.config.set_snapshot_url("https://" + at + "/api/v3/depth?symbol={symbol}&limit=1000");
  o.config.set_ca_file(certs->ca_cert);
  WsFeedVenue venue(o);
  REQUIRE(venue.Start(nullptr).ok());
  REQUIRE(WaitFor([&] { auto b = venue.Book("NKN-USDT"); return b && b->sequence() == LastNknUpdateId(); }));
  CHECK(server.http_requests() >= 1);  // The book was built on the snapshot it fetched.
  CHECK(venue.BookProblem("NKN-USDT").empty());
  CHECK(venue.malformed_frames() == 0);
  venue.Stop();
  // A snapshot over plain http:// from a TLS port is no snapshot: the book waits, saying so.
  o.config.set_snapshot_url("http://" + at + "/api/v3/depth?symbol={symbol}&limit=1000");
  WsFeedVenue plain(o);
  REQUIRE(plain.Start(nullptr).ok());
  REQUIRE(WaitFor([&] { return plain.BookProblem("NKN-USDT").rfind("book resyncing: waiting for a snapshot; the last", 0) == 0; }));
  CHECK(plain.Book("NKN-USDT") == nullptr);
  plain.Stop();
}

TEST_CASE("a garbled REST snapshot is counted and no book is served from it", "[ws_venue]") {
  FeedServer::Options so;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = R"({"lastUpdateId": 1, "bids": [["0.1", "x"]], "asks": [])";
  so.script = [](int) { return FeedServer::Script{Recorded().binance}; };
  FeedServer server(so);
  WsFeedVenue venue(BinanceVenue(server.port()));
  REQUIRE(venue.Start(nullptr).ok());
  // Fetched again (after 0.25 s, then 0.5 s...), as garbled each time.
  REQUIRE(WaitFor([&] { return venue.malformed_frames() >= 2; }));
  CHECK(server.http_requests() >= 2);
  // The stream arrives, but without a snapshot to build on the book is not served; the
  // operator sees why.
  const std::string problem = venue.BookProblem("NKN-USDT");
  CHECK(problem.rfind("book resyncing: waiting for a snapshot; the last ", 0) == 0);
  CHECK(problem.find(" failed, the last: bad snapshot: binance depth snapshot: json: ") != std::string::npos);
  CHECK(venue.Book("NKN-USDT") == nullptr);
  // `exoroutectl status` shows it on the venue's line.
  CHECK(venue.detail().find(" malformed frames; snapshot failing: NKNUSDT (") != std::string::npos);
  venue.Stop();
}

TEST_CASE("a Binance snapshot that fails or is older than the stream is fetched again until one the stream carries on from",
          "[ws_venue]") {
  const std::string good = Recorded().snapshot;
  // The same book as of an update id before everything the stream sends: too old for it.
  std::string old = good;
  const size_t id = old.find("499869752");
  REQUIRE(id != std::string::npos);
  old.replace(id, 9, "499869700");
  FeedServer::Options so;
  so.http_answer = [&](const std::string&, int n) -> std::pair<int, std::string> {
    if (n == 0) return {429, "{\"code\":-1003,\"msg\":\"Too many requests\"}"};
    if (n == 1) return {200, old};
    return {200, good};
  };
  so.script = [](int) {  // The stream keeps flowing without a gap: only the snapshot can sync the book.
    FeedServer::Script s{Recorded().binance};
    s.frame_interval_ms = 2;
    return s;
  };
  FeedServer server(so);
  WsFeedVenue venue(BinanceVenue(server.port()));
  REQUIRE(venue.Start(nullptr).ok());
  std::set<std::string> problems;  // What the operator saw while it waited.
  REQUIRE(WaitFor([&] {
    problems.insert(venue.BookProblem("NKN-USDT"));
    auto b = venue.Book("NKN-USDT");
    return b && b->sequence() == LastNknUpdateId();
  }));
  CHECK(server.http_requests() == 3);
  CHECK(venue.BookProblem("NKN-USDT").empty());
  CHECK(venue.detail().find("snapshot failing") == std::string::npos);  // In sync: nothing failing now.
  CHECK(venue.malformed_frames() == 0);
  CHECK(problems.count("book resyncing: waiting for a snapshot; the last one failed: GET "
                       "/api/v3/depth?symbol=NKNUSDT&limit=1000: HTTP 429") == 1);
  CHECK(problems.count("book resyncing: waiting for a snapshot; the last 2 failed, the last: snapshot older than the "
                       "stream (its lastUpdateId 499869700, the stream buffered from U=499869750)") == 1);
  venue.Stop();
}

TEST_CASE("a gap in the Binance stream triggers a resync from a new snapshot", "[ws_venue]") {
  FeedServer::Options so;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = Recorded().snapshot;
  so.script = [](int) {
    FeedServer::Script s;
    int depth_frames = 0;
    for (const auto& f : Recorded().binance) {
      bool depth = f.find("nknusdt@depth") != std::string::npos;
      if (depth && ++depth_frames == 40) continue;  // Lose one update.
      s.frames.push_back(f);
      if (depth_frames == 20 && depth) s.frames.push_back("{garbled");  // And one bad frame.
    }
    s.frame_interval_ms = 1;
    return s;
  };
  FeedServer server(so);
  WsFeedVenue venue(BinanceVenue(server.port()));
  REQUIRE(venue.Start(nullptr).ok());
  REQUIRE(WaitFor([&] { return venue.resyncs() >= 1; }));
  CHECK(WaitFor([&] { return server.http_requests() >= 2; }));  // A second snapshot was fetched.
  CHECK(venue.malformed_frames() == 1);
  venue.Stop();
}

TEST_CASE("reconnects back off while connections keep failing, and start over after one that stayed up",
          "[ws_venue]") {
  FeedServer::Options so;
  so.script = [](int n) {
    FeedServer::Script s;
    if (n < 4) {
      s.close_after = true;  // Closed at once: failures in a row, the wait doubling (0.1 s ... 1.6 s).
    } else if (n == 4) {
      s.frames = {"a", "b", "c"};  // Up for 0.6 s, past healthy_after_ms, then closed.
      s.frame_interval_ms = 200;
      s.close_after = true;
    }  // From then on: stays up.
    return s;
  };
  FeedServer server(so);
  exo::adapters::ws::FeedConnection::Options o;
  o.url = "ws://127.0.0.1:" + std::to_string(server.port()) + "/";
  o.healthy_after_ms = 300;
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> opened, closed;
  exo::adapters::ws::FeedConnection::Callbacks cb;
  cb.on_open = [&] {
    std::lock_guard<std::mutex> lock(mu);
    opened.push_back(std::chrono::steady_clock::now());
  };
  cb.on_frame = [](std::string_view) {};
  cb.on_close = [&](const absl::Status&) {
    std::lock_guard<std::mutex> lock(mu);
    closed.push_back(std::chrono::steady_clock::now());
  };
  exo::adapters::ws::FeedConnection connection(o, cb);
  connection.Start();
  REQUIRE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return opened.size() >= 6;
  }));
  connection.Stop();
  std::lock_guard<std::mutex> lock(mu);
  auto gap_ms = [&](size_t k) {  // From connection k's end to connection k + 1's start.
    return std::chrono::duration<double, std::milli>(opened[k + 1] - closed[k]).count();
  };
  INFO("gaps: " << gap_ms(0) << " " << gap_ms(1) << " " << gap_ms(2) << " " << gap_ms(3) << " " << gap_ms(4) << " ms");
  CHECK(gap_ms(3) >= 400);  // The fourth failure in a row: 0.4 to 0.8 s.
  CHECK(gap_ms(4) < 300);   // After the connection that stayed up: 0.05 to 0.1 s, not 0.8 to 1.6 s.
}

TEST_CASE("a stalled feed is dropped and reconnected, the book comes back", "[ws_venue]") {
  FeedServer::Options so;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = Recorded().snapshot;
  so.script = [](int) { return FeedServer::Script{Recorded().binance}; };  // Then silence.
  FeedServer server(so);
  WsFeedVenue venue(BinanceVenue(server.port(), /*stall_ms=*/300));
  REQUIRE(venue.Start(nullptr).ok());
  std::string seen;
  REQUIRE(WaitFor([&] {
    std::string p = venue.BookProblem("NKN-USDT");
    if (p.rfind("feed disconnected", 0) == 0) seen = p;
    return server.websocket_connections() >= 2;
  }));
  CHECK(seen == "feed disconnected: no data for 300 ms (stalled)");
  CHECK(WaitFor([&] { return venue.BookProblem("NKN-USDT").empty(); }));
  venue.Stop();
}

TEST_CASE("a quiet feed whose server keeps pinging is alive, not stalled", "[ws_venue]") {
  FeedServer::Options so;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = Recorded().snapshot;
  so.script = [](int) {
    FeedServer::Script s{Recorded().binance};
    s.ping_interval_ms = 60;  // No more data after the recording: pings only.
    return s;
  };
  FeedServer server(so);
  WsFeedVenue venue(BinanceVenue(server.port(), /*stall_ms=*/300));
  REQUIRE(venue.Start(nullptr).ok());
  REQUIRE(WaitFor([&] { return venue.BookProblem("NKN-USDT").empty(); }));
  // Five stall timeouts of silence on the data, pings all along: one connection, book in sync.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(server.websocket_connections() == 1);
  CHECK(venue.BookProblem("NKN-USDT").empty());
  venue.Stop();
}

TEST_CASE("Coinbase over wss:// with the certificate checked, a wrong CA is refused",
          "[ws_venue][tls]") {
  exo::testing::TempDir dir, other;
  auto certs = exo::daemon::EnsureDevCerts(dir / "certs", "feed");
  auto wrong = exo::daemon::EnsureDevCerts(other / "certs", "other");
  REQUIRE(certs.ok());
  REQUIRE(wrong.ok());
  FeedServer::Options so;
  so.cert_file = certs->server_cert;
  so.key_file = certs->server_key;
  so.script = [](int) {
    FeedServer::Script s;
    s.read_subscribe = true;
    s.frames = Recorded().coinbase;
    return s;
  };
  FeedServer server(so);
  static FixedClock clock;
  auto options = [&](const std::string& ca) {
    WsFeedVenue::Options o;
    o.venue_id = "COINBASE";
    o.config.set_format(FEED_FORMAT_COINBASE_LEVEL2);
    o.config.set_url("wss://127.0.0.1:" + std::to_string(server.port()) + "/");
    o.config.set_ca_file(ca);
    Instrument i;
    i.set_symbol("BAND/GBP");
    i.set_price_scale(10);
    i.set_qty_scale(8);
    o.markets.push_back({i, "BAND-GBP"});
    o.clock = &clock;
    return o;
  };
  {
    WsFeedVenue refused(options(wrong->ca_cert));
    REQUIRE(refused.Start(nullptr).ok());
    REQUIRE(WaitFor([&] { return refused.BookProblem("BAND/GBP").find("TLS handshake") != std::string::npos; }));
    CHECK(refused.Book("BAND/GBP") == nullptr);
    refused.Stop();
  }
  WsFeedVenue venue(options(certs->ca_cert));
  REQUIRE(venue.Start(nullptr).ok());
  REQUIRE(WaitFor([&] { return venue.Book("BAND/GBP") != nullptr && venue.Book("BAND/GBP")->sequence() > 400; }));
  auto subs = server.subscriptions();
  REQUIRE_FALSE(subs.empty());
  CHECK(subs.back() == R"({"type":"subscribe","product_ids":["BAND-GBP"],"channels":["level2"]})");
  CHECK_FALSE(venue.Book("BAND/GBP")->bids().empty());
  venue.Stop();
}

TEST_CASE("a REST snapshot that never answers times out instead of hanging", "[ws_venue]") {
  // A plain TCP listener that accepts and never answers.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  int port = acceptor.local_endpoint().port();
  auto start = std::chrono::steady_clock::now();
  auto r = exo::adapters::ws::HttpGet("http://127.0.0.1:" + std::to_string(port) + "/x", "", 300);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(took < std::chrono::seconds(5));
  CHECK(exo::adapters::ws::ParseUrl("ftp://x").status().message() ==
        "url \"ftp://x\": scheme must be ws, wss, http or https");
}
