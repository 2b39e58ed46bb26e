// Minimal structured logging to stderr, one line per message: text,
//   2026-11-24T17:00:00.123Z INFO  message
// or JSON (SetLogFormat; config log.format), for log shippers,
//   {"time":"2026-11-24T17:00:00.123Z","level":"info","node":"n1","message":"message"}
// Thread-safe (one write per line). Abseil 20220623 has no absl/log.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"

namespace exo {

enum class LogLevel { kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

// How every later line is written; `node` names the node in JSON lines ("" leaves it out). Set
// once, at start-up, before other threads log.
void SetLogFormat(LogFormat format, const std::string& node);

void LogLine(LogLevel level, const std::string& message);
// The line LogLine writes at `time_ns` (with its newline).
std::string FormatLogLine(LogLevel level, const std::string& message, int64_t time_ns);

template <typename... Args>
void LogInfo(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  LogLine(LogLevel::kInfo, absl::StrFormat(fmt, args...));
}
template <typename... Args>
void LogWarning(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  LogLine(LogLevel::kWarning, absl::StrFormat(fmt, args...));
}
template <typename... Args>
void LogError(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  LogLine(LogLevel::kError, absl::StrFormat(fmt, args...));
}

// A warning that comes again and again while a condition lasts (a venue's connection failing at
// every reconnect while it is down: one a second, tens of thousands a day): the first is written,
// then at most one per `every_ns`, saying how many like it were held back since the last one
// written. Clear() when the condition ends: the next one is written at once. Thread-safe.
class RepeatedWarning {
 public:
  explicit RepeatedWarning(int64_t every_ns = int64_t{60} * 1'000'000'000) : every_ns_(every_ns) {}
  // Writes `message` as a warning, or holds it back.
  void Log(const std::string& message);
  // The same at `now_ns` (monotonic): the message as it is to be written, or nothing when it
  // is held back (Log writes it; tests read it).
  std::optional<std::string> Next(const std::string& message, int64_t now_ns);
  // The condition ended: how many were held back since the last one written.
  uint64_t Clear();

 private:
  std::mutex mu_;
  const int64_t every_ns_;
  std::optional<int64_t> last_ns_;  // When the last one was written.
  uint64_t held_ = 0;
};

}  // namespace exo
