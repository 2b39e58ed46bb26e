#include "daemon/cluster/peer_stream.h"

#include "absl/strings/str_cat.h"

namespace exo::daemon::cluster {
namespace {

using exoroute::v1::PeerAnswer;
using exoroute::v1::PeerCall;

enum class Op : intptr_t { kWritten = 1, kRead, kFinished };
void* Tag(Op op) { return reinterpret_cast<void*>(static_cast<intptr_t>(op)); }

}  // namespace

struct PeerStream::Open {
  grpc::ClientContext ctx;
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<PeerCall, PeerAnswer>> rw;
  PeerAnswer answer;  // Where the pending read goes.
  int pending = 0;    // Operations started and not yet back from the queue.
  bool used = false;  // It has answered a call.
};

PeerStream::PeerStream(std::string node_id, std::shared_ptr<grpc::Channel> channel, uint32_t timeout_ms)
    : node_id_(std::move(node_id)),
      stub_(exoroute::v1::PeerService::NewStub(std::move(channel))),
      timeout_ms_(timeout_ms) {}

PeerStream::~PeerStream() {
  if (open_) Close(/*cancel=*/true, std::chrono::system_clock::now());
}

void PeerStream::Start() {
  open_ = std::make_unique<Open>();
  // The headers go out with the first message: no operation of their own to wait for.
  open_->ctx.set_initial_metadata_corked(true);
  open_->rw = stub_->PrepareAsyncExchange(&open_->ctx, &open_->cq);
  open_->rw->StartCall(nullptr);
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

void PeerStream::Send(PeerCall call) {
  call_ = std::move(call);
  deadline_ = std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_);
  fresh_ = open_ == nullptr || !open_->used;
  if (!open_) Start();
  open_->answer.Clear();
  open_->rw->Write(call_, Tag(Op::kWritten));
  open_->rw->Read(&open_->answer, Tag(Op::kRead));
  open_->pending += 2;
}

absl::StatusOr<PeerAnswer> PeerStream::Receive() {
  if (!open_) return absl::InternalError(absl::StrCat("node ", node_id_, ": nothing sent"));
  for (int attempt = 0;; ++attempt) {
    Open& o = *open_;
    bool broken = false, timed_out = false;
    while (o.pending > 0 && !timed_out && !broken) {
      void* tag = nullptr;
      bool ok = false;
      switch (o.cq.AsyncNext(&tag, &ok, deadline_)) {
        case grpc::CompletionQueue::TIMEOUT:
          timed_out = true;
          break;
        case grpc::CompletionQueue::SHUTDOWN:
          broken = true;
          break;
        case grpc::CompletionQueue::GOT_EVENT:
          --o.pending;
          broken = !ok;
          break;
      }
    }
    if (!timed_out && !broken) {
      o.used = true;
      return std::move(o.answer);
    }
    // A broken stream's other operation comes back failed at once; Close collects it.
    if (timed_out) {
      Close(/*cancel=*/true, deadline_);
      return absl::DeadlineExceededError(
          absl::StrCat("node ", node_id_, ": no answer within ", timeout_ms_, " ms"));
    }
    const grpc::Status status = Close(/*cancel=*/false, deadline_);
    // A stream that had already answered may have broken since (the peer restarted): the call
    // goes once more, on a new stream, within the same deadline.
    if (!fresh_ && attempt == 0 && std::chrono::system_clock::now() < deadline_) {
      const auto deadline = deadline_;
      Send(std::move(call_));
      deadline_ = deadline;
      continue;
    }
    const std::string why = status.ok() ? "stream ended" : status.error_message();
    return absl::Status(status.ok() ? absl::StatusCode::kUnavailable : static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("node ", node_id_, ": ", why));
  }
}

}  // namespace exo::daemon::cluster
