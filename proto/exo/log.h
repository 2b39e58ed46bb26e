// Minimal structured logging to stderr: "2026-11-24T17:00:00.123Z INFO  message".
// Thread-safe (one write per line). Abseil 20220623 has no absl/log.
#pragma once

#include <string>

#include "absl/strings/str_format.h"

namespace exo {

enum class LogLevel { kInfo, kWarning, kError };

void LogLine(LogLevel level, const std::string& message);

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
