#include "core/util/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fs = std::filesystem;

namespace steward::files {

Result<std::string> readRegular(const fs::path& path, size_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Error{errno == ELOOP ? "a link (skipped)" : std::string("cannot be read: ") + std::strerror(errno)};
  const std::string tooLarge = "larger than " + std::to_string(limit) + " bytes (skipped)";
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "not a regular file (skipped)";
  } else if (static_cast<size_t>(st.st_size) > limit) {
    why = tooLarge;
  }
  std::string text;
  char chunk[4096];
  for (ssize_t n; why.empty() && (n = ::read(fd, chunk, sizeof chunk)) > 0;) {
    text.append(chunk, static_cast<size_t>(n));
    if (text.size() > limit) why = tooLarge;  // it grew while it was read
  }
  ::close(fd);
  if (!why.empty()) return Error{why};
  return text;
}

namespace {

// Writes all of `text` to `fd` and syncs it.
bool writeAll(int fd, std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    const ssize_t n = ::write(fd, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return ::fsync(fd) == 0;
}

}  // namespace

Status writeNew(const fs::path& file, std::string_view text, mode_t mode) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Error{"cannot create " + file.string() + ": " + std::strerror(errno)};
  const bool ok = writeAll(fd, text);
  ::close(fd);
  if (!ok) return Error{"cannot write " + file.string()};
  return {};
}

Status replace(const fs::path& file, std::string_view text, mode_t mode) {
  const fs::path temporary = file.parent_path() / ("." + file.filename().string() + ".new-" + std::to_string(::getpid()));
  ::unlink(temporary.c_str());  // left by a crash of an earlier process with the same id
  if (auto s = writeNew(temporary, text, mode); !s) return s;
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temporary.c_str());
    return Error{"cannot put " + file.string() + " in place: " + why};
  }
  if (const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace steward::files
