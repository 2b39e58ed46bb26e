#include "daemon/cluster/shortfall_ledger.h"

#include <algorithm>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "exo/status_macros.h"
#include "google/protobuf/util/message_differencer.h"

namespace exo::daemon::cluster {
namespace {

using exoroute::v1::AmendShareRequest;
using exoroute::v1::CancelNotice;
using exoroute::v1::TermsNotice;
using exoroute::v1::ShareInDoubt;
using exoroute::v1::ShortfallRecord;
using exoroute::v1::ShortfallWork;

constexpr char kPrefix[] = "shortfall/";
constexpr char kNoticePrefix[] = "cancel_notice/";
constexpr char kTermsNoticePrefix[] = "terms_notice/";

}  // namespace

std::string SubRouteId(const std::string& route_id, uint32_t n) { return absl::StrCat(SubRoutePrefix(route_id), n); }

std::string SubRoutePrefix(const std::string& route_id) { return absl::StrCat(route_id, "~"); }

bool IsSubRouteId(const std::string& id) { return absl::StrContains(id, '~'); }

std::string RouteOf(const std::string& id) { return id.substr(0, id.find('~')); }

namespace {

// A stored record, or DATA_LOSS naming its route.
absl::StatusOr<ShortfallRecord> Parse(const std::string& route_id, std::string_view bytes) {
  ShortfallRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || r.order().id() != route_id) {
    return absl::DataLossError(absl::StrCat("the store's shortfall record of route \"", route_id,
                                            "\" does not parse (", bytes.size(), " bytes)"));
  }
  return r;
}

// The notice of `route_id` kept under `prefix`, if any; DATA_LOSS naming it (`what` it notes)
// when it does not parse.
template <typename Notice>
absl::StatusOr<std::optional<Notice>> ReadNotice(const store::DeltaStore& store, const char* prefix,
                                                 const std::string& route_id, const char* what) {
  absl::StatusOr<std::string> bytes = store.GetRecord(absl::StrCat(prefix, route_id));
  if (absl::IsNotFound(bytes.status())) return std::optional<Notice>();
  EXO_RETURN_IF_ERROR(bytes.status());
  Notice notice;
  if (!notice.ParseFromString(*bytes) || notice.route_id() != route_id) {
    return absl::DataLossError(absl::StrCat("the store's notice of route \"", route_id, "\"'s ", what,
                                            " does not parse (", bytes->size(), " bytes)"));
  }
  return std::optional<Notice>(std::move(notice));
}

// The notices of `ids` that `read` can read, in that order (one that cannot be read is left out).
template <typename Notice, typename Read>
std::vector<Notice> ReadableNotices(const std::vector<std::string>& ids, const Read& read) {
  std::vector<Notice> out;
  for (const std::string& id : ids) {
    absl::StatusOr<std::optional<Notice>> n = read(id);
    if (n.ok() && n->has_value()) out.push_back(**std::move(n));
  }
  return out;
}

// Marks the notice of `route_id` kept under `prefix` delivered at `now_ns` (the first mark
// stands) and takes it out of `undelivered` — unless `current` says the notice held is no longer
// the one delivered (then nothing changes). NOT_FOUND when none is kept.
template <typename Notice, typename Current>
absl::Status MarkNoticeDelivered(store::DeltaStore& store, const char* prefix, const char* what,
                                 const std::string& route_id, int64_t now_ns, const Current& current,
                                 std::set<std::string>* undelivered) {
  EXO_ASSIGN_OR_RETURN(std::optional<Notice> held, ReadNotice<Notice>(store, prefix, route_id, what));
  if (!held.has_value()) {
    return absl::NotFoundError(absl::StrCat("no notice of route \"", route_id, "\"'s ", what));
  }
  if (!current(*held)) return absl::OkStatus();
  if (held->delivered_ns() == 0) {
    held->set_delivered_ns(std::max<int64_t>(1, now_ns));
    EXO_RETURN_IF_ERROR(store.PutRecord(absl::StrCat(prefix, route_id), held->SerializeAsString()));
  }
  undelivered->erase(route_id);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShortfallLedger>> ShortfallLedger::Load(store::DeltaStore* store) {
  std::unique_ptr<ShortfallLedger> ledger(new ShortfallLedger(store));
  absl::Status bad;
  EXO_RETURN_IF_ERROR(store->ScanRecords(kPrefix, [&](std::string_view key, std::string_view bytes) {
    absl::StatusOr<ShortfallRecord> r = Parse(std::string(key.substr(sizeof(kPrefix) - 1)), bytes);
    if (!r.ok()) {
      bad = r.status();
      return false;
    }
    if (r->work().state() == ShortfallWork::STATE_OPEN) {
      const std::string id = r->order().id();
      ledger->open_[id] = *std::move(r);
    }
    return true;
  }));
  EXO_RETURN_IF_ERROR(bad);
  EXO_RETURN_IF_ERROR(store->ScanRecords(kNoticePrefix, [&](std::string_view key, std::string_view bytes) {
    const std::string route_id(key.substr(sizeof(kNoticePrefix) - 1));
    CancelNotice notice;
    if (!notice.ParseFromString(std::string(bytes)) || notice.route_id() != route_id) {
      bad = absl::DataLossError(absl::StrCat("the store's notice of route \"", route_id, "\"'s cancel does not parse (",
                                             bytes.size(), " bytes)"));
      return false;
    }
    if (notice.delivered_ns() == 0) ledger->undelivered_.insert(route_id);
    return true;
  }));
  EXO_RETURN_IF_ERROR(bad);
  EXO_RETURN_IF_ERROR(store->ScanRecords(kTermsNoticePrefix, [&](std::string_view key, std::string_view bytes) {
    const std::string route_id(key.substr(sizeof(kTermsNoticePrefix) - 1));
    TermsNotice notice;
    if (!notice.ParseFromString(std::string(bytes)) || notice.route_id() != route_id) {
      bad = absl::DataLossError(absl::StrCat("the store's notice of route \"", route_id,
                                             "\"'s new terms does not parse (", bytes.size(), " bytes)"));
      return false;
    }
    if (notice.delivered_ns() == 0) ledger->undelivered_terms_.insert(route_id);
    return true;
  }));
  EXO_RETURN_IF_ERROR(bad);
  return ledger;
}

absl::StatusOr<std::optional<ShortfallRecord>> ShortfallLedger::FindLocked(const std::string& route_id) const {
  if (auto it = open_.find(route_id); it != open_.end()) return std::optional<ShortfallRecord>(it->second);
  absl::StatusOr<std::string> bytes = store_->GetRecord(absl::StrCat(kPrefix, route_id));
  if (absl::IsNotFound(bytes.status())) return std::optional<ShortfallRecord>();
  EXO_RETURN_IF_ERROR(bytes.status());
  EXO_ASSIGN_OR_RETURN(ShortfallRecord r, Parse(route_id, *bytes));
  return std::optional<ShortfallRecord>(std::move(r));
}

absl::Status ShortfallLedger::PersistLocked(ShortfallRecord record) {
  EXO_RETURN_IF_ERROR(store_->PutRecord(absl::StrCat(kPrefix, record.order().id()), record.SerializeAsString()));
  const std::string id = record.order().id();
  if (record.work().state() == ShortfallWork::STATE_OPEN) {
    open_[id] = std::move(record);
  } else {
    open_.erase(id);
  }
  return absl::OkStatus();
}

absl::Status ShortfallLedger::Open(ShortfallRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  ShortfallWork* w = record.mutable_work();
  w->set_state(w->shortfall() > 0 ? ShortfallWork::STATE_OPEN : ShortfallWork::STATE_DONE);
  w->set_route_id(record.order().id());
  w->set_symbol(record.order().symbol());
  w->set_order_quantity(record.order().quantity());
  return PersistLocked(std::move(record));
}

absl::StatusOr<std::optional<ShortfallRecord>> ShortfallLedger::Record(const std::string& route_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return FindLocked(route_id);
}

std::vector<std::string> ShortfallLedger::OpenRoutes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, r] : open_) out.push_back(id);
  return out;
}

size_t ShortfallLedger::open_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

std::vector<ShortfallWork> ShortfallLedger::OpenWork() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ShortfallWork> out;
  for (const auto& [id, r] : open_) out.push_back(r.work());
  return out;
}

bool ShortfallLedger::Begin(const std::string& route_id, ShortfallRecord* record) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(route_id);
  if (it == open_.end()) return false;
  if (!in_flight_.insert(route_id).second) return false;
  *record = it->second;
  return true;
}

absl::Status ShortfallLedger::End(const std::string& route_id, int64_t placed, const std::string& error,
                                  int64_t now_ns, const std::vector<ShareInDoubt>& doubts) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(route_id);
  landed_.notify_all();
  auto it = open_.find(route_id);
  if (it == open_.end()) return absl::OkStatus();  // (Only open work is attempted.)
  ShortfallWork* w = it->second.mutable_work();
  w->set_last_attempt_ns(now_ns);
  w->set_last_error(placed > 0 ? "" : error);
  // Nothing recorded for an attempt that placed nothing and left no share in doubt.
  if (placed <= 0 && doubts.empty()) return absl::OkStatus();
  ShortfallRecord next = it->second;
  for (const ShareInDoubt& d : doubts) *next.add_in_doubt() = d;
  ShortfallWork* nw = next.mutable_work();
  nw->set_sub_routes(nw->sub_routes() + 1);
  nw->set_shortfall(std::max<int64_t>(0, nw->shortfall() - placed));
  if (nw->shortfall() == 0) nw->set_state(ShortfallWork::STATE_DONE);
  return PersistLocked(std::move(next));
}

absl::Status ShortfallLedger::ResolveDoubt(const std::string& route_id, const ShareInDoubt& doubt, int64_t held) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(route_id);
  if (it == open_.end()) return absl::OkStatus();  // (Ended meanwhile: nothing more is routed anyway.)
  ShortfallRecord next = it->second;
  auto* doubts = next.mutable_in_doubt();
  for (int i = 0; i < doubts->size(); ++i) {
    if (doubts->Get(i).node() == doubt.node() && doubts->Get(i).route_id() == doubt.route_id()) {
      doubts->DeleteSubrange(i, 1);
      break;
    }
  }
  ShortfallWork* w = next.mutable_work();
  w->set_shortfall(std::max<int64_t>(0, w->shortfall() - std::max<int64_t>(0, held)));
  if (w->shortfall() == 0) w->set_state(ShortfallWork::STATE_DONE);
  return PersistLocked(std::move(next));
}

absl::StatusOr<std::optional<ShortfallWork>> ShortfallLedger::Finish(const std::string& route_id,
                                                                     ShortfallWork::State state) {
  std::unique_lock<std::mutex> lock(mu_);
  landed_.wait(lock, [&] { return in_flight_.count(route_id) == 0; });
  EXO_ASSIGN_OR_RETURN(std::optional<ShortfallRecord> r, FindLocked(route_id));
  if (!r) return std::optional<ShortfallWork>();
  if (r->work().state() == ShortfallWork::STATE_OPEN) {
    r->mutable_work()->set_state(state);
    EXO_RETURN_IF_ERROR(PersistLocked(*r));
  }
  return std::optional<ShortfallWork>(r->work());
}

absl::StatusOr<std::optional<ShortfallWork>> ShortfallLedger::Amend(const std::string& route_id,
                                                                    const AmendShareRequest& terms, int64_t terms_ns,
                                                                    bool* changed) {
  *changed = false;
  std::unique_lock<std::mutex> lock(mu_);
  landed_.wait(lock, [&] { return in_flight_.count(route_id) == 0; });
  EXO_ASSIGN_OR_RETURN(std::optional<ShortfallRecord> r, FindLocked(route_id));
  if (!r) return std::optional<ShortfallWork>();
  ShortfallRecord amended = *r;
  exoroute::v1::ParentOrder* order = amended.mutable_order();
  if (terms.has_limit_price()) order->set_limit_price(terms.limit_price());
  if (terms.remove_limit()) order->clear_limit_price();
  if (terms.urgency() != exoroute::v1::URGENCY_UNSPECIFIED) order->set_urgency(terms.urgency());
  if (!google::protobuf::util::MessageDifferencer::Equals(amended.order(), r->order())) {
    amended.set_terms_ns(std::max(terms_ns, r->terms_ns()));
    EXO_RETURN_IF_ERROR(PersistLocked(amended));
    *changed = true;
  }
  return std::optional<ShortfallWork>(amended.work());
}

absl::StatusOr<std::optional<ShortfallWork>> ShortfallLedger::Resize(const std::string& route_id, const Resizing& to,
                                                                     const ResizeCheck& check, bool* changed) {
  *changed = false;
  std::unique_lock<std::mutex> lock(mu_);
  landed_.wait(lock, [&] { return in_flight_.count(route_id) == 0; });
  EXO_ASSIGN_OR_RETURN(const std::optional<ShortfallRecord> found, FindLocked(route_id));
  if (!found) return std::optional<ShortfallWork>();
  const ShortfallRecord& now = *found;
  const ShortfallWork& w = now.work();
  // What the shares hold stays theirs (less what was cut from them): only what is left to route
  // grows or shrinks.
  const int64_t placed = now.order().quantity() - w.shortfall() - to.shares_cut;
  const int64_t quantity = to.at_least_shares ? std::max(to.quantity, placed) : to.quantity;
  if (quantity == now.order().quantity() && to.shares_cut == 0) return std::optional<ShortfallWork>(w);
  if (w.state() != ShortfallWork::STATE_OPEN && w.state() != ShortfallWork::STATE_DONE) {
    return absl::FailedPreconditionError(absl::StrCat(
        "quantity: route \"", route_id, "\" ", w.state() == ShortfallWork::STATE_EXPIRED ? "expired" : "was cancelled",
        ": its quantity can no longer change"));
  }
  ShortfallRecord next = now;
  next.mutable_order()->set_quantity(quantity);
  EXO_RETURN_IF_ERROR(check(now, next, placed));
  if (quantity < placed) {  // (The check words it in the instrument's decimals.)
    return absl::FailedPreconditionError(absl::StrCat("quantity: ", quantity, " is below the ", placed,
                                                      " units route \"", route_id, "\"'s shares hold"));
  }
  ShortfallWork* nw = next.mutable_work();
  nw->set_order_quantity(quantity);
  nw->set_shortfall(quantity - placed);
  nw->set_state(nw->shortfall() > 0 ? ShortfallWork::STATE_OPEN : ShortfallWork::STATE_DONE);
  if (nw->state() == ShortfallWork::STATE_OPEN && w.state() == ShortfallWork::STATE_DONE) nw->clear_last_error();
  const ShortfallWork after = next.work();
  EXO_RETURN_IF_ERROR(PersistLocked(std::move(next)));
  *changed = true;
  if (after.shortfall() > w.shortfall()) {
    lock.unlock();
    std::lock_guard<std::mutex> wake(wake_mu_);
    if (on_more_to_route_) on_more_to_route_();
  }
  return std::optional<ShortfallWork>(after);
}

void ShortfallLedger::SetOnMoreToRoute(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(wake_mu_);
  on_more_to_route_ = std::move(wake);
}

absl::Status ShortfallLedger::KeepCancelNotice(const CancelNotice& notice) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<std::string> held = store_->GetRecord(absl::StrCat(kNoticePrefix, notice.route_id()));
  if (held.ok()) return absl::OkStatus();  // The first one stands.
  if (!absl::IsNotFound(held.status())) return held.status();
  EXO_RETURN_IF_ERROR(store_->PutRecord(absl::StrCat(kNoticePrefix, notice.route_id()), notice.SerializeAsString()));
  if (notice.delivered_ns() == 0) undelivered_.insert(notice.route_id());
  return absl::OkStatus();
}

std::vector<std::string> ShortfallLedger::UndeliveredCancels() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {undelivered_.begin(), undelivered_.end()};
}

std::vector<CancelNotice> ShortfallLedger::UndeliveredCancelNotices() const {
  return ReadableNotices<CancelNotice>(UndeliveredCancels(), [this](const std::string& id) { return CancelNoticeOf(id); });
}

absl::Status ShortfallLedger::MarkCancelDelivered(const std::string& route_id, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  return MarkNoticeDelivered<CancelNotice>(*store_, kNoticePrefix, "cancel", route_id, now_ns,
                                           [](const CancelNotice&) { return true; }, &undelivered_);
}

absl::StatusOr<std::optional<CancelNotice>> ShortfallLedger::CancelNoticeOf(const std::string& route_id) const {
  return ReadNotice<CancelNotice>(*store_, kNoticePrefix, route_id, "cancel");
}

absl::Status ShortfallLedger::KeepTermsNotice(const AmendShareRequest& terms, const std::string& via, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  EXO_ASSIGN_OR_RETURN(std::optional<TermsNotice> held, TermsNoticeLocked(terms.route_id()));
  // A notice sent again carries its own time: one held as late or later stands.
  const int64_t amended_ns = terms.amended_ns() > 0 ? terms.amended_ns() : now_ns;
  if (terms.amended_ns() > 0 && held.has_value() && held->amended_ns() >= amended_ns) return absl::OkStatus();
  TermsNotice notice = held.value_or(TermsNotice());
  notice.set_route_id(terms.route_id());
  AmendShareRequest& merged = *notice.mutable_terms();
  merged.set_route_id(terms.route_id());
  if (terms.has_limit_price()) {
    merged.set_limit_price(terms.limit_price());
    merged.set_remove_limit(false);
  } else if (terms.remove_limit()) {
    merged.clear_limit_price();
    merged.set_remove_limit(true);
  }
  if (terms.urgency() != exoroute::v1::URGENCY_UNSPECIFIED) merged.set_urgency(terms.urgency());
  merged.set_reason(terms.reason());
  notice.set_via(via);
  // (A client's amendment is the latest: after the one held even when that came, sent again,
  // from a node whose clock is ahead — else the nodes that keep that one would keep theirs.)
  const int64_t after_held = notice.amended_ns() < std::numeric_limits<int64_t>::max() ? notice.amended_ns() + 1
                                                                                        : notice.amended_ns();
  notice.set_amended_ns(terms.amended_ns() > 0 ? amended_ns : std::max(now_ns, after_held));
  notice.set_delivered_ns(0);  // (New terms: sent again until every node keeps them.)
  EXO_RETURN_IF_ERROR(store_->PutRecord(absl::StrCat(kTermsNoticePrefix, terms.route_id()), notice.SerializeAsString()));
  undelivered_terms_.insert(terms.route_id());
  return absl::OkStatus();
}

std::vector<std::string> ShortfallLedger::UndeliveredTerms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {undelivered_terms_.begin(), undelivered_terms_.end()};
}

std::vector<TermsNotice> ShortfallLedger::UndeliveredTermsNotices() const {
  return ReadableNotices<TermsNotice>(UndeliveredTerms(), [this](const std::string& id) { return TermsNoticeOf(id); });
}

absl::Status ShortfallLedger::MarkTermsDelivered(const std::string& route_id, int64_t amended_ns, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  // (Later terms came meanwhile: those are still sent again.)
  return MarkNoticeDelivered<TermsNotice>(
      *store_, kTermsNoticePrefix, "new terms", route_id, now_ns,
      [amended_ns](const TermsNotice& held) { return held.amended_ns() == amended_ns; }, &undelivered_terms_);
}

absl::StatusOr<std::optional<TermsNotice>> ShortfallLedger::TermsNoticeOf(const std::string& route_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return TermsNoticeLocked(route_id);
}

absl::StatusOr<std::optional<TermsNotice>> ShortfallLedger::TermsNoticeLocked(const std::string& route_id) const {
  return ReadNotice<TermsNotice>(*store_, kTermsNoticePrefix, route_id, "new terms");
}

}  // namespace exo::daemon::cluster
