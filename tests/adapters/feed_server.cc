#include "tests/adapters/feed_server.h"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <set>

namespace exo::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct FeedServer::Impl {
  Options options;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<asio::ssl::context> tls;
  std::thread accept_thread;
  std::mutex mu;
  std::condition_variable cv;
  std::set<int> fds;  // Live connections, shut down on stop.
  std::vector<std::thread> workers;
  std::vector<std::string> subscriptions;
  bool stopping = false;
};

namespace {

template <class Stream>
void Serve(Stream& stream, tcp::socket& socket, FeedServer::Options& o, std::atomic<int>& ws_count,
           std::atomic<int>& http_count, std::mutex& mu, std::condition_variable& cv, bool& stopping,
           std::vector<std::string>& subs) {
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  boost::system::error_code ec;
  http::read(stream, buffer, req, ec);
  if (ec) return;
  if (!websocket::is_upgrade(req)) {
    const int n = http_count++;
    http::response<http::string_body> res;
    if (o.http_answer) {
      auto [status, body] = o.http_answer(std::string(req.target()), n);
      res.result(static_cast<unsigned>(status));
      res.body() = std::move(body);
    } else {
      auto it = o.http.find(std::string(req.target()));
      res.result(it == o.http.end() ? http::status::not_found : http::status::ok);
      res.body() = it == o.http.end() ? "not found" : it->second;
    }
    res.prepare_payload();
    http::write(stream, res, ec);
    return;
  }
  int n = ws_count++;
  FeedServer::Script script = o.script ? o.script(n) : FeedServer::Script{};
  websocket::stream<Stream&> ws(stream);
  ws.accept(req, ec);
  if (ec) return;
  if (script.read_subscribe) {
    beast::flat_buffer msg;
    ws.read(msg, ec);
    if (ec) return;
    std::lock_guard<std::mutex> lock(mu);
    subs.push_back(beast::buffers_to_string(msg.data()));
  }
  ws.text(true);
  for (const auto& f : script.frames) {
    if (script.frame_interval_ms > 0) {
      std::unique_lock<std::mutex> lock(mu);
      if (cv.wait_for(lock, std::chrono::milliseconds(script.frame_interval_ms), [&] { return stopping; })) return;
    }
    ws.write(asio::buffer(f), ec);
    if (ec) return;
  }
  if (script.close_after) {
    ws.close(websocket::close_code::normal, ec);
    return;
  }
  std::unique_lock<std::mutex> lock(mu);
  while (script.ping_interval_ms > 0) {
    if (cv.wait_for(lock, std::chrono::milliseconds(script.ping_interval_ms), [&] { return stopping; })) return;
    lock.unlock();
    ws.ping({}, ec);
    if (ec) return;
    lock.lock();
  }
  cv.wait(lock, [&] { return stopping; });
}

}  // namespace

FeedServer::FeedServer(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (!impl_->options.cert_file.empty()) {
    impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl_->tls->use_certificate_chain_file(impl_->options.cert_file);
    impl_->tls->use_private_key_file(impl_->options.key_file, asio::ssl::context::pem);
  }
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread([this] {
    while (true) {
      boost::system::error_code ec;
      tcp::socket socket(impl_->ioc);
      impl_->acceptor.accept(socket, ec);
      std::lock_guard<std::mutex> lock(impl_->mu);
      if (ec || impl_->stopping) return;
      int fd = socket.native_handle();
      impl_->fds.insert(fd);
      impl_->workers.emplace_back([this, s = std::move(socket), fd]() mutable {
        auto& i = *impl_;
        if (i.tls) {
          beast::ssl_stream<tcp::socket&> stream(s, *i.tls);
          boost::system::error_code hec;
          stream.handshake(asio::ssl::stream_base::server, hec);
          if (!hec) Serve(stream, s, i.options, ws_connections_, http_requests_, i.mu, i.cv, i.stopping, i.subscriptions);
        } else {
          Serve(s, s, i.options, ws_connections_, http_requests_, i.mu, i.cv, i.stopping, i.subscriptions);
        }
        std::lock_guard<std::mutex> l(i.mu);
        i.fds.erase(fd);
      });
    }
  });
}

FeedServer::~FeedServer() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    for (int fd : impl_->fds) ::shutdown(fd, SHUT_RDWR);
    ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  }
  impl_->cv.notify_all();
  impl_->accept_thread.join();
  for (auto& t : impl_->workers) t.join();
}

std::vector<std::string> FeedServer::subscriptions() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->subscriptions;
}

}  // namespace exo::testing
