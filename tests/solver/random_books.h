// Random but valid solver inputs (books, fees, caps, lots, limits) for property tests and
// benchmarks. Deterministic for a given generator state.
#pragma once

#include <cstdio>
#include <random>
#include <string>

#include "test_books.h"

namespace exo::testing {

struct RandomBookShape {
  int min_venues = 2, max_venues = 8;
  int min_levels = 1, max_levels = 10;
  bool one_lot_size = true;  // All venues share one lot size (the greedy reference needs it).
  // Level sizes, caps and the quantity in whole lots of size up to max_lot, as on a real venue.
  bool lot_aligned = false;
  int64_t max_lot = 3;
};

inline exoroute::v1::SolveInput RandomInput(std::mt19937_64& rng, int64_t* lot_out,
                                            const RandomBookShape& shape = {}) {
  using namespace exoroute::v1;  // NOLINT
  auto uni = [&](int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  Side side = uni(0, 1) ? SIDE_BUY : SIDE_SELL;
  int64_t lot = uni(1, shape.max_lot);
  *lot_out = lot;
  int venues = static_cast<int>(uni(shape.min_venues, shape.max_venues));
  SolveInput in = MakeInput(side, 1);
  int64_t total = 0;
  for (int v = 0; v < venues; ++v) {
    auto* vi = in.add_venues();
    char name[16];
    std::snprintf(name, sizeof(name), "V%03d", v);
    vi->set_venue(name);
    vi->set_lot_size(shape.one_lot_size ? lot : uni(1, 3));
    vi->set_fee_bps(static_cast<double>(uni(-20, 100)) / 10.0);
    if (uni(0, 4) == 0) vi->set_max_quantity(uni(1, 40) * (shape.lot_aligned ? lot : 1));
    auto* b = vi->mutable_book();
    b->set_receive_time_ns(kNow);
    int levels = static_cast<int>(uni(shape.min_levels, shape.max_levels));
    int64_t ask = uni(1000, 1010), bid = ask - uni(1, 5);
    for (int k = 0; k < levels; ++k) {
      ask += uni(1, 4);
      bid -= uni(1, 4);
      auto* a = b->add_asks();
      a->set_price(ask);
      a->set_size(uni(1, 20) * (shape.lot_aligned ? lot : 1));
      auto* bl = b->add_bids();
      bl->set_price(std::max<int64_t>(1, bid));
      bl->set_size(uni(1, 20) * (shape.lot_aligned ? lot : 1));
      total += a->size();
      if (bid <= 1) break;
    }
  }
  in.set_quantity(shape.lot_aligned ? uni(1, total / lot + 10) * lot : uni(1, total + 10));
  if (uni(0, 3) == 0) in.set_limit_price(side == SIDE_BUY ? uni(1005, 1030) : uni(970, 1000));
  return in;
}

}  // namespace exo::testing
