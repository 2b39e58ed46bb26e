// A FIX 4.4 acceptor that writes the bytes a test gives it: for what a real venue should never
// send (garbled fields, wrong group counts). It takes one connection on 127.0.0.1:`port`, answers
// the initiator's Logon (and Logout) with its own, and then sends the test's messages, each framed with
// BodyLength, MsgSeqNum, SendingTime and CheckSum; it collects every message the initiator
// sends (Rejects, Heartbeats, ...). Blocking sockets on a thread of its own.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace exo::testing {

// One FIX 4.4 message as a venue `sender` sends it to `target`: `body` is the fields after the
// header as "35=W|55=X|268=1|..." ('|' for SOH); the header (MsgType first, then MsgSeqNum,
// CompIDs, SendingTime as "YYYYMMDD-HH:MM:SS"), BodyLength and CheckSum are added.
inline std::string FrameFix(const std::string& body, int seq, const std::string& sender, const std::string& target,
                            const std::string& sending_time) {
  std::string fields = body;
  for (char& c : fields) c = c == '|' ? '\x01' : c;
  const size_t type_end = std::min(fields.find('\x01'), fields.size());
  const std::string all = fields.substr(0, type_end) + "\x01" "34=" + std::to_string(seq) + "\x01" + "49=" +
                          sender + "\x01" + "52=" + sending_time + "\x01" + "56=" + target + "\x01" +
                          (type_end < fields.size() ? fields.substr(type_end + 1) : "");
  std::string msg = "8=FIX.4.4\x01" "9=" + std::to_string(all.size()) + "\x01" + all;
  unsigned sum = 0;
  for (unsigned char c : msg) sum += c;
  char trailer[16];
  std::snprintf(trailer, sizeof(trailer), "10=%03u\x01", sum % 256);
  return msg + trailer;
}

class RawFixPeer {
 public:
  // `sender` is this peer's CompID, `target` the initiator's.
  RawFixPeer(int port, std::string sender, std::string target)
      : sender_(std::move(sender)), target_(std::move(target)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(listen_fd_, 1) != 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
      return;
    }
    reader_ = std::thread([this] { Serve(); });
  }
  ~RawFixPeer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    {
      std::lock_guard<std::mutex> l(mu_);
      if (conn_fd_ >= 0) ::shutdown(conn_fd_, SHUT_RDWR);
    }
    if (reader_.joinable()) reader_.join();
    if (conn_fd_ >= 0) ::close(conn_fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  bool listening() const { return listen_fd_ >= 0; }
  bool logged_on() {
    std::lock_guard<std::mutex> l(mu_);
    return logged_on_;
  }

  // Sends one message: `body` is the fields after the header as "35=W|55=X|268=1|..." ('|' for
  // SOH); the header (MsgType first, then MsgSeqNum, CompIDs, SendingTime) is added.
  void Send(const std::string& body) {
    std::lock_guard<std::mutex> l(mu_);
    const std::string msg = FrameFix(body, next_out_++, sender_, target_, UtcNow());
    ::send(conn_fd_, msg.data(), msg.size(), MSG_NOSIGNAL);
  }

  // Every message the initiator sent so far, '|' for SOH.
  std::vector<std::string> received() {
    std::lock_guard<std::mutex> l(mu_);
    return received_;
  }

 private:
  static std::string UtcNow() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y%m%d-%H:%M:%S", &tm);
    return buf;
  }

  void Serve() {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      conn_fd_ = fd;
    }
    std::string buffer;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<size_t>(n));
      // One message ends with the CheckSum field, "10=NNN<SOH>".
      for (size_t end; (end = buffer.find("\x01" "10=")) != std::string::npos && buffer.size() >= end + 8;) {
        std::string msg = buffer.substr(0, end + 8);
        buffer.erase(0, end + 8);
        for (char& c : msg) c = c == '\x01' ? '|' : c;
        const bool logon = msg.find("|35=A|") != std::string::npos;
        const bool logout = msg.find("|35=5|") != std::string::npos;
        {
          std::lock_guard<std::mutex> l(mu_);
          received_.push_back(msg);
        }
        if (logout) Send("35=5|");  // Acknowledged, so the initiator need not wait for a timeout.
        if (logon) {
          Send("35=A|98=0|108=30|");
          std::lock_guard<std::mutex> l(mu_);
          logged_on_ = true;
        }
      }
    }
  }

  std::string sender_, target_;
  int listen_fd_ = -1, conn_fd_ = -1;
  std::thread reader_;
  std::mutex mu_;
  int next_out_ = 1;
  bool logged_on_ = false;
  std::vector<std::string> received_;
};

}  // namespace exo::testing
