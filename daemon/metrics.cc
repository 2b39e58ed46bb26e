#include "daemon/metrics.h"

#include <charconv>
#include <cmath>
#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"

namespace exo::daemon {
namespace {

using exoroute::v1::Instrument;
using exoroute::v1::StatusResponse;
using exoroute::v1::SymbolTrading;
using exoroute::v1::VenueStatus;

// One metric family: HELP and TYPE once, then its samples.
class Family {
 public:
  Family(std::string* out, absl::string_view name, absl::string_view type, absl::string_view help)
      : out_(out), name_(name) {
    absl::StrAppend(out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  // `labels` is already rendered: `venue="a"` (empty: none).
  void Sample(const std::string& labels, const std::string& value) {
    absl::StrAppend(out_, name_, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}", " ",
                    value, "\n");
  }

 private:
  std::string* out_;
  absl::string_view name_;
};

// Counts exactly (a double would round past 2^53, and StrCat's doubles keep six digits).
std::string Int(uint64_t v) { return absl::StrCat(v); }

// A count of thousandths (milliseconds as seconds, ε × 1000 as ε) as an exact decimal.
std::string Milli(int64_t ms) {
  const char* sign = ms < 0 ? "-" : "";
  const uint64_t m = ms < 0 ? static_cast<uint64_t>(-ms) : static_cast<uint64_t>(ms);
  return absl::StrCat(sign, m / 1000, ".", absl::Dec(m % 1000, absl::kZeroPad3));
}

// Nanoseconds as exact decimal seconds, trailing zeros dropped ("0.0000025", "1").
std::string Nanos(int64_t ns) {
  std::string frac = absl::StrCat(absl::Dec(ns % 1'000'000'000, absl::kZeroPad9));
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return absl::StrCat(ns / 1'000'000'000, frac.empty() ? "" : ".", frac);
}

// The shortest text that reads back as the same double.
std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

std::string Label(absl::string_view name, const std::string& value) {
  return absl::StrCat(name, "=\"", EscapeLabelValue(value), "\"");
}

std::string StateName(exoroute::v1::AdapterState s) {
  switch (s) {
    case exoroute::v1::ADAPTER_STATE_STARTING: return "starting";
    case exoroute::v1::ADAPTER_STATE_UP: return "up";
    case exoroute::v1::ADAPTER_STATE_DOWN: return "down";
    default: return "unknown";
  }
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderPrometheus(const StatusResponse& s, const std::vector<HistogramMetric>& histograms) {
  std::string out;
  Family(&out, "exoroute_build_info", "gauge", "Always 1; the node id and exorouted version as labels.")
      .Sample(absl::StrCat(Label("node", s.node_id()), ",", Label("version", s.version())), "1");
  Family(&out, "exoroute_uptime_seconds", "gauge", "Seconds since exorouted started.")
      .Sample("", Milli(s.uptime_ms()));
  Family(&out, "exoroute_clock_ahead_seconds", "gauge",
         "How far the node's clock reads ahead of the system clock: not 0 after the system clock stepped back "
         "(the node's clock does not go back; it runs 5 % slow until they agree).")
      .Sample("", Milli(s.clock_ahead_ms()));
  if (s.has_process()) {  // Prometheus's standard process metrics, under their usual names.
    const auto& p = s.process();
    Family(&out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
        .Sample("", Int(p.resident_bytes()));
    Family(&out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.")
        .Sample("", Int(p.virtual_bytes()));
    Family(&out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
        .Sample("", Milli(static_cast<int64_t>(p.cpu_ms())));
    Family(&out, "process_open_fds", "gauge", "Number of open file descriptors.").Sample("", Int(p.open_fds()));
    if (p.max_fds() > 0) {
      Family(&out, "process_max_fds", "gauge", "Maximum number of open file descriptors.").Sample("", Int(p.max_fds()));
    }
    Family(&out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
        .Sample("", absl::StrCat(p.start_time_s()));
  }
  Family(&out, "exoroute_plans_total", "counter", "Parent orders this node has planned (all time, from its store).")
      .Sample("", Int(s.plans_total()));
  Family(&out, "exoroute_plans_working", "gauge", "Plans not yet settled (children working or to be re-planned).")
      .Sample("", Int(s.plans_working()));
  Family(&out, "exoroute_plans_in_memory", "gauge",
         "Plans held in memory: working ones, and settled ones read back from the store since the last sweep.")
      .Sample("", Int(s.plans_in_memory()));
  Family(&out, "exoroute_chain_head_sequence", "gauge", "Sequence number of the last delta in the audit chain.")
      .Sample("", Int(s.chain_head().sequence()));
  Family(&out, "exoroute_checkpoint_sequence", "gauge",
         "Chain head at the last start-up checkpoint (a start after a crash reads the chain after it).")
      .Sample("", Int(s.checkpoint_sequence()));
  Family(&out, "exoroute_start_deltas_read", "gauge",
         "Chain deltas this process's start read (after its checkpoint, or the whole chain without one).")
      .Sample("", Int(s.start_deltas_read()));
  Family(&out, "exoroute_store_size_bytes", "gauge", "RocksDB SST files and WAL on disk.")
      .Sample("", Int(s.store_size_bytes()));
  if (s.has_store()) {
    const exoroute::v1::StoreStatus& st = s.store();
    Family(&out, "exoroute_store_table_bytes", "gauge", "RocksDB table (SST) files on disk.").Sample("", Int(st.table_bytes()));
    Family(&out, "exoroute_store_log_bytes", "gauge",
           "RocksDB write-ahead logs on disk (a start after a crash replays them).")
        .Sample("", Int(st.log_bytes()));
    Family(&out, "exoroute_store_log_limit_bytes", "gauge",
           "store.max_wal_mib: beyond it RocksDB flushes whatever pins the oldest log.")
        .Sample("", Int(st.log_limit_bytes()));
    Family(&out, "exoroute_store_memtable_bytes", "gauge", "RocksDB memtables in memory, all column families.")
        .Sample("", Int(st.memtable_bytes()));
    Family(&out, "exoroute_store_memtable_limit_bytes", "gauge", "store.memtable_mib: all memtables together.")
        .Sample("", Int(st.memtable_limit_bytes()));
  }
  if (s.has_config()) {
    Family reloads(&out, "exoroute_config_reloads_total", "counter",
                   "Config reloads (AdminService.ReloadConfig, SIGHUP) since start: applied, or refused (nothing applied).");
    reloads.Sample(Label("result", "applied"), Int(s.config().reloads_applied()));
    reloads.Sample(Label("result", "refused"), Int(s.config().reloads_refused()));
    Family(&out, "exoroute_config_reload_refused", "gauge",
           "1 while the last config reload was refused (the file on disk is not the config in force).")
        .Sample("", s.config().last_refused().empty() ? "0" : "1");
  }
  if (s.risk_size() > 0) {
    // An entry's labels: its instrument, and its client for a client's own limits.
    auto entry = [](const exoroute::v1::RiskStatus& r) {
      return r.limit().client().empty() ? Label("symbol", r.limit().symbol())
                                        : absl::StrCat(Label("symbol", r.limit().symbol()), ",",
                                                       Label("client", r.limit().client()));
    };
    // A gauge with one sample per entry.
    auto per_symbol = [&](const char* name, const char* help, auto value) {
      Family f(&out, name, "gauge", help);
      for (const auto& r : s.risk()) f.Sample(entry(r), Int(value(r)));
    };
    per_symbol("exoroute_risk_working_quantity",
               "What the node's executed plans of the instrument may still fill, both sides (quantity units).",
               [](const exoroute::v1::RiskStatus& r) { return r.working_quantity(); });
    Family limit(&out, "exoroute_risk_max_working_quantity", "gauge",
                 "risk[].max_working_quantity (quantity units; absent: no such limit).");
    for (const auto& r : s.risk()) {
      if (r.limit().max_working_quantity() > 0) limit.Sample(entry(r), Int(r.limit().max_working_quantity()));
    }
    per_symbol("exoroute_risk_orders_last_second",
               "Executed orders of the instrument admitted in the last second (risk[].max_orders_per_second counts them).",
               [](const exoroute::v1::RiskStatus& r) { return r.orders_last_second(); });
    Family refused(&out, "exoroute_risk_refused_total", "counter",
                   "Orders refused by the instrument's risk limits, by the limit (risk[] field) that refused them.");
    for (const auto& r : s.risk()) {
      // Every limit the instrument has, from 0: a first refusal is an increase.
      const std::pair<const char*, bool> limits[] = {{"max_order_quantity", r.limit().max_order_quantity() > 0},
                                                     {"max_order_notional", r.limit().max_order_notional() > 0},
                                                     {"max_working_quantity", r.limit().max_working_quantity() > 0},
                                                     {"max_orders_per_second", r.limit().max_orders_per_second() > 0}};
      for (const auto& [field, set] : limits) {
        auto n = r.refused_by_limit().find(field);
        if (!set && n == r.refused_by_limit().end()) continue;
        refused.Sample(absl::StrCat(entry(r), ",", Label("limit", field)),
                       Int(n == r.refused_by_limit().end() ? 0 : n->second));
      }
    }
  }
  Family(&out, "exoroute_store_writable", "gauge",
         "0 after a failed store write: nothing new is recorded or routed until exorouted restarts (Status says why).")
      .Sample("", s.store_write_failure().empty() ? "1" : "0");
  Family(&out, "exoroute_trading_halted", "gauge",
         "1 while an operator has halted trading on the node (exoroutectl halt): no child order is sent.")
      .Sample("", s.trading().halted() ? "1" : "0");
  {
    // Every instrument of the node, 1 for those halted alone.
    Family f(&out, "exoroute_symbol_halted", "gauge",
             "1 while an operator has halted trading in the symbol (exoroutectl halt --symbol): its orders send no child.");
    for (const Instrument& i : s.instruments()) {
      bool halted = false;
      for (const SymbolTrading& t : s.symbol_trading()) halted |= t.symbol() == i.symbol() && t.trading().halted();
      f.Sample(Label("symbol", i.symbol()), halted ? "1" : "0");
    }
  }
  Family(&out, "exoroute_unknown_executions_total", "counter",
         "Execution reports not applied: for no open child order, unreadable, beyond the bounds, out of order, or a "
         "trade the venue corrected or busted (logged; non-zero needs a look).")
      .Sample("", Int(s.unknown_executions()));
  Family(&out, "exoroute_duplicate_executions_total", "counter",
         "Fill reports received again (same child and execution id) and recorded once.")
      .Sample("", Int(s.duplicate_executions()));
  Family(&out, "exoroute_overfills_total", "counter",
         "Fills that took a child beyond its quantity (recorded as reported, logged; non-zero needs a look).")
      .Sample("", Int(s.overfills()));
  Family(&out, "exoroute_late_fills_total", "counter",
         "Fills a venue reported after the child's end (recorded as reported, logged; non-zero needs a look).")
      .Sample("", Int(s.late_fills()));
  Family streams(&out, "exoroute_streams_open", "gauge",
                 "Server streams open now (limits listen.max_watches and listen.max_replays).");
  streams.Sample(Label("kind", "watch"), Int(s.open_watches()));
  streams.Sample(Label("kind", "replay"), Int(s.open_replays()));
  Family switches(&out, "exoroute_disconnect_switches", "gauge",
                  "Plans armed to cancel on disconnect (WatchPlan cancel_on_disconnect): held by a watch now, or "
                  "waiting out their grace before they are cancelled.");
  switches.Sample(Label("state", "held"), Int(s.disconnect_held()));
  switches.Sample(Label("state", "waiting"), Int(s.disconnect_waiting()));
  Family(&out, "exoroute_disconnect_cancels_total", "counter",
         "Plans cancelled because no cancel_on_disconnect watch came back within their grace (each logged).")
      .Sample("", Int(s.disconnect_cancels()));
  Family(&out, "exoroute_streams_stalled_total", "counter",
         "Streams cancelled because their client read nothing for listen.stream_stall_ms.")
      .Sample("", Int(s.streams_stalled()));
  if (!s.certificates().empty()) {
    Family expiry(&out, "exoroute_tls_cert_expiry_timestamp_seconds", "gauge",
                  "End of validity of the TLS certificate a port serves (Unix seconds).");
    for (const auto& c : s.certificates()) expiry.Sample(Label("port", c.port()), Int(c.not_after_s()));
    Family reloads(&out, "exoroute_tls_reloads_total", "counter",
                   "TLS certificate sets read again from disk and served to new connections since start.");
    for (const auto& c : s.certificates()) reloads.Sample(Label("port", c.port()), Int(c.reloads()));
    Family refused(&out, "exoroute_tls_files_refused", "gauge",
                   "1 while a port's TLS files on disk are refused (Status says why) and its last good set is served.");
    for (const auto& c : s.certificates()) refused.Sample(Label("port", c.port()), c.refused().empty() ? "0" : "1");
  }
  Family(&out, "exoroute_peer_calls_refused_total", "counter",
         "Cluster peer calls refused for a certificate naming no configured peer.")
      .Sample("", Int(s.peer_calls_refused()));
  Family(&out, "exoroute_settlements_awaiting_approval", "gauge",
         "Settlements one operator proposed that await another's approval (routing.settle_approvals 2).")
      .Sample("", Int(static_cast<uint64_t>(s.settlements_awaiting_approval_size())));
  Family(&out, "exoroute_rpcs_denied_total", "counter",
         "API calls refused because the config's access section did not let their client call that RPC.")
      .Sample("", Int(s.rpcs_denied()));
  Family(&out, "exoroute_cluster_shortfalls_worked", "gauge",
         "Cluster routes whose shortfall this node routes again until placed, cancelled or expired.")
      .Sample("", Int(static_cast<uint64_t>(s.shortfalls_worked_size())));
  Family(&out, "exoroute_cluster_cancels_sent_again", "gauge",
         "Cancels this node keeps a notice of and sends again until the node that works the route answers.")
      .Sample("", Int(static_cast<uint64_t>(s.cancels_sent_again_size())));
  Family(&out, "exoroute_cluster_terms_sent_again", "gauge",
         "Notices of a route's new terms this node keeps and sends again until every node keeps them.")
      .Sample("", Int(static_cast<uint64_t>(s.terms_sent_again_size())));
  Family(&out, "exoroute_cluster_routes_refused_total", "counter",
         "Cluster routes this node refused because it kept the most open at once (1024).")
      .Sample("", Int(s.cluster_routes_refused()));
  if (!s.peers().empty()) {
    Family open(&out, "exoroute_peer_streams_open", "gauge",
                "A peer's coordinator's Exchange streams open on this node's peer port (1 while connected).");
    for (const auto& p : s.peers()) open.Sample(Label("peer", p.node()), Int(p.exchanges_open()));
    Family replaced(&out, "exoroute_peer_streams_replaced_total", "counter",
                    "A peer's streams ended because it opened a new one (it restarted or lost its connection).");
    for (const auto& p : s.peers()) replaced.Sample(Label("peer", p.node()), Int(p.exchanges_replaced()));
    Family silent(&out, "exoroute_peer_silent", "gauge",
                  "1 while this node holds a peer silent: it missed a call's deadline and has not answered a check "
                  "since, so routes leave it out at once.");
    for (const auto& p : s.peers()) silent.Sample(Label("peer", p.node()), p.silent().empty() ? "0" : "1");
  }

  // Per venue: one family at a time, every venue in it (the format wants a family's samples
  // together).
  auto venue = [](const VenueStatus& v) { return Label("venue", v.venue()); };
  {
    Family f(&out, "exoroute_venue_up", "gauge", "1 if the venue's adapter is up (connected, book live), else 0.");
    for (const VenueStatus& v : s.venues()) {
      f.Sample(absl::StrCat(venue(v), ",", Label("adapter", v.adapter()), ",", Label("state", StateName(v.state()))),
               v.state() == exoroute::v1::ADAPTER_STATE_UP ? "1" : "0");
    }
  }
  {
    Family f(&out, "exoroute_venue_book_age_seconds", "gauge",
             "Age of the venue's freshest book (absent until a first book arrives).");
    for (const VenueStatus& v : s.venues()) {
      if (v.book_age_ms() >= 0) f.Sample(venue(v), Milli(v.book_age_ms()));
    }
  }
  {
    Family f(&out, "exoroute_venue_book_sequence", "gauge", "Sequence number of the venue's freshest book.");
    for (const VenueStatus& v : s.venues()) f.Sample(venue(v), Int(v.book_sequence()));
  }
  {
    Family f(&out, "exoroute_venue_halted", "gauge",
             "1 while an operator has halted trading at the venue (exoroutectl halt --venue): executed plans decide without it.");
    for (const VenueStatus& v : s.venues()) f.Sample(venue(v), v.trading().halted() ? "1" : "0");
  }
  {
    Family f(&out, "exoroute_venue_children_sent_total", "counter", "Child orders sent to the venue.");
    for (const VenueStatus& v : s.venues()) f.Sample(venue(v), Int(v.children_sent()));
  }
  {
    Family f(&out, "exoroute_venue_fills_total", "counter", "Fills received from the venue.");
    for (const VenueStatus& v : s.venues()) f.Sample(venue(v), Int(v.fills()));
  }
  {
    Family f(&out, "exoroute_venue_children_done_total", "counter",
             "The node's children at the venue by how they ended, each at its last report: filled whole, partial "
             "(the rest cancelled or expired), unfilled, rejected (by the venue or on the wire).");
    for (const VenueStatus& v : s.venues()) {
      const std::pair<const char*, uint64_t> outcomes[] = {{"filled", v.children_filled()},
                                                           {"partial", v.children_partial()},
                                                           {"unfilled", v.children_unfilled()},
                                                           {"rejected", v.children_rejected()}};
      for (const auto& [name, n] : outcomes) f.Sample(absl::StrCat(venue(v), ",", Label("outcome", name)), Int(n));
    }
  }
  {
    Family f(&out, "exoroute_venue_children_overdue_total", "counter",
             "The node's children the venue left without a last report for routing.child_timeout_ms; the node "
             "asked it to cancel each.");
    for (const VenueStatus& v : s.venues()) f.Sample(venue(v), Int(v.children_overdue()));
  }
  {
    Family f(&out, "exoroute_venue_children_unanswered", "gauge",
             "The node's open children the venue leaves unanswered now, past routing.child_timeout_ms: their "
             "quantity stays reserved until it answers or an operator settles them (exoroutectl plan settle).");
    for (const VenueStatus& v : s.venues()) f.Sample(venue(v), Int(v.children_unanswered()));
  }
  {
    Family f(&out, "exoroute_venue_fee_bps", "gauge", "The venue's taker fee in basis points (negative: rebate).");
    for (const VenueStatus& v : s.venues()) f.Sample(venue(v), Num(v.fee_bps()));
  }
  if (s.budgets_size() > 0) {
    Family spent(&out, "exoroute_privacy_budget_spent_epsilon", "gauge",
                 "Privacy budget (epsilon) a signal has spent in its current window.");
    for (const auto& b : s.budgets()) spent.Sample(Label("signal", b.signal()), Milli(b.spent_milli()));
    Family limit(&out, "exoroute_privacy_budget_limit_epsilon", "gauge", "The signal's budget per window.");
    for (const auto& b : s.budgets()) limit.Sample(Label("signal", b.signal()), Milli(b.limit_milli()));
  }
  const std::string* family = nullptr;
  for (const HistogramMetric& h : histograms) {
    if (family == nullptr || *family != h.name) {
      absl::StrAppend(&out, "# HELP ", h.name, " ", h.help, "\n# TYPE ", h.name, " histogram\n");
      family = &h.name;
    }
    const std::string labels = h.labels.empty() ? "" : absl::StrCat("{", h.labels, "}");
    const std::string le_prefix = h.labels.empty() ? "{le=\"" : absl::StrCat("{", h.labels, ",le=\"");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < LatencyHistogram::kBoundsNs.size(); ++i) {
      cumulative += h.data.buckets[i];
      absl::StrAppend(&out, h.name, "_bucket", le_prefix, Nanos(LatencyHistogram::kBoundsNs[i]), "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, h.name, "_bucket", le_prefix, "+Inf\"} ", h.data.count, "\n");
    absl::StrAppend(&out, h.name, "_sum", labels, " ", Nanos(h.data.sum_ns), "\n");
    absl::StrAppend(&out, h.name, "_count", labels, " ", h.data.count, "\n");
  }
  return out;
}

}  // namespace exo::daemon
