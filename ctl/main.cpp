// steward-ctl entry point: parse, connect to the local daemon's socket, print what comes back.
#include "ctl/ctl.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

using namespace steward;

namespace {

// A connected unix stream socket, closed on scope exit.
class Connection {
 public:
  static Result<Connection> open(const std::filesystem::path& path) {
    sockaddr_un addr{};
    if (path.string().size() >= sizeof(addr.sun_path)) return Error{"socket path too long: " + path.string()};
    Connection c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (c.fd_ < 0) return Error{std::string("cannot create a socket: ") + std::strerror(errno)};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(c.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return Error{"cannot reach the daemon at " + path.string() + ": " + std::strerror(errno)};
    }
    return c;
  }
  Connection(Connection&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  Status writeAll(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Error{std::string("cannot write to the daemon: ") + std::strerror(errno)};
      data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }

  // The next line, or nullopt at the end of the connection or the deadline (timedOut tells).
  std::optional<std::string> readLine(std::chrono::steady_clock::time_point deadline, bool& timedOut) {
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timedOut = true;
        return std::nullopt;
      }
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
      if (ready < 0 && errno != EINTR) return std::nullopt;
      if (ready <= 0) continue;
      char chunk[64 * 1024];
      const ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  explicit Connection(int fd) : fd_(fd) {}
  int fd_;
  std::string buffer_;
};

int flush(ctl::Output& output) {
  std::cout << output.out << std::flush;
  std::cerr << output.err << std::flush;
  output = {};
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = ctl::parseArguments(argc, argv);
  if (!parsed) {
    std::cerr << "steward-ctl: " << parsed.error().message << "\n";
    return ctl::kUsage;
  }
  if (!parsed->options) {
    std::cout << parsed->help;
    return ctl::kOk;
  }
  const ctl::Options& options = *parsed->options;
  auto request = ctl::buildRequest(options, ctl::centralNodeName(options));
  if (!request) {
    std::cerr << "steward-ctl: " << request.error().message << "\n";
    return ctl::kUsage;
  }
  auto path = ctl::socketPath(options);
  if (!path) {
    std::cerr << "steward-ctl: " << path.error().message << "\n";
    return ctl::kLocalFailure;
  }
  auto connection = Connection::open(*path);
  if (!connection) {
    std::cerr << "steward-ctl: " << connection.error().message << "\n";
    return ctl::kLocalFailure;
  }
  if (auto s = connection->writeAll(*request + "\n"); !s) {
    std::cerr << "steward-ctl: " << s.error().message << "\n";
    return ctl::kLocalFailure;
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(options.timeoutSeconds + ctl::kTravelSeconds);
  ctl::Printer printer(options);
  ctl::Output output;
  bool timedOut = false;
  while (auto line = connection->readLine(deadline, timedOut)) {
    const bool more = printer.take(*line, output);
    flush(output);
    if (!more) break;
  }
  const int code = printer.finish(timedOut, output);
  flush(output);
  return code;
}
