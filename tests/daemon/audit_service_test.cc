// AuditService's Merkle proofs over a real RocksDB chain, called as gRPC calls them: what a
// client gets checks out with the offline verifiers, and a chain with a delta missing underneath
// gives DATA_LOSS naming it, never a signed proof over the wrong leaves.
#include <catch2/catch.hpp>

#include <functional>

#include "daemon/grpc_services.h"
#include "rocksdb/db.h"
#include "store/delta_store.h"
#include "store/head_signature.h"
#include "store/merkle.h"
#include "tests/testing/temp_dir.h"

using exo::daemon::AuditServiceImpl;
using exo::testing::TempDir;
using namespace exoroute::v1;  // NOLINT

namespace {

std::unique_ptr<exo::store::DeltaStore> OpenStore(const std::string& path) {
  exo::store::StoreOptions o;
  o.path = path;
  o.node_id = "node-a";
  o.create_if_missing = true;
  o.verify_tail_on_open = 0;  // A chain longer than the tail the daemon checks at start.
  auto s = exo::store::OpenRocksDeltaStore(o);
  REQUIRE(s.ok());
  return *std::move(s);
}

void AppendFills(exo::store::DeltaStore* s, int n) {
  for (int v = 1; v <= n; ++v) {
    exo::store::PendingDelta p;
    p.delta.set_plan_id("p");
    p.delta.set_plan_version(static_cast<uint32_t>(v));
    p.delta.set_event_time_ns(1000 + v);
    auto* f = p.delta.mutable_fill();
    f->set_cl_ord_id("p.1");
    f->set_venue("V");
    f->set_quantity(v);
    f->set_price(100);
    REQUIRE(s->Append({p}).ok());
  }
}

std::string Key(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8) k[i] = static_cast<char>(seq & 0xff);
  return k;
}

}  // namespace

TEST_CASE("inclusion and consistency proofs from the stored chain verify offline", "[audit]") {
  TempDir dir;
  auto signer = exo::store::HeadSigner::LoadOrCreate(dir / "head.key");
  REQUIRE(signer.ok());
  auto store = OpenStore(dir / "db");
  AppendFills(store.get(), 37);
  AuditServiceImpl audit(store.get(), signer->get(), "node-a");

  for (uint64_t seq : {1, 2, 16, 17, 33, 37}) {
    INFO("sequence " << seq);
    grpc::ServerContext ctx;
    ProveInclusionRequest req;
    req.set_sequence(seq);
    ProveInclusionResponse resp;
    REQUIRE(audit.ProveInclusion(&ctx, &req, &resp).ok());
    const InclusionProof& p = resp.proof();
    CHECK(p.tree_size() == 37);
    std::vector<std::string> path(p.path().begin(), p.path().end());
    CHECK(exo::store::VerifyMerkleInclusion(seq - 1, 37, exo::store::MerkleLeafHash(p.canonical()), path, p.root()).ok());
    // The canonical bytes are the stored delta's.
    std::string stored;
    REQUIRE(store->Scan(seq, seq, [&](const PlanDelta&, std::string_view c) { stored = std::string(c); return true; }).ok());
    CHECK(p.canonical() == stored);
  }
  for (uint64_t m : {1, 8, 20, 37}) {
    INFO("from size " << m);
    grpc::ServerContext ctx;
    ProveConsistencyRequest req;
    req.set_from_size(m);
    ProveConsistencyResponse resp;
    REQUIRE(audit.ProveConsistency(&ctx, &req, &resp).ok());
    const ConsistencyProof& p = resp.proof();
    std::vector<std::string> path(p.path().begin(), p.path().end());
    CHECK(exo::store::VerifyMerkleConsistency(m, 37, p.from_root(), p.to_root(), path).ok());
  }
}

TEST_CASE("a delta missing underneath the store gives DATA_LOSS naming it, not a proof", "[audit][tamper]") {
  TempDir dir;
  auto signer = exo::store::HeadSigner::LoadOrCreate(dir / "head.key");
  REQUIRE(signer.ok());
  AppendFills(OpenStore(dir / "db").get(), 12);
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* n : {"default", "deltas", "plans", "inputs", "meta"}) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> h;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir / "db", cfs, &h, &db).ok());
    REQUIRE(db->Delete(rocksdb::WriteOptions(), h[1], Key(7)).ok());
    for (auto* x : h) db->DestroyColumnFamilyHandle(x);
    delete db;
  }
  auto store = OpenStore(dir / "db");
  AuditServiceImpl audit(store.get(), signer->get(), "node-a");
  grpc::ServerContext ctx;
  ProveInclusionRequest req;
  req.set_sequence(3);
  ProveInclusionResponse resp;
  grpc::Status s = audit.ProveInclusion(&ctx, &req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::DATA_LOSS);
  CHECK(s.error_message() ==
        "delta 7 is missing from the chain (the next stored is delta 8): `exoroutectl audit verify` names the damage");
  CHECK(resp.proof().signature().empty());

  ProveConsistencyRequest creq;
  creq.set_from_size(2);
  ProveConsistencyResponse cresp;
  s = audit.ProveConsistency(&ctx, &creq, &cresp);
  CHECK(s.error_code() == grpc::StatusCode::DATA_LOSS);
  CHECK(cresp.proof().signature().empty());
}
