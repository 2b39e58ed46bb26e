// Market-data frames as an exchange (or a broken proxy) might send them: the Binance and
// Coinbase parsers and the book sync behind them, and the decimal parser under both. The first
// byte picks the parser, the rest is the frame. Checks: a synced book is never crossed, and a
// decimal that parses prints back to the same value.
#include <map>
#include <string>

#include "adapters/ws/book_sync.h"
#include "adapters/ws/feed_parser.h"
#include "exo/fixed_point.h"
#include "tests/fuzz/fuzz_target.h"

using exo::adapters::ws::BinanceBookSync;
using exo::adapters::ws::CoinbaseBookSync;
using exo::adapters::ws::FeedEvent;
using exo::adapters::ws::FeedParser;
using exo::adapters::ws::Scales;
using exo::adapters::ws::SyncState;

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  auto with = [](char parser, std::string frame) { return std::string(1, parser) + frame; };
  return {
      with(0, R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1633998512068,"s":"BTCUSDT","U":499869753,"u":499869755,"b":[["0.35130000","6195.00000000"],["0.34750000","0.00000000"]],"a":[["0.35220000","12.5"]]}})"),
      with(0, R"({"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.0","B":"2.0","a":"1.1","A":"3.0"}})"),
      with(1, R"({"lastUpdateId":499869752,"bids":[["0.35210000","672.00000000"],["0.35200000","1144.00000000"]],"asks":[["0.35220000","10.00000000"],["0.35230000","2.5"]]})"),
      with(2, R"({"type":"snapshot","product_id":"BTC-USD","bids":[["61000.10","0.5"],["61000.00","1.25"]],"asks":[["61000.20","0.75"]]})"),
      with(2, R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","61000.15","0.10"],["sell","61000.20","0"]],"time":"2021-04-17T16:43:37.040Z"})"),
      with(2, R"({"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD"})"),
      with(3, std::string("\x08") + "65000.12345678"),
      with(3, std::string("\x02") + "-0.5"),
  };
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FeedParser parser;
  static BinanceBookSync binance;
  static CoinbaseBookSync coinbase;
  static const std::map<std::string, Scales> scales = {{"BTCUSDT", {8, 8}}, {"BTC-USD", {2, 8}}, {"X", {0, 0}}};
  if (size < 1) return 0;
  const std::string_view frame(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto ev = parser.ParseBinanceFrame(frame, scales);
      if (ev.ok() && ev->kind == FeedEvent::Kind::kBinanceDepthUpdate) binance.OnUpdate(*ev);
      break;
    }
    case 1: {
      auto ev = parser.ParseBinanceSnapshot(frame, Scales{8, 8});
      if (ev.ok()) {
        if (binance.state() == SyncState::kOutOfSync) binance.Resync();
        binance.OnSnapshot(*ev);
      }
      break;
    }
    case 2: {
      auto ev = parser.ParseCoinbaseFrame(frame, scales);
      if (ev.ok() && ev->kind != FeedEvent::Kind::kIgnored) {
        if (coinbase.state() == SyncState::kOutOfSync) coinbase.Resync();
        coinbase.OnMessage(*ev);
      }
      break;
    }
    default: {
      if (frame.empty()) break;
      const uint32_t scale = static_cast<uint8_t>(frame[0]) % 20;
      auto v = exo::ParseDecimal(frame.substr(1), scale);
      if (v.ok()) {
        const std::string printed = exo::FormatDecimal(*v, scale);
        auto back = exo::ParseDecimal(printed, scale);
        FUZZ_CHECK(back.ok() && *back == *v, "%s at scale %u printed as %s", std::string(frame.substr(1)).c_str(),
                   scale, printed.c_str());
      }
    }
  }
  FUZZ_CHECK(binance.state() != SyncState::kSynced || !binance.book().Crossed(), "a synced Binance book is crossed");
  FUZZ_CHECK(coinbase.state() != SyncState::kSynced || !coinbase.book().Crossed(), "a synced Coinbase book is crossed");
  (void)binance.book().Snapshot(20);
  (void)coinbase.book().Snapshot(20);
  return 0;
}
