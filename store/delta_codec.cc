#include "store/delta_codec.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace exo::store {
namespace {

using namespace exoroute::v1;  // NOLINT: the codec touches every message type.

// Kind tags: stable forever (part of the format).
enum Kind : uint8_t {
  kCreated = 1,
  kAllocated = 2,
  kChildSent = 3,
  kFill = 4,
  kChildDone = 5,
  kCancelRequested = 6,
  kFinished = 7,
  kPrivacyRefused = 8,
  kGovernance = 9,
  kAmended = 10,  // Format 4 (5: with a removed limit or an urgency).
  kDisconnectArmed = 11,  // Format 6.
};

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<char>((v >> s) & 0xff));
  }
  void U64(uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out_.push_back(static_cast<char>((v >> s) & 0xff));
  }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Bool(bool v) { U8(v ? 1 : 0); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void Enum(int v) { U32(static_cast<uint32_t>(v)); }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t offset() const { return pos_; }
  bool AtEnd() const { return pos_ == in_.size(); }
  void Fail(const std::string& why) {
    if (error_.empty()) error_ = absl::StrCat(why, " at byte ", pos_);
  }

  uint8_t U8() {
    if (!Need(1)) return 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in_[pos_++]);
    return v;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in_[pos_++]);
    return v;
  }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  bool Bool() {
    uint8_t v = U8();
    if (v > 1) Fail("bool byte not 0 or 1");
    return v == 1;
  }
  std::string Str() {
    uint32_t n = U32();
    if (!Need(n)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  // Reads an enum value and checks it against the proto enum's known values.
  template <typename E>
  E Enum(bool (*valid)(int)) {
    uint32_t v = U32();
    if (v > 0x7fffffff || !valid(static_cast<int>(v))) {
      Fail(absl::StrCat("unknown enum value ", v));
      return static_cast<E>(0);
    }
    return static_cast<E>(v);
  }

 private:
  bool Need(size_t n) {
    if (!ok()) return false;
    if (in_.size() - pos_ < n) {
      Fail("truncated");
      return false;
    }
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

void PutInstrument(Writer& w, const Instrument& i) {
  w.Str(i.symbol());
  w.U32(i.price_scale());
  w.U32(i.qty_scale());
}
void GetInstrument(Reader& r, Instrument* i) {
  i->set_symbol(r.Str());
  i->set_price_scale(r.U32());
  i->set_qty_scale(r.U32());
}

void PutStrings(Writer& w, const google::protobuf::RepeatedPtrField<std::string>& v) {
  w.U32(static_cast<uint32_t>(v.size()));
  for (const auto& s : v) w.Str(s);
}
void GetStrings(Reader& r, google::protobuf::RepeatedPtrField<std::string>* v) {
  uint32_t n = r.U32();
  for (uint32_t k = 0; k < n && r.ok(); ++k) *v->Add() = r.Str();
}

void PutOrder(Writer& w, const ParentOrder& o) {
  w.Str(o.id());
  w.Str(o.symbol());
  w.Enum(o.side());
  w.I64(o.quantity());
  w.Bool(o.has_limit_price());
  if (o.has_limit_price()) w.I64(o.limit_price());
  w.Enum(o.time_in_force());
  w.I64(o.expire_after_ms());
  PutStrings(w, o.allowed_venues());
  PutStrings(w, o.denied_venues());
  w.U32(o.max_venues());
}
void GetOrder(Reader& r, ParentOrder* o) {
  o->set_id(r.Str());
  o->set_symbol(r.Str());
  o->set_side(r.Enum<Side>(Side_IsValid));
  o->set_quantity(r.I64());
  if (r.Bool()) o->set_limit_price(r.I64());
  o->set_time_in_force(r.Enum<TimeInForce>(TimeInForce_IsValid));
  o->set_expire_after_ms(r.I64());
  GetStrings(r, o->mutable_allowed_venues());
  GetStrings(r, o->mutable_denied_venues());
  o->set_max_venues(r.U32());
}

void PutAllocation(Writer& w, const Allocation& a) {
  w.Str(a.venue());
  w.I64(a.quantity());
  w.I64(a.limit_price());
  w.I64(a.expected_cost());
}
void GetAllocation(Reader& r, Allocation* a) {
  a->set_venue(r.Str());
  a->set_quantity(r.I64());
  a->set_limit_price(r.I64());
  a->set_expected_cost(r.I64());
}

void PutStats(Writer& w, const SolverStats& s) {
  w.Enum(s.method());
  w.U32(s.rounds());
  w.I64(s.marginal_price());
  w.U32(s.venues_considered());
  w.I64(s.optimality_gap());
}
void GetStats(Reader& r, SolverStats* s) {
  s->set_method(r.Enum<SolverMethod>(SolverMethod_IsValid));
  s->set_rounds(r.U32());
  s->set_marginal_price(r.I64());
  s->set_venues_considered(r.U32());
  s->set_optimality_gap(r.I64());
}

void PutAllocated(Writer& w, const PlanAllocated& a) {
  w.Bool(a.replan());
  w.Bool(a.incremental());
  w.U32(static_cast<uint32_t>(a.allocations_size()));
  for (const auto& x : a.allocations()) PutAllocation(w, x);
  w.I64(a.shortfall());
  w.I64(a.expected_cost());
  PutStats(w, a.stats());
  w.U32(static_cast<uint32_t>(a.exclusions_size()));
  for (const auto& e : a.exclusions()) {
    w.Str(e.venue());
    w.Str(e.reason());
  }
  w.I64(a.expected_average_price());
  w.I64(a.mid_price());
  w.I64(a.slippage_cbps());
}
void GetAllocated(Reader& r, PlanAllocated* a) {
  a->set_replan(r.Bool());
  a->set_incremental(r.Bool());
  uint32_t n = r.U32();
  for (uint32_t k = 0; k < n && r.ok(); ++k) GetAllocation(r, a->add_allocations());
  a->set_shortfall(r.I64());
  a->set_expected_cost(r.I64());
  GetStats(r, a->mutable_stats());
  n = r.U32();
  for (uint32_t k = 0; k < n && r.ok(); ++k) {
    auto* e = a->add_exclusions();
    e->set_venue(r.Str());
    e->set_reason(r.Str());
  }
  a->set_expected_average_price(r.I64());
  a->set_mid_price(r.I64());
  a->set_slippage_cbps(r.I64());
}

// The oldest format that holds every field `d` carries (the encoder's choice, the decoder's
// check): 7 for an order whose sender is known, 6 for a dead man's switch armed, 5 for an amendment that removes the limit or sets an urgency, else 4 for an
// amendment, else 3 for an order's arrival band or a decision's arrival limit, else 2 for an
// order's urgency or a decision's band limit, else 1.
uint8_t FormatOf(const PlanDelta& d) {
  if (d.has_created() && !d.created().routed_by().empty()) return kCanonicalFormat7;
  if (d.has_disconnect_armed()) return kCanonicalFormat6;
  if (d.has_amended()) {
    const PlanAmended& a = d.amended();
    return a.limit_removed() || a.urgency() != URGENCY_UNSPECIFIED ? kCanonicalFormat5 : kCanonicalFormat4;
  }
  if ((d.has_created() && d.created().order().arrival_band_bps() != 0) ||
      (d.has_allocated() && d.allocated().stats().arrival_limit() != 0)) {
    return kCanonicalFormat3;
  }
  if ((d.has_created() && d.created().order().urgency() != URGENCY_UNSPECIFIED) ||
      (d.has_allocated() && d.allocated().stats().price_band_limit() != 0)) {
    return kCanonicalFormat2;
  }
  return kCanonicalFormat;
}

}  // namespace

std::string EncodeCanonical(const PlanDelta& d) {
  Writer w;
  const uint8_t format = FormatOf(d);
  const bool v2 = format >= kCanonicalFormat2, v3 = format >= kCanonicalFormat3;
  w.U8(format);
  w.U64(d.sequence());
  w.Str(d.plan_id());
  w.U32(d.plan_version());
  w.I64(d.event_time_ns());
  w.Str(d.inputs_digest());
  switch (d.change_case()) {
    case PlanDelta::kCreated:
      w.U8(kCreated);
      PutOrder(w, d.created().order());
      w.Enum(d.created().mode());
      PutInstrument(w, d.created().instrument());
      if (v2) w.Enum(d.created().order().urgency());
      if (v3) w.U32(d.created().order().arrival_band_bps());
      if (format >= kCanonicalFormat7) w.Str(d.created().routed_by());
      break;
    case PlanDelta::kAllocated:
      w.U8(kAllocated);
      PutAllocated(w, d.allocated());
      if (v2) w.I64(d.allocated().stats().price_band_limit());
      if (v3) w.I64(d.allocated().stats().arrival_limit());
      break;
    case PlanDelta::kChildSent: {
      const ChildOrder& c = d.child_sent();
      w.U8(kChildSent);
      w.Str(c.cl_ord_id());
      w.Str(c.venue());
      w.Enum(c.side());
      w.I64(c.quantity());
      w.I64(c.limit_price());
      break;
    }
    case PlanDelta::kFill: {
      const Fill& f = d.fill();
      w.U8(kFill);
      w.Str(f.cl_ord_id());
      w.Str(f.venue());
      w.I64(f.quantity());
      w.I64(f.price());
      w.I64(f.fee());
      w.Str(f.exec_id());
      break;
    }
    case PlanDelta::kChildDone: {
      const ChildDone& c = d.child_done();
      w.U8(kChildDone);
      w.Str(c.cl_ord_id());
      w.Str(c.venue());
      w.I64(c.canceled_quantity());
      w.Str(c.reason());
      break;
    }
    case PlanDelta::kCancelRequested:
      w.U8(kCancelRequested);
      w.Str(d.cancel_requested().reason());
      break;
    case PlanDelta::kPrivacyRefused: {
      const PrivacyRefused& p = d.privacy_refused();
      w.U8(kPrivacyRefused);
      w.Str(p.signal());
      w.I64(p.window_start_s());
      w.I64(p.spent_milli());
      w.I64(p.limit_milli());
      w.I64(p.requested_milli());
      w.Str(p.route_id());
      break;
    }
    case PlanDelta::kGovernance: {
      const GovernanceEvent& g = d.governance();
      w.U8(kGovernance);
      w.Enum(g.kind());
      w.Str(g.subject());
      w.Str(g.digest());
      w.Str(g.detail());
      break;
    }
    case PlanDelta::kAmended: {
      const PlanAmended& a = d.amended();
      w.U8(kAmended);
      w.I64(a.quantity());
      w.Bool(a.has_limit_price());
      if (a.has_limit_price()) w.I64(a.limit_price());
      w.Str(a.reason());
      if (format >= kCanonicalFormat5) {
        w.Bool(a.limit_removed());
        w.Enum(a.urgency());
      }
      break;
    }
    case PlanDelta::kDisconnectArmed:
      w.U8(kDisconnectArmed);
      w.U32(d.disconnect_armed().grace_ms());
      break;
    case PlanDelta::kFinished:
      w.U8(kFinished);
      w.Enum(d.finished().status());
      w.Str(d.finished().reason());
      break;
    case PlanDelta::CHANGE_NOT_SET:
      // A delta without a change is a programming error, never input: crash loudly.
      std::fprintf(stderr, "fatal: EncodeCanonical on a delta with no change\n");
      std::abort();
  }
  return w.Take();
}

absl::StatusOr<PlanDelta> DecodeCanonical(std::string_view bytes) {
  Reader r(bytes);
  PlanDelta d;
  uint8_t format = r.U8();
  if (r.ok() && (format < kCanonicalFormat || format > kCanonicalFormat7)) {
    return absl::DataLossError(absl::StrCat("unknown canonical format ", int{format}));
  }
  const bool v2 = format >= kCanonicalFormat2, v3 = format >= kCanonicalFormat3;
  d.set_sequence(r.U64());
  d.set_plan_id(r.Str());
  d.set_plan_version(r.U32());
  d.set_event_time_ns(r.I64());
  d.set_inputs_digest(r.Str());
  uint8_t kind = r.U8();
  if (r.ok()) {
    switch (kind) {
      case kCreated: {
        auto* c = d.mutable_created();
        GetOrder(r, c->mutable_order());
        c->set_mode(r.Enum<RouteMode>(RouteMode_IsValid));
        GetInstrument(r, c->mutable_instrument());
        if (v2) c->mutable_order()->set_urgency(r.Enum<Urgency>(Urgency_IsValid));
        if (v3) c->mutable_order()->set_arrival_band_bps(r.U32());
        if (format >= kCanonicalFormat7) c->set_routed_by(r.Str());
        break;
      }
      case kAllocated:
        GetAllocated(r, d.mutable_allocated());
        if (v2) d.mutable_allocated()->mutable_stats()->set_price_band_limit(r.I64());
        if (v3) d.mutable_allocated()->mutable_stats()->set_arrival_limit(r.I64());
        break;
      case kChildSent: {
        auto* c = d.mutable_child_sent();
        c->set_cl_ord_id(r.Str());
        c->set_venue(r.Str());
        c->set_side(r.Enum<Side>(Side_IsValid));
        c->set_quantity(r.I64());
        c->set_limit_price(r.I64());
        break;
      }
      case kFill: {
        auto* f = d.mutable_fill();
        f->set_cl_ord_id(r.Str());
        f->set_venue(r.Str());
        f->set_quantity(r.I64());
        f->set_price(r.I64());
        f->set_fee(r.I64());
        f->set_exec_id(r.Str());
        break;
      }
      case kChildDone: {
        auto* c = d.mutable_child_done();
        c->set_cl_ord_id(r.Str());
        c->set_venue(r.Str());
        c->set_canceled_quantity(r.I64());
        c->set_reason(r.Str());
        break;
      }
      case kCancelRequested:
        d.mutable_cancel_requested()->set_reason(r.Str());
        break;
      case kFinished: {
        auto* f = d.mutable_finished();
        f->set_status(r.Enum<PlanStatus>(PlanStatus_IsValid));
        f->set_reason(r.Str());
        break;
      }
      case kPrivacyRefused: {
        auto* p = d.mutable_privacy_refused();
        p->set_signal(r.Str());
        p->set_window_start_s(r.I64());
        p->set_spent_milli(r.I64());
        p->set_limit_milli(r.I64());
        p->set_requested_milli(r.I64());
        p->set_route_id(r.Str());
        break;
      }
      case kGovernance: {
        auto* g = d.mutable_governance();
        g->set_kind(r.Enum<GovernanceKind>(GovernanceKind_IsValid));
        g->set_subject(r.Str());
        g->set_digest(r.Str());
        g->set_detail(r.Str());
        break;
      }
      case kAmended: {
        auto* a = d.mutable_amended();
        a->set_quantity(r.I64());
        if (r.Bool()) a->set_limit_price(r.I64());
        a->set_reason(r.Str());
        if (format >= kCanonicalFormat5) {
          a->set_limit_removed(r.Bool());
          a->set_urgency(r.Enum<Urgency>(Urgency_IsValid));
        }
        break;
      }
      case kDisconnectArmed:
        d.mutable_disconnect_armed()->set_grace_ms(r.U32());
        break;
      default:
        r.Fail(absl::StrCat("unknown delta kind ", int{kind}));
    }
  }
  if (r.ok() && !r.AtEnd()) r.Fail("trailing bytes");
  if (r.ok() && format != FormatOf(d)) {
    r.Fail(absl::StrCat("format ", int{format}, " for a delta format ", int{FormatOf(d)},
                        " holds: not its canonical encoding"));
  }
  if (!r.ok()) return absl::DataLossError(absl::StrCat("canonical delta: ", r.error()));
  return d;
}

}  // namespace exo::store
