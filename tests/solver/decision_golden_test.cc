// The replay contract of the solver: `audit verify --recompute` re-solves every journaled
// decision and compares bytes, so the same SolveInput must give the same Decision bytes in every
// future build. This pins them: 6000 random inputs of every shape the solver handles (2–64
// venues, 1–50 levels, limits, caps, mixed and unaligned lots, impact, minimum sizes, venue
// limits, both methods, with and without kept curves) are solved and the deterministic bytes of
// all decisions hashed. A change that moves any decision — one bit of λ, one round — fails here;
// such a change needs a new solver version in SolveInput, not a new digest. The same inputs
// decided again from their λ* (SolveInput.opening_lambda, as every re-plan is journaled) are
// pinned by a second digest, and decided with the quantile step (SolveInput.dual_search, what
// exorouted decides with), afresh and from λ*, by a third; the ADMM inputs decided with the
// balanced variant (SolveInput.admm_variant) by a fourth, and with the balanced variant placed
// at a price (what exorouted decides with) by a fifth; the quantile decisions again with the
// search's bisecting finish (SolveInput.dual_finish, what exorouted decides with) — the same
// bytes as the third: it changes nothing on these books — and books of fine lots with impact,
// where it does, by a sixth.
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <string>

#include "exo/deterministic.h"
#include "solver/solver.h"
#include "tests/solver/random_books.h"

namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

exoroute::v1::SolveInput Instance(std::mt19937_64& rng, int n) {
  exo::testing::RandomBookShape shape;
  shape.min_venues = 2;
  shape.max_venues = n % 10 == 0 ? 64 : 16;
  shape.max_levels = n % 3 == 0 ? 50 : 20;
  shape.one_lot_size = n % 4 != 1;
  shape.lot_aligned = n % 2 == 0;
  int64_t lot = 0;
  exoroute::v1::SolveInput in = exo::testing::RandomInput(rng, &lot, shape);
  if (n % 5 == 3) {
    for (auto& v : *in.mutable_venues()) v.set_impact_bps(0.01 * static_cast<double>(1 + rng() % 40));
  }
  if (n % 7 == 2) {
    for (auto& v : *in.mutable_venues()) {
      if (rng() % 3 == 0) v.set_min_quantity(static_cast<int64_t>(1 + rng() % 30));
    }
  }
  if (n % 11 == 4) in.set_max_venues(static_cast<uint32_t>(1 + rng() % 4));
  if (n % 6 == 5) in.set_method(exoroute::v1::SOLVER_METHOD_ADMM);
  return in;
}

}  // namespace

TEST_CASE("the solver's decisions are pinned byte for byte (the replay contract)", "[solver][golden]") {
  std::mt19937_64 rng(20261202);
  std::string all;  // Every decision's bytes, in order.
  std::string opened;  // The same inputs re-decided from λ* (opening_lambda, as a re-plan does).
  std::string quantile;  // And with the quantile step, afresh then from λ*,
  std::string bisecting;  // and with its bisecting finish too.
  std::string balanced;  // The ADMM inputs with the balanced variant,
  std::string at_price;  // and with the balanced variant placed at a price.
  exo::solver::CurveCache cache;
  exoroute::v1::Decision reused;  // One Decision for every SolveInto, as the engine keeps one.
  int solved = 0;
  for (int n = 0; n < 6000; ++n) {
    exoroute::v1::SolveInput in = Instance(rng, n);
    double lambda = 0;
    absl::StatusOr<exoroute::v1::Decision> d = exo::solver::Solve(in, nullptr, &lambda);
    REQUIRE(d.ok());
    const std::string bytes = exo::SerializeDeterministic(*d);
    // Kept curves give the same bytes (solved twice: the second time from the cache), and so
    // does a decision written over the last one.
    for (int k = 0; k < 2; ++k) {
      absl::StatusOr<exoroute::v1::Decision> cached = exo::solver::Solve(in, &cache);
      REQUIRE(cached.ok());
      REQUIRE(exo::SerializeDeterministic(*cached) == bytes);
    }
    REQUIRE(exo::solver::SolveInto(in, &reused, &cache).ok());
    REQUIRE(exo::SerializeDeterministic(reused) == bytes);
    all += bytes;
    solved += d->allocations_size() > 0 ? 1 : 0;
    if (in.method() == exoroute::v1::SOLVER_METHOD_ADMM) {
      in.set_admm_variant(exoroute::v1::ADMM_VARIANT_BALANCED);
      REQUIRE(exo::solver::SolveInto(in, &reused, &cache).ok());
      balanced += exo::SerializeDeterministic(reused);
      in.set_admm_variant(exoroute::v1::ADMM_VARIANT_BALANCED_AT_PRICE);
      REQUIRE(exo::solver::SolveInto(in, &reused, &cache).ok());
      at_price += exo::SerializeDeterministic(reused);
    } else {
      in.set_opening_lambda(lambda);
      REQUIRE(exo::solver::SolveInto(in, &reused, &cache).ok());
      opened += exo::SerializeDeterministic(reused);
      // Decided afresh, then from λ*, into `*bytes`.
      auto afresh_then_opened = [&](std::string* bytes) {
        in.clear_opening_lambda();
        REQUIRE(exo::solver::SolveInto(in, &reused, &cache).ok());
        *bytes += exo::SerializeDeterministic(reused);
        in.set_opening_lambda(lambda);
        REQUIRE(exo::solver::SolveInto(in, &reused, &cache).ok());
        *bytes += exo::SerializeDeterministic(reused);
      };
      in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);
      afresh_then_opened(&quantile);
      in.set_dual_finish(exoroute::v1::DUAL_FINISH_STEP_AND_BISECT);
      afresh_then_opened(&bisecting);
    }
  }
  auto sha256 = [](const std::string& bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    REQUIRE(EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) == 1);
    return Hex(digest, size);
  };
  CHECK(solved > 5000);  // The instances mostly place something: the digest covers real plans.
  CHECK(sha256(all) == "8d1752a3e6f291f82fada0d6f6270373e41b860434cbfa77baa4c3a424cff030");
  CHECK(sha256(opened) == "764a3ec7f8e7e87a486b8313d956e8ea56507093ba4421c46f3b691bed3a3065");
  CHECK(sha256(quantile) == "3fc60d1b3359818b0ad1f37d11782e13a0c929cff39c817162de6023a1af6a5e");
  CHECK(sha256(balanced) == "35d8c7acf31d3b82baf73e67b2a26efff0ff1c85431f73ac6da46a7efe7af532");
  // On these books the finish never meets more than one breakpoint: not one byte changes.
  CHECK(sha256(bisecting) == sha256(quantile));
  // Where it does (impact and fine lots: a breakpoint every lot), its own digest.
  std::mt19937_64 fine_rng(20261203);
  std::string fine;
  for (int n = 0; n < 40; ++n) {
    exoroute::v1::SolveInput in = exo::testing::FineLotInput(fine_rng, 1 + n % 4, 6 + static_cast<uint32_t>(n % 7));
    in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);
    in.set_dual_finish(exoroute::v1::DUAL_FINISH_STEP_AND_BISECT);
    REQUIRE(exo::solver::SolveInto(in, &reused, &cache).ok());
    fine += exo::SerializeDeterministic(reused);
  }
  CHECK(sha256(fine) == "71bab502a916a82b5fa87d194f800380b3f400f6c7e5d7e34d46b119d4dd4d8f");
  CHECK(sha256(at_price) == "22f828e9332ab40aa501f1c6d82b9322da785b3401a196d8bead7f9aa8e2e70a");
}
