// Discrete Laplace noise for differentially private releases, sampled exactly.
//
// No floating point anywhere in the sampling (floating-point Laplace or Gaussian samplers leak
// through their rounding; Mironov 2012): integers from OpenSSL's CSPRNG (RAND_bytes), rational
// Bernoulli trials, and the algorithm of Canonne, Kamath and Steinke (2020), "The Discrete
// Gaussian for Differential Privacy", Algorithm 2: P[X = x] ∝ exp(-|x| · den / num).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"

namespace exo::daemon::cluster {

// A discrete Laplace sample with scale num/den (num, den > 0): the noise for a value of
// sensitivity Δ released with privacy ε is scale Δ/ε.
absl::StatusOr<int64_t> DiscreteLaplace(uint64_t num, uint64_t den);

}  // namespace exo::daemon::cluster
