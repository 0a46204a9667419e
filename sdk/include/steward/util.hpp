// steward SDK: small helpers for plugins (header-only, standard library only).
#pragma once

#include <steward/plugin.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <algorithm>
#include <filesystem>
#include <optional>
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

// A file descriptor that closes itself.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// `path` (which is `root` / something, as req.outputPath() is to req.dataFolder()) as the parts
// below `root`; "" and "." parts dropped. false, with `error` set, for a ".." part or a path that
// does not start with `root`.
inline bool partsBeneath(const std::filesystem::path& root, const std::filesystem::path& path,
                         std::vector<std::string>& parts, std::string& error) {
  auto split = [](const std::filesystem::path& p, std::vector<std::string>& out) {
    for (const auto& component : p) {
      const std::string part = component.string();
      if (part.empty() || part == "." || part == "/") continue;
      if (part == "..") return false;
      out.push_back(part);
    }
    return true;
  };
  std::vector<std::string> rootParts;
  parts.clear();
  if (!split(path, parts)) {
    error = path.string() + " climbs out of " + root.string() + " with \"..\"";
    return false;
  }
  if (!split(root.lexically_normal(), rootParts) || path.is_absolute() != root.is_absolute() ||
      parts.size() < rootParts.size() || !std::equal(rootParts.begin(), rootParts.end(), parts.begin())) {
    error = path.string() + " is not inside " + root.string();
    return false;
  }
  parts.erase(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(rootParts.size()));
  return true;
}

// Opens the folder `parts` below the open folder `base`, one part at a time, never following a
// symbolic link (O_NOFOLLOW | O_DIRECTORY at every level) and creating missing folders (0750)
// when `create`. A link planted anywhere along the way is refused, not followed.
inline UniqueFd openFolderAt(int base, const std::vector<std::string>& parts, bool create,
                             const std::string& where, std::string& error) {
  UniqueFd current(::fcntl(base, F_DUPFD_CLOEXEC, 0));
  if (!current.valid()) {
    error = "cannot open " + where + ": " + std::strerror(errno);
    return {};
  }
  std::string walked = where;
  for (const auto& part : parts) {
    walked += "/" + part;
    int fd = ::openat(current.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(current.get(), part.c_str(), 0750) != 0 && errno != EEXIST) {
        error = "cannot create folder " + walked + ": " + std::strerror(errno);
        return {};
      }
      fd = ::openat(current.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      error = (errno == ELOOP || errno == ENOTDIR)
                  ? walked + " is a symbolic link or not a folder; steward does not follow links"
                                                                    " inside its data folder"
                  : "cannot open folder " + walked + ": " + std::strerror(errno);
      return {};
    }
    current = UniqueFd(fd);
  }
  return current;
}

// The folder that holds `path` (`root` / something), opened from `root` without following a
// link at any level (openFolderAt; missing folders created when `create`), and in `name` the
// file's name in it. `root` itself is opened as configured.
inline UniqueFd openParentBeneath(const std::filesystem::path& root, const std::filesystem::path& path,
                                  bool create, std::string& name, std::string& error) {
  std::vector<std::string> parts;
  if (!partsBeneath(root, path, parts, error)) return {};
  UniqueFd rootFd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootFd.valid()) {
    error = "cannot open " + root.string() + ": " + std::strerror(errno);
    return {};
  }
  if (parts.empty()) {
    error = path.string() + " names the folder " + root.string() + ", not a file in it";
    return {};
  }
  name = parts.back();
  parts.pop_back();
  return openFolderAt(rootFd.get(), parts, create, root.string(), error);
}

// The file `name` in the open `folder`, opened with `flags` and O_NOFOLLOW (`shown`: how errors
// name it).
inline UniqueFd openInFolder(int folder, const std::string& name, int flags, mode_t mode,
                             const std::string& shown, std::string& error) {
  const int fd = ::openat(folder, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    error = errno == ELOOP ? shown + " is a symbolic link; steward does not follow links"
                                     " inside its data folder"
                           : "cannot open " + shown + ": " + std::strerror(errno);
    return {};
  }
  return UniqueFd(fd);
}

// Opens the file `path` (`root` / something) with `flags`, walking every folder below `root`
// without following links and opening the file itself with O_NOFOLLOW. Missing folders are
// created when `flags` has O_CREAT. Returns an invalid descriptor and says why in `error`
// otherwise.
inline UniqueFd openBeneath(const std::filesystem::path& root, const std::filesystem::path& path,
                            int flags, std::string& error, mode_t mode = 0640) {
  std::string name;
  UniqueFd folder = openParentBeneath(root, path, (flags & O_CREAT) != 0, name, error);
  if (!folder.valid()) return {};
  return openInFolder(folder.get(), name, flags, mode, path.string(), error);
}

// Writes all of `bytes` to `fd`, then closes it; a close that fails is an error too.
inline Status writeAndClose(UniqueFd fd, std::string_view bytes, const std::string& what) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::error("cannot write " + what + ": " + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd.release()) != 0) return Status::error("cannot close " + what + ": " + std::strerror(errno));
  return Status::ok();
}

enum class WriteMode {
  append,    // added at the end
  truncate,  // the file's content replaced in place
  replace,   // written to a temporary file beside it, then renamed over it: never seen half done
};

// Writes `bytes` to `path`, a file inside `root` (`root` / something), creating
// missing folders. No symbolic link is followed below `root`, at any level: a link planted in
// the data folder cannot lead a write out of it. What plugins should use for files in
// req.dataFolder(), e.g. writeFileBeneath(req.dataFolder(), req.outputPath(), text, append).
// `permissions`: the file's mode (made with it, and set to it if it was there), instead of 0640
// for a new file.
inline Status writeFileBeneath(const std::filesystem::path& root, const std::filesystem::path& path,
                               std::string_view bytes, WriteMode mode,
                               std::optional<mode_t> permissions = std::nullopt) {
  std::string error;
  std::string name;
  // The folder is opened once; the file, or the temporary file and its rename, are in it.
  UniqueFd folder = openParentBeneath(root, path, true, name, error);
  if (!folder.valid()) return Status::error(error);
  const int open = O_WRONLY | O_CREAT | (mode == WriteMode::append ? O_APPEND : O_TRUNC);
  const bool replace = mode == WriteMode::replace;
  const std::string written = replace ? name + ".tmp" : name;
  const std::string shown = replace ? path.string() + ".tmp" : path.string();
  UniqueFd fd = openInFolder(folder.get(), written, open, permissions.value_or(0640), shown, error);
  if (!fd.valid()) return Status::error(error);
  if (permissions && ::fchmod(fd.get(), *permissions) != 0) {
    return Status::error("cannot set the mode of " + shown + ": " + std::strerror(errno));
  }
  if (auto s = writeAndClose(std::move(fd), bytes, shown); !s.isOk() || !replace) return s;
  if (::renameat(folder.get(), written.c_str(), folder.get(), name.c_str()) != 0) {
    return Status::error("cannot replace " + path.string() + ": " + std::strerror(errno));
  }
  return Status::ok();
}

// Writes `bytes` to `path`, creating its folder. append=false replaces the file's content.
// Refuses to follow a symbolic link at the last component only: for files in the data folder use
// writeFileBeneath, which refuses links at every level.
inline Status writeFile(const std::filesystem::path& path, std::string_view bytes, bool append) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return Status::error("cannot create folder " + path.parent_path().string() + ": " + ec.message());
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (append ? O_APPEND : O_TRUNC);
  UniqueFd fd(::open(path.c_str(), flags, 0640));
  if (!fd.valid()) return Status::error("cannot open " + path.string() + ": " + std::strerror(errno));
  return writeAndClose(std::move(fd), bytes, path.string());
}

}  // namespace steward::sdk
