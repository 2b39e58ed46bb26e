// Test helpers shared by the feed, conformance and end-to-end tests: the recorded exchange
// feeds in tests/testdata/feeds (define EXO_TESTDATA_DIR), and waiting on a condition.
#pragma once

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace exo::testing {

// The JSON of every frame the client received (sent frames and connection lines skipped).
inline std::vector<std::string> RecordedFrames(const std::string& file) {
  std::ifstream in(std::string(EXO_TESTDATA_DIR) + "/feeds/" + file);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    size_t body = line.find(": {");
    if (body != std::string::npos && line.find(" <- ") == std::string::npos) out.push_back(line.substr(body + 2));
  }
  return out;
}

// The recorded Binance REST depth snapshot of `symbol` ("NKNUSDT").
inline std::string RecordedBinanceSnapshot(const std::string& symbol) {
  std::ifstream in(std::string(EXO_TESTDATA_DIR) + "/feeds/BINANCE.http.0.0");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("symbol=" + symbol) != std::string::npos) return line.substr(line.find(": {") + 2);
  }
  return {};
}

// Polls `ok` until it holds or `ms` pass; returns its last value. (A condition with a deadline,
// for state owned by other threads or processes.)
template <typename F>
bool WaitFor(F ok, int ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return ok();
}

}  // namespace exo::testing
