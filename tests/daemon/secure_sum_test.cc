#include "daemon/cluster/secure_sum.h"

#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <map>
#include <random>
#include <string>

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

namespace {

std::string Hex(const std::array<unsigned char, 32>& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace

TEST_CASE("the masks' HMAC-SHA256 gives RFC 4231's bytes and OpenSSL's on any key and message", "[cluster]") {
  // RFC 4231 test cases 1, 2, 6 and 7 (6 and 7: keys longer than a block, hashed first).
  CHECK(Hex(HmacSha256(std::string(20, '\x0b'))("Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(Hex(HmacSha256("Jefe")("what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(Hex(HmacSha256(std::string(131, '\xaa'))("Test Using Larger Than Block-Size Key - Hash Key First")) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  CHECK(Hex(HmacSha256(std::string(131, '\xaa'))(
            "This is a test using a larger than block-size key and a larger than block-size data. The key needs "
            "to be hashed before being used by the HMAC algorithm.")) ==
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  // Against OpenSSL's own HMAC over key and message lengths around the block size.
  std::mt19937_64 rng(11);
  for (size_t key_len : {0, 1, 32, 63, 64, 65, 200}) {
    for (size_t data_len : {0, 1, 55, 56, 63, 64, 65, 119, 120, 300}) {
      std::string key(key_len, '\0'), data(data_len, '\0');
      for (char& ch : key) ch = static_cast<char>(rng());
      for (char& ch : data) ch = static_cast<char>(rng());
      std::array<unsigned char, 32> want;
      unsigned int len = 0;
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), want.data(), &len);
      INFO("key " << key_len << " bytes, data " << data_len << " bytes");
      CHECK(len == 32);
      CHECK(HmacSha256(key)(data) == want);
      CHECK(Prf(key)(data) == want);
    }
  }
}
