// Small error-propagation macros over absl::Status / absl::StatusOr (Abseil 20220623 has
// neither RETURN_IF_ERROR nor ASSIGN_OR_RETURN). Used by every module.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define EXO_CONCAT_INNER(a, b) a##b
#define EXO_CONCAT(a, b) EXO_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define EXO_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::absl::Status exo_status_ = (expr);          \
    if (!exo_status_.ok()) return exo_status_;    \
  } while (0)

// `EXO_ASSIGN_OR_RETURN(auto x, Foo());` assigns the value or returns the error.
#define EXO_ASSIGN_OR_RETURN(lhs, expr) \
  EXO_ASSIGN_OR_RETURN_IMPL(EXO_CONCAT(exo_statusor_, __LINE__), lhs, expr)
#define EXO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#include <string_view>

#include "absl/strings/string_view.h"

namespace exo {
// Debian's Abseil 20220623 is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW
// is 0), which does not convert from std::string_view; pass std::string_view to StrCat via this.
inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace exo
