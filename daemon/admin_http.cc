#include "daemon/admin_http.h"

#include <chrono>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "exo/log.h"
#include "exo/status_macros.h"

namespace exo::daemon {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr uint64_t kMaxRequestBody = 1024;  // GET has none; anything bigger is refused.

http::response<http::string_body> Answer(const http::request<http::string_body>& req,
                                         const AdminHttpServer::Handlers& h) {
  auto reply = [&](http::status status, std::string body, const char* type = "text/plain; charset=utf-8") {
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::server, "exorouted");
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays.
    return res;
  };
  std::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  if (target != "/metrics" && target != "/healthz") {
    return reply(http::status::not_found, "not found: this port serves GET /metrics and GET /healthz\n");
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = reply(http::status::method_not_allowed, absl::StrCat("method not allowed: ", Sv(target), " is GET only\n"));
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (target == "/metrics") return reply(http::status::ok, h.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  absl::Status health = h.health();
  if (health.ok()) return reply(http::status::ok, "ok\n");
  return reply(http::status::service_unavailable, absl::StrCat(health.message(), "\n"));
}

// The answer on a connection beyond AdminHttpServer::kMaxConnections.
http::response<http::string_body> TooMany(const http::request<http::string_body>& req) {
  http::response<http::string_body> res{http::status::service_unavailable, req.version()};
  res.set(http::field::server, "exorouted");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::retry_after, "1");
  res.body() = absl::StrCat("too many connections: this port serves at most ", AdminHttpServer::kMaxConnections,
                            " at once (monitoring only); try again\n");
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

// One client connection: read a request, answer, again while the client keeps it alive. It
// counts itself in `open` (the server's; only its one thread touches it) while it lives.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const AdminHttpServer::Handlers* handlers, int* open)
      : stream_(std::move(socket)), handlers_(handlers), open_(open) {
    ++*open_;
  }
  ~Connection() { --*open_; }
  // Over the limit: the request is read (closing with it unread would reset the connection
  // before the client reads the answer), answered 503 saying so, and the connection closed.
  void Refuse() {
    refused_ = true;
    Read();
  }
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBody);
    stream_.expires_after(refused_ ? std::chrono::seconds(5) : kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec) {
      // A malformed or oversized request gets a 400 before the connection is closed.
      if (ec != beast::error::timeout && ec != net::error::operation_aborted && ec != net::error::connection_reset) {
        auto res = std::make_shared<http::response<http::string_body>>(http::status::bad_request, 11);
        res->set(http::field::content_type, "text/plain; charset=utf-8");
        res->body() = absl::StrCat("bad request: ", ec.message(), "\n");
        res->keep_alive(false);
        res->prepare_payload();
        http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) { self->Close(); });
      }
      return;
    }
    auto res = std::make_shared<http::response<http::string_body>>(
        refused_ ? TooMany(parser_->get()) : Answer(parser_->get(), *handlers_));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !res->keep_alive()) return self->Close();
      self->Read();
    });
  }
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const AdminHttpServer::Handlers* handlers_;
  int* open_;
  bool refused_ = false;
};

}  // namespace

struct AdminHttpServer::Impl {
  Handlers handlers;
  // Connections alive (touched by this server's one thread only; declared before `io`, whose
  // destruction drops the connections still pending).
  int open = 0;
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  int port = 0;
  bool stopped = false;

  void Accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;  // Stopping.
      if (!ec) {
        // Beyond the limit an idle client could hold the process's file descriptors, which the
        // store and the gRPC port need: such a connection is answered 503 and closed.
        // A refused connection lives until its request is answered (5 s at most); beyond twice
        // the limit one is closed at once, unanswered.
        if (open >= 2 * kMaxConnections) {
          beast::error_code ignored;
          socket.close(ignored);
        } else if (auto c = std::make_shared<Connection>(std::move(socket), &handlers, &open); open > kMaxConnections) {
          c->Refuse();
        } else {
          c->Read();
        }
      }
      Accept();
    });
  }
};

AdminHttpServer::AdminHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminHttpServer::~AdminHttpServer() { Stop(); }

int AdminHttpServer::port() const { return impl_->port; }

absl::StatusOr<std::unique_ptr<AdminHttpServer>> AdminHttpServer::Start(const std::string& listen,
                                                                       Handlers handlers) {
  auto impl = std::make_unique<Impl>();
  impl->handlers = std::move(handlers);
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon), port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto fail = [&](const beast::error_code& ec) {
    return absl::UnavailableError(absl::StrCat("admin.listen: cannot listen on ", listen, ": ", ec.message()));
  };
  beast::error_code ec;
  tcp::resolver resolver(impl->io);
  auto endpoints = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) return fail(ec);
  const tcp::endpoint at = endpoints.begin()->endpoint();
  impl->acceptor.open(at.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(at, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec);
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  impl->thread = std::thread([io = &impl->io] { io->run(); });
  return std::unique_ptr<AdminHttpServer>(new AdminHttpServer(std::move(impl)));
}

void AdminHttpServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->io.stop();  // Pending accepts and connections are dropped with the io_context.
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace exo::daemon
