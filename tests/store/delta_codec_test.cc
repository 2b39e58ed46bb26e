#include "store/delta_codec.h"

#include <catch2/catch.hpp>

#include "exo/sha256.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/testing/delta_kinds.h"

using exo::store::DecodeCanonical;
using exo::store::EncodeCanonical;
using exo::testing::OneOfEachKind;
using namespace exoroute::v1;  // NOLINT

namespace {

// The one delta of OneOfEachKind() with this change.
PlanDelta OfKind(PlanDelta::ChangeCase kind) {
  for (const PlanDelta& d : OneOfEachKind()) {
    if (d.change_case() == kind) return d;
  }
  FAIL("no delta of kind " << kind);
  return PlanDelta();
}

// The created delta of the format-2 vector (docs/replay-and-audit.md): sequence 51, plan id and
// order id "o", a plan-only buy of 1 unit of X at scales 2 and 8, urgency LOW.
PlanDelta LowUrgencyBuy() {
  PlanDelta c;
  c.set_sequence(51);
  c.set_plan_id("o");
  c.set_plan_version(1);
  c.set_event_time_ns(1700000000123456789);
  ParentOrder* o = c.mutable_created()->mutable_order();
  o->set_id("o");
  o->set_symbol("X");
  o->set_side(SIDE_BUY);
  o->set_quantity(1);
  o->set_time_in_force(TIME_IN_FORCE_GTC);
  o->set_urgency(URGENCY_LOW);
  c.mutable_created()->set_mode(ROUTE_MODE_PLAN_ONLY);
  c.mutable_created()->mutable_instrument()->set_symbol("X");
  c.mutable_created()->mutable_instrument()->set_price_scale(2);
  c.mutable_created()->mutable_instrument()->set_qty_scale(8);
  return c;
}

}  // namespace

TEST_CASE("every delta kind round-trips through the canonical encoding", "[codec]") {
  for (const PlanDelta& d : OneOfEachKind()) {
    std::string bytes = EncodeCanonical(d);
    auto back = DecodeCanonical(bytes);
    REQUIRE(back.ok());
    CHECK(google::protobuf::util::MessageDifferencer::Equals(*back, d));
    CHECK(EncodeCanonical(*back) == bytes);
  }
}

TEST_CASE("the canonical bytes are exactly as specified in docs/replay-and-audit.md", "[codec]") {
  // The finished delta, byte by byte: format, sequence, plan id, version, time, digest, kind,
  // status, reason. The same vector is in the docs for independent implementations.
  const PlanDelta fin = OfKind(PlanDelta::kFinished);
  std::string hex = exo::ToHex(EncodeCanonical(fin));
  CHECK(hex ==
        "01"                                  // format 1
        "0000000000000030"                    // sequence 48
        "00000006" "706c616e2d37"             // plan_id "plan-7"
        "00000007"                            // plan_version 7
        "17979cfe3d85cd15"                    // event_time_ns 1700000000123456789
        "00000000"                            // inputs_digest: empty
        "07"                                  // kind: finished
        "00000005"                            // status PLAN_STATUS_CANCELLED
        "0000000b" "6465736b20636c6f736564"); // reason "desk closed"
  // And its hash after the genesis prev_hash.
  std::string hash = exo::DigestToString(exo::Sha256Of(std::string(32, '\0') + EncodeCanonical(fin)));
  CHECK(exo::ToHex(hash).size() == 64);
}

TEST_CASE("format 2 holds an order's urgency and a decision's band limit, and only deltas that carry one",
          "[codec]") {
  // A created delta with an urgency: format 1's layout, format byte 2, the urgency last. The same
  // vector is in tests/integration/sdk_vectors.py for the Python encoder.
  PlanDelta c = LowUrgencyBuy();
  ParentOrder* o = c.mutable_created()->mutable_order();
  const std::string bytes = EncodeCanonical(c);
  CHECK(exo::ToHex(bytes) ==
        "02"                                  // format 2
        "0000000000000033"                    // sequence 51
        "00000001" "6f"                       // plan_id "o"
        "00000001"                            // plan_version 1
        "17979cfe3d85cd15"                    // event_time_ns
        "00000000"                            // inputs_digest: empty
        "01"                                  // kind: created
        "00000001" "6f" "00000001" "58"       // order id "o", symbol "X"
        "00000001" "0000000000000001" "00"    // BUY, quantity 1, no limit
        "00000001" "0000000000000000"         // GTC, expire_after_ms 0
        "00000000" "00000000" "00000000"      // allowed, denied venues, max_venues
        "00000001"                            // mode PLAN_ONLY
        "00000001" "58" "00000002" "00000008" // instrument X, scales 2 and 8
        "00000001");                          // urgency LOW
  auto back = DecodeCanonical(bytes);
  REQUIRE(back.ok());
  CHECK(back->created().order().urgency() == URGENCY_LOW);
  CHECK(EncodeCanonical(*back) == bytes);
  // Without it, the format-1 bytes of the same delta.
  o->clear_urgency();
  const std::string v1 = EncodeCanonical(c);
  CHECK(v1 == std::string(1, '\x01') + bytes.substr(1, bytes.size() - 5));

  // A decision with a band limit: the limit after the slippage.
  PlanDelta a = OfKind(PlanDelta::kAllocated);
  const std::string before = EncodeCanonical(a);
  CHECK(before[0] == 1);
  a.mutable_allocated()->mutable_stats()->set_price_band_limit(6510000);
  const std::string banded = EncodeCanonical(a);
  CHECK(banded == std::string(1, '\x02') + before.substr(1) + std::string("\x00\x00\x00\x00\x00\x63\x55\xb0", 8));
  auto decoded = DecodeCanonical(banded);
  REQUIRE(decoded.ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*decoded, a));
  // An unknown urgency in format 2 is refused like any bad enum.
  std::string bad = bytes;
  bad[bad.size() - 1] = 9;
  CHECK(DecodeCanonical(bad).status().message().find("unknown enum value 9") != std::string::npos);
}

TEST_CASE("format 3 holds an order's arrival band and a decision's arrival limit, and only deltas that carry one",
          "[codec]") {
  // The created delta of the format-2 vector with an arrival band of 25 bp: format 2's layout,
  // format byte 3, the band after the urgency. In tests/integration/sdk_vectors.py too.
  PlanDelta c = LowUrgencyBuy();
  ParentOrder* o = c.mutable_created()->mutable_order();
  o->set_arrival_band_bps(25);
  const std::string bytes = EncodeCanonical(c);
  CHECK(exo::ToHex(bytes) ==
        "03"                                  // format 3
        "0000000000000033" "00000001" "6f" "00000001" "17979cfe3d85cd15" "00000000" "01"
        "00000001" "6f" "00000001" "58" "00000001" "0000000000000001" "00" "00000001" "0000000000000000"
        "00000000" "00000000" "00000000" "00000001" "00000001" "58" "00000002" "00000008"
        "00000001"                            // urgency LOW
        "00000019");                          // arrival band 25 bp
  auto back = DecodeCanonical(bytes);
  REQUIRE(back.ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*back, c));
  // Without an urgency the urgency's four bytes stay (UNSPECIFIED): one layout per format.
  o->clear_urgency();
  const std::string no_urgency = EncodeCanonical(c);
  CHECK(exo::ToHex(no_urgency).substr(exo::ToHex(no_urgency).size() - 16) == "0000000000000019");
  CHECK(DecodeCanonical(no_urgency).ok());
  // Without the band, format 1 again (no urgency either).
  o->clear_arrival_band_bps();
  CHECK(EncodeCanonical(c)[0] == 1);

  // A decision with an arrival limit (and no band limit): both after the slippage.
  PlanDelta a = OfKind(PlanDelta::kAllocated);
  const std::string before = EncodeCanonical(a);
  a.mutable_allocated()->mutable_stats()->set_arrival_limit(6510000);
  const std::string fixed = EncodeCanonical(a);
  CHECK(fixed == std::string(1, '\x03') + before.substr(1) + std::string(8, '\0') +
                     std::string("\x00\x00\x00\x00\x00\x63\x55\xb0", 8));
  auto decoded = DecodeCanonical(fixed);
  REQUIRE(decoded.ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*decoded, a));
  // A format-3 encoding of a delta without either field is not its canonical encoding.
  std::string not_canonical = before + std::string(16, '\0');
  not_canonical[0] = 3;
  CHECK(DecodeCanonical(not_canonical).status().message() ==
        "canonical delta: format 3 for a delta format 1 holds: not its canonical encoding at byte " +
            std::to_string(not_canonical.size()));
}

TEST_CASE("decoding is strict", "[codec]") {
  std::string good = EncodeCanonical(OneOfEachKind()[3]);
  CHECK(DecodeCanonical(good + "x").status().message() == "canonical delta: trailing bytes at byte " +
                                                              std::to_string(good.size()));
  CHECK(DecodeCanonical(good.substr(0, good.size() - 1)).status().code() ==
        absl::StatusCode::kDataLoss);
  std::string bad_format = good;
  bad_format[0] = 8;
  CHECK(DecodeCanonical(bad_format).status().message() == "unknown canonical format 8");
  // Format 2 for a delta format 1 holds is not its encoding.
  std::string not_canonical = good;
  not_canonical[0] = 2;
  CHECK(DecodeCanonical(not_canonical).status().message() ==
        "canonical delta: format 2 for a delta format 1 holds: not its canonical encoding at byte " +
            std::to_string(good.size()));
  // Side of a child_sent set to 9: not a Side.
  std::string child = EncodeCanonical(OneOfEachKind()[2]);
  size_t side_at = child.size() - 8 - 8 - 4;
  child[side_at + 3] = 9;
  CHECK(DecodeCanonical(child).status().message().find("unknown enum value 9") != std::string::npos);
  CHECK_FALSE(DecodeCanonical("").ok());
}

TEST_CASE("an amendment is format 4, shared with the Python SDK's test, and only format 4", "[codec]") {
  // tests/integration/sdk_vectors.py encodes the same delta with the independent encoder.
  PlanDelta amended = OfKind(PlanDelta::kAmended);
  const std::string bytes = EncodeCanonical(amended);
  CHECK(exo::ToHex(bytes) ==
        "04" "0000000000000033" "00000006" "706c616e2d37" "0000000a" "17979cfe3d85cd15" "00000000"
        "0a"                  // kind: amended
        "000000000bebc200"    // quantity 2.00000000
        "01" "0000000000632ab8"  // limit price given: 64990.00
        "00000005" "6368617365");  // reason "chase"
  // Without a new limit price: the flag 0 and no price.
  amended.mutable_amended()->clear_limit_price();
  const std::string no_limit = EncodeCanonical(amended);
  CHECK(exo::ToHex(no_limit).find("0a" "000000000bebc200" "00" "00000005") != std::string::npos);
  auto back = DecodeCanonical(no_limit);
  REQUIRE(back.ok());
  CHECK_FALSE(back->amended().has_limit_price());
  // An amendment in an older format, or an older kind in format 4, is not a canonical encoding.
  std::string older = bytes;
  older[0] = 3;
  CHECK(DecodeCanonical(older).status().message() ==
        "canonical delta: format 3 for a delta format 4 holds: not its canonical encoding at byte " +
            std::to_string(bytes.size()));
  std::string fin = EncodeCanonical(OfKind(PlanDelta::kFinished));
  fin[0] = 4;
  CHECK(DecodeCanonical(fin).status().message().find("format 4 for a delta format 1 holds") != std::string::npos);
}

TEST_CASE("an amendment to market or of urgency is format 5, shared with the Python SDK's test", "[codec]") {
  // tests/integration/sdk_vectors.py encodes the same delta with the independent encoder.
  PlanDelta amended = OfKind(PlanDelta::kAmended);
  amended.mutable_amended()->clear_limit_price();
  amended.mutable_amended()->set_limit_removed(true);
  amended.mutable_amended()->set_urgency(URGENCY_HIGH);
  const std::string bytes = EncodeCanonical(amended);
  CHECK(exo::ToHex(bytes) ==
        "05" "0000000000000033" "00000006" "706c616e2d37" "0000000a" "17979cfe3d85cd15" "00000000"
        "0a"                  // kind: amended
        "000000000bebc200"    // quantity 2.00000000
        "00"                  // no new limit price
        "00000005" "6368617365"  // reason "chase"
        "01"                  // the limit removed
        "00000003");          // urgency HIGH
  auto back = DecodeCanonical(bytes);
  REQUIRE(back.ok());
  CHECK(back->amended().limit_removed());
  CHECK(back->amended().urgency() == URGENCY_HIGH);
  CHECK(EncodeCanonical(*back) == bytes);
  // Either one alone is format 5 too; neither is format 4 (the two trailing fields absent).
  amended.mutable_amended()->set_limit_removed(false);
  CHECK(EncodeCanonical(amended)[0] == 5);
  amended.mutable_amended()->set_urgency(URGENCY_UNSPECIFIED);
  amended.mutable_amended()->set_limit_removed(true);
  CHECK(EncodeCanonical(amended)[0] == 5);
  amended.mutable_amended()->set_limit_removed(false);
  CHECK(exo::ToHex(EncodeCanonical(amended)).substr(0, 2) == "04");
  // Format 5 with neither (the trailing fields zero) is not a canonical encoding; an urgency
  // that is not one is refused.
  std::string zeroed = bytes;
  zeroed[bytes.size() - 5] = 0;
  zeroed[bytes.size() - 1] = 0;
  CHECK(DecodeCanonical(zeroed).status().message().find("format 5 for a delta format 4 holds") != std::string::npos);
  std::string bad = bytes;
  bad[bytes.size() - 1] = 9;
  CHECK(DecodeCanonical(bad).status().message().find("unknown enum value 9") != std::string::npos);
}

TEST_CASE("a dead man's switch armed is format 6, shared with the Python SDK's test, and only format 6",
          "[codec]") {
  // tests/integration/sdk_vectors.py encodes the same delta with the independent encoder.
  const PlanDelta armed = OfKind(PlanDelta::kDisconnectArmed);
  const std::string bytes = EncodeCanonical(armed);
  CHECK(exo::ToHex(bytes) ==
        "06" "0000000000000034" "00000006" "706c616e2d37" "0000000b" "17979cfe3d85cd15" "00000000"
        "0b"                  // kind: disconnect_armed
        "000009c4");          // grace 2500 ms
  auto back = DecodeCanonical(bytes);
  REQUIRE(back.ok());
  CHECK(back->disconnect_armed().grace_ms() == 2500);
  // In an older format it is not a canonical encoding.
  std::string older = bytes;
  older[0] = 5;
  CHECK(DecodeCanonical(older).status().message().find("format 5 for a delta format 6 holds") != std::string::npos);
}

TEST_CASE("an order whose sender is known is format 7, shared with the Python SDK's test, and only then",
          "[codec]") {
  // The created delta of the format-2 vector sent by client "desk-a": format 3's layout (its
  // urgency and arrival band, 0), format byte 7, the client's name last. In
  // tests/integration/sdk_vectors.py too.
  PlanDelta c = LowUrgencyBuy();
  c.mutable_created()->set_routed_by("desk-a");
  const std::string bytes = EncodeCanonical(c);
  CHECK(exo::ToHex(bytes) ==
        "07"                                  // format 7
        "0000000000000033" "00000001" "6f" "00000001" "17979cfe3d85cd15" "00000000" "01"
        "00000001" "6f" "00000001" "58" "00000001" "0000000000000001" "00" "00000001" "0000000000000000"
        "00000000" "00000000" "00000000" "00000001" "00000001" "58" "00000002" "00000008"
        "00000001"                            // urgency LOW
        "00000000"                            // no arrival band
        "00000006" "6465736b2d61");           // routed by "desk-a"
  auto back = DecodeCanonical(bytes);
  REQUIRE(back.ok());
  CHECK(back->created().routed_by() == "desk-a");
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*back, c));
  // Without a sender, the format it had (2: the urgency), bytes and hash unchanged.
  c.mutable_created()->clear_routed_by();
  CHECK(EncodeCanonical(c)[0] == 2);
  // Format 7 with no sender, or a sender in an older format, is not a canonical encoding.
  std::string older = bytes;
  older[0] = 6;
  CHECK_FALSE(DecodeCanonical(older).ok());
  std::string fin = EncodeCanonical(OfKind(PlanDelta::kFinished));
  fin[0] = 7;
  CHECK(DecodeCanonical(fin).status().message().find("format 7 for a delta format 1 holds") != std::string::npos);
}

TEST_CASE("the privacy_refused vector shared with the Python SDK's test", "[codec]") {
  // tests/integration/sdk_vectors.py encodes the same delta with the independent encoder.
  const PlanDelta refused = OfKind(PlanDelta::kPrivacyRefused);
  CHECK(exo::ToHex(EncodeCanonical(refused)) ==
        "01" "0000000000000031" "00000006" "706c616e2d37" "00000008" "17979cfe3d85cd15" "00000000"
        "08" "0000000e" "737570706c792f4254432d555344" "00000000692cda80" "000000000000e290"
        "000000000000ea60" "0000000000000fa0" "00000007" "726f7574652d39");
}

TEST_CASE("the governance vector shared with the Python SDK's test", "[codec]") {
  const PlanDelta gov = OfKind(PlanDelta::kGovernance);
  CHECK(exo::ToHex(EncodeCanonical(gov)) ==
        "01" "0000000000000032" "00000006" "706c616e2d37" "00000009" "17979cfe3d85cd15" "00000000"
        "09" "00000001" "00000006" "636f6e666967" "00000002" "abcd" "0000000a" "6665652032202d3e2033");
  // An unknown governance kind does not decode.
  std::string bytes = EncodeCanonical(gov);
  bytes[bytes.size() - 1 - 10 - 4 - 2 - 4 - 6 - 4 - 3] = 9;  // The kind's last byte.
  CHECK_FALSE(DecodeCanonical(bytes).ok());
}
