// Parsing of exchange market-data messages into typed events, with prices and sizes converted
// exactly from their decimal strings into fixed point (never through a double).
//
// Formats (shared/data/feeds/README.md): Binance spot combined-stream depthUpdate frames and the
// REST depth snapshot; Coinbase Exchange level2 snapshot and l2update frames. A malformed frame
// is an InvalidArgument naming what is wrong; frames of other kinds (bookTicker, kline,
// subscriptions, heartbeats) parse to `kIgnored`. Not thread-safe (reuses its buffers).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/ws/l2_book.h"

namespace exo::adapters::ws {

struct Scales {
  uint32_t price_scale = 0;
  uint32_t qty_scale = 0;
};

struct FeedEvent {
  enum class Kind {
    kIgnored,
    kBinanceDepthUpdate,  // symbol, first_update_id (U), last_update_id (u), bids, asks
    kBinanceSnapshot,     // last_update_id, bids, asks
    kCoinbaseSnapshot,    // symbol (product_id), bids, asks
    kCoinbaseUpdate,      // symbol, bids, asks (the changes, per side)
  };
  Kind kind = Kind::kIgnored;
  std::string symbol;
  uint64_t first_update_id = 0;
  uint64_t last_update_id = 0;
  int64_t event_time_ms = 0;
  std::vector<PriceLevel> bids, asks;
};

class FeedParser {
 public:
  FeedParser();
  ~FeedParser();

  // A frame from a Binance combined stream. `scales` by upper-case symbol ("NKNUSDT"); a depth
  // update for a symbol not in it is kIgnored.
  absl::StatusOr<FeedEvent> ParseBinanceFrame(std::string_view frame,
                                              const std::map<std::string, Scales>& scales);
  // The body of GET /api/v3/depth.
  absl::StatusOr<FeedEvent> ParseBinanceSnapshot(std::string_view body, const Scales& scales);
  // A frame from the Coinbase level2 channel; `scales` by product id ("BAND-GBP").
  absl::StatusOr<FeedEvent> ParseCoinbaseFrame(std::string_view frame,
                                               const std::map<std::string, Scales>& scales);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace exo::adapters::ws
