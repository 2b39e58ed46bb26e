// A real venue adapter whose execution reports a test can add to: what a garbled or hostile
// venue session would deliver through the same sink (the engine cannot tell them apart).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/venue_adapter.h"

namespace exo::testing {

class TapVenue final : public adapters::VenueAdapter {
 public:
  explicit TapVenue(std::unique_ptr<adapters::VenueAdapter> real) : real_(std::move(real)) {}
  const std::string& venue_id() const override { return real_->venue_id(); }
  std::string kind() const override { return real_->kind(); }
  absl::Status Start(adapters::EventSink sink) override {
    sink_ = sink;
    return real_->Start(std::move(sink));
  }
  void Stop() override { real_->Stop(); }
  exoroute::v1::AdapterState state() const override { return real_->state(); }
  std::shared_ptr<const exoroute::v1::VenueBook> Book(std::string_view symbol) const override {
    return real_->Book(symbol);
  }
  absl::Status Send(const exoroute::v1::ChildOrder& child, std::string_view symbol) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!send_failure_.ok()) return send_failure_;
    }
    return real_->Send(child, symbol);
  }
  bool can_reconcile() const override { return real_->can_reconcile(); }
  absl::Status AskStatus(std::string_view cl_ord_id) override { return real_->AskStatus(cl_ord_id); }
  absl::Status Reconcile(const exoroute::v1::ChildOrder& child, std::string_view symbol, int64_t filled) override {
    return real_->Reconcile(child, symbol, filled);
  }
  absl::Status Cancel(std::string_view cl_ord_id) override {
    ++cancels_;
    return hold_cancels_ ? absl::OkStatus() : real_->Cancel(cl_ord_id);
  }
  // Cancels the engine asked of this venue so far.
  int cancels() const { return cancels_.load(); }
  // From now on a cancel is taken and never answered (a venue slow to cancel): the plan stays
  // cancelling until the test reports the child done.
  void HoldCancels() { hold_cancels_ = true; }
  uint64_t children_sent() const override { return real_->children_sent(); }
  uint64_t fills() const override { return real_->fills(); }
  // From now on every send fails with `s` before it reaches the venue, as a FIX session that
  // went down between a decision and its send does (the venue stays UP to the engine).
  void FailSends(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    send_failure_ = std::move(s);
  }
  // Delivers `e` as if the venue had reported it (after Start).
  void Report(adapters::ExecutionEvent e) { sink_(std::move(e)); }

 private:
  std::unique_ptr<adapters::VenueAdapter> real_;
  adapters::EventSink sink_;
  std::atomic<bool> hold_cancels_{false};
  std::atomic<int> cancels_{0};
  mutable std::mutex mu_;
  absl::Status send_failure_;  // Guarded by mu_.
};

}  // namespace exo::testing
