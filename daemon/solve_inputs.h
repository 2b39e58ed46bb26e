// How a configured venue enters a decision: the one place that turns config (fees, lots, caps,
// staleness) into the solver's VenueInput, used by the engine for live decisions and by
// `exoroutectl solve` for what-if decisions on books from a file.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"

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

// `exoroutectl solve`: the decision exorouted would make for an order on the books of a book
// file (`name`: its path, in errors). Every configured venue that trades the order's symbol takes
// part, with the file's book for it (read as received at `now_ns` unless the book says when); a
// venue the file has no book for is excluded, saying so.
struct WhatIfOrder {
  std::string symbol;  // Empty: the file's one symbol.
  exoroute::v1::Side side = exoroute::v1::SIDE_UNSPECIFIED;
  std::optional<exoroute::v1::SolverMethod> method;  // Unset: the config's routing method.
};

// The instrument the order is for (FAILED_PRECONDITION if the config has none for the symbol;
// INVALID_ARGUMENT for a file without books, or with several symbols and none chosen).
absl::StatusOr<exoroute::v1::Instrument> WhatIfInstrument(const exoroute::v1::DaemonConfig& config,
                                                         const exoroute::v1::BookSnapshotFile& file,
                                                         const std::string& name, const std::string& symbol);

// The solver input for the order of `quantity` (and `limit_price`, 0 for none) in `instrument`'s
// units. INVALID_ARGUMENT naming the file and the book for a book of the symbol whose venue the
// config does not have or does not trade it on.
absl::StatusOr<exoroute::v1::SolveInput> WhatIfInput(const exoroute::v1::DaemonConfig& config,
                                                    const exoroute::v1::BookSnapshotFile& file, const std::string& name,
                                                    const exoroute::v1::Instrument& instrument, const WhatIfOrder& order,
                                                    int64_t quantity, int64_t limit_price, int64_t now_ns);

}  // namespace exo::daemon
