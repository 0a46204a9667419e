// steward-sim: many nodes in one process, against a real central daemon and nats-server.
#include "tests/e2e/harness.hpp"

#include <gtest/gtest.h>

namespace steward::e2e {
namespace {

constexpr int kNodes = 30;

class SimTest : public E2eTest {
 protected:
  // Starts steward-sim with kNodes nodes (s1…), their keys provisioned where central looks.
  void startSim() {
    const fs::path keys = root_ / "trusted-keys";
    sim_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{STEWARD_SIM_BINARY, "--nodes=" + std::to_string(kNodes),
                                 "--folder=" + (root_ / "sim").string(), "--provisionKeys=" + keys.string(),
                                 "--", "--brokerAddress=" + nats_->address(),
                                 "--trustedKeysFolder=" + keys.string(), "--startSubREQCliCommand=central",
                                 "--pluginFolder=" STEWARD_PLUGIN_DIR},
        root_, root_ / ("sim-" + std::to_string(++starts_) + ".log"));
    ASSERT_TRUE(waitFor([&] { return simLog().find(std::to_string(kNodes) + " nodes running") != std::string::npos; },
                        60s))
        << simLog();
  }
  std::string simLog() const { return readFile(root_ / ("sim-" + std::to_string(starts_) + ".log")); }

  // One message to every node with toNodes.
  static std::string fanOut(const std::string& shell, const std::string& fileName) {
    std::string nodes;
    for (int i = 1; i <= kNodes; ++i) nodes += (i > 1 ? ",\"s" : "\"s") + std::to_string(i) + "\"";
    return R"({"toNodes":[)" + nodes + R"(],"method":"REQCliCommand","data":["sh","-c",")" + shell +
           R"("],"fileName":")" + fileName + R"(","ACKTimeout":3,"retries":30,"replyACKTimeout":3,"replyRetries":30,"methodTimeout":20})";
  }
  // How many nodes replied `text` to central in `fileName`, and how many replied anything else.
  std::pair<int, int> replies(StewardNode& central, const std::string& fileName, const std::string& text) {
    int exact = 0;
    int other = 0;
    for (int i = 1; i <= kNodes; ++i) {
      const std::string got = readFile(central.dataFolder() / ("s" + std::to_string(i)) / fileName);
      if (got == text) {
        ++exact;
      } else if (!got.empty()) {
        ++other;
      }
    }
    return {exact, other};
  }

  std::unique_ptr<ChildProcess> sim_;
  int starts_ = 0;
};

TEST_F(SimTest, ManyNodesInOneProcessEachRunAFanOutOnceAcrossAKill9OfTheProcess) {
  StewardNode& central = startNode("central");
  startSim();
  ASSERT_TRUE(accepted(central.submit("[" + fanOut("echo hi", "hi.log") + "]")));
  ASSERT_TRUE(waitFor([&] { return replies(central, "hi.log", "hi\n").first == kNodes; }, 60s))
      << replies(central, "hi.log", "hi\n").first << " of " << kNodes << "\n" << simLog();

  // A long run on every node, and behind it (REQCliCommand runs in order) a short one; the
  // process dies once every node has taken both.
  ASSERT_TRUE(accepted(central.submit("[" + fanOut("sleep 3; echo long", "long.log") + "," +
                                      fanOut("echo after", "after.log") + "]")));
  const fs::path audit = root_ / "sim" / "db" / "audit.log";
  ASSERT_TRUE(waitFor([&] { return countLines(readFile(audit), "\"event\":\"received\"") >= 3u * kNodes; },
                      60s))
      << readFile(audit);
  sim_->kill9();
  startSim();
  // What was taken before the kill runs once: the short one after the process came back; the
  // long one, where its run had started, is answered as interrupted instead of run again (where
  // it had not, it runs now).
  ASSERT_TRUE(waitFor([&] { return replies(central, "after.log", "after\n").first == kNodes; }, 60s))
      << replies(central, "after.log", "after\n").first << " of " << kNodes << "\n" << simLog();
  std::this_thread::sleep_for(2s);  // a copy that would run twice comes now
  EXPECT_EQ(replies(central, "after.log", "after\n"), std::make_pair(kNodes, 0));
  EXPECT_EQ(replies(central, "hi.log", "hi\n"), std::make_pair(kNodes, 0));
  const std::string errors = central.errorLog();
  for (int i = 1; i <= kNodes; ++i) {
    const std::string node = "s" + std::to_string(i);
    const bool interrupted = errors.find("interrupted by a restart of " + node + " ") != std::string::npos;
    const std::string ran = readFile(central.dataFolder() / node / "long.log");
    EXPECT_TRUE(interrupted != (ran == "long\n")) << node << ": interrupted " << interrupted << ", ran '" << ran << "'";
  }
  EXPECT_EQ(sim_->terminate(), 0);
}

}  // namespace
}  // namespace steward::e2e
