// The spec's workflow request type, run by real daemons: steps in order, the first failure stops
// them and rolls back the steps before it in reverse, one reply reports every step.
#include "tests/e2e/harness.hpp"

namespace steward::e2e {
namespace {

class Workflow : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startSubREQWorkflow=central", "--startSubREQCliCommand=central"});
  }
  // A step running `shell` with bash, as JSON.
  static std::string step(const std::string& shell, const std::string& rollback = "") {
    auto call = [](const std::string& s) {
      std::string escaped;
      for (char c : s) {
        if (c == '"' || c == '\\') escaped.push_back('\\');
        escaped.push_back(c);
      }
      return R"({"method":"REQCliCommand","data":["bash","-c",")" + escaped + "\"]";
    };
    return call(shell) + (rollback.empty() ? "" : R"(,"rollback":)" + call(rollback) + "}") + "}";
  }
  std::string workflow(const std::vector<std::string>& steps, const std::string& fileName) {
    std::string list;
    for (const auto& s : steps) list += (list.empty() ? "" : ",") + s;
    return R"([{"toNode":"ship1","method":"REQWorkflow","fileName":")" + fileName + R"(","workflow":{"steps":[)" + list + "]}}]";
  }
  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

TEST_F(Workflow, ASecondStepThatFailsStopsTheRestAndRollsTheFirstBack) {
  const fs::path a = root_ / "a", c = root_ / "c", undo = root_ / "undone";
  const auto answer = central_->submit(workflow(
      {step("touch " + a.string() + "; echo made a", "rm " + a.string() + "; echo undone >> " + undo.string()),
       step("echo step two fails >&2; exit 3", "echo never >> " + undo.string()),
       step("touch " + c.string())},
      "workflow.log"));
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto reply = central_->dataFolder() / "ship1" / "workflow.log";
  ASSERT_TRUE(waitFor([&] { return readFile(reply).find("rolled back step 1") != std::string::npos; }, 30s))
      << readFile(reply) << central_->errorLog();
  const std::string report = readFile(reply);
  EXPECT_FALSE(fs::exists(a));
  EXPECT_FALSE(fs::exists(c));
  EXPECT_EQ(readFile(undo), "undone\n");  // the failed step's own rollback does not run
  EXPECT_NE(report.find(R"({"step":1,"method":"REQCliCommand","state":"ok","output":"made a\n"})"), std::string::npos) << report;
  EXPECT_NE(report.find(R"("step":2,"method":"REQCliCommand","state":"failed")"), std::string::npos) << report;
  EXPECT_NE(report.find("exit status 3"), std::string::npos) << report;
  EXPECT_NE(report.find(R"({"step":3,"method":"REQCliCommand","state":"not run"})"), std::string::npos) << report;
  EXPECT_NE(report.find(R"("rollback":[{"step":1,"method":"REQCliCommand","state":"ok","output":""}])"),
            std::string::npos) << report;
  EXPECT_NE(report.find("step 2 (REQCliCommand) failed: \"bash\" failed: exit status 3: step two fails; rolled back step 1\n"),
            std::string::npos) << report;
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("step 2 (REQCliCommand) failed") != std::string::npos; }, 30s));
}

TEST_F(Workflow, AllStepsRunInOrderWhenEachSucceeds) {
  const fs::path log = root_ / "order";
  const auto answer = central_->submit(workflow(
      {step("echo 1 >> " + log.string()), step("echo 2 >> " + log.string()), step("echo 3 >> " + log.string())},
      "ok.log"));
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto reply = central_->dataFolder() / "ship1" / "ok.log";
  ASSERT_TRUE(waitFor([&] { return readFile(reply).find(R"({"ok":true,)") != std::string::npos; }, 30s)) << readFile(reply);
  EXPECT_EQ(readFile(log), "1\n2\n3\n");
  EXPECT_NE(readFile(reply).find(R"("rollback":[])"), std::string::npos);
}

TEST_F(Workflow, AStepPastItsMethodTimeoutFailsAndTheOnesBeforeAreRolledBack) {
  const fs::path a = root_ / "a";
  const std::string slow = R"({"method":"REQCliCommand","data":["bash","-c","sleep 20"],"methodTimeout":1})";
  const auto answer = central_->submit(workflow({step("touch " + a.string(), "rm " + a.string()), slow}, "slow.log"));
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto reply = central_->dataFolder() / "ship1" / "slow.log";
  ASSERT_TRUE(waitFor([&] { return readFile(reply).find("rolled back step 1") != std::string::npos; }, 15s))
      << readFile(reply) << central_->errorLog();
  EXPECT_FALSE(fs::exists(a));
}

// A step is what its sender could send on its own: a method not started for it there refuses the
// whole workflow before anything runs; an unknown one is refused at input.
TEST_F(Workflow, AStepTheSenderMayNotCallRefusesTheWholeWorkflowBeforeAnythingRuns) {
  const fs::path a = root_ / "a";
  const auto answer = central_->submit(workflow(
      {step("touch " + a.string()), R"({"method":"REQHttpGet","data":["http://127.0.0.1:1/"]})"}, "refused.log"));
  ASSERT_TRUE(accepted(answer)) << answer;
  EXPECT_TRUE(waitFor([&] {
    return central_->errorLog().find("step 2 (REQHttpGet): REQHttpGet is not started on ship1; nothing ran") !=
           std::string::npos;
  }, 30s)) << central_->errorLog();
  EXPECT_FALSE(fs::exists(a));
  const auto unknown = central_->submit(workflow({R"({"method":"REQNoSuch","data":[]})"}, "x.log"));
  EXPECT_NE(unknown.find("steps[0].method: unknown method"), std::string::npos) << unknown;
  const auto nested = central_->submit(workflow({R"({"method":"REQOpCommand","data":[]})"}, "x.log"));
  EXPECT_NE(nested.find("acts on the node itself"), std::string::npos) << nested;
}

}  // namespace
}  // namespace steward::e2e
