// WsFeedVenue against a local exchange (FeedServer) serving the recorded feeds over real
// WebSocket and HTTP connections on loopback, plain and TLS.
#include "adapters/ws/ws_feed_venue.h"

#include <catch2/catch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fstream>
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

TEST_CASE("a garbled REST snapshot is counted and no book is served from it", "[ws_venue]") {
  FeedServer::Options so;
  so.http["/api/v3/depth?symbol=NKNUSDT&limit=1000"] = R"({"lastUpdateId": 1, "bids": [["0.1", "x"]], "asks": [])";
  so.script = [](int) { return FeedServer::Script{Recorded().binance}; };
  FeedServer server(so);
  WsFeedVenue venue(BinanceVenue(server.port()));
  REQUIRE(venue.Start(nullptr).ok());
  REQUIRE(WaitFor([&] { return venue.malformed_frames() >= 1; }));
  // The stream arrives, but without a snapshot to build on the book is not served.
  CHECK(venue.BookProblem("NKN-USDT") == "book resyncing: waiting for a snapshot");
  CHECK(venue.Book("NKN-USDT") == nullptr);
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
