#include "daemon/cluster/peer_stream.h"

#include "absl/strings/str_cat.h"

namespace exo::daemon::cluster {
namespace {

using exoroute::v1::PeerAnswer;
using exoroute::v1::PeerCall;

enum class Op : intptr_t { kStarted = 1, kWritten, kRead, kFinished };
void* Tag(Op op) { return reinterpret_cast<void*>(static_cast<intptr_t>(op)); }

}  // namespace

struct PeerStream::Open {
  grpc::ClientContext ctx;
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<PeerCall, PeerAnswer>> rw;
  int pending = 0;    // Operations started and not yet back from the queue.
  bool used = false;  // It has answered a call.
};

PeerStream::PeerStream(std::string node_id, std::shared_ptr<grpc::Channel> channel, uint32_t timeout_ms)
    : node_id_(std::move(node_id)),
      stub_(exoroute::v1::PeerService::NewStub(std::move(channel))),
      timeout_ms_(timeout_ms) {}

PeerStream::~PeerStream() {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_) Close(/*cancel=*/true, std::chrono::system_clock::now());
}

void PeerStream::Start() {
  open_ = std::make_unique<Open>();
  open_->rw = stub_->PrepareAsyncExchange(&open_->ctx, &open_->cq);
  open_->rw->StartCall(Tag(Op::kStarted));
  open_->pending = 1;
}

grpc::Status PeerStream::Close(bool cancel, std::chrono::system_clock::time_point deadline) {
  Open& o = *open_;
  void* tag = nullptr;
  bool ok = false;
  if (cancel) o.ctx.TryCancel();
  // Operations still in flight come back (failed, once the stream is over) before Finish.
  while (o.pending > 0) {
    if (o.cq.AsyncNext(&tag, &ok, deadline) == grpc::CompletionQueue::TIMEOUT) {
      o.ctx.TryCancel();
      deadline = std::chrono::system_clock::time_point::max();
      continue;
    }
    --o.pending;
  }
  grpc::Status status;
  o.rw->Finish(&status, Tag(Op::kFinished));
  if (o.cq.AsyncNext(&tag, &ok, deadline) == grpc::CompletionQueue::TIMEOUT) {
    o.ctx.TryCancel();
    o.cq.Next(&tag, &ok);
  }
  o.cq.Shutdown();
  while (o.cq.Next(&tag, &ok)) {
  }
  open_.reset();
  return status;
}

absl::StatusOr<PeerAnswer> PeerStream::Call(const PeerCall& call) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_);
  for (int attempt = 0;; ++attempt) {
    const bool reused = open_ != nullptr && open_->used;
    if (!open_) Start();
    Open& o = *open_;
    PeerAnswer answer;
    bool broken = false, timed_out = false;
    // The stream's start completes before the first message goes (one write at a time), then
    // the call is one write and one read.
    bool sent = false;
    while ((o.pending > 0 || !sent) && !timed_out && !broken) {
      if (o.pending == 0) {
        o.rw->Write(call, Tag(Op::kWritten));
        o.rw->Read(&answer, Tag(Op::kRead));
        o.pending += 2;
        sent = true;
      }
      void* tag = nullptr;
      bool ok = false;
      switch (o.cq.AsyncNext(&tag, &ok, deadline)) {
        case grpc::CompletionQueue::TIMEOUT:
          timed_out = true;
          break;
        case grpc::CompletionQueue::SHUTDOWN:
          return absl::InternalError(absl::StrCat("node ", node_id_, ": stream queue shut down"));
        case grpc::CompletionQueue::GOT_EVENT:
          --o.pending;
          broken = broken || !ok;
          break;
      }
    }
    // A broken stream's other operations come back failed at once; Close collects them.
    if (!timed_out && !broken) {
      o.used = true;
      return answer;
    }
    if (timed_out) {
      Close(/*cancel=*/true, deadline);
      return absl::DeadlineExceededError(
          absl::StrCat("node ", node_id_, ": no answer within ", timeout_ms_, " ms"));
    }
    const grpc::Status status = Close(/*cancel=*/false, deadline);
    // A stream that had already answered may have broken since (the peer restarted): the call
    // goes once more on a new stream.
    if (reused && attempt == 0 && std::chrono::system_clock::now() < deadline) continue;
    const std::string why = status.ok() ? "stream ended" : status.error_message();
    return absl::Status(status.ok() ? absl::StatusCode::kUnavailable : static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("node ", node_id_, ": ", why));
  }
}

}  // namespace exo::daemon::cluster
