// A cluster route's coordinator against a faulty node: the node is real (a ClusterNode over the
// fuzz node's engine, alone in its cluster) but its answers pass through a link that changes
// them as the input says — any field of any answer, one level into its messages, or an answer
// of another kind. An input: byte 0 the side (bit 0), mode (bit 1, EXECUTE) and urgency (bit 2,
// LOW: an urgency band, so BestPrice is asked first), bytes 1-2 the
// order's size in lots (big-endian, + 1); then changes of 12 bytes each: the answer's index in
// the route, three bytes choosing the field (one per level), eight bytes its new value.
// Checks: the route ends (no hang: libFuzzer's timeout); a route that succeeds gives no node a
// negative share, the shares add up to at most the order, and this node's plan is at most the
// order. Plans made are cancelled after.
#include <cstring>
#include <functional>

#include "daemon/cluster/coordinator.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "tests/fuzz/fuzz_node.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/testing/changing_link.h"

using namespace exoroute::v1;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

namespace {

struct Change {
  uint8_t answer;
  uint8_t path[3];
  uint64_t bits;
};

// Sets the field `path` chooses in `m` to `bits` (a message field: one of its own, by the next
// byte of the path; at the path's end, its first field).
void Apply(Message* m, const uint8_t* path, size_t depth, uint64_t bits) {
  const google::protobuf::Descriptor* d = m->GetDescriptor();
  const google::protobuf::Reflection* r = m->GetReflection();
  if (d->field_count() == 0) return;
  const FieldDescriptor* f = d->field((depth < 3 ? path[depth] : 0) % d->field_count());
  double as_double;
  std::memcpy(&as_double, &bits, sizeof as_double);
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    if (depth >= 3) return;
    Message* inner = !f->is_repeated() ? r->MutableMessage(m, f)
                     : r->FieldSize(*m, f) > 0 ? r->MutableRepeatedMessage(m, f, 0)
                                               : r->AddMessage(m, f);
    Apply(inner, path, depth + 1, bits);
    return;
  }
  if (f->is_repeated()) {
    // The first element changed, or one added; a high bit of the value clears the field.
    if ((bits >> 63) != 0 && (bits & 1) != 0) {
      r->ClearField(m, f);
      return;
    }
    const bool add = r->FieldSize(*m, f) == 0;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE:
        add ? r->AddDouble(m, f, as_double) : r->SetRepeatedDouble(m, f, 0, as_double);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        add ? r->AddInt64(m, f, static_cast<int64_t>(bits)) : r->SetRepeatedInt64(m, f, 0, static_cast<int64_t>(bits));
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        add ? r->AddUInt64(m, f, bits) : r->SetRepeatedUInt64(m, f, 0, bits);
        break;
      case FieldDescriptor::CPPTYPE_STRING: {
        const std::string v(reinterpret_cast<const char*>(&bits), bits % 9);
        add ? r->AddString(m, f, v) : r->SetRepeatedString(m, f, 0, v);
        break;
      }
      default:
        break;
    }
    return;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE: r->SetDouble(m, f, as_double); break;
    case FieldDescriptor::CPPTYPE_FLOAT: r->SetFloat(m, f, static_cast<float>(as_double)); break;
    case FieldDescriptor::CPPTYPE_INT64: r->SetInt64(m, f, static_cast<int64_t>(bits)); break;
    case FieldDescriptor::CPPTYPE_UINT64: r->SetUInt64(m, f, bits); break;
    case FieldDescriptor::CPPTYPE_INT32: r->SetInt32(m, f, static_cast<int32_t>(bits)); break;
    case FieldDescriptor::CPPTYPE_UINT32: r->SetUInt32(m, f, static_cast<uint32_t>(bits)); break;
    case FieldDescriptor::CPPTYPE_BOOL: r->SetBool(m, f, (bits & 1) != 0); break;
    case FieldDescriptor::CPPTYPE_ENUM: r->SetEnumValue(m, f, static_cast<int>(bits % 16)); break;
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(m, f, std::string(reinterpret_cast<const char*>(&bits), bits % 9));
      break;
    default:
      break;
  }
}

std::string Input(bool sell, bool execute, uint16_t lots, const std::vector<Change>& changes, bool banded = false) {
  std::string out;
  out.push_back(static_cast<char>((sell ? 1 : 0) | (execute ? 2 : 0) | (banded ? 4 : 0)));
  out.push_back(static_cast<char>(lots >> 8));
  out.push_back(static_cast<char>(lots & 255));
  for (const Change& c : changes) {
    out.push_back(static_cast<char>(c.answer));
    for (uint8_t p : c.path) out.push_back(static_cast<char>(p));
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((c.bits >> (8 * i)) & 255));
  }
  return out;
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

}  // namespace

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  std::vector<std::string> out;
  for (bool sell : {false, true}) {
    for (uint16_t lots : {1, 499, 4999, 20000}) out.push_back(Input(sell, false, lots, {}));
  }
  // One change to each of the first answers, to fields of every kind (PeerAnswer's fields in
  // declaration order: the oneof's replies, then the error).
  for (uint8_t answer = 0; answer < 6; ++answer) {
    for (uint8_t field = 0; field < 12; ++field) {
      const uint64_t bits = field % 3 == 0 ? Bits(std::numeric_limits<double>::quiet_NaN())
                            : field % 3 == 1 ? ~uint64_t{0}
                                             : uint64_t{1} << 62;
      out.push_back(Input(answer % 2 == 1, answer == 5, 2000, {{answer, {field, static_cast<uint8_t>(field * 7), 0}, bits}}));
      // With an urgency band: answer 0 is BestPrice's.
      if (answer < 2) {
        out.push_back(Input(answer % 2 == 1, false, 2000, {{answer, {field, static_cast<uint8_t>(field * 7), 0}, bits}},
                            /*banded=*/true));
      }
    }
  }
  for (bool sell : {false, true}) out.push_back(Input(sell, false, 20000, {}, /*banded=*/true));
  return out;
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int routes = 0;
  if (size < 3) return 0;
  const exo::fuzz::FuzzNode& n = exo::fuzz::Node();
  std::vector<Change> changes;
  for (size_t at = 3; at + 12 <= size && changes.size() < 64; at += 12) {
    Change c{data[at], {data[at + 1], data[at + 2], data[at + 3]}, 0};
    for (int i = 0; i < 8; ++i) c.bits |= uint64_t{data[at + 4 + i]} << (8 * i);
    changes.push_back(c);
  }
  std::vector<std::unique_ptr<exo::daemon::cluster::NodeLink>> links;
  size_t answered = 0;
  links.push_back(std::make_unique<exo::testing::ChangingLink>(
      exo::daemon::cluster::LocalLink(&exo::fuzz::Cluster()), [&changes, &answered](PeerAnswer* a) {
        for (const Change& c : changes) {
          if (c.answer == answered) Apply(a, c.path, 0, c.bits);
        }
        ++answered;
      }));
  exo::daemon::cluster::Coordinator coordinator(n.config.node_id(), std::move(links), NODE_FAILURE_POLICY_DROP_NODE);
  ParentOrder o;
  o.set_id("coord-" + std::to_string(routes++));
  o.set_symbol("BTC-USD");
  o.set_side((data[0] & 1) != 0 ? SIDE_SELL : SIDE_BUY);
  o.set_quantity((((int64_t{data[1]} << 8) | data[2]) + 1) * 100'000);  // In lots of the sim venues.
  o.set_time_in_force(TIME_IN_FORCE_GTC);
  if ((data[0] & 4) != 0) o.set_urgency(URGENCY_LOW);
  const RouteMode mode = (data[0] & 2) != 0 ? ROUTE_MODE_EXECUTE : ROUTE_MODE_PLAN_ONLY;
  absl::StatusOr<RouteResponse> r = coordinator.Route(o, mode, n.engine);
  if (r.ok()) {
    int64_t total = 0;
    for (const NodeShare& s : r->cluster().shares()) {
      FUZZ_CHECK(s.quantity() >= 0, "node %s given %lld", s.node().c_str(), static_cast<long long>(s.quantity()));
      total += s.quantity();
    }
    FUZZ_CHECK(total <= o.quantity(), "shares add up to %lld of an order of %lld", static_cast<long long>(total),
               static_cast<long long>(o.quantity()));
  }
  absl::StatusOr<Plan> plan = n.engine->GetPlan(o.id());
  if (plan.ok()) {
    FUZZ_CHECK(plan->order().quantity() <= o.quantity(), "this node's plan is for %lld of an order of %lld",
               static_cast<long long>(plan->order().quantity()), static_cast<long long>(o.quantity()));
    (void)n.engine->Cancel(o.id(), "fuzz");
  }
  return 0;
}
