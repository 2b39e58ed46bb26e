#include "clients/exoroutectl/execution_report.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "clients/exoroutectl/render.h"
#include "daemon/plan_fold.h"
#include "exo/fixed_point.h"

namespace exo::ctl {

using namespace exoroute::v1;  // NOLINT

void ExecutionReport::Add(const PlanDelta& d) {
  if (d.has_created()) {
    if (d.sequence() < from_ || d.created().mode() != ROUTE_MODE_EXECUTE) return;
    if (!symbol_.empty() && d.created().order().symbol() != symbol_) return;
    if (d.event_time_ns() < since_ns_ || (until_ns_ != 0 && d.event_time_ns() >= until_ns_)) return;
    if (!client_.empty() && d.created().routed_by() != client_) return;
    first_[d.plan_id()] = d.sequence();
  }
  auto it = plans_.find(d.plan_id());
  if (it == plans_.end()) {
    if (!d.has_created() || !first_.count(d.plan_id())) return;  // Not a plan this report has.
    it = plans_.emplace(d.plan_id(), Plan()).first;
  }
  Plan& p = it->second;
  daemon::ApplyDelta(d, &p);
  if (d.has_fill()) {
    VenueFills& v = venues_[{p.order().symbol(), d.fill().venue()}];
    if (v.venue.empty()) {
      v.symbol = p.order().symbol();
      v.venue = d.fill().venue();
      v.instrument = p.instrument();
    }
    v.filled += d.fill().quantity();
    v.notional += MulDivRound(d.fill().price(), d.fill().quantity(), Pow10(p.instrument().qty_scale()));
    v.fees += d.fill().fee();
    ++v.fills;
  }
  if (daemon::IsTerminal(p.status())) {  // Nothing more comes: keep only what a row reads.
    p.clear_allocations();
    p.clear_exclusions();
    p.clear_last_solve();
  }
}

std::vector<ExecutionRow> ExecutionReport::Rows() const {
  std::vector<ExecutionRow> rows;
  for (const auto& [id, p] : plans_) {
    ExecutionRow& r = rows.emplace_back();
    r.plan_id = id;
    r.first_sequence = first_.at(id);
    r.instrument = p.instrument();
    r.side = p.order().side();
    r.status = p.status();
    r.quantity = p.order().quantity();
    r.filled = p.filled_quantity();
    r.filled_notional = p.filled_notional();
    r.average_price = p.average_price();
    r.arrival_mid = p.arrival_mid();
    r.slippage_cbps = p.fill_slippage_cbps();
    r.fees = p.fees();
    r.children = static_cast<uint32_t>(p.children_size());
    r.amendments = p.amendments();
    r.created_ns = p.created_time_ns();
    r.updated_ns = p.updated_time_ns();
    std::map<std::string, int64_t> by_venue;
    for (const ChildState& c : p.children()) {
      if (c.filled_quantity() > 0) by_venue[c.order().venue()] += c.filled_quantity();
    }
    r.filled_by_venue.assign(by_venue.begin(), by_venue.end());
    r.routed_by = p.routed_by();
  }
  std::sort(rows.begin(), rows.end(),
            [](const ExecutionRow& a, const ExecutionRow& b) { return a.first_sequence < b.first_sequence; });
  return rows;
}

std::vector<VenueFills> ExecutionReport::ByVenue() const {
  std::vector<VenueFills> out;
  for (const auto& [key, v] : venues_) out.push_back(v);
  return out;
}

namespace {

std::string Px(const ExecutionRow& r, int64_t v) { return FormatDecimal(v, r.instrument.price_scale()); }
std::string Qty(const ExecutionRow& r, int64_t v) { return FormatDecimal(v, r.instrument.qty_scale()); }
std::string SideName(Side s) { return s == SIDE_BUY ? "buy" : s == SIDE_SELL ? "sell" : "?"; }
std::string StatusName(PlanStatus s) {
  const std::string n = PlanStatus_Name(s);
  return n.size() > 12 ? n.substr(12) : n;
}
// Slippage in bp with two decimals, or "-" without an arrival mid or a fill to measure.
std::string Slippage(const ExecutionRow& r) {
  return r.arrival_mid > 0 && r.filled > 0 ? FormatDecimal(r.slippage_cbps, 2) : "-";
}
// Fees against the filled notional, in bp.
std::string FeeBps(int64_t fees, int64_t notional) {
  return notional > 0 ? FormatDecimal(MulDivRound(fees, 1'000'000, notional), 2) : "-";
}
// "1.234 s" from the order's arrival to its last delta.
std::string Duration(const ExecutionRow& r) {
  return absl::StrFormat("%.3f s", static_cast<double>(r.updated_ns - r.created_ns) / 1e9);
}

struct Total {
  const ExecutionRow* first = nullptr;  // For the instrument's scales.
  int plans = 0;
  int64_t filled = 0, notional = 0, fees = 0;
  __int128 weighted_cbps = 0;  // Σ slippage × notional over plans with an arrival mid.
  int64_t weighed_notional = 0;

  void Add(const ExecutionRow& r) {
    if (first == nullptr) first = &r;
    ++plans;
    filled += r.filled;
    notional += r.filled_notional;
    fees += r.fees;
    if (r.arrival_mid > 0 && r.filled > 0) {
      weighted_cbps += static_cast<__int128>(r.slippage_cbps) * r.filled_notional;
      weighed_notional += r.filled_notional;
    }
  }
  // "2 plans, filled … for …, slippage … bp (notional-weighted), fees … (… bp)\n"
  std::string Line() const {
    const ExecutionRow& r = *first;
    const std::string slip =
        weighed_notional > 0
            ? FormatDecimal(static_cast<int64_t>(weighted_cbps / weighed_notional), 2) + " bp (notional-weighted)"
            : "-";
    return absl::StrCat(Counted(plans, "plan", "plans"), ", filled ", Qty(r, filled), " for ", Px(r, notional),
                        ", slippage ", slip, ", fees ", Px(r, fees), " (", FeeBps(fees, notional), " bp)\n");
  }
};

// A CSV field: as it is, or quoted (quotes doubled) when it has a comma, a quote or a line end.
std::string CsvField(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// A JSON string (a client name may hold a quote or a backslash; control characters it cannot).
std::string JsonString(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string RenderExecutionTable(const std::vector<ExecutionRow>& rows, const std::vector<VenueFills>& venues) {
  if (rows.empty()) return "no executed plans in the range\n";
  std::string out = absl::StrFormat("%-20s %-9s %-4s %-10s %16s %16s %12s %12s %8s %12s %8s  %s\n", "PLAN", "SYMBOL",
                                    "SIDE", "STATUS", "FILLED", "OF", "AVG PRICE", "ARRIVAL MID", "SLIP BP", "FEES",
                                    "TIME", "VENUES");
  std::map<std::pair<std::string, Side>, Total> totals;
  // The same per client that sent the orders, when any sender is known.
  std::map<std::tuple<std::string, Side, std::string>, Total> by_client;
  const bool senders =
      std::any_of(rows.begin(), rows.end(), [](const ExecutionRow& r) { return !r.routed_by.empty(); });
  for (const ExecutionRow& r : rows) {
    std::vector<std::string> venues;
    for (const auto& [venue, qty] : r.filled_by_venue) venues.push_back(absl::StrCat(venue, " ", Qty(r, qty)));
    absl::StrAppend(&out, absl::StrFormat("%-20s %-9s %-4s %-10s %16s %16s %12s %12s %8s %12s %8s  %s%s\n", r.plan_id,
                                          r.instrument.symbol(), SideName(r.side), StatusName(r.status),
                                          Qty(r, r.filled), Qty(r, r.quantity),
                                          r.filled > 0 ? Px(r, r.average_price) : "-",
                                          r.arrival_mid > 0 ? Px(r, r.arrival_mid) : "-", Slippage(r), Px(r, r.fees),
                                          Duration(r), absl::StrJoin(venues, ", "),
                                          r.amendments > 0 ? absl::StrCat("  (amended ", r.amendments, "×)") : ""));
    totals[{r.instrument.symbol(), r.side}].Add(r);
    if (senders) by_client[{r.instrument.symbol(), r.side, r.routed_by.empty() ? "-" : r.routed_by}].Add(r);
  }
  out += "\n";
  for (const auto& [key, t] : totals) absl::StrAppend(&out, key.first, " ", SideName(key.second), ": ", t.Line());
  for (const auto& [key, t] : by_client) {
    absl::StrAppend(&out, std::get<0>(key), " ", SideName(std::get<1>(key)), " by ", std::get<2>(key), ": ", t.Line());
  }
  std::map<std::string, int64_t> symbol_filled;
  for (const VenueFills& v : venues) symbol_filled[v.symbol] += v.filled;
  for (const VenueFills& v : venues) {
    const uint32_t qs = v.instrument.qty_scale(), ps = v.instrument.price_scale();
    absl::StrAppend(&out, v.symbol, " at ", v.venue, ": filled ", FormatDecimal(v.filled, qs), " (",
                    FormatDecimal(MulDivRound(v.filled, 10'000, symbol_filled[v.symbol]), 2), " %) in ",
                    Counted(v.fills, "fill", "fills"), ", avg ",
                    FormatDecimal(MulDivRound(v.notional, Pow10(qs), v.filled), ps), ", fees ",
                    FormatDecimal(v.fees, ps), " (", FeeBps(v.fees, v.notional), " bp)\n");
  }
  return out;
}

std::string RenderExecutionCsv(const std::vector<ExecutionRow>& rows) {
  std::string out =
      "plan_id,symbol,side,status,quantity,filled,average_price,arrival_mid,slippage_bps,fees,fee_bps,children,"
      "amendments,created_ns,updated_ns,filled_by_venue,routed_by\n";
  for (const ExecutionRow& r : rows) {
    std::vector<std::string> venues;
    for (const auto& [venue, qty] : r.filled_by_venue) venues.push_back(absl::StrCat(venue, ":", Qty(r, qty)));
    const std::string slip = Slippage(r), fee_bps = FeeBps(r.fees, r.filled_notional);
    absl::StrAppend(&out, r.plan_id, ",", r.instrument.symbol(), ",", SideName(r.side), ",", StatusName(r.status), ",",
                    Qty(r, r.quantity), ",", Qty(r, r.filled), ",", r.filled > 0 ? Px(r, r.average_price) : "", ",",
                    r.arrival_mid > 0 ? Px(r, r.arrival_mid) : "", ",", slip == "-" ? "" : slip, ",", Px(r, r.fees),
                    ",", fee_bps == "-" ? "" : fee_bps, ",", r.children, ",", r.amendments, ",", r.created_ns, ",",
                    r.updated_ns, ",", absl::StrJoin(venues, ";"), ",", CsvField(r.routed_by), "\n");
  }
  return out;
}

std::string RenderExecutionJson(const std::vector<ExecutionRow>& rows) {
  // Plan ids, symbols and venue ids are [A-Za-z0-9._:/-]: nothing in them needs escaping.
  auto str = [](const std::string& v) { return absl::StrCat("\"", v, "\""); };
  std::string out;
  for (const ExecutionRow& r : rows) {
    std::vector<std::string> venues;
    for (const auto& [venue, qty] : r.filled_by_venue) venues.push_back(absl::StrCat(str(venue), ":", str(Qty(r, qty))));
    absl::StrAppend(&out, "{\"plan_id\":", str(r.plan_id), ",\"symbol\":", str(r.instrument.symbol()),
                    ",\"side\":", str(SideName(r.side)), ",\"status\":", str(StatusName(r.status)),
                    ",\"quantity\":", str(Qty(r, r.quantity)), ",\"filled\":", str(Qty(r, r.filled)),
                    ",\"average_price\":", str(Px(r, r.average_price)), ",\"arrival_mid\":", str(Px(r, r.arrival_mid)),
                    ",\"slippage_cbps\":", r.slippage_cbps, ",\"fees\":", str(Px(r, r.fees)),
                    ",\"children\":", r.children, ",\"amendments\":", r.amendments, ",\"created_ns\":", r.created_ns,
                    ",\"updated_ns\":", r.updated_ns, ",\"filled_by_venue\":{", absl::StrJoin(venues, ","),
                    "},\"routed_by\":", JsonString(r.routed_by), "}\n");
  }
  return out;
}

}  // namespace exo::ctl
