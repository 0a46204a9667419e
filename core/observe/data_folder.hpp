// exposeDataFolder: the subscribers' data folder (where replies, hellos and error logs are
// written) served read-only over HTTP, for dashboards and quick looks from a browser. GET of a
// folder lists it, GET of a file returns it. Nothing outside the folder is served: a path with a
// ".." segment is refused, and a symbolic link that leads outside is not followed. No
// authentication: bind it to 127.0.0.1 or a trusted interface only.
#pragma once

#include "core/input/http_server.hpp"
#include "core/util/result.hpp"

#include <filesystem>
#include <string>

namespace steward::observe {

class DataFolderServer {
 public:
  DataFolderServer(std::filesystem::path folder, std::string address);
  ~DataFolderServer();
  // Binds ("host:port"; port 0 picks a free one) and serves on a thread of its own.
  Status start();
  void stop();
  uint16_t port() const { return server_.port(); }

 private:
  std::filesystem::path folder_;
  std::string address_;
  input::HttpServer server_;
};

}  // namespace steward::observe
