#!/usr/bin/python3
"""The Python SDK's watch and watch_route ride out a node that went away before its first answer.

A real gRPC server on loopback (Python, plaintext) stands for the node: its first WatchRoute and
its first WatchPlan end as a node's shutdown deadline cuts a watch it took but had not answered
yet (CANCELLED, nothing sent); then it answers. The SDK must watch again and yield the answer,
not raise the CANCELLED. A node that never answers again is waited for `rejoin_for` seconds and
then raises what it said as it went. And follow, against a scripted AuditService: once the node is
back it goes on only with the chain it was following (ChainChanged otherwise), a node that was
back for a while before it went away again gets a wait of its own, and a node that stays away ends
the follow with what it said as it went, not with a bare CANCELLED.

usage: sdk_rejoin.py --proto-dir DIR
"""
import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent import futures

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import exoroute_sdk  # noqa: E402
import grpc  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto-dir", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="exo-py-rejoin-") as tmp:
        pb = exoroute_sdk.load_protos(args.proto_dir, os.path.join(tmp, "gen"))
        router, router_grpc = pb["router"], pb["router_grpc"]
        calls = {"route": 0, "plan": 0, "from_version": []}

        class CutBeforeAnswering(router_grpc.RouterServiceServicer):
            def WatchRoute(self, request, context):
                calls["route"] += 1
                if calls["route"] == 1:
                    context.abort(grpc.StatusCode.CANCELLED, "")
                yield router.GetRouteResponse(symbol="BTC-USD", settled=True, order_quantity=3, shortfall=3)

            def WatchPlan(self, request, context):
                calls["plan"] += 1
                calls["from_version"].append(request.from_version)
                if calls["plan"] == 1:
                    context.abort(grpc.StatusCode.CANCELLED, "")
                if calls["plan"] >= 3:  # Gone for good: says so each time it is asked.
                    context.abort(grpc.StatusCode.UNAVAILABLE, "exorouted is shutting down; watch again")
                delta = pb["types"].PlanDelta(plan_id=request.plan_id, plan_version=1, sequence=41)
                yield router.WatchPlanResponse(delta=delta)

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        router_grpc.add_RouterServiceServicer_to_server(CutBeforeAnswering(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            client = exoroute_sdk.Client(pb, f"127.0.0.1:{port}", timeout=5)

            answers = list(client.watch_route("r1", timeout=10, rejoin_for=10))
            check(calls["route"] == 2, calls)
            check(len(answers) == 1 and answers[0].settled and answers[0].shortfall == 3, answers)

            deltas = list(client.watch("p1", timeout=10, rewatch_for=10))
            check(calls["plan"] == 2 and calls["from_version"] == [1, 1], calls)
            check([(d.plan_id, d.sequence) for d in deltas] == [("p1", 41)], deltas)

            # A node that keeps saying it is going away: waited for rewatch_for, then its word.
            started = time.monotonic()
            try:
                list(client.watch("p2", timeout=10, rewatch_for=1))
                raise AssertionError("the watch of a node that stays away ended without an error")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.UNAVAILABLE, e)
                check(e.details() == "exorouted is shutting down; watch again", e.details())
            check(1 <= time.monotonic() - started < 8, time.monotonic() - started)

            # rewatch_for 0: the first CANCELLED is raised as it came.
            calls["plan"] = 0
            try:
                list(client.watch("p3", timeout=10, rewatch_for=0))
                raise AssertionError("a watch with rewatch_for=0 rode out the node going away")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.CANCELLED, e)
        finally:
            server.stop(None)
        follow_back_on_the_same_chain_only(pb)
    print("sdk_rejoin: ok")


def follow_back_on_the_same_chain_only(pb):
    """follow: once the node is back, it goes on only with the chain it was following."""
    audit, audit_grpc, types = pb["audit"], pb["audit_grpc"], pb["types"]

    class ChainNode(audit_grpc.AuditServiceServicer):
        """Its chain: delta n has hash h<n> (`chain` can change that); each follow call runs the
        next step of `script`: (deltas to send from the one asked, then how it ends: None = the
        stream ends, else seconds to wait before it goes away)."""
        def __init__(self, script, chain, head):
            self.script, self.chain, self.head, self.asked_from = list(script), chain, head, []
            self.stopped = threading.Event()  # Set: the node stops for good.

        def Replay(self, request, context):
            first = request.range.from_sequence
            if not request.follow:  # The check of one delta.
                if first in self.chain:
                    yield audit.ReplayResponse(delta=types.PlanDelta(sequence=first, hash=self.chain[first]))
                return
            self.asked_from.append(first)
            count, going_after = self.script.pop(0)
            if going_after == "cut":  # Cut by its shutdown as it opened, and gone for good.
                # (Stopped once the call has ended: stopped while it ends, the server would
                # cancel it first, UNAVAILABLE "Cancelling all calls", and not with this status.)
                context.add_callback(self.stopped.set)
                context.abort(grpc.StatusCode.CANCELLED, "")
            for n in range(first, first + count):
                yield audit.ReplayResponse(delta=types.PlanDelta(sequence=n, hash=f"h{n}".encode()))
            if going_after is not None:
                time.sleep(going_after)
                context.abort(grpc.StatusCode.UNAVAILABLE, "exorouted is shutting down; follow again from sequence "
                              f"{first + count}")

        def GetChainHead(self, request, context):
            return audit.GetChainHeadResponse(head=types.ChainHead(sequence=self.head))

    def run(node, rejoin_for=10):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        audit_grpc.add_AuditServiceServicer_to_server(node, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        stopper = threading.Thread(target=lambda: node.stopped.wait(20) and server.stop(None))
        stopper.start()
        try:
            client = exoroute_sdk.Client(pb, f"127.0.0.1:{port}", timeout=5)
            return [m.delta.sequence for m in client.follow(timeout=20, rejoin_for=rejoin_for)]
        finally:
            node.stopped.set()
            stopper.join()
            server.stop(None)

    same = {1: b"h1", 2: b"h2"}
    # Back with the same chain: it follows on from the delta after the last it yielded.
    node = ChainNode([(2, 0), (1, None)], same, head=2)
    check(run(node) == [1, 2, 3], node.asked_from)
    check(node.asked_from == [1, 3], node.asked_from)
    # Back with another delta 2, or a chain shorter than the 2 deltas read: ChainChanged, at once.
    for chain, head, said in (({1: b"h1", 2: b"x2"}, 2, "delta 2 is not the one read before the node went away: "
                               f"its hash is {b'x2'.hex()}, was {b'h2'.hex()}: not the chain it had"),
                              ({1: b"h1"}, 1, "the node came back with a chain of 1 deltas, shorter than the 2 read "
                               "before it went away: not the chain it had")):
        node = ChainNode([(2, 0), (1, None)], chain, head)
        try:
            run(node)
            raise AssertionError(f"a follow went on with another chain: {chain}")
        except exoroute_sdk.ChainChanged as e:
            check(str(e) == said, str(e))
        check(node.asked_from == [1], node.asked_from)
    # Back for longer than _BACK_FOR_GOOD_S before it went away again: a wait of its own, though the
    # first wait's rejoin_for has long passed (it raised at once).
    exoroute_sdk._BACK_FOR_GOOD_S = 0.5
    node = ChainNode([(1, 0), (0, 1.5), (1, None)], same, head=2)
    check(run(node, rejoin_for=1) == [1, 2], node.asked_from)
    check(node.asked_from == [1, 2, 2], node.asked_from)
    # A node that stays away: the follow ends with what it said as it went (where to follow again
    # from), not the bare CANCELLED of the stream opened again just as it shut down once more.
    node = ChainNode([(1, 0), (0, "cut")], same, head=2)
    try:
        run(node, rejoin_for=1)
        raise AssertionError("a follow of a node that stayed away did not end")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNAVAILABLE, e)
        check(e.details() == "exorouted is shutting down; follow again from sequence 2", e.details())
    check(node.asked_from == [1, 2], node.asked_from)


if __name__ == "__main__":
    main()
