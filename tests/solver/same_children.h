// The check of tests where two decisions must split an order the same way (another search step,
// another opening, another path): the same children — venue, quantity, limit, expected cost — the
// same shortfall and the same exclusions with their reasons. The rounds and λ may differ.
#pragma once

#include <catch2/catch.hpp>

#include "exoroute/v1/types.pb.h"

namespace exo::testing {

inline void CheckSameChildren(const exoroute::v1::Decision& got, const exoroute::v1::Decision& want) {
  REQUIRE(got.allocations_size() == want.allocations_size());
  for (int k = 0; k < got.allocations_size(); ++k) {
    CHECK(got.allocations(k).venue() == want.allocations(k).venue());
    CHECK(got.allocations(k).quantity() == want.allocations(k).quantity());
    CHECK(got.allocations(k).limit_price() == want.allocations(k).limit_price());
    CHECK(got.allocations(k).expected_cost() == want.allocations(k).expected_cost());
  }
  CHECK(got.shortfall() == want.shortfall());
  REQUIRE(got.exclusions_size() == want.exclusions_size());
  for (int k = 0; k < got.exclusions_size(); ++k) {
    CHECK(got.exclusions(k).venue() == want.exclusions(k).venue());
    CHECK(got.exclusions(k).reason() == want.exclusions(k).reason());
  }
}

}  // namespace exo::testing
