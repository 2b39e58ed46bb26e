#include "daemon/config.h"
#include "daemon/solve_inputs.h"
#include "daemon/venue_factory.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

using exo::daemon::DefaultConfigJson;
using exo::daemon::ParseConfig;

namespace {

std::string ErrorOf(const std::string& json) {
  auto c = ParseConfig(json, "test.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

// The default config with one substring replaced.
std::string DefaultWith(const std::string& from, const std::string& to) {
  std::string s = DefaultConfigJson();
  size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("the embedded default is valid: three sim venues, TLS, local data", "[config]") {
  auto c = ParseConfig(DefaultConfigJson(), "default");
  REQUIRE(c.ok());
  CHECK(c->venues_size() == 3);
  CHECK(c->data_dir() == "./exoroute-data");
  CHECK_FALSE(c->tls().insecure_plaintext());
  CHECK(c->venues(0).max_book_age_ms() == 5000);  // Defaults applied.
}

TEST_CASE("the embedded default's sim venues price each symbol at its own level", "[config]") {
  auto c = ParseConfig(DefaultConfigJson(), "default");
  REQUIRE(c.ok());
  auto venues = exo::daemon::MakeVenues(*c, exo::SystemClock());
  REQUIRE(venues.ok());
  auto best_ask = [&venues](const std::string& venue, const std::string& symbol) {
    for (const auto& v : *venues) {
      if (v.config.id() == venue) return v.adapter->Book(symbol)->asks(0).price();
    }
    FAIL("no venue " << venue);
    return int64_t{0};
  };
  // BTC-USD about 65 000.00, ETH-USD about 3 500.00 (prices in cents), on both venues that trade it.
  for (const char* venue : {"SIM-A", "SIM-B"}) {
    CHECK(std::abs(best_ask(venue, "BTC-USD") - 6'500'000) < 1'000);
    CHECK(std::abs(best_ask(venue, "ETH-USD") - 350'000) < 100);
  }
}

TEST_CASE("bad configs are refused with the path of the bad field", "[config]") {
  CHECK(ErrorOf(DefaultWith("\"lot_size\": 1000,", "\"lot_size\": 0,")) ==
        "config test.json: venues[0].markets[1].lot_size: must be > 0, got 0");
  CHECK(ErrorOf(DefaultWith("\"taker_fee_bps\": 1.0", "\"taker_fee_bps\": 1.0, \"fee\": 3")) ==
        "config test.json: venues[1].fee: unknown key (not in VenueConfig)");
  CHECK(ErrorOf(DefaultWith("\"seed\": 3", "\"seed\": 3, \"sed\": 1")) ==
        "config test.json: venues[2].sim.sed: unknown key (not in SimVenueConfig)");
  CHECK(ErrorOf(DefaultWith("\"id\": \"SIM-B\"", "\"id\": \"SIM-A\"")) ==
        "config test.json: venues[1].id: duplicate venue id \"SIM-A\"");
  CHECK(ErrorOf(DefaultWith("{ \"symbol\": \"BTC-USD\", \"lot_size\": 1000000 }",
                            "{ \"symbol\": \"DOGE\", \"lot_size\": 1 }")) ==
        "config test.json: venues[2].markets[0].symbol: \"DOGE\" is not a configured instrument");
  CHECK(ErrorOf(DefaultWith("127.0.0.1:50551", "localhost")) ==
        "config test.json: listen.address: must be host:port, got \"localhost\"");
  CHECK(ErrorOf(DefaultWith("127.0.0.1:9464", "127.0.0.1:metrics")) ==
        "config test.json: admin.listen: must be host:port, got \"127.0.0.1:metrics\"");
  CHECK(ErrorOf(DefaultWith("\"listen\": \"127.0.0.1:9464\"", "\"port\": 9464")) ==
        "config test.json: admin.port: unknown key (not in AdminHttpConfig)");
  CHECK(ErrorOf(DefaultWith("\"taker_fee_bps\": 2.0", "\"taker_fee_bps\": 2.125")) ==
        "config test.json: venues[0].taker_fee_bps: at most 2 decimal places (fees apply in 0.01 bp), got 2.125");
  CHECK(ErrorOf(R"({"venues": 5})") == "config test.json: venues: must be a JSON array");
  CHECK(ErrorOf(R"({"tls": {"cert_file": "/nonexistent.pem"}})") ==
        "config test.json: tls.cert_file: no such file: /nonexistent.pem");
  CHECK(ErrorOf(R"({"tls": {"reload_interval_s": 90000}})") ==
        "config test.json: tls.reload_interval_s: must be within 1..86400 (a day), got 90000");
  CHECK(ErrorOf(R"({"tls": {"insecure_plaintext": true, "require_client_cert": true}})") ==
        "config test.json: tls.require_client_cert: needs TLS");
  CHECK(ErrorOf("{ not json").rfind("config test.json: not valid JSON", 0) == 0);
  // Where the file stops being JSON, by line and column (protobuf's own quote of the text around
  // it, line breaks and all, under a caret that points nowhere, is not passed on).
  CHECK(ErrorOf("{\n  \"node_id\": \"n1\",\n  \"data_dir\": /tmp/x\n}") ==
        "config test.json: not valid JSON at line 3, column 15: Expected a value.");
  CHECK(ErrorOf("{\"node_id\": \"n1\" \"data_dir\": \"x\"}") ==
        "config test.json: not valid JSON at line 1, column 18: Expected , or } after key:value pair.");
  // The same text twice around the point: which one is not known, so the reason alone.
  const std::string blank(40, ' ');
  CHECK(ErrorOf("{\"node_id\":" + blank + "x" + blank + "x" + blank + "}") ==
        "config test.json: not valid JSON: Unexpected token.");
  CHECK(ErrorOf("{\"node_id\": ") == "config test.json: not valid JSON: Unexpected end of string. Expected a value.");
  CHECK(ErrorOf(R"({"instruments": [{"symbol": "X", "price_scale": "two"}]})") ==
        "config test.json: instruments[0].price_scale: must be a whole number within 0..4294967295, got \"two\"");
}

TEST_CASE("a value of the wrong kind is refused in the field's words, with the value", "[config]") {
  // (Protobuf's own parser said "(venues[2].sim.depth): invalid value -1 for type TYPE_UINT32".)
  const std::vector<std::pair<std::string, std::string>> cases = {
      {DefaultWith("\"depth\": 20,\n               \"level_size\": 80000000", "\"depth\": -1,\n               \"level_size\": 80000000"),
       "venues[2].sim.depth: must be a whole number within 0..4294967295, got -1"},
      {DefaultWith("\"replan_interval_ms\": 50", "\"replan_interval_ms\": 2.5"),
       "routing.replan_interval_ms: must be a whole number within 0..4294967295, got 2.5"},
      {DefaultWith("\"replan_interval_ms\": 50", "\"replan_interval_ms\": 0.1"),
       "routing.replan_interval_ms: must be a whole number within 0..4294967295, got 0.1"},
      {DefaultWith("\"replan_interval_ms\": 50", "\"replan_interval_ms\": \"" + std::string(100, 'x') + "\""),
       "routing.replan_interval_ms: must be a whole number within 0..4294967295, got \"" + std::string(61, 'x') +
           "...\""},
      {DefaultWith("\"replan_interval_ms\": 50", "\"replan_interval_ms\": 99999999999"),
       "routing.replan_interval_ms: must be a whole number within 0..4294967295, got 99999999999"},
      {DefaultWith("\"seed\": 3", "\"seed\": true"), "venues[2].sim.seed: must be a whole number within 0..2^64-1, got true"},
      {DefaultWith("\"id\": \"SIM-C\"", "\"id\": 5"), "venues[2].id: must be a string, got 5"},
      {DefaultWith("\"taker_fee_bps\": 3.5", "\"taker_fee_bps\": [3.5]"),
       "venues[2].taker_fee_bps: must be a number, got a list"},
      {DefaultWith("\"replan_interval_ms\": 50", "\"replan_interval_ms\": 50, \"method\": \"FAST\""),
       "routing.method: must be one of SOLVER_METHOD_EXACT, SOLVER_METHOD_ADMM, SOLVER_METHOD_CLUSTER_EXACT, got \"FAST\""},
      {DefaultWith("\"replan_interval_ms\": 50", "\"replan_interval_ms\": 50, \"method\": \"SOLVER_METHOD_CLUSTER_EXACT\""),
       "routing.method: SOLVER_METHOD_CLUSTER_EXACT is what a cluster node's share of a route records, not a method to "
       "choose: SOLVER_METHOD_EXACT or SOLVER_METHOD_ADMM"},
  };
  for (const auto& [json, why] : cases) {
    const std::string error = ErrorOf(json);
    INFO(error);
    CHECK(error == "config test.json: " + why);
  }
  // What protobuf takes besides the plain kind still loads: a number in quotes, an enum by name.
  auto quoted = ParseConfig(DefaultWith("\"replan_interval_ms\": 50", "\"replan_interval_ms\": \"75\", \"method\": "
                                        "\"SOLVER_METHOD_ADMM\""),
                            "test.json");
  REQUIRE(quoted.ok());
  CHECK(quoted->routing().replan_interval_ms() == 75);
  CHECK(quoted->routing().method() == exoroute::v1::SOLVER_METHOD_ADMM);
}

TEST_CASE("identifiers, fees, impact, markets and the re-plan interval are checked, naming the field", "[config]") {
  // Each case: the default with one change, and what the refusal must say (after "config test.json: ").
  const std::vector<std::pair<std::string, std::string>> cases = {
      {DefaultWith("\"node_id\": \"node-1\"", "\"node_id\": \"node one\""),
       "node_id: must match [A-Za-z0-9._-]{1,32}, got \"node one\""},
      // A JSON escape's line break is shown escaped: the refusal stays one line.
      {DefaultWith("\"node_id\": \"node-1\"", "\"node_id\": \"node\\n1\""),
       "node_id: must match [A-Za-z0-9._-]{1,32}, got \"node\\n1\""},
      {DefaultWith("{ \"symbol\": \"ETH-USD\", \"price_scale\": 2", "{ \"symbol\": \"ETH USD\", \"price_scale\": 2"),
       "instruments[1].symbol: must match [A-Za-z0-9._/-]{1,32}, got \"ETH USD\""},
      {DefaultWith("{ \"symbol\": \"ETH-USD\", \"price_scale\": 2", "{ \"symbol\": \"BTC-USD\", \"price_scale\": 2"),
       "instruments[1].symbol: duplicate symbol \"BTC-USD\""},
      {DefaultWith("\"id\": \"SIM-C\"", "\"id\": \"SIM C\""),
       "venues[2].id: must match [A-Za-z0-9._-]{1,32}, got \"SIM C\""},
      {DefaultWith("\"taker_fee_bps\": 3.5", "\"taker_fee_bps\": 1500"),
       "venues[2].taker_fee_bps: must be within [-1000, 1000], got 1500"},
      {DefaultWith("\"taker_fee_bps\": 3.5", "\"taker_fee_bps\": 3.5, \"impact_bps\": 2000"),
       "venues[2].impact_bps: must be within [0, 1000], got 2000"},
      {DefaultWith("\"markets\": [ { \"symbol\": \"BTC-USD\", \"lot_size\": 1000000 } ]",
                   "\"markets\": [ { \"symbol\": \"BTC-USD\", \"lot_size\": 1000000 }, "
                   "{ \"symbol\": \"BTC-USD\", \"lot_size\": 1000000 } ]"),
       "venues[2].markets[1].symbol: duplicate market \"BTC-USD\""},
      {DefaultWith("{ \"symbol\": \"BTC-USD\", \"lot_size\": 1000000 }",
                   "{ \"symbol\": \"BTC-USD\", \"lot_size\": 1000000, \"max_quantity\": 2000000, \"min_quantity\": 3000000 }"),
       "venues[2].markets[0].min_quantity: must be <= max_quantity (2000000"},
      {DefaultWith("\"replan_interval_ms\": 50", "\"replan_interval_ms\": 60001"),
       "routing.replan_interval_ms: must be <= 60000"},
  };
  for (const auto& [json, why] : cases) {
    const std::string error = ErrorOf(json);
    INFO(error);
    CHECK(error.rfind("config test.json: " + why, 0) == 0);
  }
}

TEST_CASE("the gRPC port's thread quota leaves room beside the streams", "[config]") {
  auto listen = [](const std::string& fields) {
    return DefaultWith(R"("address": "127.0.0.1:50551" })", R"("address": "127.0.0.1:50551", )" + fields + " }");
  };
  auto c = ParseConfig(DefaultConfigJson(), "test.json");
  REQUIRE(c.ok());
  CHECK(c->listen().max_watches() == 256);
  CHECK(c->listen().max_replays() == 16);
  CHECK(c->listen().max_threads() == 256 + 16 + 64);
  CHECK(c->listen().stream_stall_ms() == 30000);
  CHECK(c->tls().reload_interval_s() == 60);
  CHECK(c->listen().keepalive_s() == 120);
  // The default quota follows the stream limits.
  c = ParseConfig(listen(R"("max_watches": 4, "max_replays": 2)"), "test.json");
  REQUIRE(c.ok());
  CHECK(c->listen().max_threads() == 4 + 2 + 64);
  c = ParseConfig(listen(R"("max_watches": 4, "max_replays": 2, "max_threads": 14)"), "test.json");
  REQUIRE(c.ok());
  CHECK(c->listen().max_threads() == 14);
  CHECK(ErrorOf(listen(R"("max_watches": 4, "max_replays": 2, "max_threads": 13)")) ==
        "config test.json: listen.max_threads: must be at least listen.max_watches + listen.max_replays + 8 (14) "
        "so calls are served while every stream is open, got 13");
  CHECK(ErrorOf(listen(R"("max_threads": 100)")) ==
        "config test.json: listen.max_threads: must be at least listen.max_watches + listen.max_replays + 8 (280) "
        "so calls are served while every stream is open, got 100");
  CHECK(ErrorOf(listen(R"("max_threads": 9000)")) ==
        "config test.json: listen.max_threads: must be <= 8192, got 9000");
  CHECK(ErrorOf(listen(R"("max_watches": 5000)")) == "config test.json: listen.max_watches: must be <= 4096, got 5000");
  CHECK(ErrorOf(listen(R"("max_replays": 2000)")) == "config test.json: listen.max_replays: must be <= 1024, got 2000");
  CHECK(ErrorOf(listen(R"("keepalive_s": 4000)")) ==
        "config test.json: listen.keepalive_s: must be within 1..3600 (an hour), got 4000");
  CHECK(ErrorOf(listen(R"("stream_stall_ms": 50)")) ==
        "config test.json: listen.stream_stall_ms: must be within 100..3600000 (an hour), got 50");
}

TEST_CASE("backups go anywhere but into the database directory", "[config]") {
  auto with = [](const std::string& dir) {
    return DefaultWith(R"("data_dir": "./exoroute-data",)", R"("data_dir": "/var/lib/exo", "store": {"backup_dir": ")" + dir + R"("},)");
  };
  auto c = ParseConfig(with("/backup/exo"), "test.json");
  REQUIRE(c.ok());
  CHECK(c->store().backup_dir() == "/backup/exo");
  CHECK(ParseConfig(with("/var/lib/exo/backups"), "test.json").ok());
  CHECK(ParseConfig(with("/var/lib/exo/dbx"), "test.json").ok());
  CHECK(ErrorOf(with("/var/lib/exo/db/backups")) ==
        "config test.json: store.backup_dir: must not be inside the database directory /var/lib/exo/db, got "
        "\"/var/lib/exo/db/backups\"");
  CHECK(ErrorOf(with("/var/lib/exo/./db")).find("store.backup_dir: must not be inside the database directory") !=
        std::string::npos);
}

TEST_CASE("the store's memory and log bounds default to 64 MiB and are checked", "[config]") {
  auto with = [](const std::string& store) {
    return DefaultWith(R"("data_dir": "./exoroute-data",)", R"("data_dir": "./exoroute-data", "store": {)" + store + "},");
  };
  auto defaults = ParseConfig(with(""), "test.json");
  REQUIRE(defaults.ok());
  CHECK(defaults->store().memtable_mib() == 64);
  CHECK(defaults->store().max_wal_mib() == 64);
  auto set = ParseConfig(with(R"("memtable_mib": 256, "max_wal_mib": 16)"), "test.json");
  REQUIRE(set.ok());
  CHECK(set->store().memtable_mib() == 256);
  CHECK(set->store().max_wal_mib() == 16);
  CHECK(ErrorOf(with(R"("memtable_mib": 8)")) ==
        "config test.json: store.memtable_mib: must be within 16..65536 (MiB), got 8");
  CHECK(ErrorOf(with(R"("memtable_mib": 70000)")) ==
        "config test.json: store.memtable_mib: must be within 16..65536 (MiB), got 70000");
  CHECK(ErrorOf(with(R"("max_wal_mib": 2)")) ==
        "config test.json: store.max_wal_mib: must be within 4..65536 (MiB), got 2");
}

TEST_CASE("the log's format is text by default, JSON on request, and nothing else", "[config]") {
  auto with = [](const std::string& log) {
    return DefaultWith(R"("data_dir": "./exoroute-data",)", R"("data_dir": "./exoroute-data", "log": )" + log + ",");
  };
  auto defaults = ParseConfig(DefaultConfigJson(), "test.json");
  REQUIRE(defaults.ok());
  CHECK(defaults->log().format() == exoroute::v1::LOG_FORMAT_UNSPECIFIED);  // Text.
  auto json = ParseConfig(with(R"({"format": "LOG_FORMAT_JSON"})"), "test.json");
  REQUIRE(json.ok());
  CHECK(json->log().format() == exoroute::v1::LOG_FORMAT_JSON);
  CHECK(ErrorOf(with(R"({"format": 9})")) == "config test.json: log.format: must be LOG_FORMAT_TEXT or LOG_FORMAT_JSON, got 9");
  CHECK(ErrorOf(with(R"({"format": "LOG_FORMAT_XML"})")).find("log.format") != std::string::npos);
}

TEST_CASE("risk limits name a configured instrument once and limit something", "[config][risk]") {
  auto with = [](const std::string& risk) {
    return DefaultWith(R"("data_dir": "./exoroute-data",)", R"("data_dir": "./exoroute-data", "risk": )" + risk + ",");
  };
  auto set = ParseConfig(with(R"([{"symbol": "BTC-USD", "max_order_quantity": 1000000000, "max_working_quantity": 5000000000}])"),
                         "test.json");
  REQUIRE(set.ok());
  REQUIRE(set->risk_size() == 1);
  CHECK(set->risk(0).max_order_quantity() == 1'000'000'000);
  CHECK(set->risk(0).max_order_notional() == 0);
  CHECK(ErrorOf(with(R"([{"symbol": "XBT-USD", "max_order_quantity": 1}])")) ==
        "config test.json: risk[0].symbol: \"XBT-USD\" is not one of instruments[] (BTC-USD, ETH-USD)");
  CHECK(ErrorOf(with(R"([{"symbol": "BTC-USD", "max_order_quantity": 1}, {"symbol": "BTC-USD", "max_order_notional": 1}])")) ==
        "config test.json: risk[1].symbol: \"BTC-USD\" has a limit already: one entry per instrument");
  // A client's own limits: beside the instrument's, one per client, and only with client certificates.
  CHECK(ErrorOf(with(R"([{"symbol": "BTC-USD", "client": "desk-a", "max_working_quantity": 1}])")) ==
        "config test.json: risk[0].client: a client's orders are told apart by its certificate: set "
        "tls.require_client_cert");
  const auto with_mtls = [&](const std::string& risk) {
    std::string json = with(risk);
    json.replace(json.find("\"risk\": "), 8, R"("tls": {"require_client_cert": true}, "risk": )");
    return json;
  };
  auto clients = ParseConfig(with_mtls(R"([{"symbol": "BTC-USD", "max_order_quantity": 1000000000},
                                           {"symbol": "BTC-USD", "client": "desk-a", "max_working_quantity": 5}])"),
                             "test.json");
  INFO(clients.status().ToString());
  REQUIRE(clients.ok());
  CHECK(clients->risk(1).client() == "desk-a");
  CHECK(ErrorOf(with_mtls(R"([{"symbol": "BTC-USD", "client": "desk-a", "max_working_quantity": 5},
                             {"symbol": "BTC-USD", "client": "desk-a", "max_order_quantity": 5}])")) ==
        "config test.json: risk[1].symbol: \"BTC-USD\" has a limit for client \"desk-a\" already: one entry per "
        "instrument and client");
  CHECK(ErrorOf(with(R"([{"symbol": "BTC-USD", "max_order_notional": -5}])")) ==
        "config test.json: risk[0].max_order_notional: must be >= 0 (0 = none), got -5");
  CHECK(ErrorOf(with(R"([{"symbol": "ETH-USD"}])")) ==
        "config test.json: risk[0]: sets no limit: give max_order_quantity, max_order_notional, max_working_quantity "
        "or max_orders_per_second");
  auto rate = ParseConfig(with(R"([{"symbol": "ETH-USD", "max_orders_per_second": 50}])"), "test.json");
  REQUIRE(rate.ok());
  CHECK(rate->risk(0).max_orders_per_second() == 50);
  CHECK(ErrorOf(with(R"([{"symbol": "ETH-USD", "max_orders_per_second": 10001}])")) ==
        "config test.json: risk[0].max_orders_per_second: must be <= 10000 (0 = none), got 10001");
  CHECK(ErrorOf(with(R"([{"symbol": "ETH-USD", "max_orders_per_second": -1}])")).find("risk[0].max_orders_per_second") !=
        std::string::npos);
}

TEST_CASE("a venue needs an adapter and markets", "[config]") {
  CHECK(ErrorOf(R"({"instruments":[{"symbol":"X"}],"venues":[{"id":"V","markets":[{"symbol":"X","lot_size":1}]}]})") ==
        "config test.json: venues[0]: an adapter is required (\"sim\", \"ws_feed\" or \"fix\")");
  CHECK(ErrorOf(R"({"instruments":[{"symbol":"X"}],"venues":[{"id":"V","markets":[{"symbol":"X","lot_size":1}],"ws_feed":{"format":"FEED_FORMAT_BINANCE_SPOT","url":"ws://h:1/s"}}]})") ==
        "config test.json: venues[0].ws_feed.snapshot_url: required for Binance: an http(s) URL with {symbol}");
  CHECK(ErrorOf(R"({"instruments":[{"symbol":"X"}],"venues":[{"id":"V","markets":[{"symbol":"X","lot_size":1}],"ws_feed":{"format":"FEED_FORMAT_COINBASE_LEVEL2","url":"http://h/"}}]})") ==
        "config test.json: venues[0].ws_feed.url: must be a ws:// or wss:// URL, got \"http://h/\"");
  CHECK(ErrorOf(R"({"instruments":[{"symbol":"X"}],"venues":[{"id":"V","sim":{"mid_price":1}}]})") ==
        "config test.json: venues[0].markets: at least one market is required");
  CHECK(ErrorOf(R"({"instruments":[{"symbol":"X"}],"venues":[{"id":"V","markets":[{"symbol":"X","lot_size":1}],"sim":{"mid_price":100}}]})") ==
        "config test.json: venues[0].sim.tick_size: must be > 0, got 0");
  CHECK(ErrorOf(R"({"instruments":[{"symbol":"X"}],"venues":[{"id":"V","markets":[{"symbol":"X","lot_size":1}],"fix":{"host":"h","port":9878,"sender_comp_id":"E","target_comp_id":"V","market_data":true}}]})") ==
        "config test.json: venues[0].fix.data_dictionary: required with market_data: QuickFIX reads the repeating "
        "groups of market data (W, X) only with a data dictionary (the FIX 4.4 one ships as deploy/fix/FIX44.xml)");
  CHECK(ErrorOf(R"({"instruments":[{"symbol":"X"}],"venues":[{"id":"V","markets":[{"symbol":"X","lot_size":1}],"fix":{"host":"h","port":9878,"sender_comp_id":"E","target_comp_id":"V","status_poll_ms":500}}]})") ==
        "config test.json: venues[0].fix.status_poll_ms: must be 0 (never) or 1000..3600000, got 500");
  CHECK(ParseConfig(R"({"instruments":[{"symbol":"X"}],"venues":[{"id":"V","markets":[{"symbol":"X","lot_size":1}],"fix":{"host":"h","port":9878,"sender_comp_id":"E","target_comp_id":"V","status_poll_ms":60000}}]})",
                    "test.json").ok());
}

TEST_CASE("a sim venue's market may draw its own book, the venue's values are the others' defaults", "[config]") {
  auto venue = [](const std::string& markets, const std::string& sim) {
    return R"({"instruments":[{"symbol":"X"},{"symbol":"Y"}],"venues":[{"id":"V","markets":[)" + markets +
           R"(],"sim":{)" + sim + "}}]}";
  };
  const std::string x = R"({"symbol":"X","lot_size":1})";
  const std::string y_own = R"({"symbol":"Y","lot_size":1,"sim":{"mid_price":300,"tick_size":1,"level_size":5}})";
  // Every market has its own mid, tick and size: the venue needs none.
  auto own = ParseConfig(venue(y_own, R"("seed":1)"), "test.json");
  REQUIRE(own.ok());
  CHECK(own->venues(0).markets(0).sim().mid_price() == 300);
  // A venue value no market uses is still checked: a negative one is a mistake, needed or not.
  CHECK(ErrorOf(venue(y_own, R"("mid_price":-5)")) == "config test.json: venues[0].sim.mid_price: must be > 0, got -5");
  CHECK(ErrorOf(venue(y_own, R"("level_size":-1)")) == "config test.json: venues[0].sim.level_size: must be > 0, got -1");
  // A market without its own takes the venue's, which must then be there.
  CHECK(ErrorOf(venue(x + "," + y_own, R"("tick_size":1,"level_size":5)")) ==
        "config test.json: venues[0].sim.mid_price: must be > 0, got 0");
  CHECK(ParseConfig(venue(x + "," + y_own, R"("mid_price":100,"tick_size":1,"level_size":5)"), "test.json").ok());
  CHECK(ErrorOf(venue(R"({"symbol":"Y","lot_size":1,"sim":{"tick_size":-2}})", R"("mid_price":100,"tick_size":1,"level_size":5)")) ==
        "config test.json: venues[0].markets[0].sim.tick_size: must be > 0, or 0 for the venue's sim.tick_size, got -2");
  // Only a sim venue draws books.
  CHECK(ErrorOf(R"({"instruments":[{"symbol":"X"}],"venues":[{"id":"V","markets":[{"symbol":"X","lot_size":1,"sim":{"mid_price":5}}],)"
                R"("ws_feed":{"format":"FEED_FORMAT_COINBASE_LEVEL2","url":"ws://h:1/s"}}]})") ==
        "config test.json: venues[0].markets[0].sim: only a sim venue draws books: this venue has no `sim`");
}

TEST_CASE("more venues than one decision takes are refused", "[config]") {
  std::string venues;
  for (int i = 0; i < 1025; ++i) {
    venues += std::string(i == 0 ? "" : ",") + R"({"id":"V)" + std::to_string(i) +
              R"(","markets":[{"symbol":"X","lot_size":1}],"sim":{"mid_price":100,"tick_size":1}})";
  }
  CHECK(ErrorOf(R"({"instruments":[{"symbol":"X"}],"venues":[)" + venues + "]}") ==
        "config test.json: venues: at most 1024 (what one decision takes), got 1025");
}

TEST_CASE("urgency bands are checked against each other and their bound", "[config]") {
  auto with_routing = [](const std::string& routing) {
    return DefaultWith("\"routing\": {", "\"routing\": {" + routing + ", ");
  };
  CHECK(ErrorOf(with_routing(R"("low_urgency_band_bps": 2000)")) ==
        "config test.json: routing.low_urgency_band_bps: must be <= 1000 (10 %), got 2000");
  CHECK(ErrorOf(with_routing(R"("normal_urgency_band_bps": 1)")) ==
        "config test.json: routing.normal_urgency_band_bps: must be 0 (no band) or from the low urgency band (2 bp) "
        "to 1000, got 1");
  CHECK(ErrorOf(with_routing(R"("low_urgency_band_bps": 20, "normal_urgency_band_bps": 15)")) ==
        "config test.json: routing.normal_urgency_band_bps: must be 0 (no band) or from the low urgency band (20 bp) "
        "to 1000, got 15");
  auto ok = ParseConfig(with_routing(R"("low_urgency_band_bps": 4, "normal_urgency_band_bps": 25)"), "t");
  REQUIRE(ok.ok());
  CHECK(exo::daemon::UrgencyBandBps(ok->routing(), exoroute::v1::URGENCY_LOW) == 4);
  CHECK(exo::daemon::UrgencyBandBps(ok->routing(), exoroute::v1::URGENCY_NORMAL) == 25);
  CHECK(exo::daemon::UrgencyBandBps(ok->routing(), exoroute::v1::URGENCY_UNSPECIFIED) == 25);
  CHECK(exo::daemon::UrgencyBandBps(ok->routing(), exoroute::v1::URGENCY_HIGH) == 0);
  auto defaults = ParseConfig(DefaultConfigJson(), "t");
  REQUIRE(defaults.ok());
  CHECK(exo::daemon::UrgencyBandBps(defaults->routing(), exoroute::v1::URGENCY_LOW) == 2);
  CHECK(exo::daemon::UrgencyBandBps(defaults->routing(), exoroute::v1::URGENCY_NORMAL) == 0);
}

TEST_CASE("a bad cluster section is refused with the path of the bad field", "[config]") {
  auto with_cluster = [](const std::string& cluster) {
    return DefaultWith("\"routing\":", "\"cluster\": " + cluster + ",\n  \"routing\":");
  };
  CHECK(ErrorOf(with_cluster(R"({"listen": "127.0.0.1:50611"})")) ==
        "config test.json: cluster.ca_file: required: peers talk mutual TLS only");
  CHECK(ErrorOf(with_cluster(R"({"listen": "nowhere"})")) ==
        "config test.json: cluster.listen: must be host:port, got \"nowhere\"");
  // With real files, the peers are checked.
  const std::string f = "/proc/self/status";  // Any existing file passes the existence check.
  std::string files = R"("listen": "127.0.0.1:1", "ca_file": ")" + f + R"(", "cert_file": ")" + f +
                      R"(", "key_file": ")" + f + R"(")";
  CHECK(ErrorOf(with_cluster("{" + files + "}")) ==
        "config test.json: cluster.peers: at least one peer is required");
  CHECK(ErrorOf(with_cluster("{" + files + R"(, "peers": [{"node_id": "node-1", "address": "h:1"}]})")) ==
        "config test.json: cluster.peers[0].node_id: \"node-1\" is this node or another peer");
  CHECK(ErrorOf(with_cluster("{" + files + R"(, "peers": [{"node_id": "n2", "address": "h"}]})")) ==
        "config test.json: cluster.peers[0].address: must be host:port, got \"h\"");
  CHECK(ErrorOf(with_cluster("{" + files + R"(, "peers": [{"node_id": "n2", "address": "h:1"}], "round_timeout_ms": 90000})")) ==
        "config test.json: cluster.round_timeout_ms: must be <= 60000, got 90000");
  CHECK(ErrorOf(with_cluster("{" + files + R"(, "peers": [{"node_id": "n2", "address": "h:1"}], "shortfall_retry_ms": 3600001})")) ==
        "config test.json: cluster.shortfall_retry_ms: must be <= 3600000 (an hour; 0 = 1000), got 3600001");
  CHECK(ErrorOf(DefaultWith("\"routing\": {", "\"routing\": {\"child_timeout_ms\": 600001, ")) ==
        "config test.json: routing.child_timeout_ms: must be <= 600000 (0 = 10000), got 600001");
  CHECK(ErrorOf(DefaultWith("\"routing\": {", "\"routing\": {\"reject_backoff_ms\": 60001, ")) ==
        "config test.json: routing.reject_backoff_ms: must be <= 60000 (0 = 1000), got 60001");
  CHECK(ErrorOf(DefaultWith("\"routing\": {", "\"routing\": {\"settle_approvals\": 3, ")) ==
        "config test.json: routing.settle_approvals: must be 0 or 1 (one operator) or 2 (four eyes), got 3");
  // Four eyes must tell the two operators apart: by their client certificates.
  CHECK(ErrorOf(DefaultWith("\"routing\": {", "\"routing\": {\"settle_approvals\": 2, ")) ==
        "config test.json: routing.settle_approvals: 2 (four eyes) needs client certificates to tell operators apart: "
        "set tls.require_client_cert");
  {
    auto four_eyes = ParseConfig(
        DefaultWith("\"routing\": {", "\"tls\": {\"require_client_cert\": true}, \"routing\": {\"settle_approvals\": 2, "),
        "test.json");
    INFO(four_eyes.status().ToString());
    REQUIRE(four_eyes.ok());
    CHECK(four_eyes->routing().settle_approvals() == 2);
  }
  // Access by client certificate: needs them, names someone, and names them as certificates can.
  CHECK(ErrorOf(DefaultWith("\"routing\": {", "\"access\": {\"trade\": [\"desk-a\"]}, \"routing\": {")) ==
        "config test.json: access: callers are told apart by their client certificates: set tls.require_client_cert");
  const std::string mtls = "\"tls\": {\"require_client_cert\": true}, ";
  CHECK(ErrorOf(DefaultWith("\"routing\": {", mtls + "\"access\": {}, \"routing\": {")) ==
        "config test.json: access: names no caller, so no RPC could be called; remove it to let every client call "
        "every RPC");
  CHECK(ErrorOf(DefaultWith("\"routing\": {", mtls + "\"access\": {\"operate\": [\"ops\", \"\"]}, \"routing\": {")) ==
        "config test.json: access.operate[1]: a name of 1 to 256 characters, got 0");
  CHECK(ErrorOf(DefaultWith("\"routing\": {", mtls + "\"access\": {\"read\": [\"a\\tb\"]}, \"routing\": {")) ==
        "config test.json: access.read[0]: a certificate name has no control characters");
  CHECK(ErrorOf(DefaultWith("\"routing\": {", mtls + "\"access\": {\"readers\": [\"x\"]}, \"routing\": {"))
            .find("access.readers: unknown key") != std::string::npos);
  {
    auto roles = ParseConfig(DefaultWith("\"routing\": {", mtls + "\"access\": {\"trade\": [\"desk-a\"], \"operate\": "
                                                             "[\"ops-1\"], \"read\": [\"*\"]}, \"routing\": {"),
                             "test.json");
    INFO(roles.status().ToString());
    REQUIRE(roles.ok());
    CHECK(roles->has_access());
    CHECK(roles->access().trade(0) == "desk-a");
    CHECK(roles->access().read(0) == "*");
  }
  CHECK(ErrorOf(with_cluster("{" + files + R"(, "peers": [{"node_id": "n2", "address": "h:1"}], "privacy": {"epsilon_milli": 500}})")) ==
        "config test.json: cluster.privacy.sensitivity: must be > 0 with epsilon_milli, got 0");
  CHECK(ErrorOf(with_cluster("{" + files + R"(, "peers": [{"node_id": "n2", "address": "h:1"}], "privacy": {"epsilon_milli": 500, "sensitivity": 100000, "budget_milli": 10}})")) ==
        "config test.json: cluster.privacy.budget_milli: must allow at least one release (>= epsilon_milli 500), got 10");
  CHECK(ParseConfig(with_cluster("{" + files + R"(, "peers": [{"node_id": "n2", "address": "h:1"}]})"), "t").ok());
  std::string banded = with_cluster("{" + files + R"(, "peers": [{"node_id": "n2", "address": "h:1"}]})");
  banded.replace(banded.find("\"routing\": {"), std::string("\"routing\": {").size(),
                 "\"routing\": {\"normal_urgency_band_bps\": 5, ");
  // A cluster route takes the coordinator's band over every node's venues (docs/cluster.md).
  CHECK(ParseConfig(banded, "t").ok());
}

TEST_CASE("a fee or impact of -0 is 0: the config shown parses back to the config in force", "[config]") {
  auto c = ParseConfig(DefaultWith("\"taker_fee_bps\": 2.0", "\"taker_fee_bps\": -0.0, \"impact_bps\": -0.0"), "test.json");
  REQUIRE(c.ok());
  CHECK_FALSE(std::signbit(c->venues(0).taker_fee_bps()));
  CHECK_FALSE(std::signbit(c->venues(0).impact_bps()));
  std::string printed;
  REQUIRE(google::protobuf::util::MessageToJsonString(*c, &printed).ok());
  auto again = ParseConfig(printed, "printed");
  REQUIRE(again.ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*c, *again));
}
