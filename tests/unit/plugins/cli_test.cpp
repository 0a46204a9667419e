#include "tests/support/posix.hpp"
#include "tests/unit/plugins/plugin_fixture.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>

using namespace steward::testing;
using namespace std::chrono_literals;

namespace {

using steward::testing::processAlive;

pid_t readPid(const std::filesystem::path& file) {
  std::ifstream in(file);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

}  // namespace

TEST(CliPlugin, RepliesWithStandardOutput) {
  PluginFixture f;
  auto r = f.run({"REQCliCommand", {"bash", "-c", "echo one; echo two"}});
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.output, "one\ntwo\n");
}

TEST(CliPlugin, ANonZeroExitIsAnErrorWithStatusAndStderr) {
  PluginFixture f;
  auto r = f.run({"REQnCliCommand", {"bash", "-c", "echo partial; echo boom >&2; exit 3"}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "partial\n");
  EXPECT_NE(r.error.find("exit status 3"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("boom"), std::string::npos) << r.error;
}

TEST(CliPlugin, TheResultSaysStderrAndHowTheProgramEnded) {
  PluginFixture f;
  auto r = f.run({"REQCliCommand", {"bash", "-c", "echo out; echo warn >&2"}});
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.output, "out\n");
  EXPECT_EQ(r.result, (std::map<std::string, std::string>{{"exitStatus", "0"}, {"stderr", "warn\n"}}));
  r = f.run({"REQCliCommand", {"bash", "-c", "kill -TERM $$"}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.result.at("signal"), "15");
  EXPECT_EQ(r.result.count("exitStatus"), 0u);
  r = f.run({"REQnCliCommandCont", {"bash", "-c", "exit 4"}});
  EXPECT_EQ(r.result.at("exitStatus"), "4");
}

TEST(CliPlugin, AMissingProgramIsAnError) {
  PluginFixture f;
  auto r = f.run({"REQCliCommand", {"/no/such/program"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("/no/such/program"), std::string::npos) << r.error;
}

TEST(CliPlugin, EmptyDataIsAnError) {
  PluginFixture f;
  auto r = f.run({"REQCliCommand", {}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no command"), std::string::npos);
}

TEST(CliPlugin, DeadlineKillsTheWholeProcessGroup) {
  PluginFixture f;
  const auto dir = std::filesystem::temp_directory_path() / ("cli-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto pidFile = dir / "child.pid";
  const auto start = std::chrono::steady_clock::now();
  TestRequest req{"REQCliCommand",
                  {"bash", "-c", "sleep 300 & echo $! > " + pidFile.string() + "; sleep 300"}};
  req.timeout = 1s;
  auto r = f.run(req);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("methodTimeout"), std::string::npos) << r.error;
  EXPECT_LT(took, 30s);
  const pid_t child = readPid(pidFile);
  ASSERT_GT(child, 0);
  for (int i = 0; i < 100 && processAlive(child); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(processAlive(child)) << "background child " << child << " outlived the timeout";
  std::filesystem::remove_all(dir);
}

TEST(CliPlugin, CancelKillsTheCommand) {
  PluginFixture f;
  TestRequest req{"REQnCliCommand", {"sleep", "300"}};
  req.timeout = 60s;
  const auto start = std::chrono::steady_clock::now();
  auto r = f.run(req, 200ms);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("cancelled"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

TEST(CliPlugin, OutputOfBackgroundChildrenIsCollectedUntilThePipeCloses) {
  PluginFixture f;
  auto r = f.run({"REQCliCommand", {"bash", "-c", "(sleep 0.3; echo late) & echo early"}});
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.output, "early\nlate\n");
}

TEST(CliPlugin, ContStreamsWholeLinesInBatchesAndSaysHowItEnded) {
  PluginFixture f;
  auto r = f.run({"REQnCliCommandCont",
                  {"bash", "-c", "for i in 1 2 3 4 5 6; do echo out $i; echo err $i >&2; sleep 0.25; done"}});
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_GE(r.emitted.size(), 2u) << "output came only at the end";
  std::string all;
  for (const auto& e : r.emitted) {
    EXPECT_EQ(e.back(), '\n') << "a reply ended mid-line: " << e;
    all += e;
  }
  all += r.output;
  std::string expected;
  for (int i = 1; i <= 6; ++i) expected += "out " + std::to_string(i) + "\nerr " + std::to_string(i) + "\n";
  EXPECT_EQ(all, expected + "[exit status 0]\n");
}

TEST(CliPlugin, ContReportsAFailingExit) {
  PluginFixture f;
  auto r = f.run({"REQnCliCommandCont", {"bash", "-c", "echo partial; exit 4"}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "partial\n[exit status 4]\n");
  EXPECT_EQ(r.error, "exit status 4");
}
