// A small HTTP/1.1 server on the node's io_context (Boost.Beast): what the HTTP input and
// exposeDataFolder share.
//
// A connection costs a socket and a small buffer, never a thread, so clients that are slow or
// never finish do not hold back the others. Each connection has one request, read within the
// listener's input timeout in all (not per byte), with an 8 KiB header and a body limit; the
// listener holds at most maxConnections, evicting the slowest sender when full (listener.hpp).
// Every answer closes the connection.
#pragma once

#include "core/net/listener.hpp"
#include "core/util/result.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steward::net {

struct HttpRequest {
  std::string method;  // "GET", "POST", …
  std::string path;    // percent-decoded, without the query
  std::string body;
  std::string host;           // the Host header
  std::string authorization;  // the Authorization header
};

struct HttpResponse {
  unsigned status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  std::string location;  // a redirect's target, when set
  std::vector<std::pair<std::string, std::string>> headers;  // more header fields
  // A file to send as the body instead (a descriptor the response owns and closes), of fileSize
  // bytes.
  int fileFd = -1;
  uint64_t fileSize = 0;

  static HttpResponse text(unsigned status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

// Runs on an io thread; may block briefly (a store write), not for long.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// "/a%20b/c?x=1" -> "/a b/c"; nullopt when an escape is malformed.
std::optional<std::string> decodeTargetPath(std::string_view target);
// Escapes a path segment for use in a link.
std::string encodePathSegment(std::string_view segment);

class HttpServer {
 public:
  // `name` says which server in logs and errors ("httpListener").
  HttpServer(boost::asio::io_context& io, std::string name, ConnectionLimits limits = {});
  ~HttpServer();
  // Binds ("host:port"; port 0 picks a free one) and serves.
  Status start(const std::string& address, HttpHandler handler);
  void stop();
  uint16_t port() const { return port_; }
  const ConnectionTable& connections() const { return *table_; }

 private:
  boost::asio::io_context& io_;
  std::string name_;
  std::shared_ptr<ConnectionTable> table_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<AcceptLoop<boost::asio::ip::tcp::acceptor>> loop_;
  uint16_t port_ = 0;
};

}  // namespace steward::net
