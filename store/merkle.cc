#include "store/merkle.h"

#include "absl/strings/str_cat.h"
#include "exo/sha256.h"

namespace exo::store {
namespace {

// One hasher per thread: setting up an OpenSSL digest context costs more than hashing a node.
Sha256& Hasher() {
  thread_local Sha256 h;
  return h;
}

// The largest power of two smaller than n (n >= 2).
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

std::string RootOf(const std::vector<std::string>& leaves, uint64_t begin, uint64_t end) {
  if (end - begin == 1) return leaves[begin];
  const uint64_t k = SplitPoint(end - begin);
  return MerkleNodeHash(RootOf(leaves, begin, begin + k), RootOf(leaves, begin + k, end));
}

// The root of leaves [begin, end), and on the way the audit path of leaf begin+m (leaf
// upwards): every node hashed once.
std::string RootAndPath(const std::vector<std::string>& leaves, uint64_t m, uint64_t begin, uint64_t end,
                        std::vector<std::string>* out) {
  if (end - begin == 1) return leaves[begin];
  const uint64_t k = SplitPoint(end - begin);
  if (m < k) {
    std::string left = RootAndPath(leaves, m, begin, begin + k, out);
    std::string right = RootOf(leaves, begin + k, end);
    out->push_back(right);
    return MerkleNodeHash(left, right);
  }
  std::string left = RootOf(leaves, begin, begin + k);
  std::string right = RootAndPath(leaves, m - k, begin + k, end, out);
  out->push_back(left);
  return MerkleNodeHash(left, right);
}

void SubProof(const std::vector<std::string>& leaves, uint64_t m, uint64_t begin, uint64_t end, bool complete,
              std::vector<std::string>* out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!complete) out->push_back(RootOf(leaves, begin, end));
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(leaves, m, begin, begin + k, complete, out);
    out->push_back(RootOf(leaves, begin + k, end));
  } else {
    SubProof(leaves, m - k, begin + k, end, false, out);
    out->push_back(RootOf(leaves, begin, begin + k));
  }
}

}  // namespace

std::string MerkleLeafHash(const std::string& entry) {
  return DigestToString(Hasher().Hash({std::string_view("\x00", 1), entry}));
}

std::string MerkleNodeHash(const std::string& left, const std::string& right) {
  return DigestToString(Hasher().Hash({std::string_view("\x01", 1), left, right}));
}

std::string MerkleRoot(const std::vector<std::string>& leaf_hashes) {
  if (leaf_hashes.empty()) return DigestToString(Sha256Of(""));
  return RootOf(leaf_hashes, 0, leaf_hashes.size());
}

std::vector<std::string> MerkleInclusionPath(const std::vector<std::string>& leaf_hashes, uint64_t index,
                                             std::string* root) {
  std::vector<std::string> out;
  if (index >= leaf_hashes.size()) return out;
  std::string r = RootAndPath(leaf_hashes, index, 0, leaf_hashes.size(), &out);
  if (root != nullptr) *root = std::move(r);
  return out;
}

absl::Status VerifyMerkleInclusion(uint64_t index, uint64_t tree_size, const std::string& leaf_hash,
                                   const std::vector<std::string>& path, const std::string& root) {
  if (index >= tree_size) {
    return absl::FailedPreconditionError(absl::StrCat("inclusion proof: leaf ", index, " is not in a tree of ", tree_size));
  }
  uint64_t fn = index, sn = tree_size - 1;
  std::string r = leaf_hash;
  for (const std::string& p : path) {
    if (p.size() != 32) return absl::FailedPreconditionError("inclusion proof: a path hash is not 32 bytes");
    if (sn == 0) return absl::FailedPreconditionError("inclusion proof: the path is longer than the tree is deep");
    if ((fn & 1) == 1 || fn == sn) {
      r = MerkleNodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::FailedPreconditionError("inclusion proof: the path is shorter than the tree is deep");
  if (r != root) return absl::FailedPreconditionError("inclusion proof: the path does not lead to the tree's root");
  return absl::OkStatus();
}

std::vector<std::string> MerkleConsistencyPath(const std::vector<std::string>& leaf_hashes, uint64_t m) {
  std::vector<std::string> out;
  if (m > 0 && m <= leaf_hashes.size()) SubProof(leaf_hashes, m, 0, leaf_hashes.size(), true, &out);
  return out;
}

absl::Status VerifyMerkleConsistency(uint64_t first, uint64_t second, const std::string& first_root,
                                     const std::string& second_root, const std::vector<std::string>& path) {
  auto bad = [](const std::string& why) { return absl::FailedPreconditionError(absl::StrCat("consistency proof: ", why)); };
  if (first == 0 || first > second) return bad(absl::StrCat("sizes ", first, " and ", second, " are not 0 < first <= second"));
  if (first == second) {
    if (!path.empty()) return bad("a tree is consistent with itself by an empty path");
    if (first_root != second_root) return bad("the same size with two different roots");
    return absl::OkStatus();
  }
  if (path.empty()) return bad("empty path");
  for (const std::string& c : path) {
    if (c.size() != 32) return bad("a path hash is not 32 bytes");
  }
  std::vector<std::string> p = path;
  if ((first & (first - 1)) == 0) p.insert(p.begin(), first_root);  // A power of two.
  uint64_t fn = first - 1, sn = second - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = p[0], sr = p[0];
  for (size_t i = 1; i < p.size(); ++i) {
    if (sn == 0) return bad("the path is longer than the trees are deep");
    if ((fn & 1) == 1 || fn == sn) {
      fr = MerkleNodeHash(p[i], fr);
      sr = MerkleNodeHash(p[i], sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = MerkleNodeHash(sr, p[i]);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return bad("the path is shorter than the trees are deep");
  if (fr != first_root) return bad(absl::StrCat("the path does not lead to the first tree's root (size ", first, ")"));
  if (sr != second_root) return bad(absl::StrCat("the path does not lead to the second tree's root (size ", second, ")"));
  return absl::OkStatus();
}

}  // namespace exo::store
