// Book files for `exoroutectl solve` as a quant or support engineer might write them: the
// order on the first line ("buy 1.5", "sell 2 64990.5 allow=SIM-A,SIM-B deny=SIM-C max=1": the
// CLI's --side, --qty, --limit, --allow, --deny, --max-venues), the book file's JSON after it,
// solved on the embedded default config as the CLI solves it (adapters::ParseBookFile,
// daemon::BookFileSymbol / WhatIfInput, solver::Solve). Checks: a refused file is
// INVALID_ARGUMENT naming the book file, a refused order INVALID_ARGUMENT naming the order's
// field (FAILED_PRECONDITION when no venue may trade it); a taken one gives a decision that
// adds up, each venue's share in whole lots, within its displayed depth and its cap, on a venue
// the order may use and on no more venues than it allows; and the same bytes again.
#include <cstdlib>
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
  return {"buy 1.5\n" + two_venues,
          "sell 0.35 64999\n" + two_venues,
          "buy 0.04\n" + three_venues,
          "buy 2.5 65000.5 max=1\n" + three_venues,
          "buy 1 deny=SIM-B\n" + three_venues,
          "buy 0.5 allow=SIM-A,SIM-C max=2\n" + two_venues,
          "buy 0.002\n" + eth,
          "sell 1 allow=SIM-C\n" + eth};
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
  std::string side, qty_text, limit_text, word;
  order_line >> side >> qty_text;
  // Then, in any order: a limit, "allow=A,B", "deny=C", "max=N" (the CLI's other flags).
  std::vector<std::string> venue_lists[2];
  uint32_t max_venues = 0;
  while (order_line >> word) {
    if (word.rfind("allow=", 0) == 0 || word.rfind("deny=", 0) == 0) {
      std::istringstream ids(word.substr(word.find('=') + 1));
      for (std::string id; std::getline(ids, id, ',');) {
        if (!id.empty()) venue_lists[word[0] == 'a' ? 0 : 1].push_back(id);
      }
    } else if (word.rfind("max=", 0) == 0) {
      max_venues = static_cast<uint32_t>(std::strtoul(word.c_str() + 4, nullptr, 10));
    } else {
      limit_text = word;
    }
  }
  if (side != "buy" && side != "sell") return 0;  // The CLI's usage error.

  absl::StatusOr<exoroute::v1::BookSnapshotFile> file = exo::adapters::ParseBookFile(text.substr(eol + 1), "fuzz.json");
  if (!file.ok()) {
    CheckNamesFile(file.status());
    return 0;
  }
  absl::StatusOr<std::string> symbol = exo::daemon::BookFileSymbol(*file, "fuzz.json");
  if (!symbol.ok()) {
    CheckNamesFile(symbol.status());
    return 0;
  }
  const exoroute::v1::Instrument* inst = nullptr;
  for (const auto& i : Config().instruments()) {
    if (i.symbol() == *symbol) inst = &i;
  }
  if (inst == nullptr) return 0;  // The CLI's "unknown symbol" (its own check, before the order).
  exoroute::v1::ParentOrder order;
  order.set_symbol(*symbol);
  order.set_side(side == "buy" ? exoroute::v1::SIDE_BUY : exoroute::v1::SIDE_SELL);
  absl::StatusOr<int64_t> qty = exo::ParseDecimal(qty_text, inst->qty_scale());
  if (!qty.ok() || *qty <= 0) return 0;  // The CLI's usage errors.
  order.set_quantity(*qty);
  if (!limit_text.empty()) {
    absl::StatusOr<int64_t> px = exo::ParseDecimal(limit_text, inst->price_scale());
    if (!px.ok()) return 0;
    order.set_limit_price(*px);
  }
  for (const std::string& v : venue_lists[0]) order.add_allowed_venues(v);
  for (const std::string& v : venue_lists[1]) order.add_denied_venues(v);
  order.set_max_venues(max_venues);
  constexpr int64_t kNow = 1'700'000'000'000'000'000;
  absl::StatusOr<exoroute::v1::SolveInput> in = exo::daemon::WhatIfInput(Config(), *file, "fuzz.json", order, std::nullopt, kNow);
  if (!in.ok()) {
    // The order refused as the node refuses it (naming the order's field), or the file.
    const absl::Status& s = in.status();
    if (s.message().find("order.") == 0) {
      FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, "%s", s.ToString().c_str());
    } else if (s.code() == absl::StatusCode::kFailedPrecondition) {
      FUZZ_CHECK(s.message().find("no venue can trade ") == 0, "%s", s.ToString().c_str());
    } else {
      CheckNamesFile(s);
    }
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
    for (const auto& l : order.side() == exoroute::v1::SIDE_BUY ? v.book().asks() : v.book().bids()) depth += l.size();
    FUZZ_CHECK(a.quantity() <= depth, "%s: %lld units of %lld displayed", a.venue().c_str(),
               static_cast<long long>(a.quantity()), static_cast<long long>(depth));
    FUZZ_CHECK(v.max_quantity() == 0 || a.quantity() <= v.max_quantity(), "%s over its cap", a.venue().c_str());
    FUZZ_CHECK(exo::daemon::OrderExclusion(order, a.venue()).empty(), "a share for %s, which the order leaves out",
               a.venue().c_str());
    allocated += a.quantity();
  }
  FUZZ_CHECK(order.max_venues() == 0 || static_cast<uint32_t>(d->allocations_size()) <= order.max_venues(),
             "%d venues, at most %u asked", d->allocations_size(), order.max_venues());
  FUZZ_CHECK(allocated == d->allocated_quantity() && allocated + d->shortfall() == *qty,
             "allocations %lld, allocated %lld, shortfall %lld, order %lld", static_cast<long long>(allocated),
             static_cast<long long>(d->allocated_quantity()), static_cast<long long>(d->shortfall()),
             static_cast<long long>(*qty));
  for (const auto& e : d->exclusions()) FUZZ_CHECK(!e.reason().empty(), "venue %s excluded without a reason", e.venue().c_str());
  absl::StatusOr<exoroute::v1::Decision> again = exo::solver::Solve(*in);
  FUZZ_CHECK(again.ok() && again->SerializeAsString() == d->SerializeAsString(), "the same what-if decided twice differs");
  return 0;
}
