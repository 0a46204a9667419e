#include "core/observe/data_folder.hpp"

#include <steward/util.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;

namespace steward::observe {

namespace {

using net::HttpResponse;

// The request's path as folder names under the data folder; nullopt when a segment would climb
// out.
std::optional<std::vector<std::string>> segments(const std::string& urlPath) {
  std::vector<std::string> out;
  std::stringstream in(urlPath);
  for (std::string segment; std::getline(in, segment, '/');) {
    if (segment.empty() || segment == ".") continue;
    if (segment == ".." || segment.find('\0') != std::string::npos) return std::nullopt;
    out.push_back(segment);
  }
  return out;
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

// The open folder's entries as relative links (the folder's URL ends with "/"). A link inside
// is listed as what it is, never followed.
std::string listing(sdk::UniqueFd folder, const std::string& urlPath) {
  std::vector<std::pair<std::string, bool>> entries;  // name, is a folder
  if (DIR* dir = ::fdopendir(folder.release())) {
    while (const dirent* e = ::readdir(dir)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      const bool isFolder = ::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                            S_ISDIR(st.st_mode);
      entries.emplace_back(name, isFolder);
    }
    ::closedir(dir);
  }
  std::sort(entries.begin(), entries.end());
  std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" +
                     escapeHtml(urlPath) + "</title></head><body><h1>" + escapeHtml(urlPath) +
                     "</h1><ul>\n";
  for (const auto& [name, isFolder] : entries) {
    const std::string slash = isFolder ? "/" : "";
    html += "<li><a href=\"" + net::encodePathSegment(name) + slash + "\">" + escapeHtml(name) +
            slash + "</a></li>\n";
  }
  return html + "</ul></body></html>\n";
}

HttpResponse serve(const fs::path& root, const net::HttpRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    return HttpResponse::text(405, "405 method not allowed: the data folder is read-only\n");
  }
  auto parts = segments(req.path);
  if (!parts) return HttpResponse::text(403, "403 forbidden: \"..\" is not served; only the data folder is\n");
  const HttpResponse notFound = HttpResponse::text(404, "404 not found: " + req.path + "\n");
  sdk::UniqueFd rootFd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootFd.valid()) return notFound;
  // Every folder on the way is opened from the one before without following a link; the last
  // part is then opened the same way, as a folder or as a file.
  std::vector<std::string> folders = *parts;
  std::string last;
  if (!folders.empty()) {
    last = folders.back();
    folders.pop_back();
  }
  std::string error;
  sdk::UniqueFd parent = sdk::openFolderAt(rootFd.get(), folders, false, root.string(), error);
  if (!parent.valid()) return notFound;
  sdk::UniqueFd target = last.empty() ? std::move(parent)
                                      : sdk::openInFolder(parent.get(), last, O_RDONLY | O_NONBLOCK, 0,
                                                          req.path, error);
  struct stat st {};
  // A symbolic link is not served: not found, like anything else outside the folder.
  if (!target.valid() || ::fstat(target.get(), &st) != 0) return notFound;
  if (S_ISDIR(st.st_mode)) {
    if (req.path.empty() || req.path.back() != '/') {
      HttpResponse r = HttpResponse::text(302, "");
      r.location = net::encodePathSegment(last) + "/";
      return r;
    }
    HttpResponse r;
    r.contentType = "text/html; charset=utf-8";
    r.body = listing(std::move(target), req.path);
    return r;
  }
  if (!S_ISREG(st.st_mode)) return HttpResponse::text(403, "403 forbidden: not a readable regular file\n");
  // Sent from the descriptor opened here: a link swapped in meanwhile changes nothing.
  HttpResponse r;
  r.fileFd = target.release();
  r.fileSize = static_cast<uint64_t>(st.st_size);
  return r;
}

}  // namespace

DataFolderServer::DataFolderServer(boost::asio::io_context& io, fs::path folder, std::string address)
    : folder_(std::move(folder)), address_(std::move(address)), server_(io, "exposeDataFolder") {}

Status DataFolderServer::start() {
  std::error_code ec;
  const fs::path root = fs::canonical(folder_, ec);
  if (ec) return Error{"exposeDataFolder: cannot open " + folder_.string() + ": " + ec.message()};
  auto started = server_.start(address_, [root](const net::HttpRequest& req) { return serve(root, req); });
  if (!started) return Error{"exposeDataFolder: " + started.error().message};
  return {};
}

void DataFolderServer::stop() { server_.stop(); }

}  // namespace steward::observe
