// Operator input through the unix socket: what is refused, what the client hears, and that the
// daemon keeps serving.
#include "tests/e2e/harness.hpp"

#include <thread>

namespace steward::e2e {
namespace {

class Input : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startSubREQCliCommand=central"});
  }
  // A good message still goes through end to end.
  void expectStillServing(const std::string& tag) {
    ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo " + tag, R"("fileName":")" + tag + "\""))));
    const auto file = central_->dataFolder() / "ship1" / tag;
    EXPECT_TRUE(waitFor([&] { return readFile(file) == tag + "\n"; }, 30s)) << tag;
  }
  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

TEST_F(Input, MalformedJsonIsRefusedAndTheDaemonKeepsServing) {
  const std::string answer = central_->submit(R"([{"toNode": "ship1", "method":)");
  EXPECT_NE(answer.find("\"ok\":false"), std::string::npos) << answer;
  EXPECT_NE(answer.find("malformed JSON at byte"), std::string::npos) << answer;
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("malformed JSON") != std::string::npos; }, 30s));
  expectStillServing("after-malformed");
}

TEST_F(Input, AnUnknownMethodRefusesTheWholeBatch) {
  const auto marker = root_ / "ran";
  const std::string answer = central_->submit(
      R"([{"toNode":"ship1","method":"REQCliCommand","data":["touch",")" + marker.string() +
      R"("]},{"toNode":"ship1","method":"REQNoSuchMethod"}])");
  EXPECT_EQ(answer,
            "{\"ok\":false,\"error\":\"message 1: field \\\"method\\\": unknown method "
            "\\\"REQNoSuchMethod\\\"\"}\n");
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("REQNoSuchMethod") != std::string::npos; }, 30s));
  expectStillServing("after-unknown");
  EXPECT_FALSE(fs::exists(marker)) << "a message of a refused batch ran";
}

TEST_F(Input, ADotDotDirectoryIsRefused) {
  const std::string answer = central_->submit(
      command("ship1", "echo escaped", R"("directory":"../../escape","fileName":"x")"));
  EXPECT_NE(answer.find("field \\\"directory\\\""), std::string::npos) << answer;
  EXPECT_NE(answer.find("contains \\\"..\\\""), std::string::npos) << answer;
  expectStillServing("after-dotdot");
  EXPECT_FALSE(fs::exists(root_ / "escape"));
}

TEST_F(Input, AnAbsoluteDirectoryLandsInsideTheDataFolder) {
  const std::string answer = central_->submit(R"([
{
"directory":"/var/steward/cli-command/executed-result",
"fileName": "some.log",
"toNode": "ship1",
"data": ["bash","-c","echo inside"],
"method":"REQCliCommand",
"ACKTimeout":10,
"retries":3,
"methodTimeout": 4
}
])");
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto file = central_->dataFolder() / "var/steward/cli-command/executed-result/ship1/some.log";
  EXPECT_TRUE(waitFor([&] { return readFile(file) == "inside\n"; }, 30s));
}

TEST_F(Input, AMissingNodeNameIsAClearStartupError) {
  ChildProcess p({STEWARD_BINARY, "--brokerAddress=" + nats_->address()}, root_, root_ / "noname.log");
  ASSERT_TRUE(waitFor([&] { return !p.running(); }, 10s));
  EXPECT_NE(readFile(root_ / "noname.log").find("--nodeName is required"), std::string::npos);
}

TEST_F(Input, SigtermStopsTheDaemonCleanly) {
  EXPECT_EQ(ship1_->stop(), 0);
  EXPECT_NE(ship1_->log().find("stopped"), std::string::npos);
}

}  // namespace
}  // namespace steward::e2e
