#include <unistd.h>

#include <chrono>
#include <ctime>

#include "exo/clock.h"
#include "exo/log.h"

namespace exo {
namespace {

LogFormat g_format = LogFormat::kText;  // Set once at start-up (SetLogFormat), then read only.

// The node named in JSON lines: set with g_format. Never destroyed, so that a line logged while
// the process exits still finds it.
std::string& NodeName() {
  static std::string* node = new std::string();
  return *node;
}

// Length of the valid UTF-8 sequence at s[i] (0: not one).
size_t Utf8Length(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xc0) == 0x80; };
  const unsigned char c = b(i);
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xe0 && b(i + 1) < 0xa0) return 0;  // Overlong.
    if (c == 0xed && b(i + 1) > 0x9f) return 0;  // Surrogates.
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xf0 && b(i + 1) < 0x90) return 0;  // Overlong.
    if (c == 0xf4 && b(i + 1) > 0x8f) return 0;  // Beyond U+10FFFF.
    return 4;
  }
  return 0;
}

// Messages carry text from outside (a venue's reject reason, a peer's error, a garbled field):
// control characters are escaped, so one message is one line and no text can forge another.
void AppendText(const std::string& message, std::string* line) {
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      *line += c;
    } else if (c == '\n') {
      *line += "\\n";
    } else if (c == '\t') {
      *line += "\\t";
    } else if (c == '\r') {
      *line += "\\r";
    } else {
      *line += absl::StrFormat("\\x%02x", u);
    }
  }
}

// As a JSON string's content: quotes, backslashes and control characters escaped, valid UTF-8
// kept, and a byte that is not UTF-8 written as the text \xNN (as the text format does), so
// that every line is valid JSON.
void AppendJson(const std::string& text, std::string* line) {
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      if (const size_t n = Utf8Length(text, i); n > 0) {
        line->append(text, i, n);
        i += n;
      } else {
        *line += absl::StrFormat("\\\\x%02x", u);
        ++i;
      }
      continue;
    }
    if (c == '"') {
      *line += "\\\"";
    } else if (c == '\\') {
      *line += "\\\\";
    } else if (c == '\n') {
      *line += "\\n";
    } else if (c == '\t') {
      *line += "\\t";
    } else if (c == '\r') {
      *line += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      *line += absl::StrFormat("\\u%04x", u);
    } else {
      *line += c;
    }
    ++i;
  }
}

}  // namespace

void SetLogFormat(LogFormat format, const std::string& node) {
  g_format = format;
  NodeName() = node;
}

std::string FormatLogLine(LogLevel level, const std::string& message, int64_t ns) {
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  const int millis = static_cast<int>((ns / 1'000'000) % 1000);
  std::string line;
  line.reserve(64 + message.size());
  if (g_format == LogFormat::kJson) {
    const char* name = level == LogLevel::kInfo ? "info" : level == LogLevel::kWarning ? "warning" : "error";
    line = absl::StrFormat("{\"time\":\"%s.%03dZ\",\"level\":\"%s\"", stamp, millis, name);
    if (const std::string& node = NodeName(); !node.empty()) {
      line += ",\"node\":\"";
      AppendJson(node, &line);
      line += '"';
    }
    line += ",\"message\":\"";
    AppendJson(message, &line);
    line += "\"}\n";
    return line;
  }
  const char* tag = level == LogLevel::kInfo ? "INFO " : level == LogLevel::kWarning ? "WARN " : "ERROR";
  line = absl::StrFormat("%s.%03dZ %s ", stamp, millis, tag);
  AppendText(message, &line);
  line += '\n';
  return line;
}

std::optional<std::string> RepeatedWarning::Next(const std::string& message, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (last_ns_.has_value() && now_ns - *last_ns_ < every_ns_) {
    ++held_;
    return std::nullopt;
  }
  std::string line = message;
  if (held_ > 0) {
    absl::StrAppendFormat(&line, " (%d more like it in the last %d s, not logged)", held_,
                          (now_ns - *last_ns_) / 1'000'000'000);
  }
  last_ns_ = now_ns;
  held_ = 0;
  return line;
}

void RepeatedWarning::Log(const std::string& message) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  if (std::optional<std::string> line = Next(message, std::chrono::duration_cast<std::chrono::nanoseconds>(now).count())) {
    LogLine(LogLevel::kWarning, *line);
  }
}

uint64_t RepeatedWarning::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t held = held_;
  last_ns_.reset();
  held_ = 0;
  return held;
}

void LogLine(LogLevel level, const std::string& message) {
  const std::string line = FormatLogLine(level, message, SystemClock()->NowNs());
  // One write(2) per line keeps lines whole across threads.
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;
}

}  // namespace exo
