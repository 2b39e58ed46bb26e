#include "daemon/cluster/secure_sum.h"

#include <catch2/catch.hpp>

#include <map>

using namespace exo::daemon::cluster;  // NOLINT

TEST_CASE("pairwise masks cancel in the sum and hide each node's value", "[cluster]") {
  auto a = PairKeys::Generate("n1"), b = PairKeys::Generate("n2"), c = PairKeys::Generate("n3");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  // Both ends of a pair derive the same key; different pairs different keys.
  CHECK(*(*a)->PairKey("n2", (*b)->public_key()) == *(*b)->PairKey("n1", (*a)->public_key()));
  CHECK(*(*a)->PairKey("n2", (*b)->public_key()) != *(*a)->PairKey("n3", (*c)->public_key()));
  CHECK_FALSE((*a)->PairKey("n2", "short").ok());

  const PairKeys* nodes[3] = {a->get(), b->get(), c->get()};
  const int64_t lo[3] = {500, 0, 1200};
  const double cost[3] = {-3.25e12, 1.5, 7.0e15};  // Sells are negative costs.
  const uint64_t tied[3] = {1, 0, 2};
  uint64_t sum_lo = 0, sum_tied = 0;
  uint128 sum_cost = 0;
  for (int i = 0; i < 3; ++i) {
    std::map<std::string, Prf> prfs;
    for (int j = 0; j < 3; ++j) {
      if (j == i) continue;
      prfs.emplace(nodes[j]->node_id(), Prf(*nodes[i]->PairKey(nodes[j]->node_id(), nodes[j]->public_key())));
    }
    Masks m = MaskFor(nodes[i]->node_id(), prfs, "route-1", 0, "evaluate", 3);
    uint64_t masked_lo = static_cast<uint64_t>(lo[i]) + m.q[0];
    uint128 masked_cost = CostToFixed(cost[i]) + m.c[0];
    CHECK(masked_lo != static_cast<uint64_t>(lo[i]));  // What the coordinator sees is not the value.
    sum_lo += masked_lo;
    sum_tied += tied[i] + m.q[2];  // Every mask word cancels in the sum, each on its own.
    CHECK(m.q[2] != m.q[0]);
    sum_cost += FromWire(ToWire(masked_cost));
    // Another round (or attempt) gives other masks.
    CHECK(MaskFor(nodes[i]->node_id(), prfs, "route-1", 0, "evaluate", 4).q[0] != m.q[0]);
    CHECK(MaskFor(nodes[i]->node_id(), prfs, "route-1", 1, "evaluate", 3).q[0] != m.q[0]);
  }
  CHECK(static_cast<int64_t>(sum_lo) == 1700);
  CHECK(sum_tied == 3);
  CHECK(FixedToCost(sum_cost) == Approx(cost[0] + cost[1] + cost[2]).epsilon(1e-12));
}
