// Options of a WsFeedVenue following the recorded Binance NKNUSDT feed (as NKN-USDT, 8 and 8
// decimals) from a local test exchange on `port`.
#pragma once

#include <string>

#include "adapters/ws/ws_feed_venue.h"

namespace exo::testing {

inline adapters::ws::WsFeedVenue::Options RecordedBinanceVenue(const std::string& venue_id, int port,
                                                               uint32_t stall_timeout_ms, Clock* clock) {
  adapters::ws::WsFeedVenue::Options o;
  o.venue_id = venue_id;
  o.config.set_format(exoroute::v1::FEED_FORMAT_BINANCE_SPOT);
  o.config.set_url("ws://127.0.0.1:" + std::to_string(port) + "/stream?streams=nknusdt@depth@100ms");
  o.config.set_snapshot_url("http://127.0.0.1:" + std::to_string(port) +
                            "/api/v3/depth?symbol={symbol}&limit=1000");
  o.config.set_stall_timeout_ms(stall_timeout_ms);
  exoroute::v1::Instrument i;
  i.set_symbol("NKN-USDT");
  i.set_price_scale(8);
  i.set_qty_scale(8);
  o.markets.push_back({i, "NKNUSDT"});
  o.clock = clock;
  return o;
}

}  // namespace exo::testing
