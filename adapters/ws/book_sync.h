// Keeping an L2Book in sync with an exchange feed, by the exchange's own rules.
//
// Binance spot diff-depth: buffer the stream, take a REST snapshot, drop events with
// u <= lastUpdateId; the first applied event must have U <= lastUpdateId + 1 <= u; after that
// every event's U must be the previous u + 1. Anything else is a gap: the book is out of sync
// and must be rebuilt from a new snapshot (Resync()). Coinbase level2: a snapshot replaces the
// book, l2updates change it; the channel has no sequence numbers, so after a disconnect the
// client re-subscribes and starts from the new snapshot. For both, a book that is crossed after
// an update is out of sync. Not thread-safe: owned by one feed handler.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "adapters/ws/feed_parser.h"
#include "adapters/ws/l2_book.h"

namespace exo::adapters::ws {

enum class SyncState {
  kWaitingForSnapshot,  // Events are buffered (Binance) or ignored (Coinbase).
  kSynced,
  kOutOfSync,           // See error(); needs Resync() and a new snapshot.
};

class BinanceBookSync {
 public:
  SyncState OnUpdate(FeedEvent update);  // kBinanceDepthUpdate
  // A REST snapshot (kBinanceSnapshot), taken while waiting for one: kSynced with the buffered
  // events after it applied; kWaitingForSnapshot when it cannot be used — crossed, or older than
  // the stream (the first buffered event it does not hold starts after its lastUpdateId + 1) —
  // with the reason in error() and the buffered events kept for a newer one; kOutOfSync when a
  // buffered event after it leaves a gap or crosses the book (Resync, then a new snapshot).
  SyncState OnSnapshot(const FeedEvent& snap);
  // Forgets the book and starts buffering for a new snapshot.
  void Resync();

  SyncState state() const { return state_; }
  const std::string& error() const { return error_; }
  const L2Book& book() const { return book_; }
  uint64_t last_update_id() const { return last_update_id_; }
  uint64_t applied() const { return applied_; }

 private:
  SyncState Apply(const FeedEvent& e);
  SyncState Fail(std::string why);

  SyncState state_ = SyncState::kWaitingForSnapshot;
  std::string error_;
  L2Book book_;
  std::deque<FeedEvent> buffered_;
  uint64_t last_update_id_ = 0;
  uint64_t applied_ = 0;
  bool first_after_snapshot_ = false;
};

class CoinbaseBookSync {
 public:
  SyncState OnMessage(const FeedEvent& e);  // kCoinbaseSnapshot or kCoinbaseUpdate
  void Resync();

  SyncState state() const { return state_; }
  const std::string& error() const { return error_; }
  const L2Book& book() const { return book_; }
  uint64_t applied() const { return applied_; }

 private:
  SyncState state_ = SyncState::kWaitingForSnapshot;
  std::string error_;
  L2Book book_;
  uint64_t applied_ = 0;
};

}  // namespace exo::adapters::ws
