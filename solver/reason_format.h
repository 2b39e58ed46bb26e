// How a decision words its exclusion reasons (SolveInput.reason_text): prices and quantities
// as integers of units (the reasons of decisions recorded before the field existed, which
// replay so), or as a client reads them — decimals at the instrument's scales, a count of one
// in the singular.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "exo/fixed_point.h"
#include "exoroute/v1/types.pb.h"

namespace exo::solver {

class ReasonFormat {
 public:
  ReasonFormat() = default;  // Integers of units.
  explicit ReasonFormat(const exoroute::v1::SolveInput& in)
      : readable_(in.reason_text() == exoroute::v1::REASON_TEXT_READABLE),
        price_scale_(in.instrument().price_scale()),
        qty_scale_(in.instrument().qty_scale()) {}

  std::string Px(int64_t price) const { return readable_ ? FormatDecimal(price, price_scale_) : absl::StrCat(price); }
  std::string Qty(int64_t quantity) const {
    return readable_ ? FormatDecimal(quantity, qty_scale_) : absl::StrCat(quantity);
  }
  // "3 venues", "1 venue" ("1 venues" as integers of units: the older wording).
  std::string Count(uint64_t n, const char* noun) const {
    return absl::StrCat(n, " ", noun, n == 1 && readable_ ? "" : "s");
  }

 private:
  bool readable_ = false;
  uint32_t price_scale_ = 0;
  uint32_t qty_scale_ = 0;
};

}  // namespace exo::solver
