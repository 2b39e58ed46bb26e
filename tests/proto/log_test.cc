// The daemon's log lines (exo/log.h): one message is one line, whatever text it carries.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "exo/log.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/testing/captured_stderr.h"

namespace {

// What LogWarning(`message`) writes to stderr.
std::string Logged(const std::string& message) {
  return exo::testing::CapturedStderr([&] { exo::LogWarning("venue says: %s", message); });
}

}  // namespace

TEST_CASE("a log message carrying newlines or control characters from outside stays one line", "[log]") {
  // A venue's reject text that tries to forge a second line.
  const std::string forged = "no\n2026-12-03T00:00:00.000Z ERROR operator approved\r\x1b[2J\x7f\ttab";
  const std::string line = Logged(forged);
  INFO(line);
  REQUIRE(line.size() > 1);
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(line.find(" WARN  venue says: no\\n2026-12-03T00:00:00.000Z ERROR operator approved\\r\\x1b[2J\\x7f\\ttab\n") !=
        std::string::npos);
  // Text without control characters is written as it is (UTF-8 included).
  CHECK(Logged("BTC-USD € 65000.00 \"quoted\" \\ back").find("venue says: BTC-USD € 65000.00 \"quoted\" \\ back\n") !=
        std::string::npos);
}

TEST_CASE("JSON log lines are one valid JSON object each, whatever the message carries", "[log]") {
  exo::SetLogFormat(exo::LogFormat::kJson, "node-\"1\"");
  // Quotes, backslashes, control characters, UTF-8, a byte that is not UTF-8 and a cut-off
  // sequence: what a garbled venue message may hold.
  const std::string message = "reject \"x\" \\ path\nforged line\r\x1b[2J\x7f\ttab € \xff end \xe2\x82";
  // 2026-12-04T05:06:07.089Z
  const int64_t at = int64_t{1'796'360'767} * 1'000'000'000 + 89'000'000;
  const std::string line = exo::FormatLogLine(exo::LogLevel::kWarning, message, at);
  exo::SetLogFormat(exo::LogFormat::kText, "");
  INFO(line);
  REQUIRE(!line.empty());
  CHECK(line.find('\n') == line.size() - 1);
  google::protobuf::Struct parsed;
  REQUIRE(google::protobuf::util::JsonStringToMessage(line.substr(0, line.size() - 1), &parsed).ok());
  const auto& f = parsed.fields();
  CHECK(f.at("time").string_value() == "2026-12-04T05:06:07.089Z");
  CHECK(f.at("level").string_value() == "warning");
  CHECK(f.at("node").string_value() == "node-\"1\"");
  // Everything as it was, but the bytes that are not UTF-8, which read as the text \xNN.
  CHECK(f.at("message").string_value() ==
        "reject \"x\" \\ path\nforged line\r\x1b[2J\x7f\ttab € \\xff end \\xe2\\x82");
  CHECK(f.size() == 4);

  // Text again: the same message, escaped as before.
  CHECK(exo::FormatLogLine(exo::LogLevel::kInfo, "a\nb", at) == "2026-12-04T05:06:07.089Z INFO  a\\nb\n");
}

TEST_CASE("a warning repeated while a condition lasts is written once a minute, saying how many were held back",
          "[log]") {
  constexpr int64_t kSecond = 1'000'000'000;
  exo::RepeatedWarning down(60 * kSecond);
  const std::string msg = "V: FIX session down (logged out); not routing here until it is back";
  // A venue away for two and a half minutes, its session failing to log on every second.
  std::vector<std::string> written;
  for (int64_t s = 0; s < 150; ++s) {
    if (auto line = down.Next(msg, 1000 * kSecond + s * kSecond)) written.push_back(*line);
  }
  CHECK(written == std::vector<std::string>{msg, msg + " (59 more like it in the last 60 s, not logged)",
                                            msg + " (59 more like it in the last 60 s, not logged)"});
  // It comes back: the held-back ones are counted for the logon line, and the next drop is
  // written at once.
  CHECK(down.Clear() == 29);
  CHECK(down.Next(msg, 1151 * kSecond) == msg);
  CHECK(down.Next(msg, 1152 * kSecond) == std::nullopt);
  CHECK(down.Clear() == 1);
  CHECK(down.Clear() == 0);
  // Log writes the first one as a warning, and holds the next back.
  exo::RepeatedWarning live;
  const std::string out = exo::testing::CapturedStderr([&] {
    live.Log("feed down");
    live.Log("feed down");
  });
  CHECK(out.find(" WARN  feed down\n") != std::string::npos);
  CHECK(out.find("feed down", out.find("feed down") + 1) == std::string::npos);
}
