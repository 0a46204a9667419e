#include "core/input/http_server.hpp"

#include "core/input/socket_input.hpp"

#include <httplib.h>

namespace steward::input {

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start(const std::string& address,
                         const std::function<void(httplib::Server&)>& routes) {
  auto hostPort = parseHostPort(address);
  if (!hostPort) return hostPort.error();
  server_ = std::make_unique<httplib::Server>();
  routes(*server_);
  const int port = hostPort->second == 0 ? server_->bind_to_any_port(hostPort->first)
                   : server_->bind_to_port(hostPort->first, hostPort->second) ? hostPort->second
                                                                              : -1;
  if (port <= 0) {
    server_.reset();
    return Error{"cannot listen on " + address};
  }
  port_ = static_cast<uint16_t>(port);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return {};
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace steward::input
