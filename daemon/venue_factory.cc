#include "daemon/venue_factory.h"

#include "adapters/book_file.h"
#include "adapters/fix/fix_venue.h"
#include "adapters/sim/sim_venue.h"
#include "adapters/ws/ws_feed_venue.h"
#include "exo/status_macros.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT

absl::StatusOr<std::vector<RouterEngine::Venue>> MakeVenues(const DaemonConfig& config,
                                                            Clock* clock) {
  std::vector<RouterEngine::Venue> venues;
  for (const VenueConfig& vc : config.venues()) {
    RouterEngine::Venue v;
    v.config = vc;
    if (vc.has_sim()) {
      adapters::SimVenue::Options o;
      o.venue_id = vc.id();
      o.config = vc.sim();
      o.fee_bps = vc.taker_fee_bps();
      o.clock = clock;
      for (const auto& m : vc.markets()) {
        o.lot_sizes[m.symbol()] = m.lot_size();
        if (m.has_sim()) o.market_sim[m.symbol()] = m.sim();
        for (const auto& i : config.instruments()) {
          if (i.symbol() == m.symbol()) o.instruments.push_back(i);
        }
      }
      if (!vc.sim().book_file().empty()) {
        EXO_ASSIGN_OR_RETURN(BookSnapshotFile file, adapters::LoadBookFile(vc.sim().book_file()));
        for (const auto& b : file.books()) {
          if (b.venue() == vc.id()) o.fixed_books[b.symbol()] = b;
        }
      }
      v.adapter = std::make_unique<adapters::SimVenue>(std::move(o));
    } else if (vc.has_fix()) {
      adapters::FixVenue::Options o;
      o.venue_id = vc.id();
      o.config = vc.fix();
      o.fee_bps = vc.taker_fee_bps();
      o.store_dir = config.data_dir() + "/fix/" + vc.id();
      o.clock = clock;
      for (const auto& m : vc.markets()) {
        for (const auto& i : config.instruments()) {
          if (i.symbol() == m.symbol()) o.instruments.push_back(i);
        }
      }
      v.adapter = std::make_unique<adapters::FixVenue>(std::move(o));
    } else if (vc.has_ws_feed()) {
      adapters::ws::WsFeedVenue::Options o;
      o.venue_id = vc.id();
      o.config = vc.ws_feed();
      o.clock = clock;
      for (const auto& m : vc.markets()) {
        for (const auto& i : config.instruments()) {
          if (i.symbol() == m.symbol()) {
            o.markets.push_back({i, m.feed_symbol().empty() ? m.symbol() : m.feed_symbol()});
          }
        }
      }
      v.adapter = std::make_unique<adapters::ws::WsFeedVenue>(std::move(o));
    }
    venues.push_back(std::move(v));
  }
  return venues;
}

}  // namespace exo::daemon
