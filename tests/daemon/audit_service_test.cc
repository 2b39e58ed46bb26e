// AuditService's Merkle proofs over a real RocksDB chain, called as gRPC calls them: what a
// client gets checks out with the offline verifiers, and a chain with a delta missing underneath
// gives DATA_LOSS naming it, never a signed proof over the wrong leaves.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>

#include <grpcpp/grpcpp.h>

#include "daemon/grpc_services.h"
#include "store/delta_store.h"
#include "store/head_signature.h"
#include "store/merkle.h"
#include "tests/testing/raw_store.h"
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

// A node's chain-head signer, its key in `dir`.
std::unique_ptr<exo::store::HeadSigner> SignerIn(const TempDir& dir) {
  auto signer = exo::store::HeadSigner::LoadOrCreate(dir / "head.key");
  REQUIRE(signer.ok());
  return *std::move(signer);
}

// Fills of plan "p", versions first..n (one append each).
void AppendFills(exo::store::DeltaStore* s, int n, int first = 1) {
  for (int v = first; v <= n; ++v) {
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

// Delta `seq`'s inclusion proof as gRPC asks for it, checked offline.
InclusionProof ProvenInclusion(AuditServiceImpl& audit, uint64_t seq) {
  grpc::ServerContext ctx;
  ProveInclusionRequest req;
  req.set_sequence(seq);
  ProveInclusionResponse resp;
  REQUIRE(audit.ProveInclusion(&ctx, &req, &resp).ok());
  const InclusionProof& p = resp.proof();
  std::vector<std::string> path(p.path().begin(), p.path().end());
  CHECK(exo::store::VerifyMerkleInclusion(seq - 1, p.tree_size(), exo::store::MerkleLeafHash(p.canonical()), path,
                                          p.root()).ok());
  return p;
}

// The consistency proof from the first `from` deltas, checked offline.
ConsistencyProof ProvenConsistency(AuditServiceImpl& audit, uint64_t from) {
  grpc::ServerContext ctx;
  ProveConsistencyRequest req;
  req.set_from_size(from);
  ProveConsistencyResponse resp;
  REQUIRE(audit.ProveConsistency(&ctx, &req, &resp).ok());
  const ConsistencyProof& p = resp.proof();
  std::vector<std::string> path(p.path().begin(), p.path().end());
  CHECK(exo::store::VerifyMerkleConsistency(from, p.to_size(), p.from_root(), p.to_root(), path).ok());
  return p;
}

}  // namespace

TEST_CASE("inclusion and consistency proofs from the stored chain verify offline", "[audit]") {
  TempDir dir;
  auto signer = SignerIn(dir);
  auto store = OpenStore(dir / "db");
  AppendFills(store.get(), 37);
  AuditServiceImpl audit(store.get(), signer.get(), "node-a", /*max_replays=*/16);

  for (uint64_t seq : {1, 2, 16, 17, 33, 37}) {
    INFO("sequence " << seq);
    const InclusionProof p = ProvenInclusion(audit, seq);
    CHECK(p.tree_size() == 37);
    // The canonical bytes are the stored delta's.
    std::string stored;
    REQUIRE(store->Scan(seq, seq, [&](const PlanDelta&, std::string_view c) { stored = std::string(c); return true; }).ok());
    CHECK(p.canonical() == stored);
  }
  for (uint64_t m : {1, 8, 20, 37}) {
    INFO("from size " << m);
    CHECK(ProvenConsistency(audit, m).to_size() == 37);
  }
}

TEST_CASE("later proofs stand kept subtrees for the blocks they need not read and still verify", "[audit]") {
  TempDir dir;
  auto signer = SignerIn(dir);
  auto store = OpenStore(dir / "db");
  AuditServiceImpl audit(store.get(), signer.get(), "node-a", /*max_replays=*/16);
  // What a proof must give: the tree over every stored delta, leaf by leaf.
  auto expected_root = [&](uint64_t size) {
    exo::store::MerkleProofBuilder all(size);
    REQUIRE(store->ScanCanonical(1, size, [&](uint64_t, std::string_view c) {
      all.AddLeaf(exo::store::MerkleLeafHash(c));
      return true;
    }).ok());
    return all.Root();
  };
  auto prove = [&](uint64_t seq) { return ProvenInclusion(audit, seq); };
  AppendFills(store.get(), 3000);  // Two whole blocks of 1024 and part of a third.
  InclusionProof first = prove(1500);
  CHECK(first.root() == expected_root(3000));
  CHECK(audit.kept_subtrees() == 3);  // Blocks 0 and 1, and the 2048 they make.
  for (uint64_t seq : {1, 1024, 1025, 2048, 2049, 3000}) {
    INFO("sequence " << seq);
    CHECK(prove(seq).root() == first.root());
  }
  // The chain grows: kept subtrees stay true, new blocks are kept as they complete.
  AppendFills(store.get(), 5000, 3001);
  for (uint64_t seq : {7, 2500, 4097, 5000}) {
    INFO("sequence " << seq << " of 5000");
    CHECK(prove(seq).root() == expected_root(5000));
  }
  CHECK(audit.kept_subtrees() == 7);  // Blocks 0-3, their 2048s and the 4096.
  CHECK(ProvenConsistency(audit, 3000).from_root() == first.root());
}

TEST_CASE("a delta missing underneath the store gives DATA_LOSS naming it, not a proof", "[audit][tamper]") {
  TempDir dir;
  auto signer = SignerIn(dir);
  AppendFills(OpenStore(dir / "db").get(), 12);
  exo::testing::RawEditDeltas(dir / "db", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* deltas) {
    REQUIRE(db->Delete(rocksdb::WriteOptions(), deltas, exo::testing::DeltaKey(7)).ok());
  });
  auto store = OpenStore(dir / "db");
  AuditServiceImpl audit(store.get(), signer.get(), "node-a", /*max_replays=*/16);
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

TEST_CASE("a replay asked for a decision's inputs that do not parse answers DATA_LOSS naming the delta", "[audit][tamper]") {
  TempDir dir;
  auto signer = SignerIn(dir);
  auto store = OpenStore(dir / "db");
  AppendFills(store.get(), 2);
  // A decision whose recorded inputs are bytes that are no SolveInput (a store written by
  // something else, or damaged in a way its digest was recomputed for).
  exo::store::PendingDelta bad;
  bad.delta.set_plan_id("p");
  bad.delta.set_plan_version(3);
  bad.delta.mutable_allocated()->set_replan(true);
  bad.inputs = std::string("\xff\xff\xff\xff not a message");
  REQUIRE(store->Append({bad}).ok());
  AuditServiceImpl audit(store.get(), signer.get(), "node-a", /*max_replays=*/16);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&audit);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  auto stub = AuditService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  auto replay = [&](bool inputs, std::vector<ReplayResponse>* got) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ReplayRequest req;
    req.set_include_inputs(inputs);
    auto reader = stub->Replay(&ctx, req);
    ReplayResponse m;
    while (reader->Read(&m)) got->push_back(m);
    return reader->Finish();
  };
  std::vector<ReplayResponse> got;
  const grpc::Status damaged = replay(true, &got);
  CHECK(damaged.error_code() == grpc::StatusCode::DATA_LOSS);
  CHECK(damaged.error_message() ==
        "delta 3: its recorded inputs do not parse (`exoroutectl audit verify --recompute` checks them all)");
  CHECK(got.size() == 2);  // The deltas before it were sent.
  // Without the inputs the chain replays whole.
  got.clear();
  CHECK(replay(false, &got).ok());
  CHECK(got.size() == 3);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}
