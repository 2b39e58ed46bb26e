// A minimal HTTP/1.1 client over a plain POSIX socket, for tests of the admin HTTP port: one
// request (Connection: close), the whole answer read until the server closes. Independent of
// the server's Beast code on purpose.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

namespace exo::testing {

struct HttpAnswer {
  int status = 0;        // 0: no answer (connect failed, or not HTTP).
  std::string headers;   // The header block, as sent.
  std::string body;
};

// Sends `raw` (a whole request) to 127.0.0.1:port and reads the answer.
inline HttpAnswer HttpExchange(int port, const std::string& raw) {
  HttpAnswer a;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return a;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return a;
  }
  for (size_t sent = 0; sent < raw.size();) {
    ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) in.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return a;
  a.status = std::stoi(in.substr(9, 3));
  a.headers = in.substr(0, end);
  a.body = in.substr(end + 4);
  return a;
}

inline HttpAnswer HttpRequest(int port, const std::string& method, const std::string& path) {
  return HttpExchange(port, method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

}  // namespace exo::testing
