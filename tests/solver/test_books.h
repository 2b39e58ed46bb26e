// Helpers to build solver inputs in tests.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "exoroute/v1/types.pb.h"

namespace exo::testing {

inline constexpr int64_t kNow = 1'700'000'000'000'000'000;

// A venue whose book has `asks` and `bids` as (price, size) pairs, fresh at kNow.
inline exoroute::v1::VenueInput MakeVenue(
    const std::string& id, std::initializer_list<std::pair<int64_t, int64_t>> asks,
    std::initializer_list<std::pair<int64_t, int64_t>> bids = {}, double fee_bps = 0,
    int64_t lot = 1) {
  exoroute::v1::VenueInput v;
  v.set_venue(id);
  v.set_fee_bps(fee_bps);
  v.set_lot_size(lot);
  auto* b = v.mutable_book();
  b->set_venue(id);
  b->set_receive_time_ns(kNow);
  for (auto [p, s] : asks) {
    auto* l = b->add_asks();
    l->set_price(p);
    l->set_size(s);
  }
  for (auto [p, s] : bids) {
    auto* l = b->add_bids();
    l->set_price(p);
    l->set_size(s);
  }
  return v;
}

inline exoroute::v1::SolveInput MakeInput(exoroute::v1::Side side, int64_t qty) {
  exoroute::v1::SolveInput in;
  in.mutable_instrument()->set_symbol("T");
  in.set_side(side);
  in.set_quantity(qty);
  in.set_decision_time_ns(kNow);
  return in;
}

}  // namespace exo::testing
