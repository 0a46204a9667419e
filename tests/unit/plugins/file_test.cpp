#include "tests/unit/plugins/plugin_fixture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace steward::testing;
namespace fs = std::filesystem;

namespace {

class FilePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("file-test-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  TestRequest req(const std::string& method, std::vector<std::string> data) {
    TestRequest r{method, std::move(data)};
    r.fromNode = "ship1";
    r.toNode = "central";
    r.directory = "/results/cli";
    r.fileName = "out.log";
    r.dataFolder = dir_;
    return r;
  }
  fs::path dir_;
  PluginFixture f_;
};

}  // namespace

TEST_F(FilePluginTest, AppendWritesUnderDataFolderDirectoryAndNode) {
  ASSERT_TRUE(f_.run(req("REQToFileAppend", {"first\n"})).ok);
  ASSERT_TRUE(f_.run(req("REQToFileAppend", {"second"})).ok);
  EXPECT_EQ(read(dir_ / "results/cli/ship1/out.log"), "first\nsecond\n");
}

TEST_F(FilePluginTest, ToFileReplacesTheContent) {
  ASSERT_TRUE(f_.run(req("REQToFile", {"old\n"})).ok);
  ASSERT_TRUE(f_.run(req("REQToFile", {"new\n"})).ok);
  EXPECT_EQ(read(dir_ / "results/cli/ship1/out.log"), "new\n");
}

TEST_F(FilePluginTest, TheRequestsErrorIsWrittenToo) {
  auto r = req("REQToFileAppend", {""});
  r.requestError = "exit status 2";
  ASSERT_TRUE(f_.run(r).ok);
  EXPECT_NE(read(dir_ / "results/cli/ship1/out.log").find("exit status 2"), std::string::npos);
}

TEST_F(FilePluginTest, ASymlinkAtTheTargetIsNotFollowed) {
  fs::create_directories(dir_ / "results/cli/ship1");
  fs::create_symlink("/etc/hostname", dir_ / "results/cli/ship1/out.log");
  auto r = f_.run(req("REQToFile", {"x"}));
  EXPECT_FALSE(r.ok);
}

TEST_F(FilePluginTest, ErrorLogAppendsOneLinePerErrorWithTheNode) {
  auto r = req("REQErrorLog", {"first\nerror", "more"});
  ASSERT_TRUE(f_.run(r).ok);
  ASSERT_TRUE(f_.run(r).ok);
  const std::string log = read(dir_ / "errorLog/errors.log");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2);
  EXPECT_NE(log.find("ship1: first error more\n"), std::string::npos) << log;
}

TEST_F(FilePluginTest, HelloKeepsTheLastSeenTimePerNode) {
  ASSERT_TRUE(f_.run(req("REQHello", {"ship1"})).ok);
  auto other = req("REQHello", {"ship2"});
  other.fromNode = "ship2";
  ASSERT_TRUE(f_.run(other).ok);
  const std::string seen = read(dir_ / "hello-messages/last-seen.json");
  EXPECT_NE(seen.find("\"ship1\""), std::string::npos) << seen;
  EXPECT_NE(seen.find("\"ship2\""), std::string::npos) << seen;
  EXPECT_NE(seen.find("lastSeen"), std::string::npos) << seen;
}

TEST_F(FilePluginTest, HelloWritesItsFileAtMostOnceASecondAndWhenItStops) {
  auto instance = f_.host().instantiate("REQHello");
  ASSERT_TRUE(instance.ok()) << instance.error().message;
  const fs::path file = dir_ / "hello-messages/last-seen.json";
  ASSERT_TRUE(f_.runOn(*instance.value(), req("REQHello", {"ship1"})).ok);
  EXPECT_NE(read(file).find("\"ship1\""), std::string::npos) << "the first hello is written at once";
  auto other = req("REQHello", {"ship2"});
  other.fromNode = "ship2";
  ASSERT_TRUE(f_.runOn(*instance.value(), other).ok);
  EXPECT_EQ(read(file).find("\"ship2\""), std::string::npos) << "within the second: kept in memory";
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto third = req("REQHello", {"ship3"});
  third.fromNode = "ship3";
  ASSERT_TRUE(f_.runOn(*instance.value(), third).ok);
  EXPECT_NE(read(file).find("\"ship2\""), std::string::npos) << "a second later, with the next hello";
  auto fourth = req("REQHello", {"ship4"});
  fourth.fromNode = "ship4";
  ASSERT_TRUE(f_.runOn(*instance.value(), fourth).ok);
  instance.value().reset();  // the node stops
  EXPECT_NE(read(file).find("\"ship4\""), std::string::npos) << "written when it stops";
}

TEST_F(FilePluginTest, ALinkAtAnyFolderLevelIsNotFollowed) {
  const fs::path outside = dir_ / "outside";
  fs::create_directories(outside / "cli" / "ship1");
  fs::create_directories(dir_ / "data");
  // <data>/results -> outside: the reply would land in outside/cli/ship1/out.log.
  fs::create_directory_symlink(outside, dir_ / "data" / "results");
  auto r = req("REQToFileAppend", {"escaped"});
  r.dataFolder = dir_ / "data";
  const auto result = f_.run(r);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("steward does not follow links"), std::string::npos) << result.error;
  EXPECT_FALSE(fs::exists(outside / "cli" / "ship1" / "out.log"));
}

TEST_F(FilePluginTest, HelloReplacesItsFileWithoutFollowingALink) {
  fs::create_directories(dir_ / "outside");
  fs::create_directory_symlink(dir_ / "outside", dir_ / "hello-messages");
  EXPECT_FALSE(f_.run(req("REQHello", {"ship1"})).ok);
  EXPECT_TRUE(fs::is_empty(dir_ / "outside"));
}

TEST_F(FilePluginTest, ReplyOptionsSetTheModeAndStampEachLine) {
  auto r = req("REQToFileAppend", {"one\ntwo"});
  r.replyOpts = R"({"mode":"0600","timestamp":true})";
  ASSERT_TRUE(f_.run(r).ok);
  const fs::path file = dir_ / "results/cli/ship1/out.log";
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  const std::string text = read(file);
  // "YYYY-MM-DDTHH:MM:SSZ " before each line.
  ASSERT_EQ(text.size(), 2 * 21 + 8) << text;
  EXPECT_EQ(text.substr(19, 2), "Z ");
  EXPECT_EQ(text.substr(21, 4), "one\n");
  EXPECT_EQ(text.substr(46), "two\n");
  // The mode of a file that is there is set too; REQToFile takes no timestamp.
  r = req("REQToFile", {"x"});
  r.replyOpts = R"({"mode":"0640"})";
  ASSERT_TRUE(f_.run(r).ok);
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  r.replyOpts = R"({"timestamp":true})";
  auto refused = f_.run(r);
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.error.find("replyOpts.timestamp is not an option of REQToFile"), std::string::npos) << refused.error;
  r.replyOpts = R"({"mode":"4755"})";
  EXPECT_FALSE(f_.run(r).ok);
}
