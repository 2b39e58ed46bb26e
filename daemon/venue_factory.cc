#include "daemon/venue_factory.h"

#include <algorithm>
#include <map>

#include "adapters/book_file.h"
#include "adapters/fix/fix_venue.h"
#include "adapters/sim/sim_venue.h"
#include "adapters/ws/ws_feed_venue.h"
#include "exo/status_macros.h"

namespace exo::daemon {

using namespace exoroute::v1;  // NOLINT

namespace {

// Per symbol, the common move of the node's sim venues trading it: steps of their coarsest tick
// at their shortest update interval, seeded by the symbol (FNV-1a), so a node's sim venues of a
// symbol move together (adapters/sim/sim_common_price.h).
std::map<std::string, std::shared_ptr<adapters::SimCommonPrice>> CommonPrices(const DaemonConfig& config) {
  struct Walk {
    int64_t step = 1, interval_ms = 0;
  };
  std::map<std::string, Walk> walks;
  for (const VenueConfig& vc : config.venues()) {
    if (!vc.has_sim()) continue;
    for (const auto& m : vc.markets()) {
      Walk& w = walks[m.symbol()];
      w.step = std::max(w.step, m.sim().tick_size() > 0 ? m.sim().tick_size() : vc.sim().tick_size());
      const int64_t interval = adapters::UpdateIntervalMs(vc.sim());
      w.interval_ms = w.interval_ms == 0 ? interval : std::min(w.interval_ms, interval);
    }
  }
  std::map<std::string, std::shared_ptr<adapters::SimCommonPrice>> out;
  for (const auto& [symbol, w] : walks) {
    uint64_t seed = 14695981039346656037ull;
    for (unsigned char c : symbol) seed = (seed ^ c) * 1099511628211ull;
    out[symbol] = std::make_shared<adapters::SimCommonPrice>(seed, w.step, w.interval_ms * 1'000'000);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<RouterEngine::Venue>> MakeVenues(const DaemonConfig& config,
                                                            Clock* clock) {
  std::vector<RouterEngine::Venue> venues;
  const auto common_prices = CommonPrices(config);
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
        o.common_prices[m.symbol()] = common_prices.at(m.symbol());
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
