// How a decision's reasons write prices and quantities (SolveInput.reason_units): integers of
// units (the reasons of decisions recorded before the field existed, which replay so) or
// decimals at the instrument's scales.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "exo/fixed_point.h"
#include "exoroute/v1/types.pb.h"

namespace exo::solver {

class ReasonUnits {
 public:
  ReasonUnits() = default;  // Integers of units.
  explicit ReasonUnits(const exoroute::v1::SolveInput& in)
      : decimal_(in.reason_units() == exoroute::v1::REASON_UNITS_DECIMAL),
        price_scale_(in.instrument().price_scale()),
        qty_scale_(in.instrument().qty_scale()) {}

  std::string Px(int64_t price) const { return decimal_ ? FormatDecimal(price, price_scale_) : absl::StrCat(price); }
  std::string Qty(int64_t quantity) const {
    return decimal_ ? FormatDecimal(quantity, qty_scale_) : absl::StrCat(quantity);
  }

 private:
  bool decimal_ = false;
  uint32_t price_scale_ = 0;
  uint32_t qty_scale_ = 0;
};

}  // namespace exo::solver
