// What an auditor checks offline from files someone handed them (`exoroutectl audit
// check-proof` / `check-consistency`) and the canonical delta encoding behind them. The first
// byte picks: 0 an InclusionProof, 1 a ConsistencyProof, 2 canonical delta bytes. Checks, against
// a reference log of seven deltas: an inclusion proof that verifies against the true root of a
// prefix of the log proves the true leaf at its index; a consistency proof that verifies up to
// the true root of a prefix starts from the true root of the shorter prefix (either would be a
// forgery); canonical bytes that decode encode back to themselves (one delta, one encoding).
#include "exoroute/v1/audit.pb.h"
#include "store/delta_codec.h"
#include "store/merkle.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/testing/delta_kinds.h"

using namespace exoroute::v1;

namespace {

constexpr uint64_t kLogSize = 7;

struct ReferenceLog {
  std::vector<std::string> canonical;  // Entry i: delta i + 1's canonical bytes.
  std::vector<std::string> leaves;     // Their leaf hashes.
  std::vector<std::string> roots;      // roots[n]: the root of the first n (n >= 1).
};

const ReferenceLog& Log() {
  static const ReferenceLog log = [] {
    ReferenceLog l;
    for (uint64_t i = 0; i < kLogSize; ++i) {
      PlanDelta d;
      d.set_sequence(i + 1);
      d.set_plan_id("plan-" + std::to_string(i % 3));
      d.set_plan_version(static_cast<uint32_t>(i / 3 + 1));
      d.set_event_time_ns(1'700'000'000'000'000'000 + static_cast<int64_t>(i));
      Fill* f = d.mutable_fill();
      f->set_cl_ord_id("c" + std::to_string(i));
      f->set_venue("SIM-A");
      f->set_quantity(100 + static_cast<int64_t>(i));
      f->set_price(6'500'000);
      f->set_exec_id("e" + std::to_string(i));
      l.canonical.push_back(exo::store::EncodeCanonical(d));
      l.leaves.push_back(exo::store::MerkleLeafHash(l.canonical.back()));
    }
    l.roots.resize(kLogSize + 1);
    for (uint64_t n = 1; n <= kLogSize; ++n) {
      l.roots[n] = exo::store::MerkleRoot(std::vector<std::string>(l.leaves.begin(), l.leaves.begin() + n));
    }
    return l;
  }();
  return log;
}

std::vector<std::string> Path(const google::protobuf::RepeatedPtrField<std::string>& p) {
  return std::vector<std::string>(p.begin(), p.end());
}

}  // namespace

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  const ReferenceLog& log = Log();
  std::vector<std::string> out;
  for (uint64_t n = 1; n <= kLogSize; ++n) {
    const std::vector<std::string> prefix(log.leaves.begin(), log.leaves.begin() + n);
    for (uint64_t i = 0; i < n; i += 2) {
      InclusionProof p;
      p.set_sequence(i + 1);
      p.set_tree_size(n);
      p.set_canonical(log.canonical[i]);
      p.set_root(log.roots[n]);
      for (const std::string& h : store::MerkleInclusionPath(prefix, i)) p.add_path(h);
      out.push_back(std::string(1, '\0') + p.SerializeAsString());
    }
    for (uint64_t m = 1; m <= n; m += 2) {
      ConsistencyProof c;
      c.set_from_size(m);
      c.set_from_root(log.roots[m]);
      c.set_to_size(n);
      c.set_to_root(log.roots[n]);
      for (const std::string& h : store::MerkleConsistencyPath(prefix, m)) c.add_path(h);
      out.push_back(std::string(1, '\1') + c.SerializeAsString());
    }
  }
  for (const std::string& c : log.canonical) out.push_back(std::string(1, '\2') + c);
  for (const PlanDelta& d : exo::testing::OneOfEachKind()) out.push_back(std::string(1, '\2') + store::EncodeCanonical(d));
  return out;
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const ReferenceLog& log = Log();
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      InclusionProof p;
      if (!p.ParseFromString(body) || p.sequence() == 0) return 0;
      const std::string leaf = exo::store::MerkleLeafHash(p.canonical());
      const absl::Status ok = exo::store::VerifyMerkleInclusion(p.sequence() - 1, p.tree_size(), leaf, Path(p.path()), p.root());
      if (ok.ok() && p.tree_size() >= 1 && p.tree_size() <= kLogSize && p.root() == log.roots[p.tree_size()]) {
        FUZZ_CHECK(p.sequence() <= p.tree_size() && leaf == log.leaves[p.sequence() - 1],
                   "a forged inclusion proof verified: sequence %llu of %llu", static_cast<unsigned long long>(p.sequence()),
                   static_cast<unsigned long long>(p.tree_size()));
      }
      (void)exo::store::DecodeCanonical(p.canonical());
      break;
    }
    case 1: {
      ConsistencyProof c;
      if (!c.ParseFromString(body)) return 0;
      const absl::Status ok = exo::store::VerifyMerkleConsistency(c.from_size(), c.to_size(), c.from_root(), c.to_root(),
                                                                  Path(c.path()));
      if (ok.ok() && c.to_size() >= 1 && c.to_size() <= kLogSize && c.to_root() == log.roots[c.to_size()]) {
        FUZZ_CHECK(c.from_size() >= 1 && c.from_size() <= c.to_size() && c.from_root() == log.roots[c.from_size()],
                   "a forged consistency proof verified: %llu of %llu", static_cast<unsigned long long>(c.from_size()),
                   static_cast<unsigned long long>(c.to_size()));
      }
      break;
    }
    default: {
      absl::StatusOr<PlanDelta> d = exo::store::DecodeCanonical(body);
      if (d.ok()) {
        FUZZ_CHECK(exo::store::EncodeCanonical(*d) == body, "canonical bytes decode to a delta that encodes otherwise");
      }
    }
  }
  return 0;
}
