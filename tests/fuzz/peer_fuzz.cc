// Sequences of peer calls — as a coordinator sends them, or as a buggy or older one might — to a
// ClusterNode over a real engine, alone in its cluster (the only participant, so its sums need
// no peer's key). An input is calls, each a 2-byte big-endian length and a serialized PeerCall;
// the top bit of the first byte, when set, runs the input with the node's trading halted (the
// bit is not part of the first length).
// Checks: every call is answered, never with INTERNAL or UNKNOWN; a node's share (Execute) is
// never negative nor more than the order it was prepared with, and an amendment (Amend) never
// changes it — but a cut (share_quantity), to exactly what was asked and never below its fills;
// a halted node answers an executed route's Prepare saying so, and takes no share of it (no
// plan); a notice of a cancel or of new terms the node says it keeps, it answers Progress with,
// and a route whose cancel it noted (or a sub-route of it) is prepared with cancel_noticed and
// takes no share.
// Plans made are cancelled at the end of each input, and trading resumed (notices stay).
#include <map>
#include <set>

#include "daemon/cluster/cluster_node.h"
#include "daemon/cluster/shortfall_ledger.h"
#include "exoroute/v1/peer.pb.h"
#include "tests/fuzz/fuzz_node.h"
#include "tests/fuzz/fuzz_target.h"

using namespace exoroute::v1;
using exo::daemon::cluster::ClusterNode;
using exo::daemon::cluster::RouteOf;

namespace {

// The node's answer to Progress of `route_id`, for its notices (empty when it has none).
// The notices node keeps of `route_id` as Progress answers them; why it does not, in `*why`.
ProgressReply NoticesOf(ClusterNode& node, const std::string& route_id, std::string* why = nullptr) {
  ProgressRequest req;
  req.set_route_id(route_id);
  absl::StatusOr<ProgressReply> r = node.Progress(req);
  if (why != nullptr) *why = r.ok() ? "" : r.status().ToString();
  return r.ok() ? *r : ProgressReply();
}

std::string Calls(const std::vector<PeerCall>& calls) {
  std::string out;
  for (const PeerCall& c : calls) {
    const std::string b = c.SerializeAsString();
    out.push_back(static_cast<char>(b.size() >> 8));
    out.push_back(static_cast<char>(b.size() & 255));
    out += b;
  }
  return out;
}

}  // namespace

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  const std::string node = "node-1";  // The embedded default's node id.
  std::vector<std::string> out;
  int n = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    // λ below, at and above the sim books' prices (a sell's λ is the negated price).
    for (double price : {6'490'000.0, 6'500'000.0, 6'510'000.0}) {
      for (RouteMode mode : {ROUTE_MODE_PLAN_ONLY, ROUTE_MODE_EXECUTE}) {
        const double lambda = side == SIDE_BUY ? price : -price;
        const std::string route = "r" + std::to_string(n++);
        std::vector<PeerCall> calls(6);
        PrepareRequest* p = calls[0].mutable_prepare();
        p->set_route_id(route);
        p->set_mode(mode);
        p->add_participants(node);
        p->set_protocol(ClusterNode::kPeerProtocol);
        p->add_opening(lambda);
        ParentOrder* o = p->mutable_order();
        o->set_id(route);
        o->set_symbol("BTC-USD");
        o->set_side(side);
        o->set_quantity(5'000'000'000);  // 50 BTC: more than the books hold up to 65100.00, so a share.
        o->set_time_in_force(TIME_IN_FORCE_GTC);
        EvaluateRequest* e = calls[1].mutable_evaluate();
        e->set_route_id(route);
        e->set_round(2);
        e->set_lambda(lambda);
        e->add_also(lambda + 100);
        calls[2].mutable_next_breakpoint()->set_route_id(route);
        calls[2].mutable_next_breakpoint()->set_lambda(lambda);
        SplitTiesRequest* s = calls[3].mutable_split_ties();
        s->set_route_id(route);
        s->set_lambda(lambda);
        s->set_tie_need(1000);
        s->set_tie_total(5000);
        s->set_spare_cap(10);
        FixedDual* f = calls[4].mutable_execute()->mutable_fixed_dual();
        calls[4].mutable_execute()->set_route_id(route);
        f->set_lambda(lambda);
        f->set_tie_need(1000);
        f->set_tie_total(5000);
        f->mutable_route()->set_route_id(route);
        f->mutable_route()->set_coordinator(node);
        f->mutable_route()->add_nodes(node);
        // The route's new terms for the share just fixed (AmendPlan on a cluster node).
        AmendShareRequest* a = calls[5].mutable_amend();
        a->set_route_id(route);
        a->set_limit_price(static_cast<int64_t>(price) + (side == SIDE_BUY ? 1000 : -1000));
        a->set_urgency(URGENCY_HIGH);
        a->set_reason("fuzz");
        // Then a cut of it (a route's quantity cut below what its shares hold), and a working
        // quantity asked at a Prepare (a coordinator's working-quantity limit).
        calls.resize(8);
        calls[6].mutable_amend()->set_route_id(route);
        calls[6].mutable_amend()->set_share_quantity(500);
        *calls[7].mutable_prepare() = *p;
        calls[7].mutable_prepare()->set_route_id(route + "-w");
        calls[7].mutable_prepare()->mutable_order()->set_id(route + "-w");
        calls[7].mutable_prepare()->add_working_of("");
        calls[7].mutable_prepare()->add_working_of("desk-a");
        out.push_back(Calls(calls));
        // The same route with an urgency band: BestPrice first, then Prepare cut at a limit
        // near the λ asked (what a coordinator fixes from the best prices named), then Execute.
        const std::string banded = route + "-band";
        std::vector<PeerCall> band_calls(3);
        BestPriceRequest* b = band_calls[0].mutable_best_price();
        b->set_route_id(banded);
        *b->mutable_order() = *o;
        b->mutable_order()->set_id(banded);
        b->set_mode(mode);
        b->set_protocol(ClusterNode::kPeerProtocol);
        PrepareRequest* bp = band_calls[1].mutable_prepare();
        *bp = *p;
        bp->set_route_id(banded);
        bp->mutable_order()->set_id(banded);
        bp->set_band_limit(static_cast<int64_t>(price) + (side == SIDE_BUY ? 500 : -500));
        ExecuteRequest* be = band_calls[2].mutable_execute();
        be->set_route_id(banded);
        *be->mutable_fixed_dual() = *f;
        be->mutable_fixed_dual()->mutable_route()->set_route_id(banded);
        out.push_back(Calls(band_calls));
        // A route cancelled and amended while the node that works it could not be asked: the
        // notices, then a Prepare of the route and of a sub-route of it.
        const std::string gone = route + "-gone";
        std::vector<PeerCall> notice_calls(4);
        notice_calls[0].mutable_cancel()->set_route_id(gone);
        notice_calls[0].mutable_cancel()->set_leave_notice(true);
        notice_calls[0].mutable_cancel()->set_via("node-2");
        *notice_calls[1].mutable_amend() = *a;
        notice_calls[1].mutable_amend()->set_route_id(gone);
        notice_calls[1].mutable_amend()->set_leave_notice(true);
        *notice_calls[2].mutable_prepare() = *p;
        notice_calls[2].mutable_prepare()->set_route_id(gone);
        notice_calls[2].mutable_prepare()->mutable_order()->set_id(gone);
        *notice_calls[3].mutable_prepare() = *notice_calls[2].mutable_prepare();
        notice_calls[3].mutable_prepare()->set_route_id(gone + "~2");
        notice_calls.resize(6);  // Executed all the same, as a faulty coordinator might.
        *notice_calls[4].mutable_execute() = calls[4].execute();
        notice_calls[4].mutable_execute()->set_route_id(gone);
        notice_calls[4].mutable_execute()->mutable_fixed_dual()->mutable_route()->set_route_id(gone);
        // And the route's working sub-routes asked for, as a cancel asks while its keeper is down.
        notice_calls[5].mutable_progress()->set_route_id(route);
        notice_calls[5].mutable_progress()->set_list_sub_routes(true);
        // The notice of new terms sent again by a node that keeps it, with its time.
        notice_calls.push_back(notice_calls[1]);
        notice_calls.back().mutable_amend()->set_amended_ns(1'700'000'000'000'000'000);
        out.push_back(Calls(notice_calls));
      }
    }
  }
  // Every input again with the node halted.
  for (size_t i = 0, n_inputs = out.size(); i < n_inputs; ++i) {
    std::string halted = out[i];
    halted[0] = static_cast<char>(static_cast<uint8_t>(halted[0]) | 0x80);
    out.push_back(std::move(halted));
  }
  return out;
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ClusterNode& node = exo::fuzz::Cluster();
  std::map<std::string, int64_t> prepared;  // Route id -> the order's quantity it was prepared with.
  std::map<std::string, int64_t> shares;    // Plan id -> the share Execute fixed (cancelled at the end).
  std::map<std::string, RouteMode> modes;   // Route id -> the mode it was prepared in.
  std::set<std::string> noticed;            // Routes whose cancel the node keeps a notice of.
  const bool halted = size > 0 && (data[0] & 0x80) != 0;
  exo::daemon::RouterEngine& engine = *exo::fuzz::Node().engine;
  if (halted) FUZZ_CHECK(engine.SetTrading(true, "fuzz").ok(), "%s", "halting failed");
  size_t at = 0;
  while (at + 2 <= size) {
    const size_t len = (size_t{at == 0 ? static_cast<uint8_t>(data[at] & 0x7f) : data[at]} << 8) | data[at + 1];
    at += 2;
    if (len > size - at) break;
    PeerCall call;
    if (!call.ParseFromArray(data + at, static_cast<int>(len))) break;
    at += len;
    const PeerAnswer answer = node.Answer(call);
    FUZZ_CHECK(!answer.has_error() || (answer.error().code() != static_cast<int>(absl::StatusCode::kInternal) &&
                                       answer.error().code() != static_cast<int>(absl::StatusCode::kUnknown)),
               "%s", answer.ShortDebugString().c_str());
    if (call.has_prepare() && answer.has_prepare()) {
      // A route whose cancel this node noted takes no new share, nor do its sub-routes.
      FUZZ_CHECK(noticed.count(RouteOf(call.prepare().route_id())) == 0 || answer.prepare().cancel_noticed(),
                 "a cancelled route prepared without its notice: %s", answer.prepare().ShortDebugString().c_str());
      prepared[call.prepare().route_id()] = call.prepare().order().quantity();
      modes[call.prepare().route_id()] = call.prepare().mode();
      const bool trades = call.prepare().mode() == ROUTE_MODE_EXECUTE;
      FUZZ_CHECK(answer.prepare().halted().empty() == !(halted && trades), "halted %d, mode %d, answered: %s", halted,
                 call.prepare().mode(), answer.prepare().ShortDebugString().c_str());
    }
    if (call.has_cancel() && answer.has_cancel() && answer.cancel().noticed()) {
      const ProgressReply progress = NoticesOf(node, call.cancel().route_id());
      FUZZ_CHECK(progress.cancel_notice().route_id() == call.cancel().route_id(), "a cancel noted but not kept: %s",
                 progress.ShortDebugString().c_str());
      noticed.insert(call.cancel().route_id());
    }
    if (call.has_amend() && answer.has_amend() && answer.amend().noticed()) {
      std::string why;
      const ProgressReply progress = NoticesOf(node, call.amend().route_id(), &why);
      // A client's amendment is kept as given; a notice sent again by another node is kept, or
      // one amended as late or later stands.
      FUZZ_CHECK(progress.terms_notice().route_id() == call.amend().route_id() &&
                     (call.amend().amended_ns() > 0
                          ? progress.terms_notice().amended_ns() >= call.amend().amended_ns()
                          : (!call.amend().has_limit_price() ||
                             progress.terms_notice().terms().limit_price() == call.amend().limit_price())),
                 "new terms noted but not kept: %s%s", progress.ShortDebugString().c_str(), why.c_str());
    } else if (call.has_amend() && answer.has_amend()) {
      absl::StatusOr<Plan> share = exo::fuzz::Node().engine->GetPlan(call.amend().route_id());
      FUZZ_CHECK(share.ok(), "amended a share it cannot show: %s", share.status().ToString().c_str());
      auto it = shares.find(call.amend().route_id());
      if (call.amend().has_share_quantity()) {  // A cut: to what was asked, never below what filled.
        FUZZ_CHECK(share->order().quantity() == call.amend().share_quantity() &&
                       share->order().quantity() >= share->filled_quantity(),
                   "a cut to %lld left the share at: %s", static_cast<long long>(call.amend().share_quantity()),
                   share->ShortDebugString().c_str());
        if (it != shares.end()) it->second = share->order().quantity();
      } else {
        FUZZ_CHECK(it == shares.end() || share->order().quantity() == it->second, "an amendment changed the share: %s",
                   share->ShortDebugString().c_str());
      }
    }
    if (call.has_execute() && answer.has_execute()) {
      const int64_t share = answer.execute().quantity();
      FUZZ_CHECK(share >= 0, "share %lld", static_cast<long long>(share));
      auto it = prepared.find(call.execute().route_id());
      FUZZ_CHECK(it == prepared.end() || share <= it->second, "share %lld of an order of %lld",
                 static_cast<long long>(share), static_cast<long long>(it->second));
      auto mode = modes.find(call.execute().route_id());
      FUZZ_CHECK(!halted || mode == modes.end() || mode->second != ROUTE_MODE_EXECUTE ||
                     (share == 0 && answer.execute().plan_id().empty()),
                 "a halted node took a share: %s", answer.execute().ShortDebugString().c_str());
      FUZZ_CHECK(noticed.count(RouteOf(call.execute().route_id())) == 0 || answer.execute().plan_id().empty(),
                 "a cancelled route took a share: %s", answer.execute().ShortDebugString().c_str());
      if (!answer.execute().plan_id().empty()) shares[answer.execute().plan_id()] = share;
    }
  }
  for (const auto& [plan_id, share] : shares) (void)engine.Cancel(plan_id, "fuzz");
  if (halted) FUZZ_CHECK(engine.SetTrading(false, "fuzz").ok(), "%s", "resuming failed");
  return 0;
}
