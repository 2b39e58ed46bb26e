// What `exoroutectl status` tells an operator about counters that need a look.
#include <catch2/catch.hpp>

#include "clients/exoroutectl/render.h"

using namespace exoroute::v1;  // NOLINT

TEST_CASE("status shows execution, peer and stream counters only when they are non-zero", "[ctl]") {
  StatusResponse r;
  r.set_node_id("n1");
  std::string quiet = exo::ctl::RenderStatus(r);
  CHECK(quiet.find("arrived twice") == std::string::npos);
  CHECK(quiet.find("execution reports not applied") == std::string::npos);
  CHECK(quiet.find("beyond its quantity") == std::string::npos);
  CHECK(quiet.find("after their child's end") == std::string::npos);
  CHECK(quiet.find("peer calls refused") == std::string::npos);
  CHECK(quiet.find("cluster routes refused") == std::string::npos);
  CHECK(quiet.find("streams") == std::string::npos);

  r.set_duplicate_executions(2);
  r.set_unknown_executions(1);
  r.set_peer_calls_refused(3);
  r.set_cluster_routes_refused(2);
  r.set_overfills(1);
  r.set_late_fills(3);
  std::string busy = exo::ctl::RenderStatus(r);
  CHECK(busy.find("WARNING     1 fill took a child beyond its quantity: recorded as reported") != std::string::npos);
  CHECK(busy.find("executions  2 fill reports arrived twice (venue resends) and were recorded once") !=
        std::string::npos);
  CHECK(busy.find("WARNING     3 fills came after their child's end: recorded as reported") != std::string::npos);
  CHECK(busy.find("WARNING     1 execution reports not applied: no open child order, unreadable, out of bounds, out of "
                  "order, or a trade the venue corrected or busted") != std::string::npos);
  CHECK(busy.find("WARNING     3 peer calls refused") != std::string::npos);
  CHECK(busy.find("WARNING     2 cluster routes refused: 1024 were open on this node at once") != std::string::npos);

  CHECK(busy.find("process") == std::string::npos);  // No process figures: no line.
  r.mutable_process()->set_resident_bytes(104'857'600);
  r.mutable_process()->set_cpu_ms(12'345);
  r.mutable_process()->set_open_fds(48);
  r.mutable_process()->set_max_fds(1024);
  CHECK(exo::ctl::RenderStatus(r).find("process     100.0 MiB resident, 12.3 s CPU, 48 files open of 1024\n") !=
        std::string::npos);
  CHECK(exo::ctl::RenderStatus(r).find("file descriptors open") == std::string::npos);
  r.mutable_process()->set_open_fds(900);
  CHECK(exo::ctl::RenderStatus(r).find("WARNING     900 of 1024 file descriptors open: near the limit") !=
        std::string::npos);
  r.clear_process();
  r.set_open_watches(3);
  CHECK(exo::ctl::RenderStatus(r).find("streams     3 watches, 0 replays open\n") != std::string::npos);
  r.set_open_watches(1);
  r.set_open_replays(1);
  CHECK(exo::ctl::RenderStatus(r).find("streams     1 watch, 1 replay open\n") != std::string::npos);
  r.set_open_replays(0);
  r.set_open_watches(3);
  r.set_disconnect_cancels(4);
  CHECK(exo::ctl::RenderStatus(r).find(
            "switches    0 plans held by a cancel-on-disconnect watch, 0 waiting out their grace; 4 cancelled on "
            "disconnect since start\n") != std::string::npos);
  r.set_streams_stalled(2);
  CHECK(exo::ctl::RenderStatus(r).find(
            "streams     3 watches, 0 replays open; 2 ended: their client read nothing (listen.stream_stall_ms)\n") !=
        std::string::npos);
}

TEST_CASE("status shows how each venue's children ended, once it has any", "[ctl]") {
  StatusResponse r;
  VenueStatus* v = r.add_venues();
  v->set_venue("SIM-A");
  v->set_child_mean_us(-1);
  CHECK(exo::ctl::RenderStatus(r).find("children done") == std::string::npos);
  v->set_children_filled(7);
  v->set_children_partial(2);
  v->set_children_rejected(1);
  CHECK(exo::ctl::RenderStatus(r).find(
            "             children done 10: 7 filled, 2 partly, 0 unfilled, 1 rejected\n") != std::string::npos);
  CHECK(exo::ctl::RenderStatus(r).find("unanswered") == std::string::npos);
  v->set_children_overdue(2);
  CHECK(exo::ctl::RenderStatus(r).find("             WARNING 2 children left unanswered past routing.child_timeout_ms: "
                                       "asked to cancel (the log names each; reconciled with the venue: plan settle)\n") != std::string::npos);
  v->set_child_mean_us(3'250);
  CHECK(exo::ctl::RenderStatus(r).find("children done 10: 7 filled, 2 partly, 0 unfilled, 1 rejected; 3.2 ms from "
                                       "sending to done (mean)\n") != std::string::npos);
}

TEST_CASE("status lists the children their venues leave unanswered now, the oldest first, with what to do",
          "[ctl]") {
  StatusResponse r;
  Instrument* btc = r.add_instruments();
  btc->set_symbol("BTC-USD");
  btc->set_price_scale(2);
  btc->set_qty_scale(8);
  VenueStatus* v = r.add_venues();
  v->set_venue("SIM-A");
  v->set_child_mean_us(-1);
  v->set_children_overdue(3);
  v->set_children_unanswered(2);
  constexpr int64_t kNow = 1'800'000'000;  // Unix seconds.
  for (int i = 0; i < 2; ++i) {
    UnansweredChild* u = r.add_unanswered_children();
    u->set_plan_id("desk-42");
    u->set_symbol("BTC-USD");
    u->mutable_order()->set_cl_ord_id(i == 0 ? "desk-42.2" : "desk-42.5");
    u->mutable_order()->set_venue("SIM-A");
    u->mutable_order()->set_quantity(125'000'000);
    u->set_filled_quantity(i == 0 ? 40'000'000 : 0);
    u->set_sent_time_ns((kNow - (i == 0 ? 600 : 42)) * 1'000'000'000);
  }
  r.set_unanswered_children_total(5);
  const std::string s = exo::ctl::RenderStatus(r, kNow);
  INFO(s);
  CHECK(s.find("             WARNING 3 children left unanswered past routing.child_timeout_ms, 2 still open: asked to "
               "cancel") != std::string::npos);
  CHECK(s.find("\n  UNANSWERED CHILD         VENUE                QUANTITY             FILLED  SENT\n"
               "  desk-42.2                SIM-A              1.25000000         0.40000000  10 min ago (plan desk-42)\n"
               "  desk-42.5                SIM-A              1.25000000         0.00000000  42 s ago (plan desk-42)\n"
               "  … 3 more (the oldest are listed)\n"
               "  their venues answer neither them nor the node's cancels; once reconciled with the venue: "
               "exoroutectl plan settle PLAN CHILD --filled Q [--price P] --reason TEXT\n") != std::string::npos);
  r.clear_unanswered_children();
  r.set_unanswered_children_total(0);
  CHECK(exo::ctl::RenderStatus(r, kNow).find("UNANSWERED") == std::string::npos);
}

TEST_CASE("plan show says how long each open child has been out", "[ctl]") {
  Plan p;
  p.set_plan_id("desk-42");
  p.mutable_instrument()->set_symbol("BTC-USD");
  p.mutable_instrument()->set_price_scale(2);
  p.mutable_instrument()->set_qty_scale(8);
  constexpr int64_t kNow = 1'800'000'000;  // Unix seconds.
  for (int i = 0; i < 3; ++i) {
    ChildState* c = p.add_children();
    c->mutable_order()->set_cl_ord_id("desk-42." + std::to_string(i + 2));
    c->mutable_order()->set_venue("SIM-A");
    c->mutable_order()->set_quantity(100'000'000);
    c->set_sent_time_ns((kNow - (i == 0 ? 42 : 900)) * 1'000'000'000);
  }
  p.mutable_children(2)->set_done(true);
  p.mutable_children(2)->set_done_reason("settled by operator: desk");
  const std::string s = exo::ctl::RenderPlan(p, kNow);
  INFO(s);
  CHECK(s.find("  desk-42.2              SIM-A        1.00000000           0.00     0.00000000  open 42 s\n") !=
        std::string::npos);
  CHECK(s.find("  desk-42.3              SIM-A        1.00000000           0.00     0.00000000  open 15 min\n") !=
        std::string::npos);
  CHECK(s.find("0.00000000  settled by operator: desk\n") != std::string::npos);
  CHECK(exo::ctl::RenderPlan(p).find("0.00000000  open\n") != std::string::npos);  // Time not known.
}

TEST_CASE("status shows the store's logs and memtables against their bounds, and warns when the logs run away",
          "[ctl]") {
  StatusResponse r;
  r.set_node_id("n1");
  r.set_data_dir("/var/lib/exoroute");
  r.set_store_size_bytes(900);
  CHECK(exo::ctl::RenderStatus(r).find("store       /var/lib/exoroute  900 B\n") != std::string::npos);
  StoreStatus* st = r.mutable_store();
  st->set_table_bytes(uint64_t{3} << 30 | uint64_t{512} << 20);  // 3.5 GiB
  st->set_log_bytes(uint64_t{12} << 20);
  st->set_log_limit_bytes(uint64_t{64} << 20);
  st->set_memtable_bytes(1536);
  st->set_memtable_limit_bytes(uint64_t{64} << 20);
  r.set_store_size_bytes(st->table_bytes() + st->log_bytes());
  const std::string normal = exo::ctl::RenderStatus(r);
  CHECK(normal.find("store       /var/lib/exoroute  3.5 GiB (tables 3.5 GiB, logs 12.0 MiB of 64.0 MiB; memtables "
                    "1.5 KiB of 64.0 MiB)\n") != std::string::npos);
  CHECK(normal.find("write-ahead logs") == std::string::npos);
  st->set_log_bytes(uint64_t{129} << 20);
  CHECK(exo::ctl::RenderStatus(r).find("WARNING     write-ahead logs 129.0 MiB, over twice store.max_wal_mib (64.0 "
                                       "MiB): flushes fail or fall behind") != std::string::npos);
}

TEST_CASE("status shows each risk limit with what is working against it and the orders it refused", "[ctl][risk]") {
  StatusResponse r;
  r.set_node_id("n1");
  Instrument* btc = r.add_instruments();
  btc->set_symbol("BTC-USD");
  btc->set_price_scale(2);
  btc->set_qty_scale(8);
  CHECK(exo::ctl::RenderStatus(r).find("risk ") == std::string::npos);
  RiskStatus* risk = r.add_risk();
  risk->mutable_limit()->set_symbol("BTC-USD");
  risk->mutable_limit()->set_max_order_notional(50'000'000);
  risk->set_working_quantity(750'000'000);
  CHECK(exo::ctl::RenderStatus(r).find("risk        BTC-USD: notional <= 500000.00, working 7.50000000\n") !=
        std::string::npos);
  risk->mutable_limit()->set_max_order_quantity(1'000'000'000);
  risk->mutable_limit()->set_max_working_quantity(2'000'000'000);
  risk->set_refused(1);
  CHECK(exo::ctl::RenderStatus(r).find("risk        BTC-USD: order <= 10.00000000, notional <= 500000.00, working "
                                       "7.50000000 of 20.00000000, 1 order refused\n") != std::string::npos);
  risk->set_refused(3);
  CHECK(exo::ctl::RenderStatus(r).find("7.50000000 of 20.00000000, 3 orders refused\n") != std::string::npos);
  // By the limit that refused them, in the config's order.
  (*risk->mutable_refused_by_limit())["max_working_quantity"] = 1;
  (*risk->mutable_refused_by_limit())["max_order_notional"] = 2;
  CHECK(exo::ctl::RenderStatus(r).find("3 orders refused (2 max_order_notional, 1 max_working_quantity)\n") !=
        std::string::npos);
  // An order rate: what the last second admitted against it.
  risk->mutable_limit()->set_max_orders_per_second(5);
  risk->set_orders_last_second(3);
  (*risk->mutable_refused_by_limit())["max_orders_per_second"] = 4;
  risk->set_refused(7);
  CHECK(exo::ctl::RenderStatus(r).find("working 7.50000000 of 20.00000000, 3 of 5 executed orders in the last second, "
                                       "7 orders refused (2 max_order_notional, 1 max_working_quantity, 4 "
                                       "max_orders_per_second)\n") != std::string::npos);
  // A client's own limits: a line of their own, naming the client.
  RiskStatus* desk = r.add_risk();
  desk->mutable_limit()->set_symbol("BTC-USD");
  desk->mutable_limit()->set_client("desk-a");
  desk->mutable_limit()->set_max_working_quantity(500'000'000);
  desk->set_working_quantity(450'000'000);
  CHECK(exo::ctl::RenderStatus(r).find("risk        BTC-USD from client desk-a: working 4.50000000 of 5.00000000\n") !=
        std::string::npos);
}

TEST_CASE("status shows the chain-signing key and the metrics URL when the node has them", "[ctl]") {
  StatusResponse r;
  r.set_node_id("n1");
  std::string plain = exo::ctl::RenderStatus(r);
  CHECK(plain.find("signing key") == std::string::npos);
  CHECK(plain.find("metrics") == std::string::npos);
  CHECK(plain.find("tls") == std::string::npos);
  r.set_chain_signing_key(std::string(31, '\0') + "\x2a");
  r.set_admin_url("http://127.0.0.1:9464");
  std::string full = exo::ctl::RenderStatus(r);
  CHECK(full.find("signing key " + std::string(62, '0') + "2a (Ed25519, chain heads)\n") != std::string::npos);
  CHECK(full.find("metrics     http://127.0.0.1:9464/metrics\n") != std::string::npos);

  CertificateStatus* api = r.add_certificates();
  api->set_port("api");
  api->set_not_after_s(1'900'000'000);
  CHECK(exo::ctl::RenderStatus(r).find("tls api     certificate valid until 2030-03-17 17:46:40 UTC\n") !=
        std::string::npos);
  CertificateStatus* peer = r.add_certificates();
  peer->set_port("peer");
  peer->set_not_after_s(1'900'000'000);
  peer->set_reloads(2);
  peer->set_refused("/etc/x.key: not the private key of the certificate in /etc/x.pem");
  const std::string rotated = exo::ctl::RenderStatus(r);
  CHECK(rotated.find("tls peer    certificate valid until 2030-03-17 17:46:40 UTC (2 new sets read since start)\n") !=
        std::string::npos);
  CHECK(rotated.find("WARNING     the peer port's TLS files on disk are not served: /etc/x.key: not the private "
                     "key of the certificate in /etc/x.pem (the last good set is)\n") != std::string::npos);
  CHECK(rotated.find("certificate expires in") == std::string::npos);  // (Undated: no warning.)
  // Dated: a certificate within two weeks of its end is named, one past it too.
  const std::string soon = exo::ctl::RenderStatus(r, 1'900'000'000 - 9 * 86400 - 5);
  CHECK(soon.find("WARNING     the api port's certificate expires in 9 days: install the next one (no restart "
                  "needed)\n") != std::string::npos);
  CHECK(exo::ctl::RenderStatus(r, 1'900'000'000 - 15 * 86400).find("certificate expires in") == std::string::npos);
  CHECK(exo::ctl::RenderStatus(r, 1'900'000'000).find(
            "WARNING     the peer port's certificate has EXPIRED: new connections fail\n") != std::string::npos);
}

TEST_CASE("a cluster route's summary names every node's total and what it left out", "[ctl]") {
  ClusterRouteSummary r;
  r.set_lambda(-6501400.0);  // Sells report a negative λ: shown as a price.
  r.mutable_route()->set_route_id("lc-1");
  r.mutable_route()->set_coordinator("n1");
  r.mutable_route()->set_rounds(7);
  NodeShare* s = r.add_shares();
  s->set_node("n1");
  s->set_quantity(437400000);
  s->set_plan_id("lc-1");
  NodeDropped* d = r.mutable_route()->add_dropped();
  d->set_node("n3");
  d->set_reason("deadline exceeded");
  VenueExclusion* v = r.mutable_route()->add_venues_dropped();
  v->set_venue("N2-V1");
  v->set_reason("the order allows at most 3 venues; this one had the smallest share");
  r.set_shortfall(100000);
  Instrument btc;
  btc.set_price_scale(2);
  btc.set_qty_scale(8);
  CHECK(exo::ctl::RenderClusterRoute(r, btc) ==
        "cluster route lc-1 coordinated by n1: 7 rounds, marginal price 65014.00\n"
        "  node n1  4.37400000  plan lc-1\n"
        "  node n3  dropped: deadline exceeded\n"
        "  venue N2-V1  left out: the order allows at most 3 venues; this one had the smallest share\n"
        "  shortfall 0.00100000 (no node works it; route it again)\n");
  // A halted node answers (its share is 0) and is named on its own line only.
  ClusterRouteSummary halted = r;
  NodeShare* h = halted.add_shares();
  h->set_node("n2");
  NodeDropped* hd = halted.mutable_route()->add_dropped();
  hd->set_node("n2");
  hd->set_reason("trading is halted on this node since 2026-12-05 11:30:00 UTC: desk check");
  const std::string shown = exo::ctl::RenderClusterRoute(halted, btc);
  INFO(shown);
  CHECK(shown.find("  node n2  0.00000000") == std::string::npos);
  CHECK(shown.find("  node n2  dropped: trading is halted on this node since 2026-12-05 11:30:00 UTC: desk check\n") !=
        std::string::npos);
  // Nothing taken anywhere: no marginal price.
  ClusterRouteSummary none = r;
  none.mutable_shares(0)->set_quantity(0);
  none.mutable_shares(0)->clear_plan_id();
  none.set_lambda(0);
  CHECK(exo::ctl::RenderClusterRoute(none, btc).rfind(
            "cluster route lc-1 coordinated by n1: no venue of any node takes any of it\n"
            "  node n1  0.00000000\n", 0) == 0);
  // With an urgency band, its width and limit.
  r.mutable_route()->set_band_bps(2);
  r.mutable_route()->set_band_limit(6498700);
  CHECK(exo::ctl::RenderClusterRoute(r, btc).rfind(
            "cluster route lc-1 coordinated by n1: 7 rounds, marginal price 65014.00, band 2 bp: limit 64987.00\n", 0) == 0);
}

TEST_CASE("a cluster route's progress says what part of the order no node took", "[ctl]") {
  GetRouteResponse r;
  r.set_symbol("BTC-USD");
  r.set_settled(true);
  r.set_quantity(7'731'100'000);
  r.set_filled_quantity(7'731'100'000);
  for (const auto& [node, share] : {std::pair<const char*, int64_t>{"n1", 5'000'000'000}, {"n2", 2'731'100'000}}) {
    NodeProgress* n = r.add_nodes();
    n->set_node(node);
    n->set_status(PLAN_STATUS_COMPLETED);
    n->set_quantity(share);
    n->set_filled_quantity(share);
  }
  Instrument btc;
  btc.set_price_scale(2);
  btc.set_qty_scale(8);
  // Shares recorded before the order's quantity was: as before.
  CHECK(exo::ctl::RenderRouteProgress(r, btc).rfind("route     settled, filled 77.31100000 of 77.31100000\n\n  NODE", 0) == 0);
  // All of it routed.
  r.set_order_quantity(7'731'100'000);
  CHECK(exo::ctl::RenderRouteProgress(r, btc).rfind("route     settled, filled 77.31100000 of 77.31100000\n\n  NODE", 0) == 0);
  // Part of it taken by no node.
  r.set_order_quantity(20'000'000'000);
  r.set_shortfall(12'268'900'000);
  CHECK(exo::ctl::RenderRouteProgress(r, btc).rfind(
            "route     settled, filled 77.31100000 of 77.31100000 routed\n"
            "order     200.00000000: 122.68900000 not routed (no node took it; route it again)\n\n"
            "  NODE       STATUS                   SHARE             FILLED      AVG PRICE         FEES\n"
            "  n1         COMPLETED          50.00000000        50.00000000              -            -\n",
            0) == 0);
  // With what each node's fills cost: the route's average price and fees, and each node's.
  r.set_filled_notional(502'639'156);  // 77.311 BTC at 65 015.22 on average.
  r.set_fees(10'053);
  r.set_average_price(6'501'522);
  r.mutable_nodes(0)->set_filled_notional(325'000'000);
  r.mutable_nodes(0)->set_fees(6'500);
  r.mutable_nodes(0)->set_average_price(6'500'000);
  r.mutable_nodes(1)->set_filled_notional(177'639'156);
  r.mutable_nodes(1)->set_fees(3'553);
  r.mutable_nodes(1)->set_average_price(6'504'308);
  CHECK(exo::ctl::RenderRouteProgress(r, btc) ==
        "route     settled, filled 77.31100000 of 77.31100000 routed  avg 65015.22  fees 100.53\n"
        "order     200.00000000: 122.68900000 not routed (no node took it; route it again)\n\n"
        "  NODE       STATUS                   SHARE             FILLED      AVG PRICE         FEES\n"
        "  n1         COMPLETED          50.00000000        50.00000000       65000.00        65.00\n"
        "  n2         COMPLETED          27.31100000        27.31100000       65043.08        35.53\n");
  // A node that could not be asked: no average price for the route, the node's row says why.
  r.set_average_price(0);
  r.mutable_nodes(1)->set_error("node n2 did not answer within 500 ms");
  const std::string partial = exo::ctl::RenderRouteProgress(r, btc);
  CHECK(partial.rfind("route     settled, filled 77.31100000 of 77.31100000 routed\n", 0) == 0);
  CHECK(partial.find("  n2         not answered: node n2 did not answer within 500 ms\n") != std::string::npos);
}

TEST_CASE("a cluster route's cancel and amendment say which nodes keep a notice of them for the node not asked", "[ctl]") {
  CancelPlanResponse r;
  NodeCancel* down = r.add_nodes();
  down->set_node("n1");
  down->set_error("could not be asked: connection refused");
  NodeCancel* done = r.add_nodes();
  done->set_node("n2");
  done->set_error("plan \"gtc-far\" already finished (COMPLETED)");
  CHECK(exo::ctl::RenderNodeCancels(r) ==
        "  node n1  not cancelled: could not be asked: connection refused\n"
        "  node n2  not cancelled: plan \"gtc-far\" already finished (COMPLETED)\n");
  r.add_noticed_on("n2");
  r.add_noticed_on("n3");
  CHECK(exo::ctl::RenderNodeCancels(r).find(
            "  notice    kept on n2, n3: a node not asked ends its work on the route, if it has any, when it is back\n") !=
        std::string::npos);
  CHECK(exo::ctl::RenderNodeCancels(r).find("WARNING") == std::string::npos);
  // Kept by fewer than half of the nodes: the answer's warning, on a line of its own.
  r.set_notice_warning("the notice of the cancel is kept by n2 only, 1 of the cluster's 3 nodes: …");
  CHECK(exo::ctl::RenderNodeCancels(r).find(
            "is back\n  WARNING   the notice of the cancel is kept by n2 only, 1 of the cluster's 3 nodes: …\n") !=
        std::string::npos);
  // An amendment no share could take: the nodes that keep its terms.
  AmendPlanResponse amended;
  NodeAmend* not_asked = amended.add_nodes();
  not_asked->set_node("n3");
  not_asked->set_error("could not be asked: connection refused");
  amended.add_noticed_on("n1");
  amended.add_noticed_on("n2");
  CHECK(exo::ctl::RenderNodeAmends(amended, 8) ==
        "  node n3  not amended: could not be asked: connection refused\n"
        "  notice    kept on n1, n2: a node not asked takes the terms for its work on the route, if it has any, when it "
        "is back\n");
  amended.set_notice_warning("send the amendment again once they are back");
  CHECK(exo::ctl::RenderNodeAmends(amended, 8).find("is back\n  WARNING   send the amendment again once they are back\n") !=
        std::string::npos);
  // The route's progress shows the notice until the work it stops has ended.
  GetRouteResponse p;
  p.set_symbol("BTC-USD");
  p.add_cancel_noticed_on("n2");
  p.add_cancel_noticed_on("n3");
  Instrument btc;
  btc.set_price_scale(2);
  btc.set_qty_scale(8);
  const std::string line =
      "cancel    noted on n2, n3 while a node could not be asked: that node ends its work on the route when it is back\n";
  CHECK(exo::ctl::RenderRouteProgress(p, btc).find(line) != std::string::npos);
  p.mutable_shortfall_work()->set_state(ShortfallWork::STATE_CANCELLED);
  CHECK(exo::ctl::RenderRouteProgress(p, btc).find(line) == std::string::npos);
}

TEST_CASE("status says why the last cluster route left a peer out", "[ctl]") {
  StatusResponse r;
  r.set_node_id("n1");
  PeerStatus* ok = r.add_peers();
  ok->set_node("n3");
  ok->set_address("10.0.3.7:50611");
  ok->set_connection("ready");
  PeerStatus* out = r.add_peers();
  out->set_node("n2");
  out->set_address("10.0.2.7:50611");
  out->set_connection("ready");
  out->set_calls(12);
  out->set_mean_answer_us(240);
  out->set_left_out_route("r-77");
  out->set_left_out_reason("node n2 speaks peer protocol 0, this node 2 (run one exoroute release on every node of a cluster)");
  out->set_exchanges_open(1);
  out->set_exchanges_replaced(2);
  out->set_silent("node n2: no answer within 500 ms: not asked again until it answers (asked every 1 s)");
  const std::string text = exo::ctl::RenderStatus(r);
  CHECK(text.find("  n2         10.0.2.7:50611         ready                   12       240 us          1\n"
                  "             silent: node n2: no answer within 500 ms: not asked again until it answers (asked every "
                  "1 s)\n"
                  "             left out of route r-77: node n2 speaks peer protocol 0, this node 2 (run one exoroute "
                  "release on every node of a cluster)\n"
                  "             2 of its streams ended when it opened a new one (it restarted or lost its connection)\n") !=
        std::string::npos);
  CHECK(text.find("  n3         10.0.3.7:50611         ready                    0            -          0\n") !=
        std::string::npos);
  const size_t first = text.find("left out of route");
  CHECK(text.find("left out of route", first + 1) == std::string::npos);  // Only n2's row has one.
  CHECK(text.find("silent:", text.find("silent:") + 1) == std::string::npos);
}

TEST_CASE("status lists the cancels a cluster node still sends again, with where and when they were noted", "[ctl]") {
  StatusResponse r;
  r.set_node_id("n2");
  CHECK(exo::ctl::RenderStatus(r, 1000).find("cancel      route") == std::string::npos);
  CancelNotice* n = r.add_cancels_sent_again();
  n->set_route_id("gtc-few");
  n->set_via("n2");
  n->set_noted_ns(int64_t{820} * 1'000'000'000);
  CHECK(exo::ctl::RenderStatus(r, 1000).find(
            "cancel      route gtc-few: noted here (through n2, 3 min ago); sent again until the node that works it "
            "answers\n") != std::string::npos);
}

TEST_CASE("status lists the notices of new terms a cluster node still sends again, with where and when amended", "[ctl]") {
  StatusResponse r;
  r.set_node_id("n2");
  CHECK(exo::ctl::RenderStatus(r, 1000).find("terms       route") == std::string::npos);
  TermsSentAgain* t = r.add_terms_sent_again();
  t->set_route_id("gtc-terms");
  t->set_via("n2");
  t->set_amended_ns(int64_t{990} * 1'000'000'000);
  CHECK(exo::ctl::RenderStatus(r, 1000).find("terms       route gtc-terms: new terms noted here (through n2, amended 10 "
                                             "s ago); sent again until every node keeps them\n") != std::string::npos);
}

TEST_CASE("status says how far the node's clock reads ahead of a system clock that stepped back, only when it does", "[ctl]") {
  StatusResponse r;
  r.set_node_id("n1");
  CHECK(exo::ctl::RenderStatus(r, 1000).find("clock") == std::string::npos);
  r.set_clock_ahead_ms(2'000);
  CHECK(exo::ctl::RenderStatus(r, 1000).find("clock       2.000 s ahead of the system clock, which stepped back: the "
                                             "node's clock runs 5 % slow until they agree (in about 40 s)\n") !=
        std::string::npos);
}

TEST_CASE("a plan or a what-if that placed nothing says so, with the mid it was fixed at, not a cost of 0.00", "[ctl]") {
  Plan p;
  p.set_plan_id("passive");
  p.set_status(PLAN_STATUS_WORKING);
  p.mutable_instrument()->set_symbol("BTC-USD");
  p.mutable_instrument()->set_price_scale(2);
  p.mutable_instrument()->set_qty_scale(8);
  ParentOrder* o = p.mutable_order();
  o->set_symbol("BTC-USD");
  o->set_side(SIDE_BUY);
  o->set_quantity(200'000'000);
  o->set_limit_price(6'400'000);
  o->set_arrival_band_bps(10);
  p.set_shortfall(200'000'000);
  p.set_arrival_mid(6'500'250);
  p.set_arrival_limit(6'400'000);
  p.mutable_last_solve()->set_method(SOLVER_METHOD_EXACT);
  p.mutable_last_solve()->set_arrival_limit(6'400'000);
  const std::string resting = exo::ctl::RenderPlan(p);
  INFO(resting);
  CHECK(resting.find("filled    0.00000000 of 2.00000000  arrival mid 65002.50\n") != std::string::npos);
  CHECK(resting.find("solve     EXACT, no venue usable, arrival limit 64000.00\n") != std::string::npos);
  CHECK(resting.find("expected  nothing placed now, SHORTFALL 2.00000000\n") != std::string::npos);
  CHECK(resting.find("cost 0.00") == std::string::npos);

  // Once something is placed: the cost line, as before.
  p.mutable_last_solve()->set_venues_considered(2);
  p.mutable_last_solve()->set_rounds(4);
  p.set_expected_cost(13'001'000);
  p.set_expected_average_price(6'500'500);
  p.set_expected_slippage_cbps(385);
  p.set_shortfall(0);
  const std::string placed = exo::ctl::RenderPlan(p);
  INFO(placed);
  CHECK(placed.find("solve     EXACT, 4 rounds, marginal price 0.00, 2 venues usable, gap 0.00, arrival limit 64000.00\n") !=
        std::string::npos);
  CHECK(placed.find("expected  cost 130010.00, avg 65005.00 incl. fees, 3.85 bp vs mid\n") != std::string::npos);
  // One venue is one venue, not "1 venues".
  p.mutable_last_solve()->set_venues_considered(1);
  p.mutable_last_solve()->set_rounds(1);
  CHECK(exo::ctl::RenderPlan(p).find("solve     EXACT, 1 round, marginal price 0.00, 1 venue usable, gap 0.00,") !=
        std::string::npos);
  p.mutable_last_solve()->set_rounds(4);
  p.mutable_last_solve()->set_venues_considered(2);
  // After a re-plan the figures are that decision's (for what was left), and say so.
  p.set_replans(1);
  CHECK(exo::ctl::RenderPlan(p).find("expected  last re-plan: cost 130010.00, avg 65005.00 incl. fees, 3.85 bp vs mid\n") !=
        std::string::npos);
  CHECK(exo::ctl::RenderPlan(p).find("), 1 re-plan\n") != std::string::npos);
  p.set_replans(0);

  Decision d;
  d.mutable_stats()->set_method(SOLVER_METHOD_EXACT);
  d.set_shortfall(50'000'000);
  d.set_mid_price(6'500'250);
  const std::string what_if = exo::ctl::RenderDecision(d, p.instrument(), SIDE_BUY, 50'000'000, nullptr);
  INFO(what_if);
  CHECK(what_if.find("expected  nothing placed (mid 65002.50), SHORTFALL 0.50000000\n") != std::string::npos);
  CHECK(what_if.find("VENUE") == std::string::npos);  // No table of no rows.
  auto* a = d.add_allocations();
  a->set_venue("SIM-A");
  a->set_quantity(10'000'000);
  CHECK(exo::ctl::RenderDecision(d, p.instrument(), SIDE_BUY, 50'000'000, nullptr).find("  VENUE ") != std::string::npos);
  d.clear_allocations();
  d.clear_mid_price();
  CHECK(exo::ctl::RenderDecision(d, p.instrument(), SIDE_BUY, 50'000'000, nullptr)
            .find("expected  nothing placed (no mid), SHORTFALL 0.50000000\n") != std::string::npos);
}

TEST_CASE("status names the config file in force and its reloads, config reload says what changed, one a line",
          "[ctl][config]") {
  StatusResponse r;
  ConfigStatus* c = r.mutable_config();
  c->set_digest(std::string(32, '\xab'));
  CHECK(exo::ctl::RenderStatus(r).find("config      embedded default  sha256 abababababababab…\n") != std::string::npos);
  c->set_path("/etc/exoroute/exorouted.json");
  c->set_reloads_applied(2);
  c->set_last_applied_ns(1'796'376'235'000'000'000);
  std::string s = exo::ctl::RenderStatus(r);
  CHECK(s.find("config      /etc/exoroute/exorouted.json  sha256 abababababababab…, 2 reloads applied (last "
               "2026-12-04 09:23:55 UTC)\n") != std::string::npos);
  CHECK(s.find("WARNING") == std::string::npos);
  c->set_last_refused("config /etc/exoroute/exorouted.json: cannot open");
  CHECK(exo::ctl::RenderStatus(r).find("WARNING     the last config reload was refused, the config before it is in "
                                       "force: config /etc/exoroute/exorouted.json: cannot open\n") != std::string::npos);

  ReloadConfigResponse reload;
  reload.set_path("/etc/x.json");
  CHECK(exo::ctl::RenderConfigReload(reload, false) == "config /etc/x.json: nothing to change (it is the config in force)\n");
  reload.set_changed(true);
  reload.set_change("modified: venues[0].taker_fee_bps: 2 -> 1.5; deleted: risk[1]: { symbol: \"ETH-USD\" }");
  reload.set_sequence(41);
  CHECK(exo::ctl::RenderConfigReload(reload, false) ==
        "config /etc/x.json reloaded (recorded at sequence 41); changed:\n"
        "  modified: venues[0].taker_fee_bps: 2 -> 1.5\n"
        "  deleted: risk[1]: { symbol: \"ETH-USD\" }\n");
  reload.set_sequence(0);
  CHECK(exo::ctl::RenderConfigReload(reload, true) ==
        "a reload of /etc/x.json would change:\n"
        "  modified: venues[0].taker_fee_bps: 2 -> 1.5\n"
        "  deleted: risk[1]: { symbol: \"ETH-USD\" }\n"
        "nothing applied (exoroutectl config reload applies it)\n");
}

TEST_CASE("books render as a ladder per venue, with the best prices and why a side leaves a venue out", "[ctl]") {
  GetBooksResponse r;
  r.mutable_instrument()->set_symbol("BTC-USD");
  r.mutable_instrument()->set_price_scale(2);
  r.mutable_instrument()->set_qty_scale(8);
  r.set_best_bid(6500000);
  r.set_best_ask(6500650);
  VenueBookView* a = r.add_venues();
  a->set_venue("SIM-A");
  a->set_fee_bps(2);
  a->set_age_ms(60);
  a->mutable_book()->set_sequence(24);
  for (int k = 0; k < 2; ++k) {
    BookLevel* b = a->mutable_book()->add_bids();
    b->set_price(6500000 - 50 * k);
    b->set_size(30'800'000);
  }
  BookLevel* ask = a->mutable_book()->add_asks();
  ask->set_price(6500650);
  ask->set_size(43'200'000);
  VenueBookView* c = r.add_venues();
  c->set_venue("SIM-C");
  c->set_fee_bps(-0.5);
  c->set_age_ms(-1);
  c->set_buy_exclusion("no book yet");
  c->set_sell_exclusion("no book yet");
  const std::string s = exo::ctl::RenderBooks(r);
  INFO(s);
  CHECK(s.rfind("books     BTC-USD  as an executed order decided now reads them\n"
                "best      bid 65000.00  ask 65006.50  spread 6.50 (1.00 bp)\n\n"
                "SIM-A      fee 2.00 bp  age 60 ms  seq 24\n",
                0) == 0);
  CHECK(s.find("          0.30800000       65000.00 | 65006.50       0.43200000\n"
               "          0.30800000       64999.50 |\n") != std::string::npos);
  CHECK(s.find("SIM-C      fee -0.50 bp  no book yet\n"
               "  a buy leaves it out: no book yet\n"
               "  a sell leaves it out: no book yet\n") != std::string::npos);
  // Across venues the best bid can reach the best ask: said so, not a negative spread.
  r.set_best_bid(6500650);
  CHECK(exo::ctl::RenderBooks(r).find("best      bid 65006.50  ask 65006.50  locked across venues\n") != std::string::npos);
  r.set_best_bid(6500700);
  CHECK(exo::ctl::RenderBooks(r).find("crossed across venues by 0.50 (0.08 bp)\n") != std::string::npos);
  r.set_best_bid(0);
  CHECK(exo::ctl::RenderBooks(r).find("best      bid none  ask 65006.50  (no two-sided market over the usable venues)\n") !=
        std::string::npos);
}
