// A free TCP port on 127.0.0.1, for servers that must know their port before they start
// (a cluster's peers list each other's addresses; QuickFIX cannot bind port 0).
//
// A port freed by binding port 0 comes from the kernel's ephemeral range, and the kernel hands
// it out again — to another test's port-0 server or to an outgoing connection — before our
// server binds it. So the port is taken below that range, and reserved across the test
// processes that run at once (ctest -j) by a lock on a file named after it, held for the life
// of the process. (The empty lock files stay — at most one per port of the range — since removing
// one another process may be about to lock would let two processes hold "the same" lock.)
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <stdexcept>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace exo::testing {

inline int FreePort() {
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  const int low = 10000, high = std::max(low + 1000, ephemeral_low);
  static std::atomic<unsigned> next{static_cast<unsigned>(getpid()) * 7919u};
  const std::string dir = "/tmp/exoroute-test-ports";
  ::mkdir(dir.c_str(), 0777);
  for (int attempt = 0; attempt < high - low; ++attempt) {
    const int port = low + static_cast<int>(next.fetch_add(1) % static_cast<unsigned>(high - low));
    const std::string lock = dir + "/" + std::to_string(port);
    const int fd = ::open(lock.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // Another test process holds it.
      ::close(fd);
      continue;
    }
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc);
    boost::system::error_code ec;
    a.open(boost::asio::ip::tcp::v4(), ec);
    if (!ec) a.bind({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
    if (ec) {  // In use by something outside the tests.
      ::close(fd);
      continue;
    }
    return port;  // The lock stays held (fd kept open) until this process exits.
  }
  throw std::runtime_error("FreePort: no free port below the ephemeral range");
}

}  // namespace exo::testing
