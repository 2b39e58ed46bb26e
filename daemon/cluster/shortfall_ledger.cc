#include "daemon/cluster/shortfall_ledger.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "exo/status_macros.h"
#include "google/protobuf/util/message_differencer.h"

namespace exo::daemon::cluster {
namespace {

using exoroute::v1::AmendShareRequest;
using exoroute::v1::ShortfallRecord;
using exoroute::v1::ShortfallWork;

constexpr char kPrefix[] = "shortfall/";

}  // namespace

std::string SubRouteId(const std::string& route_id, uint32_t n) { return absl::StrCat(route_id, "~", n); }

bool IsSubRouteId(const std::string& id) { return absl::StrContains(id, '~'); }

std::string RouteOf(const std::string& id) { return id.substr(0, id.find('~')); }

absl::StatusOr<std::unique_ptr<ShortfallLedger>> ShortfallLedger::Load(store::DeltaStore* store) {
  std::unique_ptr<ShortfallLedger> ledger(new ShortfallLedger(store));
  EXO_ASSIGN_OR_RETURN(auto records, store->Records(kPrefix));
  for (const auto& [key, bytes] : records) {
    ShortfallRecord r;
    const std::string route_id = key.substr(sizeof(kPrefix) - 1);
    if (!r.ParseFromString(bytes) || r.order().id() != route_id) {
      return absl::DataLossError(absl::StrCat("the store's shortfall record of route \"", route_id,
                                              "\" does not parse (", bytes.size(), " bytes)"));
    }
    ledger->records_[route_id] = std::move(r);
  }
  return ledger;
}

absl::Status ShortfallLedger::Persist(const ShortfallRecord& record) {
  return store_->PutRecord(absl::StrCat(kPrefix, record.order().id()), record.SerializeAsString());
}

absl::Status ShortfallLedger::Open(ShortfallRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  ShortfallWork* w = record.mutable_work();
  w->set_state(w->shortfall() > 0 ? ShortfallWork::STATE_OPEN : ShortfallWork::STATE_DONE);
  w->set_route_id(record.order().id());
  w->set_symbol(record.order().symbol());
  w->set_order_quantity(record.order().quantity());
  EXO_RETURN_IF_ERROR(Persist(record));
  const std::string id = record.order().id();
  records_[id] = std::move(record);
  return absl::OkStatus();
}

std::optional<ShortfallRecord> ShortfallLedger::Record(const std::string& route_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(route_id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> ShortfallLedger::OpenRoutes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, r] : records_) {
    if (r.work().state() == ShortfallWork::STATE_OPEN) out.push_back(id);
  }
  return out;
}

size_t ShortfallLedger::open_count() const { return OpenRoutes().size(); }

std::vector<ShortfallWork> ShortfallLedger::OpenWork() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ShortfallWork> out;
  for (const auto& [id, r] : records_) {
    if (r.work().state() == ShortfallWork::STATE_OPEN) out.push_back(r.work());
  }
  return out;
}

bool ShortfallLedger::Begin(const std::string& route_id, ShortfallRecord* record) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(route_id);
  if (it == records_.end() || it->second.work().state() != ShortfallWork::STATE_OPEN) return false;
  if (!in_flight_.insert(route_id).second) return false;
  *record = it->second;
  return true;
}

absl::Status ShortfallLedger::End(const std::string& route_id, int64_t placed, const std::string& error,
                                  int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(route_id);
  landed_.notify_all();
  auto it = records_.find(route_id);
  if (it == records_.end()) return absl::OkStatus();
  ShortfallWork* w = it->second.mutable_work();
  w->set_last_attempt_ns(now_ns);
  w->set_last_error(placed > 0 ? "" : error);
  if (placed > 0) {
    w->set_sub_routes(w->sub_routes() + 1);
    w->set_shortfall(std::max<int64_t>(0, w->shortfall() - placed));
    if (w->shortfall() == 0 && w->state() == ShortfallWork::STATE_OPEN) w->set_state(ShortfallWork::STATE_DONE);
  } else if (w->state() == ShortfallWork::STATE_OPEN) {
    return absl::OkStatus();  // Nothing recorded for an attempt that placed nothing.
  }
  return Persist(it->second);
}

absl::StatusOr<std::optional<ShortfallWork>> ShortfallLedger::Finish(const std::string& route_id,
                                                                     ShortfallWork::State state) {
  std::unique_lock<std::mutex> lock(mu_);
  landed_.wait(lock, [&] { return in_flight_.count(route_id) == 0; });
  auto it = records_.find(route_id);
  if (it == records_.end()) return std::optional<ShortfallWork>();
  ShortfallWork* w = it->second.mutable_work();
  if (w->state() == ShortfallWork::STATE_OPEN) {
    w->set_state(state);
    EXO_RETURN_IF_ERROR(Persist(it->second));
  }
  return std::optional<ShortfallWork>(*w);
}

absl::StatusOr<std::optional<ShortfallWork>> ShortfallLedger::Amend(const std::string& route_id,
                                                                    const AmendShareRequest& terms, bool* changed) {
  *changed = false;
  std::unique_lock<std::mutex> lock(mu_);
  landed_.wait(lock, [&] { return in_flight_.count(route_id) == 0; });
  auto it = records_.find(route_id);
  if (it == records_.end()) return std::optional<ShortfallWork>();
  ShortfallRecord amended = it->second;
  exoroute::v1::ParentOrder* order = amended.mutable_order();
  if (terms.has_limit_price()) order->set_limit_price(terms.limit_price());
  if (terms.remove_limit()) order->clear_limit_price();
  if (terms.urgency() != exoroute::v1::URGENCY_UNSPECIFIED) order->set_urgency(terms.urgency());
  if (!google::protobuf::util::MessageDifferencer::Equals(amended.order(), it->second.order())) {
    EXO_RETURN_IF_ERROR(Persist(amended));
    it->second = std::move(amended);
    *changed = true;
  }
  return std::optional<ShortfallWork>(it->second.work());
}

absl::StatusOr<std::optional<ShortfallWork>> ShortfallLedger::Resize(const std::string& route_id, int64_t quantity,
                                                                     const ResizeCheck& check, bool* changed) {
  *changed = false;
  std::unique_lock<std::mutex> lock(mu_);
  landed_.wait(lock, [&] { return in_flight_.count(route_id) == 0; });
  auto it = records_.find(route_id);
  if (it == records_.end()) return std::optional<ShortfallWork>();
  const ShortfallRecord& now = it->second;
  const ShortfallWork& w = now.work();
  if (quantity == now.order().quantity()) return std::optional<ShortfallWork>(w);
  if (w.state() != ShortfallWork::STATE_OPEN && w.state() != ShortfallWork::STATE_DONE) {
    return absl::FailedPreconditionError(absl::StrCat(
        "quantity: route \"", route_id, "\" ", w.state() == ShortfallWork::STATE_EXPIRED ? "expired" : "was cancelled",
        ": its quantity can no longer change"));
  }
  // What the shares hold stays theirs: only what is left to route grows or shrinks.
  const int64_t placed = now.order().quantity() - w.shortfall();
  ShortfallRecord next = now;
  next.mutable_order()->set_quantity(quantity);
  EXO_RETURN_IF_ERROR(check(next, placed));
  if (quantity < placed) {  // (The check words it in the instrument's decimals.)
    return absl::FailedPreconditionError(absl::StrCat("quantity: ", quantity, " is below the ", placed,
                                                      " units route \"", route_id, "\"'s shares hold"));
  }
  ShortfallWork* nw = next.mutable_work();
  nw->set_order_quantity(quantity);
  nw->set_shortfall(quantity - placed);
  nw->set_state(nw->shortfall() > 0 ? ShortfallWork::STATE_OPEN : ShortfallWork::STATE_DONE);
  if (nw->state() == ShortfallWork::STATE_OPEN && w.state() == ShortfallWork::STATE_DONE) nw->clear_last_error();
  EXO_RETURN_IF_ERROR(Persist(next));
  it->second = std::move(next);
  *changed = true;
  return std::optional<ShortfallWork>(it->second.work());
}

}  // namespace exo::daemon::cluster
