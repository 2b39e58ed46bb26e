// `exoroutectl solve`: the what-if, offline, on books from a file.
#include "clients/exoroutectl/commands.h"

#include <algorithm>
#include <iostream>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "adapters/book_file.h"
#include "clients/exoroutectl/args.h"
#include "clients/exoroutectl/render.h"
#include "daemon/config.h"
#include "daemon/risk_limits.h"
#include "daemon/solve_inputs.h"
#include "exo/clock.h"
#include "exo/fixed_point.h"
#include "solver/solver.h"

namespace exo::ctl {

using namespace exoroute::v1;  // NOLINT

namespace {

// The mid of the best bid and best ask over the input's venues that are usable and whose books
// are not stale at its decision time (as a node values an order for its risk limits), if any.
std::optional<int64_t> BooksMid(const SolveInput& in) {
  int64_t best_bid = 0, best_ask = 0;
  for (const VenueInput& v : in.venues()) {
    const VenueBook& b = v.book();
    if (!v.exclusion().empty() || b.receive_time_ns() == 0) continue;
    const int64_t max_age_ms = v.max_book_age_ms() > 0 ? v.max_book_age_ms() : 5000;  // (The solver's default.)
    if (static_cast<__int128>(in.decision_time_ns()) - b.receive_time_ns() > static_cast<__int128>(max_age_ms) * 1'000'000) {
      continue;
    }
    if (!b.bids().empty()) best_bid = std::max(best_bid, b.bids(0).price());
    if (!b.asks().empty() && (best_ask == 0 || b.asks(0).price() < best_ask)) best_ask = b.asks(0).price();
  }
  if (best_bid == 0 || best_ask == 0) return std::nullopt;
  return MulDivRound(static_cast<__int128>(best_bid) + best_ask, 1, 2);
}

// The cheapest plan for the whole order on one venue alone (each venue the decision may use,
// solved by itself), or when none fills it the venue that fills the most: what sending it all
// to the best venue would do, set beside the split. Only for a split that fills the order.
std::optional<OneVenuePlan> BestOneVenue(const SolveInput& in, const Decision& split) {
  if (split.allocations_size() < 2 || split.shortfall() > 0) return std::nullopt;
  std::optional<OneVenuePlan> best;
  for (const VenueInput& v : in.venues()) {
    if (!v.exclusion().empty()) continue;
    SolveInput one = in;
    for (VenueInput& other : *one.mutable_venues()) {
      if (other.venue() != v.venue() && other.exclusion().empty()) other.set_exclusion("not this venue");
    }
    absl::StatusOr<Decision> d = solver::Solve(one);
    if (!d.ok()) continue;
    const bool better = !best || (d->shortfall() == 0 && best->decision.shortfall() > 0) ||
                        (d->shortfall() == 0 && best->decision.shortfall() == 0 &&
                         d->expected_cost() < best->decision.expected_cost()) ||
                        (d->shortfall() > 0 && best->decision.shortfall() > 0 &&
                         d->allocated_quantity() > best->decision.allocated_quantity());
    if (better) best = OneVenuePlan{v.venue(), *std::move(d)};
  }
  return best;
}

// Books from a file are judged stale against now unless --at says when to decide: a file that
// `plan books` wrote from a past decision has its books' receive times, and is stale a few
// seconds later. When that left venues out, a line that says so and gives the --at that
// decides as when the newest of them arrived ("" when none was left out as stale).
std::string StaleNote(const Decision& d, const BookSnapshotFile& file, const std::string& symbol) {
  const auto stale = std::count_if(d.exclusions().begin(), d.exclusions().end(), [](const VenueExclusion& e) {
    return absl::StartsWith(e.reason(), "book stale");
  });
  int64_t newest = 0;
  for (const VenueBook& b : file.books()) {
    if (b.symbol() == symbol) newest = std::max(newest, b.receive_time_ns());
  }
  if (stale == 0 || newest <= 0) return "";
  return absl::StrCat("note      ", Counted(stale, "venue", "venues"),
                      " left out as stale now: the file's newest book arrived at ",
                      absl::FormatTime("%Y-%m-%d %H:%M:%E3S UTC", absl::FromUnixNanos(newest), absl::UTCTimeZone()),
                      "; --at ", newest, " decides as then\n");
}

}  // namespace

int CmdSolve(Context& c) {
  const Args& a = c.args;
  for (const char* f : {"books", "side", "qty"}) {
    if (!a.Has(f)) return Usage(absl::StrCat("solve: --", f, " is required"));
  }
  auto config = daemon::LoadConfig(a.Get("config"));
  if (!config.ok()) return Fail(config.status());
  auto file = adapters::LoadBookFile(a.Get("books"));
  if (!file.ok()) return Fail(file.status());
  std::string symbol = a.Get("symbol");
  if (symbol.empty()) {
    auto only = daemon::BookFileSymbol(*file, a.Get("books"));
    if (!only.ok()) return Fail(only.status());
    symbol = *only;
  }
  const Instrument* inst = nullptr;
  std::vector<std::string> known;
  for (const auto& i : config->instruments()) {
    known.push_back(i.symbol());
    if (i.symbol() == symbol) inst = &i;
  }
  if (inst == nullptr) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat(a.Has("symbol") ? "--symbol" : "--books", ": unknown symbol \"", symbol,
                     "\" (the config trades: ", absl::StrJoin(known, ", "), ")")));
  }
  // The order as `route` would send it (the same flags), checked as the node checks it.
  ParentOrder order;
  order.set_symbol(symbol);
  std::string side = a.Get("side");
  if (side != "buy" && side != "sell") return Usage("solve: --side must be buy or sell");
  order.set_side(side == "buy" ? SIDE_BUY : SIDE_SELL);
  auto qty = PositiveDecimalFlag(a, "qty", inst->qty_scale());
  if (!qty.ok()) return Usage(absl::StrCat("solve: ", qty.status().message()));
  order.set_quantity(*qty);
  if (a.Has("limit")) {
    auto px = PositiveDecimalFlag(a, "limit", inst->price_scale());
    if (!px.ok()) return Usage(absl::StrCat("solve: ", px.status().message()));
    order.set_limit_price(*px);
  }
  if (absl::Status s = SetOrderFlags(a, &order); !s.ok()) return Usage(std::string(s.message()));
  std::optional<SolverMethod> method;
  if (a.Has("method")) {
    const std::string m = a.Get("method");
    if (m != "exact" && m != "admm") return Usage("solve: --method must be exact or admm");
    method = m == "admm" ? SOLVER_METHOD_ADMM : SOLVER_METHOD_EXACT;
  }
  // --at: decide as at that time (ns since the epoch; `plan books` prints a decision's), which
  // books are stale then; default now.
  auto at = a.GetUint("at", 0);
  if (!at.ok()) return Usage(std::string(at.status().message()));
  const int64_t now = *at > 0 ? static_cast<int64_t>(*at) : SystemClock()->NowNs();
  auto in = daemon::WhatIfInput(*config, *file, a.Get("books"), order, method, now);
  if (!in.ok()) return Fail(in.status());
  // The config's risk limits on the order's size and notional, as a node checks them (the mid
  // from the file's books that are not stale then; a node's working plans are not known here).
  // (The instrument's limits: a what-if has no sender.)
  for (const daemon::AppliedRiskLimit& r : daemon::RiskLimitsOn(*config, symbol, "")) {
    if (absl::Status s = daemon::CheckOrderRiskLimit(r.limit, r.name, order, *inst, BooksMid(*in)); !s.ok()) {
      return Fail(s);
    }
  }
  auto d = solver::Solve(*in);
  if (!d.ok()) return Fail(d.status());
  if (c.json) {
    std::cout << ToJson(*d) << "\n";
  } else {
    const std::optional<OneVenuePlan> alone = BestOneVenue(*in, *d);
    std::cout << RenderDecision(*d, *inst, in->side(), in->quantity(), alone ? &*alone : nullptr);
    if (!a.Has("at")) std::cout << StaleNote(*d, *file, symbol);
  }
  return kExitOk;
}

}  // namespace exo::ctl
