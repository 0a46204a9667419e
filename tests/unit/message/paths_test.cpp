#include "core/message/paths.hpp"

#include <gtest/gtest.h>

using namespace steward::message;

TEST(OutputPath, IsDataFolderDirectoryNodeFile) {
  auto p = resolveOutputPath("/data", "cli_command__result", "ship1", "out.result");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->string(), "/data/cli_command__result/ship1/out.result");
}

TEST(OutputPath, AbsoluteDirectoryIsPlacedInsideTheDataFolder) {
  auto p = resolveOutputPath("/data", "/var/steward/cli-command/executed-result", "ship1", "some.log");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->string(), "/data/var/steward/cli-command/executed-result/ship1/some.log");
}

TEST(OutputPath, DotAndEmptyPartsAreDropped) {
  auto p = resolveOutputPath("/data", "./my/log//files/", "ship2", "some.log");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->string(), "/data/my/log/files/ship2/some.log");
}

TEST(OutputPath, EmptyDirectoryIsTheNodeFolder) {
  auto p = resolveOutputPath("/data", "", "ship1", "x");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->string(), "/data/ship1/x");
}

TEST(OutputPath, DotDotIsRefusedAnywhere) {
  for (const char* dir : {"..", "../etc", "a/../../etc", "/..", "a/..", "a/b/.."}) {
    auto p = resolveOutputPath("/data", dir, "ship1", "x");
    EXPECT_FALSE(p.ok()) << "accepted directory " << dir;
    if (!p.ok()) {
      EXPECT_NE(p.error().message.find(".."), std::string::npos);
    }
  }
}

TEST(OutputPath, FileNameMustBeOnePart) {
  EXPECT_FALSE(resolveOutputPath("/data", "d", "ship1", "../x").ok());
  EXPECT_FALSE(resolveOutputPath("/data", "d", "ship1", "a/b").ok());
  EXPECT_FALSE(resolveOutputPath("/data", "d", "ship1", "..").ok());
  EXPECT_FALSE(resolveOutputPath("/data", "d", "ship1", "").ok());
}

TEST(OutputPath, NodeMustBeANodeName) {
  EXPECT_FALSE(resolveOutputPath("/data", "d", "..", "x").ok());
  EXPECT_FALSE(resolveOutputPath("/data", "d", "a/b", "x").ok());
}

TEST(Directory, NamesTheOffendingValue) {
  auto s = checkDirectory("logs/../../etc");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("logs/../../etc"), std::string::npos);
}
