// Operator input over HTTP: POST a JSON array of messages to / (or /messages). 202 with
// {"ok":true,"ids":[…]} when accepted, 400 with {"ok":false,"error":"…"} when refused.
// Unauthenticated: bind it to 127.0.0.1 or a trusted interface only.
#pragma once

#include "core/input/socket_input.hpp"

#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace steward::input {

// Answers one input: true and the ids, or false and the error, as answerLine formats them.
using HttpSubmitFn = std::function<Result<std::vector<uint64_t>>(std::string_view input)>;

class HttpInput {
 public:
  HttpInput(std::string address, HttpSubmitFn submit, size_t maxBytes = 16 * 1024 * 1024);
  ~HttpInput();
  // Binds ("host:port"; port 0 picks a free one) and serves on a thread of its own.
  Status start();
  void stop();
  uint16_t port() const { return port_; }

 private:
  std::string address_;
  HttpSubmitFn submit_;
  size_t maxBytes_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace steward::input
