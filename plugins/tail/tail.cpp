// REQTailFile: follows data[0] on the receiving node from its current end and sends new lines
// back while it runs (batched, as REQnCliCommandCont does), until methodTimeout ends it.
//
// It keeps following when the file is rotated (renamed away and a new file created under the
// name: the rest of the old file is read, then the new one from its start) and when it is
// truncated (read again from the start). inotify on the file's folder wakes it; a poll every
// 100 ms notices a cancel. A file that is missing or unreadable at the start is an error reply.
// It logs where it follows from ("following <file> from offset N"), again after a rotation or a
// truncation: what an operator (and a test) can wait on.
#include <steward/plugin.hpp>
#include <steward/util.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>

namespace {

using steward::sdk::Status;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

class Tail {
 public:
  Tail(steward::sdk::Host host, std::string_view) : host_(host) {}

  Status handle(const steward::sdk::Request& req, steward::sdk::Call& call) {
    if (req.data().empty() || req.data()[0].empty()) {
      return Status::error("no file given: data must hold the path of the file to follow");
    }
    const std::filesystem::path path(std::string(req.data()[0]));
    Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (file.get() < 0) return Status::error("cannot open " + path.string() + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::error(path.string() + " is not a regular file");
    }
    off_t offset = st.st_size;  // from the end: only what is written from now on

    Fd notify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    const std::string folder = path.has_parent_path() ? path.parent_path().string() : ".";
    if (notify.get() < 0 ||
        ::inotify_add_watch(notify.get(), folder.c_str(),
                            IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                IN_CLOSE_WRITE | IN_ATTRIB) < 0) {
      return Status::error("cannot watch " + folder + ": " + std::strerror(errno));
    }

    auto following = [&](const char* why) {
      host_.info("following " + path.string() + " from offset " + std::to_string(offset) + why);
    };
    following("");
    steward::sdk::LineStream stream(call);
    char buf[65536];
    auto drain = [&] {
      struct stat now {};
      if (::fstat(file.get(), &now) == 0 && now.st_size < offset) {
        offset = 0;
        following(" (truncated)");
      }
      for (;;) {
        const ssize_t n = ::pread(file.get(), buf, sizeof buf, offset);
        if (n <= 0) break;
        stream.add(buf, static_cast<size_t>(n));
        offset += n;
      }
    };
    // Rotated: the name now holds another file. Finish the old one, then follow the new one.
    auto followRenames = [&] {
      struct stat byName {}, current {};
      if (::stat(path.c_str(), &byName) != 0 || ::fstat(file.get(), &current) != 0) return;
      if (byName.st_ino == current.st_ino && byName.st_dev == current.st_dev) return;
      drain();
      const int next = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (next < 0) return;
      file.reset(next);
      offset = 0;
      following(" (rotated)");
    };

    while (!call.cancelled() && std::chrono::system_clock::now() < req.deadline()) {
      pollfd p{notify.get(), POLLIN, 0};
      const int n = ::poll(&p, 1, 100);
      if (n > 0) {
        while (::read(notify.get(), buf, sizeof buf) > 0) {
        }
      }
      drain();
      followRenames();
      drain();
      stream.tick();
    }
    drain();
    stream.finish();
    return Status::ok();
  }

 private:
  steward::sdk::Host host_;
};

}  // namespace

STEWARD_PLUGIN(Tail, "tail", "1.0.0",
               steward::sdk::command("REQTailFile", steward::sdk::Delivery::ack,
                                     steward::sdk::Order::concurrent))
