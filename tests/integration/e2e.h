// What the end-to-end tests share on top of DaemonProcess: a channel to a started daemon (the
// test stops if it cannot connect) and a Route call with a deadline.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>

#include "exoroute/v1/router.grpc.pb.h"
#include "tests/integration/daemon_process.h"

namespace exo::testing {

inline constexpr int64_t kBtc = 100'000'000;  // One BTC in BTC-USD quantity units (scale 8).

inline std::shared_ptr<grpc::Channel> Connect(const DaemonProcess& d) {
  auto ch = ChannelTo(d);
  INFO(ch.status().ToString());
  REQUIRE(ch.ok());
  return *ch;
}

inline grpc::Status CallRoute(const std::shared_ptr<grpc::Channel>& ch, const exoroute::v1::RouteRequest& req,
                              exoroute::v1::RouteResponse* resp,
                              std::chrono::seconds deadline = std::chrono::seconds(10)) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  return exoroute::v1::RouterService::NewStub(ch)->Route(&ctx, req, resp);
}

}  // namespace exo::testing
