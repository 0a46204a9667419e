#include "core/net/http_server.hpp"

#include "core/net/address.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <unistd.h>

#include <cctype>
#include <optional>

namespace steward::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::optional<std::string> decodeTargetPath(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::string out;
  out.reserve(target.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      out.push_back(target[i]);
      continue;
    }
    if (i + 2 >= target.size()) return std::nullopt;
    const int hi = hex(target[i + 1]);
    const int lo = hex(target[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string encodePathSegment(std::string_view segment) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

namespace {

constexpr size_t kMaxHeaderBytes = 8 * 1024;

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, std::shared_ptr<ConnectionTable> table,
              std::shared_ptr<const HttpHandler> handler, std::string name)
      : stream_(std::move(socket)),
        table_(std::move(table)),
        handler_(std::move(handler)),
        name_(std::move(name)) {}

  void start() {
    if (!table_->admit(shared_from_this())) {
      return respond(HttpResponse::text(503, "503 too many connections (" +
                                                 std::to_string(table_->limits().maxConnections) +
                                                 ") are being answered; try again later\n"));
    }
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(table_->limits().maxInputBytes);
    // One deadline for the whole request, however slowly its bytes come.
    stream_.expires_after(table_->limits().inputTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
  }

  void evict(const std::string& why) override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), why] {
      if (!self->reading()) return;
      self->evicted_ = why;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
  }

  ~HttpSession() override { table_->leave(this); }

 private:
  void onRead(beast::error_code ec) {
    if (!evicted_.empty()) return respond(HttpResponse::text(503, "503 " + evicted_ + "\n"));
    if (ec == http::error::body_limit) {
      return respond(HttpResponse::text(
          413, "413 the body is larger than the limit of " +
                   std::to_string(table_->limits().maxInputBytes) + " bytes\n"));
    }
    if (ec == http::error::header_limit) {
      return respond(HttpResponse::text(431, "431 the request's header is larger than " +
                                                 std::to_string(kMaxHeaderBytes) + " bytes\n"));
    }
    if (ec == beast::error::timeout) {
      return respond(HttpResponse::text(
          408, "408 no complete request within " +
                   std::to_string(table_->limits().inputTimeout.count()) + " s\n"));
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      return close();
    }
    if (ec) return respond(HttpResponse::text(400, "400 bad request: " + ec.message() + "\n"));
    auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    auto path = decodeTargetPath(std::string_view(req.target().data(), req.target().size()));
    if (!path) return respond(HttpResponse::text(400, "400 bad request: a malformed %-escape\n"));
    request.path = std::move(*path);
    request.body = std::move(req.body());
    request.host = std::string(req[http::field::host]);
    request.authorization = std::string(req[http::field::authorization]);
    parser_.reset();
    respond((*handler_)(request));
  }

  void respond(HttpResponse r) {
    answered();
    stream_.expires_after(std::chrono::seconds(60));
    if (r.fileFd >= 0) {
      beast::file_posix file;
      file.native_handle(r.fileFd);
      http::response<http::file_body> res{static_cast<http::status>(r.status), 11};
      beast::error_code ec;
      res.body().reset(std::move(file), ec);
      return send(std::move(res), r);
    }
    http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
    res.body() = std::move(r.body);
    send(std::move(res), r);
  }

  template <class Body>
  void send(http::response<Body> res, const HttpResponse& r) {
    res.set(http::field::server, "steward");
    res.set(http::field::content_type, r.contentType);
    if (!r.location.empty()) res.set(http::field::location, r.location);
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.keep_alive(false);
    res.prepare_payload();
    auto owned = std::make_shared<http::response<Body>>(std::move(res));
    http::async_write(stream_, *owned, [self = shared_from_this(), owned](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->linger();
    });
  }

  // The answer is written: says so (FIN), then takes what the client still sends until it
  // closes too, for 2 s at most, so the answer is not lost to a reset (a 413 is answered before
  // the body has all arrived).
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    drain();
  }

  void drain() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    table_->leave(this);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{kMaxHeaderBytes};
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<ConnectionTable> table_;
  std::shared_ptr<const HttpHandler> handler_;
  std::string name_;
  std::string evicted_;
};

}  // namespace

HttpServer::HttpServer(asio::io_context& io, std::string name, ConnectionLimits limits)
    : io_(io),
      name_(std::move(name)),
      table_(std::make_shared<ConnectionTable>(limits)),
      acceptor_(io) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start(const std::string& address, HttpHandler handler) {
  if (auto s = listenTcp(acceptor_, address); !s) return s;
  boost::system::error_code ec;
  port_ = acceptor_.local_endpoint(ec).port();
  auto shared = std::make_shared<const HttpHandler>(std::move(handler));
  loop_ = std::make_shared<AcceptLoop<tcp::acceptor>>(
      io_, acceptor_, name_ + " " + address,
      [table = table_, shared, name = name_](tcp::socket socket) {
        std::make_shared<HttpSession>(std::move(socket), table, shared, name)->start();
      });
  loop_->start();
  return {};
}

void HttpServer::stop() {
  if (loop_) loop_->stop();
  boost::system::error_code ignored;
  if (acceptor_.is_open()) acceptor_.close(ignored);
}

}  // namespace steward::net
