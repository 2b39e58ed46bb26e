// How a configured venue enters a decision: the one place that turns config (fees, lots, caps,
// staleness) into the solver's VenueInput, used by the engine for live decisions and by
// `exoroutectl solve` for what-if decisions on books from a file.
#pragma once

#include <optional>
#include <string>

#include "exoroute/v1/config.pb.h"
#include "exoroute/v1/types.pb.h"

namespace exo::daemon {

// The venue's solver input for `symbol` (no book yet), or nullopt if it does not trade it.
std::optional<exoroute::v1::VenueInput> VenueInputFor(const exoroute::v1::VenueConfig& venue,
                                                      const std::string& symbol);

// What a decision reads of a venue's book, and so what the engine records with it: the side an
// order of `side` walks, in full, and of the other side only its best level (the crossed-book
// check and the mid price read nothing else), under the venue's configured id. Half the
// copying, serialising, hashing and storing of the whole book, the same decision.
void CopyDecidedBook(const exoroute::v1::VenueBook& book, exoroute::v1::Side side,
                     const std::string& venue, exoroute::v1::VenueBook* out);

}  // namespace exo::daemon
