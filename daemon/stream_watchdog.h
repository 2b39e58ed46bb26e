// StreamWatchdog: ends server streams whose client stopped reading.
//
// A gRPC synchronous server stream (WatchPlan, Replay) writes on its handler's thread, and a
// Write waits for the client to take the message (HTTP/2 flow control). A client that stays
// connected but reads nothing would hold that thread, its place under listen.max_watches or
// listen.max_replays, and the store's view of the chain, for as long as it likes. The watchdog
// cancels a stream whose Write has waited longer than the stall limit (listen.stream_stall_ms):
// the Write then fails, the handler ends, its place is free. Only a single Write waiting the
// whole limit counts: a client that reads is not cut off unless it takes less than its
// transport's window (tens of KiB: room is given back in window updates) in that time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <thread>

#include "grpcpp/server_context.h"

namespace exo::daemon {

class StreamWatchdog {
 public:
  // Checks a few times per `stall_ms`.
  explicit StreamWatchdog(int64_t stall_ms);
  ~StreamWatchdog();
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  struct Entry {
    grpc::ServerContext* ctx = nullptr;
    int64_t write_since_ns = 0;  // Steady clock; 0 while not writing.
    bool cancelled = false;
  };

  // One stream, watched while it lives (handler thread only). With no watchdog, writes are
  // plain writes.
  class Stream {
   public:
    Stream(StreamWatchdog* watchdog, grpc::ServerContext* ctx);
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    // writer->Write(message), cancelled if it waits longer than the stall limit.
    template <class Writer, class Message>
    bool Write(Writer* writer, const Message& message) {
      Mark(true);
      const bool ok = writer->Write(message);
      Mark(false);
      return ok;
    }
    // Whether the watchdog cancelled this stream for stalling.
    bool stalled() const;

   private:
    void Mark(bool writing);
    StreamWatchdog* watchdog_;
    std::list<Entry>::iterator entry_;
  };

  int64_t stall_ms() const { return stall_ms_; }
  // Streams cancelled for stalling since start.
  uint64_t cancelled() const;

 private:
  void Run();
  const int64_t stall_ms_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::list<Entry> streams_;
  uint64_t cancelled_ = 0;
  std::thread thread_;
};

}  // namespace exo::daemon
