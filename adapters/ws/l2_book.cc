#include "adapters/ws/l2_book.h"

namespace exo::adapters::ws {

void L2Book::Clear() {
  bids_.clear();
  asks_.clear();
}

void L2Book::Set(BookSide side, int64_t price, int64_t size) {
  auto apply = [&](auto& levels) {
    if (size == 0) {
      levels.erase(price);
    } else {
      levels[price] = size;
    }
  };
  if (side == BookSide::kBid) {
    apply(bids_);
  } else {
    apply(asks_);
  }
}

bool L2Book::Crossed() const {
  return !bids_.empty() && !asks_.empty() && bids_.begin()->first >= asks_.begin()->first;
}

exoroute::v1::VenueBook L2Book::Snapshot(size_t depth) const {
  exoroute::v1::VenueBook b;
  size_t n = 0;
  for (auto it = bids_.begin(); it != bids_.end() && n < depth; ++it, ++n) {
    auto* l = b.add_bids();
    l->set_price(it->first);
    l->set_size(it->second);
  }
  n = 0;
  for (auto it = asks_.begin(); it != asks_.end() && n < depth; ++it, ++n) {
    auto* l = b.add_asks();
    l->set_price(it->first);
    l->set_size(it->second);
  }
  return b;
}

}  // namespace exo::adapters::ws
