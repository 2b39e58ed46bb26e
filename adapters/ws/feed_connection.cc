// The only translation unit with Boost.Beast/Asio in the adapters (they are slow to compile).
#include "adapters/ws/feed_connection.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "exo/log.h"
#include "exo/status_macros.h"

namespace exo::adapters::ws {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

absl::Status FromBoost(const boost::system::error_code& ec, std::string_view what) {
  return absl::UnavailableError(absl::StrCat(Sv(what), ": ", ec.message()));
}

// Shuts a socket down when a deadline passes, so blocking Asio calls on it return (Asio's
// blocking reads retry EAGAIN internally, so socket receive timeouts do not work).
class SocketDeadline {
 public:
  SocketDeadline(int fd, int timeout_ms) : thread_([this, fd, timeout_ms] {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return done_; })) {
      expired_ = true;
      ::shutdown(fd, SHUT_RDWR);
    }
  }) {}
  ~SocketDeadline() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool expired() {
    std::lock_guard<std::mutex> lock(mu_);
    return expired_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false, expired_ = false;
  std::thread thread_;
};

absl::Status PrepareTls(asio::ssl::context& ctx, const std::string& ca_file) {
  boost::system::error_code ec;
  ctx.set_verify_mode(asio::ssl::verify_peer, ec);
  if (ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(ca_file, ec);
  }
  if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS trust anchors (", ca_file, "): ", ec.message()));
  return absl::OkStatus();
}

// Connects a TCP socket to host:port.
absl::Status Connect(asio::io_context& ioc, tcp::socket& socket, const Url& u) {
  boost::system::error_code ec;
  tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(u.host, u.port, ec);
  if (ec) return FromBoost(ec, absl::StrCat("resolve ", u.host));
  asio::connect(socket, endpoints, ec);
  if (ec) return FromBoost(ec, absl::StrCat("connect ", u.host, ":", u.port));
  return absl::OkStatus();
}

template <class Stream>
absl::StatusOr<std::string> Get(Stream& stream, const Url& u) {
  http::request<http::empty_body> req{http::verb::get, u.target, 11};
  req.set(http::field::host, u.host);
  req.set(http::field::user_agent, "exorouted");
  boost::system::error_code ec;
  http::write(stream, req, ec);
  if (ec) return FromBoost(ec, "http write");
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return FromBoost(ec, "http read");
  if (res.result_int() != 200) {
    return absl::UnavailableError(absl::StrCat("GET ", u.target, ": HTTP ", res.result_int()));
  }
  return std::move(res.body());
}

}  // namespace

absl::StatusOr<Url> ParseUrl(std::string_view url) {
  Url u;
  std::string_view rest;
  std::string default_port;
  for (auto [scheme, tls, port] : {std::tuple{"wss://", true, "443"}, {"ws://", false, "80"},
                                   {"https://", true, "443"}, {"http://", false, "80"}}) {
    if (url.substr(0, std::string_view(scheme).size()) == scheme) {
      u.tls = tls;
      default_port = port;
      rest = url.substr(std::string_view(scheme).size());
    }
  }
  if (default_port.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("url \"", Sv(url), "\": scheme must be ws, wss, http or https"));
  }
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = hostport.rfind(':');
  if (colon == std::string_view::npos) {
    u.host = std::string(hostport);
    u.port = default_port;
  } else {
    u.host = std::string(hostport.substr(0, colon));
    u.port = std::string(hostport.substr(colon + 1));
    uint32_t port = 0;
    if (!absl::SimpleAtoi(u.port, &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("url \"", Sv(url), "\": bad port"));
    }
  }
  if (u.host.empty()) return absl::InvalidArgumentError(absl::StrCat("url \"", Sv(url), "\": no host"));
  return u;
}

absl::StatusOr<std::string> HttpGet(const std::string& url, const std::string& ca_file, int timeout_ms) {
  EXO_ASSIGN_OR_RETURN(Url u, ParseUrl(url));
  asio::io_context ioc;
  tcp::socket socket(ioc);
  EXO_RETURN_IF_ERROR(Connect(ioc, socket, u));
  SocketDeadline deadline(socket.native_handle(), timeout_ms);
  auto timed_out = [&](absl::StatusOr<std::string> r) -> absl::StatusOr<std::string> {
    if (!r.ok() && deadline.expired()) {
      return absl::DeadlineExceededError(absl::StrCat("GET ", url, ": no answer within ", timeout_ms, " ms"));
    }
    return r;
  };
  if (!u.tls) return timed_out(Get(socket, u));
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  EXO_RETURN_IF_ERROR(PrepareTls(ctx, ca_file));
  beast::ssl_stream<tcp::socket&> stream(socket, ctx);
  SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str());
  stream.set_verify_callback(asio::ssl::host_name_verification(u.host));
  boost::system::error_code ec;
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return timed_out(FromBoost(ec, "TLS handshake"));
  return timed_out(Get(stream, u));
}

FeedConnection::FeedConnection(Options options, Callbacks callbacks)
    : options_(std::move(options)), callbacks_(std::move(callbacks)) {}

FeedConnection::~FeedConnection() { Stop(); }

void FeedConnection::Start() {
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
  watchdog_ = std::thread([this] { Watchdog(); });
}

int64_t FeedConnection::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void FeedConnection::Watchdog() {
  const int period = std::max(10, options_.stall_timeout_ms / 4);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(period), [&] { return stopping_.load(); });
    if (stopping_) break;
    if (fd_ >= 0 && NowMs() - last_activity_ms_.load() > options_.stall_timeout_ms) {
      stalled_ = true;
      ::shutdown(fd_, SHUT_RDWR);
    }
  }
}

void FeedConnection::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // Unblocks the reader.
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (watchdog_.joinable()) watchdog_.join();
}

void FeedConnection::Reconnect() {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void FeedConnection::SetSocket(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  fd_ = fd;
  last_activity_ms_ = NowMs();
  stalled_ = false;
  if (fd_ >= 0 && stopping_) ::shutdown(fd_, SHUT_RDWR);
}

void FeedConnection::Run() {
  std::mt19937_64 jitter(std::random_device{}());
  int backoff = options_.reconnect_min_ms;
  while (!stopping_) {
    opened_ms_ = 0;
    absl::Status s = RunOnce();
    SetSocket(-1);
    if (stopping_) break;
    if (callbacks_.on_close) callbacks_.on_close(s);
    // A connection that was up a while (an exchange's daily disconnect, a re-subscribe) is not
    // one more failure in a row: its reconnect waits the least again.
    if (const int64_t opened = opened_ms_.load(); opened > 0 && NowMs() - opened >= options_.healthy_after_ms) {
      backoff = options_.reconnect_min_ms;
    }
    // Jittered exponential backoff: between half and the whole of the current delay.
    int wait = backoff / 2 + static_cast<int>(jitter() % static_cast<uint64_t>(backoff / 2 + 1));
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(wait), [&] { return stopping_.load(); });
    backoff = std::min(backoff * 2, options_.reconnect_max_ms);
  }
}

absl::Status FeedConnection::RunOnce() {
  EXO_ASSIGN_OR_RETURN(Url u, ParseUrl(options_.url));
  asio::io_context ioc;
  tcp::socket socket(ioc);
  EXO_RETURN_IF_ERROR(Connect(ioc, socket, u));
  SetSocket(socket.native_handle());
  auto session = [&](auto& ws) -> absl::Status {
    boost::system::error_code ec;
    ws.handshake(u.host + ":" + u.port, u.target, ec);
    if (ec) return FromBoost(ec, "websocket handshake");
    ++connects_;
    opened_ms_ = NowMs();
    if (callbacks_.on_open) callbacks_.on_open();
    if (!options_.subscribe.empty()) {
      ws.text(true);
      ws.write(asio::buffer(options_.subscribe), ec);
      if (ec) return FromBoost(ec, "subscribe");
    }
    // A server's ping (or a pong) shows the connection is alive even when the book is quiet.
    ws.control_callback(
        [this](websocket::frame_type, beast::string_view) { last_activity_ms_ = NowMs(); });
    beast::flat_buffer buffer;
    while (!stopping_) {
      ws.read(buffer, ec);
      if (ec && stalled_) {
        return absl::DeadlineExceededError(
            absl::StrCat("no data for ", options_.stall_timeout_ms, " ms (stalled)"));
      }
      if (ec == websocket::error::closed) return absl::UnavailableError("closed by the server");
      if (ec) return FromBoost(ec, "read");
      last_activity_ms_ = NowMs();
      auto data = buffer.data();
      callbacks_.on_frame(std::string_view(static_cast<const char*>(data.data()), data.size()));
      buffer.consume(buffer.size());
    }
    return absl::CancelledError("stopping");
  };
  if (!u.tls) {
    websocket::stream<tcp::socket&> ws(socket);
    return session(ws);
  }
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  EXO_RETURN_IF_ERROR(PrepareTls(ctx, options_.ca_file));
  websocket::stream<beast::ssl_stream<tcp::socket&>> ws(socket, ctx);
  SSL_set_tlsext_host_name(ws.next_layer().native_handle(), u.host.c_str());
  ws.next_layer().set_verify_callback(asio::ssl::host_name_verification(u.host));
  boost::system::error_code ec;
  ws.next_layer().handshake(asio::ssl::stream_base::client, ec);
  if (ec) return FromBoost(ec, "TLS handshake (certificate checked)");
  return session(ws);
}

}  // namespace exo::adapters::ws
