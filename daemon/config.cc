#include "daemon/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/book_file.h"
#include "adapters/ws/feed_connection.h"
#include "daemon/solve_inputs.h"
#include "exo/json_input.h"
#include "exo/quoted.h"
#include "exo/read_file.h"
#include "exo/status_macros.h"
#include "solver/solver.h"

namespace exo::daemon {
namespace {

// Bounds of the gRPC port's limits (ListenConfig): a default thread quota stays within them.
constexpr uint32_t kMaxWatches = 4096;
constexpr uint32_t kMaxReplays = 1024;
constexpr uint32_t kMaxServerThreads = 8192;
constexpr uint32_t kThreadsBesideStreams = 8;

using exoroute::v1::DaemonConfig;
using exoroute::v1::ListenConfig;
using exoroute::v1::RiskLimit;
using exoroute::v1::StoreConfig;

const std::regex& IdPattern() {
  static const std::regex re("[A-Za-z0-9._-]{1,32}");
  return re;
}
const std::regex& SymbolPattern() {
  static const std::regex re("[A-Za-z0-9._/-]{1,32}");
  return re;
}

absl::Status Bad(const std::string& path, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

// The access section: names callers can present (a certificate's common name or subject
// alternative name: printable, 1..256 characters, or "*"), at least one, and client
// certificates to read them from.
absl::Status ValidateAccess(const exoroute::v1::DaemonConfig& c) {
  const exoroute::v1::AccessConfig& a = c.access();
  if (!c.tls().require_client_cert() || c.tls().insecure_plaintext()) {
    return Bad("access", "callers are told apart by their client certificates: set tls.require_client_cert");
  }
  if (a.trade().empty() && a.operate().empty() && a.read().empty()) {
    return Bad("access", "names no caller, so no RPC could be called; remove it to let every client call every RPC");
  }
  for (const auto& [role, names] : {std::pair{"trade", &a.trade()}, std::pair{"operate", &a.operate()},
                                    std::pair{"read", &a.read()}}) {
    for (int i = 0; i < names->size(); ++i) {
      const std::string& n = names->Get(i);
      const std::string path = absl::StrCat("access.", role, "[", i, "]");
      if (n.empty() || n.size() > 256) return Bad(path, absl::StrCat("a name of 1 to 256 characters, got ", n.size()));
      for (const char ch : n) {
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
          return Bad(path, "a certificate name has no control characters");
        }
      }
    }
  }
  return absl::OkStatus();
}

// Walks the generic JSON tree against the schema so that an unknown key is reported with its
// full path (the protobuf parser names only the key).
absl::Status CheckAddress(const std::string& addr, const std::string& path) {
  size_t colon = addr.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(addr.substr(colon + 1), &port) || port > 65535) {
    return Bad(path, absl::StrCat("must be host:port, got ", Quoted(addr)));
  }
  return absl::OkStatus();
}

void ApplyDefaults(DaemonConfig& c) {
  if (c.node_id().empty()) c.set_node_id("node-1");
  if (c.data_dir().empty()) c.set_data_dir("./exoroute-data");
  if (c.listen().address().empty()) c.mutable_listen()->set_address("127.0.0.1:50551");
  if (c.listen().max_watches() == 0) c.mutable_listen()->set_max_watches(256);
  if (c.listen().max_replays() == 0) c.mutable_listen()->set_max_replays(16);
  if (c.tls().reload_interval_s() == 0) c.mutable_tls()->set_reload_interval_s(60);
  if (c.listen().keepalive_s() == 0) c.mutable_listen()->set_keepalive_s(120);
  if (c.listen().stream_stall_ms() == 0) c.mutable_listen()->set_stream_stall_ms(30000);
  if (c.listen().max_threads() == 0) {
    c.mutable_listen()->set_max_threads(c.listen().max_watches() + c.listen().max_replays() + 64);
  }
  if (c.routing().replan_interval_ms() == 0) c.mutable_routing()->set_replan_interval_ms(50);
  if (c.store().checkpoint_every_deltas() == 0) c.mutable_store()->set_checkpoint_every_deltas(100000);
  if (c.store().memtable_mib() == 0) c.mutable_store()->set_memtable_mib(64);
  if (c.store().max_wal_mib() == 0) c.mutable_store()->set_max_wal_mib(64);
  for (auto& v : *c.mutable_venues()) {
    // -0 is 0 ("taker_fee_bps": -0.0 prints as -0, which reads back as +0: the config shown
    // would not be the config in force, and a restart from it would record a change).
    if (v.taker_fee_bps() == 0) v.set_taker_fee_bps(0);
    if (v.impact_bps() == 0) v.set_impact_bps(0);
    if (v.max_book_age_ms() == 0) v.set_max_book_age_ms(5000);
    if (v.has_sim()) {
      auto* s = v.mutable_sim();
      if (s->depth() == 0) s->set_depth(20);
      if (s->update_interval_ms() == 0) s->set_update_interval_ms(100);
      if (s->spread_ticks() == 0) s->set_spread_ticks(1);
    }
  }
}

// The streams (watches, replays) each hold a thread while open: the thread quota must leave
// some for the unary calls, or open streams could stop Route and CancelPlan.
absl::Status ValidateServerThreads(const ListenConfig& l) {
  if (l.max_watches() > kMaxWatches) {
    return Bad("listen.max_watches", absl::StrCat("must be <= ", kMaxWatches, ", got ", l.max_watches()));
  }
  if (l.max_replays() > kMaxReplays) {
    return Bad("listen.max_replays", absl::StrCat("must be <= ", kMaxReplays, ", got ", l.max_replays()));
  }
  if (l.stream_stall_ms() < 100 || l.stream_stall_ms() > 3'600'000) {
    return Bad("listen.stream_stall_ms", absl::StrCat("must be within 100..3600000 (an hour), got ", l.stream_stall_ms()));
  }
  if (l.keepalive_s() > 3600) {
    return Bad("listen.keepalive_s", absl::StrCat("must be within 1..3600 (an hour), got ", l.keepalive_s()));
  }
  const uint64_t streams = uint64_t{l.max_watches()} + l.max_replays();
  if (l.max_threads() > kMaxServerThreads) {
    return Bad("listen.max_threads", absl::StrCat("must be <= ", kMaxServerThreads, ", got ", l.max_threads()));
  }
  if (l.max_threads() < streams + kThreadsBesideStreams) {
    return Bad("listen.max_threads",
               absl::StrCat("must be at least listen.max_watches + listen.max_replays + ", kThreadsBesideStreams, " (",
                            streams + kThreadsBesideStreams, ") so calls are served while every stream is open, got ",
                            l.max_threads()));
  }
  return absl::OkStatus();
}

// The store's memory and log bounds (store/delta_store.h, StoreOptions). Below 16 MiB of
// memtables, the five column families' first arena blocks (1 MiB each) would take most of the
// budget and the store would flush nearly every few writes.
absl::Status ValidateStoreBounds(const StoreConfig& s) {
  if (s.memtable_mib() < 16 || s.memtable_mib() > 65536) {
    return Bad("store.memtable_mib", absl::StrCat("must be within 16..65536 (MiB), got ", s.memtable_mib()));
  }
  if (s.max_wal_mib() < 4 || s.max_wal_mib() > 65536) {
    return Bad("store.max_wal_mib", absl::StrCat("must be within 4..65536 (MiB), got ", s.max_wal_mib()));
  }
  return absl::OkStatus();
}

// Backups go beside the database, never into it (RocksDB owns every file of its directory).
absl::Status ValidateBackupDir(const DaemonConfig& c) {
  if (c.store().backup_dir().empty()) return absl::OkStatus();
  const std::filesystem::path db = std::filesystem::absolute(std::filesystem::path(c.data_dir()) / "db").lexically_normal();
  const std::filesystem::path dir = std::filesystem::absolute(c.store().backup_dir()).lexically_normal();
  const auto [end, _] = std::mismatch(db.begin(), db.end(), dir.begin(), dir.end());
  if (end == db.end()) {
    return Bad("store.backup_dir", absl::StrCat("must not be inside the database directory ", db.string(),
                                                ", got ", Quoted(c.store().backup_dir())));
  }
  return absl::OkStatus();
}

absl::Status ValidateCluster(const DaemonConfig& c) {
  if (!c.has_cluster()) return absl::OkStatus();
  const auto& k = c.cluster();
  EXO_RETURN_IF_ERROR(CheckAddress(k.listen(), "cluster.listen"));
  for (auto [name, file] : {std::pair{"cluster.ca_file", &k.ca_file()},
                            std::pair{"cluster.cert_file", &k.cert_file()},
                            std::pair{"cluster.key_file", &k.key_file()}}) {
    if (file->empty()) return Bad(name, "required: peers talk mutual TLS only");
    if (!std::filesystem::exists(*file)) return Bad(name, absl::StrCat("no such file: ", *file));
  }
  if (k.peers().empty()) return Bad("cluster.peers", "at least one peer is required");
  std::set<std::string> ids = {c.node_id()};
  for (int i = 0; i < k.peers_size(); ++i) {
    const auto& p = k.peers(i);
    std::string at = absl::StrCat("cluster.peers[", i, "]");
    if (!std::regex_match(p.node_id(), IdPattern())) {
      return Bad(at + ".node_id", absl::StrCat("must match [A-Za-z0-9._-]{1,32}, got ", Quoted(p.node_id())));
    }
    if (!ids.insert(p.node_id()).second) {
      return Bad(at + ".node_id", absl::StrCat(Quoted(p.node_id()), " is this node or another peer"));
    }
    EXO_RETURN_IF_ERROR(CheckAddress(p.address(), at + ".address"));
  }
  if (k.has_privacy()) {
    const auto& p = k.privacy();
    if (p.epsilon_milli() > 0 && p.sensitivity() <= 0) {
      return Bad("cluster.privacy.sensitivity", absl::StrCat("must be > 0 with epsilon_milli, got ", p.sensitivity()));
    }
    if (p.epsilon_milli() > 0 && p.budget_milli() < p.epsilon_milli()) {
      return Bad("cluster.privacy.budget_milli",
                 absl::StrCat("must allow at least one release (>= epsilon_milli ", p.epsilon_milli(),
                              "), got ", p.budget_milli()));
    }
  }
  if (k.round_timeout_ms() > 60000) {
    return Bad("cluster.round_timeout_ms", absl::StrCat("must be <= 60000, got ", k.round_timeout_ms()));
  }
  if (k.shortfall_retry_ms() > 3600000) {
    return Bad("cluster.shortfall_retry_ms",
               absl::StrCat("must be <= 3600000 (an hour; 0 = 1000), got ", k.shortfall_retry_ms()));
  }
  return absl::OkStatus();
}

// Orders a second a risk limit may admit: the window keeps one time per order admitted.
constexpr uint32_t kMaxOrdersPerSecond = 10'000;

// A market's own synthetic book on a sim venue: each value 0 (the venue's) or positive.
absl::Status ValidateSimMarket(const exoroute::v1::SimMarketConfig& m, const std::string& p) {
  const std::pair<const char*, int64_t> fields[] = {
      {"mid_price", m.mid_price()}, {"tick_size", m.tick_size()}, {"level_size", m.level_size()}};
  for (const auto& [name, value] : fields) {
    if (value < 0) {
      return Bad(absl::StrCat(p, ".", name),
                 absl::StrCat("must be > 0, or 0 for the venue's sim.", name, ", got ", value));
    }
  }
  return absl::OkStatus();
}

// At most one limit per instrument and client, on a configured instrument, each entry limiting
// something; a client's own limits need client certificates to tell its orders apart.
absl::Status ValidateRisk(const DaemonConfig& c, const std::set<std::string>& symbols) {
  std::set<std::pair<std::string, std::string>> limited;
  for (int i = 0; i < c.risk_size(); ++i) {
    const RiskLimit& r = c.risk(i);
    const std::string p = absl::StrCat("risk[", i, "]");
    if (symbols.count(r.symbol()) == 0) {
      return Bad(p + ".symbol", absl::StrCat(Quoted(r.symbol()), " is not one of instruments[] (",
                                             absl::StrJoin(symbols, ", "), ")"));
    }
    if (!r.client().empty()) {
      if (r.client().size() > 256 || std::any_of(r.client().begin(), r.client().end(), [](char ch) {
            return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
          })) {
        return Bad(p + ".client", "a client certificate name: at most 256 characters, no control characters");
      }
      if (!c.tls().require_client_cert() || c.tls().insecure_plaintext()) {
        return Bad(p + ".client", "a client's orders are told apart by its certificate: set tls.require_client_cert");
      }
    }
    if (!limited.insert({r.symbol(), r.client()}).second) {
      return Bad(p + ".symbol", r.client().empty()
                                    ? absl::StrCat(Quoted(r.symbol()), " has a limit already: one entry per instrument")
                                    : absl::StrCat(Quoted(r.symbol()), " has a limit for client ", Quoted(r.client()),
                                                   " already: one entry per instrument and client"));
    }
    for (const auto& [field, value] : {std::pair<const char*, int64_t>{"max_order_quantity", r.max_order_quantity()},
                                       {"max_order_notional", r.max_order_notional()},
                                       {"max_working_quantity", r.max_working_quantity()}}) {
      if (value < 0) return Bad(p + "." + field, absl::StrCat("must be >= 0 (0 = none), got ", value));
    }
    if (r.max_orders_per_second() > kMaxOrdersPerSecond) {
      return Bad(p + ".max_orders_per_second",
                 absl::StrCat("must be <= ", kMaxOrdersPerSecond, " (0 = none), got ", r.max_orders_per_second()));
    }
    if (r.max_order_quantity() == 0 && r.max_order_notional() == 0 && r.max_working_quantity() == 0 &&
        r.max_orders_per_second() == 0) {
      return Bad(p, "sets no limit: give max_order_quantity, max_order_notional, max_working_quantity or "
                    "max_orders_per_second");
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const DaemonConfig& c) {
  if (!std::regex_match(c.node_id(), IdPattern())) {
    return Bad("node_id", absl::StrCat("must match [A-Za-z0-9._-]{1,32}, got ", Quoted(c.node_id())));
  }
  EXO_RETURN_IF_ERROR(CheckAddress(c.listen().address(), "listen.address"));
  if (c.has_admin()) EXO_RETURN_IF_ERROR(CheckAddress(c.admin().listen(), "admin.listen"));
  EXO_RETURN_IF_ERROR(ValidateServerThreads(c.listen()));
  EXO_RETURN_IF_ERROR(ValidateStoreBounds(c.store()));
  EXO_RETURN_IF_ERROR(ValidateBackupDir(c));
  if (!exoroute::v1::LogFormat_IsValid(c.log().format())) {
    return Bad("log.format", absl::StrCat("must be LOG_FORMAT_TEXT or LOG_FORMAT_JSON, got ", c.log().format()));
  }
  const auto& tls = c.tls();
  bool any_file = !tls.cert_file().empty() || !tls.key_file().empty() || !tls.ca_file().empty();
  if (tls.insecure_plaintext() && any_file) {
    return Bad("tls.insecure_plaintext", "cannot be combined with certificate files");
  }
  if (any_file) {
    for (auto [name, file] : {std::pair{"tls.cert_file", &tls.cert_file()},
                              std::pair{"tls.key_file", &tls.key_file()},
                              std::pair{"tls.ca_file", &tls.ca_file()}}) {
      if (file->empty()) return Bad(name, "required when any TLS file is given");
      if (!std::filesystem::exists(*file)) return Bad(name, absl::StrCat("no such file: ", *file));
    }
  }
  if (tls.reload_interval_s() > 86400) {
    return Bad("tls.reload_interval_s", absl::StrCat("must be within 1..86400 (a day), got ", tls.reload_interval_s()));
  }
  if (tls.require_client_cert() && tls.insecure_plaintext()) {
    return Bad("tls.require_client_cert", "needs TLS");
  }

  EXO_RETURN_IF_ERROR(ValidateCluster(c));

  if (c.instruments().empty()) return Bad("instruments", "at least one instrument is required");
  std::set<std::string> symbols;
  for (int i = 0; i < c.instruments_size(); ++i) {
    const auto& in = c.instruments(i);
    std::string p = absl::StrCat("instruments[", i, "]");
    if (!std::regex_match(in.symbol(), SymbolPattern())) {
      return Bad(p + ".symbol", absl::StrCat("must match [A-Za-z0-9._/-]{1,32}, got ", Quoted(in.symbol())));
    }
    if (!symbols.insert(in.symbol()).second) {
      return Bad(p + ".symbol", absl::StrCat("duplicate symbol \"", in.symbol(), "\""));
    }
    if (in.price_scale() > 12) return Bad(p + ".price_scale", absl::StrCat("must be <= 12, got ", in.price_scale()));
    if (in.qty_scale() > 12) return Bad(p + ".qty_scale", absl::StrCat("must be <= 12, got ", in.qty_scale()));
  }
  EXO_RETURN_IF_ERROR(ValidateRisk(c, symbols));

  if (c.venues().empty()) return Bad("venues", "at least one venue is required");
  if (c.venues_size() > solver::kMaxVenues) {
    return Bad("venues", absl::StrCat("at most ", solver::kMaxVenues, " (what one decision takes), got ", c.venues_size()));
  }
  std::set<std::string> ids;
  for (int i = 0; i < c.venues_size(); ++i) {
    const auto& v = c.venues(i);
    std::string p = absl::StrCat("venues[", i, "]");
    if (!std::regex_match(v.id(), IdPattern())) {
      return Bad(p + ".id", absl::StrCat("must match [A-Za-z0-9._-]{1,32}, got ", Quoted(v.id())));
    }
    if (!ids.insert(v.id()).second) return Bad(p + ".id", absl::StrCat("duplicate venue id \"", v.id(), "\""));
    if (!(v.taker_fee_bps() >= -1000 && v.taker_fee_bps() <= 1000)) {
      return Bad(p + ".taker_fee_bps", absl::StrCat("must be within [-1000, 1000], got ", v.taker_fee_bps()));
    }
    if (std::fabs(v.taker_fee_bps() * 100 - std::round(v.taker_fee_bps() * 100)) > 1e-6) {
      return Bad(p + ".taker_fee_bps",
                 absl::StrCat("at most 2 decimal places (fees apply in 0.01 bp), got ", v.taker_fee_bps()));
    }
    if (!(v.impact_bps() >= 0 && v.impact_bps() <= 1000)) {
      return Bad(p + ".impact_bps", absl::StrCat("must be within [0, 1000], got ", v.impact_bps()));
    }
    if (v.max_book_age_ms() < 0) return Bad(p + ".max_book_age_ms", "must be >= 0");
    if (v.markets().empty()) return Bad(p + ".markets", "at least one market is required");
    std::set<std::string> venue_symbols;
    for (int k = 0; k < v.markets_size(); ++k) {
      const auto& m = v.markets(k);
      std::string mp = absl::StrCat(p, ".markets[", k, "]");
      if (symbols.count(m.symbol()) == 0) {
        return Bad(mp + ".symbol", absl::StrCat(Quoted(m.symbol()), " is not a configured instrument"));
      }
      if (!venue_symbols.insert(m.symbol()).second) {
        return Bad(mp + ".symbol", absl::StrCat("duplicate market \"", m.symbol(), "\""));
      }
      if (m.lot_size() <= 0) return Bad(mp + ".lot_size", absl::StrCat("must be > 0, got ", m.lot_size()));
      if (m.max_quantity() < 0) return Bad(mp + ".max_quantity", "must be >= 0");
      if (m.min_quantity() < 0) return Bad(mp + ".min_quantity", "must be >= 0");
      if (m.max_quantity() > 0 && m.min_quantity() > m.max_quantity()) {
        return Bad(mp + ".min_quantity", absl::StrCat("must be <= max_quantity (", m.max_quantity(),
                                                      "), got ", m.min_quantity()));
      }
      if (m.has_sim()) {
        if (!v.has_sim()) return Bad(mp + ".sim", "only a sim venue draws books: this venue has no `sim`");
        EXO_RETURN_IF_ERROR(ValidateSimMarket(m.sim(), mp + ".sim"));
      }
    }
    switch (v.adapter_case()) {
      case exoroute::v1::VenueConfig::kSim: {
        const auto& s = v.sim();
        std::string sp = p + ".sim";
        if (s.book_file().empty()) {
          // The venue's values are the defaults of its markets: needed unless every market has its own
          // (and never negative, needed or not).
          using Field = int64_t (exoroute::v1::SimMarketConfig::*)() const;
          auto needed = [&v](Field own) {
            return std::any_of(v.markets().begin(), v.markets().end(),
                               [own](const exoroute::v1::MarketConfig& m) { return (m.sim().*own)() == 0; });
          };
          if (s.mid_price() < 0 || (s.mid_price() == 0 && needed(&exoroute::v1::SimMarketConfig::mid_price))) {
            return Bad(sp + ".mid_price", absl::StrCat("must be > 0, got ", s.mid_price()));
          }
          if (s.tick_size() < 0 || (s.tick_size() == 0 && needed(&exoroute::v1::SimMarketConfig::tick_size))) {
            return Bad(sp + ".tick_size", absl::StrCat("must be > 0, got ", s.tick_size()));
          }
          if (s.level_size() < 0 || (s.level_size() == 0 && needed(&exoroute::v1::SimMarketConfig::level_size))) {
            return Bad(sp + ".level_size", absl::StrCat("must be > 0, got ", s.level_size()));
          }
        } else {
          auto books = adapters::LoadBookFile(s.book_file());
          if (!books.ok()) return Bad(sp + ".book_file", std::string(books.status().message()));
        }
        if (s.depth() > 1000) return Bad(sp + ".depth", absl::StrCat("must be <= 1000, got ", s.depth()));
        break;
      }
      case exoroute::v1::VenueConfig::kWsFeed: {
        const auto& w = v.ws_feed();
        std::string wp = p + ".ws_feed";
        if (w.format() != exoroute::v1::FEED_FORMAT_BINANCE_SPOT &&
            w.format() != exoroute::v1::FEED_FORMAT_COINBASE_LEVEL2) {
          return Bad(wp + ".format", "must be FEED_FORMAT_BINANCE_SPOT or FEED_FORMAT_COINBASE_LEVEL2");
        }
        auto url = adapters::ws::ParseUrl(w.url());
        if (!url.ok() || w.url().rfind("ws", 0) != 0) {
          return Bad(wp + ".url", absl::StrCat("must be a ws:// or wss:// URL, got ", Quoted(w.url())));
        }
        if (w.format() == exoroute::v1::FEED_FORMAT_BINANCE_SPOT) {
          auto snap = adapters::ws::ParseUrl(w.snapshot_url());
          if (!snap.ok() || w.snapshot_url().rfind("http", 0) != 0) {
            return Bad(wp + ".snapshot_url", "required for Binance: an http(s) URL with {symbol}");
          }
        }
        if (!w.ca_file().empty() && !std::filesystem::exists(w.ca_file())) {
          return Bad(wp + ".ca_file", absl::StrCat("no such file: ", w.ca_file()));
        }
        break;
      }
      case exoroute::v1::VenueConfig::kFix: {
        const auto& f = v.fix();
        std::string fp = p + ".fix";
        if (f.host().empty()) return Bad(fp + ".host", "required");
        if (f.port() == 0 || f.port() > 65535) return Bad(fp + ".port", absl::StrCat("must be 1..65535, got ", f.port()));
        if (f.sender_comp_id().empty()) return Bad(fp + ".sender_comp_id", "required");
        if (f.target_comp_id().empty()) return Bad(fp + ".target_comp_id", "required");
        if (!f.data_dictionary().empty() && !std::filesystem::exists(f.data_dictionary())) {
          return Bad(fp + ".data_dictionary", absl::StrCat("no such file: ", f.data_dictionary()));
        }
        if (f.market_data() && f.data_dictionary().empty()) {
          return Bad(fp + ".data_dictionary",
                     "required with market_data: QuickFIX reads the repeating groups of market data "
                     "(W, X) only with a data dictionary (the FIX 4.4 one ships as deploy/fix/FIX44.xml)");
        }
        if (f.status_poll_ms() != 0 && (f.status_poll_ms() < 1000 || f.status_poll_ms() > 3'600'000)) {
          return Bad(fp + ".status_poll_ms",
                     absl::StrCat("must be 0 (never) or 1000..3600000, got ", f.status_poll_ms()));
        }
        break;
      }
      case exoroute::v1::VenueConfig::ADAPTER_NOT_SET:
        return Bad(p, "an adapter is required (\"sim\", \"ws_feed\" or \"fix\")");
    }
  }
  for (int i = 0; i < c.venues_size(); ++i) {
    const auto& v = c.venues(i);
    if (v.book_from().empty()) continue;
    std::string p = absl::StrCat("venues[", i, "].book_from");
    if (v.book_from() == v.id()) return Bad(p, "a venue cannot take its book from itself");
    if (!ids.count(v.book_from())) return Bad(p, absl::StrCat(Quoted(v.book_from()), " is not a configured venue"));
  }
  if (c.routing().method() == exoroute::v1::SOLVER_METHOD_CLUSTER_EXACT) {
    return Bad("routing.method", "SOLVER_METHOD_CLUSTER_EXACT is what a cluster node's share of a route records, not "
                                 "a method to choose: SOLVER_METHOD_EXACT or SOLVER_METHOD_ADMM");
  }
  if (c.routing().replan_interval_ms() > 60000) {
    return Bad("routing.replan_interval_ms", "must be <= 60000");
  }
  if (c.routing().child_timeout_ms() > 600'000) {
    return Bad("routing.child_timeout_ms",
               absl::StrCat("must be <= 600000 (0 = 10000), got ", c.routing().child_timeout_ms()));
  }
  if (c.routing().settle_approvals() > 2) {
    return Bad("routing.settle_approvals",
               absl::StrCat("must be 0 or 1 (one operator) or 2 (four eyes), got ", c.routing().settle_approvals()));
  }
  if (c.routing().settle_approvals() == 2 && !c.tls().require_client_cert()) {
    return Bad("routing.settle_approvals",
               "2 (four eyes) needs client certificates to tell operators apart: set tls.require_client_cert");
  }
  if (c.has_access()) EXO_RETURN_IF_ERROR(ValidateAccess(c));
  if (c.routing().reject_backoff_ms() > kMaxRejectBackoffMs) {
    return Bad("routing.reject_backoff_ms",
               absl::StrCat("must be <= ", kMaxRejectBackoffMs, " (0 = 1000), got ", c.routing().reject_backoff_ms()));
  }
  if (c.routing().low_urgency_band_bps() > kMaxUrgencyBandBps) {
    return Bad("routing.low_urgency_band_bps", absl::StrCat("must be <= ", kMaxUrgencyBandBps, " (10 %), got ",
                                                            c.routing().low_urgency_band_bps()));
  }
  if (const uint32_t normal = c.routing().normal_urgency_band_bps(); normal != 0) {
    const uint32_t low = UrgencyBandBps(c.routing(), exoroute::v1::URGENCY_LOW);
    if (normal > kMaxUrgencyBandBps || normal < low) {
      return Bad("routing.normal_urgency_band_bps",
                 absl::StrCat("must be 0 (no band) or from the low urgency band (", low, " bp) to ",
                              kMaxUrgencyBandBps, ", got ", normal));
    }
  }
  return absl::OkStatus();
}

}  // namespace

const std::string& DefaultConfigJson() {
  static const std::string kJson = R"json({
  "node_id": "node-1",
  "data_dir": "./exoroute-data",
  "listen": { "address": "127.0.0.1:50551" },
  "admin": { "listen": "127.0.0.1:9464" },
  "instruments": [
    { "symbol": "BTC-USD", "price_scale": 2, "qty_scale": 8 },
    { "symbol": "ETH-USD", "price_scale": 2, "qty_scale": 6 }
  ],
  "venues": [
    {
      "id": "SIM-A", "taker_fee_bps": 2.0,
      "markets": [ { "symbol": "BTC-USD", "lot_size": 100000 },
                   { "symbol": "ETH-USD", "lot_size": 1000,
                     "sim": { "mid_price": 350000, "tick_size": 1, "level_size": 5000000 } } ],
      "sim": { "seed": 1, "mid_price": 6500000, "tick_size": 50, "depth": 20,
               "level_size": 40000000, "latency_ms": 2, "update_interval_ms": 100 }
    },
    {
      "id": "SIM-B", "taker_fee_bps": 1.0,
      "markets": [ { "symbol": "BTC-USD", "lot_size": 100000 },
                   { "symbol": "ETH-USD", "lot_size": 1000,
                     "sim": { "mid_price": 350000, "tick_size": 2, "level_size": 3000000 } } ],
      "sim": { "seed": 2, "mid_price": 6500000, "tick_size": 100, "depth": 20,
               "level_size": 25000000, "latency_ms": 3, "update_interval_ms": 100 }
    },
    {
      "id": "SIM-C", "taker_fee_bps": 3.5,
      "markets": [ { "symbol": "BTC-USD", "lot_size": 1000000 } ],
      "sim": { "seed": 3, "mid_price": 6500000, "tick_size": 50, "depth": 20,
               "level_size": 80000000, "latency_ms": 5, "update_interval_ms": 100 }
    }
  ],
  "routing": { "replan_interval_ms": 50 }
}
)json";
  return kJson;
}

absl::StatusOr<DaemonConfig> ParseConfig(const std::string& json, const std::string& origin) {
  auto wrap = [&origin](const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat("config ", origin, ": ", s.message()));
  };
  DaemonConfig c;
  if (auto s = ParseJsonInput(json, &c); !s.ok()) return wrap(s);
  ApplyDefaults(c);
  if (auto s = Validate(c); !s.ok()) return wrap(s);
  return c;
}

absl::StatusOr<DaemonConfig> LoadConfig(const std::string& path) {
  if (path.empty()) return ParseConfig(DefaultConfigJson(), "<embedded default>");
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return absl::Status(text.status().code(), absl::StrCat("config ", text.status().message()));
  return ParseConfig(*text, path);
}

}  // namespace exo::daemon
