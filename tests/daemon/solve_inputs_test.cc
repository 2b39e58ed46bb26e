#include "daemon/solve_inputs.h"

#include <catch2/catch.hpp>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

using namespace exoroute::v1;  // NOLINT

namespace {

VenueBook Book() {
  VenueBook b;
  b.set_venue("feed-name");
  b.set_symbol("BTC-USD");
  b.set_sequence(77);
  b.set_receive_time_ns(1'700'000'000'000'000'000);
  for (int k = 0; k < 5; ++k) {
    BookLevel* a = b.add_asks();
    a->set_price(101 + k);
    a->set_size(10 + k);
    BookLevel* d = b.add_bids();
    d->set_price(99 - k);
    d->set_size(20 + k);
  }
  return b;
}

}  // namespace

TEST_CASE("a decision records the side it walks in full and the other side's best level", "[inputs]") {
  const VenueBook book = Book();
  for (const Side side : {SIDE_BUY, SIDE_SELL}) {
    VenueBook copy;
    exo::daemon::CopyDecidedBook(book, side, "SIM-A", &copy);
    INFO("side " << Side_Name(side));
    CHECK(copy.venue() == "SIM-A");  // The configured id, not the feed's name.
    const bool buy = side == SIDE_BUY;
    const auto& walked = buy ? copy.asks() : copy.bids();
    const auto& other = buy ? copy.bids() : copy.asks();
    REQUIRE(walked.size() == 5);
    for (int k = 0; k < 5; ++k) {
      CHECK(walked[k].price() == (buy ? book.asks(k) : book.bids(k)).price());
      CHECK(walked[k].size() == (buy ? book.asks(k) : book.bids(k)).size());
    }
    REQUIRE(other.size() == 1);
    CHECK(other[0].price() == (buy ? book.bids(0) : book.asks(0)).price());
    CHECK(other[0].size() == (buy ? book.bids(0) : book.asks(0)).size());
    // Every other field of the book is carried over: a field added to VenueBook later and
    // not copied fails here (reflection over the message's own fields).
    const auto* descriptor = VenueBook::descriptor();
    const auto* reflection = VenueBook::GetReflection();
    for (int f = 0; f < descriptor->field_count(); ++f) {
      const auto* field = descriptor->field(f);
      if (field->is_repeated() || field->name() == "venue") continue;
      INFO("field " << field->name());
      CHECK(reflection->HasField(copy, field) == reflection->HasField(book, field));
      if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
        CHECK(reflection->GetString(copy, field) == reflection->GetString(book, field));
      } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT64) {
        CHECK(reflection->GetUInt64(copy, field) == reflection->GetUInt64(book, field));
      } else {
        REQUIRE(field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT64);
        CHECK(reflection->GetInt64(copy, field) == reflection->GetInt64(book, field));
      }
    }
  }
  VenueBook one_sided = book;
  one_sided.clear_bids();
  VenueBook copy;
  exo::daemon::CopyDecidedBook(one_sided, SIDE_BUY, "SIM-A", &copy);
  CHECK(copy.bids_size() == 0);
  CHECK(copy.asks_size() == 5);
}

TEST_CASE("a venue's rejections in a row keep it out of the order's decisions, twice as long each time", "[inputs]") {
  constexpr int64_t kSecond = 1'000'000'000;
  Plan plan;
  // The reason a decision at `now` gives for leaving `venue` out ("": none).
  auto RejectBackoff = [&plan](const std::string& venue, int64_t now, uint32_t backoff_ms) -> std::string {
    const auto out = exo::daemon::RejectBackoffs(plan, now, backoff_ms);
    const auto it = out.find(venue);
    return it == out.end() ? "" : it->second;
  };
  // A child at `venue`, done at `done_s` with `reason` after filling `filled` of 10 (open: done_s < 0).
  auto child = [&plan](const std::string& venue, double done_s, const std::string& reason, int64_t filled = 0) {
    ChildState* c = plan.add_children();
    c->mutable_order()->set_venue(venue);
    c->mutable_order()->set_quantity(10);
    c->set_filled_quantity(filled);
    if (done_s >= 0) {
      c->set_done(true);
      c->set_done_reason(reason);
      c->set_done_time_ns(static_cast<int64_t>(done_s * kSecond));
    }
  };
  CHECK(RejectBackoff("A", 5 * kSecond, 0).empty());  // No child there.
  child("A", 1, "rejected: quantity 10 above the venue's maximum order size 5");
  child("B", 1, "filled", 10);
  CHECK(RejectBackoff("A", kSecond + kSecond / 4, 0) ==
        "rejected this order's last child here 0.25 s ago (quantity 10 above the venue's maximum order size 5): left "
        "out for 1 s after it");
  CHECK(RejectBackoff("A", 2 * kSecond, 0).empty());  // The backoff (1 s by default) has passed.
  CHECK(RejectBackoff("B", kSecond, 0).empty());      // B filled its child.
  CHECK_FALSE(RejectBackoff("A", 2 * kSecond, 1500).empty());  // A configured 1.5 s.
  // Two more in a row: 4 s after the third.
  child("A", 3, "rejected: by the venue");
  child("A", 5, "rejected: by the venue");
  CHECK(RejectBackoff("A", 8 * kSecond, 0) ==
        "rejected this order's last 3 children here, the last 3.00 s ago (by the venue): left out for 4 s after it");
  CHECK(RejectBackoff("A", 9 * kSecond, 0).empty());
  // At most 60 s, however many in a row.
  for (int i = 0; i < 10; ++i) child("A", 10 + i, "rejected: by the venue");
  CHECK(RejectBackoff("A", 78 * kSecond, 0).find("left out for 60 s after it") != std::string::npos);
  CHECK(RejectBackoff("A", 79 * kSecond, 0).empty());
  // A child it took (filled, or cancelled unfilled, or still open) ends the run.
  child("A", 80, "ioc remainder");
  CHECK(RejectBackoff("A", 80 * kSecond, 0).empty());
  child("A", 81, "rejected: by the venue");
  CHECK(RejectBackoff("A", 81 * kSecond, 0).find("left out for 1 s") != std::string::npos);
  child("A", -1, "");
  CHECK(RejectBackoff("A", 81 * kSecond, 0).empty());
  // A rejection recorded without its time (a checkpoint from before the field) keeps nothing out.
  Plan old;
  ChildState* c = old.add_children();
  c->mutable_order()->set_venue("A");
  c->mutable_order()->set_quantity(10);
  c->set_done(true);
  c->set_done_reason("rejected: by the venue");
  CHECK(exo::daemon::RejectBackoffs(old, kSecond, 0).empty());
}
