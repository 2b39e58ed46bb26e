#include <unistd.h>

#include <chrono>
#include <ctime>

#include "exo/clock.h"
#include "exo/log.h"

namespace exo {
namespace {

class RealClock final : public Clock {
 public:
  int64_t NowNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

Clock* SystemClock() {
  static RealClock clock;
  return &clock;
}

void LogLine(LogLevel level, const std::string& message) {
  int64_t ns = SystemClock()->NowNs();
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  const char* tag = level == LogLevel::kInfo ? "INFO " : level == LogLevel::kWarning ? "WARN " : "ERROR";
  std::string line = absl::StrFormat("%s.%03dZ %s ", stamp, static_cast<int>((ns / 1'000'000) % 1000), tag);
  // Messages carry text from outside (a venue's reject reason, a peer's error, a garbled field):
  // control characters are escaped, so one message is one line and no text can forge another.
  line.reserve(line.size() + message.size() + 1);
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      line += c;
    } else if (c == '\n') {
      line += "\\n";
    } else if (c == '\t') {
      line += "\\t";
    } else if (c == '\r') {
      line += "\\r";
    } else {
      line += absl::StrFormat("\\x%02x", u);
    }
  }
  line += '\n';
  // One write(2) per line keeps lines whole across threads.
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;
}

}  // namespace exo
