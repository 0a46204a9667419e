// A cpp-httplib server serving on a thread of its own: what the HTTP input and exposeDataFolder
// share.
#pragma once

#include "core/util/result.hpp"

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace steward::input {

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  // Lets `routes` set up the server, binds ("host:port"; port 0 picks a free one) and serves.
  Status start(const std::string& address, const std::function<void(httplib::Server&)>& routes);
  void stop();
  uint16_t port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace steward::input
