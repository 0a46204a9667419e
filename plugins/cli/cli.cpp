// REQCliCommand (sequenced) and REQnCliCommand (concurrent): run `data` as a command line
// (data[0] is the program, looked up in PATH; the rest are its arguments) and reply with its
// standard output once it is done; the reply's result says its standard error ("stderr") and
// how it ended ("exitStatus", or "signal" when a signal ended it).
//
// REQnCliCommandCont (concurrent): the same, but standard output and error are sent back while
// the command runs, as whole lines in the order they came, one reply per half second (sooner under
// a flood), and a last line says how it ended: "[exit status N]" or "[killed ...]".
//
// The command runs in a process group of its own. When methodTimeout is reached, or the call is
// cancelled, the whole group is killed, so `bash -c "sleep 100 & ..."` leaves nothing behind.
// The command is done when its output pipes are closed (as with a shell's `$(...)`), so output of
// background children that keep the pipe open is collected too, up to the deadline.
#include <steward/plugin.hpp>
#include <steward/util.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace {

using steward::sdk::Status;

// Keeps the reply within the broker's payload limit; the host cuts again if it must.
constexpr size_t kMaxOutput = 768 * 1024;
constexpr size_t kMaxStderrInError = 4096;


class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
};

bool makePipe(Pipe& p) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  p.read.reset(fds[0]);
  p.write.reset(fds[1]);
  return true;
}

// Appends at most up to `limit` bytes; reports whether anything was dropped.
void appendCapped(std::string& out, const char* data, size_t n, size_t limit, bool& truncated) {
  if (out.size() >= limit) {
    truncated = truncated || n > 0;
    return;
  }
  const size_t room = limit - out.size();
  out.append(data, std::min(n, room));
  if (n > room) truncated = true;
}

class Cli {
 public:
  Cli(steward::sdk::Host host, std::string_view method)
      : host_(host), streaming_(method == "REQnCliCommandCont") {}

  Status handle(const steward::sdk::Request& req, steward::sdk::Call& call) {
    if (req.data().empty() || req.data()[0].empty()) {
      return Status::error("no command given: data must hold the program and its arguments");
    }
    std::vector<std::string> args(req.data().begin(), req.data().end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    Pipe out, err;
    if (!makePipe(out) || !makePipe(err)) {
      return Status::error(std::string("cannot create pipes: ") + std::strerror(errno));
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out.write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err.write.get(), STDERR_FILENO);
    // The daemon's sockets and files stay out of the command.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);

    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      return Status::error("cannot start \"" + args[0] + "\": " + std::strerror(rc));
    }
    out.write.reset();
    err.write.reset();

    std::string stdoutText, stderrText;
    bool outTruncated = false, errTruncated = false, killed = false;
    std::optional<steward::sdk::LineStream> stream;
    if (streaming_) stream.emplace(call);
    const bool timedOut = pump(out.read, err.read, pid, req.deadline(), call, stdoutText,
                               stderrText, outTruncated, errTruncated, killed,
                               stream ? &*stream : nullptr);

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (stream) return finishStream(*stream, call, status, killed, timedOut);
    call.output(stdoutText);
    // Besides the output (data): what it wrote to stderr and how it ended, for scripts.
    call.result("stderr", errTruncated ? stderrText + "\n[steward: stderr cut at " + std::to_string(kMaxOutput) + " bytes]\n"
                                       : stderrText);
    setEnd(call, status, killed);
    if (outTruncated) {
      call.output("\n[steward: output cut at " + std::to_string(kMaxOutput) + " bytes]\n");
    }
    if (killed) {
      return Status::error(timedOut ? "killed with its process group: methodTimeout reached"
                                    : "killed with its process group: cancelled");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::ok();
    std::string why = WIFEXITED(status)
                          ? "exit status " + std::to_string(WEXITSTATUS(status))
                          : "killed by signal " + std::to_string(WTERMSIG(status));
    if (!stderrText.empty()) why += ": " + stderrText;
    return Status::error("\"" + args[0] + "\" failed: " + why);
  }

 private:
  // The last reply of a streamed command says how it ended.
  // The reply's exitStatus (or the signal that ended it).
  static void setEnd(steward::sdk::Call& call, int status, bool killed) {
    if (killed) {
      call.result("signal", std::to_string(SIGKILL));
    } else if (WIFEXITED(status)) {
      call.result("exitStatus", std::to_string(WEXITSTATUS(status)));
    } else if (WIFSIGNALED(status)) {
      call.result("signal", std::to_string(WTERMSIG(status)));
    }
  }

  static Status finishStream(steward::sdk::LineStream& stream, steward::sdk::Call& call, int status, bool killed,
                             bool timedOut) {
    stream.finish();
    setEnd(call, status, killed);
    if (killed) {
      const std::string why = timedOut ? "killed with its process group: methodTimeout reached"
                                       : "killed with its process group: cancelled";
      call.output("[" + why + "]\n");
      return Status::error(why);
    }
    const std::string end = WIFEXITED(status)
                                ? "exit status " + std::to_string(WEXITSTATUS(status))
                                : "killed by signal " + std::to_string(WTERMSIG(status));
    call.output("[" + end + "]\n");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::ok();
    return Status::error(end);
  }

  // Reads both pipes until they close, the deadline passes or the call is cancelled. Returns
  // true when it stopped for the deadline; `killed` says the process group was killed. With a
  // stream, both pipes feed it in arrival order instead of the two texts.
  bool pump(Fd& outFd, Fd& errFd, pid_t pgid, std::chrono::system_clock::time_point deadline,
            steward::sdk::Call& call, std::string& outText, std::string& errText,
            bool& outTruncated, bool& errTruncated, bool& killed, steward::sdk::LineStream* stream) {
    char buf[16384];
    for (;;) {
      if (outFd.get() < 0 && errFd.get() < 0) return false;
      const auto now = std::chrono::system_clock::now();
      const bool expired = now >= deadline;
      if (expired || call.cancelled()) {
        ::kill(-pgid, SIGKILL);
        killed = true;
        return expired;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      // Wake at least every 100 ms to notice a cancel.
      const int wait = static_cast<int>(std::min<int64_t>(left.count() + 1, 100));
      pollfd fds[2] = {{outFd.get(), POLLIN, 0}, {errFd.get(), POLLIN, 0}};
      const int n = ::poll(fds, 2, wait);
      if (n < 0 && errno != EINTR) {
        ::kill(-pgid, SIGKILL);
        killed = true;
        return false;
      }
      if (stream != nullptr) stream->tick();
      if (n <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        const ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
        if (r > 0) {
          if (stream != nullptr) {
            stream->add(buf, static_cast<size_t>(r));
          } else if (i == 0) {
            appendCapped(outText, buf, static_cast<size_t>(r), kMaxOutput, outTruncated);
          } else {
            appendCapped(errText, buf, static_cast<size_t>(r), kMaxStderrInError, errTruncated);
          }
        } else if (r == 0 || errno != EINTR) {
          (i == 0 ? outFd : errFd).reset();
        }
      }
    }
  }

  steward::sdk::Host host_;
  bool streaming_;
};

}  // namespace

// Their data is a command line: the ACL's command patterns apply to them.
STEWARD_PLUGIN(Cli, "cli", "1.0.0",
               steward::sdk::command("REQCliCommand", steward::sdk::Delivery::ack,
                                     steward::sdk::Order::sequenced, steward::sdk::Data::commandLine),
               steward::sdk::command("REQnCliCommand", steward::sdk::Delivery::ack,
                                     steward::sdk::Order::concurrent, steward::sdk::Data::commandLine),
               steward::sdk::command("REQnCliCommandCont", steward::sdk::Delivery::ack,
                                     steward::sdk::Order::concurrent, steward::sdk::Data::commandLine))
