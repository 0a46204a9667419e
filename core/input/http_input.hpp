// Operator input over HTTP: POST a JSON array of messages to / (or /messages). 202 with
// {"ok":true,"ids":[…]} when accepted, 400 with {"ok":false,"error":"…"} when refused, 405 for
// anything but POST, 413 for a body over the limit. Unauthenticated: bind it to 127.0.0.1 or a
// trusted interface only. Slow and idle clients are bounded as on every listener (http_server.hpp).
#pragma once

#include "core/net/http_server.hpp"
#include "core/input/socket_input.hpp"

#include <string>

namespace steward::input {

// Answers one input: true and the ids, or false and the error, as answerLine formats them.
using HttpSubmitFn = std::function<Result<std::vector<uint64_t>>(std::string_view input)>;

class HttpInput {
 public:
  HttpInput(boost::asio::io_context& io, std::string address, HttpSubmitFn submit,
            net::ConnectionLimits limits = {});
  // Binds ("host:port"; port 0 picks a free one) and serves.
  Status start();
  void stop();
  uint16_t port() const { return server_.port(); }

 private:
  std::string address_;
  HttpSubmitFn submit_;
  net::HttpServer server_;
};

}  // namespace steward::input
