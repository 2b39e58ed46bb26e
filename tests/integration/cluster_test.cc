// A 3-node cluster on loopback: three exorouted processes, three data directories, peers over
// real mutual TLS with certificates from deploy/gen-certs.sh. Checks that a route split across
// the nodes equals, to the lot, the single-node plan over the union of their venues; that a
// dead node is dropped within the deadline; and that a certificate from another CA, or a peer
// presenting another node's identity, is refused.
#include <catch2/catch.hpp>

#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/cpp/exoroute_client.h"
#include "exo/fixed_point.h"
#include "daemon/cluster/cluster_node.h"
#include "daemon/cluster/peer_service.h"
#include "exoroute/v1/peer.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/audit.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "store/delta_store.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/e2e.h"
#include "tests/testing/cluster_certs.h"
#include "tests/testing/free_port.h"
#include "tests/testing/http_get.h"
#include "tests/testing/recorded_feeds.h"
#include "tests/testing/temp_dir.h"

using exo::testing::Connect;
using exo::testing::DaemonProcess;
using exo::testing::kBtc;
using exo::testing::TempDir;
using namespace exoroute::v1;  // NOLINT

namespace {


// Four simulated venues owned by `node` (static books: they never move, so every process that
// configures the same venue sees the same book). With `min_sizes`, every other venue takes no
// child under 1.2 BTC.
std::string VenuesOf(int node, bool min_sizes = false) {
  std::string out;
  for (int v = 0; v < 4; ++v) {
    int seed = node * 10 + v;
    if (!out.empty()) out += ",\n";
    out += R"({"id": "N)" + std::to_string(node) + "-V" + std::to_string(v) +
           R"(", "taker_fee_bps": )" + std::to_string(1 + (seed % 4)) +
           R"(, "max_book_age_ms": 3600000,
      "markets": [{"symbol": "BTC-USD", "lot_size": 100000)" +
           (min_sizes && seed % 2 == 0 ? R"(, "min_quantity": 120000000)" : "") + R"(}],
      "sim": {"seed": )" + std::to_string(seed) + R"(, "mid_price": )" +
           std::to_string(6500000 + 50 * (seed % 5)) +
           R"(, "tick_size": 50, "depth": 20, "level_size": )" + std::to_string(20000000 + 5000000 * v) +
           R"(, "latency_ms": 2, "update_interval_ms": 3600000}})";
  }
  return out;
}

std::string NodeConfig(const std::string& node, const std::string& dir, const std::string& venues,
                       const std::string& cluster, int qty_scale = 8, const std::string& routing = "",
                       const std::string& members = "") {
  return R"({"node_id": ")" + node + R"(", "data_dir": ")" + dir +
         R"(", "listen": {"address": "127.0.0.1:0"},
    "instruments": [{"symbol": "BTC-USD", "price_scale": 2, "qty_scale": )" + std::to_string(qty_scale) + R"(}],
    "venues": [)" + venues + R"(],
    "routing": {"replan_interval_ms": 10)" + routing + R"(},
    "admin": {"listen": "127.0.0.1:0"})" +
         (cluster.empty() ? "" : R"(, "cluster": )" + cluster) + (members.empty() ? "" : ", " + members) + "}";
}

struct Cluster {
  TempDir dir;
  std::string certs = dir / "certs";
  int peer_port[3] = {exo::testing::FreePort(), exo::testing::FreePort(), exo::testing::FreePort()};

  std::unique_ptr<DaemonProcess> nodes[3];

  Cluster() { REQUIRE(exo::testing::GenerateClusterCerts(certs, "n1 n2 n3")); }
  std::string privacy[3];  // Extra "privacy" object per node, if any.
  // Every node's round deadline unless a test names one. Generous: a loaded CI machine once
  // took over 500 ms for a first Prepare (keys fetched, TLS handshakes) and a test about plans
  // then saw a node dropped; tests about faults set their own.
  uint32_t round_timeout_ms = 3000;
  std::string ClusterJson(int k, const std::string& cert_of = "", uint32_t timeout_ms = 0) {
    if (timeout_ms == 0) timeout_ms = round_timeout_ms;
    std::string id = "n" + std::to_string(k + 1);
    std::string cert = cert_of.empty() ? id : cert_of;
    std::string peers;
    for (int j = 0; j < 3; ++j) {
      if (j == k || retired[j]) continue;
      if (!peers.empty()) peers += ", ";
      peers += R"({"node_id": "n)" + std::to_string(j + 1) + R"(", "address": "127.0.0.1:)" +
               std::to_string(peer_port[j]) + R"("})";
    }
    return R"({"listen": "127.0.0.1:)" + std::to_string(peer_port[k]) + R"(", "ca_file": ")" +
           certs + R"(/ca.pem", "cert_file": ")" + certs + "/" + cert + R"(.pem", "key_file": ")" +
           certs + "/" + cert + R"(.key", "round_timeout_ms": )" + std::to_string(timeout_ms) +
           (privacy[k].empty() ? "" : R"(, "privacy": )" + privacy[k]) + cluster_extra + R"(, "peers": [)" + peers + "]}";
  }
  std::string cluster_extra;  // More keys of every node's "cluster" (", \"key\": value").
  bool retired[3] = {false, false, false};  // Left out of the other nodes' peer lists.
  bool min_sizes = false;  // Venues with minimum child sizes (VenuesOf).
  std::string venues[3];   // Instead of VenuesOf, when set.
  int qty_scale[3] = {8, 8, 8};  // Each node's BTC-USD quantity scale.
  std::string routing;           // More keys of every node's "routing" (", \"key\": value").
  std::string members[3];        // More top-level members of each node's config ("\"key\": value").
  std::vector<std::string> env[3];  // More environment of each node's process ("NAME=value").
  int api_port[3] = {0, 0, 0};      // Each node's client API port, when kept across restarts (0: any).
  void Start(int k, const std::string& cluster_json = "") {
    std::string id = "n" + std::to_string(k + 1);
    std::string data = dir / id;
    std::string error;
    std::string config = NodeConfig(id, data, venues[k].empty() ? VenuesOf(k + 1, min_sizes) : venues[k],
                                    cluster_json.empty() ? ClusterJson(k) : cluster_json, qty_scale[k], routing,
                                    members[k]);
    const std::string any = "127.0.0.1:0";  // (The first is the API's listen address.)
    if (api_port[k] > 0) config.replace(config.find(any), any.size(), "127.0.0.1:" + std::to_string(api_port[k]));
    nodes[k] = DaemonProcess::Start(data, config, &error, env[k]);
    INFO(error);
    REQUIRE(nodes[k] != nullptr);
  }
  // Node `id`'s cluster identity (its certificate and key, the cluster CA): to call or serve as
  // that node from the test.
  ClusterConfig As(const std::string& id) const {
    ClusterConfig config;
    config.set_ca_file(certs + "/ca.pem");
    config.set_cert_file(certs + "/" + id + ".pem");
    config.set_key_file(certs + "/" + id + ".key");
    return config;
  }
  // A peer channel to node k (0-based) presenting node `as`'s certificate.
  std::shared_ptr<grpc::Channel> PeerChannelAs(const std::string& as, int k) const {
    PeerConfig to;
    to.set_node_id("n" + std::to_string(k + 1));
    to.set_address("127.0.0.1:" + std::to_string(peer_port[k]));
    auto channel = exo::daemon::cluster::PeerChannel(As(as), to);
    REQUIRE(channel.ok());
    return *channel;
  }
  // The reference: one node that owns every venue of the three (the same static books).
  std::unique_ptr<DaemonProcess> StartSolo() {
    std::string all;
    for (int k = 0; k < 3; ++k) {
      all += (k == 0 ? "" : ",\n") + (venues[k].empty() ? VenuesOf(k + 1, min_sizes) : venues[k]);
    }
    std::string solo_dir = dir / "solo";
    std::string error;
    auto solo = DaemonProcess::Start(solo_dir, NodeConfig("solo", solo_dir, all, "", 8, routing), &error);
    INFO(error);
    REQUIRE(solo != nullptr);
    return solo;
  }
};

// Every node's venues refill their books every 300 ms (a sim venue's step draws its levels
// anew), and coordinators route a shortfall again every 200 ms.
void MakeRefilling(Cluster& c) {
  const std::string hourly = "\"update_interval_ms\": 3600000";
  for (int k = 0; k < 3; ++k) {
    c.venues[k] = VenuesOf(k + 1);
    for (size_t at; (at = c.venues[k].find(hourly)) != std::string::npos;) {
      c.venues[k].replace(at, hourly.size(), "\"update_interval_ms\": 300");
    }
  }
  c.cluster_extra = R"(, "shortfall_retry_ms": 200)";
}

RouteRequest PlanOnly(const std::string& id, Side side, int64_t qty) {
  return exo::testing::BtcOrder(id, side, qty, ROUTE_MODE_PLAN_ONLY);
}

RouteRequest Executed(const std::string& id, Side side, int64_t qty) {
  return exo::testing::BtcOrder(id, side, qty, ROUTE_MODE_EXECUTE);
}

grpc::Status CallRoute(const DaemonProcess& d, const RouteRequest& req, RouteResponse* resp) {
  return exo::testing::CallRoute(Connect(d), req, resp, std::chrono::seconds(20));
}

// CancelPlan / AmendPlan of a route on node d (any node of the cluster will do).
grpc::Status CancelOn(const DaemonProcess& d, const std::string& id, const std::string& reason,
                      CancelPlanResponse* resp) {
  CancelPlanRequest req;
  req.set_plan_id(id);
  req.set_reason(reason);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return RouterService::NewStub(Connect(d))->CancelPlan(&ctx, req, resp);
}

// Peer `peer` as node `d` reports it in Status (nullopt if Status fails or names no such peer).
std::optional<PeerStatus> PeerOn(const DaemonProcess& d, const std::string& peer) {
  StatusResponse st;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!AdminService::NewStub(Connect(d))->Status(&ctx, StatusRequest(), &st).ok()) return std::nullopt;
  for (const PeerStatus& p : st.peers()) {
    if (p.node() == peer) return p;
  }
  return std::nullopt;
}

// Whether node d's log shows `text` past its first `from` bytes within 20 s.
bool LogShows(const DaemonProcess& d, const std::string& text, size_t from = 0) {
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20); std::chrono::steady_clock::now() < until;) {
    if (d.log().find(text, from) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return d.log().find(text, from) != std::string::npos;
}

grpc::Status AmendOn(const DaemonProcess& d, const AmendPlanRequest& req, AmendPlanResponse* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return RouterService::NewStub(Connect(d))->AmendPlan(&ctx, req, resp);
}

// AmendPlan on node d that must succeed: its answer.
AmendPlanResponse AmendOk(const DaemonProcess& d, const AmendPlanRequest& req) {
  AmendPlanResponse resp;
  const grpc::Status s = AmendOn(d, req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp;
}

// An amendment of route `id` to a market order (its limit removed).
AmendPlanRequest ToMarket(const std::string& id, const std::string& reason = "") {
  AmendPlanRequest req;
  req.set_plan_id(id);
  req.set_remove_limit(true);
  req.set_reason(reason);
  return req;
}

// The plan `id` on node d (nullopt if the node has no such plan).
std::optional<Plan> PlanOn(const DaemonProcess& d, const std::string& id) {
  GetPlanRequest req;
  req.set_plan_id(id);
  GetPlanResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = RouterService::NewStub(Connect(d))->GetPlan(&ctx, req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp.plan();
}

// The nodes that took a share of a cluster route (each has a plan of it; the others have none).
std::set<std::string> SharingNodes(const RouteResponse& routed) {
  std::set<std::string> out;
  for (const auto& sh : routed.cluster().shares()) {
    if (sh.quantity() > 0) out.insert(sh.node());
  }
  return out;
}

// venue -> quantity of the plan `id` on node d (absent if the node has no such plan).
std::map<std::string, int64_t> Allocations(const DaemonProcess& d, const std::string& id) {
  std::map<std::string, int64_t> out;
  if (std::optional<Plan> p = PlanOn(d, id)) {
    for (const auto& a : p->allocations()) out[a.venue()] = a.quantity();
  }
  return out;
}

}  // namespace

TEST_CASE("a route split across three nodes equals the single-node plan over all their venues, to the lot") {
  Cluster c;
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto solo = c.StartSolo();

  int n = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    for (int64_t qty : {kBtc / 2, 3 * kBtc, 17 * kBtc + 300000, 40 * kBtc}) {
      std::string id = "r" + std::to_string(++n);
      RouteResponse reference, split;
      REQUIRE(CallRoute(*solo, PlanOnly(id, side, qty), &reference).ok());
      // Any node can coordinate: rotate.
      const DaemonProcess& coordinator = *c.nodes[n % 3];
      grpc::Status s = CallRoute(coordinator, PlanOnly(id, side, qty), &split);
      INFO(s.error_message());
      REQUIRE(s.ok());
      std::map<std::string, int64_t> want, got;
      for (const auto& a : reference.plan().allocations()) want[a.venue()] = a.quantity();
      int64_t total = 0;
      for (int k = 0; k < 3; ++k) {
        for (const auto& [venue, q] : Allocations(*c.nodes[k], id)) {
          got[venue] = q;
          total += q;
        }
      }
      INFO("route " << id << " side " << Side_Name(side) << " qty " << qty);
      REQUIRE_FALSE(want.empty());
      CHECK(got == want);
      CHECK(split.cluster().shortfall() == reference.plan().shortfall());
      CHECK(split.cluster().route().nodes_size() == 3);
      CHECK(split.cluster().route().rounds() > 0);
      int64_t shares = 0;
      for (const auto& sh : split.cluster().shares()) shares += sh.quantity();
      CHECK(shares == total);
      if (qty >= 17 * kBtc) {  // A large order needs venues of every node.
        std::set<char> owners;
        for (const auto& [venue, q] : got) owners.insert(venue[1]);
        CHECK(owners.size() == 3);
      }
      // The coordinator answers with its own plan, decided at the cluster's λ.
      if (!split.plan().plan_id().empty()) {
        CHECK(split.plan().last_solve().method() == SOLVER_METHOD_CLUSTER_EXACT);
      }
    }
  }
  // n1 coordinated routes 3 and 6: its /metrics shows how long each node took per kind of call.
  auto metrics = exo::testing::HttpRequest(exo::testing::AdminPort(c.dir / "n1"), "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  INFO(metrics.body.substr(metrics.body.find("exoroute_peer_call_seconds") == std::string::npos ? 0 : metrics.body.find("exoroute_peer_call_seconds")));
  for (const char* node : {"n1", "n2", "n3"}) {
    const std::string series = std::string("exoroute_peer_call_seconds_count{node=\"") + node;
    CHECK(metrics.body.find(series + "\",call=\"prepare\"} 2\n") != std::string::npos);
    CHECK(metrics.body.find(series + "\",call=\"execute\"} 2\n") != std::string::npos);
    CHECK(metrics.body.find(series + "\",call=\"evaluate\"} 0\n") == std::string::npos);  // Every route searched.
  }
  // `exoroutectl status` shows the peers, connected, with their calls.
  auto status = exo::testing::Ctl(*c.nodes[0], {"--json", "status"});
  INFO(status.out << status.err);
  StatusResponse st;
  REQUIRE(google::protobuf::util::JsonStringToMessage(status.out, &st).ok());
  REQUIRE(st.peers_size() == 2);
  for (const PeerStatus& p : st.peers()) {
    CHECK((p.node() == "n2" || p.node() == "n3"));
    CHECK(p.connection() == "ready");
    CHECK(p.calls() >= 10);  // Two routes: a prepare, rounds, a tie split and an execute each.
    CHECK(p.mean_answer_us() > 0);
  }
  auto text = exo::testing::Ctl(*c.nodes[0], {"status"});
  INFO("status: exit " << text.exit_code << "\n" << text.out << text.err);
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("PEER       ADDRESS") != std::string::npos);
}

namespace {

std::map<std::string, int64_t> AllocationsOf(const Plan& p) {
  std::map<std::string, int64_t> out;
  for (const auto& a : p.allocations()) out[a.venue()] = a.quantity();
  return out;
}

// Route `id`'s allocations over the three nodes (each node has its own venues' part).
std::map<std::string, int64_t> AllocationsOnAll(Cluster& c, const std::string& id) {
  std::map<std::string, int64_t> out;
  for (int k = 0; k < 3; ++k) {
    for (const auto& [venue, q] : Allocations(*c.nodes[k], id)) out[venue] = q;
  }
  return out;
}

// One simulated venue with a static book: the same seed, mid, size and fee give the same book.
std::string SimVenue(const std::string& id, int64_t lot, int seed, int64_t mid, double fee_bps) {
  return R"({"id": ")" + id + R"(", "taker_fee_bps": )" + std::to_string(fee_bps) +
         R"(, "max_book_age_ms": 3600000, "markets": [{"symbol": "BTC-USD", "lot_size": )" + std::to_string(lot) +
         R"(}], "sim": {"seed": )" + std::to_string(seed) + R"(, "mid_price": )" + std::to_string(mid) +
         R"(, "tick_size": 50, "depth": 20, "level_size": 20000000, "latency_ms": 2, "update_interval_ms": 3600000}})";
}

// The coordinator's count of calls of one kind to `node` (its /metrics).
int64_t CallCount(const TempDir& dir, const std::string& coordinator, const std::string& node, const std::string& call) {
  std::string admin;
  std::ifstream(dir / (coordinator + "/admin_endpoint")) >> admin;
  auto m = exo::testing::HttpRequest(std::stoi(admin.substr(admin.find(':') + 1)), "GET", "/metrics");
  const std::string key = "exoroute_peer_call_seconds_count{node=\"" + node + "\",call=\"" + call + "\"} ";
  const size_t at = m.body.find(key);
  return at == std::string::npos ? -1 : std::stoll(m.body.substr(at + key.size()));
}

}  // namespace

TEST_CASE("a tie between venues of different lot sizes on different nodes is split as one node splits it") {
  // Two venues on two nodes with the same book and fee (so every level ties between them), one
  // trading in lots of 0.00001 BTC and one in lots of 0.001 BTC; a third, dearer venue elsewhere.
  // The coarse venue's rounding leaves up to one coarse lot, which the fine venue must take
  // lot by lot: more than one spare lot of one venue, so the tie split asks twice.
  Cluster c;
  c.venues[0] = SimVenue("A-FINE", 1000, 7, 6500000, 2);
  c.venues[1] = SimVenue("B-COARSE", 100000, 7, 6500000, 2);
  c.venues[2] = SimVenue("C-DEAR", 100000, 8, 6500300, 3);
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto solo = c.StartSolo();
  int n = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    for (int64_t qty : {int64_t{12'345'000}, int64_t{87'654'000}, int64_t{250'001'000}, int64_t{1'234'567'000}}) {
      const std::string id = "tie-" + std::to_string(++n);
      RouteResponse reference, split;
      REQUIRE(CallRoute(*solo, PlanOnly(id, side, qty), &reference).ok());
      grpc::Status s = CallRoute(*c.nodes[0], PlanOnly(id, side, qty), &split);
      INFO(s.error_message());
      REQUIRE(s.ok());
      INFO("route " << id << " side " << Side_Name(side) << " qty " << qty);
      CHECK(AllocationsOnAll(c, id) == AllocationsOf(reference.plan()));
      CHECK(split.cluster().shortfall() == reference.plan().shortfall());
    }
  }
  // Some routes needed the second tie call, the others not.
  const int64_t ties = CallCount(c.dir, "n1", "n2", "split_ties");
  CHECK(ties > n);
  CHECK(ties < 2 * n);
}

// A retried route's answer rebuilt from the nodes' records is the first one: the same shares,
// λ*, shortfall and record of the route.
void CheckSameAnswer(const ClusterRouteSummary& first, const ClusterRouteSummary& again) {
  INFO(first.ShortDebugString() << "\n" << again.ShortDebugString());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(first, again));
}

TEST_CASE("allowed and denied venues across nodes, the order's checks and a retried id, as one node has them") {
  Cluster c;
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto solo = c.StartSolo();
  struct Lists {
    std::vector<std::string> allowed, denied;
  };
  int n = 0;
  // (The last: only one node's venues, the others taking part with nothing to offer.)
  for (const Lists& lists : {Lists{{"N1-V0", "N2-V1", "N3-V3"}, {}}, Lists{{}, {"N3-V0", "N3-V1", "N3-V2", "N3-V3", "N1-V2"}},
                             Lists{{"N2-V0", "N2-V2", "N1-V1"}, {"N3-V3"}},
                             Lists{{"N2-V0", "N2-V1", "N2-V2", "N2-V3"}, {}}}) {
    const std::string id = "lists-" + std::to_string(++n);
    RouteRequest req = PlanOnly(id, SIDE_BUY, 9 * kBtc);
    for (const auto& v : lists.allowed) req.mutable_order()->add_allowed_venues(v);
    for (const auto& v : lists.denied) req.mutable_order()->add_denied_venues(v);
    RouteResponse reference, split;
    REQUIRE(CallRoute(*solo, req, &reference).ok());
    grpc::Status s = CallRoute(*c.nodes[n % 3], req, &split);
    INFO("route " << id << ": " << s.error_message());
    std::string drops;  // (Why a node was left out, should one be.)
    for (const auto& d : split.cluster().route().dropped()) drops += d.node() + ": " + d.reason() + "; ";
    INFO("dropped " << drops);
    REQUIRE(s.ok());
    CHECK(AllocationsOnAll(c, id) == AllocationsOf(reference.plan()));
    CHECK(split.cluster().shortfall() == reference.plan().shortfall());
    CHECK(split.cluster().route().dropped_size() == 0);  // Every node took part, allowed venues or not.
  }
  // A limit exactly at a level's price (the dearest level a 9 BTC buy touched) on an order the
  // venues cannot fill within it: the level at the limit taken, the rest shortfall, as one node.
  {
    RouteResponse probe;
    REQUIRE(CallRoute(*solo, PlanOnly("limit-probe", SIDE_BUY, 9 * kBtc), &probe).ok());
    int64_t limit = 0;
    for (const auto& a : probe.plan().allocations()) limit = std::max(limit, a.limit_price());
    REQUIRE(limit > 0);
    for (Side side : {SIDE_BUY, SIDE_SELL}) {
      const std::string id = std::string("at-limit-") + (side == SIDE_BUY ? "buy" : "sell");
      RouteRequest req = PlanOnly(id, side, 60 * kBtc);
      req.mutable_order()->set_limit_price(limit);
      RouteResponse reference, split;
      REQUIRE(CallRoute(*solo, req, &reference).ok());
      grpc::Status s = CallRoute(*c.nodes[0], req, &split);
      const std::string error = s.error_message();
      INFO(id << ": " << error);
      REQUIRE(s.ok());
      CHECK(AllocationsOnAll(c, id) == AllocationsOf(reference.plan()));
      CHECK(split.cluster().shortfall() == reference.plan().shortfall());
      if (side == SIDE_BUY) CHECK(reference.plan().shortfall() > 0);  // The limit binds.
    }
  }
  // Refused as one node refuses them, naming the field.
  RouteRequest unknown = PlanOnly("unknown-venue", SIDE_BUY, kBtc);
  unknown.mutable_order()->add_allowed_venues("N2-V0");
  unknown.mutable_order()->add_allowed_venues("NOPE");
  RouteResponse r;
  grpc::Status s = CallRoute(*c.nodes[0], unknown, &r);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "order.allowed_venues[1]: unknown venue \"NOPE\" (no node of the cluster has it)");
  s = CallRoute(*c.nodes[0], PlanOnly("odd-quantity", SIDE_BUY, kBtc + 50'000), &r);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() ==
        "order.quantity: 1.00050000 is not a multiple of the smallest lot (0.00100000) of the venues it may use");
  for (int k = 0; k < 3; ++k) {  // Nothing was recorded for either.
    CHECK(Allocations(*c.nodes[k], "unknown-venue").empty());
    CHECK(Allocations(*c.nodes[k], "odd-quantity").empty());
  }
  // A route id is a plan id: a retry of the same order gets the same answer (a client that lost
  // the first answer), another order under that id is refused, on any coordinator.
  RouteResponse first, retry, other;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("retried", SIDE_SELL, 4 * kBtc), &first).ok());
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("retried", SIDE_SELL, 4 * kBtc), &retry).ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(retry.cluster(), first.cluster()));
  CHECK(retry.cluster().route().dropped_size() == 0);
  s = CallRoute(*c.nodes[0], PlanOnly("retried", SIDE_SELL, 5 * kBtc), &other);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(s.error_message() == "order.id: plan \"retried\" already exists with a different order");
  // On another coordinator, which kept no answer: the answer the nodes recorded with their
  // shares; another order is refused there too.
  RouteResponse elsewhere;
  s = CallRoute(*c.nodes[1], PlanOnly("retried", SIDE_SELL, 4 * kBtc), &elsewhere);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CheckSameAnswer(first.cluster(), elsewhere.cluster());
  s = CallRoute(*c.nodes[1], PlanOnly("retried", SIDE_SELL, 5 * kBtc), &other);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(s.error_message() == "order.id: plan \"retried\" already exists with a different order");
  int64_t total = 0;
  for (int k = 0; k < 3; ++k) {
    for (const auto& [venue, q] : Allocations(*c.nodes[k], "retried")) total += q;
  }
  CHECK(total == 4 * kBtc);  // Still the first route's plans, untouched.
}


TEST_CASE("a plan-only or IOC route retried after its coordinator restarted gets the answer the nodes recorded, once "
          "every node that may hold a share can be asked",
          "[cluster][crash]") {
  Cluster c;
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteResponse planned, ioc;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("again-plan", SIDE_BUY, 4 * kBtc), &planned).ok());
  RouteRequest ioc_req = Executed("again-ioc", SIDE_BUY, 2 * kBtc);
  ioc_req.mutable_order()->set_time_in_force(TIME_IN_FORCE_IOC);
  REQUIRE(CallRoute(*c.nodes[0], ioc_req, &ioc).ok());
  REQUIRE(ioc.cluster().shares_size() == 3);
  // n1 crashes and is back: it kept no answer to either (only executed GTC and GTT routes keep
  // theirs on disk). With n3 down too, a node that may hold a share cannot be asked: refused,
  // saying what to do.
  c.nodes[0]->Kill9();
  c.nodes[2]->Kill9();
  c.Start(0);
  RouteResponse again;
  grpc::Status s = CallRoute(*c.nodes[0], PlanOnly("again-plan", SIDE_BUY, 4 * kBtc), &again);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(s.error_message().rfind("order.id: plan \"again-plan\" already exists on node n", 0) == 0);
  CHECK(s.error_message().find(": GetRoute \"again-plan\" on any node tells how it stands)") != std::string::npos);
  // Every node back (once n1's link to n3 has reconnected, within a second): the same answer as
  // the first time, and nothing routed again.
  c.Start(2);
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10); std::chrono::steady_clock::now() < until;) {
    s = CallRoute(*c.nodes[0], PlanOnly("again-plan", SIDE_BUY, 4 * kBtc), &again);
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(s.error_message());
  REQUIRE(s.ok());
  CheckSameAnswer(planned.cluster(), again.cluster());
  CHECK(again.plan().plan_id() == "again-plan");
  RouteResponse ioc_again;
  s = CallRoute(*c.nodes[0], ioc_req, &ioc_again);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CheckSameAnswer(ioc.cluster(), ioc_again.cluster());
  CHECK(c.nodes[0]->log().find("route again-ioc: retried, and this node kept no answer to it: answered from what the "
                               "nodes recorded with their shares (n1, n2, n3)") != std::string::npos);
  int64_t shares = 0;  // Each node's plan of it, as the first route made it: placed once.
  for (int k = 0; k < 3; ++k) {
    if (const std::optional<Plan> p = PlanOn(*c.nodes[k], "again-ioc"); p.has_value()) shares += p->order().quantity();
  }
  CHECK(shares == 2 * kBtc - ioc.cluster().shortfall());
  // Another order under either id, or the IOC one as plan-only: refused.
  s = CallRoute(*c.nodes[0], PlanOnly("again-plan", SIDE_BUY, 3 * kBtc), &again);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(s.error_message() == "order.id: plan \"again-plan\" already exists with a different order");
  s = CallRoute(*c.nodes[0], PlanOnly("again-ioc", SIDE_BUY, 2 * kBtc), &again);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
}

TEST_CASE("cancelling a cluster route on any node cancels every node's plan of it") {
  Cluster c;
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteResponse routed;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("to-cancel", SIDE_BUY, 9 * kBtc), &routed).ok());
  const std::set<std::string> sharing = SharingNodes(routed);
  REQUIRE(sharing.size() >= 2);
  auto cancel = [&](int k, const std::string& id, CancelPlanResponse* resp) {
    return CancelOn(*c.nodes[k], id, "desk said stop", resp);
  };
  CancelPlanResponse resp;
  grpc::Status s = cancel(1, "to-cancel", &resp);  // Not the coordinator: any node will do.
  INFO(s.error_message());
  REQUIRE(s.ok());
  std::set<std::string> told;
  for (const auto& n : resp.nodes()) {
    told.insert(n.node());
    INFO("node " << n.node() << ": " << n.error());
    CHECK(n.status() == PLAN_STATUS_CANCELLED);
    CHECK(n.error().empty());
  }
  CHECK(told == sharing);  // Every node with a share, and only those.
  // n2's /metrics counts its cancel call to n1 as a cancel (not as an abort, or a progress).
  CHECK(CallCount(c.dir, "n2", "n1", "cancel") == 1);
  CHECK(CallCount(c.dir, "n2", "n1", "abort") == 0);
  CHECK(CallCount(c.dir, "n2", "n1", "progress") == 0);
  for (int k = 0; k < 3; ++k) {
    std::optional<Plan> p = PlanOn(*c.nodes[k], "to-cancel");
    CHECK(p.has_value() == (sharing.count("n" + std::to_string(k + 1)) > 0));
    if (p) {
      CHECK(p->status() == PLAN_STATUS_CANCELLED);
      CHECK(p->reason() == "desk said stop");
    }
  }
  s = cancel(0, "to-cancel", &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message().find("already finished: CANCELLED") != std::string::npos);
  s = cancel(2, "never-routed", &resp);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.error_message() == "plan \"never-routed\" not found on any node of the cluster");
  // The CLI shows each node's outcome.
  REQUIRE(CallRoute(*c.nodes[2], PlanOnly("to-cancel-2", SIDE_SELL, 9 * kBtc), &routed).ok());
  auto cli = exo::testing::Ctl(*c.nodes[0], {"plan", "cancel", "to-cancel-2"});
  INFO(cli.out << cli.err);
  CHECK(cli.exit_code == 0);
  CHECK(cli.out.find("cluster route to-cancel-2 cancelled on its nodes:") != std::string::npos);
  CHECK(cli.out.find("  node n1  CANCELLED") != std::string::npos);
}

// A route's progress as node d answers it (GetRoute).
GetRouteResponse RouteProgress(const DaemonProcess& d, const std::string& route_id) {
  GetRouteRequest req;
  req.set_route_id(route_id);
  GetRouteResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const grpc::Status s = RouterService::NewStub(Connect(d))->GetRoute(&ctx, req, &resp);
  INFO(route_id << ": " << s.error_message());
  REQUIRE(s.ok());
  return resp;
}

// Polls node d's GetRoute of `route_id` until `done` holds (30 s at most).
GetRouteResponse RouteProgressUntil(const DaemonProcess& d, const std::string& route_id,
                                    const std::function<bool(const GetRouteResponse&)>& done) {
  GetRouteResponse r;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30); std::chrono::steady_clock::now() < until;) {
    r = RouteProgress(d, route_id);
    if (done(r)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return r;
}

// Every venue of node `node` (VenuesOf) a session that is up but answers nothing: children sent
// there stay open, so the shares of an executed route stay working.
std::string SilentVenuesOf(int node) {
  std::string venues = VenuesOf(node);
  for (size_t at = venues.find("\"latency_ms\": 2,"); at != std::string::npos;
       at = venues.find("\"latency_ms\": 2,", at + 40)) {
    venues.insert(at, "\"unresponsive\": true, ");
  }
  return venues;
}

TEST_CASE("a client whose answer was lost to its coordinator's crash gets it on a retry after the restart, and nothing is "
          "routed twice", "[cluster][crash]") {
  Cluster c;
  // n1 kills itself once every node has recorded its share of an executed route, before it
  // answers the client (daemon/crash_point.h).
  c.env[0] = {"EXOROUTED_CRASH_AT=cluster_route_executed"};
  for (int k = 0; k < 3; ++k) c.Start(k);
  const RouteRequest order = Executed("lost-answer", SIDE_BUY, 30 * kBtc);
  RouteResponse lost;
  CHECK(CallRoute(*c.nodes[0], order, &lost).error_code() == grpc::StatusCode::UNAVAILABLE);
  REQUIRE(c.nodes[0]->WaitForExit(std::chrono::seconds(30)) == 128 + SIGKILL);
  c.env[0].clear();
  c.Start(0);
  // The retry, on the same coordinator: answered from the route's record, with the shares every
  // node took before the crash and n1's own plan as it is now.
  RouteResponse again;
  const grpc::Status s = CallRoute(*c.nodes[0], order, &again);
  INFO(s.error_message());
  REQUIRE(s.ok());
  int64_t shares = 0;
  for (const NodeShare& sh : again.cluster().shares()) {
    INFO(sh.node());
    const std::optional<Plan> held = PlanOn(*c.nodes[std::stoi(sh.node().substr(1)) - 1], "lost-answer");
    REQUIRE(held.has_value() == (sh.quantity() > 0));
    if (held) CHECK(held->order().quantity() == sh.quantity());  // Each node's one plan of it: its share.
    shares += sh.quantity();
  }
  CHECK(shares == 30 * kBtc);
  CHECK(again.cluster().shortfall() == 0);
  CHECK(again.cluster().route().order_quantity() == 30 * kBtc);
  CHECK(again.plan().plan_id() == "lost-answer");
  CHECK(RouteProgress(*c.nodes[1], "lost-answer").quantity() == 30 * kBtc);  // Placed once.
  // Another order under the id is still refused; the retry through another node gets the same
  // answer, from what the nodes recorded with their shares.
  RouteRequest other = order;
  other.mutable_order()->set_quantity(31 * kBtc);
  RouteResponse refused;
  const grpc::Status different = CallRoute(*c.nodes[0], other, &refused);
  CHECK(different.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(different.error_message() == "order.id: plan \"lost-answer\" already exists with a different order");
  RouteResponse elsewhere;
  REQUIRE(CallRoute(*c.nodes[1], order, &elsewhere).ok());
  CheckSameAnswer(again.cluster(), elsewhere.cluster());
}

TEST_CASE("a cluster route's limit and urgency are amended on every node's share, its quantity where its work is kept") {
  Cluster c;
  // A pass of the shortfall worker a minute: what an amendment leaves to route is routed at once.
  c.cluster_extra = R"(, "shortfall_retry_ms": 60000)";
  for (int k = 0; k < 3; ++k) {
    c.venues[k] = SilentVenuesOf(k + 1);
    c.Start(k);
  }
  RouteRequest order = Executed("clu-amend", SIDE_BUY, 9 * kBtc);
  order.mutable_order()->set_limit_price(6'510'000);  // 65100.00: every node's asks are below it.
  // A venue of n3's denied: a list naming another node's venue is no error on n1 and n2, when
  // the route is made nor when it is amended.
  order.mutable_order()->add_denied_venues("N3-V3");
  RouteResponse routed;
  REQUIRE(CallRoute(*c.nodes[0], order, &routed).ok());
  const std::set<std::string> sharing = SharingNodes(routed);
  REQUIRE(sharing.size() >= 2);
  auto amend = [&](int k, const AmendPlanRequest& req, AmendPlanResponse* resp) {
    return AmendOn(*c.nodes[k], req, resp);
  };
  // On a node that is not the coordinator: every node's share takes the new limit and urgency.
  AmendPlanRequest widen;
  widen.set_plan_id("clu-amend");
  widen.set_limit_price(6'520'000);
  widen.set_urgency(URGENCY_HIGH);
  widen.set_reason("desk widens");
  AmendPlanResponse resp;
  grpc::Status s = amend(1, widen, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(resp.changed());
  std::set<std::string> told;
  for (const NodeAmend& n : resp.nodes()) {
    told.insert(n.node());
    INFO("node " << n.node() << ": " << n.error());
    CHECK(n.error().empty());
    CHECK(n.changed());
    CHECK(n.status() == PLAN_STATUS_WORKING);
  }
  CHECK(told == sharing);  // Every node with a share, and only those.
  CHECK(CallCount(c.dir, "n2", "n1", "amend") == 1);
  for (int k = 0; k < 3; ++k) {
    const std::string node = "n" + std::to_string(k + 1);
    std::optional<Plan> p = PlanOn(*c.nodes[k], "clu-amend");
    REQUIRE(p.has_value() == (sharing.count(node) > 0));
    if (!p) continue;
    INFO(node);
    CHECK(p->order().limit_price() == 6'520'000);
    CHECK(p->order().urgency() == URGENCY_HIGH);
    CHECK(p->amendments() == 1);
    CHECK(p->order().quantity() == routed.cluster().shares(k).quantity());  // Each share keeps its quantity.
  }
  // The same terms again: nothing recorded anywhere.
  s = amend(2, widen, &resp);
  REQUIRE(s.ok());
  CHECK_FALSE(resp.changed());
  for (const NodeAmend& n : resp.nodes()) CHECK_FALSE(n.changed());
  // The quantity, from a node that does not keep the route's work: the shares keep theirs (they
  // were fixed together), and what the route gains is left to route — by n1, its coordinator,
  // which placed all 9 BTC and so kept its work DONE until now.
  AmendPlanRequest more;
  more.set_plan_id("clu-amend");
  more.set_quantity(10 * kBtc);
  more.set_reason("desk adds 1");
  s = amend(2, more, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(resp.changed());
  CHECK(resp.nodes().empty());  // No share changed.
  CHECK(resp.shortfall_work().coordinator() == "n1");
  CHECK(resp.shortfall_work().order_quantity() == 10 * kBtc);
  CHECK(resp.shortfall_work().shortfall() == kBtc);
  CHECK(resp.shortfall_work().state() == ShortfallWork::STATE_OPEN);
  for (int k = 0; k < 3; ++k) {
    std::optional<Plan> p = PlanOn(*c.nodes[k], "clu-amend");
    if (p) CHECK(p->order().quantity() == routed.cluster().shares(k).quantity());
  }
  // n1 routes the rest as a sub-route at once (not at its next pass, a minute away): the route
  // holds 10 BTC across the nodes.
  const auto amended_at = std::chrono::steady_clock::now();
  const GetRouteResponse grown = RouteProgressUntil(*c.nodes[1], "clu-amend", [](const GetRouteResponse& r) {
    return r.quantity() == 10 * kBtc;
  });
  CHECK(std::chrono::steady_clock::now() - amended_at < std::chrono::seconds(30));
  CHECK(grown.quantity() == 10 * kBtc);
  CHECK(grown.order_quantity() == 10 * kBtc);
  CHECK(grown.shortfall() == 0);
  CHECK(grown.shortfall_work().state() == ShortfallWork::STATE_DONE);
  CHECK(grown.shortfall_work().sub_routes() == 1);
  std::optional<Plan> extra;
  for (int k = 0; k < 3 && !extra; ++k) extra = PlanOn(*c.nodes[k], "clu-amend~2");
  REQUIRE(extra.has_value());
  CHECK(extra->order().limit_price() == 6'520'000);  // The route's terms as amended.
  // Below what the shares hold, all of it at venues that never answer: nothing can come off
  // them, so nothing is amended, and the refusal names the least it may be.
  more.set_quantity(9 * kBtc + kBtc / 2);
  s = amend(0, more, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message() ==
        "quantity: 9.50000000 is below what route \"clu-amend\"'s shares have filled and their open children may still "
        "fill, in whole lots (10.00000000 of the 10.00000000 they hold): amend to at least 10.00000000, or cancel the "
        "route");
  CHECK(RouteProgress(*c.nodes[2], "clu-amend").order_quantity() == 10 * kBtc);
  // The CLI shows the whole and its parts; the same quantity again records nothing.
  auto same = exo::testing::Ctl(*c.nodes[1], {"plan", "amend", "clu-amend", "--qty", "10"});
  INFO(same.out << same.err);
  CHECK(same.exit_code == 0);
  CHECK(same.out.find("already has these terms: nothing amended") != std::string::npos);
  CHECK(same.out.find("  quantity  10.00000000 in all: 10.00000000 held by the nodes' shares, 0.00000000 left to "
                      "route\n") != std::string::npos);
  // An IOC route keeps no work: its quantity cannot change.
  RouteRequest ioc = Executed("clu-ioc", SIDE_BUY, kBtc);
  ioc.mutable_order()->set_time_in_force(TIME_IN_FORCE_IOC);
  RouteResponse ioc_routed;
  REQUIRE(CallRoute(*c.nodes[0], ioc, &ioc_routed).ok());
  more.set_plan_id("clu-ioc");
  more.set_quantity(2 * kBtc);
  s = amend(1, more, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message().rfind("quantity: no node keeps the shortfall work of route \"clu-ioc\"", 0) == 0);
  AmendPlanRequest unknown = widen;
  unknown.set_plan_id("never-routed");
  s = amend(0, unknown, &resp);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.error_message() == "plan \"never-routed\" not found on any node of the cluster");
  // The CLI shows each node's outcome, from any node (one without a share reads the scales from
  // the route).
  auto cli = exo::testing::Ctl(*c.nodes[2], {"plan", "amend", "clu-amend", "--market", "--reason", "desk: market"});
  INFO(cli.out << cli.err);
  CHECK(cli.exit_code == 0);
  CHECK(cli.out.find("cluster route clu-amend on its nodes:\n") != std::string::npos);
  for (const std::string& node : sharing) CHECK(cli.out.find("  node " + node + "  amended (WORKING)\n") != std::string::npos);
  for (int k = 0; k < 3; ++k) {
    std::optional<Plan> p = PlanOn(*c.nodes[k], "clu-amend");
    if (p) CHECK_FALSE(p->order().has_limit_price());
  }
  // Cancelled, the route's shares take no amendment: the nodes say why.
  CancelPlanRequest cancel;
  cancel.set_plan_id("clu-amend");
  CancelPlanResponse cancelled;
  grpc::ClientContext ctx;
  REQUIRE(RouterService::NewStub(Connect(*c.nodes[0]))->CancelPlan(&ctx, cancel, &cancelled).ok());
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       std::chrono::steady_clock::now() < until;) {
    s = amend(0, widen, &resp);
    if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  INFO(s.error_message());  // The first node's refusal, naming it once.
  CHECK(s.error_message().rfind("node n", 0) == 0);
  CHECK(s.error_message().find(": node ") == std::string::npos);
  CHECK(s.error_message().find("plan \"clu-amend\" is being cancelled") != std::string::npos);
  // Nor a new quantity: nothing of it would be routed.
  more.set_plan_id("clu-amend");
  more.set_quantity(11 * kBtc);
  s = amend(1, more, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message() == "quantity: route \"clu-amend\" was cancelled: its quantity can no longer change");
  CHECK(RouteProgress(*c.nodes[2], "clu-amend").order_quantity() == 10 * kBtc);
}

TEST_CASE("a cluster route cut below what its shares hold: every share gives up what it holds free, and the rest is "
          "routed again at one price across the nodes",
          "[cluster][shortfall]") {
  Cluster c;
  c.routing = R"(, "reject_backoff_ms": 60000)";
  MakeRefilling(c);  // n1's and n3's books refill every 300 ms;
  for (int k = 0; k < 3; ++k) {
    if (k == 1) {  // n2's venues, static, reject every child: its share waits, nothing filled, nothing open.
      c.venues[k] = VenuesOf(k + 1);
      for (size_t at = 0; (at = c.venues[k].find("\"sim\": {", at)) != std::string::npos; at += 8) {
        c.venues[k].insert(at + 8, "\"max_order_quantity\": 1, ");
      }
    }
    c.Start(k);
  }
  RouteResponse routed;
  REQUIRE(CallRoute(*c.nodes[0], Executed("clu-cut", SIDE_BUY, 9 * kBtc), &routed).ok());
  int64_t n2_share = 0;
  for (const NodeShare& s : routed.cluster().shares()) {
    if (s.node() == "n2") n2_share = s.quantity();
  }
  REQUIRE(n2_share >= 2 * kBtc);
  // Once n2's children are rejected (and its venues backed off) and the others have filled.
  auto n2_waits = [&] {
    std::optional<Plan> p = PlanOn(*c.nodes[1], "clu-cut");
    return p && p->children_size() > 0 &&
           std::all_of(p->children().begin(), p->children().end(), [](const ChildState& ch) { return ch.done(); });
  };
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       !n2_waits() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(n2_waits());
  const int64_t filled_before = 9 * kBtc - n2_share;
  RouteProgressUntil(*c.nodes[0], "clu-cut", [&](const GetRouteResponse& r) { return r.filled_quantity() == filled_before; });

  // Two refills later (n1's and n3's books whole again), 1 BTC off the route: n2's share, the
  // only one holding any of it free, gives all of it up, and what the route is still to trade
  // beyond what the others filled is left to route again — at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  AmendPlanRequest cut;
  cut.set_plan_id("clu-cut");
  cut.set_quantity(8 * kBtc);
  cut.set_reason("desk cuts 1");
  AmendPlanResponse resp;
  grpc::Status s = AmendOn(*c.nodes[2], cut, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(resp.changed());
  REQUIRE(resp.nodes_size() == 1);
  CHECK(resp.nodes(0).node() == "n2");
  CHECK(resp.nodes(0).changed());
  CHECK(resp.nodes(0).error().empty());
  CHECK(resp.shortfall_work().order_quantity() == 8 * kBtc);
  CHECK(resp.shortfall_work().shortfall() == n2_share - kBtc);
  const std::optional<Plan> n2_plan = PlanOn(*c.nodes[1], "clu-cut");
  REQUIRE(n2_plan.has_value());
  CHECK(n2_plan->order().quantity() == 0);
  CHECK(n2_plan->amendments() == 1);
  // Its next sub-route splits that at one price over every node's venues as they stand: n1's
  // and n3's, refilled, take their part of it and fill it (before, it all stayed with n2, whose
  // venues reject everything).
  const GetRouteResponse resplit = RouteProgressUntil(*c.nodes[0], "clu-cut", [&](const GetRouteResponse& r) {
    return r.shortfall_work().sub_routes() >= 1 && r.quantity() == 8 * kBtc && r.filled_quantity() > filled_before;
  });
  CHECK(resplit.order_quantity() == 8 * kBtc);
  CHECK(resplit.quantity() == 8 * kBtc);
  CHECK(resplit.filled_quantity() > filled_before);
  CHECK((PlanOn(*c.nodes[0], "clu-cut~2").has_value() || PlanOn(*c.nodes[2], "clu-cut~2").has_value()));
  // (Logged by the node the amendment came to.)
  CHECK(c.nodes[2]->log().find("route clu-cut: quantity amended to 8.00000000: its shares gave up the " +
                               exo::FormatDecimal(n2_share, 8) + " they held free, " +
                               exo::FormatDecimal(n2_share - kBtc, 8) +
                               " of it left to route again (by n1, at one price across the nodes)") != std::string::npos);

  // Below what has filled and what is at venues: refused, nothing changed, the least it may be
  // named.
  cut.set_quantity(kBtc);
  s = AmendOn(*c.nodes[1], cut, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message().find(", or cancel the route") != std::string::npos);
  CHECK(s.error_message().find("amend to at least ") != std::string::npos);
  CHECK(RouteProgress(*c.nodes[0], "clu-cut").order_quantity() == 8 * kBtc);

  // A quantity and a limit in one call (the CLI, from n1): the quantity first — 0.5 BTC more,
  // left to route —, then the terms, on every working share; one entry per node.
  auto cli = exo::testing::Ctl(*c.nodes[0], {"plan", "amend", "clu-cut", "--qty", "8.5", "--limit", "66000"});
  INFO(cli.out << cli.err);
  CHECK(cli.exit_code == 0);
  CHECK(cli.out.find("  quantity  8.50000000 in all: ") != std::string::npos);
  CHECK(cli.out.find("  shortfall: n1 routes what is left with the route's terms from now\n") != std::string::npos);
  const GetRouteResponse grown = RouteProgressUntil(*c.nodes[2], "clu-cut", [](const GetRouteResponse& r) {
    return r.quantity() == 8 * kBtc + kBtc / 2;
  });
  CHECK(grown.order_quantity() == 8 * kBtc + kBtc / 2);
  CHECK(grown.quantity() == 8 * kBtc + kBtc / 2);
}

TEST_CASE("a cluster route's child its venue never answers is settled on its node, which works the rest") {
  Cluster c;
  for (int k = 0; k < 3; ++k) {
    c.venues[k] = VenuesOf(k + 1);
    if (k == 1) {  // N2-V0 (n2's first venue): a session up but not working.
      const size_t at = c.venues[k].find("\"latency_ms\": 2,");
      REQUIRE(at != std::string::npos);
      c.venues[k].insert(at, "\"unresponsive\": true, ");
    }
    c.Start(k);
  }
  RouteResponse routed;
  REQUIRE(CallRoute(*c.nodes[0], Executed("clu-settle", SIDE_BUY, 9 * kBtc), &routed).ok());
  REQUIRE(SharingNodes(routed).count("n2") == 1);
  REQUIRE(exo::testing::Ctl(*c.nodes[1], {"halt", "--venue", "N2-V0", "--reason", "N2-V0 does not answer"}).exit_code == 0);
  // Once n2's other venues have answered, what is open on n2 is N2-V0's.
  std::vector<std::string> open;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       open.empty() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::optional<Plan> p = PlanOn(*c.nodes[1], "clu-settle");
    REQUIRE(p.has_value());
    bool others_done = true;
    std::vector<std::string> at_v0;
    for (const ChildState& ch : p->children()) {
      if (ch.order().venue() != "N2-V0") others_done = others_done && ch.done();
      if (ch.order().venue() == "N2-V0" && !ch.done()) at_v0.push_back(ch.order().cl_ord_id());
    }
    if (others_done) open = at_v0;
  }
  REQUIRE(!open.empty());
  // Children are named by their node: the same id on another node is none of its own, so a
  // settlement sent to the wrong node is refused instead of ending that node's child.
  for (const std::string& child : open) CHECK(child.rfind("clu-settle@n2.", 0) == 0);
  auto wrong_node = exo::testing::Ctl(*c.nodes[0], {"plan", "settle", "clu-settle", open[0], "--filled", "0",
                                                    "--reason", "sent to n1 by mistake"});
  CHECK(wrong_node.exit_code == 1);
  const bool n1_shares = PlanOn(*c.nodes[0], "clu-settle").has_value();
  INFO(wrong_node.err);
  CHECK(wrong_node.err.find(n1_shares ? "NOT_FOUND: cl_ord_id: plan \"clu-settle\" has no child \"" + open[0] + "\""
                                      : "NOT_FOUND") != std::string::npos);
  for (const std::string& child : open) {
    auto settled = exo::testing::Ctl(*c.nodes[1], {"plan", "settle", "clu-settle", child, "--filled", "0", "--reason",
                                                   "N2-V0 desk: no fill"});
    INFO(settled.err);
    REQUIRE(settled.exit_code == 0);
  }
  // n2 works its share's freed quantity on its other venues: the whole route fills.
  GetRouteResponse progress;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       !progress.settled() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    GetRouteRequest req;
    req.set_route_id("clu-settle");
    grpc::ClientContext ctx;
    REQUIRE(RouterService::NewStub(Connect(*c.nodes[0]))->GetRoute(&ctx, req, &progress).ok());
  }
  REQUIRE(progress.settled());
  CHECK(progress.filled_quantity() == progress.quantity());
  for (const NodeProgress& n : progress.nodes()) CHECK(n.status() == PLAN_STATUS_COMPLETED);
  std::optional<Plan> n2 = PlanOn(*c.nodes[1], "clu-settle");
  REQUIRE(n2.has_value());
  for (const ChildState& ch : n2->children()) {
    if (ch.order().venue() == "N2-V0") CHECK(ch.done_reason().rfind("settled by operator: N2-V0 desk: no fill", 0) == 0);
  }
}

TEST_CASE("a dead man's switch on any node's share of a cluster route cancels the route on every node") {
  Cluster c;
  for (int k = 0; k < 3; ++k) {
    // Venues that take a minute to answer a child: every node's share stays working.
    c.venues[k] = VenuesOf(k + 1);
    for (size_t at; (at = c.venues[k].find("\"latency_ms\": 2,")) != std::string::npos;) {
      c.venues[k].replace(at, 16, "\"latency_ms\": 60000,");
    }
    c.Start(k);
  }
  RouteResponse routed;
  REQUIRE(CallRoute(*c.nodes[0], Executed("switched", SIDE_BUY, 9 * kBtc), &routed).ok());
  const std::set<std::string> sharing = SharingNodes(routed);
  REQUIRE(sharing.size() >= 2);
  // Watched on a node that is not the coordinator if one shares, with a short grace.
  const int watched = sharing.count("n2") > 0 ? 1 : sharing.count("n3") > 0 ? 2 : 0;
  {
    WatchPlanRequest req;
    req.set_plan_id("switched");
    req.set_cancel_on_disconnect(true);
    req.set_disconnect_grace_ms(200);
    grpc::ClientContext ctx;
    auto stub = RouterService::NewStub(Connect(*c.nodes[watched]));
    auto reader = stub->WatchPlan(&ctx, req);
    WatchPlanResponse delta;
    bool armed = false;
    while (!armed && reader->Read(&delta)) armed = delta.delta().has_disconnect_armed();
    if (!armed) FAIL("the watch ended: " << reader->Finish().error_message());  // Recorded before the watch's first live delta: the switch is held.
    // Held, the route is left alone past the grace.
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    for (int k = 0; k < 3; ++k) {
      if (std::optional<Plan> p = PlanOn(*c.nodes[k], "switched")) CHECK(p->status() == PLAN_STATUS_WORKING);
    }
    ctx.TryCancel();  // The client goes away.
    reader->Finish();
  }
  // The grace passes and no watch comes back: every node's plan of the route is cancelled.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  auto all_cancelled = [&] {
    for (int k = 0; k < 3; ++k) {
      std::optional<Plan> p = PlanOn(*c.nodes[k], "switched");
      if (p.has_value() != (sharing.count("n" + std::to_string(k + 1)) > 0)) return false;
      if (p && p->status() != PLAN_STATUS_CANCELLED) return false;
    }
    return true;
  };
  while (!all_cancelled() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(all_cancelled());
  for (int k = 0; k < 3; ++k) {
    if (std::optional<Plan> p = PlanOn(*c.nodes[k], "switched")) {
      CHECK(p->reason() ==
            "cancelled on disconnect: the watch that asked for it ended before it settled, and none came back "
            "within 200 ms");
    }
  }
  // The watched node counts its switch's cancel; the node that held no switch counts none.
  for (int k = 0; k < 3; ++k) {
    StatusResponse status;
    grpc::ClientContext sctx;
    REQUIRE(AdminService::NewStub(Connect(*c.nodes[k]))->Status(&sctx, StatusRequest(), &status).ok());
    CHECK(status.disconnect_cancels() == (k == watched ? 1u : 0u));
  }
}

TEST_CASE("a cluster route keeps the order's venue limit and the venues' minimum child sizes as one node does") {
  Cluster c;
  c.min_sizes = true;
  c.routing = R"(, "low_urgency_band_bps": 1)";  // The last order of each side is banded.
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto solo = c.StartSolo();

  int n = 0, dropped = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    for (auto [qty, max_venues] : {std::pair<int64_t, uint32_t>{3 * kBtc, 0}, {9 * kBtc + 700000, 0},
                                   {6 * kBtc, 2}, {20 * kBtc, 5}, {30 * kBtc, 4}}) {
      std::string id = "lim" + std::to_string(++n);
      RouteRequest req = PlanOnly(id, side, qty);
      req.mutable_order()->set_max_venues(max_venues);
      if (qty == 30 * kBtc) req.mutable_order()->set_urgency(URGENCY_LOW);
      RouteResponse reference, split;
      REQUIRE(CallRoute(*solo, req, &reference).ok());
      grpc::Status s = CallRoute(*c.nodes[n % 3], req, &split);
      INFO(s.error_message());
      REQUIRE(s.ok());
      INFO("route " << id << " side " << Side_Name(side) << " qty " << qty << " max_venues " << max_venues);
      // The same allocation, and the same venues left out for the same reasons.
      std::map<std::string, int64_t> want, got;
      std::map<std::string, std::string> want_out, got_out;
      for (const auto& a : reference.plan().allocations()) want[a.venue()] = a.quantity();
      for (const auto& x : reference.plan().exclusions()) want_out[x.venue()] = x.reason();
      for (int k = 0; k < 3; ++k) {
        std::optional<Plan> p = PlanOn(*c.nodes[k], id);
        if (!p) continue;
        for (const auto& a : p->allocations()) got[a.venue()] = a.quantity();
        for (const auto& x : p->exclusions()) got_out[x.venue()] = x.reason();
      }
      REQUIRE_FALSE(want.empty());
      CHECK(got == want);
      if (max_venues > 0) CHECK(got.size() <= max_venues);
      // A node without a share has no plan: compare the exclusions the route itself reports.
      std::map<std::string, std::string> route_out;
      for (const auto& x : split.cluster().route().venues_dropped()) route_out[x.venue()] = x.reason();
      INFO("one node left out: " << reference.plan().ShortDebugString() << "\ncluster route: " << split.cluster().ShortDebugString());
      for (const auto& [venue, reason] : want_out) {
        CHECK(route_out.count(venue) == 1);
        if (got_out.count(venue)) CHECK(got_out[venue] == reason);
      }
      CHECK(route_out.size() == want_out.size());
      CHECK(split.cluster().route().dropped_size() == 0);  // Every node took part.
      dropped += static_cast<int>(route_out.size());
      CHECK(split.cluster().shortfall() == reference.plan().shortfall());
      CHECK(split.cluster().route().band_limit() == reference.plan().last_solve().price_band_limit());
    }
  }
  // The instances bind: both kinds of limit dropped venues.
  CHECK(dropped >= 4);
}

namespace {

// subject -> details of node d's pair-key governance events, in chain order.
std::map<std::string, std::vector<std::string>> PairKeyEvents(const DaemonProcess& d) {
  ReplayRequest req;
  req.mutable_range();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto reader = AuditService::NewStub(Connect(d))->Replay(&ctx, req);
  std::map<std::string, std::vector<std::string>> out;
  ReplayResponse m;
  while (reader->Read(&m)) {
    const PlanDelta& x = m.delta();
    if (x.has_governance() && x.governance().kind() == GOVERNANCE_KIND_PAIR_KEY) {
      CHECK(x.governance().digest().size() == 32);
      out[x.governance().subject()].push_back(x.governance().detail());
    }
  }
  REQUIRE(reader->Finish().ok());
  return out;
}

}  // namespace

TEST_CASE("pair keys are governance: each node's own at start, a peer's when it joins or comes back with a new key") {
  Cluster c;
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteResponse r;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("keys-1", SIDE_BUY, 3 * kBtc), &r).ok());
  auto keys = PairKeyEvents(*c.nodes[0]);
  REQUIRE(keys.size() == 3);
  CHECK(keys["pair key n1"].size() == 1);
  CHECK(keys["pair key n1"][0].find("this node's X25519 key") == 0);
  REQUIRE(keys["pair key n2"].size() == 1);
  CHECK(keys["pair key n2"][0] == "peer n2 joined: its first key in this chain");
  CHECK(keys["pair key n3"].size() == 1);

  // n2 restarts with a new pair key: n1 records it when a route fetches it again.
  CHECK(c.nodes[1]->Terminate() == 0);
  c.Start(1);
  grpc::Status s;
  for (int attempt = 0; attempt < 50; ++attempt) {  // Until n2's peer channels are back.
    s = CallRoute(*c.nodes[0], PlanOnly("keys-2-" + std::to_string(attempt), SIDE_BUY, 3 * kBtc), &r);
    if (s.ok() && r.cluster().route().nodes_size() == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(s.ok());
  REQUIRE(r.cluster().route().nodes_size() == 3);
  keys = PairKeyEvents(*c.nodes[0]);
  REQUIRE(keys["pair key n2"].size() == 2);
  CHECK(keys["pair key n2"][1].find("peer n2 presented a new key (it restarted or rotated it); the previous was ") == 0);
  CHECK(keys["pair key n3"].size() == 1);  // Unchanged: not recorded again.
  // n2's own chain has its own key once per start.
  CHECK(PairKeyEvents(*c.nodes[1])["pair key n2"].size() == 2);
}

TEST_CASE("an executed cluster route: every node trades its own share, records it, and replays it") {
  Cluster c;
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteRequest req = Executed("exec-1", SIDE_BUY, 30 * kBtc);
  RouteResponse r;
  grpc::Status s = CallRoute(*c.nodes[1], req, &r);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(r.cluster().shares_size() == 3);
  for (int k = 0; k < 3; ++k) {
    const NodeShare& share = r.cluster().shares(k);
    REQUIRE(share.quantity() > 0);
    // The node's own plan completes on its own venues, for exactly its share.
    GetPlanResponse got;
    CHECK(exo::testing::WaitFor([&] {
      GetPlanRequest q;
      q.set_plan_id("exec-1");
      grpc::ClientContext ctx;
      REQUIRE(RouterService::NewStub(Connect(*c.nodes[k]))->GetPlan(&ctx, q, &got).ok());
      return got.plan().status() == PLAN_STATUS_COMPLETED;
    }));
    CHECK(got.plan().filled_quantity() == share.quantity());
    for (const auto& child : got.plan().children()) {
      CHECK(child.order().venue().rfind("N" + std::to_string(k + 1) + "-", 0) == 0);
    }
    // Replay on any node follows the route to the others.
    auto replay = exo::testing::Ctl(*c.nodes[k], {"replay", "--plan", "exec-1"});
    INFO(replay.out << replay.err);
    CHECK(replay.out.find("cluster route exec-1 coordinated by n2, nodes n1,n2,n3, ") != std::string::npos);
    CHECK(replay.out.find(" rounds, order 30.00000000\n") != std::string::npos);  // The whole order.
    // The books its share was decided on are this node's own, and said to be a share.
    auto books = exo::testing::Ctl(*c.nodes[k], {"plan", "books", "exec-1"});
    INFO(books.err);
    CHECK(books.exit_code == 0);
    CHECK(books.err.find("a share of cluster route exec-1 at its λ: these are this node's venues only") !=
          std::string::npos);
    CHECK(books.out.find("\"venue\":\"N" + std::to_string(k + 1) + "-") != std::string::npos);
    for (int other = 1; other <= 3; ++other) {
      if (other != k + 1) CHECK(books.out.find("\"venue\":\"N" + std::to_string(other) + "-") == std::string::npos);
    }
    // Its chain verifies and its decisions re-solve identically from its own journal.
    auto audit = exo::testing::Ctl(*c.nodes[k], {"audit", "verify", "--recompute"});
    INFO(audit.out << audit.err);
    CHECK(audit.exit_code == 0);
    CHECK(audit.out.find("re-solved identically") != std::string::npos);
  }
  // The whole route's progress from any node: every share, filled, settled.
  GetRouteRequest q;
  q.set_route_id("exec-1");
  GetRouteResponse progress;
  grpc::ClientContext ctx;
  REQUIRE(RouterService::NewStub(Connect(*c.nodes[0]))->GetRoute(&ctx, q, &progress).ok());
  CHECK(progress.settled());
  CHECK(progress.quantity() == 30 * kBtc);
  CHECK(progress.filled_quantity() == 30 * kBtc);
  CHECK(progress.order_quantity() == 30 * kBtc);  // The whole order, all of it routed.
  CHECK(progress.shortfall() == 0);
  REQUIRE(progress.nodes_size() == 3);
  for (int k = 0; k < 3; ++k) {
    CHECK(progress.nodes(k).node() == "n" + std::to_string(k + 1));
    CHECK(progress.nodes(k).status() == PLAN_STATUS_COMPLETED);
    CHECK(progress.nodes(k).quantity() == r.cluster().shares(k).quantity());
    CHECK(progress.nodes(k).filled_quantity() == r.cluster().shares(k).quantity());
  }
  // What the fills cost: each node's as its plan has it, and the whole route's from their sums.
  int64_t notional = 0, fees = 0;
  for (int k = 0; k < 3; ++k) {
    std::optional<Plan> p = PlanOn(*c.nodes[k], "exec-1");
    REQUIRE(p.has_value());
    CHECK(progress.nodes(k).filled_notional() == p->filled_notional());
    CHECK(progress.nodes(k).fees() == p->fees());
    CHECK(progress.nodes(k).average_price() == p->average_price());
    CHECK(p->average_price() > 0);
    notional += p->filled_notional();
    fees += p->fees();
  }
  CHECK(progress.filled_notional() == notional);
  CHECK(progress.fees() == fees);
  CHECK(progress.average_price() == exo::MulDivRound(notional, 100'000'000, 30 * kBtc));
  {
    auto shown = exo::testing::Ctl(*c.nodes[1], {"route-status", "exec-1"});
    INFO(shown.out << shown.err);
    CHECK(shown.out.rfind(absl::StrCat("route     settled, filled 30.00000000 of 30.00000000  avg ",
                                       exo::FormatDecimal(progress.average_price(), 2), "  fees ",
                                       exo::FormatDecimal(fees, 2), "\n"),
                          0) == 0);
  }
  // And the CLI waits for every node's share, not only the coordinator's.
  auto waited = exo::testing::Ctl(*c.nodes[2], {"route", "--symbol", "BTC-USD", "--side", "sell", "--qty", "12",
                                                "--id", "exec-2", "--execute", "--wait"});
  INFO(waited.out << waited.err);
  CHECK(waited.exit_code == 0);
  CHECK(waited.out.find("route     settled, filled 12.00000000 of 12.00000000") != std::string::npos);
  // With --json: the route's answer, then (once every share settled) its progress, a line each.
  auto waited_json = exo::testing::Ctl(*c.nodes[2], {"--json", "route", "--symbol", "BTC-USD", "--side", "sell", "--qty",
                                                     "1", "--id", "exec-3", "--execute", "--wait"});
  INFO(waited_json.out << waited_json.err);
  CHECK(waited_json.exit_code == 0);
  const std::vector<std::string> json_lines = absl::StrSplit(waited_json.out, '\n', absl::SkipEmpty());
  REQUIRE(json_lines.size() == 2);
  CHECK(json_lines[0].find("\"cluster\":") != std::string::npos);
  CHECK(json_lines[1].find("\"settled\":true") != std::string::npos);
  auto shown = exo::testing::Ctl(*c.nodes[1], {"route-status", "exec-2"});
  CHECK(shown.out.find("route     settled") != std::string::npos);
  CHECK(shown.out.find("COMPLETED") != std::string::npos);
  CHECK(shown.out.find("not routed") == std::string::npos);
  auto unknown = exo::testing::Ctl(*c.nodes[1], {"route-status", "never-routed"});
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.err.find("not found on any node of the cluster") != std::string::npos);

  // An IOC order beyond every venue's book: what no node took is the route's shortfall, reported
  // (an IOC order's is not worked later), and the route's progress says so from any node (not
  // only the coordinator, which has no record of it beyond its own share), in the API and the CLI.
  RouteRequest big_ioc = Executed("exec-big", SIDE_BUY, 2000 * kBtc);
  big_ioc.mutable_order()->set_time_in_force(TIME_IN_FORCE_IOC);
  RouteResponse big;
  s = CallRoute(*c.nodes[0], big_ioc, &big);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(big.cluster().shortfall() > 0);
  CHECK_FALSE(big.cluster().shortfall_worked());
  int64_t shares = 0;
  for (const NodeShare& share : big.cluster().shares()) shares += share.quantity();
  CHECK(big.cluster().route().order_quantity() == 2000 * kBtc);
  GetRouteResponse big_progress;
  GetRouteRequest bq;
  bq.set_route_id("exec-big");
  grpc::ClientContext bctx;
  REQUIRE(RouterService::NewStub(Connect(*c.nodes[2]))->GetRoute(&bctx, bq, &big_progress).ok());
  CHECK(big_progress.quantity() == shares);
  CHECK(big_progress.order_quantity() == 2000 * kBtc);
  CHECK(big_progress.shortfall() == big.cluster().shortfall());
  auto short_shown = exo::testing::Ctl(*c.nodes[1], {"route-status", "exec-big"});
  INFO(short_shown.out << short_shown.err);
  CHECK(short_shown.out.find(absl::StrCat("order     2000.00000000: ", exo::FormatDecimal(big.cluster().shortfall(), 8),
                                          " not routed (no node took it; route it again)")) != std::string::npos);
  CHECK(short_shown.out.find(" routed  avg ") != std::string::npos);  // Routed in part, all of it filled.
  // An order no venue can take (a limit below every ask, or for a sell above every bid): no node
  // takes a share, so no node has a plan of it, and its progress says why there is none.
  auto route_nothing = [&c](const RouteRequest& req, int via) {
    RouteResponse nothing;
    const grpc::Status routed = CallRoute(*c.nodes[via], req, &nothing);
    const std::string error = routed.error_message();
    INFO(req.order().id() << ": " << error);
    REQUIRE(routed.ok());
    CHECK(nothing.cluster().shortfall() == req.order().quantity());
    for (const NodeShare& share : nothing.cluster().shares()) CHECK(share.quantity() == 0);
  };
  RouteRequest none = Executed("exec-none", SIDE_BUY, kBtc);
  none.mutable_order()->set_limit_price(1);
  none.mutable_order()->set_time_in_force(TIME_IN_FORCE_IOC);
  route_nothing(none, 0);
  RouteRequest none_sell = PlanOnly("plan-none-sell", SIDE_SELL, kBtc);  // Planned only.
  none_sell.mutable_order()->set_limit_price(1'000'000'000'000);
  route_nothing(none_sell, 2);
  auto none_shown = exo::testing::Ctl(*c.nodes[1], {"route-status", "exec-none"});
  CHECK(none_shown.exit_code != 0);
  CHECK(none_shown.err.find("route \"exec-none\" not found on any node of the cluster (a route no node took a share of "
                            "leaves no plan: its Route answer said so)") != std::string::npos);
}

TEST_CASE("a dead node is dropped within the round deadline and the route goes on without it") {
  Cluster c;
  c.round_timeout_ms = 500;
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteResponse before;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("before-kill", SIDE_BUY, 5 * kBtc), &before).ok());
  REQUIRE(before.cluster().shares_size() == 3);
  const int64_t n3_share = before.cluster().shares(2).quantity();
  REQUIRE(n3_share > 0);
  c.nodes[2]->Kill9();
  auto t0 = std::chrono::steady_clock::now();
  RouteResponse r;
  grpc::Status s = CallRoute(*c.nodes[0], PlanOnly("after-kill", SIDE_BUY, 5 * kBtc), &r);
  auto took = std::chrono::steady_clock::now() - t0;
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(took < std::chrono::seconds(5));
  REQUIRE(r.cluster().route().dropped_size() == 1);
  CHECK(r.cluster().route().dropped(0).node() == "n3");
  CHECK(r.cluster().route().nodes_size() == 2);
  CHECK(r.cluster().shortfall() == 0);
  // The venues of the live nodes carry the whole order.
  int64_t total = 0;
  for (int k = 0; k < 2; ++k) {
    for (const auto& [venue, q] : Allocations(*c.nodes[k], "after-kill")) {
      CHECK(venue.rfind("N3-", 0) != 0);
      total += q;
    }
  }
  CHECK(total == 5 * kBtc);
  // The progress of the route n3 took a share of names the node it cannot ask; what no node
  // took is then not known (n3's share is not counted), so no shortfall is claimed.
  GetRouteRequest q;
  q.set_route_id("before-kill");
  GetRouteResponse progress;
  grpc::ClientContext ctx;
  REQUIRE(RouterService::NewStub(Connect(*c.nodes[0]))->GetRoute(&ctx, q, &progress).ok());
  REQUIRE(progress.nodes_size() == 3);
  CHECK(progress.nodes(2).node() == "n3");
  CHECK_FALSE(progress.nodes(2).error().empty());
  CHECK_FALSE(progress.settled());
  CHECK(progress.quantity() == 5 * kBtc - n3_share);
  CHECK(progress.order_quantity() == 5 * kBtc);
  CHECK(progress.shortfall() == 0);
  StatusResponse st;
  auto status = exo::testing::Ctl(*c.nodes[0], {"--json", "status"});
  REQUIRE(google::protobuf::util::JsonStringToMessage(status.out, &st).ok());
  for (const PeerStatus& p : st.peers()) {
    INFO(p.node() << " " << p.connection());
    CHECK((p.node() == "n3") == (p.connection() != "ready"));  // The dead one is not connected.
    // And the status says which route left it out, and why.
    CHECK(p.left_out_route() == (p.node() == "n3" ? "after-kill" : ""));
    CHECK(p.left_out_reason() == (p.node() == "n3" ? r.cluster().route().dropped(0).reason() : ""));
  }
  // The CLI's --wait on an executed route while n3 is down: it waits for the shares of the nodes
  // that answer to end (it used to stop at once, saying nothing, while they still worked), then
  // says which node it could not ask and that the route is not known settled (exit 1).
  auto waited = exo::testing::Ctl(*c.nodes[0], {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "3",
                                                "--id", "exec-n3-down", "--execute", "--wait"});
  INFO(waited.out << waited.err);
  CHECK(waited.exit_code == 1);
  CHECK(waited.err.find("exoroutectl: route exec-n3-down: cannot ask n3 (") != std::string::npos);
  CHECK(waited.err.find("; waiting for the other nodes' shares\n") != std::string::npos);
  CHECK(waited.err.find("every share that answered has ended, but n3 (") != std::string::npos);
  CHECK(waited.err.find("could not be asked: the route is not known settled (exoroutectl route-status exec-n3-down "
                        "asks again)") != std::string::npos);
  CHECK(waited.out.find("route     in progress, filled 3.00000000 of 3.00000000") != std::string::npos);
  CHECK(waited.out.find("  n1         COMPLETED") != std::string::npos);
  CHECK(waited.out.find("  n2         COMPLETED") != std::string::npos);
  CHECK(waited.out.find("  n3         not answered: ") != std::string::npos);
  // A restarted node rejoins without any manual step (the coordinator's channel reconnects
  // within a second).
  c.Start(2);
  int attempt = 0;
  RouteResponse again;
  CHECK(exo::testing::WaitFor([&] {
    REQUIRE(CallRoute(*c.nodes[0], PlanOnly("after-restart-" + std::to_string(++attempt), SIDE_BUY, 5 * kBtc), &again).ok());
    return again.cluster().route().nodes_size() == 3;
  }, 5000));
  CHECK(again.cluster().route().dropped_size() == 0);
  // Once it took part again, the status no longer shows it left out.
  status = exo::testing::Ctl(*c.nodes[0], {"--json", "status"});
  REQUIRE(google::protobuf::util::JsonStringToMessage(status.out, &st).ok());
  for (const PeerStatus& p : st.peers()) CHECK(p.left_out_reason().empty());
  // n3, back, holds no share of the route routed while it was down: the route is settled.
  auto settled = exo::testing::Ctl(*c.nodes[1], {"route-status", "exec-n3-down"});
  INFO(settled.out << settled.err);
  CHECK(settled.exit_code == 0);
  CHECK(settled.out.rfind("route     settled, filled 3.00000000 of 3.00000000", 0) == 0);
  CHECK(settled.out.find("n3") == std::string::npos);
}

TEST_CASE("a stalled node costs one route a deadline, later ones leave it out at once until it answers again, with "
          "FAIL_ROUTE they fail instead") {
  Cluster c;
  bool fail_route = false;
  SECTION("drop the node (default)") {}
  SECTION("fail the route") { fail_route = true; }
  for (int k = 0; k < 3; ++k) {
    std::string json = c.ClusterJson(k, "", /*timeout_ms=*/300);
    if (fail_route) json.insert(json.size() - 1, R"(, "on_node_failure": "NODE_FAILURE_POLICY_FAIL_ROUTE")");
    c.Start(k, json);
  }
  // Warm: every channel connected and keys exchanged.
  RouteResponse warm;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("warm", SIDE_BUY, kBtc), &warm).ok());
  REQUIRE(warm.cluster().route().nodes_size() == 3);
  c.nodes[1]->Pause();  // n2 stops answering but keeps its connections.
  auto t0 = std::chrono::steady_clock::now();
  RouteResponse r;
  grpc::Status s = CallRoute(*c.nodes[0], PlanOnly("stalled", SIDE_BUY, 5 * kBtc), &r);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < std::chrono::seconds(3));  // A few deadlines of 300 ms at most, never a hang.
  // The next route does not wait on n2 again: n2 is silent, left out at once without being
  // asked, saying why (and so would a cancel or a look at a route leave it out).
  const uint64_t asked = PeerOn(*c.nodes[0], "n2")->calls();
  RouteResponse next;
  grpc::Status ns = CallRoute(*c.nodes[0], PlanOnly("stalled-next", SIDE_BUY, 5 * kBtc), &next);
  const std::string silent = "node n2: no answer within 300 ms: not asked again until it answers (asked every 1 s)";
  CHECK(PeerOn(*c.nodes[0], "n2")->calls() == asked);
  CHECK(PeerOn(*c.nodes[0], "n2")->silent() == silent);  // Status says so (exoroutectl status, a metric).
  CHECK(PeerOn(*c.nodes[0], "n3")->silent().empty());
  if (fail_route) {
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(s.error_message().find("n2") != std::string::npos);
    CHECK(s.error_message().find("FAIL_ROUTE") != std::string::npos);
    CHECK(Allocations(*c.nodes[0], "stalled").empty());  // Nothing recorded anywhere.
    CHECK(Allocations(*c.nodes[2], "stalled").empty());
    CHECK(ns.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(ns.error_message().find(silent) != std::string::npos);
    CHECK(ns.error_message().find("FAIL_ROUTE") != std::string::npos);
  } else {
    INFO(s.error_message());
    REQUIRE(s.ok());
    REQUIRE(r.cluster().route().dropped_size() == 1);
    CHECK(r.cluster().route().dropped(0).node() == "n2");
    CHECK(r.cluster().shortfall() == 0);
    INFO(ns.error_message());
    REQUIRE(ns.ok());
    REQUIRE(next.cluster().route().dropped_size() == 1);
    CHECK(next.cluster().route().dropped(0).node() == "n2");
    CHECK(next.cluster().route().dropped(0).reason().find(silent) != std::string::npos);
    CHECK(next.cluster().shortfall() == 0);
  }
  // n2 answers again: within a check or two it takes part in routes again.
  c.nodes[1]->Resume();
  CHECK(LogShows(*c.nodes[0], "node n2 answers again: it is asked again"));
  CHECK(PeerOn(*c.nodes[0], "n2")->silent().empty());
  RouteResponse back;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("back", SIDE_BUY, 5 * kBtc), &back).ok());
  CHECK(back.cluster().route().nodes_size() == 3);
  CHECK(back.cluster().route().dropped_size() == 0);
}

TEST_CASE("peers refuse a certificate from another CA and a node presenting another node's identity") {
  Cluster c;
  // Refusals are about identity, not time: a deadline a loaded machine cannot miss (the first
  // route's Prepare also makes each node try the refused peer for its key).
  c.round_timeout_ms = 5000;
  // A rogue CA with its own "n3".
  std::string rogue = c.dir / "rogue";
  REQUIRE(exo::testing::GenerateClusterCerts(rogue, "n3"));
  c.Start(0);
  c.Start(1);
  bool other_ca = false;
  SECTION("another CA") {
    other_ca = true;
    std::string json = c.ClusterJson(2);
    for (std::string f : {"/ca.pem", "/n3.pem", "/n3.key"}) {
      json.replace(json.find(c.certs + f), (c.certs + f).size(), rogue + f);
    }
    c.Start(2, json);
  }
  SECTION("another node's identity") {
    c.Start(2, c.ClusterJson(2, /*cert_of=*/"n2"));  // n3 presents n2's certificate.
  }
  RouteResponse r;
  grpc::Status s = CallRoute(*c.nodes[0], PlanOnly("guarded", SIDE_BUY, 2 * kBtc), &r);
  INFO(s.error_message());
  REQUIRE(s.ok());
  INFO(r.cluster().route().DebugString());
  REQUIRE(r.cluster().route().dropped_size() == 1);
  CHECK(r.cluster().route().dropped(0).node() == "n3");
  CHECK(Allocations(*c.nodes[2], "guarded").empty());
  // And a node of another CA cannot use the cluster either: its calls are refused at the
  // handshake. (A node holding n2's key is n2 as far as TLS can tell: only n2 itself, which
  // does not list itself as a peer, refuses it — the identity check is key possession.)
  if (!other_ca) return;
  RouteResponse from_rogue;
  REQUIRE(CallRoute(*c.nodes[2], PlanOnly("from-rogue", SIDE_BUY, kBtc), &from_rogue).ok());
  CHECK(from_rogue.cluster().route().dropped_size() == 2);
  REQUIRE(from_rogue.cluster().route().nodes_size() == 1);
  CHECK(from_rogue.cluster().route().nodes(0) == "n3");
}

TEST_CASE("a peer call with a certificate of the cluster's CA that names no peer is refused, logged once a minute and counted") {
  Cluster c;
  c.Start(0);
  // n1's own certificate: the cluster's CA signed it, and n1 is not a peer of itself.
  auto stub = PeerService::NewStub(c.PeerChannelAs("n1", 0));
  // (Its names: the node id and the loopback names deploy/gen-certs.sh gives every node.)
  const std::string why = "certificate identity [n1,localhost,127.0.0.1] is not a configured peer of node n1";
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    HelloReply reply;
    grpc::Status s = stub->Hello(&ctx, HelloRequest(), &reply);
    CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(s.error_message() == why);
  }
  {
    // The coordinator's stream: refused before any call is read.
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto stream = stub->Exchange(&ctx);
    PeerCall call;
    call.mutable_abort()->set_route_id("r-1");
    stream->Write(call);
    PeerAnswer answer;
    CHECK_FALSE(stream->Read(&answer));
    grpc::Status s = stream->Finish();
    CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(s.error_message() == why);
  }
  StatusResponse st;
  grpc::ClientContext sctx;
  REQUIRE(AdminService::NewStub(Connect(*c.nodes[0]))->Status(&sctx, StatusRequest(), &st).ok());
  CHECK(st.peer_calls_refused() == 2);
  const std::string log = c.nodes[0]->log();
  CHECK(log.find("peer call from n1,localhost,127.0.0.1 refused: not a configured peer (refusals: 1)") != std::string::npos);
  // The second within the minute is counted, not logged: a node misconfigured as a peer retries
  // at every route and would fill the log.
  CHECK(log.find("refused: not a configured peer (refusals: 2)") == std::string::npos);
  auto status = exo::testing::Ctl(*c.nodes[0], {"status"});
  INFO(status.out);
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("WARNING     2 peer calls refused: a certificate named no configured peer (see the daemon log)\n") !=
        std::string::npos);
  // And on /metrics, for the alert docs/deployment.md names.
  auto metrics = exo::testing::HttpRequest(exo::testing::AdminPort(c.dir / "n1"), "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("\nexoroute_peer_calls_refused_total 2\n") != std::string::npos);
}

namespace {

// Sum of quantity and expected cost of plan `id` over the three nodes.
std::pair<int64_t, int64_t> QuantityAndCost(Cluster& c, const std::string& id);

// Routes `req` through node k of the cluster; what the nodes placed, and its expected cost.
std::pair<int64_t, int64_t> RouteOn(Cluster& c, int k, const RouteRequest& req, RouteResponse* split) {
  grpc::Status s = CallRoute(*c.nodes[k], req, split);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return QuantityAndCost(c, req.order().id());
}

std::pair<int64_t, int64_t> QuantityAndCost(Cluster& c, const std::string& id) {
  int64_t q = 0, cost = 0;
  for (int k = 0; k < 3; ++k) {
    GetPlanRequest req;
    req.set_plan_id(id);
    GetPlanResponse resp;
    grpc::ClientContext ctx;
    if (!RouterService::NewStub(Connect(*c.nodes[k]))->GetPlan(&ctx, req, &resp).ok()) continue;
    for (const auto& a : resp.plan().allocations()) {
      q += a.quantity();
      cost += a.expected_cost();
    }
  }
  return {q, cost};
}

}  // namespace

TEST_CASE("with privacy noise a cluster route never exceeds the order, stays within the stated bound, and journals its noise") {
  Cluster c;
  // ε = 1 per released value, protecting one lot (0.001 BTC): noise of scale one lot per node.
  for (auto& p : c.privacy) p = R"({"epsilon_milli": 1000, "sensitivity": 100000, "budget_milli": 100000000})";
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto solo = c.StartSolo();
  int n = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    // The fourth route of a side goes to the coordinator of its first: it opens its search at λ
    // from that route's (noisy) sums.
    for (int64_t qty : {3 * kBtc, 17 * kBtc + 300000, 40 * kBtc, 5 * kBtc}) {
      std::string id = "noisy-" + std::to_string(++n);
      RouteResponse reference, split;
      REQUIRE(CallRoute(*solo, PlanOnly(id, side, qty), &reference).ok());
      auto [placed, cost] = RouteOn(c, n % 3, PlanOnly(id, side, qty), &split);
      INFO("route " << id << " placed " << placed << " of " << qty);
      CHECK(placed <= qty);                         // Never more than the order.
      CHECK(qty - placed <= 40 * 100000);           // Shortfall within 40 lots (docs/cluster.md).
      CHECK(split.cluster().shortfall() == qty - placed);
      // Average price within 1 bp of the noise-free optimum's.
      const double avg = static_cast<double>(std::llabs(cost)) / static_cast<double>(placed);
      const double ref = static_cast<double>(std::llabs(reference.plan().expected_cost())) /
                         static_cast<double>(reference.plan().allocations().empty() ? 1 : qty - reference.plan().shortfall());
      CHECK(std::fabs(avg - ref) / ref < 1e-4);
    }
  }
  // The order's venue limit holds with noise too (the limit check's counts are exact).
  {
    RouteRequest req = PlanOnly("noisy-limited", SIDE_BUY, 17 * kBtc);
    req.mutable_order()->set_max_venues(3);
    RouteResponse split;
    grpc::Status s = CallRoute(*c.nodes[0], req, &split);
    INFO(s.error_message());
    REQUIRE(s.ok());
    std::map<std::string, int64_t> used;
    int64_t placed = 0;
    for (int k = 0; k < 3; ++k) {
      for (const auto& [venue, q] : Allocations(*c.nodes[k], "noisy-limited")) {
        used[venue] = q;
        placed += q;
      }
    }
    CHECK_FALSE(used.empty());
    CHECK(used.size() <= 3);
    CHECK(placed <= 17 * kBtc);
    CHECK(split.cluster().route().venues_dropped_size() > 0);
  }
  // An order no venue can take (a limit below every ask), large and as small as one lot: the
  // noisy capacity of nothing places nothing, the whole order is shortfall. (The one-lot order
  // twelve times: the nodes' noise puts the capacity of nothing above one lot in a few routes
  // in a hundred, which sent the search over no venue and failed the route; cluster_node_test
  // has that case for certain.)
  std::vector<int64_t> sizes = {5 * kBtc};
  sizes.resize(13, int64_t{100000});
  int nothing = 0;
  for (int64_t qty : sizes) {
    RouteRequest req = PlanOnly("noisy-nothing-" + std::to_string(++nothing), SIDE_BUY, qty);
    req.mutable_order()->set_limit_price(1);
    RouteResponse split;
    grpc::Status s = CallRoute(*c.nodes[1], req, &split);
    const std::string error = s.error_message();
    INFO(error);
    REQUIRE(s.ok());
    CHECK(split.cluster().shortfall() == qty);
    for (const NodeShare& share : split.cluster().shares()) CHECK(share.quantity() == 0);
  }
  // Every node journaled the noise it added, with the decision's inputs.
  for (int k = 0; k < 3; ++k) {
    exo::store::StoreOptions o;
    o.path = c.dir / ("n" + std::to_string(k + 1)) + "/db";
    o.node_id = "n" + std::to_string(k + 1);
    o.read_only = true;
    auto store = exo::store::OpenRocksDeltaStore(o);
    REQUIRE(store.ok());
    int with_noise = 0;
    REQUIRE((*store)->Scan(1, 0, [&](const PlanDelta& d, std::string_view) {
      if (!d.has_allocated() || d.inputs_digest().empty()) return true;
      auto raw = (*store)->GetInputs(d.inputs_digest());
      REQUIRE(raw.ok());
      SolveInput in;
      REQUIRE(in.ParseFromString(*raw));
      if (in.fixed_dual().noise_size() > 0) ++with_noise;
      for (const auto& draw : in.fixed_dual().noise()) {
        CHECK((draw.release().rfind("prepare/", 0) == 0 || draw.release().rfind("evaluate/", 0) == 0));
      }
      return true;
    }).ok());
    CHECK(with_noise > 0);
    // And the spending shows in `exoroutectl budgets`.
    auto budgets = exo::testing::Ctl(*c.nodes[k], {"budgets"});
    INFO(budgets.out << budgets.err);
    CHECK(budgets.exit_code == 0);
    CHECK(budgets.out.find("supply/BTC-USD") != std::string::npos);
  }
}

TEST_CASE("a node whose privacy budget is spent is left out, and stays out across a restart") {
  Cluster c;
  c.privacy[0] = c.privacy[1] = R"({"epsilon_milli": 1000, "sensitivity": 100000, "budget_milli": 100000000})";
  // n3 can afford about one route (a route reserves 50 releases at a time).
  c.privacy[2] = R"({"epsilon_milli": 1000, "sensitivity": 100000, "budget_milli": 60000, "window_s": 86400})";
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto n3_dropped_for_budget = [](const RouteResponse& r) {
    for (const auto& d : r.cluster().route().dropped()) {
      if (d.node() == "n3" && d.reason().find("privacy budget") != std::string::npos) return true;
    }
    return false;
  };
  bool dropped = false;
  for (int i = 0; i < 6 && !dropped; ++i) {
    RouteResponse r;
    grpc::Status s = CallRoute(*c.nodes[0], PlanOnly("budget-" + std::to_string(i), SIDE_BUY, 20 * kBtc), &r);
    INFO(s.error_message());
    REQUIRE(s.ok());
    CHECK(r.cluster().shortfall() <= 40 * 100000);  // The others carry the order.
    dropped = n3_dropped_for_budget(r);
  }
  REQUIRE(dropped);
  // A restart does not reset what was spent.
  c.nodes[2]->Kill9();
  c.Start(2);
  RouteResponse after;
  int attempt = 0;
  CHECK(exo::testing::WaitFor([&] {
    REQUIRE(CallRoute(*c.nodes[0], PlanOnly("budget-after-" + std::to_string(++attempt), SIDE_BUY, 5 * kBtc), &after).ok());
    return n3_dropped_for_budget(after);
  }, 5000));
  auto budgets = exo::testing::Ctl(*c.nodes[2], {"budgets"});
  INFO(budgets.out);
  CHECK(budgets.out.find("60.000") != std::string::npos);  // The limit, shown with what is spent.
  // Each refusal is an audit event in n3's chain, and the chain still verifies.
  auto replay = exo::testing::Ctl(*c.nodes[2], {"replay"});
  INFO(replay.out << replay.err);
  CHECK(replay.out.find("privacy_refused") != std::string::npos);
  CHECK(replay.out.find("supply/BTC-USD budget spent") != std::string::npos);
  auto verify = exo::testing::Ctl(*c.nodes[2], {"audit", "verify", "--recompute"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  auto status = exo::testing::Ctl(*c.nodes[2], {"--json", "budgets"});
  INFO(status.out << status.err);
  CHECK(status.out.find("\"spent_milli\"") != std::string::npos);
}

TEST_CASE("a node whose cluster certificates are missing or whose peer port is taken does not start, saying why") {
  Cluster c;
  c.Start(0);
  auto start_n2 = [&](const std::string& cluster_json) {
    const std::string data = c.dir / "n2";
    std::string error;
    auto d = DaemonProcess::Start(data, NodeConfig("n2", data, VenuesOf(2), cluster_json, 8, "", ""), &error);
    CHECK(d == nullptr);
    return error;
  };
  // Its certificate file is not there.
  std::string json = c.ClusterJson(1);
  const std::string cert = c.certs + "/n2.pem";
  json.replace(json.find(cert), cert.size(), c.certs + "/gone.pem");
  std::string error = start_n2(json);
  INFO(error);
  CHECK(error.find("cluster.cert_file: no such file: " + c.certs + "/gone.pem") != std::string::npos);
  // Its peer port is n1's.
  json = c.ClusterJson(1);
  const std::string own = "\"listen\": \"127.0.0.1:" + std::to_string(c.peer_port[1]) + "\"";
  json.replace(json.find(own), own.size(), "\"listen\": \"127.0.0.1:" + std::to_string(c.peer_port[0]) + "\"");
  error = start_n2(json);
  INFO(error);
  CHECK(error.find("cluster.listen: cannot listen on 127.0.0.1:" + std::to_string(c.peer_port[0]) +
                   " (address in use or not local?)") != std::string::npos);
  // n1 goes on serving its clients.
  CHECK(exo::testing::Ctl(*c.nodes[0], {"status"}).exit_code == 0);
}

TEST_CASE("with on_exhausted FAIL_ROUTE a node whose privacy budget is spent fails the route, and nothing is placed") {
  Cluster c;
  c.privacy[0] = R"({"epsilon_milli": 1000, "sensitivity": 100000, "budget_milli": 100000000,
                     "on_exhausted": "NODE_FAILURE_POLICY_FAIL_ROUTE"})";
  c.privacy[1] = R"({"epsilon_milli": 1000, "sensitivity": 100000, "budget_milli": 100000000})";
  c.privacy[2] = R"({"epsilon_milli": 1000, "sensitivity": 100000, "budget_milli": 60000, "window_s": 86400})";
  for (int k = 0; k < 3; ++k) c.Start(k);
  grpc::Status failed;
  std::string id;
  for (int i = 0; i < 6 && failed.ok(); ++i) {
    id = "strict-" + std::to_string(i);
    RouteResponse r;
    failed = CallRoute(*c.nodes[0], PlanOnly(id, SIDE_BUY, 20 * kBtc), &r);
    if (!failed.ok()) break;
    for (const auto& d : r.cluster().route().dropped()) {  // Never routed without n3 for its budget.
      INFO(d.node() << ": " << d.reason());
      CHECK(d.reason().find("privacy budget") == std::string::npos);
    }
  }
  INFO(failed.error_message());
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(failed.error_message().find("privacy budget") != std::string::npos);
  CHECK(failed.error_message().find("(cluster.privacy.on_exhausted = FAIL_ROUTE)") != std::string::npos);
  for (int k = 0; k < 3; ++k) CHECK_FALSE(PlanOn(*c.nodes[k], id).has_value());
}

TEST_CASE("a halted node takes no share of an executed cluster route and a halted coordinator routes none") {
  Cluster c;
  for (int k = 0; k < 3; ++k) c.Start(k);
  REQUIRE(exo::testing::Ctl(*c.nodes[1], {"halt", "--reason", "n2 desk halt"}).exit_code == 0);
  // Executed: n2 is left out with its reason, the others carry the whole order.
  RouteRequest req = Executed("halt-exec", SIDE_BUY, 9 * kBtc);
  RouteResponse r;
  grpc::Status s = CallRoute(*c.nodes[0], req, &r);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(r.cluster().route().dropped_size() == 1);
  CHECK(r.cluster().route().dropped(0).node() == "n2");
  CHECK(r.cluster().route().dropped(0).reason().find("trading is halted on this node since ") != std::string::npos);
  CHECK(r.cluster().route().dropped(0).reason().find("n2 desk halt") != std::string::npos);
  CHECK_FALSE(PlanOn(*c.nodes[1], "halt-exec").has_value());
  CHECK(r.cluster().shortfall() == 0);
  // Plan-only: n2 still answers what it would do.
  RouteResponse look;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("halt-look", SIDE_BUY, 9 * kBtc), &look).ok());
  CHECK(look.cluster().route().dropped_size() == 0);
  CHECK(look.cluster().shares_size() == 3);
  // A halted coordinator refuses an executed route outright (it would trade on the others).
  req.mutable_order()->set_id("halt-coord");
  s = CallRoute(*c.nodes[1], req, &r);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message().find("n2 desk halt") != std::string::npos);
  CHECK_FALSE(PlanOn(*c.nodes[0], "halt-coord").has_value());
  // Resumed, n2 takes its share again.
  REQUIRE(exo::testing::Ctl(*c.nodes[1], {"resume", "--reason", "n2 back"}).exit_code == 0);
  req.mutable_order()->set_id("halt-after");
  REQUIRE(CallRoute(*c.nodes[0], req, &r).ok());
  CHECK(r.cluster().route().dropped_size() == 0);
  CHECK(PlanOn(*c.nodes[1], "halt-after").has_value());
  // A node that halted the order's symbol alone is left out of it the same way.
  REQUIRE(exo::testing::Ctl(*c.nodes[2], {"halt", "--symbol", "BTC-USD", "--reason", "n3 BTC data"}).exit_code == 0);
  req.mutable_order()->set_id("halt-symbol");
  s = CallRoute(*c.nodes[0], req, &r);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(r.cluster().route().dropped_size() == 1);
  CHECK(r.cluster().route().dropped(0).node() == "n3");
  CHECK(r.cluster().route().dropped(0).reason().find("trading in BTC-USD is halted on this node since ") !=
        std::string::npos);
  CHECK(r.cluster().route().dropped(0).reason().find("n3 BTC data") != std::string::npos);
  CHECK_FALSE(PlanOn(*c.nodes[2], "halt-symbol").has_value());
  CHECK(r.cluster().shortfall() == 0);
}

TEST_CASE("an urgency band over a cluster cuts every node's venues at the best price across all of them, and an arrival band at their mid, as one node does") {
  Cluster c;
  c.routing = R"(, "low_urgency_band_bps": 1)";  // 1 bp of ~65 000: 13 ticks of books 20 deep.
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto solo = c.StartSolo();
  int n = 0, binding = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    // (~66 BTC a side over the twelve venues, ~43 of it within the band.)
    for (int64_t qty : {3 * kBtc, 17 * kBtc + 300000, 55 * kBtc}) {
      const std::string id = "band-" + std::to_string(++n);
      RouteRequest req = PlanOnly(id, side, qty);
      req.mutable_order()->set_urgency(URGENCY_LOW);
      RouteResponse reference, split;
      REQUIRE(CallRoute(*solo, req, &reference).ok());
      const int64_t band_limit = reference.plan().last_solve().price_band_limit();
      REQUIRE(band_limit > 0);
      grpc::Status s = CallRoute(*c.nodes[n % 3], req, &split);
      INFO("route " << id << " side " << Side_Name(side) << " qty " << qty << ": " << s.error_message());
      REQUIRE(s.ok());
      // The band is the one node's over all the venues, and so is the split, to the lot.
      CHECK(split.cluster().route().band_bps() == 1);
      CHECK(split.cluster().route().band_limit() == band_limit);
      CHECK(AllocationsOnAll(c, id) == AllocationsOf(reference.plan()));
      CHECK(split.cluster().shortfall() == reference.plan().shortfall());
      for (int k = 0; k < 3; ++k) {
        if (std::optional<Plan> p = PlanOn(*c.nodes[k], id)) CHECK(p->last_solve().price_band_limit() == band_limit);
      }
      // The band binds on the large orders: without it (HIGH) the same order places more.
      RouteRequest high = req;
      high.mutable_order()->set_id(id + "-high");
      high.mutable_order()->set_urgency(URGENCY_HIGH);
      RouteResponse unbanded;
      REQUIRE(CallRoute(*c.nodes[n % 3], high, &unbanded).ok());
      CHECK(unbanded.cluster().route().band_limit() == 0);
      CHECK(unbanded.cluster().shortfall() <= split.cluster().shortfall());
      if (unbanded.cluster().shortfall() < split.cluster().shortfall()) ++binding;
    }
  }
  CHECK(binding >= 2);
  // One BestPrice call per banded route to each node (n1 coordinated two of the six), none
  // for the unbanded ones.
  CHECK(CallCount(c.dir, "n1", "n2", "best_price") == 2);
  CHECK(CallCount(c.dir, "n1", "n2", "prepare") == 4);

  // An arrival band: the mid over every node's venues ± 1 bp, the one node's over the union of
  // the venues, and so is the split, to the lot; each node's plan of its share keeps the limit.
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    const std::string id = std::string("arrival-") + (side == SIDE_BUY ? "buy" : "sell");
    RouteRequest req = PlanOnly(id, side, 55 * kBtc);
    req.mutable_order()->set_arrival_band_bps(1);
    RouteResponse reference, split;
    REQUIRE(CallRoute(*solo, req, &reference).ok());
    const int64_t arrival_limit = reference.plan().arrival_limit();
    REQUIRE(arrival_limit > 0);
    grpc::Status s = CallRoute(*c.nodes[2], req, &split);
    INFO("route " << id << ": " << s.error_message());
    REQUIRE(s.ok());
    CHECK(split.cluster().route().arrival_limit() == arrival_limit);
    CHECK(AllocationsOnAll(c, id) == AllocationsOf(reference.plan()));
    CHECK(split.cluster().shortfall() == reference.plan().shortfall());
    CHECK(split.cluster().shortfall() > 0);
    for (int k = 0; k < 3; ++k) {
      if (std::optional<Plan> p = PlanOn(*c.nodes[k], id)) CHECK(p->arrival_limit() == arrival_limit);
    }
  }
  auto protected_route = exo::testing::Ctl(*c.nodes[1], {"route", "--symbol", "BTC-USD", "--side", "sell", "--qty",
                                                         "30", "--arrival-band-bps", "1"});
  INFO(protected_route.out << protected_route.err);
  CHECK(protected_route.exit_code == 0);
  CHECK(protected_route.out.find(", arrival limit ") != std::string::npos);
  // Each node's recorded decisions re-solve to the same bytes, band limit included.
  for (int k = 0; k < 3; ++k) {
    auto verify = exo::testing::Ctl(*c.nodes[k], {"audit", "verify", "--recompute"});
    INFO(verify.out << verify.err);
    CHECK(verify.exit_code == 0);
  }
  // `plan books` on a node's share: alone, its venues are cut at the route's band limit (as a
  // limit, with no band of their own).
  auto books = exo::testing::Ctl(*c.nodes[1], {"plan", "books", "band-3", "--out", c.dir / "band-3.json"});
  INFO(books.out << books.err);
  REQUIRE(books.exit_code == 0);
  CHECK(books.out.find(", cut at the route's band limit ") != std::string::npos);
  CHECK(books.out.find(" --limit ") != std::string::npos);
  CHECK(books.out.find(" --urgency high") != std::string::npos);
  // exoroutectl says the band with the route.
  auto routed = exo::testing::Ctl(*c.nodes[0], {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "30",
                                                "--urgency", "low"});
  INFO(routed.out << routed.err);
  CHECK(routed.exit_code == 0);
  CHECK(routed.out.find(", band 1 bp: limit ") != std::string::npos);
}

TEST_CASE("a coordinator asks λ ahead: its next route's opening with Prepare and two more with each round") {
  Cluster c;
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto solo = c.StartSolo();
  // n1's routes of one side: the first has no earlier sums to start from; each of its rounds
  // also asks two λ the search may take next, so it makes fewer evaluate calls than it has
  // rounds. Each later one asks up to four λ with Prepare (around where the earlier routes' sums
  // cross its quantity), so its search makes at least one evaluate call fewer than it has
  // rounds — and the same order again (the books are static) needs no evaluate call at all.
  auto evaluates = [&c] { return std::max<int64_t>(0, CallCount(c.dir, "n1", "n2", "evaluate")); };
  int n = 0;
  int64_t first_asked = 0, first_rounds = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    for (int64_t btc : {9, 9, 10, 7, 12}) {
      const std::string id = "first-" + std::to_string(++n);
      RouteResponse reference, split;
      REQUIRE(CallRoute(*solo, PlanOnly(id, side, btc * kBtc), &reference).ok());
      const int64_t before = evaluates();
      grpc::Status s = CallRoute(*c.nodes[0], PlanOnly(id, side, btc * kBtc), &split);
      INFO("route " << id << " side " << Side_Name(side) << ": " << s.error_message());
      REQUIRE(s.ok());
      CHECK(AllocationsOnAll(c, id) == AllocationsOf(reference.plan()));
      CHECK(split.cluster().shortfall() == reference.plan().shortfall());
      const int64_t rounds = split.cluster().route().rounds();
      REQUIRE(rounds >= 1);
      const int64_t asked = evaluates() - before;
      INFO("rounds " << rounds << ", evaluate calls " << asked);
      if (n % 5 == 1) {
        CHECK(asked >= 1);
        CHECK(asked <= rounds);
        first_asked += asked;
        first_rounds += rounds;
      } else if (n % 5 == 2) {
        CHECK(asked == 0);
      } else {
        CHECK(asked <= rounds - 1);
      }
    }
  }
  CHECK(first_asked < first_rounds);  // Some λ asked ahead were taken.
  // An opening λ that is not a number is refused, naming the field (a peer's Prepare, over mTLS as n1).
  const std::shared_ptr<grpc::Channel> channel = c.PeerChannelAs("n1", 1);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = PeerService::NewStub(channel)->Exchange(&ctx);
  PeerCall call;
  PrepareRequest* prep = call.mutable_prepare();
  prep->set_route_id("bad-first");
  *prep->mutable_order() = PlanOnly("bad-first", SIDE_BUY, kBtc).order();
  for (const char* p : {"n1", "n2", "n3"}) prep->add_participants(p);
  // A coordinator of another release (here: one before the protocol field) is refused first.
  REQUIRE(stream->Write(call));
  PeerAnswer answer;
  REQUIRE(stream->Read(&answer));
  REQUIRE(answer.has_error());
  CHECK(answer.error().code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(answer.error().message() ==
        "protocol: node n2 speaks peer protocol " + std::to_string(exo::daemon::cluster::ClusterNode::kPeerProtocol) +
            ", the coordinator 0 (run one exoroute release on every node of a cluster)");
  prep->set_protocol(exo::daemon::cluster::ClusterNode::kPeerProtocol);
  prep->add_opening(65000.0);
  prep->add_opening(std::nan(""));
  REQUIRE(stream->Write(call));
  REQUIRE(stream->Read(&answer));
  REQUIRE(answer.has_error());
  CHECK(answer.error().code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(answer.error().message() == "opening[1]: must be finite");
  // And more than a node answers with its summary (each one costs it work and budget).
  prep->clear_opening();
  for (int i = 0; i < 5; ++i) prep->add_opening(65000.0 + i);
  REQUIRE(stream->Write(call));
  REQUIRE(stream->Read(&answer));
  REQUIRE(answer.has_error());
  CHECK(answer.error().code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(answer.error().message() == "opening: at most 4 λ, got 5");
  // The λ a round asks along are checked as strictly.
  PeerCall round;
  EvaluateRequest* eval = round.mutable_evaluate();
  eval->set_route_id("bad-first");
  eval->set_round(5);
  eval->set_lambda(65000.0);
  eval->add_also(65001.0);
  eval->add_also(std::numeric_limits<double>::infinity());
  const std::pair<std::function<void()>, std::string> bad_rounds[] = {
      {[] {}, "also[1]: must be finite"},
      {[eval] { eval->set_also(1, 65002.0), eval->set_exact(true); }, "also: not with exact (the exact totals are one release)"},
      {[eval] {
         eval->set_exact(false);
         for (int i = 0; i < 3; ++i) eval->add_also(65003.0 + i);
       },
       "also: at most 4 λ, got 5"},
  };
  for (const auto& [change, message] : bad_rounds) {
    change();
    REQUIRE(stream->Write(round));
    REQUIRE(stream->Read(&answer));
    REQUIRE(answer.has_error());
    CHECK(answer.error().code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(answer.error().message() == message);
  }
  stream->WritesDone();
  CHECK(stream->Finish().ok());
}

TEST_CASE("a tie held by one venue needs no tie split: one call fewer, the same plan") {
  // Venues whose books never share a fee-adjusted price (mids off each other's price grid, every
  // fee its own): at λ* at most one venue has quantity tied, so with one lot size the broadcast
  // fraction places the whole tie and the coordinator asks no tie split.
  Cluster c;
  for (int k = 0; k < 3; ++k) {
    for (int v = 0; v < 4; ++v) {
      const int i = 4 * k + v;
      c.venues[k] += (v == 0 ? "" : ",\n") + SimVenue("D" + std::to_string(k + 1) + "-V" + std::to_string(v), 100000,
                                                     50 + i, 6500000 + 13 * i, 1.0 + 0.25 * i);
    }
  }
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto solo = c.StartSolo();
  int n = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    for (int64_t qty : {3 * kBtc, 9 * kBtc + 400000, 25 * kBtc}) {
      const std::string id = "untied-" + std::to_string(++n);
      RouteResponse reference, split;
      REQUIRE(CallRoute(*solo, PlanOnly(id, side, qty), &reference).ok());
      grpc::Status s = CallRoute(*c.nodes[0], PlanOnly(id, side, qty), &split);
      INFO("route " << id << " side " << Side_Name(side) << " qty " << qty << ": " << s.error_message());
      REQUIRE(s.ok());
      CHECK(AllocationsOnAll(c, id) == AllocationsOf(reference.plan()));
      CHECK(split.cluster().shortfall() == reference.plan().shortfall());
    }
  }
  CHECK(CallCount(c.dir, "n1", "n2", "evaluate") > 0);
  CHECK(CallCount(c.dir, "n1", "n2", "split_ties") <= 0);  // None asked (-1: no such series).
}

namespace {

// Routes 9 BTC through n1, which must leave n2 out with `reason`: n1 and n3 take it all.
void RouteWithoutN2(Cluster& c, const std::string& id, Side side, const std::string& reason,
                    Urgency urgency = URGENCY_UNSPECIFIED) {
  RouteResponse routed;
  RouteRequest req = PlanOnly(id, side, 9 * kBtc);
  req.mutable_order()->set_urgency(urgency);
  grpc::Status s = CallRoute(*c.nodes[0], req, &routed);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(routed.cluster().route().dropped_size() == 1);
  CHECK(routed.cluster().route().dropped(0).node() == "n2");
  CHECK(routed.cluster().route().dropped(0).reason() == reason);
  CHECK_FALSE(PlanOn(*c.nodes[1], id).has_value());  // n2 took no share.
  int64_t total = 0;
  for (int k : {0, 2}) {
    for (const auto& [venue, q] : Allocations(*c.nodes[k], id)) total += q;
  }
  CHECK(total == 9 * kBtc);
}

// A peer in front of n2 that answers as a node of a release before the protocol field: it
// relays its caller's calls to n2 and n2's answers back, with Prepare's protocol cleared, and
// answers BestPrice as such a release reads it (a call of no kind it knows: empty).
class OlderReleaseProxy final : public PeerService::Service {
 public:
  explicit OlderReleaseProxy(std::shared_ptr<grpc::Channel> to_node) : node_(PeerService::NewStub(to_node)) {}
  grpc::Status Hello(grpc::ServerContext*, const HelloRequest* req, HelloReply* reply) override {
    grpc::ClientContext ctx;
    return node_->Hello(&ctx, *req, reply);
  }
  grpc::Status Exchange(grpc::ServerContext*, grpc::ServerReaderWriter<PeerAnswer, PeerCall>* caller) override {
    grpc::ClientContext ctx;
    auto node = node_->Exchange(&ctx);
    PeerCall call;
    PeerAnswer answer;
    while (caller->Read(&call)) {
      if (call.has_best_price()) {
        answer.Clear();
        answer.mutable_error()->set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
        answer.mutable_error()->set_message("call: empty (no request set)");
        if (!caller->Write(answer)) break;
        continue;
      }
      if (!node->Write(call) || !node->Read(&answer)) break;
      if (answer.has_prepare()) answer.mutable_prepare()->clear_protocol();
      if (!caller->Write(answer)) break;
    }
    node->WritesDone();
    (void)node->Finish();
    return grpc::Status::OK;
  }

 private:
  std::unique_ptr<PeerService::Stub> node_;
};

}  // namespace

TEST_CASE("a node of another release is left out of routes with the reason and not mixed in") {
  Cluster c;
  c.Start(1);
  c.Start(2);
  // n1 reaches n2 through a relay that presents n2's certificate and answers Prepare as a node
  // of an older release would (no protocol).
  OlderReleaseProxy proxy(c.PeerChannelAs("n1", 1));
  auto creds = exo::daemon::cluster::PeerServerCredentials(c.As("n2"));
  REQUIRE(creds.ok());
  const int proxy_port = exo::testing::FreePort();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(proxy_port), *creds);
  builder.RegisterService(&proxy);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  std::string n1_json = c.ClusterJson(0);
  const std::string direct = "127.0.0.1:" + std::to_string(c.peer_port[1]);
  n1_json.replace(n1_json.find(direct), direct.size(), "127.0.0.1:" + std::to_string(proxy_port));
  c.Start(0, n1_json);

  const std::string why = "node n2 speaks peer protocol 0, this node " +
                          std::to_string(exo::daemon::cluster::ClusterNode::kPeerProtocol) +
                          " (run one exoroute release on every node of a cluster)";
  RouteWithoutN2(c, "mixed-releases", SIDE_BUY, why);
  // The operator sees it in n1's status, on n2's row (and not on n3's, which took part).
  auto status = exo::testing::Ctl(*c.nodes[0], {"status"});
  REQUIRE(status.exit_code == 0);
  const size_t n2_row = status.out.find("\n  n2 ");
  const size_t n3_row = status.out.find("\n  n3 ");
  REQUIRE(n2_row != std::string::npos);
  REQUIRE(n3_row != std::string::npos);
  const size_t note = status.out.find("left out of route mixed-releases: " + why + "\n");
  INFO(status.out);
  CHECK(note != std::string::npos);
  CHECK(note > n2_row);
  CHECK((n3_row < n2_row ? note > n3_row : note < n3_row));  // Right under n2's row.
  CHECK(status.out.find("left out of route", note + 1) == std::string::npos);
  // An order with an urgency band asks BestPrice first, which that release does not know.
  RouteWithoutN2(c, "mixed-releases-band", SIDE_SELL,
                 "node n2 does not know BestPrice, which an order with an urgency or arrival band needs: it speaks an older "
                 "peer protocol than this node's " +
                     std::to_string(exo::daemon::cluster::ClusterNode::kPeerProtocol) +
                     " (run one exoroute release on every node of a cluster)",
                 URGENCY_LOW);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

TEST_CASE("a route with one noisy node runs as a noisy route: never more than the order") {
  // Only n2 noises its sums: the noise-free coordinator must still treat the cluster's sums as
  // noisy (search to a bracket, exact masked totals at the end), or it would fix a plan from
  // noisy totals.
  Cluster c;
  c.privacy[1] = R"({"epsilon_milli": 1000, "sensitivity": 100000, "budget_milli": 100000000})";
  for (int k = 0; k < 3; ++k) c.Start(k);
  auto solo = c.StartSolo();
  int n = 0;
  for (Side side : {SIDE_BUY, SIDE_SELL}) {
    for (int64_t step = 1; step <= 15; ++step) {
      const int64_t qty = step * 2 * kBtc + step * 300000;
      std::string id = "one-noisy-" + std::to_string(++n);
      RouteResponse reference, split;
      REQUIRE(CallRoute(*solo, PlanOnly(id, side, qty), &reference).ok());
      grpc::Status s = CallRoute(*c.nodes[n % 2 == 0 ? 0 : 2], PlanOnly(id, side, qty), &split);
      INFO(s.error_message());
      REQUIRE(s.ok());
      auto [placed, cost] = QuantityAndCost(c, id);
      INFO("route " << id << " placed " << placed << " of " << qty);
      CHECK(placed <= qty);
      CHECK(qty - placed <= 40 * 100000);
      CHECK(split.cluster().shortfall() == qty - placed);
      const double avg = static_cast<double>(std::llabs(cost)) / static_cast<double>(placed);
      const double ref = static_cast<double>(std::llabs(reference.plan().expected_cost())) /
                         static_cast<double>(reference.plan().allocations().empty() ? 1 : qty - reference.plan().shortfall());
      CHECK(std::fabs(avg - ref) / ref < 1e-4);
    }
  }
}

TEST_CASE("a node whose instrument has other scales is left out with the reason") {
  // n2 was configured with BTC-USD quantities in 10^-6 instead of 10^-8: an order's 9 BTC
  // (900000000) would be 900 BTC there. The coordinator leaves it out and says why.
  Cluster c;
  c.qty_scale[1] = 6;
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteWithoutN2(c, "scales", SIDE_SELL,
                 "node n2 has BTC-USD at qty_scale 6, price_scale 2; this node at qty_scale 8, price_scale 2 "
                 "(instruments must agree across the cluster)");
}

TEST_CASE("with privacy noise and impact on fine lots a cluster route places the order to within a few units and never more") {
  // With an impact term every lot is a breakpoint: after the noisy search, stepping over them
  // one at a time closed only 16 lots of the noise's gap (shortfalls up to ~2·10^5 units, twice
  // the noise's scale, on these routes); interpolating between exact totals at both ends of
  // the bracket closes it (0–1 unit). The exact totals are asked of every venue: the noisy
  // bracket the nodes froze venues for may be wrong (answered from it, the totals fell short
  // of the shares: an order was over-placed by ~4 000 units). And when the noisy bracket was
  // ~10^-5 wide and λ* ~0.3 away, doubling its upper end (or stepping past it) used up the
  // exact releases ~10^5 units short in one run of 7–20: the upper end is now extrapolated.
  // The venues of the other tests with lots of one unit and an impact of 2.5 bp per BTC.
  Cluster c;
  for (int k = 0; k < 3; ++k) {
    std::string v = VenuesOf(k + 1);
    for (std::string::size_type at; (at = v.find(R"("lot_size": 100000)")) != std::string::npos;) {
      v.replace(at, std::strlen(R"("lot_size": 100000)"), R"("lot_size": 1)");
    }
    for (std::string::size_type at = 0; (at = v.find(R"("taker_fee_bps": )", at)) != std::string::npos; at += 20) {
      v.insert(at, R"("impact_bps": 2.5, )");
    }
    c.venues[k] = v;
  }
  for (auto& p : c.privacy) p = R"({"epsilon_milli": 1000, "sensitivity": 100000, "budget_milli": 1000000000})";
  for (int k = 0; k < 3; ++k) c.Start(k);
  int n = 0;
  int64_t worst = 0;
  for (int rep = 0; rep < 4; ++rep) {
    for (Side side : {SIDE_BUY, SIDE_SELL}) {
      for (int64_t qty : {3 * kBtc + 12345, 17 * kBtc + 300001, 40 * kBtc + 7}) {
        std::string id = "fine-" + std::to_string(++n);
        RouteResponse split;
        const int64_t placed = RouteOn(c, n % 3, PlanOnly(id, side, qty), &split).first;
        INFO("route " << id << " placed " << placed << " of " << qty);
        CHECK(placed <= qty);  // Never more than the order.
        CHECK(split.cluster().shortfall() == qty - placed);
        INFO("route: " << split.cluster().route().ShortDebugString());
        CHECK(qty - placed <= 1000);
        worst = std::max(worst, qty - placed);
      }
    }
  }
  CHECK(worst <= 1000);  // A hundredth of the noise's scale (one sensitivity lot, 0.001 BTC).
}

namespace {

// Copies `from` over `to` through a rename, as a deployment tool would.
void Install(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to + ".new", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(to + ".new", to);
}

// The peer port's certificate sets node `d` has read again since start (-1: no entry).
int64_t PeerReloads(const DaemonProcess& d) {
  StatusResponse st;
  grpc::ClientContext ctx;
  if (!AdminService::NewStub(Connect(d))->Status(&ctx, StatusRequest(), &st).ok()) return -1;
  for (const auto& c : st.certificates()) {
    if (c.port() == "peer") return static_cast<int64_t>(c.reloads());
  }
  return -1;
}

}  // namespace

TEST_CASE("a cluster moves to a new CA without restarting its nodes: peers re-read their certificate files") {
  Cluster c;
  const std::string next = c.dir / "certs-next";  // The new CA and its certificates.
  REQUIRE(exo::testing::GenerateClusterCerts(next, "n1 n2 n3"));
  // n1 and n2 serve copies of their files that the test replaces; they re-read them every second.
  std::string json[2];
  for (int k = 0; k < 2; ++k) {
    const std::string id = "n" + std::to_string(k + 1), live = c.dir / ("live-" + id);
    std::filesystem::create_directories(live);
    Install(c.certs + "/ca.pem", live + "/ca.pem");
    Install(c.certs + "/" + id + ".pem", live + "/node.pem");
    Install(c.certs + "/" + id + ".key", live + "/node.key");
    std::string cluster = c.ClusterJson(k);
    for (auto [from, to] : {std::pair{c.certs + "/ca.pem", live + "/ca.pem"},
                            std::pair{c.certs + "/" + id + ".pem", live + "/node.pem"},
                            std::pair{c.certs + "/" + id + ".key", live + "/node.key"}}) {
      cluster.replace(cluster.find(from), from.size(), to);
    }
    const std::string data = c.dir / id;
    std::string config = NodeConfig(id, data, VenuesOf(k + 1), cluster);
    config.insert(config.find(R"("listen")"), R"("tls": {"reload_interval_s": 1}, )");
    std::string error;
    c.nodes[k] = DaemonProcess::Start(data, config, &error);
    INFO(error);
    REQUIRE(c.nodes[k] != nullptr);
  }
  // n3 already runs on the new CA alone (as a node re-installed first would): the others
  // neither trust its certificate nor present one it trusts.
  std::string n3 = c.ClusterJson(2);
  for (const std::string f : {"/ca.pem", "/n3.pem", "/n3.key"}) n3.replace(n3.find(c.certs + f), (c.certs + f).size(), next + f);
  c.Start(2, n3);
  RouteResponse r;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("before", SIDE_BUY, 2 * kBtc), &r).ok());
  REQUIRE(r.cluster().route().dropped_size() == 1);
  CHECK(r.cluster().route().dropped(0).node() == "n3");
  CHECK(PeerReloads(*c.nodes[0]) == 0);

  // The documented rotation, without a restart: trust both CAs, then present the new
  // certificates, then trust the new CA alone.
  std::ofstream(c.dir / "both.pem") << std::ifstream(c.certs + "/ca.pem").rdbuf() << std::ifstream(next + "/ca.pem").rdbuf();
  auto step = [&](const std::function<void(const std::string& id, const std::string& live)>& install, int64_t reloads) {
    for (int k = 0; k < 2; ++k) {
      const std::string id = "n" + std::to_string(k + 1);
      install(id, c.dir / ("live-" + id));
    }
    for (int k = 0; k < 2; ++k) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (PeerReloads(*c.nodes[k]) < reloads && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      CHECK(PeerReloads(*c.nodes[k]) == reloads);
    }
  };
  step([&](const std::string&, const std::string& live) { Install(c.dir / "both.pem", live + "/ca.pem"); }, 1);
  step([&](const std::string& id, const std::string& live) {
    Install(next + "/" + id + ".key", live + "/node.key");
    Install(next + "/" + id + ".pem", live + "/node.pem");
  }, 2);
  step([&](const std::string&, const std::string& live) { Install(next + "/ca.pem", live + "/ca.pem"); }, 3);
  // gRPC reads the served copies within a second more; then every node takes part again,
  // whichever coordinates (n3 dials the others afresh: they must present the new CA's
  // certificates).
  bool all = false;
  for (int attempt = 0; attempt < 40 && !all; ++attempt) {
    const int k = attempt % 3;
    RouteResponse after;
    const grpc::Status s = CallRoute(*c.nodes[k], PlanOnly("after-" + std::to_string(attempt), SIDE_BUY, 2 * kBtc), &after);
    all = s.ok() && after.cluster().route().dropped_size() == 0 && after.cluster().route().nodes_size() == 3;
    if (!all) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  CHECK(all);
  for (int k : {0, 1, 2}) {
    RouteResponse after;
    REQUIRE(CallRoute(*c.nodes[k], PlanOnly("final-n" + std::to_string(k + 1), SIDE_SELL, 2 * kBtc), &after).ok());
    INFO("coordinated by n" << k + 1 << ": " << after.cluster().route().DebugString());
    CHECK(after.cluster().route().dropped_size() == 0);
  }
}

TEST_CASE("a peer's new exchange stream ends its older ones: a restarted coordinator holds no thread twice") {
  Cluster c;
  c.Start(1);  // n2 alone; the test calls it as n1 would.
  auto stub = PeerService::NewStub(c.PeerChannelAs("n1", 1));
  PeerCall progress;
  progress.mutable_progress()->set_route_id("no-such-route");
  PeerAnswer answer;
  grpc::ClientContext first_ctx;
  // (Bounded: were the older stream left open, its Read below would wait for ever.)
  first_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto first = stub->Exchange(&first_ctx);
  REQUIRE(first->Write(progress));
  REQUIRE(first->Read(&answer));
  CHECK(answer.error().code() == grpc::StatusCode::NOT_FOUND);
  CHECK(PeerOn(*c.nodes[1], "n1")->exchanges_open() == 1);
  CHECK(PeerOn(*c.nodes[1], "n1")->exchanges_replaced() == 0);

  // n1 comes back on a new stream (as after a restart whose old connection n2 never saw close).
  grpc::ClientContext second_ctx;
  auto second = stub->Exchange(&second_ctx);
  REQUIRE(second->Write(progress));
  REQUIRE(second->Read(&answer));
  CHECK(answer.error().code() == grpc::StatusCode::NOT_FOUND);
  CHECK_FALSE(first->Read(&answer));  // n2 ended the older stream,
  CHECK(first->Finish().error_code() == grpc::StatusCode::CANCELLED);
  std::optional<PeerStatus> seen = PeerOn(*c.nodes[1], "n1");
  REQUIRE(seen.has_value());
  CHECK(seen->exchanges_open() == 1);  // and counts one stream of n1's, not two,
  CHECK(seen->exchanges_replaced() == 1);
  REQUIRE(second->Write(progress));  // while the new one goes on answering.
  REQUIRE(second->Read(&answer));
  CHECK(answer.error().code() == grpc::StatusCode::NOT_FOUND);
  // Operators see both: in /metrics per peer.
  auto metrics = exo::testing::HttpRequest(exo::testing::AdminPort(c.dir / "n2"), "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("exoroute_peer_streams_open{peer=\"n1\"} 1\n") != std::string::npos);
  CHECK(metrics.body.find("exoroute_peer_streams_replaced_total{peer=\"n1\"} 1\n") != std::string::npos);
  CHECK(metrics.body.find("exoroute_peer_streams_open{peer=\"n3\"} 0\n") != std::string::npos);
  second->WritesDone();
  CHECK(second->Finish().ok());
}

TEST_CASE("a coordinator that stops answering loses its streams on a peer within the peer's keepalive and routes with it once back") {
  Cluster c;
  c.Start(0);
  // n2 pings its callers' connections after 1 s of silence (listen.keepalive_s: the peer port's
  // callers too); n3 keeps the default (120 s).
  {
    const std::string data = c.dir / "n2";
    std::string config = NodeConfig("n2", data, VenuesOf(2), c.ClusterJson(1));
    const std::string listen = R"({"address": "127.0.0.1:0"})";
    config.replace(config.find(listen), listen.size(), R"({"address": "127.0.0.1:0", "keepalive_s": 1})");
    std::string error;
    c.nodes[1] = DaemonProcess::Start(data, config, &error);
    INFO(error);
    REQUIRE(c.nodes[1] != nullptr);
  }
  c.Start(2);
  RouteResponse r;
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("before", SIDE_BUY, 2 * kBtc), &r).ok());
  CHECK(r.cluster().route().dropped_size() == 0);
  REQUIRE(PeerOn(*c.nodes[1], "n1").has_value());
  CHECK(PeerOn(*c.nodes[1], "n1")->exchanges_open() == 1);
  // A coordinator that is alive but idle (no route for several keepalives) keeps its stream:
  // its process answers the pings though no call is in progress.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  CHECK(PeerOn(*c.nodes[1], "n1")->exchanges_open() == 1);

  // n1 hangs (SIGSTOP: its connections stay open, nothing answers on them).
  c.nodes[0]->Pause();
  const auto paused = std::chrono::steady_clock::now();
  uint32_t open = 1;
  while (open != 0 && std::chrono::steady_clock::now() - paused < std::chrono::seconds(15)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::optional<PeerStatus> p = PeerOn(*c.nodes[1], "n1");
    if (p.has_value()) open = p->exchanges_open();
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - paused);
  const uint32_t open_on_n3 = PeerOn(*c.nodes[2], "n1")->exchanges_open();
  c.nodes[0]->Resume();
  INFO("n2 closed n1's stream after " << waited.count() << " ms");
  CHECK(open == 0);                       // n2 found n1 silent and freed its stream,
  CHECK(waited < std::chrono::seconds(6));  // about a keepalive and its timeout later;
  CHECK(open_on_n3 == 1);                 // n3, at the default keepalive, had not yet.

  // Back, n1 routes with both again: its broken stream to n2 is replaced within the call.
  REQUIRE(CallRoute(*c.nodes[0], PlanOnly("after", SIDE_BUY, 2 * kBtc), &r).ok());
  CHECK(r.cluster().route().dropped_size() == 0);
  CHECK(PeerOn(*c.nodes[1], "n1")->exchanges_open() == 1);
}

TEST_CASE("a cluster route beyond the coordinator's risk limit is refused before any node is asked", "[cluster][risk]") {
  Cluster c;
  c.members[0] = R"("risk": [{"symbol": "BTC-USD", "max_order_quantity": 500000000}])";  // 5 BTC an order.
  c.round_timeout_ms = 500;
  c.Start(0);  // Its peers are not running: a route that got past the check would drop them.
  auto ch = Connect(*c.nodes[0]);
  RouteResponse resp;
  const grpc::Status big = exo::testing::CallRoute(ch, exo::testing::BtcOrder("big", SIDE_BUY, 6 * kBtc, ROUTE_MODE_PLAN_ONLY), &resp);
  CHECK(big.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(big.error_message() ==
        "order.quantity: 6.00000000 BTC-USD is over this node's limit of 5.00000000 per order (risk[0].max_order_quantity)");
  StatusResponse st;
  grpc::ClientContext ctx;
  REQUIRE(AdminService::NewStub(ch)->Status(&ctx, StatusRequest(), &st).ok());
  REQUIRE(st.peers_size() == 2);
  for (const PeerStatus& p : st.peers()) CHECK(p.calls() == 0);  // No node was asked.
  REQUIRE(st.risk_size() == 1);
  CHECK(st.risk(0).refused() == 1);
  CHECK(st.risk(0).refused_by_limit().at("max_order_quantity") == 1);
  // Within it the route goes on, without the nodes that are down.
  const grpc::Status small = exo::testing::CallRoute(ch, exo::testing::BtcOrder("small", SIDE_BUY, kBtc, ROUTE_MODE_PLAN_ONLY), &resp);
  INFO(small.error_message());
  CHECK(small.ok());
  CHECK(resp.cluster().route().dropped_size() == 2);
}

TEST_CASE("a coordinator's working-quantity limit counts what every node's plans may still fill", "[cluster][risk]") {
  Cluster c;
  // n1's limit: 10 BTC working (n2 and n3 have none).
  c.members[0] = R"("risk": [{"symbol": "BTC-USD", "max_working_quantity": 1000000000}])";
  for (int k = 0; k < 3; ++k) {
    c.venues[k] = SilentVenuesOf(k + 1);  // Children stay open: every plan keeps working.
    c.Start(k);
  }
  RouteResponse resp, first;
  REQUIRE(CallRoute(*c.nodes[0], Executed("w-1", SIDE_BUY, 6 * kBtc), &first).ok());
  REQUIRE(SharingNodes(first).size() >= 2);  // n1 itself holds only part of it.
  // 6 BTC more: n1's own plans (its share of w-1) leave room, the cluster's 6 BTC do not.
  const grpc::Status over = CallRoute(*c.nodes[0], Executed("w-2", SIDE_BUY, 6 * kBtc), &resp);
  CHECK(over.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(over.error_message() ==
        "order.quantity: 6.00000000 BTC-USD more would take the quantity the cluster's executed BTC-USD plans may "
        "still fill to 12.00000000, over this node's limit of 10.00000000 (risk[0].max_working_quantity): "
        "6.00000000 is working on the cluster's nodes now; retry when plans have filled or ended");
  for (int k = 0; k < 3; ++k) CHECK_FALSE(PlanOn(*c.nodes[k], "w-2").has_value());  // Nothing placed anywhere.
  StatusResponse st;
  grpc::ClientContext ctx;
  REQUIRE(AdminService::NewStub(Connect(*c.nodes[0]))->Status(&ctx, StatusRequest(), &st).ok());
  REQUIRE(st.risk_size() == 1);
  CHECK(st.risk(0).refused_by_limit().at("max_working_quantity") == 1);
  // A node whose trading is halted takes no share of a route, but what its plans may still
  // fill counts all the same: it answers Prepare with no usable venue (peer protocol 7).
  const int other = SharingNodes(first).count("n2") == 1 ? 1 : 2;
  const std::string other_id = "n" + std::to_string(other + 1);
  REQUIRE(SharingNodes(first).count(other_id) == 1);
  REQUIRE(exo::testing::Ctl(*c.nodes[other], {"halt", "--reason", "desk check"}).exit_code == 0);
  const grpc::Status still_over = CallRoute(*c.nodes[0], Executed("w-2", SIDE_BUY, 6 * kBtc), &resp);
  CHECK(still_over.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(still_over.error_message() == over.error_message());
  // Within the limit, the halted node is named as left out and takes no share.
  const grpc::Status beside = CallRoute(*c.nodes[0], Executed("w-h", SIDE_BUY, kBtc), &resp);
  INFO(beside.error_message());
  REQUIRE(beside.ok());
  CHECK(SharingNodes(resp).count(other_id) == 0);
  CHECK_FALSE(PlanOn(*c.nodes[other], "w-h").has_value());
  REQUIRE(resp.cluster().route().dropped_size() == 1);
  CHECK(resp.cluster().route().dropped(0).node() == other_id);
  CHECK(resp.cluster().route().dropped(0).reason().find("trading is halted on this node since ") != std::string::npos);
  REQUIRE(exo::testing::Ctl(*c.nodes[other], {"resume", "--reason", "checked"}).exit_code == 0);
  // Up to the limit it is routed; a coordinator without such a limit routes on.
  CHECK(CallRoute(*c.nodes[0], Executed("w-3", SIDE_BUY, 3 * kBtc), &resp).ok());
  CHECK(CallRoute(*c.nodes[1], Executed("w-4", SIDE_BUY, 6 * kBtc), &resp).ok());
}

TEST_CASE("a GTC route's shortfall is routed again across the cluster as the books refill, until placed", "[cluster][shortfall]") {
  Cluster c;
  MakeRefilling(c);
  for (int k = 0; k < 3; ++k) c.Start(k);
  // A market order of more than every node's books hold at once: the route takes what they
  // show, and the coordinator works the rest.
  RouteResponse routed;
  const grpc::Status s = CallRoute(*c.nodes[0], Executed("gtc-big", SIDE_BUY, 150 * kBtc), &routed);
  INFO(s.error_message());
  REQUIRE(s.ok());
  const int64_t first_short = routed.cluster().shortfall();
  REQUIRE(first_short > 0);
  CHECK(routed.cluster().shortfall_worked());
  // From another node: the sub-routes place the rest, and the route fills whole.
  const GetRouteResponse done = RouteProgressUntil(*c.nodes[1], "gtc-big", [](const GetRouteResponse& r) {
    return r.settled() || r.shortfall_work().state() != ShortfallWork::STATE_OPEN;
  });
  REQUIRE(done.has_shortfall_work());
  CHECK(done.shortfall_work().state() == ShortfallWork::STATE_DONE);
  CHECK(done.shortfall_work().coordinator() == "n1");
  CHECK(done.shortfall_work().shortfall() == 0);
  const uint32_t subs = done.shortfall_work().sub_routes();
  CHECK(subs >= 1);
  CHECK(done.order_quantity() == 150 * kBtc);
  CHECK(done.quantity() == 150 * kBtc);  // The route's shares and every sub-route's.
  CHECK(done.shortfall() == 0);
  const GetRouteResponse filled = RouteProgressUntil(*c.nodes[2], "gtc-big", [](const GetRouteResponse& r) { return r.settled(); });
  CHECK(filled.settled());
  CHECK(filled.filled_quantity() == 150 * kBtc);
  CHECK(filled.average_price() > 0);
  // Each sub-route is a cluster route of its own: shares on the nodes that took part, recorded
  // with who sent the parent order, for what was left when it was routed.
  int64_t sub_total = 0;
  for (uint32_t n = 2; n <= subs + 1; ++n) {
    const std::string id = "gtc-big~" + std::to_string(n);
    const GetRouteResponse sub = RouteProgress(*c.nodes[0], id);
    CHECK(sub.quantity() > 0);
    if (n == 2) CHECK(sub.order_quantity() == first_short);
    sub_total += sub.quantity();
    bool on_some_node = false;
    for (int k = 0; k < 3; ++k) on_some_node = on_some_node || PlanOn(*c.nodes[k], id).has_value();
    CHECK(on_some_node);
  }
  CHECK(sub_total == first_short);
  auto shown = exo::testing::Ctl(*c.nodes[2], {"route-status", "gtc-big"});
  INFO(shown.out << shown.err);
  CHECK(shown.exit_code == 0);
  CHECK(shown.out.find("shortfall routed whole: ") != std::string::npos);
  // Everything filled: nothing to cancel or amend, asked by the route's id or a sub-route's.
  for (const std::string& id : {std::string("gtc-big"), std::string("gtc-big~2")}) {
    CancelPlanResponse cancelled;
    const grpc::Status cs = CancelOn(*c.nodes[1], id, "", &cancelled);
    INFO(id << ": " << cs.error_message());
    CHECK(cs.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    AmendPlanRequest amend;
    amend.set_plan_id(id);
    amend.set_limit_price(6600000);
    AmendPlanResponse amended;
    const grpc::Status as = AmendOn(*c.nodes[2], amend, &amended);
    INFO(as.error_message());
    CHECK(as.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  }
  // '~' names sub-routes: no client order may use it.
  RouteResponse refused;
  const grpc::Status tilde = CallRoute(*c.nodes[0], Executed("mine~2", SIDE_BUY, kBtc), &refused);
  CHECK(tilde.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(tilde.error_message().find("order.id: ") == 0);
}

TEST_CASE("WatchRoute streams a cluster route's progress from any node at each change until it settles",
          "[cluster][shortfall]") {
  Cluster c;
  MakeRefilling(c);
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteResponse routed;
  REQUIRE(CallRoute(*c.nodes[0], Executed("watched", SIDE_BUY, 150 * kBtc), &routed).ok());
  REQUIRE(routed.cluster().shortfall() > 0);  // Worked over a few refills: several changes to see.
  auto stub = RouterService::NewStub(Connect(*c.nodes[1]));
  WatchRouteRequest req;
  req.set_route_id("watched");
  req.set_interval_ms(50);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub->WatchRoute(&ctx, req);
  std::vector<GetRouteResponse> seen;
  for (GetRouteResponse r; reader->Read(&r);) seen.push_back(r);
  const grpc::Status s = reader->Finish();
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(seen.size() >= 2);
  CHECK_FALSE(seen.front().settled());
  CHECK(seen.back().settled());
  CHECK(seen.back().filled_quantity() == 150 * kBtc);
  CHECK(seen.back().shortfall_work().state() == ShortfallWork::STATE_DONE);
  for (size_t i = 1; i < seen.size(); ++i) {  // Only changes are sent, and what is placed only grows.
    INFO(i);
    CHECK_FALSE(google::protobuf::util::MessageDifferencer::Equals(seen[i - 1], seen[i]));
    CHECK(seen[i].filled_quantity() >= seen[i - 1].filled_quantity());
  }
  // A settled route: one answer, and the stream ends.
  auto followed = exo::testing::Ctl(*c.nodes[2], {"--json", "route-status", "watched", "--follow"});
  INFO(followed.out << followed.err);
  CHECK(followed.exit_code == 0);
  CHECK(std::count(followed.out.begin(), followed.out.end(), '\n') == 1);
  CHECK(followed.out.find("\"settled\":true") != std::string::npos);
  auto table = exo::testing::Ctl(*c.nodes[2], {"route-status", "watched", "--follow", "--every", "100"});
  INFO(table.out << table.err);
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("  route     settled, filled 150.00000000 of 150.00000000") != std::string::npos);
  CHECK(table.out.find("NODE") != std::string::npos);
  // Bad requests, each naming its field.
  for (uint32_t interval : {5u, 60'001u}) {
    grpc::ClientContext bad;
    WatchRouteRequest r = req;
    r.set_interval_ms(interval);
    auto refused = stub->WatchRoute(&bad, r);
    GetRouteResponse none;
    CHECK_FALSE(refused->Read(&none));
    const grpc::Status why = refused->Finish();
    CHECK(why.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(why.error_message().rfind("interval_ms: ", 0) == 0);
  }
  grpc::ClientContext unknown_ctx;
  WatchRouteRequest unknown = req;
  unknown.set_route_id("no-such-route");
  auto missing = stub->WatchRoute(&unknown_ctx, unknown);
  GetRouteResponse none;
  CHECK_FALSE(missing->Read(&none));
  CHECK(missing->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(exo::testing::Ctl(*c.nodes[2], {"route-status", "watched", "--follow", "--every", "5"}).exit_code == 2);
}

TEST_CASE("route-status --follow rides out a restart of the node it asks and ends when the route settles",
          "[cluster]") {
  Cluster c;
  c.api_port[1] = exo::testing::FreePort();  // n2's, kept across its restart as a deployment's is.
  for (int k = 0; k < 3; ++k) c.Start(k);
  // A buy limited far below the market: nothing is within its limit, and its coordinator works
  // it as the route's shortfall (the books may come down to it); nothing settles it but a cancel.
  RouteRequest resting = Executed("followed", SIDE_BUY, 3 * kBtc);
  resting.mutable_order()->set_limit_price(1);
  RouteResponse routed;
  REQUIRE(CallRoute(*c.nodes[0], resting, &routed).ok());
  REQUIRE(routed.cluster().shortfall_worked());
  const std::vector<std::string> args = {"--endpoint", c.nodes[1]->endpoint(), "--ca", c.nodes[1]->ca_file(),
                                         "route-status", "followed", "--follow", "--every", "100"};
  exo::testing::CommandResult followed;
  std::thread follower([&] { followed = exo::testing::Run(EXOROUTECTL_PATH, args); });
  auto followed_on_n2_within = [&](int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      StatusResponse st;
      grpc::ClientContext ctx;
      if (AdminService::NewStub(Connect(*c.nodes[1]))->Status(&ctx, StatusRequest(), &st).ok() &&
          st.open_watches() == 1) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  CHECK(followed_on_n2_within(10));
  CHECK(c.nodes[1]->Terminate() == 0);  // Its streams end "shutting down".
  c.Start(1);
  CHECK(followed_on_n2_within(10));  // The CLI follows again.
  CancelPlanRequest cancel;
  cancel.set_plan_id("followed");
  CancelPlanResponse cancelled;
  grpc::ClientContext ctx;
  REQUIRE(RouterService::NewStub(Connect(*c.nodes[0]))->CancelPlan(&ctx, cancel, &cancelled).ok());
  follower.join();
  // It ended as a follow ends, with the route settled (it ended at the restart, exit 1).
  INFO(followed.out << followed.err);
  CHECK(followed.exit_code == 0);
  // The node said so (UNAVAILABLE), or its shutdown's deadline cut the watch (CANCELLED): before
  // the watch's first answer, if the node was still asking the others for it.
  CHECK((followed.err.find("exoroutectl: the node went away (exorouted is shutting down; watch again)") !=
             std::string::npos ||
         followed.err.find("exoroutectl: the node went away (CANCELLED)") != std::string::npos));
  CHECK(followed.err.find("exoroutectl: following followed again\n") != std::string::npos);
  CHECK(followed.out.find("  route     in progress, filled 0.00000000 of 0.00000000 routed\n") != std::string::npos);
  CHECK(followed.out.find("\nroute     settled, filled 0.00000000 of 0.00000000 routed\nshortfall 3.00000000 no longer "
                          "routed: the route was cancelled") != std::string::npos);
}

// Starts `c`'s three nodes on refilling books (MakeRefilling) and routes `req` through n1.
RouteResponse RouteOnRefillingBooks(Cluster& c, const RouteRequest& req) {
  MakeRefilling(c);
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteResponse routed;
  const grpc::Status s = CallRoute(*c.nodes[0], req, &routed);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return routed;
}

TEST_CASE("a GTC route's shortfall worked under an arrival band keeps the arrival limit, and no sub-route walks past it",
          "[cluster][shortfall]") {
  Cluster c;
  // A market order of more than the books hold, protected 20 bp from the mid at arrival: the
  // route takes what lies within, and the coordinator works the rest as the books refill.
  RouteRequest req = Executed("gtc-banded", SIDE_BUY, 150 * kBtc);
  req.mutable_order()->set_arrival_band_bps(20);
  const RouteResponse routed = RouteOnRefillingBooks(c, req);
  const int64_t limit = routed.cluster().route().arrival_limit();
  REQUIRE(limit > 0);
  REQUIRE(routed.cluster().shortfall() > 0);
  CHECK(routed.cluster().shortfall_worked());
  const GetRouteResponse worked = RouteProgressUntil(*c.nodes[1], "gtc-banded", [](const GetRouteResponse& r) {
    return r.shortfall_work().sub_routes() >= 2 || r.shortfall_work().state() != ShortfallWork::STATE_OPEN;
  });
  const uint32_t subs = worked.shortfall_work().sub_routes();
  REQUIRE(subs >= 1);
  int shares = 0;
  for (uint32_t n = 2; n <= subs + 1; ++n) {
    const std::string id = "gtc-banded~" + std::to_string(n);
    for (int k = 0; k < 3; ++k) {
      const std::optional<Plan> p = PlanOn(*c.nodes[k], id);
      if (!p) continue;
      ++shares;
      INFO(id << " on n" << k + 1 << ": " << p->order().DebugString());
      // The sub-route is the parent's order limited at the arrival limit, with no band of its own.
      CHECK(p->order().has_limit_price());
      CHECK(p->order().limit_price() == limit);
      CHECK(p->order().arrival_band_bps() == 0);
      for (const ChildState& child : p->children()) CHECK(child.order().limit_price() <= limit);
    }
  }
  CHECK(shares > 0);
  // Whatever filled, filled within the limit.
  const GetRouteResponse now = RouteProgress(*c.nodes[2], "gtc-banded");
  if (now.filled_quantity() > 0) CHECK(now.average_price() <= limit);
  // (Stops the work if the books have not filled it yet; one that has ended answers that.)
  CancelPlanResponse cancelled;
  (void)CancelOn(*c.nodes[2], "gtc-banded", "test over", &cancelled);
}

TEST_CASE("a new quantity for a route whose work is kept by a node that is down is refused, and nothing is amended",
          "[cluster][shortfall]") {
  Cluster c;
  // A buy limited far below every ask: no node takes any of it, n1 works the whole order.
  RouteRequest low = Executed("q-down", SIDE_BUY, 2 * kBtc);
  low.mutable_order()->set_limit_price(100000);
  REQUIRE(RouteOnRefillingBooks(c, low).cluster().shortfall_worked());
  c.nodes[0]->Kill9();
  AmendPlanRequest more;
  more.set_plan_id("q-down");
  more.set_quantity(3 * kBtc);
  AmendPlanResponse amended;
  const grpc::Status s = AmendOn(*c.nodes[1], more, &amended);
  INFO(s.error_message());
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(s.error_message().find("quantity: node n1") == 0);
  CHECK(s.error_message().find("could not be asked") != std::string::npos);
  // Back, n1 works the order as it was: the refused amendment changed nothing anywhere.
  c.Start(0);
  const GetRouteResponse after = RouteProgress(*c.nodes[2], "q-down");
  REQUIRE(after.has_shortfall_work());
  CHECK(after.shortfall_work().state() == ShortfallWork::STATE_OPEN);
  CHECK(after.order_quantity() == 2 * kBtc);
  CHECK(after.shortfall() == 2 * kBtc);
  // Now it can be asked: the same amendment goes through (once n2 has reconnected to it: its
  // peer links try again within a second).
  grpc::Status again;
  for (int i = 0; i < 50; ++i) {
    again = AmendOn(*c.nodes[1], more, &amended);
    if (again.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(again.error_message());
  CHECK(again.ok());
  CHECK(RouteProgress(*c.nodes[2], "q-down").order_quantity() == 3 * kBtc);
  CancelPlanResponse cancelled;
  CHECK(CancelOn(*c.nodes[1], "q-down", "test over", &cancelled).ok());
}

TEST_CASE("a worked shortfall outlives its coordinator's restart, takes an amendment sent to another node, and ends "
          "with a cancel", "[cluster][shortfall]") {
  Cluster c;
  MakeRefilling(c);
  for (int k = 0; k < 3; ++k) c.Start(k);
  // A buy limited far below every ask: no node takes any of it, the whole order is worked.
  RouteRequest low = Executed("gtc-low", SIDE_BUY, 2 * kBtc);
  low.mutable_order()->set_limit_price(100000);  // 1000.00, the market is near 65000.
  RouteResponse routed;
  REQUIRE(CallRoute(*c.nodes[0], low, &routed).ok());
  CHECK(routed.cluster().shortfall() == 2 * kBtc);
  CHECK(routed.cluster().shortfall_worked());
  // Tried and placed nothing: open, saying why.
  const GetRouteResponse tried = RouteProgressUntil(*c.nodes[2], "gtc-low", [](const GetRouteResponse& r) {
    return r.shortfall_work().last_attempt_ns() > 0;
  });
  CHECK(tried.shortfall_work().state() == ShortfallWork::STATE_OPEN);
  CHECK(tried.shortfall_work().sub_routes() == 0);
  CHECK(tried.shortfall_work().last_error() == "no node's venues took any of it");
  CHECK_FALSE(tried.settled());
  CHECK(tried.nodes().empty());  // No node holds a share.
  CHECK(tried.shortfall() == 2 * kBtc);
  // Its coordinator's status and metrics show it.
  auto status = exo::testing::Ctl(*c.nodes[0], {"status"});
  INFO(status.out);
  CHECK(status.out.find("shortfall   route gtc-low: 2.00000000 still to route: n1 routes it again until placed, "
                        "cancelled or expired (0 sub-routes so far; last try: no node's venues took any of it)") !=
        std::string::npos);
  {
    std::string admin;
    std::ifstream(c.dir / "n1/admin_endpoint") >> admin;
    auto m = exo::testing::HttpRequest(std::stoi(admin.substr(admin.find(':') + 1)), "GET", "/metrics");
    CHECK(m.body.find("exoroute_cluster_shortfalls_worked 1\n") != std::string::npos);
  }
  // The coordinator dies and comes back: the work is read back and goes on.
  c.nodes[0]->Kill9();
  c.Start(0);
  const GetRouteResponse after = RouteProgress(*c.nodes[1], "gtc-low");
  REQUIRE(after.has_shortfall_work());
  CHECK(after.shortfall_work().state() == ShortfallWork::STATE_OPEN);
  CHECK(after.shortfall_work().coordinator() == "n1");
  // The limit amended through n3 reaches the work on n1: the next sub-route takes the new one.
  const AmendPlanResponse amended = AmendOk(*c.nodes[2], ToMarket("gtc-low", "take it at market"));
  CHECK(amended.shortfall_work().coordinator() == "n1");
  const GetRouteResponse placed = RouteProgressUntil(*c.nodes[1], "gtc-low", [](const GetRouteResponse& r) {
    return r.shortfall_work().state() != ShortfallWork::STATE_OPEN;
  });
  CHECK(placed.shortfall_work().state() == ShortfallWork::STATE_DONE);
  CHECK(placed.quantity() == 2 * kBtc);
  // A second one, cancelled through n2 while it is worked: the work ends, recorded, and no
  // sub-route is routed after it.
  RouteRequest low2 = Executed("gtc-low-2", SIDE_BUY, 2 * kBtc);
  low2.mutable_order()->set_limit_price(100000);
  REQUIRE(CallRoute(*c.nodes[0], low2, &routed).ok());
  REQUIRE(routed.cluster().shortfall_worked());
  CancelPlanResponse cancelled;
  const grpc::Status cs = CancelOn(*c.nodes[1], "gtc-low-2", "changed my mind", &cancelled);
  INFO(cs.error_message());
  REQUIRE(cs.ok());
  CHECK(cancelled.shortfall_work().state() == ShortfallWork::STATE_CANCELLED);
  CHECK(cancelled.shortfall_work().shortfall() == 2 * kBtc);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // Three retry intervals.
  const GetRouteResponse ended = RouteProgress(*c.nodes[2], "gtc-low-2");
  CHECK(ended.shortfall_work().state() == ShortfallWork::STATE_CANCELLED);
  CHECK(ended.shortfall_work().sub_routes() == 0);
  CHECK(ended.settled());
  for (int k = 0; k < 3; ++k) CHECK_FALSE(PlanOn(*c.nodes[k], "gtc-low-2~2").has_value());
  auto shown = exo::testing::Ctl(*c.nodes[2], {"route-status", "gtc-low-2"});
  INFO(shown.out << shown.err);
  CHECK(shown.out.find("shortfall 2.00000000 no longer routed: the route was cancelled (0 sub-routes placed before)\n") !=
        std::string::npos);
  CHECK(shown.out.find("(no node holds a share of it yet)") != std::string::npos);
  // And after a restart it stays ended.
  c.nodes[0]->Kill9();
  c.Start(0);
  CHECK(RouteProgress(*c.nodes[0], "gtc-low-2").shortfall_work().state() == ShortfallWork::STATE_CANCELLED);
}

// MakeRefilling, with n2's venues silent (its children stay open: its shares keep working)
// and refilling as the others do.
void MakeRefillingSilentN2(Cluster& c) {
  MakeRefilling(c);
  c.venues[1] = SilentVenuesOf(2);
  const std::string hourly = "\"update_interval_ms\": 3600000";
  for (size_t at; (at = c.venues[1].find(hourly)) != std::string::npos;) {
    c.venues[1].replace(at, hourly.size(), "\"update_interval_ms\": 300");
  }
}

// Amends route `route`'s limit through node d to 1000.00, where nothing of the market is: the
// answer, which must be OK.
AmendPlanResponse AmendLimitOutOfReach(const DaemonProcess& d, const std::string& route) {
  AmendPlanRequest amend;
  amend.set_plan_id(route);
  amend.set_limit_price(100000);
  return AmendOk(d, amend);
}

// Route `route`'s shortfall, seen from node d, is still worked but its sub-routes place nothing
// more: its terms are out of every book's reach, for seven attempts across five refills.
void CheckPlacesNothingMore(const DaemonProcess& d, const std::string& route) {
  const GetRouteResponse stalled = RouteProgressUntil(d, route, [](const GetRouteResponse& r) {
    return r.shortfall_work().last_error() == "no node's venues took any of it";
  });
  REQUIRE(stalled.shortfall_work().state() == ShortfallWork::STATE_OPEN);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const GetRouteResponse later = RouteProgress(d, route);
  CHECK(later.shortfall_work().sub_routes() == stalled.shortfall_work().sub_routes());
  CHECK(later.shortfall_work().shortfall() == stalled.shortfall_work().shortfall());
  CHECK(later.shortfall_work().last_error() == "no node's venues took any of it");
}

// Routes a market buy of 1000 BTC, far beyond every book, through node d: the nodes take what
// their books show, and the coordinator's sub-routes place the rest as they refill, for seconds.
RouteResponse RouteFarBeyondBooks(const DaemonProcess& d, const std::string& id) {
  RouteResponse routed;
  const grpc::Status s = CallRoute(d, Executed(id, SIDE_BUY, 1000 * kBtc), &routed);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(routed.cluster().shortfall_worked());
  return routed;
}

// Routes a buy of 2 BTC limited far below every ask (1000.00; the market is near 65000) through
// node d: no node takes a share of it, and d works the whole order as its shortfall.
RouteResponse RouteFarBelowMarket(const DaemonProcess& d, const std::string& id) {
  RouteRequest low = Executed(id, SIDE_BUY, 2 * kBtc);
  low.mutable_order()->set_limit_price(100000);
  RouteResponse routed;
  const grpc::Status s = CallRoute(d, low, &routed);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(routed.cluster().shortfall_worked());
  REQUIRE(routed.cluster().shortfall() == 2 * kBtc);
  return routed;
}

// Starts `c`'s three nodes on refilling books, routes `id` far beyond them through n1, and waits
// until node `k` sees n1 route a first sub-route of it.
void StartWorkingFarBeyondBooks(Cluster& c, const std::string& id, int k) {
  MakeRefilling(c);
  for (int n = 0; n < 3; ++n) c.Start(n);
  RouteFarBeyondBooks(*c.nodes[0], id);
  RouteProgressUntil(*c.nodes[k], id, [](const GetRouteResponse& r) { return r.shortfall_work().sub_routes() >= 1; });
}

// Waits until route `id`'s shortfall work has ended (seen from n3) and checks that it ended
// DONE with `qty` placed, neither more nor less, and that all of it fills; returns the ended
// progress. (The crash tests' end: whatever crashed, the order is placed exactly.)
GetRouteResponse CheckPlacedExactly(Cluster& c, const std::string& id, int64_t qty) {
  const GetRouteResponse done = RouteProgressUntil(*c.nodes[2], id, [](const GetRouteResponse& r) {
    return r.shortfall_work().state() != ShortfallWork::STATE_OPEN;
  });
  INFO(done.ShortDebugString() << "\nn1:\n" << c.nodes[0]->log());
  CHECK(done.shortfall_work().state() == ShortfallWork::STATE_DONE);
  CHECK(done.shortfall() == 0);
  CHECK(done.quantity() == qty);
  const GetRouteResponse filled = RouteProgressUntil(*c.nodes[2], id, [](const GetRouteResponse& r) { return r.settled(); });
  CHECK(filled.filled_quantity() == qty);
  return done;
}

TEST_CASE("a coordinator that crashes after routing a sub-route and before recording it counts that sub-route once "
          "back, and the route places the order exactly", "[cluster][shortfall][crash]") {
  Cluster c;
  // n1 kills itself right after its first sub-route is placed, before it records what it placed
  // (daemon/crash_point.h): its record still says nothing was routed again.
  c.env[0] = {"EXOROUTED_CRASH_AT=sub_route_routed"};
  const RouteResponse routed = RouteOnRefillingBooks(c, Executed("gtc-crash", SIDE_BUY, 150 * kBtc));
  const int64_t first_short = routed.cluster().shortfall();
  REQUIRE(first_short > 0);
  REQUIRE(routed.cluster().shortfall_worked());
  REQUIRE(c.nodes[0]->WaitForExit(std::chrono::seconds(60)) == 128 + SIGKILL);
  CHECK(c.nodes[0]->log().find("crash point sub_route_routed reached") != std::string::npos);
  // Back without the crash point: the next attempt finds gtc-crash~2 on the nodes (n1's own
  // share of it among them, if it took one — in its store, recorded before the sub-route
  // answered; it may have taken all of it, when only its books had refilled), counts what it
  // placed instead of routing it again, and works on from there.
  c.env[0].clear();
  c.Start(0);
  const GetRouteResponse done = CheckPlacedExactly(c, "gtc-crash", 150 * kBtc);  // gtc-crash~2 counted once.
  CHECK(c.nodes[0]->log().find("route gtc-crash: sub-route gtc-crash~2 was routed before this node last stopped: its ") !=
        std::string::npos);
  CHECK(RouteProgress(*c.nodes[1], "gtc-crash~2").quantity() > 0);
  int64_t sub_total = 0;
  for (uint32_t n = 2; n <= done.shortfall_work().sub_routes() + 1; ++n) {
    sub_total += RouteProgress(*c.nodes[1], "gtc-crash~" + std::to_string(n)).quantity();
  }
  CHECK(sub_total == first_short);
}

TEST_CASE("a node that recorded its share but crashed before answering Execute: the coordinator waits for it, counts "
          "its share, and the route places the order exactly", "[cluster][shortfall][crash]") {
  Cluster c;
  // n2 kills itself once it has recorded its share of the route, before it answers Execute
  // (daemon/crash_point.h): the coordinator hears nothing, and cannot know whether it took it.
  c.env[1] = {"EXOROUTED_CRASH_AT=share_recorded"};
  const RouteResponse routed = RouteOnRefillingBooks(c, Executed("gtc-doubt", SIDE_BUY, 150 * kBtc));
  REQUIRE(c.nodes[1]->WaitForExit(std::chrono::seconds(30)) == 128 + SIGKILL);
  REQUIRE(routed.cluster().shortfall_worked());
  bool n2_dropped = false;
  for (const NodeDropped& d : routed.cluster().route().dropped()) n2_dropped = n2_dropped || d.node() == "n2";
  CHECK(n2_dropped);
  // While n2 is down its share is in doubt: nothing more of the route is routed.
  const GetRouteResponse waiting = RouteProgressUntil(*c.nodes[2], "gtc-doubt", [](const GetRouteResponse& r) {
    return r.shortfall_work().last_attempt_ns() > 0;
  });
  INFO(waiting.ShortDebugString());
  CHECK(waiting.shortfall_work().sub_routes() == 0);
  CHECK(waiting.shortfall_work().last_error().find("node n2 did not answer its Execute of route gtc-doubt") == 0);
  // Nor can its quantity change: what the share in doubt holds is not known.
  AmendPlanRequest grow;
  grow.set_plan_id("gtc-doubt");
  grow.set_quantity(160 * kBtc);
  AmendPlanResponse grown;
  const grpc::Status g = AmendOn(*c.nodes[0], grow, &grown);
  CHECK(g.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(g.error_message().find("quantity: node n2's share of gtc-doubt is in doubt (its Execute failed): nothing "
                               "amended") != std::string::npos);
  // Back, it answers that it holds its share: counted, and the rest is routed to the lot.
  c.env[1].clear();
  c.Start(1);
  CheckPlacedExactly(c, "gtc-doubt", 150 * kBtc);  // n2's share once, not again as shortfall.
  const std::optional<Plan> held = PlanOn(*c.nodes[1], "gtc-doubt");
  REQUIRE(held.has_value());
  CHECK(held->order().quantity() > 0);
  CHECK(c.nodes[0]->log().find("route gtc-doubt: node n2 holds a share of ") != std::string::npos);
}

TEST_CASE("a limit amended while the node that works a route's shortfall is down binds its sub-routes once it is back",
          "[cluster][shortfall]") {
  Cluster c;
  MakeRefillingSilentN2(c);
  for (int k = 0; k < 3; ++k) c.Start(k);
  // A market order far beyond the books: the sub-routes place it as they refill, for seconds.
  const RouteResponse routed = RouteFarBeyondBooks(*c.nodes[0], "gtc-huge");
  REQUIRE(SharingNodes(routed).count("n2") == 1);
  // n1, which works it, goes down; the limit is amended through n3 meanwhile: n2's share takes
  // it, n1 cannot be asked.
  c.nodes[0]->Kill9();
  AmendLimitOutOfReach(*c.nodes[2], "gtc-huge");
  REQUIRE(PlanOn(*c.nodes[1], "gtc-huge")->order().limit_price() == 100000);
  // Back, n1 takes the terms its shares were amended to: its sub-routes place nothing more.
  c.Start(0);
  CheckPlacesNothingMore(*c.nodes[2], "gtc-huge");
}

TEST_CASE("a limit amended while the node that works a route's shortfall is down reaches its sub-routes' shares when "
          "the route's own have finished, or a notice when no share can take it, and binds the sub-routes to come once "
          "that node is back",
          "[cluster][shortfall]") {
  Cluster c;
  MakeRefillingSilentN2(c);
  for (int k = 0; k < 3; ++k) c.Start(k);
  // n2 halted: the route itself is shared by n1 and n3 alone, whose shares fill and finish.
  REQUIRE(exo::testing::Ctl(*c.nodes[1], {"halt", "--reason", "n2 later"}).exit_code == 0);
  // Node k's share of `id` finished (or it holds none).
  auto finished = [&](int k, const std::string& id) {
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30); std::chrono::steady_clock::now() < until;) {
      const std::optional<Plan> p = PlanOn(*c.nodes[k], id);
      if (!p.has_value() || p->status() == PLAN_STATUS_COMPLETED) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  // A limit order n3 keeps the work of, which no node took a share of, amended to a market
  // order while n3 is down: no share can take the terms, so n1 and n2 keep a notice of them
  // for n3, which is named as not asked.
  RouteRequest low = Executed("gtc-n3", SIDE_BUY, 2 * kBtc);
  low.mutable_order()->set_limit_price(100000);  // 1000.00, the market is near 65000.
  RouteResponse waiting;
  REQUIRE(CallRoute(*c.nodes[2], low, &waiting).ok());
  REQUIRE(waiting.cluster().shortfall() == 2 * kBtc);
  c.nodes[2]->Kill9();
  const AmendPlanResponse noticed = AmendOk(*c.nodes[0], ToMarket("gtc-n3"));
  CHECK(std::vector<std::string>(noticed.noticed_on().begin(), noticed.noticed_on().end()) ==
        std::vector<std::string>{"n1", "n2"});
  CHECK(noticed.changed());
  REQUIRE(noticed.nodes_size() == 1);
  CHECK(noticed.nodes(0).node() == "n3");
  CHECK_FALSE(noticed.nodes(0).error().empty());
  // A second amendment meanwhile is merged into the notice (from the CLI, on a node that holds
  // no share of the route: an urgency needs no instrument's decimals).
  auto urgent = exo::testing::Ctl(*c.nodes[1], {"plan", "amend", "gtc-n3", "--urgency", "high"});
  INFO(urgent.out << urgent.err);
  REQUIRE(urgent.exit_code == 0);
  CHECK(urgent.out.find("  notice    kept on n1, n2: a node not asked takes the terms for its work on the route, if "
                        "it has any, when it is back\n") != std::string::npos);
  // Back, n3 takes both before its next attempt: the order is placed whole at the market.
  const size_t log_before = c.nodes[2]->log().size();
  c.Start(2);
  const GetRouteResponse placed = RouteProgressUntil(*c.nodes[0], "gtc-n3", [](const GetRouteResponse& r) {
    return r.shortfall_work().state() == ShortfallWork::STATE_DONE;
  });
  CHECK(placed.shortfall_work().state() == ShortfallWork::STATE_DONE);
  CHECK(placed.quantity() == 2 * kBtc);
  CHECK(c.nodes[2]->log().substr(log_before).find("route gtc-n3: it was (a notice) amended while this node could not "
                                                  "be asked: its sub-routes take the terms (limit none, urgency "
                                                  "URGENCY_HIGH)") != std::string::npos);
  const RouteResponse routed = RouteFarBeyondBooks(*c.nodes[0], "gtc-subs");
  REQUIRE(SharingNodes(routed).count("n2") == 0);
  REQUIRE(finished(0, "gtc-subs"));
  REQUIRE(finished(2, "gtc-subs"));
  // n3 halted too for a while: a sub-route or more is n1's alone, which no other node holds a
  // share of (a gap in the numbers the others hold). (Two more sub-routes: the second was
  // prepared after the halt.)
  REQUIRE(exo::testing::Ctl(*c.nodes[2], {"halt", "--reason", "n3 later"}).exit_code == 0);
  const uint32_t before_gap = RouteProgress(*c.nodes[0], "gtc-subs").shortfall_work().sub_routes();
  const GetRouteResponse gap = RouteProgressUntil(*c.nodes[0], "gtc-subs", [&](const GetRouteResponse& r) {
    return r.shortfall_work().sub_routes() >= before_gap + 2;
  });
  REQUIRE(gap.shortfall_work().sub_routes() >= before_gap + 2);
  REQUIRE_FALSE(PlanOn(*c.nodes[2], "gtc-subs~" + std::to_string(gap.shortfall_work().sub_routes() + 1)).has_value());
  REQUIRE(exo::testing::Ctl(*c.nodes[2], {"resume", "--reason", "n3 back"}).exit_code == 0);
  // Resumed, n2 takes shares of the sub-routes after, and they keep working.
  REQUIRE(exo::testing::Ctl(*c.nodes[1], {"resume", "--reason", "n2 back"}).exit_code == 0);
  const GetRouteResponse shared = RouteProgressUntil(*c.nodes[2], "gtc-subs", [](const GetRouteResponse& r) {
    return std::any_of(r.nodes().begin(), r.nodes().end(), [](const NodeProgress& n) { return n.node() == "n2"; });
  });
  REQUIRE(std::any_of(shared.nodes().begin(), shared.nodes().end(), [](const NodeProgress& n) {
    return n.node() == "n2" && n.status() == PLAN_STATUS_WORKING;
  }));
  // n1, which works it, goes down; the limit is amended through n3: no share of the route
  // itself can take it, n2's sub-routes' shares do (each node names those it holds, past the
  // gap), n1 is named.
  c.nodes[0]->Kill9();
  const AmendPlanResponse amended = AmendLimitOutOfReach(*c.nodes[2], "gtc-subs");
  std::map<std::string, NodeAmend> by_node;
  for (const NodeAmend& n : amended.nodes()) by_node[n.node()] = n;
  REQUIRE(by_node.count("n1") == 1);
  CHECK_FALSE(by_node["n1"].error().empty());
  REQUIRE(by_node.count("n2") == 1);
  CHECK(by_node["n2"].error().empty());
  CHECK(by_node["n2"].changed());
  int n2_shares = 0;
  for (int k = 2; k < 200; ++k) {
    const std::optional<Plan> p = PlanOn(*c.nodes[1], "gtc-subs~" + std::to_string(k));
    if (!p.has_value() || p->status() != PLAN_STATUS_WORKING) continue;
    ++n2_shares;
    CHECK(p->order().limit_price() == 100000);
  }
  CHECK(n2_shares > 0);
  // Back, n1 takes the terms of the share amended last, a sub-route's: nothing more is placed.
  c.Start(0);
  CheckPlacesNothingMore(*c.nodes[2], "gtc-subs");
}

// Whether node d's plans of `route` and of its sub-routes ~2 … ~(subs + 1) have all finished
// (or it holds none of them).
bool SharesFinishedOn(const DaemonProcess& d, const std::string& route, int subs) {
  for (int k = 1; k <= subs + 1; ++k) {
    const std::optional<Plan> p = PlanOn(d, k == 1 ? route : route + "~" + std::to_string(k));
    if (p.has_value() && (p->status() == PLAN_STATUS_WORKING || p->status() == PLAN_STATUS_CANCELLING)) return false;
  }
  return true;
}

// Whether `log` says that route `id`'s shortfall work ended on a cancel that came through n2
// ("desk closing") while the node could not be asked: its own probe found a notice of it, or a
// node that keeps one sent it again first.
bool WorkEndedOnNotice(const std::string& log, const std::string& id) {
  for (const char* how : {": a cancel was noted on ", ": a cancel reached this node ("}) {
    const size_t at = log.find("route " + id + how);
    if (at == std::string::npos) continue;
    const std::string line = log.substr(at, log.find('\n', at) - at);
    if (line.find("(cancelled through n2 while ") != std::string::npos &&
        line.find(": desk closing): its shortfall is no longer routed") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Whether node d holds a plan of any of route `route`'s sub-routes ~from … ~to.
bool AnySubRouteOn(const DaemonProcess& d, const std::string& route, int from, int to) {
  for (int n = from; n <= to; ++n) {
    if (PlanOn(d, route + "~" + std::to_string(n)).has_value()) return true;
  }
  return false;
}

TEST_CASE("a node back from down ends its work on a cancel noticed meanwhile by its own look, before any node sends it again",
          "[cluster][shortfall]") {
  Cluster c;
  // n2 and n3 work (and send kept cancels again) only every ten minutes; n1 every 200 ms.
  c.cluster_extra = R"(, "shortfall_retry_ms": 600000)";
  for (int k = 1; k < 3; ++k) c.Start(k);
  std::string n1 = c.ClusterJson(0);
  n1.replace(n1.find("600000"), 6, "200");
  c.Start(0, n1);
  // A buy limited far below every ask: no node takes a share, n1 works the whole order.
  RouteFarBelowMarket(*c.nodes[0], "own-look");
  c.nodes[0]->Kill9();
  CancelPlanResponse cancelled;
  const grpc::Status cs = CancelOn(*c.nodes[1], "own-look", "desk closing", &cancelled);
  INFO(cs.error_message());
  REQUIRE(cs.ok());
  REQUIRE(cancelled.noticed_on_size() == 2);
  // Back, n1 asks every node before its next attempt and finds the notices itself.
  const size_t log_before = c.nodes[0]->log().size();
  c.Start(0, n1);
  const GetRouteResponse ended = RouteProgressUntil(*c.nodes[2], "own-look", [](const GetRouteResponse& r) {
    return r.shortfall_work().state() == ShortfallWork::STATE_CANCELLED;
  });
  CHECK(ended.shortfall_work().state() == ShortfallWork::STATE_CANCELLED);
  const std::string log = c.nodes[0]->log().substr(log_before);
  INFO(log);
  CHECK(log.find("route own-look: a cancel was noted on n2, n3 (cancelled through n2 while n1 could not be asked: "
                 "desk closing): its shortfall is no longer routed") != std::string::npos);
  CHECK(log.find("route own-look: a cancel reached this node") == std::string::npos);  // Not sent again first.
  CHECK(ended.shortfall_work().sub_routes() == 0);
}

TEST_CASE("a cancel sent while the node that works a route's shortfall is down, with no share left to cancel, leaves "
          "a notice that ends the work once that node is back",
          "[cluster][shortfall]") {
  Cluster c;
  MakeRefilling(c);
  for (int k = 0; k < 3; ++k) c.Start(k);
  // A market order far beyond the books: n1's sub-routes place it as they refill, for seconds;
  // and a buy limited far below every ask, which no node takes a share of.
  RouteFarBeyondBooks(*c.nodes[0], "gtc-far");
  RouteRequest low = Executed("gtc-none", SIDE_BUY, 2 * kBtc);
  low.mutable_order()->set_limit_price(100000);
  RouteResponse none;
  REQUIRE(CallRoute(*c.nodes[0], low, &none).ok());
  REQUIRE(none.cluster().shortfall() == 2 * kBtc);
  const GetRouteResponse worked = RouteProgressUntil(
      *c.nodes[1], "gtc-far", [](const GetRouteResponse& r) { return r.shortfall_work().sub_routes() >= 1; });
  REQUIRE(worked.shortfall_work().sub_routes() >= 1);
  // n1, which works both, goes down; every share n2 and n3 hold finishes (their venues fill
  // what they are sent), so no share is left that a cancel could find. (Its sub-routes number
  // at most `subs` + 1: those it had counted just before, one or two more routed since.)
  const int subs = static_cast<int>(RouteProgress(*c.nodes[1], "gtc-far").shortfall_work().sub_routes()) + 2;
  c.nodes[0]->Kill9();
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < until &&
       !(SharesFinishedOn(*c.nodes[1], "gtc-far", subs) && SharesFinishedOn(*c.nodes[2], "gtc-far", subs));) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(SharesFinishedOn(*c.nodes[1], "gtc-far", subs));
  REQUIRE(SharesFinishedOn(*c.nodes[2], "gtc-far", subs));
  // Cancelled through n2: n2 and n3 keep a notice, n1 is named as not asked; the answer is OK.
  for (const std::string& id : {std::string("gtc-far"), std::string("gtc-none")}) {
    CancelPlanResponse cancelled;
    const grpc::Status cs = CancelOn(*c.nodes[1], id, "desk closing", &cancelled);
    INFO(id << ": " << cs.error_message());
    REQUIRE(cs.ok());
    CHECK(std::vector<std::string>(cancelled.noticed_on().begin(), cancelled.noticed_on().end()) ==
          std::vector<std::string>{"n2", "n3"});
    CHECK_FALSE(cancelled.has_shortfall_work());
    REQUIRE_FALSE(cancelled.nodes().empty());
    CHECK(cancelled.nodes(0).node() == "n1");
    CHECK_FALSE(cancelled.nodes(0).error().empty());
    // Every node that answered, and the CLI, show the notice.
    const GetRouteResponse seen = RouteProgress(*c.nodes[2], id);
    CHECK(std::vector<std::string>(seen.cancel_noticed_on().begin(), seen.cancel_noticed_on().end()) ==
          std::vector<std::string>{"n2", "n3"});
    auto shown = exo::testing::Ctl(*c.nodes[2], {"route-status", id});
    INFO(shown.out << shown.err);
    CHECK(shown.out.find("cancel    noted on n2, n3 while a node could not be asked: that node ends its work on the "
                         "route when it is back\n") != std::string::npos);
  }
  // The id is taken: a new route under it is refused, naming the notice (n3's, the coordinator
  // asks itself first).
  RouteResponse again;
  const grpc::Status taken = CallRoute(*c.nodes[2], Executed("gtc-none", SIDE_BUY, kBtc), &again);
  CHECK(taken.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(taken.error_message() == "order.id: route \"gtc-none\" was cancelled: node n3 keeps a notice of it");
  // Back, n1 finds the notices before its next attempt, although the books have refilled: both
  // works end cancelled, and no sub-route is routed after.
  const size_t log_before = c.nodes[0]->log().size();
  c.Start(0);
  for (const std::string& id : {std::string("gtc-far"), std::string("gtc-none")}) {
    const GetRouteResponse ended = RouteProgressUntil(*c.nodes[1], id, [](const GetRouteResponse& r) {
      return r.shortfall_work().state() == ShortfallWork::STATE_CANCELLED;
    });
    INFO(id);
    CHECK(ended.shortfall_work().state() == ShortfallWork::STATE_CANCELLED);
    auto shown = exo::testing::Ctl(*c.nodes[1], {"route-status", id});
    INFO(shown.out << shown.err);
    CHECK(shown.out.find("no longer routed: the route was cancelled") != std::string::npos);
    CHECK(shown.out.find("cancel    noted") == std::string::npos);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // Three retry intervals, two refills.
  for (int k = 0; k < 3; ++k) CHECK_FALSE(AnySubRouteOn(*c.nodes[k], "gtc-far", subs + 2, subs + 12));
  CHECK(RouteProgress(*c.nodes[2], "gtc-none").shortfall_work().sub_routes() == 0);
  const std::string log = c.nodes[0]->log().substr(log_before);
  CHECK(WorkEndedOnNotice(log, "gtc-far"));
  CHECK(log.find("sub-route gtc-far~") == std::string::npos);
}

TEST_CASE("a cancel whose notice fewer than half the nodes keep says so, and the nodes that keep it send it again "
          "until it reaches the node that works the route",
          "[cluster][shortfall]") {
  Cluster c;
  StartWorkingFarBeyondBooks(c, "gtc-few", 1);
  // n1, which works the route, and n3 go down: a cancel through n2 leaves its notice on n2
  // alone, which the answer says is not enough.
  c.nodes[0]->Kill9();
  c.nodes[2]->Kill9();
  CancelPlanResponse cancelled;
  const grpc::Status cs = CancelOn(*c.nodes[1], "gtc-few", "desk closing", &cancelled);
  INFO(cs.error_message());
  REQUIRE(cs.ok());
  CHECK(std::vector<std::string>(cancelled.noticed_on().begin(), cancelled.noticed_on().end()) ==
        std::vector<std::string>{"n2"});
  CHECK(cancelled.notice_warning() ==
        "the notice of the cancel is kept by n2 only, 1 of the cluster's 3 nodes: the node that works the route, if one "
        "of n1, n3 does, could miss it should it come back reaching a majority without n2; the nodes that keep it send "
        "the cancel again until it reaches that node, or every node answers");
  CHECK(c.nodes[1]->log().find("route gtc-few: the notice of the cancel is kept by n2 only") != std::string::npos);
  // Its status lists the cancel it sends again.
  auto status = exo::testing::Ctl(*c.nodes[1], {"status"});
  INFO(status.out << status.err);
  CHECK(status.out.find("cancel      route gtc-few: noted here (through n2, ") != std::string::npos);
  // n3 back: n2 sends the cancel again, and n3 keeps the notice too (through n2, as the client
  // sent it).
  c.Start(2);
  const GetRouteResponse both = RouteProgressUntil(*c.nodes[2], "gtc-few", [](const GetRouteResponse& r) {
    return std::find(r.cancel_noticed_on().begin(), r.cancel_noticed_on().end(), "n3") != r.cancel_noticed_on().end();
  });
  CHECK(std::vector<std::string>(both.cancel_noticed_on().begin(), both.cancel_noticed_on().end()) ==
        std::vector<std::string>{"n2", "n3"});
  const uint32_t subs = both.shortfall_work().sub_routes();
  // n2 goes down and n1 comes back reaching n3 alone, a majority: it finds n3's notice and ends
  // its work, routing nothing more (before, n3 kept no notice and n1 went on routing).
  c.nodes[1]->Kill9();
  c.Start(0);
  const GetRouteResponse ended = RouteProgressUntil(*c.nodes[2], "gtc-few", [](const GetRouteResponse& r) {
    return r.shortfall_work().state() == ShortfallWork::STATE_CANCELLED;
  });
  CHECK(ended.shortfall_work().state() == ShortfallWork::STATE_CANCELLED);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // Three retry intervals, two refills.
  for (int k : {0, 2}) CHECK_FALSE(AnySubRouteOn(*c.nodes[k], "gtc-few", static_cast<int>(subs) + 3, static_cast<int>(subs) + 12));
  CHECK(WorkEndedOnNotice(c.nodes[0]->log(), "gtc-few"));
  // n2 back: its cancel reaches n1, and it stops sending it.
  const size_t log_before = c.nodes[1]->log().size();
  c.Start(1);
  CHECK(LogShows(*c.nodes[1], "route gtc-few: the cancel noted here (through n2) reached node n1, which works the route",
                 log_before));
  status = exo::testing::Ctl(*c.nodes[1], {"status"});
  CHECK(status.out.find("cancel      route gtc-few") == std::string::npos);
}

TEST_CASE("new terms whose notice fewer than half the nodes keep say so, and the nodes that keep them send them again "
          "until every node keeps them",
          "[cluster][shortfall]") {
  Cluster c;
  MakeRefilling(c);
  for (int k = 0; k < 3; ++k) c.Start(k);
  // A limit order far below the market (1000.00; the market is near 65000), whose work n1
  // keeps: no node takes a share of it.
  RouteRequest low = Executed("gtc-terms", SIDE_BUY, 2 * kBtc);
  low.mutable_order()->set_limit_price(100000);
  RouteResponse waiting;
  REQUIRE(CallRoute(*c.nodes[0], low, &waiting).ok());
  REQUIRE(waiting.cluster().shortfall() == 2 * kBtc);
  // Its retry through n2 is not routed again there (a second node working its shortfall): the
  // id is taken by n1's record, though no node has a plan of it.
  RouteResponse elsewhere;
  const grpc::Status taken = CallRoute(*c.nodes[1], low, &elsewhere);
  CHECK(taken.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(taken.error_message().rfind("order.id: plan \"gtc-terms\" already exists on node n1 (", 0) == 0);
  // n1 and n3 down: amended to a market order through n2, which alone keeps the notice — not
  // enough, and the answer says so.
  c.nodes[0]->Kill9();
  c.nodes[2]->Kill9();
  const AmendPlanResponse noticed = AmendOk(*c.nodes[1], ToMarket("gtc-terms"));
  CHECK(std::vector<std::string>(noticed.noticed_on().begin(), noticed.noticed_on().end()) ==
        std::vector<std::string>{"n2"});
  CHECK(noticed.notice_warning() ==
        "the notice of the new terms is kept by n2 only, 1 of the cluster's 3 nodes: the node that works the route, if "
        "one of n1, n3 does, could miss it should it come back reaching a majority without n2; the nodes that keep it "
        "send the new terms again until every node keeps them");
  // Its status lists the notice it sends again.
  auto status = exo::testing::Ctl(*c.nodes[1], {"status"});
  INFO(status.out << status.err);
  CHECK(status.out.find("terms       route gtc-terms: new terms noted here (through n2, amended ") != std::string::npos);
  // n3 back: n2 sends the terms again, and n3 keeps them too.
  c.Start(2);
  CHECK(LogShows(*c.nodes[1], "route gtc-terms: the new terms noted here (through n2) are kept by n3 too"));
  // n2 down and n1 back reaching n3 alone, a majority: it takes the terms from n3's notice and
  // places the order whole at the market (without the sending again no node it reaches keeps
  // them, and the order waits at its old limit).
  c.nodes[1]->Kill9();
  c.Start(0);
  const GetRouteResponse placed = RouteProgressUntil(*c.nodes[2], "gtc-terms", [](const GetRouteResponse& r) {
    return r.shortfall_work().state() == ShortfallWork::STATE_DONE;
  });
  CHECK(placed.shortfall_work().state() == ShortfallWork::STATE_DONE);
  CHECK(placed.quantity() == 2 * kBtc);
  CHECK(c.nodes[0]->log().find("route gtc-terms: it was (a notice) amended while this node could not be asked: its "
                               "sub-routes take the terms (limit none") != std::string::npos);
  // n2 back: every node keeps the notice now, and n2 stops sending it.
  const size_t log_before = c.nodes[1]->log().size();
  c.Start(1);
  CHECK(LogShows(*c.nodes[1], "route gtc-terms: every node keeps the new terms noted here (through n2): no longer sent "
                 "again", log_before));
  status = exo::testing::Ctl(*c.nodes[1], {"status"});
  CHECK(status.out.find("terms       route gtc-terms") == std::string::npos);
}

TEST_CASE("a coordinator that no other node answers routes none of a route's shortfall until a majority does",
          "[cluster][shortfall]") {
  Cluster c;
  StartWorkingFarBeyondBooks(c, "gtc-alone", 0);
  // Both other nodes down: a cancel sent to them meanwhile would be unseen, so n1's own venues,
  // refilling, take none of it.
  c.nodes[1]->Kill9();
  c.nodes[2]->Kill9();
  const std::string why = "no other node answered: nothing is routed until a majority of the cluster does (a cancel "
                          "sent meanwhile could be missed)";
  const GetRouteResponse waiting = RouteProgressUntil(
      *c.nodes[0], "gtc-alone", [&](const GetRouteResponse& r) { return r.shortfall_work().last_error() == why; });
  REQUIRE(waiting.shortfall_work().last_error() == why);
  CHECK(waiting.shortfall_work().state() == ShortfallWork::STATE_OPEN);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // Seven attempts, five refills.
  const GetRouteResponse still = RouteProgress(*c.nodes[0], "gtc-alone");
  CHECK(still.shortfall_work().sub_routes() == waiting.shortfall_work().sub_routes());
  CHECK(still.shortfall_work().last_error() == why);
  // One back: the work goes on.
  c.Start(1);
  const GetRouteResponse resumed = RouteProgressUntil(*c.nodes[0], "gtc-alone", [&](const GetRouteResponse& r) {
    return r.shortfall_work().sub_routes() > waiting.shortfall_work().sub_routes();
  });
  CHECK(resumed.shortfall_work().sub_routes() > waiting.shortfall_work().sub_routes());
  CancelPlanResponse cancelled;
  CHECK(CancelOn(*c.nodes[0], "gtc-alone", "", &cancelled).ok());
}

TEST_CASE("a GTT route's shortfall is worked until its deadline, with leave_shortfall a shortfall is only reported",
          "[cluster][shortfall]") {
  Cluster c;
  MakeRefilling(c);
  c.cluster_extra += R"(, "leave_shortfall": true)";
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteRequest gtt = Executed("gtt-low", SIDE_BUY, 2 * kBtc);
  gtt.mutable_order()->set_limit_price(100000);  // Far below every ask.
  gtt.mutable_order()->set_time_in_force(TIME_IN_FORCE_GTT);
  gtt.mutable_order()->set_expire_after_ms(800);
  RouteResponse routed;
  REQUIRE(CallRoute(*c.nodes[0], gtt, &routed).ok());
  CHECK(routed.cluster().shortfall() == 2 * kBtc);
  CHECK_FALSE(routed.cluster().shortfall_worked());  // leave_shortfall on n1.
  // n2 works the shortfalls of the routes it coordinates.
  c.nodes[1]->Kill9();
  c.cluster_extra = R"(, "shortfall_retry_ms": 200)";
  c.Start(1);
  gtt.mutable_order()->set_id("gtt-low-2");
  REQUIRE(CallRoute(*c.nodes[1], gtt, &routed).ok());
  CHECK(routed.cluster().shortfall_worked());
  const GetRouteResponse ended = RouteProgressUntil(*c.nodes[2], "gtt-low-2", [](const GetRouteResponse& r) {
    return r.shortfall_work().state() != ShortfallWork::STATE_OPEN;
  });
  CHECK(ended.shortfall_work().state() == ShortfallWork::STATE_EXPIRED);
  CHECK(ended.shortfall_work().coordinator() == "n2");
  CHECK(ended.shortfall_work().shortfall() == 2 * kBtc);
  CHECK(ended.settled());
  auto shown = exo::testing::Ctl(*c.nodes[0], {"route-status", "gtt-low-2"});
  INFO(shown.out << shown.err);
  CHECK(shown.out.find("shortfall 2.00000000 no longer routed: the GTT deadline passed (0 sub-routes placed before)") !=
        std::string::npos);
}

TEST_CASE("a node retired from the other nodes' peer lists is no longer sent the cancel they keep a notice of for it",
          "[cluster][shortfall]") {
  Cluster c;
  for (int k = 0; k < 3; ++k) c.Start(k);
  RouteFarBelowMarket(*c.nodes[0], "gtc-retired");  // n1 works the whole order.
  // n1's machine is lost for good. A cancel through n2 leaves its notice on n2 and n3, which
  // send it again, to no end while n1 is in their peer lists.
  c.nodes[0]->Kill9();
  CancelPlanResponse cancelled;
  REQUIRE(CancelOn(*c.nodes[1], "gtc-retired", "", &cancelled).ok());
  CHECK(std::vector<std::string>(cancelled.noticed_on().begin(), cancelled.noticed_on().end()) ==
        std::vector<std::string>{"n2", "n3"});
  auto status = exo::testing::Ctl(*c.nodes[1], {"status"});
  CHECK(status.out.find("cancel      route gtc-retired: noted here (through n2, ") != std::string::npos);
  // Retired (docs/cluster.md, "Adding and retiring a node"): n2 and n3 restarted in turn
  // without n1 among their peers. The cancel has reached every node there is: no longer sent.
  c.retired[0] = true;
  for (int k : {1, 2}) {
    REQUIRE(c.nodes[k]->Terminate() == 0);
    c.Start(k);
  }
  CHECK(LogShows(*c.nodes[1], "route gtc-retired: the cancel noted here (through n2) reached every node"));
  status = exo::testing::Ctl(*c.nodes[1], {"status"});
  INFO(status.out << status.err);
  CHECK(status.out.find("cancel      route gtc-retired") == std::string::npos);
  // Not a peer any more: no row of the peer table names it, where n3's still does. (Rows, not
  // the whole text: the data directory's random name, shown too, may hold "n1".)
  auto peer_row = [&status](const std::string& node) {
    for (const absl::string_view line : absl::StrSplit(status.out, '\n')) {
      if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), node + " ")) return true;
    }
    return false;
  };
  CHECK(peer_row("n3"));
  CHECK_FALSE(peer_row("n1"));
  // The two route on their own, a route splitting across both.
  RouteResponse two;
  REQUIRE(CallRoute(*c.nodes[2], Executed("after-retiring", SIDE_BUY, kBtc), &two).ok());
  CHECK(two.cluster().route().nodes_size() == 2);
  CHECK(two.cluster().route().dropped().empty());
}
