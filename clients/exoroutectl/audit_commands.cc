// exoroutectl's commands over the chain: replay, report and audit (verify, prove, check),
// online or offline on a data directory.
#include "clients/exoroutectl/commands.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "clients/cpp/exoroute_client.h"
#include "clients/exoroutectl/args.h"
#include "clients/exoroutectl/execution_report.h"
#include "clients/exoroutectl/render.h"
#include "daemon/decision_audit.h"
#include "daemon/request_validation.h"
#include "exo/fixed_point.h"
#include "exo/sha256.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "exo/json_input.h"
#include "exo/read_file.h"
#include "store/chain_link.h"
#include "store/delta_codec.h"
#include "store/delta_store.h"
#include "store/head_signature.h"
#include "store/merkle.h"

namespace exo::ctl {

using namespace exoroute::v1;  // NOLINT

namespace {

class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  void Update(uint64_t done, uint64_t total) {
    if (!enabled_ || total == 0) return;
    int pct = static_cast<int>(done * 100 / total);
    if (pct == last_ && done != total) return;
    last_ = pct;
    int bar = pct * 30 / 100;
    std::fprintf(stderr, "\r[%s%s] %3d%% %llu/%llu", std::string(bar, '#').c_str(),
                 std::string(30 - bar, '.').c_str(), pct, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total));
    if (done >= total) std::fputc('\n', stderr);
  }
  ~Progress() {
    if (enabled_ && last_ >= 0 && last_ < 100) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  int last_ = -1;
};

// --from N and --to M, a chain range (0: from the first, to the head).
absl::Status RangeFlags(const Args& a, uint64_t* from, uint64_t* to) {
  auto f = a.GetUint("from", 0);
  if (!f.ok()) return f.status();
  auto t = a.GetUint("to", 0);
  if (!t.ok()) return t.status();
  *from = *f;
  *to = *t;
  return absl::OkStatus();
}

}  // namespace

namespace {

// The hash the node's chain holds for delta `sequence`; NotFound when it has none.
absl::StatusOr<std::string> HashOfDelta(Context& c, AuditService::Stub& stub, uint64_t sequence) {
  ReplayRequest one;
  one.mutable_range()->set_from_sequence(sequence);
  one.mutable_range()->set_to_sequence(sequence);
  auto ctx = Rpc(c, /*streaming=*/true);
  auto reader = stub.Replay(ctx.get(), one);
  ReplayResponse msg, more;
  const bool got = reader->Read(&msg);
  while (reader->Read(&more)) {
  }
  if (absl::Status s = client::FromGrpc(reader->Finish()); !s.ok()) return s;
  if (!got) return absl::NotFoundError(absl::StrCat("the chain has no delta ", sequence));
  return msg.delta().hash();
}

// After the node came back: its chain must still hold the one followed so far, through delta
// `checked` whose hash was `hash` (none: 0), or it is another chain (an older backup, a log
// rewritten) — said at once, not when a delta of it comes (if one ever does).
absl::Status SameChainAsBefore(Context& c, AuditService::Stub& stub, uint64_t checked, const std::string& hash) {
  if (checked == 0) return absl::OkStatus();
  GetChainHeadResponse head;
  auto ctx = Rpc(c);
  if (grpc::Status st = stub.GetChainHead(ctx.get(), GetChainHeadRequest(), &head); !st.ok()) {
    return client::FromGrpc(st);
  }
  if (head.head().sequence() < checked) {
    return absl::DataLossError(absl::StrCat("the node came back with a chain of ", head.head().sequence(),
                                            " deltas, shorter than the ", checked,
                                            " read before it went away: not the chain it had"));
  }
  absl::StatusOr<std::string> now = HashOfDelta(c, stub, checked);
  if (!now.ok()) return now.status();
  if (*now != hash) {
    return absl::DataLossError(absl::StrCat("delta ", checked, " is not the one read before the node went away: its hash is ",
                                            ToHex(*now), ", was ", ToHex(hash), ": not the chain it had"));
  }
  return absl::OkStatus();
}

// The node answered again after a follow's stream ended (FollowAgain::After): whether it still
// holds the chain followed so far (SameChainAsBefore). A check cut short by the node going away
// again is waited out as a stream's end is, and asked again once the node answers. OK once a check
// passes; else what to end with (DATA_LOSS: another chain; when the node stays away, what it last
// said as it went).
absl::Status SameChainOnceBack(Context& c, FollowAgain& again, AuditService::Stub& stub, uint64_t checked,
                               const std::string& hash) {
  while (true) {
    absl::Status same = SameChainAsBefore(c, stub, checked, hash);
    if (!FollowAgain::WentAway(same) || !again.After(&same, /*check=*/true)) return same;
  }
}

}  // namespace

int CmdReplay(Context& c) {
  const Args& a = c.args;
  uint64_t from = 0, to = 0;
  if (absl::Status range = RangeFlags(c.args, &from, &to); !range.ok()) return Usage(std::string(range.message()));
  if (a.Has("plan") && (a.Has("from") || a.Has("to"))) return Usage("replay: --plan excludes --from/--to");
  const bool follow = a.Has("follow");
  if (follow && (a.Has("plan") || a.Has("to") || a.Has("data-dir"))) {
    return Usage("replay: --follow follows the node's chain from --from N: not with --plan, --to or --data-dir");
  }
  Progress progress(!follow && !c.json && (a.Has("progress") || isatty(2)));
  std::map<std::string, Instrument> instruments;
  std::function<absl::StatusOr<Instrument>(const std::string&)> find_instrument;
  InstrumentLookup lookup = [&](const std::string& plan_id) -> const Instrument* {
    auto it = instruments.find(plan_id);
    if (it != instruments.end()) return &it->second;
    auto i = find_instrument(plan_id);
    return i.ok() ? &(instruments[plan_id] = *i) : nullptr;
  };
  uint64_t count = 0, first = 0;
  auto emit = [&](const PlanDelta& d, uint64_t head, const ClusterRoute* cluster) {
    if (d.has_created()) instruments[d.plan_id()] = d.created().instrument();
    std::cout << (c.json ? ToJson(d) : RenderDeltaLine(d, lookup)) << "\n";
    if (cluster != nullptr && !cluster->route_id().empty() && !c.json) {
      // Where the rest of the route lives: the same route id on the other nodes.
      std::cout << "    cluster route " << cluster->route_id() << " coordinated by " << cluster->coordinator()
                << ", nodes " << absl::StrJoin(cluster->nodes(), ",") << ", " << Counted(cluster->rounds(), "round", "rounds");
      // The whole order the shares were cut from (recorded since 2026-12-03).
      if (const Instrument* inst = lookup(d.plan_id()); inst != nullptr && cluster->order_quantity() > 0) {
        std::cout << ", order " << FormatDecimal(cluster->order_quantity(), inst->qty_scale());
      }
      for (const auto& dn : cluster->dropped()) std::cout << "; dropped " << dn.node() << ": " << dn.reason();
      for (const auto& v : cluster->venues_dropped()) std::cout << "; left out " << v.venue() << ": " << v.reason();
      std::cout << "\n";
    }
    if (follow) std::cout.flush();  // A line as each delta comes, for whoever reads the pipe.
    if (count++ == 0) first = d.sequence();
    uint64_t last = to ? std::min<uint64_t>(to, head) : head;
    if (!a.Has("plan") && last >= first) progress.Update(d.sequence() - first + 1, last - first + 1);
  };
  absl::Status result;
  if (a.Has("data-dir")) {
    auto st = OpenOffline(a.Get("data-dir"));
    if (!st.ok()) return Fail(st.status());
    store::DeltaStore& s = **st;
    find_instrument = [&](const std::string& plan_id) -> absl::StatusOr<Instrument> {
      Instrument out;
      bool found = false;
      auto r = s.ScanPlan(plan_id, 1, [&](const PlanDelta& d, std::string_view) {
        found = d.has_created();
        if (found) out = d.created().instrument();
        return false;
      });
      if (!found) return absl::NotFoundError("no created delta");
      return out;
    };
    uint64_t head = s.Head().sequence();
    auto visit = [&](const PlanDelta& d, std::string_view) {
      ClusterRoute cluster;
      if (d.has_allocated() && !d.inputs_digest().empty()) {
        if (auto raw = s.GetInputs(d.inputs_digest()); raw.ok()) {
          SolveInput in;
          if (in.ParseFromString(*raw) && in.has_fixed_dual()) cluster = in.fixed_dual().route();
        }
      }
      emit(d, head, &cluster);
      return true;
    };
    result = a.Has("plan") ? s.ScanPlan(a.Get("plan"), 1, visit) : s.Scan(from, to ? to : head, visit);
    if (result.ok() && a.Has("plan") && count == 0) {
      result = absl::NotFoundError(absl::StrCat("plan \"", a.Get("plan"), "\" not found"));
    }
  } else {
    if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
    find_instrument = [&](const std::string& plan_id) -> absl::StatusOr<Instrument> {
      auto p = FetchPlan(c, plan_id);
      if (!p.ok()) return p.status();
      return p->instrument();
    };
    ReplayRequest req;
    req.set_include_cluster(true);
    if (a.Has("plan")) {
      req.set_plan_id(a.Get("plan"));
    } else {
      req.mutable_range()->set_from_sequence(from);
      req.mutable_range()->set_to_sequence(to);
      req.set_follow(follow);
    }
    // A follow outlives the node going away (a restart): it follows again from the delta after
    // the last it printed as soon as the node answers.
    // The chain it comes back with must still hold the last delta printed (else the copy would
    // go on with another chain's deltas: DATA_LOSS, exit 3).
    FollowAgain again(c, "following the chain");
    auto stub = AuditService::NewStub(c.channel);
    uint64_t last_sequence = 0;
    std::string last_hash;
    while (true) {
      auto ctx = Rpc(c, /*streaming=*/true);
      auto reader = stub->Replay(ctx.get(), req);
      ReplayResponse msg;
      while (reader->Read(&msg)) {
        again.Answered();
        last_sequence = msg.delta().sequence();
        last_hash = msg.delta().hash();
        emit(msg.delta(), msg.head_sequence(), &msg.cluster());
      }
      result = client::FromGrpc(reader->Finish());
      if (!follow || !again.After(&result)) break;
      if (absl::Status same = SameChainOnceBack(c, again, *stub, last_sequence, last_hash); !same.ok()) {
        std::cout.flush();
        Fail(same);
        return absl::IsDataLoss(same) ? kExitBadChain : kExitError;
      }
      if (last_sequence > 0) req.mutable_range()->set_from_sequence(last_sequence + 1);
      again.Back(absl::StrCat(" from sequence ", req.range().from_sequence() > 0 ? req.range().from_sequence() : 1));
    }
  }
  std::cout.flush();
  if (!result.ok()) return Fail(result);
  if (!c.json) std::fprintf(stderr, "%llu deltas\n", static_cast<unsigned long long>(count));
  return kExitOk;
}

namespace {

// A time as a user writes it: RFC 3339 ("2026-12-04T09:00:00Z", "…+01:00", fractions allowed)
// or a UTC date ("2026-12-04", its midnight). Unix ns.
absl::StatusOr<int64_t> ParseTimeFlag(const std::string& text) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err) ||
      absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) {
    return absl::ToUnixNanos(t);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("not a time: \"", text, "\" (RFC 3339, e.g. 2026-12-04T09:00:00Z, or a UTC date 2026-12-04)"));
}

}  // namespace

// `report [--from N] [--to M] [--symbol S] [--since T] [--until T] [--csv]`: the executed plans
// created in the range, as the chain leaves them (ExecutionReport), from the node's Replay or,
// with --data-dir, its database.
int CmdReport(Context& c) {
  const Args& a = c.args;
  uint64_t from = 0, to = 0;
  if (absl::Status range = RangeFlags(c.args, &from, &to); !range.ok()) return Usage(std::string(range.message()));
  if (a.Has("csv") && c.json) return Usage("report: --csv or --json, not both");
  int64_t bounds[2] = {0, 0};  // --since, --until (Unix ns).
  const char* flags[2] = {"since", "until"};
  for (int i = 0; i < 2; ++i) {
    if (!a.Has(flags[i])) continue;
    absl::StatusOr<int64_t> t = ParseTimeFlag(a.Get(flags[i]));
    if (!t.ok()) return Usage(absl::StrCat("report: --", flags[i], ": ", t.status().message()));
    bounds[i] = *t;
  }
  if (a.Has("since") && a.Has("until") && bounds[0] >= bounds[1]) {
    // (It printed "no executed plans in the range", as if there had been none.)
    return Usage(absl::StrCat("report: --since (", a.Get("since"), ") must be before --until (", a.Get("until"), ")"));
  }
  ExecutionReport report(from, a.Get("symbol"), bounds[0], bounds[1], a.Get("client"));
  absl::Status result;
  if (a.Has("data-dir")) {
    auto st = OpenOffline(a.Get("data-dir"));
    if (!st.ok()) return Fail(st.status());
    const uint64_t head = (*st)->Head().sequence();
    result = (*st)->Scan(from, to ? to : head, [&](const PlanDelta& d, std::string_view) {
      report.Add(d);
      return true;
    });
  } else {
    if (auto s = EnsureConnected(c); !s.ok()) return Fail(s);
    ReplayRequest req;
    req.mutable_range()->set_from_sequence(from);
    req.mutable_range()->set_to_sequence(to);
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = AuditService::NewStub(c.channel)->Replay(ctx.get(), req);
    ReplayResponse msg;
    while (reader->Read(&msg)) report.Add(msg.delta());
    result = client::FromGrpc(reader->Finish());
  }
  if (!result.ok()) return Fail(result);
  const std::vector<ExecutionRow> rows = report.Rows();
  if (c.json) {
    std::cout << RenderExecutionJson(rows);
    return kExitOk;
  }
  std::cout << (a.Has("csv") ? RenderExecutionCsv(rows) : RenderExecutionTable(rows, report.ByVenue()));
  return kExitOk;
}

namespace {

int PrintVerify(const Context& c, const VerifyResponse& r, bool recompute, const std::string& signed_ok) {
  if (c.json) {
    std::cout << ToJson(r) << "\n";
  } else if (r.ok()) {
    std::cout << "OK: " << Counted(r.checked(), "delta", "deltas") << " verified";
    if (recompute) {
      std::cout << ", " << Counted(r.decisions_checked(), "decision", "decisions")
                << " re-solved identically";
    }
    std::cout << "; chain head " << r.head().sequence() << " " << ToHex(r.head().hash()) << "\n";
    if (!signed_ok.empty()) std::cout << "OK: " << signed_ok << "\n";
  } else {
    std::cout << "FAILED at sequence " << r.first_bad_sequence() << ": " << r.error() << "\n";
  }
  return r.ok() ? kExitOk : kExitBadChain;
}

// A signed head an auditor kept (`audit head --out`), and the key it must be signed with.
absl::StatusOr<SignedChainHead> ReadSignedHead(const std::string& path) {
  absl::StatusOr<std::string> json = ReadWholeFile(path);
  if (!json.ok()) return absl::Status(json.status().code(), absl::StrCat("--signed-head: ", json.status().message()));
  SignedChainHead h;
  if (absl::Status s = ParseJsonInput(*json, &h); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--signed-head ", path, ": not a signed chain head: ", s.message()));
  }
  return h;
}

// Checks that the chain (`local`, or the daemon's over `c`) still has `h` — the node's
// signature and the same hash at its sequence. The error says which.
absl::Status CheckSignedHead(Context& c, const store::DeltaStore* local, const SignedChainHead& h,
                             const std::string& pinned_key, const ChainHead& head) {
  if (auto s = store::VerifySignedHead(h, pinned_key); !s.ok()) return s;
  const uint64_t seq = h.head().sequence();
  if (seq > head.sequence()) {
    return absl::FailedPreconditionError(absl::StrCat("the chain ends at sequence ", head.sequence(),
                                                      ", before the signed head's ", seq, ": deltas were removed"));
  }
  std::string hash(32, '\0');  // An empty chain's head.
  if (seq > 0) {
    hash.clear();
    if (local != nullptr) {
      auto s = local->Scan(seq, seq, [&](const PlanDelta& d, std::string_view) {
        hash = d.hash();
        return false;
      });
      if (!s.ok()) return s;
    } else {
      ReplayRequest req;
      req.mutable_range()->set_from_sequence(seq);
      req.mutable_range()->set_to_sequence(seq);
      auto ctx = Rpc(c);
      auto reader = AuditService::NewStub(c.channel)->Replay(ctx.get(), req);
      ReplayResponse m;
      while (reader->Read(&m)) hash = m.delta().hash();
      if (auto st = reader->Finish(); !st.ok()) return client::FromGrpc(st);
    }
  }
  if (hash != h.head().hash()) {
    return absl::FailedPreconditionError(absl::StrCat("sequence ", seq, " has hash ", ToHex(hash), " but node ",
                                                      h.node_id(), " signed ", ToHex(h.head().hash()),
                                                      ": the chain was changed after the head was signed"));
  }
  return absl::OkStatus();
}

// A proof file (`audit prove --out`) as `T`; false if it is not one.
template <typename T>
bool ReadProofFile(const std::string& path, T* out, std::string* error) {
  absl::StatusOr<std::string> json = ReadWholeFile(path);
  if (!json.ok()) {
    *error = absl::StrCat("cannot read ", json.status().message());
    return false;
  }
  absl::Status s = ParseJsonInput(*json, out);
  if (!s.ok()) *error = absl::StrCat(path, ": not a ", T::descriptor()->name(), " file: ", s.message());
  return s.ok();
}

// --public-key HEX as 32 bytes ("" if absent); false if malformed.
bool PinnedKey(const Context& c, std::string* key) {
  if (!c.args.Has("public-key")) return true;
  const std::string hex = c.args.Get("public-key");
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return false;
  *key = absl::HexStringToBytes(hex);
  return true;
}

int ProofFailed(const absl::Status& s) {
  std::cout << "FAILED: " << s.message() << "\n";
  return kExitBadChain;
}

// `audit check-consistency FILE --kept OLD`: the tree head kept in OLD (signed, from an earlier
// proof) is the beginning of the tree FILE's signed head commits to. Offline.
int CheckConsistency(Context& c) {
  const auto& w = c.args.words();
  if (w.size() != 3 || !c.args.Has("kept")) {
    return Usage("audit check-consistency: expected FILE (from `audit prove --from-size`) and --kept OLD");
  }
  std::string pinned, error;
  if (!PinnedKey(c, &pinned)) return Usage("audit check-consistency: --public-key must be 64 hex digits");
  ConsistencyProof p;
  if (!ReadProofFile(w[2], &p, &error)) return Fail(absl::InvalidArgumentError(error));
  // The kept tree head: from an inclusion proof or an earlier consistency proof.
  std::string kept_node, kept_root, kept_key, kept_sig;
  uint64_t kept_size = 0;
  InclusionProof inclusion;
  ConsistencyProof earlier;
  std::string inclusion_error, consistency_error;
  if (ReadProofFile(c.args.Get("kept"), &inclusion, &inclusion_error)) {
    kept_node = inclusion.node_id(), kept_size = inclusion.tree_size(), kept_root = inclusion.root();
    kept_key = inclusion.public_key(), kept_sig = inclusion.signature();
  } else if (ReadProofFile(c.args.Get("kept"), &earlier, &consistency_error)) {
    kept_node = earlier.node_id(), kept_size = earlier.to_size(), kept_root = earlier.to_root();
    kept_key = earlier.public_key(), kept_sig = earlier.signature();
  } else {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--kept: ", inclusion_error)));
  }
  if (auto s = store::VerifyEd25519(kept_key, kept_sig, store::TreeHeadMessage(kept_node, kept_size, kept_root), pinned,
                                    "kept tree head");
      !s.ok()) {
    return ProofFailed(s);
  }
  if (kept_node != p.node_id()) {
    return ProofFailed(absl::FailedPreconditionError(
        absl::StrCat("the kept tree head is node ", kept_node, "'s, the proof node ", p.node_id(), "'s")));
  }
  if (kept_size != p.from_size() || kept_root != p.from_root()) {
    return ProofFailed(absl::FailedPreconditionError(absl::StrCat(
        "the node now gives the first ", p.from_size(), " deltas root ", ToHex(p.from_root()), "; the kept head says ",
        kept_size, " deltas, root ", ToHex(kept_root), ": the log was changed after the kept head was signed")));
  }
  std::vector<std::string> path(p.path().begin(), p.path().end());
  if (auto s = store::VerifyMerkleConsistency(p.from_size(), p.to_size(), p.from_root(), p.to_root(), path); !s.ok()) {
    return ProofFailed(s);
  }
  if (auto s = store::VerifyEd25519(p.public_key(), p.signature(), store::TreeHeadMessage(p.node_id(), p.to_size(), p.to_root()),
                                    pinned, "tree head");
      !s.ok()) {
    return ProofFailed(s);
  }
  std::cout << "OK: node " << p.node_id() << "'s log of " << p.to_size() << " deltas (root " << ToHex(p.to_root())
            << ") begins with the " << kept_size << " of the kept tree head, unchanged\n";
  return kExitOk;
}

// `audit prove`: an inclusion proof (--sequence N) or a consistency proof (--from-size M),
// from the daemon (it signs the tree head), printed and with --out written as JSON.
int ProveCmd(Context& c) {
  grpc::ClientContext ctx;  // The node reads its whole chain: no deadline.
  auto stub = AuditService::NewStub(c.channel);
  auto done = [&](const google::protobuf::Message& proof, const std::string& summary) {
    if (auto s = WriteJsonFile(c, proof); !s.ok()) return Fail(s);
    std::cout << (c.json ? ToJson(proof) : summary) << "\n";
    return kExitOk;
  };
  if (c.args.Has("from-size")) {
    auto from = c.args.GetUint("from-size", 0);
    if (!from.ok() || *from == 0) return Usage("audit prove: --from-size M must be a tree size >= 1");
    ProveConsistencyRequest req;
    req.set_from_size(*from);
    ProveConsistencyResponse r;
    if (auto st = stub->ProveConsistency(&ctx, req, &r); !st.ok()) return Fail(client::FromGrpc(st));
    const ConsistencyProof& p = r.proof();
    return done(p, absl::StrCat("the first ", p.from_size(), " deltas (root ", ToHex(p.from_root()),
                                ") are the beginning of the ", p.to_size(), " now (root ", ToHex(p.to_root()), "); ",
                                p.path_size(), " hashes; tree head signed by ", p.node_id()));
  }
  auto seq = c.args.GetUint("sequence", 0);
  if (!seq.ok() || *seq == 0) return Usage("audit prove: --sequence N (a delta's sequence number) is required");
  ProveInclusionRequest req;
  req.set_sequence(*seq);
  ProveInclusionResponse r;
  if (auto st = stub->ProveInclusion(&ctx, req, &r); !st.ok()) return Fail(client::FromGrpc(st));
  const InclusionProof& p = r.proof();
  return done(p, absl::StrCat("delta ", p.sequence(), " is leaf ", p.sequence() - 1, " of ", p.tree_size(), "; root ",
                              ToHex(p.root()), "; ", p.path_size(), " hashes; tree head signed by ", p.node_id()));
}

// `audit check-proof FILE`: everything from the file, nothing from a node or a log.
int CheckProof(Context& c) {
  const auto& w = c.args.words();
  if (w.size() != 3) return Usage("audit check-proof: expected one FILE (from `audit prove --out`)");
  std::string pinned, error;
  if (!PinnedKey(c, &pinned)) return Usage("audit check-proof: --public-key must be the Ed25519 key as 64 hex digits");
  InclusionProof p;
  if (!ReadProofFile(w[2], &p, &error)) return Fail(absl::InvalidArgumentError(absl::StrCat("audit check-proof: ", error)));
  absl::StatusOr<PlanDelta> d = store::DecodeCanonical(p.canonical());
  if (!d.ok()) return ProofFailed(d.status());
  if (d->sequence() != p.sequence()) {
    return ProofFailed(absl::FailedPreconditionError(
        absl::StrCat("the delta says sequence ", d->sequence(), ", the proof ", p.sequence())));
  }
  if (p.sequence() == 0) return ProofFailed(absl::FailedPreconditionError("sequence 0 is no delta"));
  std::vector<std::string> path(p.path().begin(), p.path().end());
  if (auto s = store::VerifyMerkleInclusion(p.sequence() - 1, p.tree_size(), store::MerkleLeafHash(p.canonical()),
                                            path, p.root());
      !s.ok()) {
    return ProofFailed(s);
  }
  if (auto s = store::VerifyEd25519(p.public_key(), p.signature(), store::TreeHeadMessage(p.node_id(), p.tree_size(), p.root()),
                                    pinned, "tree head");
      !s.ok()) {
    return ProofFailed(s);
  }
  std::cout << "OK: delta " << p.sequence() << " (" << d->plan_id() << " v" << d->plan_version() << ", "
            << DeltaKindName(*d) << ") is in the log of node " << p.node_id() << " up to " << p.tree_size()
            << " (root " << ToHex(p.root()) << ", Ed25519 key " << ToHex(p.public_key()) << ")\n";
  return kExitOk;
}

// `audit verify --follow [--from N]`: the node's chain from delta N (1: its first), checked link
// by link as the node sends it (a Replay that follows, with the bytes each hash covers), then each
// delta as it is recorded: an independent, live check of the chain the node keeps. A line each
// time it has caught up with the head; exit 3 naming the first delta that does not check out (or
// a node back with another chain than the one checked), 1 when the node stays away longer than
// --reconnect-for (its words name where to follow again from).
int VerifyFollowing(Context& c, uint64_t from) {
  if (from == 0) from = 1;
  auto stub = AuditService::NewStub(c.channel);
  ReplayResponse msg;
  std::string prev = store::GenesisHash();
  if (from > 1) {  // The hash of the delta before: the first link's other end.
    absl::StatusOr<std::string> before = HashOfDelta(c, *stub, from - 1);
    if (absl::IsNotFound(before.status())) {
      return Fail(absl::NotFoundError(absl::StrCat("--from: the chain has no delta ", from - 1, " before ", from)));
    }
    if (!before.ok()) return Fail(before.status());
    prev = *before;
  }
  store::ChainLinks links(from, prev);
  ReplayRequest req;
  req.set_follow(true);
  req.set_include_canonical(true);
  // The node going away (a restart) ends nothing: the check goes on from the next link as soon as
  // the node answers, so the chain the restarted node sends must extend the one checked before.
  FollowAgain again(c, "checking the chain");
  while (true) {
    req.mutable_range()->set_from_sequence(links.next_sequence());
    auto ctx = Rpc(c, /*streaming=*/true);
    auto reader = stub->Replay(ctx.get(), req);
    while (reader->Read(&msg)) {
      again.Answered();
      const PlanDelta& sent = msg.delta();
      if (absl::Status link = links.NextSent(sent, msg.canonical()); !link.ok()) {
        ctx->TryCancel();  // (A refused link does not move on: next_sequence() is the bad one.)
        Fail(absl::DataLossError(absl::StrCat("delta ", links.next_sequence(), ": ", link.message())));
        return kExitBadChain;
      }
      if (sent.sequence() >= msg.head_sequence()) {  // Caught up with the head the node read.
        ChainHead head;
        head.set_sequence(sent.sequence());
        head.set_hash(sent.hash());
        std::cout << (c.json ? ToJson(head) : absl::StrCat("verified through ", sent.sequence(), "  ", ToHex(sent.hash())))
                  << std::endl;
      }
    }
    absl::Status ended = client::FromGrpc(reader->Finish());
    if (ended.ok()) return kExitOk;
    if (!again.After(&ended)) return Fail(ended);
    if (absl::Status same = SameChainOnceBack(c, again, *stub, links.next_sequence() - 1, links.last_hash());
        !same.ok()) {
      Fail(same);
      return absl::IsDataLoss(same) ? kExitBadChain : kExitError;
    }
    again.Back(absl::StrCat(" from delta ", links.next_sequence()));
  }
}

}  // namespace

int CmdAudit(Context& c) {
  const auto& w = c.args.words();
  if (w.size() < 2) return Usage("audit: expected `audit verify` or `audit head`");
  if (w[1] == "check-proof") return CheckProof(c);
  if (w[1] == "check-consistency") return CheckConsistency(c);
  bool offline = c.args.Has("data-dir");
  std::unique_ptr<store::DeltaStore> local;
  if (offline) {
    auto st = OpenOffline(c.args.Get("data-dir"));
    if (!st.ok()) {
      // A database the store refuses as damaged is a finding of `audit verify` (exit 3).
      const int code = Fail(st.status());
      return w[1] == "verify" && absl::IsDataLoss(st.status()) ? kExitBadChain : code;
    }
    local = *std::move(st);
  } else if (auto s = EnsureConnected(c); !s.ok()) {
    return Fail(s);
  }
  if (w[1] == "head") {
    GetChainHeadResponse r;
    if (offline) {
      if (c.args.Has("out")) return Usage("audit head --out: the daemon signs heads; ask it (without --data-dir)");
      *r.mutable_head() = local->Head();
    } else {
      auto ctx = Rpc(c);
      auto st = AuditService::NewStub(c.channel)->GetChainHead(ctx.get(), GetChainHeadRequest(), &r);
      if (!st.ok()) return Fail(client::FromGrpc(st));
    }
    if (c.args.Has("out")) {
      if (auto s = WriteTextFile("out", c.args.Get("out"), ToJson(r.signed_head()) + "\n"); !s.ok()) return Fail(s);
    }
    if (c.json) {
      std::cout << ToJson(r) << "\n";
    } else {
      std::cout << r.head().sequence() << " " << ToHex(r.head().hash()) << "\n";
      if (r.has_signed_head()) {
        std::cout << "signed by " << r.signed_head().node_id() << ", Ed25519 key "
                  << ToHex(r.signed_head().public_key()) << "\n";
      }
    }
    return kExitOk;
  }
  if (w[1] == "prove") {
    if (offline) return Usage("audit prove: the daemon signs the tree head; ask it (without --data-dir)");
    return ProveCmd(c);
  }
  if (w[1] != "verify") return Usage(absl::StrCat("audit: unknown subcommand \"", w[1], "\""));
  uint64_t from = 0, to = 0;
  if (absl::Status range = RangeFlags(c.args, &from, &to); !range.ok()) return Usage(std::string(range.message()));
  if (c.args.Has("follow")) {
    if (offline || c.args.Has("to") || c.args.Has("recompute") || c.args.Has("signed-head")) {
      return Usage("audit verify --follow checks the node's chain as it grows, from --from N: not with --to, "
                   "--recompute, --signed-head or --data-dir");
    }
    return VerifyFollowing(c, from);
  }
  bool recompute = c.args.Has("recompute");
  std::optional<SignedChainHead> signed_head;
  std::string pinned_key;
  if (c.args.Has("signed-head")) {
    auto h = ReadSignedHead(c.args.Get("signed-head"));
    if (!h.ok()) return Fail(h.status());
    signed_head = *std::move(h);
  }
  if (c.args.Has("public-key")) {
    const std::string hex = c.args.Get("public-key");
    if (!signed_head) return Usage("audit verify: --public-key goes with --signed-head");
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      return Usage("audit verify: --public-key must be the Ed25519 key as 64 hex digits");
    }
    pinned_key = absl::HexStringToBytes(hex);
  }
  VerifyResponse r;
  if (offline) {
    Progress progress(!c.json && (c.args.Has("progress") || isatty(2)));
    *r.mutable_head() = local->Head();
    SequenceRange range;
    range.set_from_sequence(from);
    range.set_to_sequence(to);
    if (auto v = daemon::ValidateVerifyStart(range, "--from", r.head().sequence()); !v.ok()) return Fail(v);
    store::VerifyReport rep = local->Verify(from, to, [&](uint64_t d, uint64_t t) {
      progress.Update(d, t);
      return true;
    });
    r.set_ok(rep.ok);
    r.set_checked(rep.checked);
    r.set_first_bad_sequence(rep.first_bad_sequence);
    r.set_error(rep.error);
    if (rep.ok && recompute) {
      daemon::DecisionReport d = daemon::VerifyDecisions(*local, from, to ? to : r.head().sequence());
      r.set_ok(d.ok);
      r.set_decisions_checked(d.checked);
      r.set_first_bad_sequence(d.first_bad_sequence);
      r.set_error(d.error);
    }
  } else {
    VerifyRequest req;
    req.mutable_range()->set_from_sequence(from);
    req.mutable_range()->set_to_sequence(to);
    req.set_recompute_decisions(recompute);
    grpc::ClientContext ctx;  // Verification of a long chain may take a while: no deadline.
    auto st = AuditService::NewStub(c.channel)->Verify(&ctx, req, &r);
    if (!st.ok()) return Fail(client::FromGrpc(st));
  }
  std::string signed_ok;
  if (signed_head && r.ok()) {
    absl::Status s = CheckSignedHead(c, local.get(), *signed_head, pinned_key, r.head());
    if (s.ok()) {
      signed_ok = absl::StrCat("signed head ", signed_head->head().sequence(), " of node ", signed_head->node_id(),
                               " (Ed25519 key ", ToHex(signed_head->public_key()), ") is in this chain");
    } else {
      r.set_ok(false);
      r.set_first_bad_sequence(signed_head->head().sequence());
      r.set_error(std::string(s.message()));
    }
  }
  return PrintVerify(c, r, recompute, signed_ok);
}

}  // namespace exo::ctl
