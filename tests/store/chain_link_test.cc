// ChainLinks: the checks a follower of a replay makes of each delta it receives (and Verify of
// each stored one): every tampering is named at the delta where it shows, and nothing moves on.
#include <catch2/catch.hpp>

#include <vector>

#include "exo/sha256.h"
#include "store/chain_link.h"
#include "store/delta_codec.h"
#include "store/delta_store.h"

using exo::store::ChainLinks;
using exoroute::v1::PlanDelta;

namespace {

struct Link {
  std::string canonical, prev_hash, hash;
};

// A chain of `n` fill deltas from sequence 1, linked as the store links them.
std::vector<Link> Chain(int n) {
  std::vector<Link> out;
  std::string prev = exo::store::GenesisHash();
  exo::Sha256 hasher;
  for (int i = 1; i <= n; ++i) {
    PlanDelta d;
    d.set_sequence(i);
    d.set_plan_id("p");
    d.set_plan_version(i);
    d.set_event_time_ns(1000 + i);
    d.mutable_fill()->set_cl_ord_id("p.1");
    d.mutable_fill()->set_venue("V");
    d.mutable_fill()->set_quantity(i);
    d.mutable_fill()->set_price(100);
    Link l{exo::store::EncodeCanonical(d), prev, ""};
    l.hash = exo::DigestToString(hasher.Hash({l.prev_hash, l.canonical}));
    prev = l.hash;
    out.push_back(l);
  }
  return out;
}

}  // namespace

TEST_CASE("a chain's links check out one after another, from the first or from the middle", "[store][links]") {
  const std::vector<Link> chain = Chain(5);
  ChainLinks all(1, exo::store::GenesisHash());
  for (int i = 0; i < 5; ++i) {
    PlanDelta d;
    REQUIRE(all.Next(i + 1, chain[i].canonical, chain[i].prev_hash, chain[i].hash, &d).ok());
    CHECK(d.sequence() == static_cast<uint64_t>(i + 1));
  }
  CHECK(all.next_sequence() == 6);
  CHECK(all.last_hash() == chain[4].hash);
  ChainLinks middle(3, chain[1].hash);
  CHECK(middle.Next(3, chain[2].canonical, chain[2].prev_hash, chain[2].hash).ok());
}

TEST_CASE("a missing, repeated, reordered or changed delta is named where it shows, and the chain stays put",
          "[store][links]") {
  const std::vector<Link> chain = Chain(4);
  ChainLinks links(1, exo::store::GenesisHash());
  REQUIRE(links.Next(1, chain[0].canonical, chain[0].prev_hash, chain[0].hash).ok());
  auto refused = [&](uint64_t seq, const Link& l) {
    absl::Status s = links.Next(seq, l.canonical, l.prev_hash, l.hash);
    CHECK(s.code() == absl::StatusCode::kDataLoss);
    CHECK(links.next_sequence() == 2);  // Nothing moved on.
    return std::string(s.message());
  };
  CHECK(refused(3, chain[2]) == "delta missing (next stored delta is 3)");
  CHECK(refused(1, chain[0]) == "delta missing (next stored delta is 1)");  // Sent again.
  CHECK(refused(2, chain[2]) == "delta stored under 2 says it is 3 (reordered)");
  Link changed = chain[1];
  changed.canonical[changed.canonical.size() - 9] ^= 1;  // A byte of the fill's fee.
  CHECK(refused(2, changed) == "hash mismatch: the delta's content was changed");
  Link relinked = chain[1];
  relinked.prev_hash = chain[0].prev_hash;
  CHECK(refused(2, relinked) ==
        "prev_hash does not match the hash of delta 1 (a delta was removed, inserted or reordered)");
  Link garbled = chain[1];
  garbled.canonical.resize(10);
  CHECK(refused(2, garbled).rfind("undecodable: ", 0) == 0);
  // The true one still goes on from where the chain stood.
  CHECK(links.Next(2, chain[1].canonical, chain[1].prev_hash, chain[1].hash).ok());
  CHECK(links.next_sequence() == 3);
}

TEST_CASE("a delta sent with bytes that encode another one is refused where it shows, and the chain stays put",
          "[store][links]") {
  const std::vector<Link> chain = Chain(3);
  auto sent_as = [&](int i) {  // Delta i+1 as a replay sends it: decoded, with its links.
    absl::StatusOr<PlanDelta> d = exo::store::DecodeCanonical(chain[i].canonical);
    REQUIRE(d.ok());
    d->set_prev_hash(chain[i].prev_hash);
    d->set_hash(chain[i].hash);
    return *d;
  };
  ChainLinks links(1, exo::store::GenesisHash());
  REQUIRE(links.NextSent(sent_as(0), chain[0].canonical).ok());
  // The bytes and hashes are delta 2's, the delta shown is not: a fill of another quantity.
  PlanDelta other = sent_as(1);
  other.mutable_fill()->set_quantity(99);
  absl::Status s = links.NextSent(other, chain[1].canonical);
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK(s.message() == "the delta sent is not the one its canonical bytes encode");
  CHECK(links.next_sequence() == 2);
  CHECK(links.last_hash() == chain[0].hash);
  // A delta with no change at all: refused, not a crash.
  PlanDelta empty = sent_as(1);
  empty.clear_fill();
  CHECK(links.NextSent(empty, chain[1].canonical).message() == "the delta sent is not the one its canonical bytes encode");
  // A broken link is named as by Next.
  CHECK(links.NextSent(sent_as(2), chain[2].canonical).message() == "delta missing (next stored delta is 3)");
  // The true ones go on.
  CHECK(links.NextSent(sent_as(1), chain[1].canonical).ok());
  CHECK(links.NextSent(sent_as(2), chain[2].canonical).ok());
  CHECK(links.next_sequence() == 4);
}
