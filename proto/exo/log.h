// Minimal structured logging to stderr, one line per message: text,
//   2026-11-24T17:00:00.123Z INFO  message
// or JSON (SetLogFormat; config log.format), for log shippers,
//   {"time":"2026-11-24T17:00:00.123Z","level":"info","node":"n1","message":"message"}
// Thread-safe (one write per line). Abseil 20220623 has no absl/log.
#pragma once

#include <cstdint>
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

}  // namespace exo
