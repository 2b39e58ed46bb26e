#!/usr/bin/python3
"""Independent verification of an exorouted hash chain, in Python.

Starts a real exorouted (TLS, port 0, a temporary data directory), routes orders through the
Python gRPC client, then replays the whole chain and checks, from docs/replay-and-audit.md
alone, that:
  * re-encoding each decoded PlanDelta per the spec gives exactly the canonical bytes served,
  * hash(n) = SHA-256(prev_hash(n) || canonical(n)) and the links are unbroken,
  * the last hash is the chain head, and every RPC error carries the right status code.

usage: verify_chain.py --exorouted PATH --proto-dir DIR
"""
import argparse
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import exoroute_sdk  # noqa: E402
import grpc  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def route_error(client, *args, **kw):
    """Routes expecting a refusal; returns (status code name, message)."""
    try:
        client.route(*args, **kw)
    except grpc.RpcError as e:
        return e.code().name, e.details()
    raise AssertionError("route unexpectedly succeeded")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exorouted", required=True)
    ap.add_argument("--proto-dir", required=True)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="exo-py-") as tmp:
        pb = exoroute_sdk.load_protos(args.proto_dir, os.path.join(tmp, "gen"))
        data = os.path.join(tmp, "data")
        cfg = subprocess.run([args.exorouted, "--print-default-config"], check=True,
                             capture_output=True, text=True).stdout
        cfg = json.loads(cfg)
        cfg["data_dir"] = data
        cfg["listen"]["address"] = "127.0.0.1:0"
        cfg["admin"]["listen"] = "127.0.0.1:0"
        for v in cfg["venues"]:
            v["sim"]["latency_ms"] = 0
            v["sim"]["update_interval_ms"] = 20
        cfg["routing"]["replan_interval_ms"] = 10
        cfg["tls"] = {"require_client_cert": True}  # Mutual TLS: the SDK presents the dev client certificate.
        os.makedirs(data)
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(cfg, f)
        log = open(os.path.join(tmp, "exorouted.log"), "w")
        proc = subprocess.Popen([args.exorouted, "--config", os.path.join(tmp, "config.json")],
                                stdout=subprocess.DEVNULL, stderr=log)
        try:
            endpoint_file = os.path.join(data, "endpoint")
            deadline = time.time() + 30
            while not os.path.exists(endpoint_file):
                check(proc.poll() is None, "exorouted exited during start-up")
                check(time.time() < deadline, "exorouted not ready in 30 s")
                time.sleep(0.01)
            endpoint = open(endpoint_file).read().strip()
            certs = os.path.join(data, "certs")
            ca = os.path.join(certs, "ca.pem")
            client = exoroute_sdk.Client(pb, endpoint, ca_file=ca, cert_file=os.path.join(certs, "client.pem"),
                                         key_file=os.path.join(certs, "client.key"))
            # Without a client certificate the node refuses the connection: the SDK says so
            # (at connect, or at the first call with TLS 1.3, where the client finishes first).
            try:
                anonymous = exoroute_sdk.Client(pb, endpoint, ca_file=ca, timeout=1.5)
                anonymous.status()
                check(False, "a client without a certificate was served")
            except ConnectionError as e:
                check(endpoint in str(e), e)
                print(f"python client: without a client certificate: {e}")
            except grpc.RpcError as e:
                check(e.code().name == "UNAVAILABLE", (e.code(), e.details()))
            try:
                exoroute_sdk.Client(pb, endpoint, ca_file=ca, cert_file=os.path.join(certs, "client.pem"))
                check(False, "the SDK took a certificate without its key")
            except ValueError as e:
                check("go together" in str(e), e)

            # Following the chain from its head: a drop copy of each delta as it is recorded, the
            # same canonical bytes a replay gives.
            btc = 100_000_000
            start = client.head().sequence
            follow = client.follow(from_sequence=start + 1, include_canonical=True, timeout=30)
            client.route("py-follow", "BTC-USD", "buy", btc, mode="plan_only")
            got = [next(follow), next(follow)]
            check([m.delta.sequence for m in got] == [start + 1, start + 2] and
                  [m.delta.plan_id for m in got] == ["py-follow"] * 2 and
                  [m.delta.WhichOneof("change") for m in got] == ["created", "allocated"] and
                  all(m.canonical == exoroute_sdk.encode_canonical(m.delta) for m in got), got)
            follow.close()

            # Traffic: a plan-only order, two executed ones (buy and sell), one cancelled.
            client.route("py-plan", "BTC-USD", "buy", 2 * btc, mode="plan_only", limit=6_510_000)
            client.route("py-buy", "BTC-USD", "buy", 3 * btc, mode="execute")
            client.route("py-sell", "BTC-USD", "sell", btc, mode="execute")
            # Low urgency: its deltas carry the urgency and the band (canonical format 2).
            low = client.route("py-low", "BTC-USD", "buy", 40 * btc, mode="plan_only", urgency="low")
            check(low.order.urgency == 1 and low.last_solve.price_band_limit > 0 and low.shortfall > 0, low)
            # An arrival band: the order and its first decision carry it (canonical format 3).
            arrival = client.route("py-arrival", "BTC-USD", "sell", 40 * btc, mode="plan_only",
                                   urgency="low", arrival_band_bps=1)
            check(arrival.order.arrival_band_bps == 1 and arrival.arrival_limit > 0 and
                  arrival.last_solve.arrival_limit == arrival.arrival_limit and arrival.shortfall > 0, arrival)
            # A dead man's switch: the watch that asked for it goes away (here closed; a crash or
            # a lost connection alike) and the node cancels the resting order.
            client.route("py-dms", "BTC-USD", "buy", btc, mode="execute", limit=100)
            dms = client.watch("py-dms", cancel_on_disconnect=True)
            check(next(dms).WhichOneof("change") == "created", "no first delta")
            dms.close()
            deadline = time.time() + 10
            while client.get_plan("py-dms").status != pb["types"].PLAN_STATUS_CANCELLED:
                check(time.time() < deadline, "py-dms not cancelled 10 s after its watch went away")
                time.sleep(0.01)
            check(client.get_plan("py-dms").reason.startswith("cancelled on disconnect"),
                  client.get_plan("py-dms").reason)
            check(client.get_plan("py-dms").cancel_on_disconnect, "py-dms does not say it was armed")
            # The books the node reads now: every venue of the symbol, three levels a side, none
            # left out; the best prices over them; a symbol it does not trade is NOT_FOUND.
            books = client.books("BTC-USD", depth=3)
            check([v.venue for v in books.venues] == ["SIM-A", "SIM-B", "SIM-C"], books)
            check(all(len(v.book.bids) == 3 and len(v.book.asks) == 3 and not v.buy_exclusion and
                      not v.sell_exclusion for v in books.venues), books)
            check(books.best_ask == min(v.book.asks[0].price for v in books.venues) and
                  books.best_bid == max(v.book.bids[0].price for v in books.venues), books)
            try:
                client.books("XRP-USD")
                check(False, "GetBooks took XRP-USD")
            except grpc.RpcError as e:
                check(e.code().name == "NOT_FOUND" and e.details().startswith('symbol: unknown symbol "XRP-USD"'),
                      e.details())
            client.route("py-wait", "BTC-USD", "buy", btc, mode="execute", limit=100)
            client.route("py-wait-2", "BTC-USD", "buy", btc, mode="execute", limit=100)
            # The working plans, a page of one at a time: both waiting buys, by id.
            working = [p.plan_id for p in client.working_plans(page_size=1)
                       if p.plan_id.startswith("py-wait")]
            check(working == ["py-wait", "py-wait-2"], working)
            # Each records who sent it (the dev client certificate's name), and the list keeps one
            # client's plans.
            me = client.get_plan("py-wait").routed_by
            check(me != "", "py-wait records no sender")
            mine = [p.plan_id for p in client.working_plans(routed_by=me) if p.plan_id.startswith("py-wait")]
            check(mine == ["py-wait", "py-wait-2"], mine)
            check(client.working_plans(routed_by="someone-else") == [], "another client's list is not empty")
            try:
                client.list_plans(page_size=1001)
                check(False, "ListPlans took page_size 1001")
            except grpc.RpcError as e:
                check(e.code().name == "INVALID_ARGUMENT" and
                      e.details() == "page_size: must be <= 1000 (0 = 100), got 1001", e.details())
            # Watching a waiting plan: its deltas from the first; leaving the watch ends the stream
            # on the node too.
            watch = client.watch("py-wait")
            seen = [next(watch).WhichOneof("change"), next(watch).WhichOneof("change")]
            check(seen == ["created", "allocated"], seen)
            check(client.status().open_watches == 1, "the watch is not open on the node")
            watch.close()
            deadline = time.time() + 5
            while client.status().open_watches != 0:
                check(time.time() < deadline, "a closed watch still open on the node after 5 s")
                time.sleep(0.01)
            # An amendment: the waiting buy doubled and its limit moved (still out of reach), then
            # hurried; the chain's amended deltas (formats 4 and 5) are re-encoded by the Python
            # verifier below.
            amended, changed = client.amend("py-wait-2", quantity=2 * btc, limit_price=200, reason="python amends")
            check(changed and amended.amendments == 1 and amended.order.quantity == 2 * btc and
                  amended.order.limit_price == 200 and amended.routed_order.quantity == btc, amended)
            _, changed = client.amend("py-wait-2", quantity=2 * btc)
            check(not changed, "the same terms amended again")
            hurried, changed = client.amend("py-wait-2", urgency="high")
            check(changed and hurried.amendments == 2 and hurried.order.urgency == pb["types"].URGENCY_HIGH and
                  hurried.order.limit_price == 200, hurried)
            for plan_id, kw, want in (("py-wait-2", {}, ("INVALID_ARGUMENT", "quantity: give a new quantity")),
                                      ("py-wait-2", {"limit_price": 300, "market": True},
                                       ("INVALID_ARGUMENT", "remove_limit: not with limit_price")),
                                      ("py-plan", {"quantity": btc}, ("FAILED_PRECONDITION", "plan \"py-plan\" is plan-only")),
                                      ("py-none", {"quantity": btc}, ("NOT_FOUND", "plan \"py-none\" not found"))):
                try:
                    client.amend(plan_id, **kw)
                    check(False, f"AmendPlan {plan_id} {kw} was taken")
                except grpc.RpcError as e:
                    check(e.code().name == want[0] and e.details().startswith(want[1]), (e.code(), e.details()))
            client.cancel("py-wait", "python says no")
            answer = client.cancel_route("py-wait-2", "python says no")
            check(answer.plan.plan_id == "py-wait-2" and not answer.noticed_on and not answer.notice_warning, answer)
            check(all(not p.plan_id.startswith("py-wait") for p in client.working_plans()),
                  "a cancelled plan is still listed as working")
            for plan_id in ("py-buy", "py-sell"):
                last = client.watch_to_end(plan_id)[-1]
                check(last.WhichOneof("change") == "finished", f"{plan_id} did not finish")

            # A finished plan read back: filled in full, its allocations and fills consistent;
            # GetRoute on one node is that plan's progress.
            t = pb["types"]
            plan = client.get_plan("py-buy")
            check(plan.plan_id == "py-buy" and plan.status == t.PLAN_STATUS_COMPLETED and
                  plan.filled_quantity == 3 * btc and plan.average_price > 0, plan)
            check(sum(c.filled_quantity for c in plan.children) == 3 * btc, plan.children)
            route = client.get_route("py-buy")
            check(route.settled and route.quantity == 3 * btc and route.filled_quantity == 3 * btc and
                  route.order_quantity == 3 * btc and route.shortfall == 0 and
                  [(n.node, n.status) for n in route.nodes] == [("node-1", t.PLAN_STATUS_COMPLETED)], route)
            # Followed as a stream, a settled route is one answer: GetRoute's.
            watched = list(client.watch_route("py-buy"))
            check(len(watched) == 1 and watched[0] == route, watched)
            # What the fills cost, as the plan has it: the route's and its one node's.
            check((route.filled_notional, route.fees, route.average_price) ==
                  (plan.filled_notional, plan.fees, plan.average_price) and
                  (route.nodes[0].filled_notional, route.nodes[0].fees, route.nodes[0].average_price) ==
                  (plan.filled_notional, plan.fees, plan.average_price), route)
            # Plan-only and short of its order: on one node the plan keeps its own shortfall (the
            # plan's field), none is left over beside it (GetRoute's is a cluster's unplaced rest).
            look = client.get_route("py-low")
            check(look.order_quantity == 40 * btc and look.quantity == 40 * btc and look.shortfall == 0 and
                  client.get_plan("py-low").shortfall == low.shortfall, look)
            for call, arg, field in ((client.get_plan, "", "plan_id"), (client.get_route, "", "route_id")):
                try:
                    call(arg)
                    check(False, f"{call.__name__} took an empty id")
                except grpc.RpcError as e:
                    check(e.code().name == "INVALID_ARGUMENT" and e.details().startswith(field + ":"),
                          (e.code(), e.details()))
            for call in (client.get_plan, client.get_route):
                try:
                    call("py-never")
                    check(False, f"{call.__name__} found a plan never made")
                except grpc.RpcError as e:
                    check(e.code().name == "NOT_FOUND" and "py-never" in e.details(), (e.code(), e.details()))
            # A settlement: of no plan, of a child that ended (py-buy's first: completed).
            child = plan.children[0].order.cl_ord_id
            for plan_id, cl_ord_id, want in (("py-never", child, ("NOT_FOUND", 'plan "py-never" not found')),
                                             ("py-buy", child, ("FAILED_PRECONDITION", f"cl_ord_id: child {child} has ended")),
                                             ("py-buy", "", ("INVALID_ARGUMENT", "cl_ord_id: required"))):
                try:
                    client.settle_child(plan_id, cl_ord_id, 0, "python checks")
                    check(False, f"settled {cl_ord_id} of {plan_id}")
                except grpc.RpcError as e:
                    check(e.code().name == want[0] and e.details().startswith(want[1]), (e.code(), e.details()))
            status = client.status()
            check(status.node_id == "node-1" and [v.venue for v in status.venues] == ["SIM-A", "SIM-B", "SIM-C"],
                  status)
            print(f"python client: GetPlan, GetRoute (one node), Status and their errors checked")

            # A trading halt: executed routes refused with the reason, plan-only answered; the
            # halt and the resume are governance events the chain check below reads.
            trading, changed = client.set_trading(True, "python halts")
            # The reason recorded names the client certificate's common name (the dev client's).
            check(changed and trading.halted and trading.reason == "python halts (by client exoroutectl)", trading)
            code, msg = route_error(client, "py-halted", "BTC-USD", "buy", btc, mode="execute")
            check(code == "FAILED_PRECONDITION" and "python halts" in msg, (code, msg))
            client.route("py-halted-look", "BTC-USD", "buy", btc, mode="plan_only")
            trading, changed = client.set_trading(False, "python resumes")
            check(changed and not trading.halted, trading)
            # One symbol alone: its executed routes refused, the other symbol's answered.
            trading, changed = client.set_trading(True, "python halts ETH", symbol="ETH-USD")
            check(changed and trading.halted, trading)
            code, msg = route_error(client, "py-eth-halted", "ETH-USD", "buy", 10**6, mode="execute")
            check(code == "FAILED_PRECONDITION" and "trading in ETH-USD is halted" in msg, (code, msg))
            trading, changed = client.set_trading(False, "python resumes ETH", symbol="ETH-USD")
            check(changed and not trading.halted, trading)

            # A config reload: SIM-B's fee lowered in the file is in force for the next decision,
            # recorded as a governance event the chain check below reads; a change that takes a
            # restart is refused whole.
            cfg_path = os.path.join(tmp, "config.json")
            cfg["venues"][1]["taker_fee_bps"] = 0.5
            with open(cfg_path, "w") as f:
                json.dump(cfg, f)
            dry = client.reload_config(dry_run=True)
            check(dry.changed and dry.sequence == 0 and dry.change == "modified: venues[1].taker_fee_bps: 1 -> 0.5",
                  dry)
            done = client.reload_config()
            check(done.changed and done.sequence > 0 and done.change == dry.change and done.path == cfg_path, done)
            check([v.fee_bps for v in client.status().venues if v.venue == "SIM-B"] == [0.5], client.status().venues)
            # The chain says who reloaded it: the client certificate's common name (mutual TLS).
            event = [m.delta for m in client.replay() if m.delta.sequence == done.sequence]
            check(len(event) == 1 and event[0].governance.detail == done.change + " (reloaded by client exoroutectl)",
                  event)
            check(client.status().config.reloads_applied == 1, client.status().config)
            cfg["venues"][0]["sim"]["depth"] = 21
            with open(cfg_path, "w") as f:
                json.dump(cfg, f)
            try:
                client.reload_config()
                check(False, "a reload changing venues[0].sim.depth was applied")
            except grpc.RpcError as e:
                check(e.code().name == "FAILED_PRECONDITION" and
                      "takes a restart: modified: venues[0].sim.depth: 20 -> 21" in e.details(), e.details())
            cfg["venues"][0]["sim"]["depth"] = 20
            with open(cfg_path, "w") as f:
                json.dump(cfg, f)
            check(not client.reload_config().changed, "the file as in force changed something")

            # The order's venue limits and times in force, as the SDK sends them.
            only_b = client.route("py-only-b", "BTC-USD", "buy", btc, allowed_venues=["SIM-B"])
            check({a.venue for a in only_b.allocations} == {"SIM-B"} and
                  sorted(x.venue for x in only_b.exclusions) == ["SIM-A", "SIM-C"], only_b)
            not_b = client.route("py-not-b", "BTC-USD", "buy", 2 * btc, denied_venues=["SIM-B"])
            check(len(not_b.allocations) > 0 and all(a.venue != "SIM-B" for a in not_b.allocations), not_b)
            one = client.route("py-one-venue", "BTC-USD", "buy", 3 * btc, max_venues=1)
            check(len([a for a in one.allocations if a.quantity > 0]) == 1, one)
            gtt = client.route("py-gtt", "BTC-USD", "buy", btc, tif="gtt", expire_after_ms=60_000)
            check(gtt.order.time_in_force == t.TIME_IN_FORCE_GTT and gtt.order.expire_after_ms == 60_000, gtt)
            code, msg = route_error(client, "py-gtt-bad", "BTC-USD", "buy", btc, tif="gtt")
            check(code == "INVALID_ARGUMENT" and msg.startswith("order.expire_after_ms: must be > 0"), (code, msg))
            try:
                client.route("py-bad-tif", "BTC-USD", "buy", btc, tif="day")
                check(False, "the SDK sent a time in force it does not know")
            except ValueError as e:
                check("tif must be" in str(e), e)
            try:
                client.route("py-one-string", "BTC-USD", "buy", btc, denied_venues="SIM-A")
                check(False, "the SDK sent a venue list made of a string's letters")
            except TypeError as e:
                check(str(e) == "denied_venues must be a list of venue ids, got the string 'SIM-A'", e)

            # Errors carry the right code and name the field.
            code, msg = route_error(client, "bad", "BTC-USD", "buy", 0)
            check(code == "INVALID_ARGUMENT" and msg == "order.quantity: must be > 0, got 0", (code, msg))
            code, msg = route_error(client, "bad", "NOPE", "buy", 1)
            check(code == "FAILED_PRECONDITION", (code, msg))

            # Standard gRPC health checking and server reflection, called as raw methods.
            raw = lambda method: client.channel.unary_unary(
                method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            health = raw("/grpc.health.v1.Health/Check")(b"", timeout=5)
            check(health == b"\x08\x01", f"health check answered {health!r}, not SERVING")
            refl = client.channel.stream_stream(
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                request_serializer=lambda b: b, response_deserializer=lambda b: b)
            listed = b"".join(refl(iter([b"\x3a\x00"]), timeout=5))  # list_services: ""
            for svc in (b"exoroute.v1.RouterService", b"exoroute.v1.AuditService",
                        b"exoroute.v1.AdminService", b"grpc.health.v1.Health"):
                check(svc in listed, f"reflection does not list {svc!r}")
            venues = client.admin.ListVenues(pb["admin"].ListVenuesRequest(), timeout=5).venues
            check([v.venue for v in venues] == ["SIM-A", "SIM-B", "SIM-C"], venues)

            # Independent verification of the whole chain.
            head = client.head()
            replayed = client.replay(include_canonical=True, include_inputs=True)
            count = exoroute_sdk.verify_chain(replayed, head)
            check(count == head.sequence and count > 20, f"verified {count}, head {head.sequence}")
            print(f"python verifier: {count} deltas re-encoded and hash-checked; head {head.hash.hex()}")
            # Each decision's recorded inputs, as Replay sends them, hash to the digest its delta
            # carries (in the chain): what the decision read is the journaled input.
            decided = [m for m in replayed if m.delta.HasField("allocated")]
            check(len(decided) > 0, "no decision replayed")
            for m in decided:
                digest = hashlib.sha256(m.inputs.SerializeToString(deterministic=True)).digest()
                check(digest == m.delta.inputs_digest,
                      f"delta {m.delta.sequence}: its inputs hash to {digest.hex()}, not the recorded "
                      f"{m.delta.inputs_digest.hex()}")
                check(len(m.inputs.venues) > 0, f"delta {m.delta.sequence}: inputs without venues")
            print(f"python verifier: {len(decided)} decisions' recorded inputs match their digests")
            # The node's own check agrees, every decision solved again from its inputs.
            own = client.verify(recompute_decisions=True, to_sequence=head.sequence)
            check(own.ok and own.checked == head.sequence and own.decisions_checked == len(decided) and
                  own.first_bad_sequence == 0, own)
            part = client.verify(from_sequence=2, to_sequence=3)
            check(part.ok and part.checked == 2, part)

            # The node's signed head, checked with Python's own Ed25519 over the documented
            # text; a changed field fails.
            signed = client.signed_head()
            check(signed.node_id == "node-1" and signed.head.sequence == head.sequence
                  and signed.head.hash == head.hash, signed)
            exoroute_sdk.verify_signed_head(signed, public_key=signed.public_key)
            tampered = type(signed)()
            tampered.CopyFrom(signed)
            tampered.head.sequence += 1
            try:
                exoroute_sdk.verify_signed_head(tampered)
                check(False, "a changed signed head verified")
            except AssertionError as e:
                check("does not verify" in str(e), e)
            print(f"python verifier: signed head {signed.head.sequence} verified "
                  f"(Ed25519 key {signed.public_key.hex()})")

            # Inclusion proofs of the first and the last delta and one in between, checked with
            # Python's own RFC 9162 verifier; a proof of another delta's bytes fails.
            for seq in sorted({1, head.sequence // 2, head.sequence}):
                proof = client.prove_inclusion(seq)
                check(proof.tree_size == head.sequence, proof.tree_size)
                exoroute_sdk.verify_inclusion(proof, public_key=signed.public_key)
            forged = client.prove_inclusion(1)
            forged.canonical = client.prove_inclusion(2).canonical
            try:
                exoroute_sdk.verify_inclusion(forged)
                check(False, "a proof with another delta's bytes verified")
            except AssertionError as e:
                check("does not lead to the tree's root" in str(e), e)
            print(f"python verifier: inclusion proofs in a tree of {head.sequence} verified")

            # The log grows; a tree head kept earlier is proved its beginning.
            kept = client.prove_inclusion(1)
            client.route("py-later", "BTC-USD", "sell", btc, mode="plan_only")
            grown = client.prove_consistency(kept.tree_size)
            check(grown.to_size > kept.tree_size, (grown.to_size, kept.tree_size))
            exoroute_sdk.verify_consistency(grown, kept.tree_size, kept.root, public_key=signed.public_key)
            try:
                exoroute_sdk.verify_consistency(grown, kept.tree_size, bytes(32))
                check(False, "a consistency proof against another root verified")
            except AssertionError as e:
                check("changed after the kept head" in str(e), e)
            print(f"python verifier: tree of {kept.tree_size} proved the beginning of {grown.to_size}")

            # A dead man's switch rides out a restart: the node stops (its watches end with
            # UNAVAILABLE) and starts again on the same port; the SDK's watch comes back by itself
            # within the grace of the node's start, so the order is not cancelled.
            # A plain watch (no switch) rides it out too, and ends when its plan settles.
            client.route("py-rewatch", "BTC-USD", "buy", btc, mode="execute", limit=100)
            client.route("py-plain", "BTC-USD", "buy", btc, mode="execute", limit=100)
            seen, failed, plain_seen = [], [], []

            def consume():
                try:
                    for d in client.watch("py-rewatch", cancel_on_disconnect=True, grace_ms=3000):
                        seen.append(d.WhichOneof("change"))
                except Exception as e:  # Checked on the main thread.
                    failed.append(e)

            def consume_plain():
                try:
                    for d in client.watch("py-plain"):
                        plain_seen.append(d.WhichOneof("change"))
                except Exception as e:  # Checked on the main thread.
                    failed.append(e)

            # And the plan's progress as WatchRoute follows it (one node: its plan's totals).
            route_seen = []

            def consume_route():
                try:
                    for r in client.watch_route("py-plain", timeout=None):
                        route_seen.append(r)
                except Exception as e:  # Checked on the main thread.
                    failed.append(e)

            # And a follower of the chain: it goes on after the restart from the delta after the
            # last it had, with no gap and nothing twice.
            follow_from = client.head().sequence + 1
            followed = []

            def consume_follow():
                try:
                    for m in client.follow(from_sequence=follow_from, timeout=60):
                        followed.append(m.delta)
                        if m.delta.plan_id == "py-after" and m.delta.WhichOneof("change") == "allocated":
                            return
                except Exception as e:  # Checked on the main thread.
                    failed.append(e)

            def status_within(seconds, says):
                """Whether the node's Status says `says` within `seconds` (a restarted one too)."""
                deadline = time.time() + seconds
                while time.time() < deadline:
                    try:
                        if says(client.status()):
                            return True
                    except grpc.RpcError:
                        pass  # The node is still starting.
                    time.sleep(0.05)
                return False

            def held_within(seconds):
                return status_within(seconds, lambda st: st.disconnect_held == 1)

            def watches_within(seconds):  # (The two plan watches and the route's.)
                return status_within(seconds, lambda st: st.open_watches == 3)

            def replays_within(seconds):
                return status_within(seconds, lambda st: st.open_replays == 1)

            watcher = threading.Thread(target=consume, daemon=True)
            watcher.start()
            plain_watcher = threading.Thread(target=consume_plain, daemon=True)
            plain_watcher.start()
            follower = threading.Thread(target=consume_follow, daemon=True)
            follower.start()
            route_watcher = threading.Thread(target=consume_route, daemon=True)
            route_watcher.start()
            check(held_within(10), "the SDK's watch does not hold the switch")
            check(watches_within(10), "the SDK's plain watch is not open")
            check(replays_within(10), "the SDK's follow is not open")
            cfg["listen"]["address"] = endpoint  # The port it had.
            with open(cfg_path, "w") as f:
                json.dump(cfg, f)
            proc.send_signal(signal.SIGTERM)
            check(proc.wait(timeout=30) == 0, "exorouted did not stop cleanly")
            if os.path.exists(endpoint_file):
                os.remove(endpoint_file)
            proc = subprocess.Popen([args.exorouted, "--config", cfg_path], stdout=subprocess.DEVNULL, stderr=log)
            check(held_within(20), f"the SDK's watch did not come back after the restart ({failed})")
            check(watches_within(20), f"the SDK's plain watch did not come back after the restart ({failed})")
            check(replays_within(20), f"the SDK's follow did not come back after the restart ({failed})")
            client.route("py-after", "BTC-USD", "buy", btc, mode="plan_only")
            follower.join(timeout=30)
            check(not follower.is_alive() and not failed, failed)
            check([d.sequence for d in followed] == list(range(follow_from, follow_from + len(followed))),
                  [d.sequence for d in followed])
            check([d.WhichOneof("change") for d in followed if d.plan_id == "py-after"] == ["created", "allocated"],
                  followed)
            time.sleep(4)  # Past the 3 s grace from the node's start.
            check(client.get_plan("py-rewatch").status == t.PLAN_STATUS_WORKING, client.get_plan("py-rewatch"))
            client.cancel("py-rewatch", "python is done")
            watcher.join(timeout=30)
            check(not watcher.is_alive() and not failed, failed)
            check([seen.count(k) for k in ("created", "disconnect_armed", "finished")] == [1, 1, 1] and
                  seen[-1] == "finished", seen)
            client.cancel("py-plain", "python is done")
            plain_watcher.join(timeout=30)
            check(not plain_watcher.is_alive() and not failed, failed)
            check([plain_seen.count(k) for k in ("created", "finished")] == [1, 1] and
                  plain_seen[-1] == "finished", plain_seen)
            route_watcher.join(timeout=30)
            check(not route_watcher.is_alive() and not failed, failed)
            check(route_seen and route_seen[-1].settled and not any(r.settled for r in route_seen[:-1]) and
                  all(a != b for a, b in zip(route_seen, route_seen[1:])), route_seen)
            print("python client: a watch holding a dead man's switch, a plain one, a route's and a follow of the chain "
                  "came back after a restart of the node")
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
            log.close()
            if rc != 0:
                print(open(os.path.join(tmp, "exorouted.log")).read(), file=sys.stderr)
            check(rc == 0, f"exorouted exited {rc} on SIGTERM")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
