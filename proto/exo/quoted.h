// A value someone gave (a client's request field, an operator's config value) quoted in an error
// message: in double quotes, C-escaped (a line break as \n, a quote as \", a non-ASCII or other
// control byte as \xNN) so that the message stays one line and shows exactly what was given, and
// cut after its first 64 bytes with its length (a request may carry megabytes in one string;
// the answer and the log should not):
//   "BTC USD"   "a\nb"   "xxxx…"... (1048576 bytes)
#pragma once

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace exo {

inline std::string Quoted(absl::string_view v) {
  constexpr size_t kShown = 64;
  if (v.size() <= kShown) return absl::StrCat("\"", absl::CHexEscape(v), "\"");
  return absl::StrCat("\"", absl::CHexEscape(v.substr(0, kShown)), "\"... (", v.size(), " bytes)");
}

}  // namespace exo
