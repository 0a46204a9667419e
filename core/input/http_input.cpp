#include "core/input/http_input.hpp"

#include <httplib.h>

namespace steward::input {

HttpInput::HttpInput(std::string address, HttpSubmitFn submit, size_t maxBytes)
    : address_(std::move(address)), submit_(std::move(submit)), maxBytes_(maxBytes) {}

HttpInput::~HttpInput() { stop(); }

Status HttpInput::start() {
  auto hostPort = parseHostPort(address_);
  if (!hostPort) return Error{"httpListener: " + hostPort.error().message};
  server_ = std::make_unique<httplib::Server>();
  server_->set_payload_max_length(maxBytes_);
  auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    auto result = submit_(req.body);
    res.status = result.ok() ? 202 : 400;
    res.set_content(answerLine(result) + "\n", "application/json");
  };
  server_->Post("/", handle);
  server_->Post("/messages", handle);
  int port = hostPort->second == 0 ? server_->bind_to_any_port(hostPort->first)
                                   : (server_->bind_to_port(hostPort->first, hostPort->second)
                                          ? hostPort->second
                                          : -1);
  if (port <= 0) {
    server_.reset();
    return Error{"httpListener: cannot listen on " + address_};
  }
  port_ = static_cast<uint16_t>(port);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return {};
}

void HttpInput::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace steward::input
