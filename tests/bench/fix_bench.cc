// NewOrderSingle -> ExecutionReport round trips on loopback, through the FixVenue adapter and
// through bare QuickFIX (FixClient) in the same run, against the same test FIX venue. One order
// at a time; a round trip ends when the order's terminal ExecutionReport has been handled.
// Figures: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <boost/asio/ip/tcp.hpp>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "adapters/fix/fix_engine.h"
#include "adapters/fix/fix_venue.h"

namespace {

struct Signal {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t count = 0;
  void Notify() {
    std::lock_guard<std::mutex> l(mu);
    ++count;
    cv.notify_all();
  }
  bool WaitPast(uint64_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(5), [&] { return count > n; });
  }
};

struct Setup {
  std::string dir;
  int port = 0;
  std::unique_ptr<exo::fix::FixTestVenue> venue;
  Setup(const std::string& name) {
    dir = "/tmp/exo-fix-bench-" + name;
    std::filesystem::remove_all(dir);
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
    a.close();
    exo::fix::SessionConfig v;
    v.port = port;
    v.sender_comp_id = "V";
    v.target_comp_id = "E";
    v.store_dir = dir + "/venue";
    std::string err;
    // Deep enough for every order of the run.
    venue = exo::fix::FixTestVenue::Create(v, {{"100", "1000000000"}}, {}, &err);
    venue->Start(&err);
  }
  exo::fix::SessionConfig Client() const {
    exo::fix::SessionConfig c;
    c.port = port;
    c.sender_comp_id = "E";
    c.target_comp_id = "V";
    c.store_dir = dir + "/client";
    return c;
  }
  ~Setup() {
    venue->Stop();
    std::filesystem::remove_all(dir);
  }
};

void BM_BareQuickFix(benchmark::State& state) {
  Setup s("bare");
  Signal done, logon;
  exo::fix::FixClient::Callbacks cb;
  cb.on_logon = [&] { logon.Notify(); };
  cb.on_exec_report = [&](const exo::fix::ExecReport& r) {
    if (r.ord_status == "2" || r.ord_status == "4") done.Notify();
  };
  std::string err;
  auto client = exo::fix::FixClient::Create(s.Client(), cb, &err);
  client->Start(&err);
  if (!logon.WaitPast(0)) state.SkipWithError("no logon");
  uint64_t n = 0;
  for (auto _ : state) {
    client->SendNewOrder("B" + std::to_string(n), "X", true, "1", "100", "3", &err);
    if (!done.WaitPast(n++)) state.SkipWithError("no execution report");
  }
  client->Stop();
}
BENCHMARK(BM_BareQuickFix)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);

void BM_FixVenueAdapter(benchmark::State& state) {
  Setup s("adapter");
  Signal done;
  exo::adapters::FixVenue::Options o;
  o.venue_id = "FIXV";
  o.config.set_host("127.0.0.1");
  o.config.set_port(s.port);
  o.config.set_sender_comp_id("E");
  o.config.set_target_comp_id("V");
  exoroute::v1::Instrument i;
  i.set_symbol("X");
  o.instruments.push_back(i);
  o.store_dir = s.dir + "/client";
  exo::adapters::FixVenue venue(o);
  if (absl::Status started = venue.Start([&](exo::adapters::ExecutionEvent e) {
        if (e.type == exo::adapters::ExecutionEvent::Type::kDone) done.Notify();
      });
      !started.ok()) {
    state.SkipWithError(("FIX venue did not start: " + started.ToString()).c_str());
    return;
  }
  for (int i = 0; i < 500 && venue.state() != exoroute::v1::ADAPTER_STATE_UP; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  uint64_t n = 0;
  for (auto _ : state) {
    exoroute::v1::ChildOrder c;
    c.set_cl_ord_id("A" + std::to_string(n));
    c.set_venue("FIXV");
    c.set_side(exoroute::v1::SIDE_BUY);
    c.set_quantity(1);
    c.set_limit_price(100);
    if (!venue.Send(c, "X").ok()) state.SkipWithError("send failed");
    if (!done.WaitPast(n++)) state.SkipWithError("no execution report");
  }
  venue.Stop();
}
BENCHMARK(BM_FixVenueAdapter)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
