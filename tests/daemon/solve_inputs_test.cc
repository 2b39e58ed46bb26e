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
