#include "daemon/cluster/discrete_noise.h"

#include <catch2/catch.hpp>

#include <cmath>

using exo::daemon::cluster::DiscreteLaplace;

TEST_CASE("discrete Laplace noise has the stated scale, mean zero, and is symmetric", "[cluster]") {
  // Scale 5: P[X = x] ∝ exp(-|x|/5); variance 2q/(1-q)^2 with q = exp(-1/5).
  const int kDraws = 20000;
  double sum = 0, sum_sq = 0;
  int positive = 0, negative = 0, zero = 0;
  for (int i = 0; i < kDraws; ++i) {
    auto x = DiscreteLaplace(5, 1);
    REQUIRE(x.ok());
    sum += static_cast<double>(*x);
    sum_sq += static_cast<double>(*x) * static_cast<double>(*x);
    (*x > 0 ? positive : *x < 0 ? negative : zero)++;
  }
  const double q = std::exp(-1.0 / 5), variance = 2 * q / ((1 - q) * (1 - q));
  CHECK(std::fabs(sum / kDraws) < 0.3);
  CHECK(sum_sq / kDraws == Approx(variance).epsilon(0.1));
  CHECK(std::abs(positive - negative) < kDraws / 20);
  CHECK(static_cast<double>(zero) / kDraws == Approx((1 - q) / (1 + q)).epsilon(0.15));  // P[X=0].
  // A rational scale (3/2) works as well; a zero scale is refused.
  CHECK(DiscreteLaplace(3, 2).ok());
  CHECK_FALSE(DiscreteLaplace(0, 1).ok());
}
