// The SDK's file helpers: what plugins use to write inside the data folder without a link
// leading them out.
#include <steward/util.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using steward::sdk::WriteMode;
using steward::sdk::writeFileBeneath;

namespace {

class WriteBeneath : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sdk-util-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(root());
    fs::create_directories(outside());
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path root() const { return dir_ / "data"; }
  fs::path outside() const { return dir_ / "outside"; }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool outsideIsEmpty() const { return fs::is_empty(outside()); }
  fs::path dir_;
};

}  // namespace

TEST_F(WriteBeneath, CreatesFoldersAndWritesAppendsOrReplaces) {
  const fs::path file = root() / "a" / "b" / "ship1" / "out.log";
  ASSERT_TRUE(writeFileBeneath(root(), file, "one\n", WriteMode::append).isOk());
  ASSERT_TRUE(writeFileBeneath(root(), file, "two\n", WriteMode::append).isOk());
  EXPECT_EQ(read(file), "one\ntwo\n");
  ASSERT_TRUE(writeFileBeneath(root(), file, "three\n", WriteMode::truncate).isOk());
  EXPECT_EQ(read(file), "three\n");
  ASSERT_TRUE(writeFileBeneath(root(), file, "four\n", WriteMode::replace).isOk());
  EXPECT_EQ(read(file), "four\n");
  EXPECT_FALSE(fs::exists(file.string() + ".tmp"));
}

TEST_F(WriteBeneath, ALinkAtEveryLevelIsRefused) {
  // <root>/l1 -> outside, <root>/l2/b -> outside, <root>/l3/b/n -> outside, <root>/l4/b/n/f -> file
  fs::create_directory_symlink(outside(), root() / "l1");
  fs::create_directories(root() / "l2");
  fs::create_directory_symlink(outside(), root() / "l2" / "b");
  fs::create_directories(root() / "l3" / "b");
  fs::create_directory_symlink(outside(), root() / "l3" / "b" / "n");
  fs::create_directories(root() / "l4" / "b" / "n");
  fs::create_symlink(outside() / "f", root() / "l4" / "b" / "n" / "f");
  for (const char* level : {"l1", "l2", "l3", "l4"}) {
    for (WriteMode mode : {WriteMode::append, WriteMode::truncate, WriteMode::replace}) {
      const bool lastLevel = std::string_view(level) == "l4";
      if (lastLevel && mode == WriteMode::replace) continue;  // below: renaming replaces the link
      auto s = writeFileBeneath(root(), root() / level / "b" / "n" / "f", "escaped", mode);
      EXPECT_FALSE(s.isOk()) << level;
      EXPECT_NE(s.message().find("steward does not follow links"), std::string::npos) << level << ": " << s.message();
    }
  }
  EXPECT_TRUE(outsideIsEmpty());
  // A replacement is renamed over the link itself: the link goes, nothing is written through it.
  ASSERT_TRUE(writeFileBeneath(root(), root() / "l4" / "b" / "n" / "f", "replaced", WriteMode::replace).isOk());
  EXPECT_FALSE(fs::is_symlink(root() / "l4" / "b" / "n" / "f"));
  EXPECT_EQ(read(root() / "l4" / "b" / "n" / "f"), "replaced");
  EXPECT_TRUE(outsideIsEmpty());
}

TEST_F(WriteBeneath, RefusesPathsThatAreNotInsideTheRoot) {
  EXPECT_NE(writeFileBeneath(root(), outside() / "f", "x", WriteMode::append).message().find("is not inside"),
            std::string::npos);
  EXPECT_NE(writeFileBeneath(root(), root() / ".." / "outside" / "f", "x", WriteMode::append).message().find("\"..\""),
            std::string::npos);
  EXPECT_FALSE(writeFileBeneath(root(), root(), "x", WriteMode::append).isOk());
  EXPECT_TRUE(outsideIsEmpty());
}

TEST_F(WriteBeneath, TheRootItselfMayBeALinkAsConfigured) {
  fs::create_directory_symlink(outside(), dir_ / "configured");
  ASSERT_TRUE(writeFileBeneath(dir_ / "configured", dir_ / "configured" / "n" / "f", "ok", WriteMode::append).isOk());
  EXPECT_EQ(read(outside() / "n" / "f"), "ok");
}

// A request from a host older than ABI 2.2 ends before reply_options_json: the SDK reads nothing
// past its struct_size.
TEST(SdkRequest, ReplyOptionsAreReadOnlyFromAHostThatHasThem) {
  steward_request r{};
  r.struct_size = sizeof r;
  r.reply_options_json = steward::sdk::str(R"({"timestamp":true})");
  EXPECT_EQ(steward::sdk::Request(&r).replyOptionsJson(), R"({"timestamp":true})");
  r.struct_size = offsetof(steward_request, reply_options_json);
  EXPECT_TRUE(steward::sdk::Request(&r).replyOptionsJson().empty());
}
