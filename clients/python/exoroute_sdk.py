"""exoroute Python SDK: a small client for exorouted and an independent chain verifier.

The verifier implements docs/replay-and-audit.md (canonical encoding, formats 1 to 6) with nothing
but the standard library, so a chain can be checked without trusting exoroute's own code.
Needs Debian's python3-grpcio, protobuf-compiler and protobuf-compiler-grpc
(use /usr/bin/python3).
"""
import hashlib
import importlib
import os
import struct
import sys
import time

import grpc


def load_protos(proto_dir, out_dir):
    """Generates the exoroute.v1 Python modules from proto_dir into out_dir and imports them."""
    import subprocess
    os.makedirs(out_dir, exist_ok=True)
    files = [os.path.join("exoroute", "v1", f) for f in
             ("types.proto", "config.proto", "router.proto", "audit.proto", "admin.proto")]
    # Debian's protoc (3.21) and gRPC plugin; the protoc bundled in python3-grpc-tools is too old
    # for proto3 `optional`.
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={out_dir}",
                    f"--grpc_python_out={out_dir}",
                    "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin"] + files,
                   check=True)
    sys.path.insert(0, out_dir)
    mods = {}
    for name in ("types", "router", "audit", "admin"):
        mods[name] = importlib.import_module(f"exoroute.v1.{name}_pb2")
        if name != "types":
            mods[name + "_grpc"] = importlib.import_module(f"exoroute.v1.{name}_pb2_grpc")
    return mods


def _read(path):
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


# A stream open again for this long before it ended had the node back: its end is the node going
# away once more, with a wait of its own (as exoroutectl's FollowAgain).
_BACK_FOR_GOOD_S = 5.0


class ChainChanged(AssertionError):
    """A follow's node came back with another chain than the one followed before it went away
    (an older backup, another node's data, a rewritten log): following on would mix two chains."""


class Client:
    """Blocking client over TLS (the node's CA), mutual TLS (with cert_file and key_file: a
    client certificate for a node with tls.require_client_cert) or plaintext (no ca_file).
    Connects at once: a node that cannot be reached, or refuses the handshake, raises
    ConnectionError naming the endpoint."""

    def __init__(self, pb, endpoint, ca_file=None, timeout=10.0, cert_file=None, key_file=None):
        self.pb = pb
        self.timeout = timeout
        if (cert_file is None) != (key_file is None):
            raise ValueError("cert_file and key_file go together (a client certificate and its key)")
        # A node that went away (a restart) is reached again within a second of its return, not
        # after gRPC's default backoff (up to two minutes): a watch holding a dead man's switch
        # must come back within its grace.
        options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]
        if ca_file:
            creds = grpc.ssl_channel_credentials(root_certificates=_read(ca_file),
                                                 private_key=_read(key_file),
                                                 certificate_chain=_read(cert_file))
            self.channel = grpc.secure_channel(endpoint, creds, options=options)
        elif cert_file:
            raise ValueError("a client certificate needs TLS: give ca_file too")
        else:
            self.channel = grpc.insecure_channel(endpoint, options=options)
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            self.channel.close()
            raise ConnectionError(f"{endpoint}: not connected within {timeout} s (node down, wrong "
                                  "CA, or a client certificate required and not given or refused)")
        self.router = pb["router_grpc"].RouterServiceStub(self.channel)
        self.audit = pb["audit_grpc"].AuditServiceStub(self.channel)
        self.admin = pb["admin_grpc"].AdminServiceStub(self.channel)

    def _order(self, plan_id, symbol, side, qty, mode="plan_only", limit=None, urgency=None,
               tif="gtc", expire_after_ms=0, allowed_venues=(), denied_venues=(), max_venues=0,
               arrival_band_bps=0):
        """side: "buy" or "sell"; qty and limit in the instrument's integer units; mode:
        "plan_only" (decide and record, send nothing) or "execute"; urgency: None
        (unset), "low", "normal" or "high"; tif: "gtc", "ioc" or "gtt" (with expire_after_ms);
        allowed_venues / denied_venues: venue ids; max_venues: 0 = no limit; arrival_band_bps:
        never walk past the mid at arrival ± this many bp (0 = none)."""
        t = self.pb["types"]
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
        if tif not in ("gtc", "ioc", "gtt"):
            raise ValueError(f"tif must be 'gtc', 'ioc' or 'gtt', got {tif!r}")
        if mode not in ("plan_only", "execute"):
            raise ValueError(f"mode must be 'plan_only' or 'execute', got {mode!r}")
        for name, venues in (("allowed_venues", allowed_venues), ("denied_venues", denied_venues)):
            # A lone string would be taken letter by letter ("SIM-A" as S, I, M, -, A).
            if isinstance(venues, (str, bytes)):
                raise TypeError(f"{name} must be a list of venue ids, got the string {venues!r}")
        order = t.ParentOrder(id=plan_id, symbol=symbol, quantity=qty,
                              side=t.SIDE_BUY if side == "buy" else t.SIDE_SELL,
                              time_in_force=getattr(t, "TIME_IN_FORCE_" + tif.upper()),
                              expire_after_ms=expire_after_ms, allowed_venues=list(allowed_venues),
                              denied_venues=list(denied_venues), max_venues=max_venues,
                              arrival_band_bps=arrival_band_bps)
        if limit is not None:
            order.limit_price = limit
        if urgency is not None:
            order.urgency = getattr(t, "URGENCY_" + urgency.upper())
        m = t.ROUTE_MODE_EXECUTE if mode == "execute" else t.ROUTE_MODE_PLAN_ONLY
        return self.pb["router"].RouteRequest(order=order, mode=m)

    def route(self, *args, **kw):
        return self.router.Route(self._order(*args, **kw), timeout=self.timeout).plan

    def get_plan(self, plan_id):
        """The plan as the node works it now (NOT_FOUND for an id it never planned)."""
        req = self.pb["router"].GetPlanRequest(plan_id=plan_id)
        return self.router.GetPlan(req, timeout=self.timeout).plan

    def get_route(self, route_id):
        """A route's progress over every node that took part (one node: its own plan):
        GetRouteResponse with nodes, quantity, filled_quantity, settled, order_quantity,
        shortfall, and shortfall_work when the route's coordinator routes its shortfall again
        as sub-routes "<id>~2", ... (whose shares the other figures then include; docs/cluster.md)."""
        req = self.pb["router"].GetRouteRequest(route_id=route_id)
        return self.router.GetRoute(req, timeout=self.timeout)

    def watch_route(self, route_id, interval_ms=0, timeout=60, rejoin_for=300):
        """get_route's answer at once, then each time it changes, until the route settles: a
        generator of GetRouteResponse (the node asks every node every `interval_ms`, 20..60000,
        0 = 200; the stream ends after `timeout` seconds at most, None = no limit). When the node
        goes away (a restart; before its first answer too) it follows again as soon as the node
        answers, for up to `rejoin_for` seconds, as watch does (an answer the same as the last is
        not yielded twice)."""
        req = self.pb["router"].WatchRouteRequest(route_id=route_id, interval_ms=interval_ms)
        answers = self._rejoining(lambda: self.router.WatchRoute(req, timeout=timeout), lambda m: None,
                                  rejoin_for)
        last = None
        try:
            for m in answers:
                if m != last:  # (The stream sends changes only: the same answer again is the rejoin's first.)
                    yield m
                last = m
        finally:
            answers.close()

    def status(self):
        """The node's StatusResponse: venues, chain head, plan counts, peers, budgets, ..."""
        return self.admin.Status(self.pb["admin"].StatusRequest(), timeout=self.timeout)

    def books(self, symbol, depth=0):
        """The node's books of `symbol` now (GetBooksResponse): per venue up to `depth` levels a
        side (0 = 5, at most 50), its age and fee, and why a buy or a sell decided now would leave
        it out (buy_exclusion, sell_exclusion; "" when it would use it); best_bid and best_ask
        over the venues it would use."""
        req = self.pb["admin"].GetBooksRequest(symbol=symbol, depth=depth)
        return self.admin.GetBooks(req, timeout=self.timeout)

    def verify(self, recompute_decisions=False, from_sequence=0, to_sequence=0):
        """The node's own check of its chain (VerifyResponse: ok, checked, first_bad_sequence,
        error); with recompute_decisions every decision is solved again from its recorded
        inputs and must give the same bytes. from_sequence/to_sequence bound the range
        (inclusive; 0 = from the first / to the head)."""
        a = self.pb["audit"]
        req = a.VerifyRequest(range=a.SequenceRange(from_sequence=from_sequence, to_sequence=to_sequence),
                              recompute_decisions=recompute_decisions)
        return self.audit.Verify(req, timeout=120)

    def cancel(self, plan_id, reason=""):
        """Cancels a plan (on a cluster node, its whole route) and returns this node's plan;
        cancel_route returns the whole answer."""
        return self.cancel_route(plan_id, reason).plan

    def cancel_route(self, plan_id, reason=""):
        """Cancels a plan, or on a cluster node the whole route, and returns the whole
        CancelPlanResponse: `plan` (this node's), each node's outcome (`nodes`), the route's ended
        shortfall work, and, when the node that works the route could not be asked, the nodes that
        keep a notice of the cancel (`noticed_on`) and `notice_warning`: not empty when fewer than
        half of the nodes keep it, so that the cancel could still be missed (the nodes that keep it
        send it again; resend it once the nodes named are back to be sure)."""
        req = self.pb["router"].CancelPlanRequest(plan_id=plan_id, reason=reason)
        return self.router.CancelPlan(req, timeout=self.timeout)

    def amend(self, plan_id, quantity=0, limit_price=None, reason="", market=False, urgency=None):
        """Amends a working executed plan's order (units, as on the wire): its whole quantity
        (0 keeps it), its limit price (None keeps it; market=True removes it) and its urgency
        ("low", "normal", "high"; None keeps it). Returns (plan, changed). On a cluster node a
        route's limit and urgency are amended on every node's share, and a new quantity changes
        what is left to route (no share's own): plan is this node's share (empty without one),
        and each node's outcome and the route's work are in the AmendPlanResponse's `nodes` and
        `shortfall_work` (self.router.AmendPlan)."""
        req = self.pb["router"].AmendPlanRequest(plan_id=plan_id, quantity=quantity, reason=reason,
                                                 remove_limit=market)
        if limit_price is not None:
            req.limit_price = limit_price
        if urgency is not None:
            req.urgency = getattr(self.pb["types"], "URGENCY_" + urgency.upper())
        r = self.router.AmendPlan(req, timeout=self.timeout)
        return r.plan, r.changed

    def list_plans(self, symbol="", page_size=0, page_token="", routed_by=""):
        """One page of the plans the node is working (those client `routed_by` sent, if given):
        (plans, next_page_token)."""
        req = self.pb["router"].ListPlansRequest(symbol=symbol, page_size=page_size,
                                                 page_token=page_token, routed_by=routed_by)
        r = self.router.ListPlans(req, timeout=self.timeout)
        return list(r.plans), r.next_page_token

    def working_plans(self, symbol="", page_size=0, routed_by=""):
        """Every plan the node is working (of `symbol`, sent by `routed_by`, if given), page
        after page."""
        plans, token = self.list_plans(symbol, page_size, routed_by=routed_by)
        while token:
            more, token = self.list_plans(symbol, page_size, token, routed_by=routed_by)
            plans += more
        return plans

    def set_trading(self, halt, reason, venue="", symbol=""):
        """Halts (halt=True) or resumes trading on the node, or with venue= or symbol= only
        there; returns (TradingStatus, changed)."""
        a = self.pb["admin"]
        req = a.SetTradingRequest(action=a.TRADING_ACTION_HALT if halt else a.TRADING_ACTION_RESUME,
                                  reason=reason, venue=venue, symbol=symbol)
        r = self.admin.SetTrading(req, timeout=self.timeout)
        return r.trading, r.changed

    def settle_child(self, plan_id, cl_ord_id, filled_quantity, reason, price=0, fee=0):
        """Ends an open child its venue never reported the end of, as reconciled with the venue:
        filled_quantity its whole filled quantity (units), price and fee those of the part the
        plan has not recorded (docs/deployment.md, "A venue that never answers"). Returns the
        SettleChildResponse: `plan`, and `awaiting_approval` set (HasField) when the node takes two
        operators (routing.settle_approvals 2) and this call only proposed the settlement."""
        a = self.pb["admin"]
        req = a.SettleChildRequest(plan_id=plan_id, cl_ord_id=cl_ord_id, filled_quantity=filled_quantity,
                                   price=price, fee=fee, reason=reason)
        return self.admin.SettleChild(req, timeout=self.timeout)

    def reload_config(self, dry_run=False):
        """Has the node read its config file again and apply what a running node can change
        (risk limits, urgency bands, venues' fees, impact, book age); with dry_run only say what
        would change. Returns the ReloadConfigResponse (changed, change, sequence, path); a
        refused reload raises grpc.RpcError (FAILED_PRECONDITION, naming what takes a restart)."""
        req = self.pb["admin"].ReloadConfigRequest(dry_run=dry_run)
        return self.admin.ReloadConfig(req, timeout=self.timeout)

    def watch(self, plan_id, timeout=None, cancel_on_disconnect=False, grace_ms=0, rewatch_for=300):
        """The plan's deltas as they are recorded, from its first: a generator that ends when the
        plan settles (its `finished` delta) or after `timeout` seconds (grpc.RpcError
        DEADLINE_EXCEEDED; None = no limit). Closing the generator (or leaving a for loop over it)
        cancels the stream on the node. With cancel_on_disconnect the node cancels the plan if
        the watch ends before the plan settles (this process stopped, the generator was closed,
        the connection was lost) and no such watch comes back within grace_ms. The switch is
        recorded (a `disconnect_armed` delta) and outlives a restart of the node, and so does this
        watch, with or without a switch: when the node goes away (UNAVAILABLE, or CANCELLED by its
        shutdown; before its first answer too), it watches again as soon as the node answers (for up to
        `rewatch_for` seconds), from the next delta — the plan is worked again from the node's
        start — so that a switch is held again within its grace of the node's start."""
        next_version = 1

        def open_stream():
            req = self.pb["router"].WatchPlanRequest(plan_id=plan_id, from_version=next_version,
                                                     cancel_on_disconnect=cancel_on_disconnect,
                                                     disconnect_grace_ms=grace_ms)
            return self.router.WatchPlan(req, timeout=timeout)

        def advance(m):
            nonlocal next_version
            next_version = max(next_version, m.delta.plan_version + 1)

        messages = self._rejoining(open_stream, advance, rewatch_for)
        try:
            for m in messages:
                yield m.delta
        finally:
            messages.close()  # (Closing this generator ends the stream on the node at once.)

    def watch_to_end(self, plan_id):
        """Every delta of the plan until it settles (at most 60 s)."""
        return list(self.watch(plan_id, timeout=60))

    def replay(self, include_canonical=False, include_inputs=False):
        """The whole chain; with include_inputs each allocation also carries its recorded
        SolveInput (the books, fees and order its decision read)."""
        req = self.pb["audit"].ReplayRequest(range=self.pb["audit"].SequenceRange(),
                                             include_canonical=include_canonical,
                                             include_inputs=include_inputs)
        return list(self.audit.Replay(req, timeout=60))

    def follow(self, from_sequence=1, include_canonical=False, timeout=None, rejoin_for=300):
        """The chain from `from_sequence`, then every delta as it is recorded: a generator of
        ReplayResponse (its .delta, and .canonical with include_canonical) that runs until
        `timeout` seconds (None = no limit; grpc.RpcError DEADLINE_EXCEEDED). A drop copy of
        every plan, and a live copy of the chain to verify as it grows. Closing the generator
        cancels the stream on the node. When the node goes away (a restart: UNAVAILABLE, or
        CANCELLED by its shutdown) it follows again from the delta after the last it yielded as
        soon as the node answers, for up to `rejoin_for` seconds (0: not at all); then it raises
        the node's last word (UNAVAILABLE, naming the sequence to follow again from). Before it
        follows again it checks that the node came back with the chain it was following (its
        head reaches the last delta yielded, whose hash is the same): else it raises
        ChainChanged, as `exoroutectl replay --follow` ends with DATA_LOSS."""
        next_sequence = from_sequence
        last = None  # The last delta yielded: (sequence, hash).

        def open_stream():
            req = self.pb["audit"].ReplayRequest(range=self.pb["audit"].SequenceRange(from_sequence=next_sequence),
                                                 include_canonical=include_canonical, follow=True)
            return self.audit.Replay(req, timeout=timeout)

        def advance(m):
            nonlocal next_sequence, last
            next_sequence = m.delta.sequence + 1
            last = (m.delta.sequence, m.delta.hash)

        def same_chain():
            if last is None:
                return
            sequence, hash_ = last
            head = self.audit.GetChainHead(self.pb["audit"].GetChainHeadRequest(), timeout=self.timeout).head
            if head.sequence < sequence:
                raise ChainChanged(f"the node came back with a chain of {head.sequence} deltas, shorter than the "
                                   f"{sequence} read before it went away: not the chain it had")
            one = self.pb["audit"].ReplayRequest(range=self.pb["audit"].SequenceRange(from_sequence=sequence,
                                                                                      to_sequence=sequence))
            now = [m.delta.hash for m in self.audit.Replay(one, timeout=self.timeout)]
            if now != [hash_]:
                raise ChainChanged(f"delta {sequence} is not the one read before the node went away: its hash is "
                                   f"{now[0].hex() if now else 'none'}, was {hash_.hex()}: not the chain it had")

        yield from self._rejoining(open_stream, advance, rejoin_for, on_back=same_chain)

    def _rejoining(self, open_stream, advance, rejoin_for, on_back=None):
        """The messages of the stream `open_stream()` opens, each passed to `advance` first (so
        that the next stream opens after it), opened again when the node goes away (a restart:
        UNAVAILABLE, or CANCELLED when its shutdown's deadline ends a stream still open, maybe
        before its first answer; this side cancels only by closing the generator, which raises no
        RpcError here) as soon as it answers, for up to `rejoin_for` seconds (0: never). (A node
        that cannot be reached at all was not waited for: making the client raised ConnectionError.)
        `on_back()`, if given, is called once the node answers again, before the stream is opened
        again: it raises to end the follow (a call of it cut by the node going away once more is
        waited out as a stream's end is)."""
        until = None
        said = None  # The node's word as it went, since it last answered.
        while True:
            stream, opened = None, time.monotonic()
            try:
                if until is not None and on_back is not None:
                    on_back()
                stream = open_stream()
                for m in stream:
                    until, said = None, None
                    advance(m)
                    yield m
                return
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED) or rejoin_for <= 0:
                    raise
                went = e
            finally:
                if stream is not None:
                    stream.cancel()
            if until is not None and time.monotonic() - opened > _BACK_FOR_GOOD_S:
                until, said = None, None  # (Open again for a while with nothing to send: the node was back.)
            # The node's word as it went: a stream's UNAVAILABLE; on_back's only when it said none.
            if went.code() == grpc.StatusCode.UNAVAILABLE and (stream is not None or said is None):
                said = went
            until = until or time.monotonic() + rejoin_for
            # When the node stays away: what it said as it went (naming where to follow again from),
            # not a bare CANCELLED of a stream opened again just as it shut down once more.
            self._wait_for_node(until, said or went)

    def _wait_for_node(self, until, gone):
        """Waits for a node that went away to answer again; raises `gone` if it did not by
        `until` (time.monotonic())."""
        time.sleep(0.1)  # (A node still draining answers at once, UNAVAILABLE again: no busy loop.)
        while True:
            try:
                grpc.channel_ready_future(self.channel).result(timeout=1)
                break
            except grpc.FutureTimeoutError:
                if time.monotonic() > until:
                    raise gone
        if time.monotonic() > until:  # (Connected, but refused at once, again and again, since.)
            raise gone

    def head(self):
        return self.audit.GetChainHead(self.pb["audit"].GetChainHeadRequest(), timeout=self.timeout).head

    def prove_inclusion(self, sequence):
        req = self.pb["audit"].ProveInclusionRequest(sequence=sequence)
        return self.audit.ProveInclusion(req, timeout=60).proof

    def prove_consistency(self, from_size):
        req = self.pb["audit"].ProveConsistencyRequest(from_size=from_size)
        return self.audit.ProveConsistency(req, timeout=60).proof

    def signed_head(self):
        return self.audit.GetChainHead(self.pb["audit"].GetChainHeadRequest(),
                                       timeout=self.timeout).signed_head


# ---- Canonical encoding, formats 1 to 6 (docs/replay-and-audit.md) ----

def _u8(v): return struct.pack(">B", v)
def _u32(v): return struct.pack(">I", v)
def _u64(v): return struct.pack(">Q", v)
def _i64(v): return struct.pack(">q", v)
def _bool(v): return _u8(1 if v else 0)
def _str(v): b = v.encode() if isinstance(v, str) else bytes(v); return _u32(len(b)) + b
def _list(items, enc): return _u32(len(items)) + b"".join(enc(x) for x in items)


def _order(o):
    has_limit = o.HasField("limit_price")
    return (_str(o.id) + _str(o.symbol) + _u32(o.side) + _i64(o.quantity) + _bool(has_limit) +
            (_i64(o.limit_price) if has_limit else b"") + _u32(o.time_in_force) +
            _i64(o.expire_after_ms) + _list(list(o.allowed_venues), _str) +
            _list(list(o.denied_venues), _str) + _u32(o.max_venues))


def _allocation(a):
    return _str(a.venue) + _i64(a.quantity) + _i64(a.limit_price) + _i64(a.expected_cost)


KINDS = {"created": 1, "allocated": 2, "child_sent": 3, "fill": 4, "child_done": 5,
         "cancel_requested": 6, "finished": 7, "privacy_refused": 8, "governance": 9, "amended": 10,
         "disconnect_armed": 11}


def _format(d):
    """The oldest format holding every field the delta carries: 7 for an order whose sender is
    known, 6 for a dead man's switch armed,
    5 for an amendment that removes
    the limit or sets an urgency, else 4 for an amendment, else 3 for an order's arrival band or a
    decision's arrival limit, else 2 for an order's urgency or a decision's price band limit,
    else 1."""
    kind = d.WhichOneof("change")
    if kind == "created" and d.created.routed_by:
        return 7
    if kind == "disconnect_armed":
        return 6
    if kind == "amended":
        return 5 if d.amended.limit_removed or d.amended.urgency != 0 else 4
    if ((kind == "created" and d.created.order.arrival_band_bps != 0) or
            (kind == "allocated" and d.allocated.stats.arrival_limit != 0)):
        return 3
    if ((kind == "created" and d.created.order.urgency != 0) or
            (kind == "allocated" and d.allocated.stats.price_band_limit != 0)):
        return 2
    return 1


def encode_canonical(d):
    kind = d.WhichOneof("change")
    fmt = _format(d)
    v2, v3 = fmt >= 2, fmt >= 3
    out = (_u8(fmt) + _u64(d.sequence) + _str(d.plan_id) + _u32(d.plan_version) +
           _i64(d.event_time_ns) + _str(d.inputs_digest) + _u8(KINDS[kind]))
    if kind == "created":
        c = d.created
        i = c.instrument
        out += _order(c.order) + _u32(c.mode) + _str(i.symbol) + _u32(i.price_scale) + _u32(i.qty_scale)
        if v2:
            out += _u32(c.order.urgency)
        if v3:
            out += _u32(c.order.arrival_band_bps)
        if fmt >= 7:
            out += _str(c.routed_by)
    elif kind == "allocated":
        a = d.allocated
        s = a.stats
        out += (_bool(a.replan) + _bool(a.incremental) + _list(list(a.allocations), _allocation) + _i64(a.shortfall) +
                _i64(a.expected_cost) + _u32(s.method) + _u32(s.rounds) + _i64(s.marginal_price) +
                _u32(s.venues_considered) + _i64(s.optimality_gap) +
                _list(list(a.exclusions), lambda e: _str(e.venue) + _str(e.reason)) +
                _i64(a.expected_average_price) + _i64(a.mid_price) + _i64(a.slippage_cbps))
        if v2:
            out += _i64(s.price_band_limit)
        if v3:
            out += _i64(s.arrival_limit)
    elif kind == "child_sent":
        c = d.child_sent
        out += _str(c.cl_ord_id) + _str(c.venue) + _u32(c.side) + _i64(c.quantity) + _i64(c.limit_price)
    elif kind == "fill":
        f = d.fill
        out += _str(f.cl_ord_id) + _str(f.venue) + _i64(f.quantity) + _i64(f.price) + _i64(f.fee) + _str(f.exec_id)
    elif kind == "child_done":
        c = d.child_done
        out += _str(c.cl_ord_id) + _str(c.venue) + _i64(c.canceled_quantity) + _str(c.reason)
    elif kind == "cancel_requested":
        out += _str(d.cancel_requested.reason)
    elif kind == "finished":
        out += _u32(d.finished.status) + _str(d.finished.reason)
    elif kind == "privacy_refused":
        p = d.privacy_refused
        out += (_str(p.signal) + _i64(p.window_start_s) + _i64(p.spent_milli) + _i64(p.limit_milli) +
                _i64(p.requested_milli) + _str(p.route_id))
    elif kind == "governance":
        g = d.governance
        out += _u32(g.kind) + _str(g.subject) + _str(g.digest) + _str(g.detail)
    elif kind == "amended":
        a = d.amended
        has_limit = a.HasField("limit_price")
        out += _i64(a.quantity) + _bool(has_limit) + (_i64(a.limit_price) if has_limit else b"") + _str(a.reason)
        if fmt >= 5:
            out += _bool(a.limit_removed) + _u32(a.urgency)
    elif kind == "disconnect_armed":
        out += _u32(d.disconnect_armed.grace_ms)
    else:
        raise ValueError(f"delta {d.sequence} has no change")
    return out


def signed_head_message(node_id, sequence, head_hash):
    """The exact bytes a chain-head signature covers (docs/replay-and-audit.md)."""
    return f"exoroute-chain-head/v1 {node_id} {sequence} {bytes(head_hash).hex()}".encode("ascii")


def verify_signed_head(signed, public_key=None):
    """Checks a SignedChainHead's Ed25519 signature (and, if given, that `public_key`, 32 raw
    bytes, signed it). Raises AssertionError saying which check failed."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    if public_key is not None and bytes(public_key) != bytes(signed.public_key):
        raise AssertionError(f"signed by key {bytes(signed.public_key).hex()}, not {bytes(public_key).hex()}")
    key = Ed25519PublicKey.from_public_bytes(bytes(signed.public_key))
    try:
        key.verify(bytes(signed.signature),
                   signed_head_message(signed.node_id, signed.head.sequence, signed.head.hash))
    except InvalidSignature:
        raise AssertionError(f"the signature does not verify for node {signed.node_id} "
                             f"at sequence {signed.head.sequence}") from None


def _merkle_node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(proof, public_key=None):
    """Checks an InclusionProof with nothing else (RFC 9162 §2.1.3.2, then the Ed25519 tree-head
    signature): the delta's canonical bytes are leaf sequence-1 of the signed tree. Raises
    AssertionError saying which check failed."""
    index, size = proof.sequence - 1, proof.tree_size
    if not 0 <= index < size:
        raise AssertionError(f"leaf {index} is not in a tree of {size}")
    r = hashlib.sha256(b"\x00" + bytes(proof.canonical)).digest()
    fn, sn = index, size - 1
    for p in proof.path:
        p = bytes(p)
        if sn == 0:
            raise AssertionError("the path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = _merkle_node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _merkle_node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != bytes(proof.root):
        raise AssertionError("the path does not lead to the tree's root")
    _verify_tree_head(proof.node_id, size, proof.root, proof.public_key, proof.signature, public_key)


def _verify_tree_head(node_id, size, root, public_key, signature, pinned=None):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    if pinned is not None and bytes(pinned) != bytes(public_key):
        raise AssertionError(f"signed by key {bytes(public_key).hex()}, not {bytes(pinned).hex()}")
    text = f"exoroute-tree-head/v1 {node_id} {size} {bytes(root).hex()}".encode("ascii")
    try:
        Ed25519PublicKey.from_public_bytes(bytes(public_key)).verify(bytes(signature), text)
    except InvalidSignature:
        raise AssertionError("the tree head signature does not verify") from None


def verify_consistency(proof, kept_size, kept_root, public_key=None):
    """Checks a ConsistencyProof against a tree head kept earlier (size, root): RFC 9162
    §2.1.4.2, then the new tree head's signature. Raises AssertionError saying why not."""
    first, second = proof.from_size, proof.to_size
    if (first, bytes(proof.from_root)) != (kept_size, bytes(kept_root)):
        raise AssertionError("the log was changed after the kept head was signed")
    path = [bytes(c) for c in proof.path]
    if not 0 < first <= second:
        raise AssertionError("sizes are not 0 < first <= second")
    if first == second:
        ok = not path and bytes(proof.from_root) == bytes(proof.to_root)
    else:
        if not path:
            raise AssertionError("empty path")
        if first & (first - 1) == 0:
            path.insert(0, bytes(proof.from_root))
        fn, sn = first - 1, second - 1
        while fn & 1:
            fn >>= 1
            sn >>= 1
        fr = sr = path[0]
        for c in path[1:]:
            if sn == 0:
                raise AssertionError("the path is longer than the trees are deep")
            if fn & 1 or fn == sn:
                fr, sr = _merkle_node(c, fr), _merkle_node(c, sr)
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
            else:
                sr = _merkle_node(sr, c)
            fn >>= 1
            sn >>= 1
        ok = sn == 0 and fr == bytes(proof.from_root) and sr == bytes(proof.to_root)
    if not ok:
        raise AssertionError("the path does not lead to both roots")
    _verify_tree_head(proof.node_id, second, proof.to_root, proof.public_key, proof.signature, public_key)


def verify_chain(replay_responses, head):
    """Checks encoding, hashes and links of a full replay; returns the number of deltas."""
    prev = bytes(32)
    expected_seq = 1
    for r in replay_responses:
        d = r.delta
        if d.sequence != expected_seq:
            raise AssertionError(f"expected sequence {expected_seq}, got {d.sequence}")
        mine = encode_canonical(d)
        if mine != r.canonical:
            raise AssertionError(f"delta {d.sequence}: re-encoding differs from the served bytes")
        if d.prev_hash != prev:
            raise AssertionError(f"delta {d.sequence}: prev_hash does not link")
        if hashlib.sha256(prev + mine).digest() != d.hash:
            raise AssertionError(f"delta {d.sequence}: hash mismatch")
        prev = d.hash
        expected_seq += 1
    if expected_seq - 1 != head.sequence or prev != head.hash:
        raise AssertionError("chain does not end at the head")
    return expected_seq - 1
