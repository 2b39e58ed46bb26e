#include "adapters/ws/book_sync.h"

#include "absl/strings/str_cat.h"

namespace exo::adapters::ws {
namespace {

constexpr size_t kMaxBuffered = 10000;

void ApplyLevels(const FeedEvent& e, L2Book& book) {
  for (const PriceLevel& l : e.bids) book.Set(BookSide::kBid, l.price, l.size);
  for (const PriceLevel& l : e.asks) book.Set(BookSide::kAsk, l.price, l.size);
}

}  // namespace

SyncState BinanceBookSync::Fail(std::string why) {
  state_ = SyncState::kOutOfSync;
  error_ = std::move(why);
  return state_;
}

void BinanceBookSync::Resync() {
  state_ = SyncState::kWaitingForSnapshot;
  error_.clear();
  book_.Clear();
  buffered_.clear();
  last_update_id_ = 0;
}

SyncState BinanceBookSync::OnUpdate(FeedEvent update) {
  switch (state_) {
    case SyncState::kWaitingForSnapshot:
      if (buffered_.size() >= kMaxBuffered) buffered_.pop_front();
      buffered_.push_back(std::move(update));
      return state_;
    case SyncState::kOutOfSync:
      return state_;
    case SyncState::kSynced:
      return Apply(update);
  }
  return state_;
}

SyncState BinanceBookSync::OnSnapshot(const FeedEvent& snap) {
  if (state_ != SyncState::kWaitingForSnapshot) Resync();  // A snapshot starts the book over.
  // The first buffered event the snapshot does not hold must carry on from it.
  for (const FeedEvent& e : buffered_) {
    if (e.last_update_id <= snap.last_update_id) continue;
    if (e.first_update_id > snap.last_update_id + 1) {
      error_ = absl::StrCat("snapshot older than the stream (its lastUpdateId ", snap.last_update_id,
                            ", the stream buffered from U=", e.first_update_id, ")");
      return state_;
    }
    break;
  }
  book_.Clear();
  for (const PriceLevel& l : snap.bids) book_.Set(BookSide::kBid, l.price, l.size);
  for (const PriceLevel& l : snap.asks) book_.Set(BookSide::kAsk, l.price, l.size);
  if (book_.Crossed()) {
    error_ = absl::StrCat("snapshot is crossed (bid ", book_.best_bid(), " >= ask ", book_.best_ask(), ")");
    book_.Clear();
    return state_;
  }
  error_.clear();
  last_update_id_ = snap.last_update_id;
  state_ = SyncState::kSynced;
  first_after_snapshot_ = true;
  std::deque<FeedEvent> pending;
  pending.swap(buffered_);
  for (const FeedEvent& e : pending) {
    if (Apply(e) == SyncState::kOutOfSync) return state_;
  }
  return state_;
}

SyncState BinanceBookSync::Apply(const FeedEvent& e) {
  if (e.last_update_id <= last_update_id_) return state_;  // Already in the book.
  if (first_after_snapshot_) {
    if (!(e.first_update_id <= last_update_id_ + 1 && last_update_id_ + 1 <= e.last_update_id)) {
      return Fail(absl::StrCat("first event after the snapshot (U=", e.first_update_id, " u=",
                               e.last_update_id, ") does not cover lastUpdateId+1=",
                               last_update_id_ + 1));
    }
    first_after_snapshot_ = false;
  } else if (e.first_update_id != last_update_id_ + 1) {
    return Fail(absl::StrCat("gap: expected U=", last_update_id_ + 1, ", got U=",
                             e.first_update_id));
  }
  ApplyLevels(e, book_);
  last_update_id_ = e.last_update_id;
  ++applied_;
  if (book_.Crossed()) {
    return Fail(absl::StrCat("book crossed after update ", e.last_update_id, ": bid ",
                             book_.best_bid(), " >= ask ", book_.best_ask()));
  }
  return state_;
}

void CoinbaseBookSync::Resync() {
  state_ = SyncState::kWaitingForSnapshot;
  error_.clear();
  book_.Clear();
}

SyncState CoinbaseBookSync::OnMessage(const FeedEvent& e) {
  if (e.kind == FeedEvent::Kind::kCoinbaseSnapshot) {
    book_.Clear();
    ApplyLevels(e, book_);
    state_ = SyncState::kSynced;
    error_.clear();
  } else if (e.kind == FeedEvent::Kind::kCoinbaseUpdate) {
    if (state_ != SyncState::kSynced) return state_;
    ApplyLevels(e, book_);
    ++applied_;
  } else {
    return state_;
  }
  if (book_.Crossed()) {
    state_ = SyncState::kOutOfSync;
    error_ = absl::StrCat("book crossed: bid ", book_.best_bid(), " >= ask ", book_.best_ask());
  }
  return state_;
}

}  // namespace exo::adapters::ws
