// One delta of every kind the canonical encoding has (tests/store/delta_codec_test.cc checks
// their bytes against the vectors in docs/replay-and-audit.md; the audit fuzzer starts from
// them): plan "plan-7", sequences 42 on, one time, the kinds in tag order.
#pragma once

#include <vector>

#include "exoroute/v1/types.pb.h"

namespace exo::testing {

namespace delta_kinds_detail {
using namespace exoroute::v1;  // NOLINT: every message type.

inline PlanDelta Header(uint32_t version) {
  PlanDelta d;
  d.set_sequence(41 + version);
  d.set_plan_id("plan-7");
  d.set_plan_version(version);
  d.set_event_time_ns(1700000000123456789);
  return d;
}

inline std::vector<PlanDelta> OneOfEachKind() {
  std::vector<PlanDelta> out;
  PlanDelta c = Header(1);
  auto* o = c.mutable_created()->mutable_order();
  o->set_id("plan-7");
  o->set_symbol("BTC-USD");
  o->set_side(SIDE_SELL);
  o->set_quantity(150000000);
  o->set_limit_price(6500012);
  o->set_time_in_force(TIME_IN_FORCE_GTT);
  o->set_expire_after_ms(2000);
  o->add_allowed_venues("SIM-A");
  o->add_denied_venues("SIM-C");
  o->set_max_venues(2);
  c.mutable_created()->set_mode(ROUTE_MODE_EXECUTE);
  c.mutable_created()->mutable_instrument()->set_symbol("BTC-USD");
  c.mutable_created()->mutable_instrument()->set_price_scale(2);
  c.mutable_created()->mutable_instrument()->set_qty_scale(8);
  out.push_back(c);

  PlanDelta a = Header(2);
  a.set_inputs_digest(std::string(32, '\x5a'));
  auto* al = a.mutable_allocated();
  al->set_replan(true);
  al->set_incremental(true);
  auto* x = al->add_allocations();
  x->set_venue("SIM-A");
  x->set_quantity(100000000);
  x->set_limit_price(6500100);
  x->set_expected_cost(-6500050);
  al->set_shortfall(3);
  al->set_expected_cost(-6500050);
  al->mutable_stats()->set_method(SOLVER_METHOD_EXACT);
  al->mutable_stats()->set_rounds(17);
  al->mutable_stats()->set_marginal_price(6500090);
  al->mutable_stats()->set_venues_considered(2);
  auto* e = al->add_exclusions();
  e->set_venue("SIM-B");
  e->set_reason("book stale");
  out.push_back(a);

  PlanDelta s = Header(3);
  auto* ch = s.mutable_child_sent();
  ch->set_cl_ord_id("plan-7.3");
  ch->set_venue("SIM-A");
  ch->set_side(SIDE_SELL);
  ch->set_quantity(100000000);
  ch->set_limit_price(6500100);
  out.push_back(s);

  PlanDelta f = Header(4);
  auto* fi = f.mutable_fill();
  fi->set_cl_ord_id("plan-7.3");
  fi->set_venue("SIM-A");
  fi->set_quantity(40000000);
  fi->set_price(6500150);
  fi->set_fee(-52);
  fi->set_exec_id("SIM-A-9");
  out.push_back(f);

  PlanDelta dn = Header(5);
  dn.mutable_child_done()->set_cl_ord_id("plan-7.3");
  dn.mutable_child_done()->set_venue("SIM-A");
  dn.mutable_child_done()->set_canceled_quantity(60000000);
  dn.mutable_child_done()->set_reason("ioc remainder");
  out.push_back(dn);

  PlanDelta cr = Header(6);
  cr.mutable_cancel_requested()->set_reason("desk closed");
  out.push_back(cr);

  PlanDelta fin = Header(7);
  fin.mutable_finished()->set_status(PLAN_STATUS_CANCELLED);
  fin.mutable_finished()->set_reason("desk closed");
  out.push_back(fin);

  PlanDelta pr = Header(8);
  auto* p = pr.mutable_privacy_refused();
  p->set_signal("supply/BTC-USD");
  p->set_window_start_s(1764547200);
  p->set_spent_milli(58000);
  p->set_limit_milli(60000);
  p->set_requested_milli(4000);
  p->set_route_id("route-9");
  out.push_back(pr);

  PlanDelta gov = Header(9);
  auto* g = gov.mutable_governance();
  g->set_kind(GOVERNANCE_KIND_CONFIG_APPLIED);
  g->set_subject("config");
  g->set_digest("\xab\xcd");
  g->set_detail("fee 2 -> 3");
  out.push_back(gov);

  PlanDelta am = Header(10);
  am.mutable_amended()->set_quantity(200000000);
  am.mutable_amended()->set_limit_price(6499000);
  am.mutable_amended()->set_reason("chase");
  out.push_back(am);

  PlanDelta armed = Header(11);
  armed.mutable_disconnect_armed()->set_grace_ms(2500);
  out.push_back(armed);
  return out;
}

}  // namespace delta_kinds_detail

using delta_kinds_detail::OneOfEachKind;

}  // namespace exo::testing
