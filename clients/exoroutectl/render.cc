#include "clients/exoroutectl/render.h"

#include <algorithm>
#include <cmath>

#include "absl/time/time.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "exo/fixed_point.h"
#include "exo/sha256.h"
#include "exo/slewed_wall_clock.h"
#include "google/protobuf/util/json_util.h"

namespace exo::ctl {

namespace {
std::string ShortfallWorkLine(const exoroute::v1::ShortfallWork& w, uint32_t qty_scale);
}  // namespace

using namespace exoroute::v1;  // NOLINT

namespace {

std::string Side(exoroute::v1::Side s) { return s == SIDE_BUY ? "buy" : s == SIDE_SELL ? "sell" : "?"; }

// "LOW", "NORMAL", "HIGH".
std::string UrgencyWord(Urgency u) { return Urgency_Name(u).substr(8); }

struct Fmt {
  const Instrument* inst;
  std::string Px(int64_t v) const { return inst ? FormatDecimal(v, inst->price_scale()) : absl::StrCat(v); }
  std::string Qty(int64_t v) const { return inst ? FormatDecimal(v, inst->qty_scale()) : absl::StrCat(v); }
};

// The status's instrument `symbol` (raw units when the node does not list it).
Fmt FmtOf(const StatusResponse& r, const std::string& symbol) {
  for (const auto& i : r.instruments()) {
    if (i.symbol() == symbol) return Fmt{&i};
  }
  return Fmt{nullptr};
}

// How long ago, for a table: "42 s" under two minutes, else "3 min".
std::string Ago(int64_t seconds) {
  return seconds < 120 ? absl::StrCat(seconds, " s") : absl::StrCat(seconds / 60, " min");
}

// Hundredths of a basis point as "1.25 bp".
std::string Bps(int64_t cbps) { return FormatDecimal(cbps, 2) + " bp"; }

// "512 B", "12.3 KiB", "64.0 MiB", "1.5 GiB".
std::string Bytes(uint64_t n) {
  if (n < 1024) return absl::StrCat(n, " B");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 3) {
    v /= 1024.0;
    ++u;
  }
  return absl::StrFormat("%.1f %s", v, units[u]);
}

}  // namespace

std::string ShortStatus(PlanStatus s) {
  std::string n = PlanStatus_Name(s);
  return n.size() > 12 ? n.substr(12) : n;
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

// "solve     EXACT, 9 rounds, marginal price …, 3 venues usable, gap 0.00[, band limit …]".
std::string SolveLine(const SolverStats& st, const Fmt& f) {
  if (st.venues_considered() == 0) {  // Nothing to solve over: the exclusions say why.
    return absl::StrCat("solve     ", SolverMethod_Name(st.method()).substr(14), ", no venue usable",
                        st.arrival_limit() != 0 ? absl::StrCat(", arrival limit ", f.Px(st.arrival_limit())) : "", "\n");
  }
  return absl::StrCat("solve     ", SolverMethod_Name(st.method()).substr(14), ", ", Counted(st.rounds(), "round", "rounds"),
                      ", marginal price ", f.Px(st.marginal_price()), ", ",
                      Counted(st.venues_considered(), "venue usable", "venues usable"), ", gap ", f.Px(st.optimality_gap()),
                      st.price_band_limit() != 0 ? absl::StrCat(", band limit ", f.Px(st.price_band_limit())) : "",
                      st.arrival_limit() != 0 ? absl::StrCat(", arrival limit ", f.Px(st.arrival_limit())) : "", "\n");
}

// An open child's state: "open", and for how long when the time is known ("open 42 s").
std::string OpenFor(const ChildState& c, int64_t now_s) {
  if (now_s <= 0 || c.sent_time_ns() <= 0) return "open";
  const int64_t s = std::max<int64_t>(0, now_s - c.sent_time_ns() / 1'000'000'000);
  return absl::StrCat("open ", Ago(s));
}

std::string Counted(uint64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

std::string RenderPlan(const Plan& p, int64_t now_s) {
  Fmt f{&p.instrument()};
  const ParentOrder& o = p.order();
  std::string s;
  absl::StrAppend(&s, "plan      ", p.plan_id(), "  ", ShortStatus(p.status()),
                  p.reason().empty() ? "" : absl::StrCat(" (", p.reason(), ")"), "\n");
  absl::StrAppend(&s, "order     ", Side(o.side()), " ", f.Qty(o.quantity()), " ", o.symbol(),
                  o.has_limit_price() ? absl::StrCat(" limit ", f.Px(o.limit_price())) : " market",
                  "  ", TimeInForce_Name(o.time_in_force()).substr(14),
                  o.expire_after_ms() ? absl::StrCat(" ", o.expire_after_ms(), " ms") : "", "  ",
                  p.mode() == ROUTE_MODE_EXECUTE ? "EXECUTE" : "PLAN_ONLY",
                  o.urgency() != URGENCY_UNSPECIFIED ? absl::StrCat("  urgency ", UrgencyWord(o.urgency())) : "",
                  o.arrival_band_bps() > 0
                      ? absl::StrCat("  arrival band ", o.arrival_band_bps(), " bp",
                                     p.arrival_limit() > 0 ? absl::StrCat(" (limit ", f.Px(p.arrival_limit()), ")")
                                                           : " (not fixed yet)")
                      : "",
                  p.routed_by().empty() ? "" : absl::StrCat("  by client ", p.routed_by()), "\n");
  if (p.amendments() > 0) {
    const ParentOrder& r = p.routed_order();
    absl::StrAppend(&s, "amended   ", Counted(p.amendments(), "time", "times"), ", routed as ",
                    f.Qty(r.quantity()), r.has_limit_price() ? absl::StrCat(" limit ", f.Px(r.limit_price())) : " market",
                    "\n");
  }
  if (p.cancel_on_disconnect() && p.status() == PLAN_STATUS_WORKING) {
    absl::StrAppend(&s, "switch    cancelled if no cancel-on-disconnect watch holds it for ", p.disconnect_grace_ms(),
                    " ms\n");
  }
  absl::StrAppend(&s, "filled    ", f.Qty(p.filled_quantity()), " of ", f.Qty(o.quantity()));
  if (p.filled_quantity() > 0) {
    absl::StrAppend(&s, "  avg ", f.Px(p.average_price()), "  fees ", f.Px(p.fees()),
                    "  slippage ", Bps(p.fill_slippage_cbps()), " vs arrival mid ",
                    f.Px(p.arrival_mid()));
  } else if (p.arrival_mid() > 0) {
    absl::StrAppend(&s, "  arrival mid ", f.Px(p.arrival_mid()));
  }
  absl::StrAppend(&s, "\n");
  absl::StrAppend(&s, SolveLine(p.last_solve(), f));
  if (p.expected_average_price() == 0) {  // The last decision placed nothing.
    absl::StrAppend(&s, "expected  nothing placed now",
                    p.shortfall() ? absl::StrCat(", SHORTFALL ", f.Qty(p.shortfall())) : "", "\n");
  } else {
    // After a re-plan the figures are that decision's, for what was left then, not the order's.
    absl::StrAppend(&s, "expected  ", p.replans() > 0 ? "last re-plan: " : "", "cost ", f.Px(p.expected_cost()),
                    ", avg ", f.Px(p.expected_average_price()), " incl. fees, ", Bps(p.expected_slippage_cbps()), " vs mid",
                    p.shortfall() ? absl::StrCat(", SHORTFALL ", f.Qty(p.shortfall())) : "", "\n");
  }
  absl::StrAppend(&s, "versions  ", p.version(), " deltas (last sequence ", p.last_sequence(), "), ",
                  Counted(p.replans(), "re-plan", "re-plans"), "\n");
  if (!p.allocations().empty()) {
    absl::StrAppend(&s, absl::StrFormat("\n  %-10s %16s %14s %16s\n", "VENUE", "QUANTITY", "LIMIT", "EXPECTED COST"));
    for (const auto& a : p.allocations()) {
      absl::StrAppend(&s, absl::StrFormat("  %-10s %16s %14s %16s\n", a.venue(), f.Qty(a.quantity()),
                                          f.Px(a.limit_price()), f.Px(a.expected_cost())));
    }
  }
  for (const auto& e : p.exclusions()) {
    absl::StrAppend(&s, "  excluded ", e.venue(), ": ", e.reason(), "\n");
  }
  if (!p.children().empty()) {
    absl::StrAppend(&s, absl::StrFormat("\n  %-22s %-8s %14s %14s %14s  %s\n", "CHILD", "VENUE", "QUANTITY",
                                        "LIMIT", "FILLED", "STATE"));
    for (const auto& c : p.children()) {
      absl::StrAppend(&s, absl::StrFormat("  %-22s %-8s %14s %14s %14s  %s\n", c.order().cl_ord_id(),
                                          c.order().venue(), f.Qty(c.order().quantity()),
                                          f.Px(c.order().limit_price()), f.Qty(c.filled_quantity()),
                                          c.done() ? c.done_reason() : OpenFor(c, now_s)));
    }
  }
  return s;
}

std::string RenderPlanList(const std::vector<Plan>& plans, int64_t now_ns) {
  if (plans.empty()) return "no working plans\n";
  // Who sent each order, when any is known (mutual TLS).
  const bool senders = std::any_of(plans.begin(), plans.end(), [](const Plan& p) { return !p.routed_by().empty(); });
  std::string s = absl::StrFormat("%-24s %-10s %-4s %-10s %18s %18s %14s %4s %8s", "PLAN", "STATUS", "SIDE",
                                  "SYMBOL", "QUANTITY", "FILLED", "LIMIT", "OPEN", "AGE");
  s += senders ? "  BY\n" : "\n";
  for (const Plan& p : plans) {
    Fmt f{&p.instrument()};
    const ParentOrder& o = p.order();
    int open = 0;
    for (const ChildState& c : p.children()) open += c.done() ? 0 : 1;
    const int64_t age_ms = p.created_time_ns() > 0 && now_ns > p.created_time_ns()
                               ? (now_ns - p.created_time_ns()) / 1'000'000 : 0;
    const std::string age = age_ms < 10'000    ? absl::StrCat(age_ms, " ms")
                            : age_ms < 600'000 ? absl::StrCat(age_ms / 1000, " s")
                                               : absl::StrCat(age_ms / 60'000, " min");
    absl::StrAppend(&s, absl::StrFormat("%-24s %-10s %-4s %-10s %18s %18s %14s %4d %8s", p.plan_id(),
                                        ShortStatus(p.status()), Side(o.side()), o.symbol(), f.Qty(o.quantity()),
                                        f.Qty(p.filled_quantity()),
                                        o.has_limit_price() ? f.Px(o.limit_price()) : "market", open, age));
    s += senders ? absl::StrCat("  ", p.routed_by().empty() ? "-" : p.routed_by(), "\n") : "\n";
  }
  absl::StrAppend(&s, Counted(plans.size(), "working plan", "working plans"), "\n");
  return s;
}

std::string RenderBooks(const GetBooksResponse& r) {
  Fmt f{&r.instrument()};
  std::string s = absl::StrCat("books     ", r.instrument().symbol(), "  as an executed order decided now reads them\n");
  if (r.best_bid() > 0 && r.best_ask() > 0) {
    const int64_t spread = r.best_ask() - r.best_bid();
    // In hundredths of a bp of the mid, to the nearest (from twice the mid: one rounding).
    const __int128 mid2 = static_cast<__int128>(r.best_ask()) + r.best_bid();
    const int64_t cbps =
        static_cast<int64_t>((static_cast<__int128>(spread < 0 ? -spread : spread) * 4'000'000 + mid2) / (2 * mid2));
    absl::StrAppend(&s, "best      bid ", f.Px(r.best_bid()), "  ask ", f.Px(r.best_ask()),
                    spread > 0    ? absl::StrCat("  spread ", f.Px(spread), " (", Bps(cbps), ")")
                    : spread == 0 ? "  locked across venues"
                                  : absl::StrCat("  crossed across venues by ", f.Px(-spread), " (", Bps(cbps), ")"),
                    "\n");
  } else {
    absl::StrAppend(&s, "best      bid ", r.best_bid() > 0 ? f.Px(r.best_bid()) : "none", "  ask ",
                    r.best_ask() > 0 ? f.Px(r.best_ask()) : "none", "  (no two-sided market over the usable venues)\n");
  }
  for (const VenueBookView& v : r.venues()) {
    absl::StrAppend(&s, "\n", absl::StrFormat("%-10s", v.venue()), " fee ", absl::StrFormat("%.2f", v.fee_bps()), " bp");
    if (v.age_ms() < 0) {
      absl::StrAppend(&s, "  no book yet\n");
    } else {
      absl::StrAppend(&s, "  age ", v.age_ms(), " ms", v.book().sequence() > 0 ? absl::StrCat("  seq ", v.book().sequence()) : "",
                      "\n");
      const VenueBook& b = v.book();
      if (b.bids_size() > 0 || b.asks_size() > 0) {
        absl::StrAppend(&s, absl::StrFormat("  %18s %14s | %-14s %s\n", "BID SIZE", "BID", "ASK", "ASK SIZE"));
      }
      for (int k = 0; k < std::max(b.bids_size(), b.asks_size()); ++k) {
        const bool bid = k < b.bids_size(), ask = k < b.asks_size();
        absl::StrAppend(&s, absl::StrFormat("  %18s %14s | %-14s %-18s", bid ? f.Qty(b.bids(k).size()) : "",
                                            bid ? f.Px(b.bids(k).price()) : "", ask ? f.Px(b.asks(k).price()) : "",
                                            ask ? f.Qty(b.asks(k).size()) : ""));
        // (No trailing blanks: the ask columns may be empty.)
        s.erase(s.find_last_not_of(' ') + 1);
        s += "\n";
      }
    }
    if (!v.buy_exclusion().empty()) absl::StrAppend(&s, "  a buy leaves it out: ", v.buy_exclusion(), "\n");
    if (!v.sell_exclusion().empty()) absl::StrAppend(&s, "  a sell leaves it out: ", v.sell_exclusion(), "\n");
  }
  return s;
}

std::string RenderDecision(const Decision& d, const Instrument& inst, exoroute::v1::Side side,
                           int64_t quantity, const OneVenuePlan* alone) {
  Fmt f{&inst};
  std::string s;
  absl::StrAppend(&s, "what-if   ", Side(side), " ", f.Qty(quantity), " ", inst.symbol(), "\n");
  absl::StrAppend(&s, SolveLine(d.stats(), f));
  if (d.allocated_quantity() == 0) {
    absl::StrAppend(&s, "expected  nothing placed",
                    d.mid_price() > 0 ? absl::StrCat(" (mid ", f.Px(d.mid_price()), ")") : " (no mid)",
                    d.shortfall() ? absl::StrCat(", SHORTFALL ", f.Qty(d.shortfall())) : "", "\n");
  } else {
    absl::StrAppend(&s, "expected  cost ", f.Px(d.expected_cost()), ", avg ", f.Px(d.expected_average_price()),
                    " incl. fees, ", Bps(d.slippage_cbps()), " vs mid ", f.Px(d.mid_price()),
                    d.shortfall() ? absl::StrCat(", SHORTFALL ", f.Qty(d.shortfall())) : "", "\n");
  }
  if (alone != nullptr && alone->decision.shortfall() > 0) {
    absl::StrAppend(&s, "one venue none fills the order alone (the most: ", alone->venue, ", ",
                    f.Qty(alone->decision.allocated_quantity()), ")\n");
  } else if (alone != nullptr) {
    // A buy's cost and a sell's (negative: proceeds) alike: what the split spends less or gets more.
    const int64_t saves = alone->decision.expected_cost() - d.expected_cost();
    const int64_t base = d.expected_cost() < 0 ? -d.expected_cost() : d.expected_cost();
    const std::string in_bp = base > 0 ? absl::StrCat(" (", Bps(MulDivRound(saves < 0 ? -saves : saves, 1'000'000, base)), ")") : "";
    absl::StrAppend(&s, "one venue ", alone->venue, " alone: cost ", f.Px(alone->decision.expected_cost()), ", avg ",
                    f.Px(alone->decision.expected_average_price()), "; ",
                    saves >= 0 ? absl::StrCat("the split saves ", f.Px(saves), in_bp)
                               : absl::StrCat("the split costs ", f.Px(-saves), in_bp, " more (lot rounding)"),
                    "\n");
  }
  // The table's head only over rows (as a plan's): nothing placed leaves the exclusions alone.
  absl::StrAppend(&s, d.allocations().empty()
                          ? "\n"
                          : absl::StrFormat("\n  %-10s %16s %14s %16s\n", "VENUE", "QUANTITY", "LIMIT", "EXPECTED COST"));
  for (const auto& a : d.allocations()) {
    absl::StrAppend(&s, absl::StrFormat("  %-10s %16s %14s %16s\n", a.venue(), f.Qty(a.quantity()),
                                        f.Px(a.limit_price()), f.Px(a.expected_cost())));
  }
  for (const auto& e : d.exclusions()) absl::StrAppend(&s, "  excluded ", e.venue(), ": ", e.reason(), "\n");
  return s;
}

std::string RenderConfigReload(const ReloadConfigResponse& r, bool dry_run) {
  if (!r.changed()) return absl::StrCat("config ", r.path(), ": nothing to change (it is the config in force)\n");
  std::string s = dry_run ? absl::StrCat("a reload of ", r.path(), " would change:\n")
                          : absl::StrCat("config ", r.path(), " reloaded (recorded at sequence ", r.sequence(),
                                         "); changed:\n");
  // The differences come joined by "; " (DescribeConfigChange): one a line.
  for (absl::string_view change : absl::StrSplit(r.change(), "; ")) absl::StrAppend(&s, "  ", change, "\n");
  if (dry_run) absl::StrAppend(&s, "nothing applied (exoroutectl config reload applies it)\n");
  return s;
}

std::string RenderStatus(const StatusResponse& r, int64_t now_s) {
  std::string s;
  absl::StrAppend(&s, "node        ", r.node_id(), "  (exorouted ", r.version(), ", up ",
                  absl::StrFormat("%.1f s", r.uptime_ms() / 1000.0), ")\n");
  if (r.clock_ahead_ms() > 0) {
    constexpr int64_t kSlowDown = SlewedWallClock::kSlowDown;
    absl::StrAppend(&s, "clock       ", absl::StrFormat("%.3f s", r.clock_ahead_ms() / 1000.0),
                    " ahead of the system clock, which stepped back: the node's clock runs ", 100 / kSlowDown,
                    " % slow until they agree (in about ",
                    absl::StrFormat("%.0f s", static_cast<double>(r.clock_ahead_ms() * kSlowDown) / 1000.0), ")\n");
  }
  absl::StrAppend(&s, "chain head  ", r.chain_head().sequence(), "  ",
                  ToHex(r.chain_head().hash()).substr(0, 16), "…\n");
  if (!r.chain_signing_key().empty()) {
    absl::StrAppend(&s, "signing key ", ToHex(r.chain_signing_key()), " (Ed25519, chain heads)\n");
  }
  if (!r.admin_url().empty()) absl::StrAppend(&s, "metrics     ", r.admin_url(), "/metrics\n");
  absl::StrAppend(&s, "store       ", r.data_dir(), "  ", Bytes(r.store_size_bytes()));
  if (r.has_store()) {
    const StoreStatus& st = r.store();
    absl::StrAppend(&s, " (tables ", Bytes(st.table_bytes()), ", logs ", Bytes(st.log_bytes()), " of ",
                    Bytes(st.log_limit_bytes()), "; memtables ", Bytes(st.memtable_bytes()), " of ",
                    Bytes(st.memtable_limit_bytes()), ")");
  }
  absl::StrAppend(&s, "\n");
  if (r.has_store() && r.store().log_limit_bytes() > 0 && r.store().log_bytes() > 2 * r.store().log_limit_bytes()) {
    absl::StrAppend(&s, "WARNING     write-ahead logs ", Bytes(r.store().log_bytes()), ", over twice store.max_wal_mib (",
                    Bytes(r.store().log_limit_bytes()),
                    "): flushes fail or fall behind (see the node's log); a start after a crash replays them all\n");
  }
  absl::StrAppend(&s, "plans       ", r.plans_total(), " total, ", r.plans_working(), " working\n");
  if (r.has_process()) {
    const ProcessStatus& p = r.process();
    absl::StrAppend(&s, "process     ", absl::StrFormat("%.1f MiB resident", p.resident_bytes() / 1048576.0), ", ",
                    absl::StrFormat("%.1f s CPU", p.cpu_ms() / 1000.0), ", ", p.open_fds(), " files open");
    if (p.max_fds() > 0) absl::StrAppend(&s, " of ", p.max_fds());
    absl::StrAppend(&s, "\n");
    if (p.max_fds() > 0 && p.open_fds() * 10 >= p.max_fds() * 8) {
      absl::StrAppend(&s, "WARNING     ", p.open_fds(), " of ", p.max_fds(),
                      " file descriptors open: near the limit (raise LimitNOFILE / ulimit -n)\n");
    }
  }
  if (r.trading().halted()) {
    absl::StrAppend(&s, "trading     HALTED since ",
                    absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixNanos(r.trading().since_ns()),
                                     absl::UTCTimeZone()),
                    " (sequence ", r.trading().sequence(), "): ", r.trading().reason(),
                    "; no child order is sent (exoroutectl resume)\n");
  }
  for (const SymbolTrading& st : r.symbol_trading()) {
    if (!st.trading().halted()) continue;
    absl::StrAppend(&s, "trading     ", st.symbol(), " HALTED since ",
                    absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixNanos(st.trading().since_ns()),
                                     absl::UTCTimeZone()),
                    " (sequence ", st.trading().sequence(), "): ", st.trading().reason(),
                    "; no child order of it is sent (exoroutectl resume --symbol ", st.symbol(), ")\n");
  }
  const char* how = r.started_from_checkpoint() ? "after its checkpoint"
                    : r.start_deltas_read() == 0  ? "a new chain"
                                                  : "the whole chain: no usable checkpoint";
  absl::StrAppend(&s, "start-up    ", Counted(r.start_deltas_read(), "delta", "deltas"), " read at start (", how,
                  "); last checkpoint at sequence ", r.checkpoint_sequence(), "\n");
  if (r.has_config()) {
    const ConfigStatus& c = r.config();
    absl::StrAppend(&s, "config      ", c.path().empty() ? "embedded default" : c.path(), "  sha256 ",
                    ToHex(c.digest()).substr(0, 16), "…");
    if (c.reloads_applied() > 0) {
      absl::StrAppend(&s, ", ", Counted(c.reloads_applied(), "reload", "reloads"),
                      " applied (last ",
                      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixNanos(c.last_applied_ns()),
                                       absl::UTCTimeZone()),
                      ")");
    }
    absl::StrAppend(&s, "\n");
    if (!c.last_refused().empty()) {
      absl::StrAppend(&s, "WARNING     the last config reload was refused, the config before it is in force: ",
                      c.last_refused(), "\n");
    }
  }
  if (r.access_enforced()) {  // Who this client is to the node, and what it may do there.
    absl::StrAppend(&s, "access      by client certificate (config access): you are \"", r.caller(), "\", ",
                    absl::StrJoin(r.caller_roles(), ", "), "\n");
  }
  for (const CertificateStatus& c : r.certificates()) {
    absl::StrAppend(&s, "tls ", absl::StrFormat("%-7s ", c.port()), "certificate valid until ",
                    absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(c.not_after_s()), absl::UTCTimeZone()));
    if (c.reloads() > 0) absl::StrAppend(&s, " (", c.reloads(), " new sets read since start)");
    absl::StrAppend(&s, "\n");
    constexpr int64_t kDay = 86400;
    if (now_s > 0 && c.not_after_s() <= now_s) {
      absl::StrAppend(&s, "WARNING     the ", c.port(), " port's certificate has EXPIRED: new connections fail\n");
    } else if (now_s > 0 && c.not_after_s() - now_s < 14 * kDay) {
      absl::StrAppend(&s, "WARNING     the ", c.port(), " port's certificate expires in ",
                      (c.not_after_s() - now_s) / kDay, " days: install the next one (no restart needed)\n");
    }
    if (!c.refused().empty()) {
      absl::StrAppend(&s, "WARNING     the ", c.port(), " port's TLS files on disk are not served: ", c.refused(),
                      " (the last good set is)\n");
    }
  }
  if (r.open_watches() > 0 || r.open_replays() > 0 || r.streams_stalled() > 0) {
    absl::StrAppend(&s, "streams     ", Counted(r.open_watches(), "watch", "watches"), ", ",
                    Counted(r.open_replays(), "replay", "replays"), " open");
    if (r.streams_stalled() > 0) {
      absl::StrAppend(&s, "; ", r.streams_stalled(), " ended: their client read nothing (listen.stream_stall_ms)");
    }
    absl::StrAppend(&s, "\n");
  }
  if (r.disconnect_held() > 0 || r.disconnect_waiting() > 0 || r.disconnect_cancels() > 0) {
    absl::StrAppend(&s, "switches    ", Counted(r.disconnect_held(), "plan", "plans"), " held by a cancel-on-disconnect watch, ",
                    r.disconnect_waiting(), " waiting out their grace",
                    r.disconnect_cancels() > 0 ? absl::StrCat("; ", r.disconnect_cancels(), " cancelled on disconnect since start")
                                               : "",
                    "\n");
  }
  if (!r.store_write_failure().empty()) absl::StrAppend(&s, "WARNING     ", r.store_write_failure(), "\n");
  if (r.peer_calls_refused() > 0) {
    absl::StrAppend(&s, "WARNING     ", r.peer_calls_refused(),
                    " peer calls refused: a certificate named no configured peer (see the daemon log)\n");
  }
  if (r.rpcs_denied() > 0) {
    absl::StrAppend(&s, "WARNING     ", Counted(r.rpcs_denied(), "call", "calls"),
                    " refused by the access rules (config access); the last: ", r.last_rpc_denied(), "\n");
  }
  if (r.cluster_routes_refused() > 0) {
    absl::StrAppend(&s, "WARNING     ", r.cluster_routes_refused(),
                    " cluster routes refused: 1024 were open on this node at once (a coordinator that opens "
                    "routes and does not close them? see the daemon log)\n");
  }
  if (r.duplicate_executions() > 0) {
    absl::StrAppend(&s, "executions  ", r.duplicate_executions(),
                    " fill reports arrived twice (venue resends) and were recorded once\n");
  }
  if (r.overfills() > 0) {
    absl::StrAppend(&s, "WARNING     ", Counted(r.overfills(), "fill", "fills"),
                    " took a child beyond its quantity: recorded as reported (see the daemon log)\n");
  }
  if (r.late_fills() > 0) {
    absl::StrAppend(&s, "WARNING     ", Counted(r.late_fills(), "fill", "fills"),
                    " came after their child's end: recorded as reported (see the daemon log)\n");
  }
  if (r.unknown_executions() > 0) {
    absl::StrAppend(&s, "WARNING     ", r.unknown_executions(),
                    " execution reports not applied: no open child order, unreadable, out of bounds, out of order, or "
                    "a trade the venue corrected or busted (see the daemon log)\n");
  }
  std::vector<std::string> inst;
  for (const auto& i : r.instruments()) {
    inst.push_back(absl::StrCat(i.symbol(), " (px ", i.price_scale(), "dp, qty ", i.qty_scale(), "dp)"));
  }
  absl::StrAppend(&s, "instruments ", absl::StrJoin(inst, ", "), "\n");
  for (const RiskStatus& risk : r.risk()) {
    const RiskLimit& l = risk.limit();
    const Instrument* ins = nullptr;
    for (const auto& i : r.instruments()) {
      if (i.symbol() == l.symbol()) ins = &i;
    }
    const Fmt f{ins};
    std::vector<std::string> parts;
    if (l.max_order_quantity() > 0) parts.push_back(absl::StrCat("order <= ", f.Qty(l.max_order_quantity())));
    if (l.max_order_notional() > 0) parts.push_back(absl::StrCat("notional <= ", f.Px(l.max_order_notional())));
    parts.push_back(l.max_working_quantity() > 0
                        ? absl::StrCat("working ", f.Qty(risk.working_quantity()), " of ", f.Qty(l.max_working_quantity()))
                        : absl::StrCat("working ", f.Qty(risk.working_quantity())));
    if (l.max_orders_per_second() > 0) {
      parts.push_back(absl::StrCat(risk.orders_last_second(), " of ", l.max_orders_per_second(),
                                   " executed orders in the last second"));
    }
    if (risk.refused() > 0) {
      // By the limit that refused them, in the config's order of the limits.
      std::vector<std::string> by;
      for (const char* field :
           {"max_order_quantity", "max_order_notional", "max_working_quantity", "max_orders_per_second"}) {
        if (auto n = risk.refused_by_limit().find(field); n != risk.refused_by_limit().end()) {
          by.push_back(absl::StrCat(n->second, " ", field));
        }
      }
      parts.push_back(absl::StrCat(Counted(risk.refused(), "order refused", "orders refused"),
                                   by.empty() ? "" : absl::StrCat(" (", absl::StrJoin(by, ", "), ")")));
    }
    absl::StrAppend(&s, "risk        ", l.symbol(), l.client().empty() ? "" : absl::StrCat(" from client ", l.client()),
                    ": ", absl::StrJoin(parts, ", "), "\n");
  }
  absl::StrAppend(&s, "\n");
  absl::StrAppend(&s, absl::StrFormat("  %-10s %-7s %-6s %-18s %10s %8s %8s %8s\n", "VENUE", "ADAPTER",
                                      "STATE", "SYMBOLS", "BOOK AGE", "FEE BPS", "SENT", "FILLS"));
  for (const auto& v : r.venues()) {
    std::string state = v.trading().halted() ? "HALTED" : AdapterState_Name(v.state()).substr(14);
    absl::StrAppend(&s, absl::StrFormat("  %-10s %-7s %-6s %-18s %10s %8.2f %8d %8d\n", v.venue(), v.adapter(),
                                        state, absl::StrJoin(v.symbols(), ","),
                                        v.book_age_ms() < 0 ? "-" : absl::StrCat(v.book_age_ms(), " ms"),
                                        v.fee_bps(), v.children_sent(), v.fills()));
    if (!v.detail().empty()) absl::StrAppend(&s, "  ", std::string(10, ' '), " ", v.detail(), "\n");
    const uint64_t done = v.children_filled() + v.children_partial() + v.children_unfilled() + v.children_rejected();
    if (done > 0) {
      absl::StrAppend(&s, "  ", std::string(10, ' '), " children done ", done, ": ", v.children_filled(), " filled, ",
                      v.children_partial(), " partly, ", v.children_unfilled(), " unfilled, ", v.children_rejected(),
                      " rejected",
                      v.child_mean_us() < 0 ? "" : absl::StrFormat("; %.1f ms from sending to done (mean)",
                                                                    static_cast<double>(v.child_mean_us()) / 1000),
                      "\n");
    }
    if (v.children_overdue() > 0) {
      absl::StrAppend(&s, "  ", std::string(10, ' '), " WARNING ",
                      Counted(v.children_overdue(), "child", "children"),
                      " left unanswered past routing.child_timeout_ms",
                      v.children_unanswered() > 0 ? absl::StrCat(", ", v.children_unanswered(), " still open") : "",
                      ": asked to cancel (the log names each; reconciled with the venue: plan settle)\n");
    }
    if (v.trading().halted()) {
      absl::StrAppend(&s, "  ", std::string(10, ' '), " HALTED since ",
                      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixNanos(v.trading().since_ns()),
                                       absl::UTCTimeZone()),
                      ": ", v.trading().reason(), " (adapter ", AdapterState_Name(v.state()).substr(14),
                      "; exoroutectl resume --venue ", v.venue(), ")\n");
    }
  }
  if (r.unanswered_children_total() > 0) {
    // The children an operator may have to reconcile with their venues and settle.
    absl::StrAppend(&s, "\n", absl::StrFormat("  %-24s %-10s %18s %18s  %s\n", "UNANSWERED CHILD", "VENUE",
                                              "QUANTITY", "FILLED", "SENT"));
    for (const UnansweredChild& u : r.unanswered_children()) {
      const Fmt f = FmtOf(r, u.symbol());
      absl::StrAppend(&s, absl::StrFormat("  %-24s %-10s %18s %18s  %s ago (plan %s)\n", u.order().cl_ord_id(),
                                          u.order().venue(), f.Qty(u.order().quantity()), f.Qty(u.filled_quantity()),
                                          Ago(now_s - u.sent_time_ns() / 1'000'000'000), u.plan_id()));
    }
    if (r.unanswered_children_total() > static_cast<uint32_t>(r.unanswered_children_size())) {
      absl::StrAppend(&s, "  … ", r.unanswered_children_total() - r.unanswered_children_size(),
                      " more (the oldest are listed)\n");
    }
    absl::StrAppend(&s, "  their venues answer neither them nor the node's cancels; once reconciled with the venue: "
                        "exoroutectl plan settle PLAN CHILD --filled Q [--price P] --reason TEXT\n");
  }
  if (!r.settlements_awaiting_approval().empty()) {
    // Four eyes (routing.settle_approvals 2): what a second operator is asked to approve.
    absl::StrAppend(&s, "\n", absl::StrFormat("  %-24s %-16s %18s %18s  %s\n", "SETTLEMENT TO APPROVE", "PLAN",
                                              "FILLED", "PRICE", "PROPOSED"));
    for (const SettleProposal& a : r.settlements_awaiting_approval()) {
      const Fmt f = FmtOf(r, a.symbol());
      absl::StrAppend(&s, absl::StrFormat("  %-24s %-16s %18s %18s  by %s %s ago: %s%s\n", a.cl_ord_id(), a.plan_id(),
                                          f.Qty(a.filled_quantity()), a.price() != 0 ? f.Px(a.price()) : "-",
                                          a.proposed_by(),
                                          Ago(std::max<int64_t>(0, now_s - a.proposed_time_ns() / 1'000'000'000)),
                                          a.reason(),
                                          a.fee() != 0 ? absl::StrCat(" (fee ", f.Px(a.fee()), ")") : ""));
    }
    absl::StrAppend(&s, "  another operator approves one with the same figures: exoroutectl plan settle PLAN CHILD "
                        "--filled Q [--price P [--fee F]] --reason TEXT\n");
  }
  for (const exoroute::v1::ShortfallWork& w : r.shortfalls_worked()) {
    uint32_t q = 0;
    for (const auto& i : r.instruments()) {
      if (i.symbol() == w.symbol()) q = i.qty_scale();
    }
    absl::StrAppend(&s, "shortfall   route ", w.route_id(), ": ", ShortfallWorkLine(w, q), "\n");
  }
  for (const exoroute::v1::CancelNotice& n : r.cancels_sent_again()) {
    absl::StrAppend(&s, "cancel      route ", n.route_id(), ": noted here (through ", n.via(), ", ",
                    Ago(std::max<int64_t>(0, now_s - n.noted_ns() / 1'000'000'000)),
                    " ago); sent again until the node that works it answers\n");
  }
  for (const exoroute::v1::TermsSentAgain& n : r.terms_sent_again()) {
    absl::StrAppend(&s, "terms       route ", n.route_id(), ": new terms noted here (through ", n.via(), ", amended ",
                    Ago(std::max<int64_t>(0, now_s - n.amended_ns() / 1'000'000'000)),
                    " ago); sent again until every node keeps them\n");
  }
  if (!r.peers().empty()) {
    // CONNECTION: this node's channel to the peer; STREAMS IN: the peer's coordinator's streams
    // open on this node.
    absl::StrAppend(&s, "\n", absl::StrFormat("  %-10s %-22s %-17s %8s %12s %10s\n", "PEER", "ADDRESS", "CONNECTION",
                                              "CALLS", "MEAN ANSWER", "STREAMS IN"));
    for (const auto& p : r.peers()) {
      absl::StrAppend(&s, absl::StrFormat("  %-10s %-22s %-17s %8d %12s %10d\n", p.node(), p.address(), p.connection(),
                                          p.calls(), p.calls() == 0 ? "-" : absl::StrCat(p.mean_answer_us(), " us"),
                                          p.exchanges_open()));
      if (!p.silent().empty()) absl::StrAppend(&s, "  ", std::string(10, ' '), " silent: ", p.silent(), "\n");
      if (!p.left_out_reason().empty()) {
        absl::StrAppend(&s, "  ", std::string(10, ' '), " left out of route ", p.left_out_route(), ": ",
                        p.left_out_reason(), "\n");
      }
      if (p.exchanges_replaced() > 0) {
        absl::StrAppend(&s, "  ", std::string(10, ' '), " ", p.exchanges_replaced(),
                        " of its streams ended when it opened a new one (it restarted or lost its connection)\n");
      }
    }
  }
  return s;
}

std::string RenderBudgets(const StatusResponse& r) {
  if (r.budgets().empty()) {
    return absl::StrCat("node ", r.node_id(), ": no privacy budget spent in the current window",
                        " (or cluster.privacy is not configured)\n");
  }
  std::string s = absl::StrFormat("%-24s %-22s %12s %12s %10s\n", "SIGNAL", "WINDOW START (UTC)",
                                  "SPENT EPS", "LIMIT EPS", "LEFT");
  for (const auto& b : r.budgets()) {
    absl::StrAppend(&s, absl::StrFormat(
        "%-24s %-22s %12.3f %12.3f %9.1f%%\n", b.signal(),
        absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(b.window_start_s()), absl::UTCTimeZone()),
        b.spent_milli() / 1000.0, b.limit_milli() / 1000.0,
        b.limit_milli() > 0 ? 100.0 * static_cast<double>(b.limit_milli() - b.spent_milli()) / static_cast<double>(b.limit_milli()) : 0.0));
  }
  return s;
}

std::string RenderContracts(const ListContractsResponse& r) {
  std::string s = absl::StrFormat("%-26s %-8s %-44s %s\n", "NODE", "KIND", "PRODUCES", "CONSUMES");
  for (const auto& n : r.nodes()) {
    absl::StrAppend(&s, absl::StrFormat("%-26s %-8s %-44s %s\n", n.id(), n.kind(),
                                        absl::StrJoin(n.produces(), ", "), absl::StrJoin(n.consumes(), ", ")));
  }
  absl::StrAppend(&s, "\n", r.edges_size(), " edges:\n");
  for (const auto& e : r.edges()) {
    absl::StrAppend(&s, "  ", e.producer(), " --", e.contract(), "--> ", e.consumer(), "\n");
  }
  return s;
}

std::string DeltaKindName(const PlanDelta& d) {
  switch (d.change_case()) {
    case PlanDelta::kCreated: return "created";
    case PlanDelta::kAllocated: return d.allocated().replan() ? "replanned" : "allocated";
    case PlanDelta::kChildSent: return "child_sent";
    case PlanDelta::kFill: return "fill";
    case PlanDelta::kChildDone: return "child_done";
    case PlanDelta::kCancelRequested: return "cancel_req";
    case PlanDelta::kFinished: return "finished";
    case PlanDelta::kPrivacyRefused: return "privacy_refused";
    case PlanDelta::kGovernance: return "governance";
    case PlanDelta::kAmended: return "amended";
    case PlanDelta::kDisconnectArmed: return "armed";
    case PlanDelta::CHANGE_NOT_SET: break;
  }
  return "?";
}

std::string RenderDeltaLine(const PlanDelta& d, const InstrumentLookup& lookup) {
  const Instrument* inst = d.has_created() ? &d.created().instrument() : lookup(d.plan_id());
  Fmt f{inst};
  std::string detail;
  switch (d.change_case()) {
    case PlanDelta::kCreated: {
      const ParentOrder& o = d.created().order();
      detail = absl::StrCat(Side(o.side()), " ", f.Qty(o.quantity()), " ", o.symbol(),
                            o.has_limit_price() ? absl::StrCat(" limit ", f.Px(o.limit_price())) : "",
                            " ", d.created().mode() == ROUTE_MODE_EXECUTE ? "EXECUTE" : "PLAN_ONLY",
                            o.urgency() != URGENCY_UNSPECIFIED ? absl::StrCat(" urgency ", UrgencyWord(o.urgency())) : "",
                            o.arrival_band_bps() > 0 ? absl::StrCat(" arrival band ", o.arrival_band_bps(), " bp") : "",
                            d.created().routed_by().empty() ? "" : absl::StrCat(" by client ", d.created().routed_by()));
      break;
    }
    case PlanDelta::kAllocated: {
      std::vector<std::string> parts;
      for (const auto& a : d.allocated().allocations()) {
        parts.push_back(absl::StrCat(a.venue(), "=", f.Qty(a.quantity())));
      }
      detail = absl::StrCat(parts.empty() ? "(no change)" : absl::StrJoin(parts, " "), "  rounds ",
                            d.allocated().stats().rounds(),
                            d.allocated().shortfall() ? absl::StrCat("  shortfall ", f.Qty(d.allocated().shortfall())) : "",
                            d.allocated().stats().price_band_limit() != 0
                                ? absl::StrCat("  band limit ", f.Px(d.allocated().stats().price_band_limit()))
                                : "",
                            d.allocated().stats().arrival_limit() != 0
                                ? absl::StrCat("  arrival limit ", f.Px(d.allocated().stats().arrival_limit()))
                                : "");
      break;
    }
    case PlanDelta::kChildSent:
      detail = absl::StrCat(d.child_sent().cl_ord_id(), " ", d.child_sent().venue(), " ",
                            f.Qty(d.child_sent().quantity()), " @<= ", f.Px(d.child_sent().limit_price()));
      break;
    case PlanDelta::kFill:
      detail = absl::StrCat(d.fill().cl_ord_id(), " ", d.fill().venue(), " ", f.Qty(d.fill().quantity()), " @ ",
                            f.Px(d.fill().price()), " fee ", f.Px(d.fill().fee()));
      break;
    case PlanDelta::kChildDone:
      detail = absl::StrCat(d.child_done().cl_ord_id(), " ", d.child_done().reason(),
                            d.child_done().canceled_quantity()
                                ? absl::StrCat(" (", f.Qty(d.child_done().canceled_quantity()), " unfilled)")
                                : "");
      break;
    case PlanDelta::kCancelRequested:
      detail = d.cancel_requested().reason();
      break;
    case PlanDelta::kAmended: {
      const PlanAmended& a = d.amended();
      detail = absl::StrCat("quantity ", f.Qty(a.quantity()),
                            a.has_limit_price() ? absl::StrCat(" limit ", f.Px(a.limit_price())) : "",
                            a.limit_removed() ? " market (limit removed)" : "",
                            a.urgency() != URGENCY_UNSPECIFIED ? absl::StrCat(" urgency ", UrgencyWord(a.urgency())) : "",
                            a.reason().empty() ? "" : absl::StrCat(": ", a.reason()));
      break;
    }
    case PlanDelta::kDisconnectArmed:
      detail = absl::StrCat("cancel on disconnect, grace ", d.disconnect_armed().grace_ms(), " ms");
      break;
    case PlanDelta::kFinished:
      detail = absl::StrCat(ShortStatus(d.finished().status()), ": ", d.finished().reason());
      break;
    case PlanDelta::kPrivacyRefused: {
      const PrivacyRefused& p = d.privacy_refused();
      detail = absl::StrCat(p.signal(), " budget spent (", p.spent_milli() / 1000.0, " of ",
                            p.limit_milli() / 1000.0, " eps): release for route ", p.route_id(), " refused");
      break;
    }
    case PlanDelta::kGovernance: {
      const GovernanceEvent& g = d.governance();
      // (A trading event's digest is its state, "halted" or "active": shown as such.)
      detail = g.kind() == GOVERNANCE_KIND_TRADING
                   ? absl::StrCat(g.subject(), " ", g.digest(), ": ", g.detail())
                   : absl::StrCat(g.subject(), " ", ToHex(g.digest()).substr(0, 16), "…: ", g.detail());
      break;
    }
    case PlanDelta::CHANGE_NOT_SET:
      break;
  }
  return absl::StrFormat("%8d  %-16s %4d  %-10s %s", d.sequence(), d.plan_id(), d.plan_version(),
                         DeltaKindName(d), detail);
}

namespace {

// The work on a cluster route's shortfall (docs/cluster.md, "Working a shortfall"), one line.
std::string ShortfallWorkLine(const exoroute::v1::ShortfallWork& w, uint32_t qty_scale) {
  using exoroute::v1::ShortfallWork;
  const std::string subs = Counted(w.sub_routes(), "sub-route", "sub-routes");
  switch (w.state()) {
    case ShortfallWork::STATE_OPEN:
      return absl::StrCat(FormatDecimal(w.shortfall(), qty_scale), " still to route: ", w.coordinator(),
                          " routes it again until placed, cancelled or expired (", subs, " so far",
                          w.last_error().empty() ? "" : absl::StrCat("; last try: ", w.last_error()), ")");
    case ShortfallWork::STATE_DONE:
      return w.sub_routes() == 0 ? "none: the nodes' shares hold the whole order"
                                 : absl::StrCat("routed whole: ", subs, " placed what the route itself did not");
    case ShortfallWork::STATE_CANCELLED:
      return absl::StrCat(FormatDecimal(w.shortfall(), qty_scale), " no longer routed: the route was cancelled (", subs,
                          " placed before)");
    case ShortfallWork::STATE_EXPIRED:
      return absl::StrCat(FormatDecimal(w.shortfall(), qty_scale), " no longer routed: the GTT deadline passed (", subs,
                          " placed before)");
    default:
      return "shortfall work in an unknown state";
  }
}

}  // namespace

// A cluster route: per node only its total (its venues' allocations stay on that node).
std::string RenderRouteProgress(const exoroute::v1::GetRouteResponse& r, const Instrument& inst) {
  const uint32_t q = inst.qty_scale();
  const Fmt f{&inst};
  std::string out = absl::StrCat("route     ", r.settled() ? "settled" : "in progress", ", filled ",
                                 FormatDecimal(r.filled_quantity(), q), " of ", FormatDecimal(r.quantity(), q),
                                 r.order_quantity() > r.quantity() ? " routed" : "");
  // The whole route's price, over every node (only when every node told what its fills cost).
  if (r.average_price() > 0) absl::StrAppend(&out, "  avg ", f.Px(r.average_price()), "  fees ", f.Px(r.fees()));
  out += "\n";
  // What no node took at the route: worked (a GTC or GTT order, executed), or reported.
  if (!r.cancel_noticed_on().empty() && r.shortfall_work().state() != exoroute::v1::ShortfallWork::STATE_CANCELLED) {
    absl::StrAppend(&out, "cancel    noted on ", absl::StrJoin(r.cancel_noticed_on(), ", "),
                    " while a node could not be asked: that node ends its work on the route when it is back\n");
  }
  if (r.has_shortfall_work()) {
    absl::StrAppend(&out, "shortfall ", ShortfallWorkLine(r.shortfall_work(), q), "\n");
  } else if (r.shortfall() > 0) {
    absl::StrAppend(&out, "order     ", FormatDecimal(r.order_quantity(), q), ": ", FormatDecimal(r.shortfall(), q),
                    " not routed (no node took it; route it again)\n");
  }
  out += "\n";
  absl::StrAppend(&out, absl::StrFormat("  %-10s %-11s %18s %18s %14s %12s\n", "NODE", "STATUS", "SHARE", "FILLED",
                                        "AVG PRICE", "FEES"));
  if (r.nodes().empty()) out += "  (no node holds a share of it yet)\n";
  for (const exoroute::v1::NodeProgress& n : r.nodes()) {
    if (!n.error().empty()) {
      absl::StrAppend(&out, absl::StrFormat("  %-10s not answered: %s\n", n.node(), n.error()));
      continue;
    }
    const bool priced = n.average_price() > 0;  // (Nothing filled, or a node of an older release.)
    absl::StrAppend(&out, absl::StrFormat("  %-10s %-11s %18s %18s %14s %12s\n", n.node(), ShortStatus(n.status()),
                                          FormatDecimal(n.quantity(), q), FormatDecimal(n.filled_quantity(), q),
                                          priced ? f.Px(n.average_price()) : "-", priced ? f.Px(n.fees()) : "-"));
  }
  return out;
}

std::string RenderNodeCancels(const exoroute::v1::CancelPlanResponse& r) {
  std::string out;
  for (const exoroute::v1::NodeCancel& n : r.nodes()) {
    absl::StrAppend(&out, "  node ", n.node(), "  ",
                    n.error().empty() ? ShortStatus(n.status()) : absl::StrCat("not cancelled: ", n.error()), "\n");
  }
  if (r.nodes().empty()) out += "  (no node held a share of it)\n";
  if (r.shortfall_work().state() == exoroute::v1::ShortfallWork::STATE_CANCELLED) {
    absl::StrAppend(&out, "  shortfall no longer routed (", r.shortfall_work().coordinator(), " worked it; ",
                    r.shortfall_work().sub_routes(), " sub-route(s), cancelled with the route)\n");
  }
  if (!r.noticed_on().empty()) {
    absl::StrAppend(&out, "  notice    kept on ", absl::StrJoin(r.noticed_on(), ", "),
                    ": a node not asked ends its work on the route, if it has any, when it is back\n");
  }
  if (!r.notice_warning().empty()) absl::StrAppend(&out, "  WARNING   ", r.notice_warning(), "\n");
  return out;
}

std::string RenderNodeAmends(const exoroute::v1::AmendPlanResponse& r, uint32_t qty_scale) {
  std::string out;
  for (const exoroute::v1::NodeAmend& n : r.nodes()) {
    absl::StrAppend(&out, "  node ", n.node(), "  ",
                    !n.error().empty() ? absl::StrCat("not amended: ", n.error())
                    : n.changed()      ? absl::StrCat("amended (", ShortStatus(n.status()), ")")
                                       : absl::StrCat("had these terms (", ShortStatus(n.status()), ")"),
                    "\n");
  }
  const exoroute::v1::ShortfallWork& w = r.shortfall_work();
  if (w.order_quantity() > 0) {  // (0: work recorded before a route's quantity could change.)
    absl::StrAppend(&out, "  quantity  ", FormatDecimal(w.order_quantity(), qty_scale), " in all: ",
                    FormatDecimal(w.order_quantity() - w.shortfall(), qty_scale), " held by the nodes' shares, ",
                    FormatDecimal(w.shortfall(), qty_scale), " left to route\n");
  }
  if (r.has_shortfall_work() && w.state() == exoroute::v1::ShortfallWork::STATE_OPEN) {
    absl::StrAppend(&out, "  shortfall: ", w.coordinator(), " routes what is left with the route's terms from now\n");
  }
  if (!r.noticed_on().empty()) {
    absl::StrAppend(&out, "  notice    kept on ", absl::StrJoin(r.noticed_on(), ", "),
                    ": a node not asked takes the terms for its work on the route, if it has any, when it is back\n");
  }
  if (!r.notice_warning().empty()) absl::StrAppend(&out, "  WARNING   ", r.notice_warning(), "\n");
  return out;
}

std::string RenderClusterRoute(const ClusterRouteSummary& r, const Instrument& inst) {
  const uint32_t qty_scale = inst.qty_scale();
  // A route no venue could take has no marginal price to show.
  const bool none_taken = std::all_of(r.shares().begin(), r.shares().end(),
                                      [](const NodeShare& s) { return s.quantity() == 0; });
  std::string out = absl::StrCat(
      "cluster route ", r.route().route_id(), " coordinated by ", r.route().coordinator(), ": ",
      none_taken ? "no venue of any node takes any of it"
                 : absl::StrCat(Counted(r.route().rounds(), "round", "rounds"), ", marginal price ",
                                FormatDecimal(std::llround(std::fabs(r.lambda())), inst.price_scale())),
      r.route().band_limit() != 0 ? absl::StrCat(", band ", r.route().band_bps(), " bp: limit ",
                                                 FormatDecimal(r.route().band_limit(), inst.price_scale()))
                                  : "",
      r.route().arrival_limit() != 0
          ? absl::StrCat(", arrival limit ", FormatDecimal(r.route().arrival_limit(), inst.price_scale()))
          : "",
      "\n");
  for (const NodeShare& s : r.shares()) {
    // A node left out with nothing (a halted one answers, and takes no share) is on its own line below.
    const bool left_out = std::any_of(r.route().dropped().begin(), r.route().dropped().end(),
                                      [&s](const NodeDropped& d) { return d.node() == s.node(); });
    if (left_out && s.quantity() == 0) continue;
    absl::StrAppend(&out, "  node ", s.node(), "  ", FormatDecimal(s.quantity(), qty_scale),
                    s.plan_id().empty() ? "" : absl::StrCat("  plan ", s.plan_id()), "\n");
  }
  for (const NodeDropped& d : r.route().dropped()) {
    absl::StrAppend(&out, "  node ", d.node(), "  dropped: ", d.reason(), "\n");
  }
  for (const VenueExclusion& v : r.route().venues_dropped()) {
    absl::StrAppend(&out, "  venue ", v.venue(), "  left out: ", v.reason(), "\n");
  }
  if (r.shortfall() != 0) {
    absl::StrAppend(&out, "  shortfall ", FormatDecimal(r.shortfall(), qty_scale),
                    r.shortfall_worked() ? " (routed again until placed, cancelled or expired: route-status follows it)\n"
                                         : " (no node works it; route it again)\n");
  }
  return out;
}

}  // namespace exo::ctl
