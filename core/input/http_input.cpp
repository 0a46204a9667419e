#include "core/input/http_input.hpp"

#include <httplib.h>

namespace steward::input {

HttpInput::HttpInput(std::string address, HttpSubmitFn submit, size_t maxBytes)
    : address_(std::move(address)), submit_(std::move(submit)), maxBytes_(maxBytes) {}

HttpInput::~HttpInput() { stop(); }

Status HttpInput::start() {
  auto started = server_.start(address_, [this](httplib::Server& server) {
    server.set_payload_max_length(maxBytes_);
    auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      auto result = submit_(req.body);
      res.status = result.ok() ? 202 : 400;
      res.set_content(answerLine(result) + "\n", "application/json");
    };
    server.Post("/", handle);
    server.Post("/messages", handle);
  });
  if (!started) return Error{"httpListener: " + started.error().message};
  return {};
}

void HttpInput::stop() { server_.stop(); }

}  // namespace steward::input
