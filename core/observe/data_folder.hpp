// exposeDataFolder: the subscribers' data folder (where replies, hellos and error logs are
// written) served read-only over HTTP, for dashboards and quick looks from a browser. GET of a
// folder lists it, GET of a file returns it. Nothing outside the folder is served: a path with a
// ".." segment is refused, and no symbolic link inside the folder is followed, at any level
// (every folder is opened from the one before with O_NOFOLLOW). No authentication: bind it to
// 127.0.0.1 or a trusted interface only. Slow and idle clients are bounded as on every listener.
#pragma once

#include "core/net/http_server.hpp"
#include "core/util/result.hpp"

#include <filesystem>
#include <string>

namespace steward::observe {

class DataFolderServer {
 public:
  DataFolderServer(boost::asio::io_context& io, std::filesystem::path folder, std::string address);
  // Binds ("host:port"; port 0 picks a free one) and serves.
  Status start();
  void stop();
  uint16_t port() const { return server_.port(); }

 private:
  std::filesystem::path folder_;
  std::string address_;
  net::HttpServer server_;
};

}  // namespace steward::observe
