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

void CopyDecidedBook(const exoroute::v1::VenueBook& book, exoroute::v1::Side side,
                     const std::string& venue, exoroute::v1::VenueBook* out) {
  out->set_venue(venue);
  out->set_symbol(book.symbol());
  out->set_sequence(book.sequence());
  out->set_receive_time_ns(book.receive_time_ns());
  const bool buy = side == exoroute::v1::SIDE_BUY;
  *(buy ? out->mutable_asks() : out->mutable_bids()) = buy ? book.asks() : book.bids();
  const auto& other = buy ? book.bids() : book.asks();
  if (!other.empty()) *(buy ? out->add_bids() : out->add_asks()) = other[0];
}

}  // namespace exo::daemon
