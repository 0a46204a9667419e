#include "core/util/service_notify.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

using namespace steward;

namespace {

// A datagram socket standing in for systemd's: bound to a file path, or to a name in the abstract
// namespace when `name` starts with '@'.
class ManagerSocket {
 public:
  explicit ManagerSocket(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name[0] == '@') address.sun_path[0] = '\0';
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&address),
                    static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) == 0;
    const timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~ManagerSocket() { ::close(fd_); }
  bool bound() const { return bound_; }
  std::string receive() const {
    char buffer[512];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string("(nothing)");
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

class ServiceNotify : public testing::Test {
 protected:
  void TearDown() override { ::unsetenv("NOTIFY_SOCKET"); }
};

}  // namespace

TEST_F(ServiceNotify, ADatagramReachesASocketFile) {
  const auto path = std::filesystem::temp_directory_path() / ("steward-notify-" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  ManagerSocket manager(path.string());
  ASSERT_TRUE(manager.bound());
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  EXPECT_TRUE(notifyServiceManager("READY=1\nSTATUS=node ship1 running"));
  EXPECT_EQ(manager.receive(), "READY=1\nSTATUS=node ship1 running");
  std::filesystem::remove(path);
}

TEST_F(ServiceNotify, ADatagramReachesAnAbstractName) {
  const std::string name = "@steward-notify-" + std::to_string(::getpid());
  ManagerSocket manager(name);
  ASSERT_TRUE(manager.bound());
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  EXPECT_TRUE(notifyServiceManager("STOPPING=1"));
  EXPECT_EQ(manager.receive(), "STOPPING=1");
}

TEST_F(ServiceNotify, WithoutAUsableSocketNothingIsSentAndNothingFails) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(notifyServiceManager("READY=1"));
  for (const std::string& bad : {std::string(), std::string("@"), std::string("relative/path"),
                                 std::string(200, '/'), std::string("/nonexistent/steward.notify")}) {
    ::setenv("NOTIFY_SOCKET", bad.c_str(), 1);
    EXPECT_FALSE(notifyServiceManager("READY=1")) << bad;
  }
}
