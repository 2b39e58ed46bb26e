// The admin HTTP port on its own: what each path and method answers, health turning 503 with
// its reason, a malformed request, and Prometheus rendering of a Status.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <chrono>
#include <sstream>
#include <thread>
#include <vector>

#include "daemon/admin_http.h"
#include "daemon/metrics.h"
#include "tests/testing/http_get.h"

using exo::daemon::AdminHttpServer;
using exo::testing::HttpExchange;
using exo::testing::HttpRequest;
using namespace exoroute::v1;  // NOLINT

TEST_CASE("the admin HTTP port answers GET /metrics and /healthz and nothing else") {
  std::atomic<int> scrapes{0};
  std::atomic<bool> healthy{true};
  AdminHttpServer::Handlers h;
  h.metrics = [&] { return "exoroute_test " + std::to_string(++scrapes) + "\n"; };
  h.health = [&] { return healthy ? absl::OkStatus() : absl::UnavailableError("draining: shutting down"); };
  auto server = AdminHttpServer::Start("127.0.0.1:0", h);
  REQUIRE(server.ok());
  const int port = (*server)->port();
  REQUIRE(port > 0);

  auto metrics = HttpRequest(port, "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body == "exoroute_test 1\n");
  CHECK(metrics.headers.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(HttpRequest(port, "GET", "/metrics?x=1").body == "exoroute_test 2\n");  // Query ignored.

  auto head = HttpRequest(port, "HEAD", "/metrics");
  CHECK(head.status == 200);
  CHECK(head.body.empty());

  auto ok = HttpRequest(port, "GET", "/healthz");
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
  healthy = false;
  auto down = HttpRequest(port, "GET", "/healthz");
  CHECK(down.status == 503);
  CHECK(down.body == "draining: shutting down\n");

  auto missing = HttpRequest(port, "GET", "/");
  CHECK(missing.status == 404);
  CHECK(missing.body.find("GET /metrics") != std::string::npos);
  auto post = HttpRequest(port, "POST", "/metrics");
  CHECK(post.status == 405);
  CHECK(post.headers.find("Allow: GET, HEAD") != std::string::npos);
  auto garbled = HttpExchange(port, "NOT HTTP AT ALL\r\n\r\n");
  CHECK(garbled.status == 400);

  // Keep-alive: two requests on one connection both answered.
  auto two = HttpExchange(port,
                          "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(two.status == 503);
  CHECK(two.body.find("HTTP/1.1 503") != std::string::npos);

  (*server)->Stop();
  CHECK(HttpRequest(port, "GET", "/metrics").status == 0);  // Closed.
}

TEST_CASE("connections beyond the limit are answered 503 and closed and the port serves again when one ends") {
  AdminHttpServer::Handlers h;
  h.metrics = [] { return std::string("exoroute_up 1\n"); };
  h.health = [] { return absl::OkStatus(); };
  auto server = AdminHttpServer::Start("127.0.0.1:0", h);
  REQUIRE(server.ok());
  const int port = (*server)->port();
  // Until `path` answers `status` (the server sees a client leave when it next reads), 5 s at most.
  auto answers = [port](const char* path, int status) {
    for (int i = 0; i < 500; ++i) {
      if (HttpRequest(port, "GET", path).status == status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  // Idle clients holding every connection the port serves (connected, nothing sent).
  std::vector<int> idle;
  auto connect_idle = [port] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
  };
  for (int i = 0; i < AdminHttpServer::kMaxConnections; ++i) idle.push_back(connect_idle());
  auto refused = HttpRequest(port, "GET", "/healthz");
  CHECK(refused.status == 503);
  CHECK(refused.body == "too many connections: this port serves at most " +
                            std::to_string(AdminHttpServer::kMaxConnections) + " at once (monitoring only); try again\n");
  CHECK(refused.headers.find("Retry-After: 1") != std::string::npos);
  // One idle client leaves: its place is served again.
  ::close(idle.back());
  idle.pop_back();
  CHECK(answers("/metrics", 200));
  idle.push_back(connect_idle());  // Taken again by another idle client: refused again.
  CHECK(answers("/healthz", 503));
  // Refused clients that send nothing wait for their answer; with twice the limit open a new
  // connection is closed unanswered.
  for (int i = 0; i < AdminHttpServer::kMaxConnections; ++i) idle.push_back(connect_idle());
  CHECK(answers("/healthz", 0));
  for (int fd : idle) ::close(fd);
  CHECK(answers("/healthz", 200));
}

TEST_CASE("a port already taken is refused naming admin.listen") {
  AdminHttpServer::Handlers h;
  h.metrics = [] { return std::string(); };
  h.health = [] { return absl::OkStatus(); };
  auto first = AdminHttpServer::Start("127.0.0.1:0", h);
  REQUIRE(first.ok());
  auto second = AdminHttpServer::Start("127.0.0.1:" + std::to_string((*first)->port()), h);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(second.status().message()).rfind("admin.listen: cannot listen on 127.0.0.1:", 0) == 0);
}

TEST_CASE("Status as Prometheus text: every sample valid, counts exact, labels escaped") {
  StatusResponse s;
  s.set_node_id("node-1");
  s.set_version("0.1.0");
  s.set_uptime_ms(61'005);
  s.set_clock_ahead_ms(2'500);
  s.set_plans_total(12'345'678'901ULL);  // Past 2^32 and past six significant digits.
  s.set_plans_working(3);
  s.mutable_chain_head()->set_sequence(9'007'199'254'740'993ULL);  // 2^53 + 1: not a double.
  VenueStatus* a = s.add_venues();
  a->set_venue("SIM-A");
  a->set_adapter("sim");
  a->set_state(ADAPTER_STATE_UP);
  a->set_book_age_ms(7);
  a->set_children_sent(4);
  a->set_fills(9);
  a->set_fee_bps(-0.25);
  VenueStatus* b = s.add_venues();
  b->set_venue("odd\"name\\x");
  b->set_adapter("fix");
  b->set_state(ADAPTER_STATE_DOWN);
  b->set_book_age_ms(-1);  // No book yet: no age sample.
  PrivacyBudgetStatus* budget = s.add_budgets();
  budget->set_signal("supply/BTC-USD");
  budget->set_spent_milli(1500);
  budget->set_limit_milli(100000);
  s.set_cluster_routes_refused(6);
  s.add_settlements_awaiting_approval()->set_cl_ord_id("p.2");
  s.add_settlements_awaiting_approval()->set_cl_ord_id("p.3");
  s.mutable_process()->set_resident_bytes(104'857'600);
  s.mutable_process()->set_virtual_bytes(734'003'200);
  s.mutable_process()->set_cpu_ms(12'345);
  s.mutable_process()->set_open_fds(48);
  s.mutable_process()->set_max_fds(1024);
  s.mutable_process()->set_start_time_s(1'764'806'400);
  exo::daemon::LatencyHistogram latency;
  for (int64_t ns : {int64_t{500}, int64_t{1000}, int64_t{1001}, int64_t{3'000'000'000}, int64_t{20'000'000'000}}) {
    latency.Record(ns);
  }
  exo::daemon::LatencyHistogram peer_a, peer_b;
  peer_a.Record(200'000);
  peer_b.Record(300'000);
  peer_b.Record(4'000'000);
  const std::vector<exo::daemon::HistogramMetric> histograms = {
      {"exoroute_test_seconds", "A test histogram.", latency.Read(), ""},
      {"exoroute_labelled_seconds", "One family, two series.", peer_a.Read(), "node=\"n2\",call=\"evaluate\""},
      {"exoroute_labelled_seconds", "One family, two series.", peer_b.Read(), "node=\"n3\",call=\"evaluate\""}};
  const std::string text = exo::daemon::RenderPrometheus(s, histograms);

  // The exposition format: HELP and TYPE once per family, before its samples; every sample
  // `name{labels} value` with a parseable value.
  const std::regex sample(R"re(([a-z_]+)(\{([a-z_]+="([^"\\]|\\.)*",?)+\})? (-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?|NaN|[+-]Inf))re");
  std::set<std::string> typed;
  std::map<std::string, std::string> values;  // First line of each name{labels} -> value.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      CHECK(typed.insert(name).second);
      continue;
    }
    std::smatch m;
    REQUIRE(std::regex_match(line, m, sample));
    std::string name = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (typed.count(name) == 0 && name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
        name.resize(name.size() - sfx.size());
      }
    }
    CHECK(typed.count(name) == 1);
    const size_t space = line.rfind(' ');
    values[line.substr(0, space)] = line.substr(space + 1);
  }
  CHECK(values["exoroute_build_info{node=\"node-1\",version=\"0.1.0\"}"] == "1");
  CHECK(values["exoroute_uptime_seconds"] == "61.005");
  CHECK(values["exoroute_clock_ahead_seconds"] == "2.500");
  CHECK(values["exoroute_plans_total"] == "12345678901");
  CHECK(values["exoroute_chain_head_sequence"] == "9007199254740993");
  CHECK(values["exoroute_venue_up{venue=\"SIM-A\",adapter=\"sim\",state=\"up\"}"] == "1");
  CHECK(values["exoroute_venue_up{venue=\"odd\\\"name\\\\x\",adapter=\"fix\",state=\"down\"}"] == "0");
  CHECK(values["exoroute_venue_book_age_seconds{venue=\"SIM-A\"}"] == "0.007");
  CHECK(values.count("exoroute_venue_book_age_seconds{venue=\"odd\\\"name\\\\x\"}") == 0);
  CHECK(values["exoroute_venue_children_sent_total{venue=\"SIM-A\"}"] == "4");
  CHECK(values["exoroute_venue_fills_total{venue=\"SIM-A\"}"] == "9");
  CHECK(values["exoroute_venue_fee_bps{venue=\"SIM-A\"}"] == "-0.25");
  CHECK(values["exoroute_privacy_budget_spent_epsilon{signal=\"supply/BTC-USD\"}"] == "1.500");
  CHECK(values["exoroute_privacy_budget_limit_epsilon{signal=\"supply/BTC-USD\"}"] == "100.000");
  CHECK(values["exoroute_cluster_routes_refused_total"] == "6");
  CHECK(values["exoroute_settlements_awaiting_approval"] == "2");
  CHECK(values["process_resident_memory_bytes"] == "104857600");
  CHECK(values["process_virtual_memory_bytes"] == "734003200");
  CHECK(values["process_cpu_seconds_total"] == "12.345");
  CHECK(values["process_open_fds"] == "48");
  CHECK(values["process_max_fds"] == "1024");
  CHECK(values["process_start_time_seconds"] == "1764806400");
  CHECK(values["exoroute_peer_calls_refused_total"] == "0");
  CHECK(exo::daemon::EscapeLabelValue("a\nb") == "a\\nb");
  // Histograms: cumulative buckets, `le` inclusive, exact sums; 20 s is only in +Inf.
  CHECK(values["exoroute_test_seconds_bucket{le=\"0.000001\"}"] == "2");
  CHECK(values["exoroute_test_seconds_bucket{le=\"0.0000025\"}"] == "3");
  CHECK(values["exoroute_test_seconds_bucket{le=\"2.5\"}"] == "3");
  CHECK(values["exoroute_test_seconds_bucket{le=\"5\"}"] == "4");
  CHECK(values["exoroute_test_seconds_bucket{le=\"10\"}"] == "4");
  CHECK(values["exoroute_test_seconds_bucket{le=\"+Inf\"}"] == "5");
  CHECK(values["exoroute_test_seconds_count"] == "5");
  CHECK(values["exoroute_test_seconds_sum"] == "23.000002501");
  // Labelled histograms: one family (HELP and TYPE once: checked above), labels before `le`.
  CHECK(values["exoroute_labelled_seconds_bucket{node=\"n2\",call=\"evaluate\",le=\"0.00025\"}"] == "1");
  CHECK(values["exoroute_labelled_seconds_bucket{node=\"n3\",call=\"evaluate\",le=\"0.00025\"}"] == "0");
  CHECK(values["exoroute_labelled_seconds_bucket{node=\"n3\",call=\"evaluate\",le=\"+Inf\"}"] == "2");
  CHECK(values["exoroute_labelled_seconds_count{node=\"n3\",call=\"evaluate\"}"] == "2");
  CHECK(values["exoroute_labelled_seconds_sum{node=\"n3\",call=\"evaluate\"}"] == "0.0043");
  // Deterministic: the same Status renders the same bytes.
  CHECK(exo::daemon::RenderPrometheus(s, histograms) == text);
}
