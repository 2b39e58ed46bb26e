#include "daemon/cluster/discrete_noise.h"

#include <openssl/rand.h>

namespace exo::daemon::cluster {
namespace {

// Uniform in [0, n), n > 0, by rejection from 64 random bits.
absl::StatusOr<uint64_t> Uniform(uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  while (true) {
    uint64_t r = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof(r)) != 1) {
      return absl::InternalError("RAND_bytes failed: no randomness for the privacy noise");
    }
    if (r < limit) return r % n;
  }
}

// Bernoulli(num / den), 0 <= num <= den.
absl::StatusOr<bool> Bernoulli(uint64_t num, uint64_t den) {
  absl::StatusOr<uint64_t> u = Uniform(den);
  if (!u.ok()) return u.status();
  return *u < num;
}

// Bernoulli(exp(-num/den)), CKS Algorithm 1.
absl::StatusOr<bool> BernoulliExp(uint64_t num, uint64_t den) {
  while (num > den) {  // exp(-γ) = exp(-1)^floor(γ) · exp(-(γ - floor γ)).
    absl::StatusOr<bool> b = BernoulliExp(1, 1);
    if (!b.ok() || !*b) return b;
    num -= den;
  }
  for (uint64_t k = 1;; ++k) {
    if (den > UINT64_MAX / k) return absl::InternalError("noise sampler overflow");
    absl::StatusOr<bool> a = Bernoulli(num, den * k);
    if (!a.ok()) return a.status();
    if (!*a) return k % 2 == 1;
  }
}

}  // namespace

absl::StatusOr<int64_t> DiscreteLaplace(uint64_t num, uint64_t den) {
  if (num == 0 || den == 0) return absl::InvalidArgumentError("noise scale must be > 0");
  // CKS Algorithm 2 with t = num, s = den: U uniform in [0, num) accepted with probability
  // exp(-U/num) and V geometric (continue with probability 1/e) make X = U + num·V geometric
  // with parameter exp(-1/num); Y = floor(X / den) is then geometric with parameter
  // exp(-den/num); a random sign (rejecting -0) makes it discrete Laplace of scale num/den.
  while (true) {
    absl::StatusOr<uint64_t> u = Uniform(num);
    if (!u.ok()) return u.status();
    absl::StatusOr<bool> d = BernoulliExp(*u, num);
    if (!d.ok()) return d.status();
    if (!*d) continue;
    uint64_t v = 0;
    while (true) {
      absl::StatusOr<bool> b = BernoulliExp(1, 1);
      if (!b.ok()) return b.status();
      if (!*b) break;
      ++v;
    }
    const unsigned __int128 x = *u + static_cast<unsigned __int128>(num) * v;
    const unsigned __int128 y = x / den;
    absl::StatusOr<bool> negative = Bernoulli(1, 2);
    if (!negative.ok()) return negative.status();
    if (*negative && y == 0) continue;
    if (y > static_cast<unsigned __int128>(INT64_MAX)) continue;  // Beyond any use; redraw.
    return *negative ? -static_cast<int64_t>(y) : static_cast<int64_t>(y);
  }
}

}  // namespace exo::daemon::cluster
