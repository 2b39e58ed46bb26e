// Book files for `exoroutectl solve` as a quant or support engineer might write them: the
// order on the first line ("buy 1.5" or "sell 2 64990.5", as the CLI's --side/--qty/--limit),
// the book file's JSON after it, solved on the embedded default config as the CLI solves it
// (adapters::ParseBookFile, daemon::WhatIfInstrument / WhatIfInput, solver::Solve). Checks: a
// refused file or order is INVALID_ARGUMENT naming the book file (FAILED_PRECONDITION for a
// symbol the config does not trade); a taken one gives a decision that adds up, each venue's
// share in whole lots and within its displayed depth and its cap, and the same bytes again.
#include <map>
#include <sstream>

#include "adapters/book_file.h"
#include "daemon/config.h"
#include "daemon/solve_inputs.h"
#include "exo/fixed_point.h"
#include "solver/solver.h"
#include "tests/fuzz/fuzz_target.h"

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  const std::string two_venues = R"({"books": [
    {"venue": "SIM-A", "symbol": "BTC-USD",
     "asks": [{"price": 6500050, "size": 25000000}, {"price": 6500100, "size": 50000000}],
     "bids": [{"price": 6499950, "size": 30000000}]},
    {"venue": "SIM-B", "symbol": "BTC-USD",
     "asks": [{"price": 6500000, "size": 40000000}, {"price": 6500300, "size": 90000000}],
     "bids": [{"price": 6499900, "size": 30000000}, {"price": 6499800, "size": 10000000}]}]})";
  const std::string three_venues = R"({"books": [
    {"venue": "SIM-C", "symbol": "BTC-USD", "sequence": 7,
     "asks": [{"price": 6500000, "size": 3000000}], "bids": [{"price": 6499000, "size": 5000000}]},
    {"venue": "SIM-A", "symbol": "BTC-USD", "asks": [{"price": 6500050, "size": 100000}]},
    {"venue": "SIM-B", "symbol": "BTC-USD", "receive_time_ns": "1",
     "asks": [{"price": 6499000, "size": 900000}]}]})";
  const std::string eth = R"({"books": [
    {"venue": "SIM-A", "symbol": "ETH-USD", "asks": [{"price": 350000, "size": 2000000}],
     "bids": [{"price": 349900, "size": 1000000}]},
    {"venue": "SIM-B", "symbol": "ETH-USD", "asks": [{"price": 350100, "size": 5000000}]}]})";
  return {"buy 1.5\n" + two_venues,          "sell 0.35 64999\n" + two_venues, "buy 0.04\n" + three_venues,
          "buy 2.5 65000.5\n" + three_venues, "buy 0.002\n" + eth,             "sell 1\n" + eth};
}

}  // namespace exo::fuzz

namespace {

const exoroute::v1::DaemonConfig& Config() {
  static const exoroute::v1::DaemonConfig* config = [] {
    absl::StatusOr<exoroute::v1::DaemonConfig> c = exo::daemon::ParseConfig(exo::daemon::DefaultConfigJson(), "embedded");
    if (!c.ok()) std::abort();
    return new exoroute::v1::DaemonConfig(*std::move(c));
  }();
  return *config;
}

// A refusal that names the book file.
void CheckNamesFile(const absl::Status& s) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, "%s", s.ToString().c_str());
  FUZZ_CHECK(s.message().find("book file fuzz.json: ") == 0, "%s", s.ToString().c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const size_t eol = text.find('\n');
  if (eol == std::string::npos) return 0;
  std::istringstream order_line(text.substr(0, eol));
  std::string side, qty_text, limit_text;
  order_line >> side >> qty_text >> limit_text;
  if (side != "buy" && side != "sell") return 0;  // The CLI's usage error.

  absl::StatusOr<exoroute::v1::BookSnapshotFile> file = exo::adapters::ParseBookFile(text.substr(eol + 1), "fuzz.json");
  if (!file.ok()) {
    CheckNamesFile(file.status());
    return 0;
  }
  exo::daemon::WhatIfOrder order;
  order.side = side == "buy" ? exoroute::v1::SIDE_BUY : exoroute::v1::SIDE_SELL;
  absl::StatusOr<exoroute::v1::Instrument> inst = exo::daemon::WhatIfInstrument(Config(), *file, "fuzz.json", "");
  if (!inst.ok()) {
    if (inst.status().code() == absl::StatusCode::kFailedPrecondition) {
      FUZZ_CHECK(inst.status().message().find("unknown symbol \"") == 0, "%s", inst.status().ToString().c_str());
    } else {
      CheckNamesFile(inst.status());
    }
    return 0;
  }
  absl::StatusOr<int64_t> qty = exo::ParseDecimal(qty_text, inst->qty_scale());
  if (!qty.ok() || *qty <= 0) return 0;  // The CLI's usage errors.
  int64_t limit = 0;
  if (!limit_text.empty()) {
    absl::StatusOr<int64_t> px = exo::ParseDecimal(limit_text, inst->price_scale());
    if (!px.ok() || *px <= 0) return 0;
    limit = *px;
  }
  constexpr int64_t kNow = 1'700'000'000'000'000'000;
  absl::StatusOr<exoroute::v1::SolveInput> in =
      exo::daemon::WhatIfInput(Config(), *file, "fuzz.json", *inst, order, *qty, limit, kNow);
  if (!in.ok()) {
    CheckNamesFile(in.status());
    return 0;
  }
  absl::StatusOr<exoroute::v1::Decision> d = exo::solver::Solve(*in);
  if (!d.ok()) {
    // Only the order itself can be refused here (a quantity or limit beyond what prices can hold).
    FUZZ_CHECK(d.status().code() == absl::StatusCode::kInvalidArgument, "%s", d.status().ToString().c_str());
    FUZZ_CHECK(d.status().message().find("solve_input") == 0, "%s", d.status().ToString().c_str());
    return 0;
  }
  // Each venue's share: whole lots, within its displayed depth (the walked side) and its cap.
  std::map<std::string, const exoroute::v1::VenueInput*> venues;
  for (const auto& v : in->venues()) venues[v.venue()] = &v;
  int64_t allocated = 0;
  for (const auto& a : d->allocations()) {
    const auto it = venues.find(a.venue());
    FUZZ_CHECK(it != venues.end(), "a share for venue \"%s\", not one of the order's", a.venue().c_str());
    const exoroute::v1::VenueInput& v = *it->second;
    FUZZ_CHECK(a.quantity() > 0 && a.quantity() % v.lot_size() == 0, "%s: %lld units, lot %lld", a.venue().c_str(),
               static_cast<long long>(a.quantity()), static_cast<long long>(v.lot_size()));
    int64_t depth = 0;
    for (const auto& l : order.side == exoroute::v1::SIDE_BUY ? v.book().asks() : v.book().bids()) depth += l.size();
    FUZZ_CHECK(a.quantity() <= depth, "%s: %lld units of %lld displayed", a.venue().c_str(),
               static_cast<long long>(a.quantity()), static_cast<long long>(depth));
    FUZZ_CHECK(v.max_quantity() == 0 || a.quantity() <= v.max_quantity(), "%s over its cap", a.venue().c_str());
    allocated += a.quantity();
  }
  FUZZ_CHECK(allocated == d->allocated_quantity() && allocated + d->shortfall() == *qty,
             "allocations %lld, allocated %lld, shortfall %lld, order %lld", static_cast<long long>(allocated),
             static_cast<long long>(d->allocated_quantity()), static_cast<long long>(d->shortfall()),
             static_cast<long long>(*qty));
  for (const auto& e : d->exclusions()) FUZZ_CHECK(!e.reason().empty(), "venue %s excluded without a reason", e.venue().c_str());
  absl::StatusOr<exoroute::v1::Decision> again = exo::solver::Solve(*in);
  FUZZ_CHECK(again.ok() && again->SerializeAsString() == d->SerializeAsString(), "the same what-if decided twice differs");
  return 0;
}
