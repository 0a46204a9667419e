// Small POSIX helpers shared by unit and end-to-end tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace steward::testing {

// True while the process exists and is not a zombie waiting for a reaper.
inline bool processAlive(int pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pidField, comm, state;
  stat >> pidField >> comm >> state;
  return state != "Z";
}

// Writes `input` to a connected stream socket, half-closes if asked, returns all that comes back,
// and closes the socket.
inline std::string exchange(int fd, const std::string& input, bool halfClose) {
  std::string_view rest = input;
  while (!rest.empty()) {
    // MSG_NOSIGNAL: a server that refuses and closes early must not kill the test with SIGPIPE.
    const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (halfClose) ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return answer;
}

// A connected unix stream socket, or -1.
inline int connectUnix(const std::filesystem::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A TCP socket connected to 127.0.0.1:port, or -1.
inline int connectTcp(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The same over a unix socket.
inline std::string unixRoundTrip(const std::filesystem::path& path, const std::string& input,
                                 bool halfClose = true) {
  const int fd = connectUnix(path);
  if (fd < 0) return "cannot connect to " + path.string() + ": " + std::strerror(errno);
  return exchange(fd, input, halfClose);
}

// The same over TCP to 127.0.0.1:port.
inline std::string tcpRoundTrip(uint16_t port, const std::string& input, bool halfClose = true) {
  const int fd = connectTcp(port);
  if (fd < 0) return "cannot connect";
  return exchange(fd, input, halfClose);
}

}  // namespace steward::testing
