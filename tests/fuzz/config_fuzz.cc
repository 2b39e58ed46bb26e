// Config files as an operator might write them, typos and all: ParseConfig (JSON, unknown keys,
// defaults, validation). Checks: a refusal is INVALID_ARGUMENT naming the config; a config that
// is taken prints (JSON) to a config that parses to the same one — a restart from what the node
// shows would not record a change of config.
#include "daemon/config.h"
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
  return 0;
}
