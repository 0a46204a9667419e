#include "core/input/http_input.hpp"

namespace steward::input {

HttpInput::HttpInput(boost::asio::io_context& io, std::string address, HttpSubmitFn submit,
                     net::ConnectionLimits limits)
    : address_(std::move(address)), submit_(std::move(submit)), server_(io, "httpListener", limits) {}

Status HttpInput::start() {
  auto started = server_.start(address_, [this](const net::HttpRequest& req) {
    if (req.path != "/" && req.path != "/messages") {
      return net::HttpResponse::text(404, "404 not found: POST messages to / or /messages\n");
    }
    if (req.method != "POST") {
      return net::HttpResponse::text(405, "405 method not allowed: POST a JSON array of messages\n");
    }
    auto result = submit_(req.body);
    net::HttpResponse res;
    res.status = result.ok() ? 202 : 400;
    res.contentType = "application/json";
    res.body = answerLine(result) + "\n";
    return res;
  });
  if (!started) return Error{"httpListener: " + started.error().message};
  return {};
}

void HttpInput::stop() { server_.stop(); }

}  // namespace steward::input
