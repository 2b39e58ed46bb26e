// Validation of client requests at the service edge. Each function returns InvalidArgument
// naming the offending field ("order.quantity: must be > 0, got 0") or OK. Checks that need the
// node's configuration (known symbol, known venues) are the engine's.
#pragma once

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "exoroute/v1/audit.pb.h"
#include "exoroute/v1/admin.pb.h"
#include "exoroute/v1/router.pb.h"

namespace exo::daemon {

// An order may list at most this many venues in each of allowed_venues and denied_venues
// (each a venue id, once): more than any cluster has, far less than a 4 MB request could carry.
inline constexpr int kMaxListedVenues = 1024;

// The widest arrival band an order takes (ParentOrder.arrival_band_bps), in basis points.
inline constexpr uint32_t kMaxArrivalBandBps = 1000;

// A request with a field this node does not know — set by a client built against a newer
// exoroute.v1 — is refused, naming where it is, rather than ignored: an order's protection this
// release cannot read must not be traded without. Every RPC asks it first (after access).
absl::Status CheckKnownFields(const google::protobuf::Message& request);

absl::Status ValidateRoute(const exoroute::v1::RouteRequest& r);
// A reason a client gives for a cancel, an amendment, a halt or resume, a settlement — recorded
// in the chain and shown by the CLI, the log and replay: at most kMaxReasonBytes bytes, on one
// line (no line break, tab or other control character; any other UTF-8 is fine). Empty only when
// `required_why` is null (else "reason: required <required_why>").
inline constexpr size_t kMaxReasonBytes = 256;
absl::Status ValidateReason(const std::string& reason, const char* required_why = nullptr);
// A plan id (or a route id: the same rule; `field` names it in the error).
absl::Status ValidatePlanId(const std::string& plan_id, const char* field = "plan_id");
// An amendment: a plan id, a new quantity (0: kept) or limit price, and at least one of them.
absl::Status ValidateAmend(const exoroute::v1::AmendPlanRequest& r);
// A ListPlans page: symbol shaped as an instrument's (or ""), page_size within kMaxPlansPage,
// page_token "" or a plan id.
inline constexpr uint32_t kMaxPlansPage = 1000;
inline constexpr uint32_t kDefaultPlansPage = 100;
absl::Status ValidateListPlans(const exoroute::v1::ListPlansRequest& r);
absl::Status ValidateRange(const exoroute::v1::SequenceRange& r, const char* field);
// A range to verify on a chain whose head is `head`: it must start within the chain (an empty
// range asks nothing; it was answered "OK: 0 deltas", or with a failure to read the delta before
// it). OutOfRange naming the head. (A `to` beyond the head is the chain's finding: deltas missing.)
// (`field`: how the caller names where the start came from.)
absl::Status ValidateVerifyStart(const exoroute::v1::SequenceRange& r, const char* field, uint64_t head);
// A watch: a plan id; a disconnect grace of at most kMaxDisconnectGraceMs, with
// cancel_on_disconnect only.
inline constexpr uint32_t kMaxDisconnectGraceMs = 60'000;
absl::Status ValidateWatch(const exoroute::v1::WatchPlanRequest& r);
// A books request: a symbol shaped as an instrument's; a depth of at most kMaxBookDepth levels
// a side (0: kDefaultBookDepth).
inline constexpr uint32_t kMaxBookDepth = 50;
inline constexpr uint32_t kDefaultBookDepth = 5;
absl::Status ValidateGetBooks(const exoroute::v1::GetBooksRequest& r);
// An operator's settlement of a child: plan and child ids, a filled quantity and (with one to
// record) a price within 2^53 units, a fee within 2^62, a reason (ValidateReason). Whether
// they fit the child is the engine's check.
absl::Status ValidateSettleChild(const exoroute::v1::SettleChildRequest& r);

}  // namespace exo::daemon
