// How an order and the configured venues enter a decision: the one place that checks an order
// against the venues, turns config (fees, lots, caps, staleness) into the solver's VenueInput and
// the order into the rest of its SolveInput — used by the engine for live decisions (adding its
// adapters' books and states) and by `exoroutectl solve` for what-ifs on books from a file, so
// that a what-if is the decision a node would make on those books.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Whether `order` may use `venue` by its allowed and denied venues: "" if it may, else the
// reason a decision gives for leaving the venue out.
// (A view of a constant: no allocation on the engine's every step.)
std::string_view OrderExclusion(const exoroute::v1::ParentOrder& order, const std::string& venue);

// A venue that rejected this plan's last child there (and maybe more before it, in a row) is
// left out of the plan's decisions until the backoff after the last rejection has passed:
// `backoff_ms` (0 = 1000) after one, doubled for each further one, at most kMaxRejectBackoffMs.
// Returns, for each venue a decision at `now_ns` leaves out so, the reason it gives.
inline constexpr uint32_t kMaxRejectBackoffMs = 60'000;
std::map<std::string, std::string> RejectBackoffs(const exoroute::v1::Plan& plan, int64_t now_ns, uint32_t backoff_ms);

// The smallest lot among `venues` that trade the order's symbol and that it may use (0: none).
int64_t SmallestLot(const exoroute::v1::ParentOrder& order, const std::vector<const exoroute::v1::VenueConfig*>& venues);

// What a node refuses of an order, given its venues: a name in the allowed or denied venues
// that is not one of them (INVALID_ARGUMENT), no venue that trades the symbol and that the
// order may use (FAILED_PRECONDITION, saying why of each), a quantity that is not a multiple of
// the smallest lot of those it may use (INVALID_ARGUMENT).
absl::Status CheckOrderVenues(const exoroute::v1::ParentOrder& order, const exoroute::v1::Instrument& instrument,
                              const std::vector<const exoroute::v1::VenueConfig*>& venues);

// The widest urgency band the config takes (routing.*_urgency_band_bps), in basis points.
inline constexpr uint32_t kMaxUrgencyBandBps = 1000;
// URGENCY_LOW's band when routing.low_urgency_band_bps is 0: about the top few levels of a
// liquid book, the touch alone of a thin one.
inline constexpr uint32_t kDefaultLowUrgencyBandBps = 2;
// The price band of an order of `urgency` under `routing`, in basis points (0: none):
// URGENCY_LOW's (default kDefaultLowUrgencyBandBps), URGENCY_NORMAL's (and UNSPECIFIED's; default none), none for HIGH.
uint32_t UrgencyBandBps(const exoroute::v1::RoutingConfig& routing, exoroute::v1::Urgency urgency);

// What a decision of `order` reads besides its venues: the instrument, the side, `quantity` (what
// the order has left), the limit, the venue limit and the urgency's price band under `routing`,
// the routing method (`method`, else the config's) as exorouted decides with it, and the
// decision's time; an arrival band as for the order's first decision (one that fixes it).
exoroute::v1::SolveInput OrderSolveInput(const exoroute::v1::ParentOrder& order, const exoroute::v1::Instrument& instrument,
                                         int64_t quantity, const exoroute::v1::RoutingConfig& routing,
                                         std::optional<exoroute::v1::SolverMethod> method, int64_t now_ns);

// `exoroutectl solve`: the decision input exorouted would make for `order` (validated as the
// Route RPC validates it) with the books of a book file (`name`: its path, in errors) as its
// venues' books, read as received at `now_ns` unless a book says when. The order is checked as
// the node checks it (CheckOrderVenues; an unknown symbol is FAILED_PRECONDITION); every
// configured venue that trades the symbol takes part, one the file has no book for excluded,
// saying so. A book of the symbol whose venue the config does not have, or does not trade the
// symbol on, is INVALID_ARGUMENT naming the file and the book. `method` unset: the config's.
absl::StatusOr<exoroute::v1::SolveInput> WhatIfInput(const exoroute::v1::DaemonConfig& config,
                                                    const exoroute::v1::BookSnapshotFile& file, const std::string& name,
                                                    const exoroute::v1::ParentOrder& order,
                                                    std::optional<exoroute::v1::SolverMethod> method, int64_t now_ns);

// The symbol a what-if on `file` is for when none is given: the file's one symbol
// (INVALID_ARGUMENT for a file without books, or with books of several symbols).
absl::StatusOr<std::string> BookFileSymbol(const exoroute::v1::BookSnapshotFile& file, const std::string& name);

}  // namespace exo::daemon
