#include "daemon/solve_inputs.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_format.h"
#include "daemon/child_outcomes.h"
#include "daemon/request_validation.h"
#include "exo/fixed_point.h"
#include "exo/status_macros.h"

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

std::map<std::string, std::string> RejectBackoffs(const exoroute::v1::Plan& plan, int64_t now_ns,
                                                  uint32_t backoff_ms) {
  struct Run {
    int in_a_row = 0;  // The plan's children at the venue rejected one after another, up to the last.
    const exoroute::v1::ChildState* last = nullptr;
  };
  std::map<std::string, Run> runs;  // One pass over the children, however many venues.
  for (const exoroute::v1::ChildState& c : plan.children()) {
    Run& r = runs[c.order().venue()];
    const bool rejected = c.done() && ChildOutcomes::Of(c.filled_quantity(), c.order().quantity(), c.done_reason()) ==
                                          ChildOutcomes::kRejected;
    r.in_a_row = rejected ? r.in_a_row + 1 : 0;
    r.last = &c;
  }
  std::map<std::string, std::string> out;
  const int64_t base = backoff_ms == 0 ? 1000 : backoff_ms;
  for (const auto& [venue, r] : runs) {
    if (r.in_a_row == 0 || r.last->done_time_ns() <= 0) continue;
    const int64_t wait_ms = std::min<int64_t>(kMaxRejectBackoffMs, base << std::min(r.in_a_row - 1, 16));
    const int64_t ago_ns = now_ns - r.last->done_time_ns();
    if (ago_ns >= wait_ms * 1'000'000) continue;
    std::string why = r.last->done_reason();
    if (why.rfind("rejected: ", 0) == 0) why.erase(0, 10);
    out.emplace(venue, absl::StrCat("rejected ",
                                    r.in_a_row == 1 ? "this order's last child here"
                                                    : absl::StrCat("this order's last ", r.in_a_row, " children here, the last"),
                                    absl::StrFormat(" %.2f s ago (", static_cast<double>(std::max<int64_t>(0, ago_ns)) / 1e9),
                                    why, absl::StrFormat("): left out for %g s after it", static_cast<double>(wait_ms) / 1000)));
  }
  return out;
}

std::string_view OrderExclusion(const exoroute::v1::ParentOrder& order, const std::string& venue) {
  const auto& allowed = order.allowed_venues();
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), venue) == allowed.end()) {
    return "not in the order's allowed_venues";
  }
  const auto& denied = order.denied_venues();
  if (std::find(denied.begin(), denied.end(), venue) != denied.end()) return "in the order's denied_venues";
  return "";
}

namespace {

bool Trades(const exoroute::v1::VenueConfig& v, const std::string& symbol) {
  return std::any_of(v.markets().begin(), v.markets().end(), [&](const auto& m) { return m.symbol() == symbol; });
}

}  // namespace

int64_t SmallestLot(const exoroute::v1::ParentOrder& order, const std::vector<const exoroute::v1::VenueConfig*>& venues) {
  int64_t smallest = 0;
  for (const exoroute::v1::VenueConfig* v : venues) {
    if (!OrderExclusion(order, v->id()).empty()) continue;
    for (const auto& m : v->markets()) {
      if (m.symbol() == order.symbol() && (smallest == 0 || m.lot_size() < smallest)) smallest = m.lot_size();
    }
  }
  return smallest;
}

absl::Status CheckOrderVenues(const exoroute::v1::ParentOrder& order, const exoroute::v1::Instrument& instrument,
                              const std::vector<const exoroute::v1::VenueConfig*>& venues) {
  for (const auto* list : {&order.allowed_venues(), &order.denied_venues()}) {
    for (int i = 0; i < list->size(); ++i) {
      if (std::none_of(venues.begin(), venues.end(), [&](const auto* v) { return v->id() == (*list)[i]; })) {
        return absl::InvalidArgumentError(absl::StrCat("order.",
                                                       list == &order.allowed_venues() ? "allowed_venues" : "denied_venues",
                                                       "[", i, "]: unknown venue \"", (*list)[i], "\""));
      }
    }
  }
  if (const int64_t lot = SmallestLot(order, venues); lot > 0) {
    if (order.quantity() % lot != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "order.quantity: ", FormatDecimal(order.quantity(), instrument.qty_scale()),
          " is not a multiple of the smallest lot (", FormatDecimal(lot, instrument.qty_scale()),
          ") of the venues it may use"));
    }
    return absl::OkStatus();
  }
  std::vector<const exoroute::v1::VenueConfig*> sorted = venues;
  std::sort(sorted.begin(), sorted.end(), [](const auto* x, const auto* y) { return x->id() < y->id(); });
  std::vector<std::string> why;
  for (const exoroute::v1::VenueConfig* v : sorted) {
    if (!Trades(*v, order.symbol())) continue;
    const bool denied = std::count(order.denied_venues().begin(), order.denied_venues().end(), v->id()) > 0;
    why.push_back(absl::StrCat(v->id(), denied ? " denied" : " not allowed"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no venue can trade ", order.symbol(),
      why.empty() ? " (no configured venue lists it)" : absl::StrCat(": ", absl::StrJoin(why, ", "))));
}

uint32_t UrgencyBandBps(const exoroute::v1::RoutingConfig& routing, exoroute::v1::Urgency urgency) {
  switch (urgency) {
    case exoroute::v1::URGENCY_LOW:
      return routing.low_urgency_band_bps() == 0 ? kDefaultLowUrgencyBandBps : routing.low_urgency_band_bps();
    case exoroute::v1::URGENCY_HIGH:
      return 0;
    default:
      return routing.normal_urgency_band_bps();
  }
}

exoroute::v1::SolveInput OrderSolveInput(const exoroute::v1::ParentOrder& order, const exoroute::v1::Instrument& instrument,
                                         int64_t quantity, const exoroute::v1::RoutingConfig& routing,
                                         std::optional<exoroute::v1::SolverMethod> method_override, int64_t now_ns) {
  const exoroute::v1::SolverMethod method = method_override.value_or(routing.method());
  exoroute::v1::SolveInput in;
  *in.mutable_instrument() = instrument;
  in.set_side(order.side());
  in.set_quantity(quantity);
  if (order.has_limit_price()) in.set_limit_price(order.limit_price());
  in.set_max_venues(order.max_venues());
  in.set_method(method);
  // The exact search's newest step, and ADMM's newest variant (recorded: replay of older
  // decisions keeps theirs).
  in.set_dual_search(exoroute::v1::DUAL_SEARCH_QUANTILE);
  in.set_dual_finish(exoroute::v1::DUAL_FINISH_STEP_AND_BISECT);
  if (method == exoroute::v1::SOLVER_METHOD_ADMM) in.set_admm_variant(exoroute::v1::ADMM_VARIANT_BALANCED_AT_PRICE);
  in.set_mid_rule(exoroute::v1::MID_RULE_MARKET);  // The market's mid, whatever the order's limit.
  in.set_reason_text(exoroute::v1::REASON_TEXT_READABLE);  // Reasons in the prices clients show.
  in.set_decision_time_ns(now_ns);
  in.set_price_band_bps(UrgencyBandBps(routing, order.urgency()));
  in.set_arrival_band_bps(order.arrival_band_bps());  // Its first decision fixes it.
  return in;
}

absl::StatusOr<std::string> BookFileSymbol(const exoroute::v1::BookSnapshotFile& file, const std::string& name) {
  if (file.books().empty()) return absl::InvalidArgumentError(absl::StrCat("book file ", name, ": no books"));
  const std::string& first = file.books(0).symbol();
  for (const auto& b : file.books()) {
    if (b.symbol() != first) {
      return absl::InvalidArgumentError(absl::StrCat("book file ", name, ": books of several symbols (\"", first,
                                                     "\", \"", b.symbol(), "\"): choose one (--symbol)"));
    }
  }
  return first;
}

absl::StatusOr<exoroute::v1::SolveInput> WhatIfInput(const exoroute::v1::DaemonConfig& config,
                                                    const exoroute::v1::BookSnapshotFile& file, const std::string& name,
                                                    const exoroute::v1::ParentOrder& order,
                                                    std::optional<exoroute::v1::SolverMethod> method, int64_t now_ns) {
  exoroute::v1::RouteRequest request;
  request.set_mode(exoroute::v1::ROUTE_MODE_PLAN_ONLY);
  *request.mutable_order() = order;
  request.mutable_order()->set_id("what-if");
  if (request.order().time_in_force() == exoroute::v1::TIME_IN_FORCE_UNSPECIFIED) {
    request.mutable_order()->set_time_in_force(exoroute::v1::TIME_IN_FORCE_GTC);
  }
  EXO_RETURN_IF_ERROR(ValidateRoute(request));
  const auto inst = std::find_if(config.instruments().begin(), config.instruments().end(),
                                 [&](const auto& i) { return i.symbol() == order.symbol(); });
  if (inst == config.instruments().end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("order.symbol: unknown symbol \"", order.symbol(), "\" (not in the config)"));
  }
  std::vector<const exoroute::v1::VenueConfig*> venues;
  for (const auto& v : config.venues()) venues.push_back(&v);
  std::sort(venues.begin(), venues.end(), [](const auto* x, const auto* y) { return x->id() < y->id(); });
  EXO_RETURN_IF_ERROR(CheckOrderVenues(order, *inst, venues));

  const std::string& symbol = order.symbol();
  std::map<std::string, const exoroute::v1::VenueBook*> books;  // The symbol's, by venue.
  for (int i = 0; i < file.books_size(); ++i) {
    const exoroute::v1::VenueBook& b = file.books(i);
    if (b.symbol() != symbol) continue;
    const auto v = std::find_if(venues.begin(), venues.end(), [&](const auto* c) { return c->id() == b.venue(); });
    if (v == venues.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("book file ", name, ": books[", i, "].venue: \"", b.venue(), "\" is not a venue in the config"));
    }
    if (!Trades(**v, symbol)) {
      return absl::InvalidArgumentError(absl::StrCat("book file ", name, ": books[", i, "]: venue \"", b.venue(),
                                                     "\" does not trade ", symbol, " in the config"));
    }
    books[b.venue()] = &b;
  }
  exoroute::v1::SolveInput in = OrderSolveInput(order, *inst, order.quantity(), config.routing(), method, now_ns);
  for (const exoroute::v1::VenueConfig* v : venues) {
    std::optional<exoroute::v1::VenueInput> vi = VenueInputFor(*v, symbol);
    if (!vi) continue;
    vi->set_exclusion(std::string(OrderExclusion(order, v->id())));
    if (const auto it = books.find(v->id()); it == books.end()) {
      if (vi->exclusion().empty()) vi->set_exclusion(absl::StrCat("no book for it in ", name));
    } else {
      CopyDecidedBook(*it->second, order.side(), v->id(), vi->mutable_book());
      if (vi->book().receive_time_ns() == 0) vi->mutable_book()->set_receive_time_ns(now_ns);
    }
    *in.add_venues() = *std::move(vi);
  }
  return in;
}

}  // namespace exo::daemon
