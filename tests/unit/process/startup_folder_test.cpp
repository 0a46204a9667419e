#include "core/process/startup_folder.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward;
using namespace steward::process;

namespace {

namespace fs = std::filesystem;

class StartupFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("startup-folder-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path folder() const { return dir_ / "startup"; }
  static std::vector<std::string> names(const std::vector<StartupFolder::File>& files) {
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(f.name);
    return out;
  }

  fs::path dir_;
};

}  // namespace

TEST(StartupFolderName, OnlyPlainJsonNamesInTheFolderItself) {
  EXPECT_TRUE(StartupFolder::validName("10-start.json"));
  EXPECT_TRUE(StartupFolder::validName("a.b_c.json"));
  for (const char* bad : {"", ".json", ".hidden.json", "../up.json", "a/b.json", "start.txt", "start.json~",
                          "with space.json", "new\nline.json"}) {
    EXPECT_FALSE(StartupFolder::validName(bad)) << bad;
  }
  EXPECT_FALSE(StartupFolder::validName(std::string(60, 'a') + ".json"));
}

TEST_F(StartupFolderTest, WrittenFilesAreReadInNameOrderAndReplacedWhole) {
  StartupFolder startup(folder());
  ASSERT_TRUE(startup.write("20-second.json", "[2]"));
  ASSERT_TRUE(startup.write("10-first.json", "[1]"));
  auto replaced = startup.write("20-second.json", "[2, 2]");
  ASSERT_TRUE(replaced);
  EXPECT_NE(replaced->find("replaced startup file"), std::string::npos) << *replaced;
  std::vector<std::string> skipped;
  const auto files = startup.read(skipped);
  EXPECT_EQ(names(files), (std::vector<std::string>{"10-first.json", "20-second.json"}));
  EXPECT_EQ(files.at(1).text, "[2, 2]");
  EXPECT_TRUE(skipped.empty());
  // The folder is made private to the node's group; no temporary file is left.
  EXPECT_EQ(fs::status(folder()).permissions() & fs::perms::others_all, fs::perms::none);
  EXPECT_EQ(std::distance(fs::directory_iterator(folder()), fs::directory_iterator()), 2);
}

TEST_F(StartupFolderTest, LinksFoldersLargeAndBadlyNamedFilesAreSkippedAndSaid) {
  fs::create_directories(folder() / "sub.json");
  std::ofstream(dir_ / "outside.json") << "[\"secret\"]";
  fs::create_symlink(dir_ / "outside.json", folder() / "link.json");
  std::ofstream(folder() / "big.json") << std::string(StartupFolder::kMaxFileBytes + 1, ' ');
  std::ofstream(folder() / "bad name.json") << "[]";
  std::ofstream(folder() / "notes.txt") << "not a message";
  std::ofstream(folder() / "ok.json") << "[]";
  StartupFolder startup(folder());
  std::vector<std::string> skipped;
  EXPECT_EQ(names(startup.read(skipped)), std::vector<std::string>{"ok.json"});
  ASSERT_EQ(skipped.size(), 4u);
  auto said = [&](const std::string& what) {
    return std::any_of(skipped.begin(), skipped.end(), [&](const std::string& s) { return s.find(what) != std::string::npos; });
  };
  EXPECT_TRUE(said("link.json: a link (skipped)"));
  EXPECT_TRUE(said("sub.json: not a regular file (skipped)"));
  EXPECT_TRUE(said("big.json: larger than"));
  EXPECT_TRUE(said("bad name.json: the name is not"));
  auto listed = startup.list();
  ASSERT_TRUE(listed);
  EXPECT_NE(listed->find(R"({"name":"link.json","skipped":"a link"})"), std::string::npos) << *listed;
  EXPECT_NE(listed->find(R"("name":"ok.json","bytes":2,"modifiedUnixMs":)"), std::string::npos) << *listed;
  // A write never goes through a link planted at the name.
  ASSERT_TRUE(startup.write("link.json", "[1]"));
  std::ifstream outside(dir_ / "outside.json");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(outside), {}), "[\"secret\"]");
  EXPECT_FALSE(fs::is_symlink(folder() / "link.json"));
}

TEST_F(StartupFolderTest, RemovesAllTheNamedFilesOrNone) {
  StartupFolder startup(folder());
  ASSERT_TRUE(startup.write("a.json", "[]"));
  ASSERT_TRUE(startup.write("b.json", "[]"));
  auto missing = startup.remove({"a.json", "c.json"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("there is no startup file c.json"), std::string::npos);
  EXPECT_TRUE(fs::exists(folder() / "a.json"));
  EXPECT_FALSE(startup.remove({"../a.json"}));
  EXPECT_FALSE(startup.remove({}));
  auto removed = startup.remove({"a.json", "b.json"});
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, "removed a.json b.json");
  EXPECT_FALSE(fs::exists(folder() / "a.json"));
}

TEST_F(StartupFolderTest, BoundsAndANodeWithoutAFolder) {
  StartupFolder none{fs::path()};
  EXPECT_NE(none.list().error().message.find("no startup folder"), std::string::npos);
  EXPECT_FALSE(none.write("a.json", "[]"));
  std::vector<std::string> skipped;
  EXPECT_TRUE(none.read(skipped).empty());
  StartupFolder startup(folder());
  EXPECT_FALSE(startup.write("a.json", std::string(StartupFolder::kMaxFileBytes + 1, ' ')));
  for (size_t i = 0; i < StartupFolder::kMaxFiles; ++i) {
    ASSERT_TRUE(startup.write("f" + std::to_string(i) + ".json", "[]"));
  }
  auto full = startup.write("one-more.json", "[]");
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().message.find("already has 256 files"), std::string::npos);
  EXPECT_TRUE(startup.write("f0.json", "[1]"));  // replacing one is still fine
}
