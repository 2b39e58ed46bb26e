#include "daemon/solve_inputs.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"

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

absl::StatusOr<exoroute::v1::Instrument> WhatIfInstrument(const exoroute::v1::DaemonConfig& config,
                                                         const exoroute::v1::BookSnapshotFile& file,
                                                         const std::string& name, const std::string& symbol) {
  std::string chosen = symbol;
  if (chosen.empty()) {
    if (file.books().empty()) return absl::InvalidArgumentError(absl::StrCat("book file ", name, ": no books"));
    for (const auto& b : file.books()) {
      if (!chosen.empty() && b.symbol() != chosen) {
        return absl::InvalidArgumentError(absl::StrCat("book file ", name, ": books of several symbols (\"", chosen,
                                                       "\", \"", b.symbol(), "\"): choose one (--symbol)"));
      }
      chosen = b.symbol();
    }
  }
  for (const auto& i : config.instruments()) {
    if (i.symbol() == chosen) return i;
  }
  return absl::FailedPreconditionError(absl::StrCat("unknown symbol \"", chosen, "\" (not in the config)"));
}

absl::StatusOr<exoroute::v1::SolveInput> WhatIfInput(const exoroute::v1::DaemonConfig& config,
                                                    const exoroute::v1::BookSnapshotFile& file, const std::string& name,
                                                    const exoroute::v1::Instrument& instrument, const WhatIfOrder& order,
                                                    int64_t quantity, int64_t limit_price, int64_t now_ns) {
  using exoroute::v1::SolverMethod;
  const SolverMethod method = order.method.value_or(config.routing().method() == exoroute::v1::SOLVER_METHOD_ADMM
                                                        ? exoroute::v1::SOLVER_METHOD_ADMM
                                                        : exoroute::v1::SOLVER_METHOD_EXACT);
  exoroute::v1::SolveInput in;
  *in.mutable_instrument() = instrument;
  in.set_method(method);
  in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);  // As exorouted decides.
  in.set_dual_finish(exoroute::v1::DUAL_FINISH_STEP_AND_BISECT);
  if (method == exoroute::v1::SOLVER_METHOD_ADMM) in.set_admm_variant(exoroute::v1::ADMM_VARIANT_BALANCED_AT_PRICE);
  in.set_side(order.side);
  in.set_quantity(quantity);
  if (limit_price != 0) in.set_limit_price(limit_price);
  in.set_decision_time_ns(now_ns);

  const std::string& symbol = instrument.symbol();
  std::map<std::string, const exoroute::v1::VenueBook*> books;  // The symbol's, by venue.
  for (int i = 0; i < file.books_size(); ++i) {
    const exoroute::v1::VenueBook& b = file.books(i);
    if (b.symbol() != symbol) continue;
    const auto v = std::find_if(config.venues().begin(), config.venues().end(),
                                [&](const exoroute::v1::VenueConfig& c) { return c.id() == b.venue(); });
    if (v == config.venues().end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("book file ", name, ": books[", i, "].venue: \"", b.venue(), "\" is not a venue in the config"));
    }
    if (!VenueInputFor(*v, symbol)) {
      return absl::InvalidArgumentError(absl::StrCat("book file ", name, ": books[", i, "]: venue \"", b.venue(),
                                                     "\" does not trade ", symbol, " in the config"));
    }
    books[b.venue()] = &b;
  }
  std::vector<const exoroute::v1::VenueConfig*> venues;
  for (const auto& v : config.venues()) venues.push_back(&v);
  std::sort(venues.begin(), venues.end(), [](const auto* x, const auto* y) { return x->id() < y->id(); });
  for (const exoroute::v1::VenueConfig* v : venues) {
    std::optional<exoroute::v1::VenueInput> vi = VenueInputFor(*v, symbol);
    if (!vi) continue;
    const auto it = books.find(v->id());
    if (it == books.end()) {
      vi->set_exclusion(absl::StrCat("no book for it in ", name));
    } else {
      *vi->mutable_book() = *it->second;
      if (vi->book().receive_time_ns() == 0) vi->mutable_book()->set_receive_time_ns(now_ns);
    }
    *in.add_venues() = *std::move(vi);
  }
  return in;
}

}  // namespace exo::daemon
