#!/usr/bin/python3
"""The Python SDK's canonical encoder against byte vectors produced by the C++ codec, for the
delta kinds a single-node daemon writes rarely or never (cluster nodes' privacy_refused, governance)
for formats 2 and 3 (an order's urgency, its arrival band), format 4 (an amendment), format 5
(an amendment to market or of urgency), format 6 (a dead man's switch armed) and format 7 (an
order whose sender is known)."""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import exoroute_sdk  # noqa: E402

# tests/store/delta_codec_test.cc: OneOfEachKind(), the privacy_refused delta.
PRIVACY_REFUSED_HEX = (
    "01"                                  # format 1
    "0000000000000031"                    # sequence 49
    "00000006" "706c616e2d37"             # plan_id "plan-7"
    "00000008"                            # plan_version 8
    "17979cfe3d85cd15"                    # event_time_ns 1700000000123456789
    "00000000"                            # no inputs digest
    "08"                                  # kind: privacy_refused
    "0000000e" "737570706c792f4254432d555344"  # signal "supply/BTC-USD"
    "00000000692cda80"                    # window_start_s 1764547200
    "000000000000e290"                    # spent_milli 58000
    "000000000000ea60"                    # limit_milli 60000
    "0000000000000fa0"                    # requested_milli 4000
    "00000007" "726f7574652d39")          # route_id "route-9"


# The governance delta of the same test.
GOVERNANCE_HEX = (
    "01" "0000000000000032" "00000006" "706c616e2d37" "00000009" "17979cfe3d85cd15" "00000000"
    "09"                                  # kind: governance
    "00000001"                            # GOVERNANCE_KIND_CONFIG_APPLIED
    "00000006" "636f6e666967"             # subject "config"
    "00000002" "abcd"                     # digest
    "0000000a" "6665652032202d3e2033")    # detail "fee 2 -> 3"


# tests/store/delta_codec_test.cc: the amended delta (format 4).
AMENDED_HEX = (
    "04" "0000000000000033" "00000006" "706c616e2d37" "0000000a" "17979cfe3d85cd15" "00000000"
    "0a"                                  # kind: amended
    "000000000bebc200"                    # quantity 200000000
    "01" "0000000000632ab8"               # a new limit price: 6499000
    "00000005" "6368617365")              # reason "chase"


# tests/store/delta_codec_test.cc: the amended delta to market with an urgency (format 5).
AMENDED_FORMAT5_HEX = (
    "05" + AMENDED_HEX[2:].replace("01" "0000000000632ab8", "00") +  # no new limit price
    "01"                                  # the limit removed
    "00000003")                           # urgency HIGH


# tests/store/delta_codec_test.cc: the disconnect_armed delta (format 6).
DISCONNECT_ARMED_HEX = (
    "06" "0000000000000034" "00000006" "706c616e2d37" "0000000b" "17979cfe3d85cd15" "00000000"
    "0b"                                  # kind: disconnect_armed
    "000009c4")                           # grace 2500 ms


# tests/store/delta_codec_test.cc: the format-2 created delta (an urgency).
CREATED_FORMAT2_HEX = (
    "02" "0000000000000033" "00000001" "6f" "00000001" "17979cfe3d85cd15" "00000000" "01"
    "00000001" "6f" "00000001" "58" "00000001" "0000000000000001" "00" "00000001" "0000000000000000"
    "00000000" "00000000" "00000000" "00000001" "00000001" "58" "00000002" "00000008"
    "00000001")                           # urgency LOW


# tests/store/delta_codec_test.cc: the same created delta with an arrival band (format 3).
CREATED_FORMAT3_HEX = "03" + CREATED_FORMAT2_HEX[2:] + "00000019"  # arrival band 25 bp

# tests/store/delta_codec_test.cc: the same created delta sent by client "desk-a" (format 7).
CREATED_FORMAT7_HEX = "07" + CREATED_FORMAT2_HEX[2:] + "00000000" + "00000006" + "6465736b2d61"


def delta(pb, sequence, version, plan_id="plan-7"):
    """A delta's header as the C++ test's vectors have it (one event time for all)."""
    d = pb["types"].PlanDelta()
    d.sequence, d.plan_id, d.plan_version, d.event_time_ns = sequence, plan_id, version, 1700000000123456789
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto-dir", required=True)
    args = ap.parse_args()
    failures = []

    def expect(name, d, want):
        got = exoroute_sdk.encode_canonical(d).hex()
        if got != want:
            failures.append(f"FAIL: {name}\n got  {got}\n want {want}")

    with tempfile.TemporaryDirectory() as out:
        pb = exoroute_sdk.load_protos(args.proto_dir, out)
        d = delta(pb, 49, 8)
        p = d.privacy_refused
        p.signal = "supply/BTC-USD"
        p.window_start_s = 1764547200
        p.spent_milli = 58000
        p.limit_milli = 60000
        p.requested_milli = 4000
        p.route_id = "route-9"
        expect("privacy_refused", d, PRIVACY_REFUSED_HEX)
        g = delta(pb, 50, 9)
        g.governance.kind = 1
        g.governance.subject = "config"
        g.governance.digest = bytes.fromhex("abcd")
        g.governance.detail = "fee 2 -> 3"
        expect("governance", g, GOVERNANCE_HEX)
        a = delta(pb, 51, 10)
        a.amended.quantity = 200000000
        a.amended.limit_price = 6499000
        a.amended.reason = "chase"
        expect("amended", a, AMENDED_HEX)
        a.amended.ClearField("limit_price")
        expect("amended without a limit", a, AMENDED_HEX.replace("01" "0000000000632ab8", "00"))
        a.amended.limit_removed = True
        a.amended.urgency = pb["types"].URGENCY_HIGH
        expect("amended to market, urgency HIGH", a, AMENDED_FORMAT5_HEX)
        sw = delta(pb, 52, 11)
        sw.disconnect_armed.grace_ms = 2500
        expect("disconnect_armed", sw, DISCONNECT_ARMED_HEX)
        c = delta(pb, 51, 1, plan_id="o")
        o = c.created.order
        o.id, o.symbol, o.side, o.quantity, o.time_in_force, o.urgency = "o", "X", 1, 1, 1, 1
        c.created.mode = 1
        c.created.instrument.symbol = "X"
        c.created.instrument.price_scale = 2
        c.created.instrument.qty_scale = 8
        expect("created (format 2)", c, CREATED_FORMAT2_HEX)
        o.arrival_band_bps = 25
        expect("created (format 3)", c, CREATED_FORMAT3_HEX)
        o.arrival_band_bps = 0
        c.created.routed_by = "desk-a"
        expect("created (format 7)", c, CREATED_FORMAT7_HEX)
        c.created.routed_by = ""
        o.urgency = 0
        expect("created (format 1)", c, "01" + CREATED_FORMAT2_HEX[2:-8])
    for f in failures:
        print(f)
    if failures:
        return 1
    print("OK: the Python encoder matches the C++ codec's vectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
