// Parent orders as unit tests send them to an engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "exoroute/v1/types.pb.h"

namespace exo::testing {

// A GTC order for BTC-USD (the embedded default config's instrument), with a limit when given.
inline exoroute::v1::ParentOrder BtcParentOrder(const std::string& id, exoroute::v1::Side side, int64_t qty,
                                                std::optional<int64_t> limit = std::nullopt) {
  exoroute::v1::ParentOrder o;
  o.set_id(id);
  o.set_symbol("BTC-USD");
  o.set_side(side);
  o.set_quantity(qty);
  o.set_time_in_force(exoroute::v1::TIME_IN_FORCE_GTC);
  if (limit) o.set_limit_price(*limit);
  return o;
}

}  // namespace exo::testing
