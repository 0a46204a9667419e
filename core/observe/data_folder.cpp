#include "core/observe/data_folder.hpp"

#include <httplib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;

namespace steward::observe {

namespace {

// The request's path as segments under the folder; nullopt when a segment would climb out.
std::optional<fs::path> relativePath(const std::string& urlPath) {
  fs::path relative;
  std::stringstream in(urlPath);
  for (std::string segment; std::getline(in, segment, '/');) {
    if (segment.empty() || segment == ".") continue;
    if (segment == ".." || segment.find('\0') != std::string::npos) return std::nullopt;
    relative /= segment;
  }
  return relative;
}

bool inside(const fs::path& root, const fs::path& candidate) {
  auto [r, c] = std::mismatch(root.begin(), root.end(), candidate.begin(), candidate.end());
  return r == root.end();
}

std::string escapeHtml(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

// The folder's entries as relative links (the folder's URL ends with "/").
std::string listing(const fs::path& folder, const std::string& urlPath) {
  std::vector<std::pair<std::string, bool>> entries;  // name, is a folder
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    entries.emplace_back(entry.path().filename().string(), entry.is_directory(ec));
  }
  std::sort(entries.begin(), entries.end());
  std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" +
                     escapeHtml(urlPath) + "</title></head><body><h1>" + escapeHtml(urlPath) +
                     "</h1><ul>\n";
  for (const auto& [name, isFolder] : entries) {
    const std::string slash = isFolder ? "/" : "";
    html += "<li><a href=\"" + httplib::detail::encode_query_param(name) + slash + "\">" +
            escapeHtml(name) + slash + "</a></li>\n";
  }
  return html + "</ul></body></html>\n";
}

void serve(const fs::path& root, const httplib::Request& req, httplib::Response& res) {
  auto relative = relativePath(req.path);
  if (!relative) {
    res.status = 403;
    res.set_content("403 forbidden: \"..\" is not served; only the data folder is\n", "text/plain");
    return;
  }
  std::error_code ec;
  // Symbolic links are resolved before the check, so one cannot lead outside the folder.
  const fs::path target = fs::weakly_canonical(root / *relative, ec);
  if (ec || !inside(root, target) || !fs::exists(target, ec)) {
    res.status = 404;
    res.set_content("404 not found: " + req.path + "\n", "text/plain");
    return;
  }
  if (fs::is_directory(target, ec)) {
    if (req.path.empty() || req.path.back() != '/') {
      res.set_redirect(httplib::detail::encode_query_param(fs::path(req.path).filename().string()) + "/");
      return;
    }
    res.set_content(listing(target, req.path), "text/html; charset=utf-8");
    return;
  }
  // Opened once and streamed from that descriptor: the file may grow while it is read.
  const int fd = ::open(target.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) ::close(fd);
    res.status = 403;
    res.set_content("403 forbidden: not a readable regular file\n", "text/plain");
    return;
  }
  auto file = std::shared_ptr<int>(new int(fd), [](int* f) {
    ::close(*f);
    delete f;
  });
  res.set_content_provider(
      static_cast<size_t>(st.st_size), "text/plain; charset=utf-8",
      [file](size_t offset, size_t length, httplib::DataSink& sink) {
        char buffer[64 * 1024];
        const ssize_t n = ::pread(*file, buffer, std::min(length, sizeof buffer),
                                  static_cast<off_t>(offset));
        if (n <= 0) return false;
        sink.write(buffer, static_cast<size_t>(n));
        return true;
      });
}

}  // namespace

DataFolderServer::DataFolderServer(fs::path folder, std::string address)
    : folder_(std::move(folder)), address_(std::move(address)) {}

DataFolderServer::~DataFolderServer() { stop(); }

Status DataFolderServer::start() {
  std::error_code ec;
  const fs::path root = fs::canonical(folder_, ec);
  if (ec) return Error{"exposeDataFolder: cannot open " + folder_.string() + ": " + ec.message()};
  auto started = server_.start(address_, [root](httplib::Server& server) {
    server.Get(".*", [root](const httplib::Request& req, httplib::Response& res) {
      serve(root, req, res);
    });
  });
  if (!started) return Error{"exposeDataFolder: " + started.error().message};
  return {};
}

void DataFolderServer::stop() { server_.stop(); }

}  // namespace steward::observe
