#include "daemon/solve_inputs.h"

namespace exo::daemon {

std::optional<exoroute::v1::VenueInput> VenueInputFor(const exoroute::v1::VenueConfig& venue,
                                                      const std::string& symbol) {
  for (const auto& m : venue.markets()) {
    if (m.symbol() != symbol) continue;
    exoroute::v1::VenueInput vi;
    vi.set_venue(venue.id());
    vi.set_fee_bps(venue.taker_fee_bps());
    vi.set_lot_size(m.lot_size());
    vi.set_max_quantity(m.max_quantity());
    vi.set_min_quantity(m.min_quantity());
    vi.set_max_book_age_ms(venue.max_book_age_ms());
    vi.set_impact_bps(venue.impact_bps());
    return vi;
  }
  return std::nullopt;
}

}  // namespace exo::daemon
