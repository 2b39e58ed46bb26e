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

// One client connection: read a request, answer, again while the client keeps it alive.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const AdminHttpServer::Handlers* handlers)
      : stream_(std::move(socket)), handlers_(handlers) {}
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBody);
    stream_.expires_after(kIdleTimeout);
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
    auto res = std::make_shared<http::response<http::string_body>>(Answer(parser_->get(), *handlers_));
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
};

}  // namespace

struct AdminHttpServer::Impl {
  Handlers handlers;
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  int port = 0;
  bool stopped = false;

  void Accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;  // Stopping.
      if (!ec) std::make_shared<Connection>(std::move(socket), &handlers)->Read();
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
