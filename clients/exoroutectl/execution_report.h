// The execution report (exoroutectl report): what each executed plan of a chain did, as a desk
// reviews its routing — filled against ordered, average price, slippage against the mid at its
// arrival, fees, where it filled — with totals per symbol and side. Built by folding the chain's
// deltas in sequence order with the daemon's own fold (daemon/plan_fold.h), so it says exactly
// what the chain says, online (Replay) or offline (--data-dir). Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "exoroute/v1/types.pb.h"

namespace exo::ctl {

// One executed plan, as its deltas so far leave it.
struct ExecutionRow {
  std::string plan_id;
  uint64_t first_sequence = 0;  // Its `created` delta.
  exoroute::v1::Instrument instrument;
  exoroute::v1::Side side = exoroute::v1::SIDE_UNSPECIFIED;
  exoroute::v1::PlanStatus status = exoroute::v1::PLAN_STATUS_UNSPECIFIED;
  int64_t quantity = 0;         // The order's, as last amended.
  int64_t filled = 0;
  int64_t filled_notional = 0;  // Price units, fees excluded.
  int64_t average_price = 0;
  int64_t arrival_mid = 0;      // 0: no two-sided market when it arrived (no slippage figure).
  int64_t slippage_cbps = 0;    // Average fill price against arrival_mid (+ = worse), 1/100 bp.
  int64_t fees = 0;             // Price units (negative: rebates).
  uint32_t children = 0;
  uint32_t amendments = 0;
  int64_t created_ns = 0;
  int64_t updated_ns = 0;       // Its last delta's event time.
  std::vector<std::pair<std::string, int64_t>> filled_by_venue;  // By venue id; venues that filled.
  std::string routed_by;        // Who sent the order (its client certificate name; "" = not known).
};

// What the report's plans filled at one venue, in one symbol.
struct VenueFills {
  std::string symbol;
  std::string venue;
  exoroute::v1::Instrument instrument;
  int64_t filled = 0;
  int64_t notional = 0;  // Price units, fees excluded.
  int64_t fees = 0;
  uint32_t fills = 0;
};

class ExecutionReport {
 public:
  // Plans created at `from_sequence` or later (0: all), of `symbol` ("" = every symbol), whose
  // order arrived at `since_ns` or later and before `until_ns` (Unix ns; 0: no bound), sent by
  // `client` ("" = anyone).
  ExecutionReport(uint64_t from_sequence, std::string symbol, int64_t since_ns = 0, int64_t until_ns = 0,
                  std::string client = "")
      : from_(from_sequence), symbol_(std::move(symbol)), since_ns_(since_ns), until_ns_(until_ns),
        client_(std::move(client)) {}
  // The next delta of the chain (in sequence order); node events and plan-only plans are skipped.
  void Add(const exoroute::v1::PlanDelta& delta);
  // Every reported plan, in the order it was created.
  std::vector<ExecutionRow> Rows() const;
  // What those plans filled, per symbol and venue (sorted so).
  std::vector<VenueFills> ByVenue() const;

 private:
  uint64_t from_;
  std::string symbol_;
  int64_t since_ns_, until_ns_;
  std::string client_;
  std::map<std::string, exoroute::v1::Plan> plans_;  // Executed plans in the report, by id.
  std::map<std::string, uint64_t> first_;            // Their created delta's sequence.
  std::map<std::pair<std::string, std::string>, VenueFills> venues_;  // By (symbol, venue).
};

// A table, one plan a line, then per symbol and side: plans, filled quantity and notional,
// notional-weighted slippage, fees and their rate — and the same per client that sent them,
// when any is known; then per symbol and venue: its share of the symbol's filled quantity, its
// average price and fees.
std::string RenderExecutionTable(const std::vector<ExecutionRow>& rows, const std::vector<VenueFills>& venues = {});
// The same rows as CSV with a header line (decimals at each instrument's scale; venues as
// "SIM-A:0.6;SIM-B:0.4"; a client name quoted when it has a comma or a quote).
std::string RenderExecutionCsv(const std::vector<ExecutionRow>& rows);
// The same rows as JSON, an object a line (the CSV's columns; decimals as strings, slippage in
// hundredths of a bp as `slippage_cbps`, venues as an object).
std::string RenderExecutionJson(const std::vector<ExecutionRow>& rows);

}  // namespace exo::ctl
