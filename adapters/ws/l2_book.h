// L2Book: one venue's price-level book for one symbol as a market-data feed builds it.
//
// Sizes are absolute per price; size 0 deletes the level (deleting an unknown level is normal).
// Prices and sizes are fixed-point integers. Snapshot() gives the immutable VenueBook the router
// solves on (best levels first). Not thread-safe: owned by one feed handler.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "exoroute/v1/types.pb.h"

namespace exo::adapters::ws {

enum class BookSide { kBid, kAsk };

struct PriceLevel {
  int64_t price = 0;
  int64_t size = 0;
};

class L2Book {
 public:
  void Clear();
  void Set(BookSide side, int64_t price, int64_t size);
  // Best bid >= best ask (both sides present).
  bool Crossed() const;
  int64_t best_bid() const { return bids_.empty() ? 0 : bids_.begin()->first; }
  int64_t best_ask() const { return asks_.empty() ? 0 : asks_.begin()->first; }
  size_t levels(BookSide side) const { return side == BookSide::kBid ? bids_.size() : asks_.size(); }
  // The top `depth` levels of each side.
  exoroute::v1::VenueBook Snapshot(size_t depth) const;

 private:
  std::map<int64_t, int64_t, std::greater<>> bids_;
  std::map<int64_t, int64_t> asks_;
};

}  // namespace exo::adapters::ws
