// What became of the children a node sent, per venue since start: how each ended — filled
// whole, partly filled, not filled at all, rejected — and how long it took from sending it to
// its last report. The execution-quality view an operator compares venues by (Status.venues,
// /metrics). Fed by the engine: Sent just before a child goes out, Done at its last report.
// Thread-safe; the counts never go back.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/latency_histogram.h"

namespace exo::daemon {

class ChildOutcomes {
 public:
  using Clock = std::chrono::steady_clock;
  enum Outcome { kFilled = 0, kPartial, kUnfilled, kRejected, kOutcomes };
  // "filled", "partial", "unfilled", "rejected": the /metrics label.
  static const char* Name(Outcome outcome);
  // How a child ended, from what had filled of its quantity at its last report and that
  // report's reason ("rejected: …" from the venue, or refused on the wire).
  static Outcome Of(int64_t filled, int64_t quantity, std::string_view reason);

  explicit ChildOutcomes(const std::vector<std::string>& venues);

  // The child is about to be sent.
  void Sent(const std::string& cl_ord_id, Clock::time_point at);
  // Its last report arrived: counted for `venue` (one of the constructor's; others ignored),
  // and timed when this process sent it (not one sent before a restart).
  void Done(const std::string& venue, const std::string& cl_ord_id, Outcome outcome, Clock::time_point at);
  // A child at `venue` had no last report within the child timeout: the node asked to cancel it.
  void Overdue(const std::string& venue);

  struct Figures {
    std::array<uint64_t, kOutcomes> counts{};
    uint64_t overdue = 0;                // Asked to cancel for want of an answer.
    LatencyHistogram::Snapshot to_done;  // Sending to the last report.
  };
  Figures Read(const std::string& venue) const;
  // Children sent and not yet done (bounded by the working plans' open children).
  size_t open() const;

 private:
  struct PerVenue {
    std::array<std::atomic<uint64_t>, kOutcomes> counts{};
    std::atomic<uint64_t> overdue{0};
    LatencyHistogram to_done;
  };
  std::map<std::string, std::unique_ptr<PerVenue>> venues_;  // Fixed at construction.
  mutable std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> sent_;  // Guarded by mu_.
};

}  // namespace exo::daemon
