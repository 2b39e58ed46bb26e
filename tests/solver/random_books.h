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

// The id of the v-th venue of a generated input: "V000", "V001", … (sorted as numbered).
inline std::string VenueId(int v) {
  char name[16];
  std::snprintf(name, sizeof(name), "V%03d", v);
  return name;
}

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
    vi->set_venue(VenueId(v));
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

// Books with an impact term and fine lots: `venues` venues of 20 levels around 65 000.00 (price
// scale 2), lots of one unit at quantity scale `qty_scale` (10^-qty_scale of a coin), 1–6 coins
// a level, impact 0.01–4 bp; the quantity about half the depth. With an impact term every lot
// is a breakpoint of its venue's curve: 10^qty_scale of them per coin.
inline exoroute::v1::SolveInput FineLotInput(std::mt19937_64& rng, int venues, uint32_t qty_scale) {
  using namespace exoroute::v1;  // NOLINT
  SolveInput in = MakeInput(rng() % 2 ? SIDE_BUY : SIDE_SELL, 1);
  in.mutable_instrument()->set_qty_scale(qty_scale);
  int64_t coin = 1;
  for (uint32_t i = 0; i < qty_scale; ++i) coin *= 10;
  int64_t depth = 0;
  for (int v = 0; v < venues; ++v) {
    auto* vi = in.add_venues();
    vi->set_venue(VenueId(v));
    vi->set_lot_size(1);
    vi->set_fee_bps(static_cast<double>(rng() % 20) / 10.0);
    vi->set_impact_bps(0.01 + static_cast<double>(rng() % 400) / 100.0);
    auto* b = vi->mutable_book();
    b->set_receive_time_ns(kNow);
    int64_t ask = 6'500'000 + static_cast<int64_t>(rng() % 100), bid = ask - 1 - static_cast<int64_t>(rng() % 10);
    for (int l = 0; l < 20; ++l) {
      // (Two statements: the order of two rng() calls in one expression is up to the compiler,
      // and the golden test pins these books' decisions in every build.)
      const int64_t coins = static_cast<int64_t>(1 + rng() % 5);
      const int64_t size = coin * coins + static_cast<int64_t>(rng() % static_cast<uint64_t>(coin));
      auto* a = b->add_asks();
      a->set_price(ask);
      a->set_size(size);
      auto* d = b->add_bids();
      d->set_price(bid);
      d->set_size(size);
      ask += 1 + static_cast<int64_t>(rng() % 50);
      bid -= 1 + static_cast<int64_t>(rng() % 50);
      depth += size;
    }
  }
  in.set_quantity(depth / 2 + static_cast<int64_t>(rng() % 1000));
  return in;
}

}  // namespace exo::testing
