// Config files as an operator might write them, typos and all: ParseConfig (JSON, unknown keys,
// defaults, validation). Checks: a refusal is INVALID_ARGUMENT naming the config; a config that
// is taken prints (JSON) to a config that parses to the same one — a restart from what the node
// shows would not record a change of config. And a reload (daemon/config_reload.h) of a taken
// config takes it unchanged and with its reloadable fields changed, and refuses it with another
// node id, naming it.
#include "daemon/config.h"
#include "daemon/config_reload.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_target.h"

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  const std::string& d = daemon::DefaultConfigJson();
  std::vector<std::string> out = {d};
  // A few edits an operator makes: a fee, a venue's book age, the routing interval, a typo.
  auto edit = [&d](const std::string& from, const std::string& to) {
    std::string s = d;
    const size_t at = s.find(from);
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  out.push_back(edit("\"replan_interval_ms\": 50", "\"replan_interval_ms\": 5"));
  out.push_back(edit("\"replan_interval_ms\": 50", "\"replan_interval_msx\": 50"));
  out.push_back(edit("\"routing\"", "\"store\": { \"checkpoint_every_deltas\": 10 }, \"routing\""));
  // Access by client certificate, and a client's own risk limit beside its instrument's.
  out.push_back(edit("\"routing\"",
                     "\"tls\": { \"require_client_cert\": true }, \"access\": { \"trade\": [\"desk-a\"], \"operate\": "
                     "[\"ops-1\"], \"read\": [\"*\"] }, \"risk\": [{ \"symbol\": \"BTC-USD\", \"max_order_quantity\": "
                     "100000000 }, { \"symbol\": \"BTC-USD\", \"client\": \"desk-a\", \"max_orders_per_second\": 5 }], "
                     "\"routing\""));
  return out;
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<exoroute::v1::DaemonConfig> c = exo::daemon::ParseConfig(json, "fuzz.json");
  if (!c.ok()) {
    FUZZ_CHECK(c.status().code() == absl::StatusCode::kInvalidArgument, "%s", c.status().ToString().c_str());
    FUZZ_CHECK(c.status().message().find("config fuzz.json: ") == 0, "%s", c.status().ToString().c_str());
    return 0;
  }
  std::string printed;
  FUZZ_CHECK(google::protobuf::util::MessageToJsonString(*c, &printed).ok(), "a taken config does not print");
  absl::StatusOr<exoroute::v1::DaemonConfig> again = exo::daemon::ParseConfig(printed, "printed");
  FUZZ_CHECK(again.ok(), "the printed config is refused: %s\n%s", again.status().ToString().c_str(), printed.c_str());
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(*c, *again), "the printed config parses to another:\n%s",
             printed.c_str());

  FUZZ_CHECK(exo::daemon::CheckReloadable(*c, *c).ok(), "a reload of the config in force is refused");
  exoroute::v1::DaemonConfig terms = *c;
  terms.clear_risk();
  if (terms.has_access()) terms.mutable_access()->add_read("auditor");  // Who may call what: reloadable too.
  terms.mutable_routing()->set_low_urgency_band_bps(c->routing().low_urgency_band_bps() + 1);
  terms.mutable_routing()->set_replan_interval_ms(c->routing().replan_interval_ms() + 1);
  terms.mutable_store()->set_checkpoint_every_deltas(c->store().checkpoint_every_deltas() + 1);
  terms.mutable_routing()->set_method(c->routing().method() == exoroute::v1::SOLVER_METHOD_ADMM
                                          ? exoroute::v1::SOLVER_METHOD_EXACT
                                          : exoroute::v1::SOLVER_METHOD_ADMM);
  for (auto& v : *terms.mutable_venues()) {
    v.set_taker_fee_bps(-v.taker_fee_bps() + 1);
    v.set_impact_bps(v.impact_bps() + 1);
    v.set_max_book_age_ms(v.max_book_age_ms() + 1);
  }
  const absl::Status reload = exo::daemon::CheckReloadable(*c, terms);
  FUZZ_CHECK(reload.ok(), "a reload of risk limits, bands, method, intervals and venue terms is refused: %s", reload.ToString().c_str());
  exoroute::v1::DaemonConfig other = terms;
  other.set_node_id(c->node_id() + "x");
  const absl::Status restart = exo::daemon::CheckReloadable(*c, other);
  FUZZ_CHECK(restart.code() == absl::StatusCode::kFailedPrecondition &&
                 restart.message().find("modified: node_id") != std::string::npos &&
                 restart.message().find("taker_fee_bps: ") == std::string::npos,
             "another node id: %s", restart.ToString().c_str());
  return 0;
}
