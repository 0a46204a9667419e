// steward-ctl entry point: parse, connect to the local daemon's socket, print what comes back.
#include "ctl/ctl.hpp"

#include "core/util/json.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
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

// What is printed, and the progress line on stderr, rewritten in place when stderr is a
// terminal (and left out when it is not).
class Screen {
 public:
  Screen() : terminal_(::isatty(STDERR_FILENO) == 1) {}
  void show(ctl::Output& output) {
    if (!output.out.empty() || !output.err.empty()) clearProgress();
    std::cout << output.out << std::flush;
    std::cerr << output.err << std::flush;
    if (terminal_ && !output.progress.empty()) {
      std::cerr << "\r\033[K" << output.progress << std::flush;
      progress_ = output.progress;
    } else if (!progress_.empty() && (!output.out.empty() || !output.err.empty())) {
      std::cerr << progress_ << std::flush;  // put back under what was printed
    }
    output = {};
  }
  void clearProgress() {
    if (progress_.empty()) return;
    std::cerr << "\r\033[K" << std::flush;
  }
  void end() {
    clearProgress();
    progress_.clear();
  }

 private:
  bool terminal_;
  std::string progress_;
};

// Sends `request` and gives the daemon's lines to `take` until it wants no more, the connection
// ends or `seconds` pass; whether it ended by the deadline.
Result<bool> exchange(const std::filesystem::path& socket, const std::string& request, int64_t seconds,
                      const std::function<bool(const std::string&)>& take) {
  auto connection = Connection::open(socket);
  if (!connection) return connection.error();
  if (auto s = connection->writeAll(request + "\n"); !s) return s.error();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  bool timedOut = false;
  while (auto line = connection->readLine(deadline, timedOut)) {
    if (!take(*line)) break;
  }
  return timedOut;
}

// Central's node list (the JSON of REQOpCommand nodes), through the local daemon.
Result<std::string> fleetList(const std::filesystem::path& socket, const std::string& central) {
  std::optional<std::string> list;
  std::string error;
  auto ended = exchange(socket, ctl::fleetRequest(central), 30, [&](const std::string& line) {
    auto d = json::parse(line, "the daemon's answer");
    if (!d || !d->IsObject()) return true;
    if (d->HasMember("ok") && (!(*d)["ok"].IsBool() || !(*d)["ok"].GetBool())) {
      error = d->HasMember("error") && (*d)["error"].IsString() ? (*d)["error"].GetString() : line;
      return false;
    }
    if (d->HasMember("error") && (*d)["error"].IsString() && (*d)["error"].GetStringLength() > 0) {
      error = (*d)["error"].GetString();
      return false;
    }
    if (d->HasMember("data") && (*d)["data"].IsArray() && !(*d)["data"].Empty() && (*d)["data"][0].IsString()) {
      list = (*d)["data"][0].GetString();
      return false;
    }
    return !d->HasMember("done");
  });
  if (!ended) return ended.error();
  if (list) return *list;
  if (!error.empty()) return Error{"cannot get central's node list: " + error};
  return Error{"cannot get central's node list: no answer from " + central + " within 30 s"};
}

// keys allow of several nodes asks first, unless --yes.
bool confirmed(const ctl::Options& options) {
  if (options.command != "keys" || options.nodes.size() < 2 || options.yes) return true;
  std::cerr << "Allow the keys of " << options.nodes.size() << " nodes:";
  for (const auto& n : options.nodes) std::cerr << " " << n;
  if (::isatty(STDIN_FILENO) != 1) {
    std::cerr << "\nsteward-ctl: not asking without a terminal; give --yes to allow them\n";
    return false;
  }
  std::cerr << "? [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
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
  ctl::Options options = *parsed->options;
  auto path = ctl::socketPath(options);
  if (!path) {
    std::cerr << "steward-ctl: " << path.error().message << "\n";
    return ctl::kLocalFailure;
  }
  const std::string central = ctl::centralNodeName(options);
  if (ctl::needsFleet(options)) {
    auto list = fleetList(*path, central);
    if (!list) {
      std::cerr << "steward-ctl: " << list.error().message << "\n";
      return ctl::kLocalFailure;
    }
    auto targets = ctl::resolveTargets(options, *list);
    if (!targets) {
      std::cerr << "steward-ctl: " << targets.error().message << "\n";
      return ctl::kUsage;
    }
    options.nodes = std::move(targets).value();
  } else {
    options.nodes = ctl::plainTargets(options);
  }
  if (!confirmed(options)) return ctl::kUsage;
  auto request = ctl::buildRequest(options, central, ctl::localNodeName(options));
  if (!request) {
    std::cerr << "steward-ctl: " << request.error().message << "\n";
    return ctl::kUsage;
  }
  ctl::Printer printer(options);
  ctl::Output output;
  Screen screen;
  auto ended = exchange(*path, *request, options.timeoutSeconds + ctl::kTravelSeconds,
                        [&](const std::string& line) {
                          const bool more = printer.take(line, output);
                          screen.show(output);
                          return more;
                        });
  if (!ended) {
    std::cerr << "steward-ctl: " << ended.error().message << "\n";
    return ctl::kLocalFailure;
  }
  screen.end();
  const int code = printer.finish(*ended, output);
  screen.show(output);
  return code;
}
