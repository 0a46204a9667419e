#include "core/input/fleet_view.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward;
namespace fs = std::filesystem;

TEST(FleetViewSettings, OnlyLoopbackAddressesAreServed) {
  for (const char* ok : {"127.0.0.1:8090", "127.0.0.53:1", "[::1]:8090", "localhost:0"}) {
    EXPECT_TRUE(input::checkLoopback(ok).ok()) << ok;
  }
  for (const char* refused : {"0.0.0.0:8090", "10.1.2.3:8090", "[::]:8090", "example.org:80", "8090"}) {
    EXPECT_FALSE(input::checkLoopback(refused).ok()) << refused;
  }
  EXPECT_NE(input::checkLoopback("0.0.0.0:1").error().message.find("SSH tunnel"), std::string::npos);
}

TEST(FleetViewSettings, TheTokenIsMadeOnceOwnerOnlyAndKept) {
  const fs::path dir = fs::temp_directory_path() / ("fleet-view-token-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const fs::path file = dir / "db" / "fleet-view.token";
  auto first = input::fleetViewToken(file);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->size(), 48u);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(input::fleetViewToken(file).value(), first.value());
  std::ofstream(file) << "short\n";
  EXPECT_FALSE(input::fleetViewToken(file).ok());
  fs::remove_all(dir);
}
