// The shortfalls a cluster coordinator works (docs/cluster.md, "Working a shortfall"): one record
// per executed route of a GTC or GTT order (DONE from the start when its nodes took it whole:
// an amendment of its quantity may leave some to route later), kept in the
// store beside the chain (store::DeltaStore::PutRecord) so that a restart goes on working it.
// The coordinator's worker takes an open record (Begin), routes what is left as a sub-route
// "<route id>~<n>", and reports what it placed (End). A cancel or an amendment of the route,
// from whichever node it came (ClusterNode), waits for an attempt in flight to end, then ends
// the work or changes the terms the next sub-routes take. Every node keeps here, too, the
// notices of cancels sent while the node that works a route could not be asked. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "exoroute/v1/peer.pb.h"
#include "store/delta_store.h"

namespace exo::daemon::cluster {

// "<route id>~<n>": the sub-route of `route_id` that is its n-th route (n >= 2; the route
// itself is the first). '~' is in no order id a client may give (ValidatePlanId).
std::string SubRouteId(const std::string& route_id, uint32_t n);
// "<route id>~": what every sub-route id of `route_id` begins with.
std::string SubRoutePrefix(const std::string& route_id);
bool IsSubRouteId(const std::string& id);
// The route a sub-route id belongs to (the id itself when it is a route's).
std::string RouteOf(const std::string& id);

class ShortfallLedger {
 public:
  // Reads every record `store` holds and keeps the open ones in memory; an ended one stays in the
  // store only (it still names its sub-routes, and a DONE one may open again), read when asked
  // for. The same for the notices of cancels: the undelivered ones' routes are kept in memory.
  // DATA_LOSS naming the record that does not parse.
  static absl::StatusOr<std::unique_ptr<ShortfallLedger>> Load(store::DeltaStore* store);

  // Keeps a route's record: its work OPEN when record.work.shortfall > 0, else DONE. Durable
  // when it returns.
  absl::Status Open(exoroute::v1::ShortfallRecord record);
  // The record of `route_id`, if this node holds one (its work open or ended); the store's
  // error when an ended one cannot be read (DATA_LOSS: it does not parse).
  absl::StatusOr<std::optional<exoroute::v1::ShortfallRecord>> Record(const std::string& route_id) const;
  // The open ones' route ids, in id order.
  std::vector<std::string> OpenRoutes() const;
  size_t open_count() const;
  // The open ones' work, in route id order (Status).
  std::vector<exoroute::v1::ShortfallWork> OpenWork() const;

  // The worker's attempt: marks the route's work in flight and copies its record; false when it
  // is no longer open (or another attempt is in flight).
  bool Begin(const std::string& route_id, exoroute::v1::ShortfallRecord* record);
  // Ends the attempt Begin started: `placed` units went to a new sub-route (0: none; `error`
  // says why). The work is DONE when nothing is left.
  // `doubts`: nodes whose Execute of the sub-route failed (their shares are in doubt); the
  // sub-route is numbered then even when `placed` is 0 (its id may be taken on those nodes).
  absl::Status End(const std::string& route_id, int64_t placed, const std::string& error, int64_t now_ns,
                   const std::vector<exoroute::v1::ShareInDoubt>& doubts = {});
  // During an attempt (between Begin and End): the share in doubt `doubt` is known now — its
  // node holds `held` units of it, counted as placed (the work is DONE when nothing is left).
  absl::Status ResolveDoubt(const std::string& route_id, const exoroute::v1::ShareInDoubt& doubt, int64_t held);
  // Ends the work as `state` (CANCELLED, EXPIRED) after any attempt in flight; the work as it
  // ended, or nullopt when this node holds none. Ending ended work changes nothing.
  absl::StatusOr<std::optional<exoroute::v1::ShortfallWork>> Finish(const std::string& route_id,
                                                                      exoroute::v1::ShortfallWork::State state);
  // The route's new terms (limit, urgency) for the sub-routes still to come, after any attempt
  // in flight, amended at `terms_ns`; the work, or nullopt when this node holds none.
  // `changed`: the terms were not these already (nothing is recorded then).
  absl::StatusOr<std::optional<exoroute::v1::ShortfallWork>> Amend(const std::string& route_id,
                                                                     const exoroute::v1::AmendShareRequest& terms,
                                                                     int64_t terms_ns, bool* changed);
  // The route's new whole quantity, after any attempt in flight: what its shares hold stays
  // theirs, and what is left to route grows or shrinks by the change (the work opens again when
  // something is left, and is DONE when nothing is). `shares_cut`: the shares were cut by this
  // much since (they hold that much less). `at_least_shares`: a quantity below what the shares
  // hold becomes what they hold. `check` sees the record as it is and as it would stand, and
  // what the shares hold (`placed`), first; its error is the answer, and it must refuse a
  // quantity below `placed`. The work, or nullopt when this node holds none; FAILED_PRECONDITION when the work
  // was cancelled or expired. `changed`: the record was not so already.
  using ResizeCheck = std::function<absl::Status(const exoroute::v1::ShortfallRecord& now,
                                                 const exoroute::v1::ShortfallRecord& next, int64_t placed)>;
  struct Resizing {
    int64_t quantity = 0;
    int64_t shares_cut = 0;
    bool at_least_shares = false;
  };
  absl::StatusOr<std::optional<exoroute::v1::ShortfallWork>> Resize(const std::string& route_id, const Resizing& to,
                                                                      const ResizeCheck& check, bool* changed);
  // Called (outside the ledger's lock) when a Resize leaves more to route than before: the
  // coordinator's worker then routes it at once instead of at its next pass. Cleared with an
  // empty function, which waits for a call under way.
  void SetOnMoreToRoute(std::function<void()> wake);

  // Any node's, not only a coordinator's: a notice of a route's cancel, kept when the node that
  // works its shortfall could not be asked (CancelRouteRequest.leave_notice), for that node to
  // find when it is back. Durable when it returns; the first notice of a route is kept.
  absl::Status KeepCancelNotice(const exoroute::v1::CancelNotice& notice);
  // The notice of `route_id`'s cancel this node keeps, if any (DATA_LOSS: it does not parse).
  absl::StatusOr<std::optional<exoroute::v1::CancelNotice>> CancelNoticeOf(const std::string& route_id) const;
  // The routes whose cancel this node keeps a notice of and still sends again (the coordinator's
  // worker does, until it reaches the node that works the route or every node answers), in id
  // order; and the mark that it did, at `now_ns` (durable when it returns; the notice stays).
  std::vector<std::string> UndeliveredCancels() const;
  // Those notices themselves, in route id order (one that cannot be read is left out), for Status.
  std::vector<exoroute::v1::CancelNotice> UndeliveredCancelNotices() const;
  absl::Status MarkCancelDelivered(const std::string& route_id, int64_t now_ns);
  // The same for new terms no share could take (AmendShareRequest.leave_notice): `terms` (its
  // limit, urgency and reason) merged into the notice this node keeps of the route, if any,
  // recorded at `now_ns` — or, for a notice another node sends again, at its `amended_ns`,
  // and not at all when the one kept here is as late or later. Durable when it returns.
  absl::Status KeepTermsNotice(const exoroute::v1::AmendShareRequest& terms, const std::string& via, int64_t now_ns);
  absl::StatusOr<std::optional<exoroute::v1::TermsNotice>> TermsNoticeOf(const std::string& route_id) const;
  // The routes whose notice of new terms this node still sends again (the coordinator's worker
  // does, until every node keeps it), in id order; and the mark that every node keeps the notice
  // as amended at `amended_ns`, at `now_ns` (nothing marked when later terms were merged in
  // since: those are sent again).
  std::vector<std::string> UndeliveredTerms() const;
  // Those notices themselves, in route id order (one that cannot be read is left out), for Status.
  std::vector<exoroute::v1::TermsNotice> UndeliveredTermsNotices() const;
  absl::Status MarkTermsDelivered(const std::string& route_id, int64_t amended_ns, int64_t now_ns);

 private:
  explicit ShortfallLedger(store::DeltaStore* store) : store_(store) {}
  // Under mu_: the record of `route_id` from memory (open) or the store (ended).
  absl::StatusOr<std::optional<exoroute::v1::ShortfallRecord>> FindLocked(const std::string& route_id) const;
  absl::StatusOr<std::optional<exoroute::v1::TermsNotice>> TermsNoticeLocked(const std::string& route_id) const;
  // Under mu_: records `record` and keeps it in memory while its work is open.
  absl::Status PersistLocked(exoroute::v1::ShortfallRecord record);
  store::DeltaStore* store_;
  mutable std::mutex mu_;
  std::condition_variable landed_;  // An attempt ended.
  std::map<std::string, exoroute::v1::ShortfallRecord> open_;  // Work OPEN, by route id.
  std::set<std::string> in_flight_;
  std::set<std::string> undelivered_;  // Routes whose cancel notice is not marked delivered.
  std::set<std::string> undelivered_terms_;  // Routes whose terms notice is not marked delivered.
  std::mutex wake_mu_;                  // Held while on_more_to_route_ is called or set.
  std::function<void()> on_more_to_route_;
};

}  // namespace exo::daemon::cluster
