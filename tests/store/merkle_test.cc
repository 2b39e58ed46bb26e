// The RFC 9162 Merkle tree: roots against an independent bottom-up construction, every leaf's
// inclusion proof verifying, and every altered proof refused.
#include <catch2/catch.hpp>

#include "absl/strings/escaping.h"
#include "store/merkle.h"

using exo::store::MerkleConsistencyPath;
using exo::store::MerkleInclusionPath;
using exo::store::MerkleLeafHash;
using exo::store::MerkleNodeHash;
using exo::store::MerkleProofBuilder;
using exo::store::MerkleRoot;
using exo::store::VerifyMerkleConsistency;
using exo::store::VerifyMerkleInclusion;

namespace {

std::vector<std::string> Leaves(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(MerkleLeafHash("entry " + std::to_string(i)));
  return out;
}

// Level by level, an unpaired last node carried up unchanged: the same tree as RFC 9162's
// recursive split at the largest power of two, built the other way round.
std::string BottomUpRoot(std::vector<std::string> level) {
  while (level.size() > 1) {
    std::vector<std::string> up;
    for (size_t i = 0; i + 1 < level.size(); i += 2) up.push_back(MerkleNodeHash(level[i], level[i + 1]));
    if (level.size() % 2 == 1) up.push_back(level.back());
    level = std::move(up);
  }
  return level.front();
}

// RFC 9162 §2.1 read literally (MTH, PATH, PROOF by recursion over a vector): the reference the
// streaming MerkleProofBuilder is held to.
uint64_t Split(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}
std::string Mth(const std::vector<std::string>& d, uint64_t b, uint64_t e) {
  if (e - b == 1) return d[b];
  const uint64_t k = Split(e - b);
  return MerkleNodeHash(Mth(d, b, b + k), Mth(d, b + k, e));
}
void RfcPath(const std::vector<std::string>& d, uint64_t m, uint64_t b, uint64_t e, std::vector<std::string>* out) {
  if (e - b == 1) return;
  const uint64_t k = Split(e - b);
  if (m < k) {
    RfcPath(d, m, b, b + k, out);
    out->push_back(Mth(d, b + k, e));
  } else {
    RfcPath(d, m - k, b + k, e, out);
    out->push_back(Mth(d, b, b + k));
  }
}
void RfcSubproof(const std::vector<std::string>& d, uint64_t m, uint64_t b, uint64_t e, bool complete,
                 std::vector<std::string>* out) {
  if (m == e - b) {
    if (!complete) out->push_back(Mth(d, b, e));
    return;
  }
  const uint64_t k = Split(e - b);
  if (m <= k) {
    RfcSubproof(d, m, b, b + k, complete, out);
    out->push_back(Mth(d, b + k, e));
  } else {
    RfcSubproof(d, m - k, b + k, e, false, out);
    out->push_back(Mth(d, b, b + k));
  }
}

}  // namespace

TEST_CASE("Merkle roots: RFC 9162's empty tree, and every size against a bottom-up build", "[merkle]") {
  CHECK(absl::BytesToHexString(MerkleRoot({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(absl::BytesToHexString(MerkleLeafHash("")) ==
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");  // SHA-256(0x00).
  for (size_t n = 1; n <= 70; ++n) {
    INFO("n = " << n);
    CHECK(MerkleRoot(Leaves(n)) == BottomUpRoot(Leaves(n)));
  }
  CHECK(MerkleRoot(Leaves(1)) == Leaves(1)[0]);
  CHECK(MerkleRoot(Leaves(2)) == MerkleNodeHash(Leaves(2)[0], Leaves(2)[1]));
}

TEST_CASE("Merkle inclusion proofs verify for every leaf of every size, and nothing else does", "[merkle]") {
  for (size_t n = 1; n <= 40; ++n) {
    const std::vector<std::string> leaves = Leaves(n);
    const std::string root = MerkleRoot(leaves);
    for (size_t i = 0; i < n; ++i) {
      INFO("n = " << n << ", leaf " << i);
      std::string same_root;
      std::vector<std::string> path = MerkleInclusionPath(leaves, i, &same_root);
      CHECK(same_root == root);
      REQUIRE(VerifyMerkleInclusion(i, n, leaves[i], path, root).ok());
      CHECK_FALSE(VerifyMerkleInclusion(i, n, MerkleLeafHash("forged"), path, root).ok());
      CHECK_FALSE(VerifyMerkleInclusion(i, n, leaves[i], path, MerkleLeafHash("other root")).ok());
      // The same path against the next tree's root (a signed head binds size and root).
      CHECK_FALSE(VerifyMerkleInclusion(i, n + 1, leaves[i], path, MerkleRoot(Leaves(n + 1))).ok());
      if (n > 1) {
        CHECK_FALSE(VerifyMerkleInclusion((i + 1) % n, n, leaves[i], path, root).ok());
        std::vector<std::string> changed = path;
        changed.back()[0] ^= 1;
        CHECK_FALSE(VerifyMerkleInclusion(i, n, leaves[i], changed, root).ok());
        changed = path;
        changed.pop_back();
        CHECK_FALSE(VerifyMerkleInclusion(i, n, leaves[i], changed, root).ok());
      }
      std::vector<std::string> longer = path;
      longer.push_back(root);
      CHECK_FALSE(VerifyMerkleInclusion(i, n, leaves[i], longer, root).ok());
    }
  }
  CHECK(VerifyMerkleInclusion(5, 5, Leaves(5)[0], {}, MerkleRoot(Leaves(5))).message() ==
        "inclusion proof: leaf 5 is not in a tree of 5");
  // About log2(n) hashes: 20 at a million leaves.
  CHECK(MerkleInclusionPath(Leaves(1000), 0).size() == 10);
  CHECK(MerkleInclusionPath(Leaves(1000), 999).size() == 8);  // In the last, smaller subtree.
}

TEST_CASE("Merkle consistency proofs: every earlier size is proved a prefix, and changes are caught", "[merkle]") {
  for (size_t n = 1; n <= 33; ++n) {
    const std::vector<std::string> leaves = Leaves(n);
    const std::string root_n = MerkleRoot(leaves);
    for (size_t m = 1; m <= n; ++m) {
      INFO("m = " << m << ", n = " << n);
      const std::string root_m = MerkleRoot(std::vector<std::string>(leaves.begin(), leaves.begin() + m));
      std::vector<std::string> path = MerkleConsistencyPath(leaves, m);
      REQUIRE(VerifyMerkleConsistency(m, n, root_m, root_n, path).ok());
      if (m == n) continue;
      // History changed before m: the old root is not the prefix of the new tree.
      std::vector<std::string> rewritten = leaves;
      rewritten[m - 1] = MerkleLeafHash("rewritten");
      CHECK_FALSE(VerifyMerkleConsistency(m, n, root_m, MerkleRoot(rewritten), MerkleConsistencyPath(rewritten, m)).ok());
      CHECK_FALSE(VerifyMerkleConsistency(m, n, MerkleLeafHash("x"), root_n, path).ok());
      CHECK_FALSE(VerifyMerkleConsistency(m, n, root_m, MerkleLeafHash("x"), path).ok());
      std::vector<std::string> changed = path;
      changed.back()[7] ^= 1;
      CHECK_FALSE(VerifyMerkleConsistency(m, n, root_m, root_n, changed).ok());
      changed = path;
      changed.pop_back();
      CHECK_FALSE(VerifyMerkleConsistency(m, n, root_m, root_n, changed).ok());
      if (m + 1 < n) CHECK_FALSE(VerifyMerkleConsistency(m + 1, n, root_m, root_n, path).ok());
    }
  }
  CHECK(VerifyMerkleConsistency(0, 3, "", "", {}).message() == "consistency proof: sizes 0 and 3 are not 0 < first <= second");
}

TEST_CASE("Merkle proofs built leaf by leaf equal RFC 9162's recursive definitions for every size and leaf", "[merkle]") {
  for (size_t n = 1; n <= 70; ++n) {
    const std::vector<std::string> leaves = Leaves(n);
    const std::string root = Mth(leaves, 0, n);
    for (size_t i = 0; i < n; ++i) {
      INFO("n = " << n << ", leaf " << i);
      MerkleProofBuilder b = MerkleProofBuilder::Inclusion(n, i);
      for (const std::string& h : leaves) b.AddLeaf(h);
      std::vector<std::string> expected;
      RfcPath(leaves, i, 0, n, &expected);
      CHECK(b.Path() == expected);
      CHECK(b.Root() == root);
    }
    for (size_t m = 1; m <= n; ++m) {
      INFO("n = " << n << ", from " << m);
      MerkleProofBuilder b = MerkleProofBuilder::Consistency(m, n);
      for (const std::string& h : leaves) b.AddLeaf(h);
      std::vector<std::string> expected;
      RfcSubproof(leaves, m, 0, n, true, &expected);
      CHECK(b.Path() == expected);
      CHECK(b.Root() == root);
      CHECK(b.FirstRoot() == Mth(leaves, 0, m));
    }
  }
  MerkleProofBuilder empty(0);
  CHECK(absl::BytesToHexString(empty.Root()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("Merkle proofs over a large tree verify at its edges and in its middle", "[merkle]") {
  // 2^17 + 5 leaves: deep left subtrees, a short ragged right edge.
  const uint64_t n = (uint64_t{1} << 17) + 5;
  const std::vector<std::string> leaves = Leaves(n);
  for (uint64_t i : {uint64_t{0}, uint64_t{1}, n / 2, (uint64_t{1} << 17) - 1, uint64_t{1} << 17, n - 2, n - 1}) {
    INFO("leaf " << i);
    MerkleProofBuilder b = MerkleProofBuilder::Inclusion(n, i);
    for (const std::string& h : leaves) b.AddLeaf(h);
    CHECK(VerifyMerkleInclusion(i, n, leaves[i], b.Path(), b.Root()).ok());
    // 17 hashes inside the left subtree and the right part's root; or the left subtree's root
    // and the path inside the 5 right leaves (the 5th leaf: one hash, the others: three).
    CHECK(b.Path().size() == (i < (uint64_t{1} << 17) ? 18u : i == n - 1 ? 2u : 4u));
  }
  for (uint64_t m : {uint64_t{1}, uint64_t{3}, uint64_t{1} << 16, uint64_t{1} << 17, n - 1, n}) {
    INFO("from " << m);
    MerkleProofBuilder b = MerkleProofBuilder::Consistency(m, n);
    for (const std::string& h : leaves) b.AddLeaf(h);
    CHECK(VerifyMerkleConsistency(m, n, b.FirstRoot(), b.Root(), b.Path()).ok());
  }
}

namespace {

// Feeds `b` the leaves, standing in for them with every kept subtree it may (the largest first)
// and keeping every complete subtree of 2+ leaves it forms.
void FeedSkipping(MerkleProofBuilder& b, const std::vector<std::string>& leaves, exo::store::MerkleSubtreeCache& kept,
                  int* skipped) {
  b.OnComplete(1, [&kept](uint64_t begin, uint32_t height, const std::array<uint8_t, 32>& hash) {
    kept.Put(height, begin >> height, hash);
  });
  while (b.leaves_added() < b.tree_size()) {
    const uint64_t at = b.leaves_added();
    bool done = false;
    for (uint32_t h = 7; h >= 1 && !done; --h) {
      if (!b.CanSkip(h)) continue;
      if (auto hash = kept.Find(h, at >> h)) {
        b.AddSubtree(h, *hash);
        ++*skipped;
        done = true;
      }
    }
    if (!done) b.AddLeaf(leaves[at]);
  }
}

}  // namespace

TEST_CASE("Merkle proofs built from kept subtrees equal those built leaf by leaf", "[merkle]") {
  // As a node answers a second proof: the complete subtrees of the first kept, the leaves read
  // only where a node the proof names lies inside a kept subtree.
  exo::store::MerkleSubtreeCache kept;
  const std::vector<std::string> all = Leaves(100);
  int skipped = 0;
  for (size_t n = 1; n <= 100; n += (n < 40 ? 1 : 7)) {
    const std::vector<std::string> leaves(all.begin(), all.begin() + n);
    const std::string root = Mth(leaves, 0, n);
    for (size_t i = 0; i < n; i += (n < 20 ? 1 : 3)) {
      INFO("n = " << n << ", leaf " << i);
      MerkleProofBuilder b = MerkleProofBuilder::Inclusion(n, i);
      FeedSkipping(b, leaves, kept, &skipped);
      std::vector<std::string> expected;
      RfcPath(leaves, i, 0, n, &expected);
      CHECK(b.Path() == expected);
      CHECK(b.Root() == root);
    }
    for (size_t m = 1; m <= n; m += (n < 20 ? 1 : 3)) {
      INFO("n = " << n << ", from " << m);
      MerkleProofBuilder b = MerkleProofBuilder::Consistency(m, n);
      FeedSkipping(b, leaves, kept, &skipped);
      std::vector<std::string> expected;
      RfcSubproof(leaves, m, 0, n, true, &expected);
      CHECK(b.Path() == expected);
      CHECK(b.Root() == root);
      CHECK(b.FirstRoot() == Mth(leaves, 0, m));
    }
  }
  CHECK(skipped > 1000);  // Kept subtrees did stand in for leaves.
  // Not where a node the proof names lies inside, nor past the first tree's end or the tree's.
  MerkleProofBuilder b = MerkleProofBuilder::Inclusion(16, 5);
  CHECK_FALSE(b.CanSkip(3));  // Leaves 0..7 hold leaf 5's path.
  CHECK(b.CanSkip(2));        // Leaves 0..3: a node of the path itself.
  CHECK_FALSE(b.CanSkip(5));  // Beyond 16 leaves.
  MerkleProofBuilder c = MerkleProofBuilder::Consistency(6, 16);
  CHECK_FALSE(c.CanSkip(3));  // The first tree ends at 6.
}
