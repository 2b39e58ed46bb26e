#include "daemon/request_validation.h"

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "exo/fixed_point.h"
#include "exo/quoted.h"
#include "exo/status_macros.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/unknown_field_set.h"

namespace exo::daemon {
namespace {

absl::Status UnknownFieldsIn(const google::protobuf::Message& m, const std::string& path) {
  const google::protobuf::Reflection* r = m.GetReflection();
  if (const google::protobuf::UnknownFieldSet& unknown = r->GetUnknownFields(m); !unknown.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path.empty() ? "request" : path, ": field number ", unknown.field(0).number(),
        " is not one this node knows: refused rather than ignored (is the client built against a newer "
        "exoroute.v1? upgrade the node, or leave the field out)"));
  }
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string name = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    if (!f->is_repeated()) {
      EXO_RETURN_IF_ERROR(UnknownFieldsIn(r->GetMessage(m, f), name));
      continue;
    }
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      EXO_RETURN_IF_ERROR(UnknownFieldsIn(r->GetRepeatedMessage(m, f, i), absl::StrCat(name, "[", i, "]")));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckKnownFields(const google::protobuf::Message& request) { return UnknownFieldsIn(request, ""); }

namespace {

absl::Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

}  // namespace

absl::Status ValidateReason(const std::string& reason, const char* required_why) {
  if (reason.empty() && required_why != nullptr) return Bad("reason", absl::StrCat("required ", required_why));
  if (reason.size() > kMaxReasonBytes) {
    return Bad("reason", absl::StrCat("at most ", kMaxReasonBytes, " bytes, got ", reason.size()));
  }
  for (size_t i = 0; i < reason.size(); ++i) {
    const auto c = static_cast<unsigned char>(reason[i]);
    if (c < 0x20 || c == 0x7f) {
      return Bad("reason", absl::StrCat("one line of text, without control characters; byte ", i + 1, " is ",
                                        absl::StrFormat("0x%02x", c), " in ", Quoted(reason)));
    }
  }
  return absl::OkStatus();
}

namespace {

// A list of venue ids in an order: each one a venue id as the config allows them, once, and
// not more of them than a cluster could have.
absl::Status ValidateVenueList(const google::protobuf::RepeatedPtrField<std::string>& list, const char* field) {
  static const std::regex kVenueId("[A-Za-z0-9._-]{1,32}");
  if (list.size() > kMaxListedVenues) {
    return Bad(absl::StrCat("order.", field), absl::StrCat("at most ", kMaxListedVenues, " venues, got ", list.size()));
  }
  std::map<std::string, int> seen;
  for (int i = 0; i < list.size(); ++i) {
    const std::string f = absl::StrCat("order.", field, "[", i, "]");
    if (list[i].empty()) return Bad(f, "empty");
    if (!std::regex_match(list[i], kVenueId)) {
      return Bad(f, absl::StrCat("must be a venue id ([A-Za-z0-9._-]{1,32}), got ", Quoted(list[i])));
    }
    if (auto [at, fresh] = seen.emplace(list[i], i); !fresh) {
      return Bad(f, absl::StrCat(Quoted(list[i]), " is listed twice (", field, "[", at->second, "])"));
    }
  }
  return absl::OkStatus();
}

// Shaped as an instrument's symbol, as the config allows them.
absl::Status ValidateSymbol(const std::string& symbol, const char* field) {
  static const std::regex kSymbol("[A-Za-z0-9._/-]{1,32}");
  if (!std::regex_match(symbol, kSymbol)) {
    return Bad(field, absl::StrCat("must be an instrument's symbol ([A-Za-z0-9._/-]{1,32}), got ", Quoted(symbol)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePlanId(const std::string& id, const char* field) {
  // A cluster route's sub-routes add "~<n>" to the route's id (docs/cluster.md).
  static const std::regex kId("[A-Za-z0-9._:-]{1,64}(~[0-9]{1,9})?");
  if (id.empty()) return Bad(field, "required");
  if (!std::regex_match(id, kId)) {
    return Bad(field, absl::StrCat("must match [A-Za-z0-9._:-]{1,64}, got ", Quoted(id)));
  }
  return absl::OkStatus();
}

absl::Status ValidateListPlans(const exoroute::v1::ListPlansRequest& r) {
  if (!r.symbol().empty()) EXO_RETURN_IF_ERROR(ValidateSymbol(r.symbol(), "symbol"));
  if (r.page_size() > kMaxPlansPage) {
    return Bad("page_size", absl::StrCat("must be <= ", kMaxPlansPage, " (0 = ", kDefaultPlansPage, "), got ", r.page_size()));
  }
  if (r.routed_by().size() > 256) {
    return Bad("routed_by", absl::StrCat("a client certificate name of at most 256 characters, got ", r.routed_by().size()));
  }
  if (!r.page_token().empty()) {
    if (auto s = ValidatePlanId(r.page_token(), "page_token"); !s.ok()) {
      return Bad("page_token", absl::StrCat("not one this server gave (a plan id), got ", Quoted(r.page_token())));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAmend(const exoroute::v1::AmendPlanRequest& r) {
  EXO_RETURN_IF_ERROR(ValidatePlanId(r.plan_id()));
  if (r.quantity() == 0 && !r.has_limit_price() && !r.remove_limit() &&
      r.urgency() == exoroute::v1::URGENCY_UNSPECIFIED) {
    return Bad("quantity", "give a new quantity, limit_price, remove_limit or urgency (nothing to amend)");
  }
  if (r.quantity() < 0) return Bad("quantity", absl::StrCat("must be > 0 (or 0 to keep it), got ", r.quantity()));
  if (r.quantity() > kMaxUnits) {
    return Bad("quantity", absl::StrCat("must be <= ", kMaxUnits, " (2^53 units), got ", r.quantity()));
  }
  if (r.has_limit_price() && (r.limit_price() <= 0 || r.limit_price() > kMaxUnits)) {
    return Bad("limit_price", absl::StrCat("must be > 0 and <= ", kMaxUnits, " (2^53 units) when set, got ", r.limit_price()));
  }
  if (r.remove_limit() && r.has_limit_price()) {
    return Bad("remove_limit", "not with limit_price: give a new limit or remove it, not both");
  }
  if (!exoroute::v1::Urgency_IsValid(r.urgency())) {
    return Bad("urgency", absl::StrCat("must be URGENCY_LOW, URGENCY_NORMAL or URGENCY_HIGH (or unset to keep it), got ",
                                       r.urgency()));
  }
  return ValidateReason(r.reason());
}

absl::Status ValidateSettleChild(const exoroute::v1::SettleChildRequest& r) {
  EXO_RETURN_IF_ERROR(ValidatePlanId(r.plan_id()));
  if (r.cl_ord_id().empty()) return Bad("cl_ord_id", "required (the child's id, as `plan show` lists it)");
  // The node names its children "<plan id>.<n>", on a cluster "<plan id>@<node id>.<n>" (a
  // sub-route's plan id has its "~<n>").
  static const std::regex kChildId("[A-Za-z0-9._:~@-]{1,256}");
  if (!std::regex_match(r.cl_ord_id(), kChildId)) {
    return Bad("cl_ord_id", absl::StrCat("must match [A-Za-z0-9._:~@-]{1,256} (a child's id, as `plan show` lists it), got ",
                                         Quoted(r.cl_ord_id())));
  }
  if (r.filled_quantity() < 0 || r.filled_quantity() > kMaxUnits) {
    return Bad("filled_quantity", absl::StrCat("must be within 0..", kMaxUnits, " (2^53 units), got ", r.filled_quantity()));
  }
  if (r.price() < 0 || r.price() > kMaxUnits) {
    return Bad("price", absl::StrCat("must be within 1..", kMaxUnits, " (2^53 units) when set, got ", r.price()));
  }
  constexpr int64_t kMaxFee = int64_t{1} << 62;
  if (r.fee() > kMaxFee || r.fee() < -kMaxFee) {
    return Bad("fee", absl::StrCat("must be within -2^62..2^62 price units, got ", r.fee()));
  }
  return ValidateReason(r.reason(), "(it is recorded in the chain: say who confirmed the settlement)");
}

absl::Status ValidateRoute(const exoroute::v1::RouteRequest& r) {
  using namespace exoroute::v1;  // NOLINT
  if (!r.has_order()) return Bad("order", "required");
  const ParentOrder& o = r.order();
  if (auto s = ValidatePlanId(o.id()); !s.ok()) {
    return Bad("order.id", std::string(s.message()).substr(std::string("plan_id: ").size()));
  }
  if (o.id().find('~') != std::string::npos) {
    return Bad("order.id", absl::StrCat("must match [A-Za-z0-9._:-]{1,64}, got ", Quoted(o.id()),
                                        " (\"~<n>\" names a cluster route's sub-routes)"));
  }
  if (o.symbol().empty()) return Bad("order.symbol", "required");
  EXO_RETURN_IF_ERROR(ValidateSymbol(o.symbol(), "order.symbol"));
  if (o.side() != SIDE_BUY && o.side() != SIDE_SELL) {
    return Bad("order.side", absl::StrCat("must be SIDE_BUY or SIDE_SELL, got ", o.side()));
  }
  if (o.quantity() <= 0) return Bad("order.quantity", absl::StrCat("must be > 0, got ", o.quantity()));
  if (o.quantity() > kMaxUnits) {
    return Bad("order.quantity", absl::StrCat("must be <= ", kMaxUnits, " (2^53 units), got ", o.quantity()));
  }
  if (o.has_limit_price() && o.limit_price() <= 0) {
    return Bad("order.limit_price", absl::StrCat("must be > 0 when set, got ", o.limit_price()));
  }
  if (o.has_limit_price() && o.limit_price() > kMaxUnits) {
    return Bad("order.limit_price", absl::StrCat("must be <= ", kMaxUnits, " (2^53 units), got ", o.limit_price()));
  }
  switch (o.time_in_force()) {
    case TIME_IN_FORCE_GTT:
      if (o.expire_after_ms() <= 0) {
        return Bad("order.expire_after_ms", absl::StrCat("must be > 0 for TIME_IN_FORCE_GTT, got ",
                                                         o.expire_after_ms()));
      }
      break;
    case TIME_IN_FORCE_GTC:
    case TIME_IN_FORCE_IOC:
      if (o.expire_after_ms() != 0) {
        return Bad("order.expire_after_ms", "only allowed with TIME_IN_FORCE_GTT");
      }
      break;
    default:
      return Bad("order.time_in_force",
                 absl::StrCat("must be GTC, IOC or GTT, got ", o.time_in_force()));
  }
  if (!exoroute::v1::Urgency_IsValid(o.urgency())) {
    return Bad("order.urgency", absl::StrCat("must be URGENCY_LOW, URGENCY_NORMAL or URGENCY_HIGH (or unset), got ",
                                             o.urgency()));
  }
  if (o.arrival_band_bps() > kMaxArrivalBandBps) {
    return Bad("order.arrival_band_bps",
               absl::StrCat("must be <= ", kMaxArrivalBandBps, " (10 %), got ", o.arrival_band_bps()));
  }
  EXO_RETURN_IF_ERROR(ValidateVenueList(o.allowed_venues(), "allowed_venues"));
  EXO_RETURN_IF_ERROR(ValidateVenueList(o.denied_venues(), "denied_venues"));
  const std::set<std::string> allowed(o.allowed_venues().begin(), o.allowed_venues().end());
  for (int i = 0; i < o.denied_venues_size(); ++i) {
    if (allowed.count(o.denied_venues(i))) {
      return Bad(absl::StrCat("order.denied_venues[", i, "]"),
                 absl::StrCat("\"", o.denied_venues(i), "\" is also in allowed_venues"));
    }
  }
  if (r.mode() != ROUTE_MODE_PLAN_ONLY && r.mode() != ROUTE_MODE_EXECUTE) {
    return Bad("mode", absl::StrCat("must be ROUTE_MODE_PLAN_ONLY or ROUTE_MODE_EXECUTE, got ", r.mode()));
  }
  return absl::OkStatus();
}

absl::Status ValidateWatch(const exoroute::v1::WatchPlanRequest& r) {
  EXO_RETURN_IF_ERROR(ValidatePlanId(r.plan_id()));
  if (r.disconnect_grace_ms() > 0 && !r.cancel_on_disconnect()) {
    return Bad("disconnect_grace_ms", "only with cancel_on_disconnect");
  }
  if (r.disconnect_grace_ms() > kMaxDisconnectGraceMs) {
    return Bad("disconnect_grace_ms", absl::StrCat("must be <= ", kMaxDisconnectGraceMs, ", got ", r.disconnect_grace_ms()));
  }
  return absl::OkStatus();
}

absl::Status ValidateGetBooks(const exoroute::v1::GetBooksRequest& r) {
  if (r.symbol().empty()) return Bad("symbol", "required");
  EXO_RETURN_IF_ERROR(ValidateSymbol(r.symbol(), "symbol"));
  if (r.depth() > kMaxBookDepth) {
    return Bad("depth", absl::StrCat("must be <= ", kMaxBookDepth, " (0 = ", kDefaultBookDepth, "), got ", r.depth()));
  }
  return absl::OkStatus();
}

absl::Status ValidateRange(const exoroute::v1::SequenceRange& r, const char* field) {
  if (r.to_sequence() != 0 && r.from_sequence() > r.to_sequence()) {
    return Bad(absl::StrCat(field, ".from_sequence"),
               absl::StrCat("must be <= to_sequence (", r.to_sequence(), "), got ", r.from_sequence()));
  }
  return absl::OkStatus();
}

absl::Status ValidateVerifyStart(const exoroute::v1::SequenceRange& r, const char* field, uint64_t head) {
  if (r.from_sequence() > head && !(r.from_sequence() == 1 && head == 0)) {
    return absl::OutOfRangeError(absl::StrCat(field, ": ", r.from_sequence(),
                                              " is beyond the chain, which ends at sequence ", head));
  }
  return absl::OkStatus();
}

}  // namespace exo::daemon
