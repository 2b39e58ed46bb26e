#include "daemon/request_validation.h"

#include <catch2/catch.hpp>
#include <limits>

using exo::daemon::ValidateRoute;
using namespace exoroute::v1;  // NOLINT

namespace {

RouteRequest Good() {
  RouteRequest r;
  auto* o = r.mutable_order();
  o->set_id("ord-1");
  o->set_symbol("BTC-USD");
  o->set_side(SIDE_BUY);
  o->set_quantity(100);
  o->set_time_in_force(TIME_IN_FORCE_GTC);
  r.set_mode(ROUTE_MODE_PLAN_ONLY);
  return r;
}

std::string ErrorOf(const RouteRequest& r) {
  absl::Status s = ValidateRoute(r);
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

}  // namespace

TEST_CASE("a well-formed route request passes", "[validation]") { CHECK(ValidateRoute(Good()).ok()); }

TEST_CASE("every route field is checked and named", "[validation]") {
  RouteRequest r = Good();
  r.clear_order();
  CHECK(ErrorOf(r) == "order: required");
  r = Good();
  r.mutable_order()->set_id("");
  CHECK(ErrorOf(r) == "order.id: required");
  r.mutable_order()->set_id("has space");
  CHECK(ErrorOf(r) == "order.id: must match [A-Za-z0-9._:-]{1,64}, got \"has space\"");
  r = Good();
  r.mutable_order()->set_side(SIDE_UNSPECIFIED);
  CHECK(ErrorOf(r) == "order.side: must be SIDE_BUY or SIDE_SELL, got 0");
  r = Good();
  r.mutable_order()->set_quantity(-5);
  CHECK(ErrorOf(r) == "order.quantity: must be > 0, got -5");
  r = Good();
  r.mutable_order()->set_quantity((int64_t{1} << 53) + 1);
  CHECK(ErrorOf(r) == "order.quantity: must be <= 9007199254740992 (2^53 units), got 9007199254740993");
  r = Good();
  r.mutable_order()->set_limit_price(0);
  CHECK(ErrorOf(r) == "order.limit_price: must be > 0 when set, got 0");
  r.mutable_order()->set_limit_price(std::numeric_limits<int64_t>::max());
  CHECK(ErrorOf(r) == "order.limit_price: must be <= 9007199254740992 (2^53 units), got 9223372036854775807");
  r = Good();
  r.mutable_order()->set_time_in_force(TIME_IN_FORCE_UNSPECIFIED);
  CHECK(ErrorOf(r) == "order.time_in_force: must be GTC, IOC or GTT, got 0");
  r.mutable_order()->set_time_in_force(TIME_IN_FORCE_GTT);
  CHECK(ErrorOf(r) == "order.expire_after_ms: must be > 0 for TIME_IN_FORCE_GTT, got 0");
  r = Good();
  r.mutable_order()->set_expire_after_ms(10);
  CHECK(ErrorOf(r) == "order.expire_after_ms: only allowed with TIME_IN_FORCE_GTT");
  r = Good();
  r.mutable_order()->set_arrival_band_bps(1001);
  CHECK(ErrorOf(r) == "order.arrival_band_bps: must be <= 1000 (10 %), got 1001");
  r.mutable_order()->set_arrival_band_bps(1000);
  CHECK(exo::daemon::ValidateRoute(r).ok());
  r = Good();
  r.mutable_order()->add_allowed_venues("A");
  r.mutable_order()->add_denied_venues("A");
  CHECK(ErrorOf(r) == "order.denied_venues[0]: \"A\" is also in allowed_venues");
  r = Good();
  r.mutable_order()->add_denied_venues("A");
  r.mutable_order()->add_denied_venues("B");
  r.mutable_order()->add_denied_venues("A");
  CHECK(ErrorOf(r) == "order.denied_venues[2]: \"A\" is listed twice (denied_venues[0])");
  r = Good();
  r.mutable_order()->add_allowed_venues("SIM A");
  CHECK(ErrorOf(r) == "order.allowed_venues[0]: must be a venue id ([A-Za-z0-9._-]{1,32}), got \"SIM A\"");
  r = Good();
  for (int i = 0; i <= exo::daemon::kMaxListedVenues; ++i) r.mutable_order()->add_allowed_venues("V" + std::to_string(i));
  CHECK(ErrorOf(r) == "order.allowed_venues: at most 1024 venues, got 1025");
  r = Good();
  r.mutable_order()->set_symbol("BTC USD");
  CHECK(ErrorOf(r) == "order.symbol: must be an instrument's symbol ([A-Za-z0-9._/-]{1,32}), got \"BTC USD\"");
  // A client's megabyte string is not echoed whole.
  r.mutable_order()->set_symbol(std::string(1 << 20, 'x'));
  CHECK(ErrorOf(r) == "order.symbol: must be an instrument's symbol ([A-Za-z0-9._/-]{1,32}), got \"" + std::string(64, 'x') +
                          "\"... (1048576 bytes)");
  r = Good();
  r.mutable_order()->set_id(std::string(100, 'i'));
  CHECK(ErrorOf(r) == "order.id: must match [A-Za-z0-9._:-]{1,64}, got \"" + std::string(64, 'i') + "\"... (100 bytes)");
  // A client's line break, quote or non-ASCII byte is shown escaped: the answer stays one line.
  r.mutable_order()->set_id("a\nb\"c\xc3\xa9");
  CHECK(ErrorOf(r) == "order.id: must match [A-Za-z0-9._:-]{1,64}, got \"a\\nb\\\"c\\xc3\\xa9\"");
  r = Good();
  r.set_mode(ROUTE_MODE_UNSPECIFIED);
  CHECK(ErrorOf(r) == "mode: must be ROUTE_MODE_PLAN_ONLY or ROUTE_MODE_EXECUTE, got 0");
}

TEST_CASE("ranges and plan ids are checked", "[validation]") {
  SequenceRange range;
  range.set_from_sequence(9);
  range.set_to_sequence(3);
  CHECK(exo::daemon::ValidateRange(range, "range").message() ==
        "range.from_sequence: must be <= to_sequence (3), got 9");
  CHECK(exo::daemon::ValidatePlanId("").message() == "plan_id: required");
  // A range to verify starts within the chain; its end may lie beyond (the chain's finding).
  range.set_from_sequence(31);
  range.set_to_sequence(0);
  const absl::Status beyond = exo::daemon::ValidateVerifyStart(range, "range.from_sequence", 30);
  CHECK(beyond.code() == absl::StatusCode::kOutOfRange);
  CHECK(beyond.message() == "range.from_sequence: 31 is beyond the chain, which ends at sequence 30");
  range.set_from_sequence(30);
  range.set_to_sequence(99);
  CHECK(exo::daemon::ValidateVerifyStart(range, "range.from_sequence", 30).ok());
  range.set_from_sequence(0);
  CHECK(exo::daemon::ValidateVerifyStart(range, "range.from_sequence", 0).ok());  // (0: from the first.)
  range.set_from_sequence(1);
  CHECK(exo::daemon::ValidateVerifyStart(range, "range.from_sequence", 0).ok());  // An empty chain, from its start.
}

TEST_CASE("a plan list request is checked and its fields named", "[validation]") {
  using exo::daemon::ValidateListPlans;
  ListPlansRequest r;
  CHECK(ValidateListPlans(r).ok());
  r.set_symbol("ETH-USD");
  r.set_page_size(1000);
  r.set_page_token("w-1");
  CHECK(ValidateListPlans(r).ok());
  r.set_page_size(1001);
  CHECK(ValidateListPlans(r).message() == "page_size: must be <= 1000 (0 = 100), got 1001");
  CHECK(ValidateListPlans(r).code() == absl::StatusCode::kInvalidArgument);
  r.set_page_size(0);
  r.set_symbol("BTC USD");
  CHECK(ValidateListPlans(r).message() ==
        "symbol: must be an instrument's symbol ([A-Za-z0-9._/-]{1,32}), got \"BTC USD\"");
  r.set_symbol("");
  r.set_page_token("not a token!");
  CHECK(ValidateListPlans(r).message() == "page_token: not one this server gave (a plan id), got \"not a token!\"");
}

TEST_CASE("a watch request is checked and its fields named", "[validation]") {
  using exo::daemon::ValidateWatch;
  WatchPlanRequest r;
  r.set_plan_id("ord-1");
  CHECK(ValidateWatch(r).ok());
  r.set_disconnect_grace_ms(500);
  CHECK(ValidateWatch(r).message() == "disconnect_grace_ms: only with cancel_on_disconnect");
  r.set_cancel_on_disconnect(true);
  CHECK(ValidateWatch(r).ok());
  r.set_disconnect_grace_ms(60'001);
  CHECK(ValidateWatch(r).code() == absl::StatusCode::kInvalidArgument);
  CHECK(ValidateWatch(r).message() == "disconnect_grace_ms: must be <= 60000, got 60001");
  r.set_disconnect_grace_ms(0);
  r.set_plan_id("");
  CHECK(ValidateWatch(r).message().rfind("plan_id: ", 0) == 0);
}

TEST_CASE("a books request is checked and its fields named", "[validation]") {
  using exo::daemon::ValidateGetBooks;
  GetBooksRequest r;
  CHECK(ValidateGetBooks(r).message() == "symbol: required");
  r.set_symbol("BTC-USD");
  CHECK(ValidateGetBooks(r).ok());
  r.set_depth(50);
  CHECK(ValidateGetBooks(r).ok());
  r.set_depth(51);
  CHECK(ValidateGetBooks(r).code() == absl::StatusCode::kInvalidArgument);
  CHECK(ValidateGetBooks(r).message() == "depth: must be <= 50 (0 = 5), got 51");
  r.set_depth(0);
  r.set_symbol("BTC USD\n");
  CHECK(ValidateGetBooks(r).message().rfind("symbol: ", 0) == 0);
}

TEST_CASE("an amend request is checked and its fields named", "[validation]") {
  using exo::daemon::ValidateAmend;
  AmendPlanRequest r;
  r.set_plan_id("ord-1");
  auto error = [](const AmendPlanRequest& req) {
    absl::Status s = ValidateAmend(req);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  CHECK(error(r) == "quantity: give a new quantity, limit_price, remove_limit or urgency (nothing to amend)");
  r.set_quantity(5);
  CHECK(ValidateAmend(r).ok());
  r.set_quantity(-5);
  CHECK(error(r) == "quantity: must be > 0 (or 0 to keep it), got -5");
  r.set_quantity(int64_t{1} << 54);
  CHECK(error(r).rfind("quantity: must be <= 9007199254740992", 0) == 0);
  r.set_quantity(0);
  r.set_limit_price(0);  // Given, and not a price.
  CHECK(error(r) == "limit_price: must be > 0 and <= 9007199254740992 (2^53 units) when set, got 0");
  r.set_limit_price(650000);
  CHECK(ValidateAmend(r).ok());
  r.set_reason(std::string(257, 'x'));
  CHECK(error(r) == "reason: at most 256 bytes, got 257");
  r.set_reason("desk asked\nfor it");  // A second line in the chain, the CLI's table and the log.
  CHECK(error(r) == "reason: one line of text, without control characters; byte 11 is 0x0a in \"desk asked\\nfor it\"");
  r.set_reason("Grüße vom Desk\x7f");
  CHECK(error(r).rfind("reason: one line of text, without control characters; byte 17 is 0x7f in ", 0) == 0);
  r.set_reason("Grüße vom Desk");  // Any other UTF-8.
  CHECK(ValidateAmend(r).ok());
  r.set_reason("");
  r.set_remove_limit(true);  // With a new limit too: which?
  CHECK(error(r) == "remove_limit: not with limit_price: give a new limit or remove it, not both");
  r.clear_limit_price();
  CHECK(ValidateAmend(r).ok());  // To market alone.
  r.set_remove_limit(false);
  r.set_urgency(URGENCY_HIGH);
  CHECK(ValidateAmend(r).ok());  // An urgency alone.
  r.set_urgency(static_cast<Urgency>(7));
  CHECK(error(r) == "urgency: must be URGENCY_LOW, URGENCY_NORMAL or URGENCY_HIGH (or unset to keep it), got 7");
  r.set_urgency(URGENCY_UNSPECIFIED);
  r.set_plan_id("");
  CHECK(error(r).rfind("plan_id: ", 0) == 0);
}

TEST_CASE("a settle request is checked and its fields named", "[validation]") {
  using exo::daemon::ValidateSettleChild;
  SettleChildRequest r;
  auto error = [](const SettleChildRequest& req) {
    absl::Status s = ValidateSettleChild(req);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  CHECK(error(r).rfind("plan_id: ", 0) == 0);
  r.set_plan_id("ord-1");
  CHECK(error(r) == "cl_ord_id: required (the child's id, as `plan show` lists it)");
  r.set_cl_ord_id("ord-1.3");
  CHECK(error(r) == "reason: required (it is recorded in the chain: say who confirmed the settlement)");
  r.set_reason("venue desk, ticket 4711");
  CHECK(ValidateSettleChild(r).ok());  // Nothing filled: the child ended unfilled.
  r.set_filled_quantity(-1);
  CHECK(error(r) == "filled_quantity: must be within 0..9007199254740992 (2^53 units), got -1");
  r.set_filled_quantity(5000);
  r.set_price(-3);
  CHECK(error(r) == "price: must be within 1..9007199254740992 (2^53 units) when set, got -3");
  r.set_price(6'500'000);
  r.set_fee(-(int64_t{1} << 62) - 1);
  CHECK(error(r).rfind("fee: must be within -2^62..2^62 price units, got ", 0) == 0);
  r.set_fee(-12);  // A rebate.
  CHECK(ValidateSettleChild(r).ok());
  r.set_reason(std::string(257, 'x'));
  CHECK(error(r) == "reason: at most 256 bytes, got 257");
  r.set_reason("ticket\t4711");
  CHECK(error(r) == "reason: one line of text, without control characters; byte 7 is 0x09 in \"ticket\\t4711\"");
  r.set_reason("ok");
  r.set_cl_ord_id(std::string(300, 'c'));
  CHECK(error(r) == "cl_ord_id: must match [A-Za-z0-9._:~@-]{1,256} (a child's id, as `plan show` lists it), got \"" +
                        std::string(64, 'c') + "\"... (300 bytes)");
  r.set_cl_ord_id("ord-1\n3");
  CHECK(error(r) == "cl_ord_id: must match [A-Za-z0-9._:~@-]{1,256} (a child's id, as `plan show` lists it), got \"ord-1\\n3\"");
  r.set_cl_ord_id("big~2@n2.17");  // A cluster sub-route's child on node n2.
  CHECK(ValidateSettleChild(r).ok());
}

TEST_CASE("a field this node does not know is refused, named by where it is", "[validation]") {
  using exo::daemon::CheckKnownFields;
  RouteRequest r = Good();
  CHECK(CheckKnownFields(r).ok());
  auto unknown_in = [](google::protobuf::Message* m) {
    m->GetReflection()->MutableUnknownFields(m)->AddVarint(99, 1);
  };
  unknown_in(r.mutable_order());
  absl::Status s = CheckKnownFields(r);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).rfind("order: field number 99 is not one this node knows: refused rather than ignored",
                                       0) == 0);
  RouteRequest top = Good();
  unknown_in(&top);
  CHECK(std::string(CheckKnownFields(top).message()).rfind("request: field number 99 ", 0) == 0);
  // Deep inside repeated messages, the path names each index.
  SolveInput in;
  in.add_venues();
  in.add_venues()->mutable_book()->add_asks();
  in.mutable_venues(1)->mutable_book()->add_asks();
  CHECK(CheckKnownFields(in).ok());
  unknown_in(in.mutable_venues(1)->mutable_book()->mutable_asks(1));
  CHECK(std::string(CheckKnownFields(in).message()).rfind("venues[1].book.asks[1]: field number 99 ", 0) == 0);
}
