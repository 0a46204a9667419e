// steward SDK: small helpers for plugins (header-only, standard library only).
#pragma once

#include <steward/plugin.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace steward::sdk {

// "2026-11-24T21:30:05Z" for the given time (default: now), UTC.
inline std::string utcTimestamp(
    std::chrono::system_clock::time_point when = std::chrono::system_clock::now()) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The request's data as text: each element, with a newline added where it lacks one.
inline std::string joinLines(const std::vector<std::string_view>& data) {
  std::string text;
  for (auto d : data) {
    text.append(d);
    if (!d.empty() && d.back() != '\n') text.push_back('\n');
  }
  return text;
}

// For methods that report while they run: collects output, passes on whole lines only, and emits
// them as a reply once `every` has passed since the last one, or sooner past `maxBytes`.
class LineStream {
 public:
  explicit LineStream(Call& call, std::chrono::milliseconds every = std::chrono::milliseconds(500),
                      size_t maxBytes = 256 * 1024)
      : call_(call), every_(every), maxBytes_(maxBytes) {}
  void add(const char* data, size_t n) {
    pending_.append(data, n);
    const auto end = pending_.rfind('\n');
    if (end == std::string::npos) return;
    call_.output(std::string_view(pending_).substr(0, end + 1));
    buffered_ += end + 1;
    pending_.erase(0, end + 1);
  }
  // Call often: emits when it is time.
  void tick() {
    const auto now = std::chrono::steady_clock::now();
    if (buffered_ == 0 || (now - last_ < every_ && buffered_ < maxBytes_)) return;
    if (call_.emit()) buffered_ = 0;
    last_ = now;
  }
  // Moves an unfinished last line to the output, for the final reply.
  void finish() {
    if (!pending_.empty()) call_.output(pending_ + "\n");
    pending_.clear();
  }

 private:
  Call& call_;
  std::chrono::milliseconds every_;
  size_t maxBytes_;
  std::string pending_;
  size_t buffered_ = 0;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Writes `bytes` to `path`, creating its folder. append=false replaces the file's content.
// Refuses to follow a symbolic link at the last component.
inline Status writeFile(const std::filesystem::path& path, std::string_view bytes, bool append) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return Status::error("cannot create folder " + path.parent_path().string() + ": " + ec.message());
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (append ? O_APPEND : O_TRUNC);
  const int fd = ::open(path.c_str(), flags, 0640);
  if (fd < 0) return Status::error("cannot open " + path.string() + ": " + std::strerror(errno));
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Status::error("cannot write " + path.string() + ": " + why);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd) != 0) return Status::error("cannot close " + path.string() + ": " + std::strerror(errno));
  return Status::ok();
}

}  // namespace steward::sdk
