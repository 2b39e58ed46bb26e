#include "store/merkle.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "exo/sha256.h"

// A proof asked of sizes that do not fit is a programming error, never input (the audit service
// checks the sizes it is asked for first): crash loudly.
#define EXO_MERKLE_REQUIRE(cond, ...)              \
  do {                                             \
    if (!(cond)) {                                 \
      std::fprintf(stderr, "fatal: " __VA_ARGS__); \
      std::fputc('\n', stderr);                    \
      std::abort();                                \
    }                                              \
  } while (0)

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

std::string_view AsView(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

Digest NodeDigest(const Digest& left, const Digest& right) {
  return Hasher().Hash({std::string_view("\x01", 1), AsView(left), AsView(right)});
}

}  // namespace

std::string MerkleLeafHash(std::string_view entry) {
  return DigestToString(Hasher().Hash({std::string_view("\x00", 1), entry}));
}

std::string MerkleNodeHash(const std::string& left, const std::string& right) {
  return DigestToString(Hasher().Hash({std::string_view("\x01", 1), left, right}));
}

MerkleProofBuilder::MerkleProofBuilder(uint64_t tree_size) : size_(tree_size) {
  if (tree_size == 0) root_ = Sha256Of("");
}

MerkleProofBuilder MerkleProofBuilder::Inclusion(uint64_t tree_size, uint64_t index) {
  MerkleProofBuilder b(tree_size);
  EXO_MERKLE_REQUIRE(index < tree_size, "Merkle inclusion proof of leaf %llu in a tree of %llu",
                     static_cast<unsigned long long>(index), static_cast<unsigned long long>(tree_size));
  b.WantInclusion(index, 0, tree_size);
  b.Arrange();
  return b;
}

MerkleProofBuilder MerkleProofBuilder::Consistency(uint64_t first, uint64_t tree_size) {
  MerkleProofBuilder b(tree_size);
  EXO_MERKLE_REQUIRE(first > 0 && first <= tree_size, "Merkle consistency proof from %llu leaves in a tree of %llu",
                     static_cast<unsigned long long>(first), static_cast<unsigned long long>(tree_size));
  b.first_ = first;
  b.WantConsistency(first, 0, tree_size, true);
  b.Arrange();
  return b;
}

// PATH(m, D[begin:end]) of RFC 9162 §2.1.3.1, naming the nodes instead of hashing them.
void MerkleProofBuilder::WantInclusion(uint64_t index, uint64_t begin, uint64_t end) {
  if (end - begin == 1) return;
  const uint64_t k = SplitPoint(end - begin);
  if (index < k) {
    WantInclusion(index, begin, begin + k);
    wanted_.push_back({begin + k, end});
  } else {
    WantInclusion(index - k, begin + k, end);
    wanted_.push_back({begin, begin + k});
  }
}

// SUBPROOF(m, D[begin:end], b) of §2.1.4.1, likewise.
void MerkleProofBuilder::WantConsistency(uint64_t first, uint64_t begin, uint64_t end, bool complete) {
  const uint64_t n = end - begin;
  if (first == n) {
    if (!complete) wanted_.push_back({begin, end});
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (first <= k) {
    WantConsistency(first, begin, begin + k, complete);
    wanted_.push_back({begin + k, end});
  } else {
    WantConsistency(first - k, begin + k, end, false);
    wanted_.push_back({begin, begin + k});
  }
}

// A node of 2^h leaves is complete the moment its last leaf comes in, as one of the peaks; the
// others end at the tree's last leaf and are folded from the peaks at the end. Ranges wanted
// are disjoint, so no two complete at one leaf.
void MerkleProofBuilder::Arrange() {
  for (size_t i = 0; i < wanted_.size(); ++i) {
    const uint64_t n = wanted_[i].end - wanted_[i].begin;
    if ((n & (n - 1)) == 0) by_end_.push_back(i);
  }
  std::sort(by_end_.begin(), by_end_.end(), [this](size_t a, size_t b) { return wanted_[a].end < wanted_[b].end; });
}

void MerkleProofBuilder::AddLeaf(std::string_view leaf_hash) {
  EXO_MERKLE_REQUIRE(leaf_hash.size() == 32 && added_ < size_, "Merkle leaf %llu of %llu: %zu bytes",
                     static_cast<unsigned long long>(added_), static_cast<unsigned long long>(size_), leaf_hash.size());
  Peak leaf{added_, 0, {}};
  std::memcpy(leaf.hash.data(), leaf_hash.data(), 32);
  Push(leaf);
  ++added_;
  if (added_ == first_) first_root_ = Fold(0);
  if (added_ == size_) Finish();
}

bool MerkleProofBuilder::CanSkip(uint32_t height) const {
  if (height >= 63) return false;
  const uint64_t n = uint64_t{1} << height, begin = added_, end = added_ + n;
  if (begin % n != 0 || end > size_) return false;
  if (first_ > begin && first_ < end) return false;
  for (const Wanted& w : wanted_) {
    if (w.begin >= begin && w.end <= end && w.end - w.begin < n) return false;
  }
  return true;
}

void MerkleProofBuilder::AddSubtree(uint32_t height, const Digest& hash) {
  EXO_MERKLE_REQUIRE(CanSkip(height), "Merkle subtree of 2^%u leaves after %llu of %llu", height,
                     static_cast<unsigned long long>(added_), static_cast<unsigned long long>(size_));
  Push(Peak{added_, height, hash});
  added_ += uint64_t{1} << height;
  if (added_ == first_) first_root_ = Fold(0);
  if (added_ == size_) Finish();
}

void MerkleProofBuilder::Push(const Peak& p) {
  peaks_.push_back(p);
  Pushed();
  while (peaks_.size() >= 2 && peaks_[peaks_.size() - 2].height == peaks_.back().height) {
    const Peak right = peaks_.back();
    peaks_.pop_back();
    Peak& left = peaks_.back();
    left.hash = NodeDigest(left.hash, right.hash);
    ++left.height;
    Pushed();
  }
}

void MerkleProofBuilder::Pushed() {
  const Peak& top = peaks_.back();
  if (complete_ && top.height >= min_kept_height_) complete_(top.begin, top.height, top.hash);
  if (next_ == by_end_.size()) return;
  Wanted& w = wanted_[by_end_[next_]];
  if (w.begin == top.begin && w.end == top.begin + (uint64_t{1} << top.height)) {
    w.hash = top.hash;
    ++next_;
  }
}

Digest MerkleProofBuilder::Fold(size_t from) const {
  Digest h = peaks_.back().hash;
  for (size_t i = peaks_.size() - 1; i-- > from;) h = NodeDigest(peaks_[i].hash, h);
  return h;
}

void MerkleProofBuilder::Finish() {
  EXO_MERKLE_REQUIRE(next_ == by_end_.size(), "Merkle proof: %zu of %zu complete subtrees found", next_, by_end_.size());
  root_ = Fold(0);
  for (Wanted& w : wanted_) {
    const uint64_t n = w.end - w.begin;
    if ((n & (n - 1)) == 0) continue;
    // A node ending at the last leaf: the peaks from its first leaf on (the peaks before it are
    // the binary digits of `begin`, which is a multiple of a power of two above n).
    size_t from = 0;
    while (from < peaks_.size() && peaks_[from].begin < w.begin) ++from;
    EXO_MERKLE_REQUIRE(from < peaks_.size() && peaks_[from].begin == w.begin && w.end == size_,
                       "Merkle proof: no peak begins at leaf %llu", static_cast<unsigned long long>(w.begin));
    w.hash = Fold(from);
  }
}

std::string MerkleProofBuilder::Root() const {
  EXO_MERKLE_REQUIRE(added_ == size_, "Merkle root asked after %llu of %llu leaves", static_cast<unsigned long long>(added_),
                     static_cast<unsigned long long>(size_));
  return DigestToString(root_);
}

std::vector<std::string> MerkleProofBuilder::Path() const {
  EXO_MERKLE_REQUIRE(added_ == size_, "Merkle path asked after %llu of %llu leaves", static_cast<unsigned long long>(added_),
                     static_cast<unsigned long long>(size_));
  std::vector<std::string> out;
  out.reserve(wanted_.size());
  for (const Wanted& w : wanted_) out.push_back(DigestToString(w.hash));
  return out;
}

std::string MerkleProofBuilder::FirstRoot() const {
  EXO_MERKLE_REQUIRE(added_ == size_ && first_ > 0, "Merkle first root asked of a proof without one");
  return DigestToString(first_root_);
}

std::optional<Digest> MerkleSubtreeCache::Find(uint32_t height, uint64_t index) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = kept_.find({height, index});
  if (it == kept_.end()) return std::nullopt;
  return it->second;
}

void MerkleSubtreeCache::Put(uint32_t height, uint64_t index, const Digest& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  kept_.emplace(std::make_pair(height, index), hash);
}

size_t MerkleSubtreeCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_.size();
}

std::string MerkleRoot(const std::vector<std::string>& leaf_hashes) {
  MerkleProofBuilder b(leaf_hashes.size());
  for (const std::string& h : leaf_hashes) b.AddLeaf(h);
  return b.Root();
}

std::vector<std::string> MerkleInclusionPath(const std::vector<std::string>& leaf_hashes, uint64_t index,
                                             std::string* root) {
  if (index >= leaf_hashes.size()) return {};
  MerkleProofBuilder b = MerkleProofBuilder::Inclusion(leaf_hashes.size(), index);
  for (const std::string& h : leaf_hashes) b.AddLeaf(h);
  if (root != nullptr) *root = b.Root();
  return b.Path();
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
  if (m == 0 || m > leaf_hashes.size()) return {};
  MerkleProofBuilder b = MerkleProofBuilder::Consistency(m, leaf_hashes.size());
  for (const std::string& h : leaf_hashes) b.AddLeaf(h);
  return b.Path();
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
