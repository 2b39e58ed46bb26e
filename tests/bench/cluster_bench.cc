// Cluster routes on loopback: three in-process exorouted nodes × four simulated venues, peers
// over real mutual TLS, with static books and with books that move. Prints rounds per route and
// route latency (p50/p99), and the CPU a
// node spends per round outside the transport (parse the request, sum its venues' answers,
// serialise the reply). Figures: docs/BENCHMARKS.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "clients/cpp/exoroute_client.h"
#include "daemon/cluster/peer_service.h"
#include "daemon/cluster/secure_sum.h"
#include "daemon/config.h"
#include "daemon/exorouted.h"
#include "exoroute/v1/peer.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "solver/exact_dual.h"
#include "solver/solver.h"
#include "tests/solver/random_books.h"
#include "tests/testing/cluster_certs.h"
#include "tests/testing/free_port.h"
#include "tests/testing/http_get.h"

using namespace exoroute::v1;  // NOLINT

namespace {

// Four simulated venues of `node`; each redraws its book (sizes, and the mid by a tick) every
// `update_ms`. As first benchmarked, venues of different nodes share fees and price grids, so
// their books tie at many prices; with `distinct`, every venue has its own fee and a mid off the
// others' grids, as venues of different exchanges do.
std::string Venues(int node, int update_ms, bool distinct) {
  std::string out;
  for (int v = 0; v < 4; ++v) {
    int seed = node * 10 + v, i = 4 * (node - 1) + v;
    if (!out.empty()) out += ",";
    const std::string fee = distinct ? std::to_string(1.0 + 0.25 * i) : std::to_string(1 + seed % 4);
    const int64_t mid = distinct ? 6500000 + 13 * i : 6500000 + 50 * (seed % 5);
    out += R"({"id": "N)" + std::to_string(node) + "-V" + std::to_string(v) + R"(", "taker_fee_bps": )" + fee +
           R"(, "max_book_age_ms": 3600000,
      "markets": [{"symbol": "BTC-USD", "lot_size": 100000}],
      "sim": {"seed": )" + std::to_string(seed) + R"(, "mid_price": )" + std::to_string(mid) +
           R"(, "tick_size": 50, "depth": 20, "level_size": )" + std::to_string(20000000 + 5000000 * v) +
           R"(, "update_interval_ms": )" + std::to_string(update_ms) + "}}";
  }
  return out;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// exoroute_peer_call_seconds of one node's /metrics: sum and count by "call node".
struct CallTimes {
  std::map<std::string, double> sum, count;
};

CallTimes CallTimesOf(const std::string& admin_endpoint_file) {
  std::string admin;
  std::ifstream(admin_endpoint_file) >> admin;
  exo::testing::HttpAnswer m = exo::testing::HttpRequest(std::stoi(admin.substr(admin.find(':') + 1)), "GET", "/metrics");
  CallTimes out;
  std::istringstream lines(m.body);
  const std::regex sample(R"re(exoroute_peer_call_seconds_(sum|count)\{node="([^"]+)",call="([a-z_]+)"\} ([0-9.e+-]+))re");
  for (std::string line; std::getline(lines, line);) {
    std::smatch x;
    if (!std::regex_match(line, x, sample)) continue;
    (x[1] == "sum" ? out.sum : out.count)[x[3].str() + " " + x[2].str()] = std::stod(x[4]);
  }
  return out;
}

}  // namespace

// Routes through n1 of a fresh 3-node cluster whose venues redraw their books every
// `update_ms`; prints rounds, latency and per-call answer times. Orders of `urgency` (LOW: an
// urgency band, one BestPrice step more per route).
bool RunRoutes(const std::string& root, const std::string& certs, int update_ms, bool distinct, const char* label,
               Urgency urgency = URGENCY_UNSPECIFIED) {
  const std::string dir_root = root + "/" + std::to_string(update_ms) + (distinct ? "d" : "") +
                               (urgency == URGENCY_UNSPECIFIED ? "" : Urgency_Name(urgency));
  int ports[3] = {exo::testing::FreePort(), exo::testing::FreePort(), exo::testing::FreePort()};
  std::vector<std::unique_ptr<exo::daemon::Daemon>> nodes;
  std::vector<DaemonConfig> configs;
  for (int k = 0; k < 3; ++k) {
    std::string id = "n" + std::to_string(k + 1), dir = dir_root + "/" + id, peers;
    for (int j = 0; j < 3; ++j) {
      if (j == k) continue;
      peers += std::string(peers.empty() ? "" : ",") + R"({"node_id": "n)" + std::to_string(j + 1) +
               R"(", "address": "127.0.0.1:)" + std::to_string(ports[j]) + R"("})";
    }
    std::string json = R"({"node_id": ")" + id + R"(", "data_dir": ")" + dir +
                       R"(", "listen": {"address": "127.0.0.1:0"}, "admin": {"listen": "127.0.0.1:0"},
      "instruments": [{"symbol": "BTC-USD", "price_scale": 2, "qty_scale": 8}],
      "venues": [)" + Venues(k + 1, update_ms, distinct) + R"(],
      "cluster": {"listen": "127.0.0.1:)" + std::to_string(ports[k]) + R"(", "ca_file": ")" + certs +
                       R"(/ca.pem", "cert_file": ")" + certs + "/" + id + R"(.pem", "key_file": ")" + certs +
                       "/" + id + R"(.key", "peers": [)" + peers + "]}}";
    auto config = exo::daemon::ParseConfig(json, id);
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
      return false;
    }
    configs.push_back(*config);
    auto d = exo::daemon::Daemon::Start(*config, exo::SystemClock());
    if (!d.ok()) {
      std::fprintf(stderr, "%s\n", d.status().ToString().c_str());
      return false;
    }
    nodes.push_back(*std::move(d));
  }
  exo::client::ConnectOptions o;
  o.endpoint = nodes[0]->endpoint();
  o.ca_file = nodes[0]->ca_file();
  auto channel = exo::client::Connect(o);
  if (!channel.ok()) return false;
  auto stub = RouterService::NewStub(*channel);

  std::vector<double> latency_us, rounds;
  double first_sell_us = 0;
  int left_out = 0;  // Timed routes that left a node out (a missed deadline): not 3-node figures.
  CallTimes warm;
  const int kRoutes = 300;
  for (int i = 0; i < kRoutes + 20; ++i) {
    RouteRequest req;
    auto* order = req.mutable_order();
    order->set_id("bench-" + std::to_string(i));
    order->set_symbol("BTC-USD");
    order->set_side(i % 2 ? SIDE_SELL : SIDE_BUY);
    order->set_quantity((1 + i % 40) * 100'000'000LL);
    order->set_time_in_force(TIME_IN_FORCE_GTC);
    order->set_urgency(urgency);
    req.set_mode(ROUTE_MODE_PLAN_ONLY);
    RouteResponse resp;
    grpc::ClientContext ctx;
    auto t0 = std::chrono::steady_clock::now();
    grpc::Status s = stub->Route(&ctx, req, &resp);
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) {
      std::fprintf(stderr, "route failed: %s\n", s.error_message().c_str());
      return false;
    }
    if (i < 20) {  // Warm-up: connections, caches.
      // Route 1 is n1's first sell: no earlier sums to open its search from (route 0, the
      // first buy, also fetches the peers' keys and opens the streams).
      if (i == 1) first_sell_us = us;
      if (i == 19) warm = CallTimesOf(dir_root + "/n1/admin_endpoint");
      continue;
    }
    latency_us.push_back(us);
    rounds.push_back(resp.cluster().route().rounds());
    if (resp.cluster().route().dropped_size() > 0) ++left_out;
  }
  std::printf("distributed routes (3 nodes x 4 venues, plan-only, loopback mTLS), %s: %d\n", label, kRoutes);
  std::printf("  rounds per route   median %.0f  p90 %.0f  max %.0f  (λ the search took, asked ahead or not)\n", Percentile(rounds, 0.5),
              Percentile(rounds, 0.9), Percentile(rounds, 1.0));
  std::printf("  route latency      p50 %.2f ms  p99 %.2f ms\n", Percentile(latency_us, 0.5) / 1e3,
              Percentile(latency_us, 0.99) / 1e3);
  if (left_out > 0) std::printf("  routes that left a node out (a missed deadline): %d of %d\n", left_out, kRoutes);
  std::printf("  first sell (no earlier sums to open from; keys and streams already set up): %.2f ms\n",
              first_sell_us / 1e3);
  // Where a route's time goes: n1's answer times per kind of call and node (its /metrics), over
  // the measured routes only (the warm-up's first calls also connect the channels).
  {
    CallTimes after = CallTimesOf(dir_root + "/n1/admin_endpoint");
    std::printf("  answer time per call (n1 coordinating; from sending a step's calls to the node's answer):\n");
    double steps = 0;  // Every call n1 made to n2: one per step of a route (each step asks every node).
    for (const auto& [key, n] : after.count) {
      const double calls = n - warm.count[key];
      if (calls == 0) continue;
      if (key.size() > 3 && key.compare(key.size() - 3, 3, " n2") == 0) steps += calls;
      std::printf("    %-22s %6.0f calls  mean %5.0f us  (%.1f per route)\n", key.c_str(), calls,
                  (after.sum[key] - warm.sum[key]) / calls * 1e6, calls / kRoutes);
    }
    std::printf("  peer steps per route %.1f (round trips after the client's call: [BestPrice,] Prepare, search rounds, tie split, Execute)\n",
                steps / kRoutes);
  }
  // One peer round trip alone (n1 -> n2, Hello over mutual TLS), for scale.
  {
    auto ch = exo::daemon::cluster::PeerChannel(configs[0].cluster(), configs[0].cluster().peers(0));
    auto peer = PeerService::NewStub(*ch);
    std::vector<double> rtt;
    for (int i = 0; i < 520; ++i) {
      grpc::ClientContext ctx;
      HelloReply reply;
      auto t0 = std::chrono::steady_clock::now();
      grpc::Status s = peer->Hello(&ctx, HelloRequest(), &reply);
      if (!s.ok()) return false;
      if (i >= 20) rtt.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("  one peer round trip (Hello, mTLS, loopback)  p50 %.0f us  p99 %.0f us\n",
                Percentile(rtt, 0.5), Percentile(rtt, 0.99));
  }
  for (auto& n : nodes) n->Shutdown();

  return true;
}

int main() {
  const std::string root = (std::filesystem::temp_directory_path() / "exo-cluster-bench").string();
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  const std::string certs = root + "/certs";
  if (!exo::testing::GenerateClusterCerts(certs, "n1 n2 n3")) {
    std::fprintf(stderr, "gen-certs.sh failed\n");
    return 1;
  }
  // Static books (every earlier route's sums stay exact: the opening's best case), then books
  // that move (each venue redraws its book every 50 ms: about one venue in twelve changes
  // between two routes), then moving books that share no prices across venues.
  if (!RunRoutes(root, certs, 3600000, false, "static books")) return 1;
  if (!RunRoutes(root, certs, 50, false, "books redrawn every 50 ms")) return 1;
  if (!RunRoutes(root, certs, 50, true, "books redrawn every 50 ms, no prices shared across venues")) return 1;
  // Static books again, every order with an urgency band (LOW, 2 bp: wider than these books, so
  // the same splits): what the band's BestPrice step costs a route.
  if (!RunRoutes(root, certs, 3600000, false, "static books, URGENCY_LOW orders (a 2 bp band)", URGENCY_LOW)) return 1;

  // One node's work per round outside the transport: 4 venues x 20 levels.
  std::mt19937_64 rng(7);
  exo::testing::RandomBookShape shape;
  shape.min_venues = shape.max_venues = 4;
  shape.min_levels = shape.max_levels = 20;
  shape.lot_aligned = true;
  int64_t lot = 0;
  SolveInput in = exo::testing::RandomInput(rng, &lot, shape);
  in.clear_limit_price();
  std::vector<exo::solver::LocalProblem> problems = exo::solver::BuildLocalProblems(in);
  exo::solver::VenueGroup group(problems);
  exo::solver::GroupSummary g = group.Summary();
  // Masks with two other participants, as on a 3-node cluster.
  auto k1 = exo::daemon::cluster::PairKeys::Generate("n1");
  auto k2 = exo::daemon::cluster::PairKeys::Generate("n2");
  auto k3 = exo::daemon::cluster::PairKeys::Generate("n3");
  std::map<std::string, exo::daemon::cluster::Prf> pair_keys;
  pair_keys.emplace("n2", exo::daemon::cluster::Prf(*(*k1)->PairKey("n2", (*k2)->public_key())));
  pair_keys.emplace("n3", exo::daemon::cluster::Prf(*(*k1)->PairKey("n3", (*k3)->public_key())));
  // A round as the coordinator sends it without noise: its λ and two more asked along.
  EvaluateRequest req;
  req.set_route_id("bench");
  const int kRounds = 100000;
  std::vector<std::string> wire(64);
  for (int i = 0; i < 64; ++i) {
    auto at = [&](double x) { return g.min_cost + (g.max_cost - g.min_cost) * x; };
    req.set_lambda(at((i + 0.5) / 64));
    req.clear_also();
    req.add_also(at((i + 0.3) / 64));
    req.add_also(at((i + 0.7) / 64));
    wire[i] = req.SerializeAsString();
  }
  double t0 = ThreadCpuNs();
  int64_t sink = 0;
  for (int i = 0; i < kRounds; ++i) {
    EvaluateRequest r;
    r.ParseFromString(wire[i % 64]);
    using exo::daemon::cluster::CostToFixed;
    using exo::daemon::cluster::ToWire;
    auto answer = [&](double lambda, uint32_t round, EvaluateReply* reply) {
      auto s = group.Evaluate(lambda);
      auto m = exo::daemon::cluster::MaskFor("n1", pair_keys, r.route_id(), 0, "evaluate", round);
      reply->set_lo(static_cast<uint64_t>(s->lo) + m.q[0]);
      reply->set_hi(static_cast<uint64_t>(s->hi) + m.q[1]);
      reply->set_tied(group.TiedAtLast() + m.q[2]);
      *reply->mutable_cost_lo() = ToWire(CostToFixed(s->cost_lo) + m.c[0]);
      *reply->mutable_cost_hi() = ToWire(CostToFixed(s->cost_hi) + m.c[1]);
    };
    EvaluateReply reply;
    const auto round = static_cast<uint32_t>(3 * i);
    answer(r.lambda(), round, &reply);
    for (int k = 0; k < r.also_size(); ++k) answer(r.also(k), round + 1 + static_cast<uint32_t>(k), reply.add_also());
    sink += static_cast<int64_t>(reply.SerializeAsString().size());
  }
  double per_round = (ThreadCpuNs() - t0) / kRounds;
  std::printf("node CPU per round outside the transport (parse, 3 λ: the round's and two asked along, each over 4 venues x 20 levels with masks for 2 peers, reply): %.2f us  (%.2f us per λ; %lld)\n",
              per_round / 1e3, per_round / 3e3, static_cast<long long>(sink % 10));
  std::filesystem::remove_all(root);
  return 0;
}
