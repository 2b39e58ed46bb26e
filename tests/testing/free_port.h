// A free TCP port on 127.0.0.1, for servers that cannot bind port 0 themselves (QuickFIX).
// (The port is free when returned; tests run on loopback, where reuse races are harmless.)
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace exo::testing {

inline int FreePort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace exo::testing
