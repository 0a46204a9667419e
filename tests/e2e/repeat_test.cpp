// The spec's repeat and repeatInterval (and the successor's schedule), run by real daemons: a
// repeating message runs its count on the receiving node, replies each time, keeps its schedule
// across a kill -9 of that node, and stops when it is cancelled there.
#include "tests/e2e/harness.hpp"

#include <thread>

namespace steward::e2e {
namespace {

class Repeat : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startSubREQCliCommand=central"});
  }
  // A command that appends a line to `runs` on ship1 and answers "ran".
  std::string appendRun(const fs::path& runs, const std::string& extra) {
    return command("ship1", "echo run >> " + runs.string() + "; echo ran", extra);
  }
  size_t runsIn(const fs::path& runs) { return countLines(readFile(runs)); }

  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

TEST_F(Repeat, ThreeEverySecondRunThreeTimesAndReplyThreeTimes) {
  const fs::path runs = root_ / "runs";
  const auto answer = central_->submit(appendRun(runs, R"("repeat":3,"repeatInterval":1,"fileName":"repeat.log")"));
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto replies = central_->dataFolder() / "ship1" / "repeat.log";
  ASSERT_TRUE(waitFor([&] { return readFile(replies) == "ran\nran\nran\n"; }, 30s)) << readFile(replies);
  EXPECT_EQ(runsIn(runs), 3u);
  std::this_thread::sleep_for(2500ms);  // more than two intervals: no fourth run
  EXPECT_EQ(runsIn(runs), 3u);
  EXPECT_EQ(readFile(replies), "ran\nran\nran\n");
  // Nothing of it is left at ship1.
  auto queue = ctl(*central_, {"queue", "--at", "ship1"});
  EXPECT_EQ(queue.exitCode, 0) << queue.err;
  EXPECT_NE(queue.out.find("nothing waits at ship1"), std::string::npos) << queue.out;
}

TEST_F(Repeat, TheSuccessorsScheduleFormIsTakenAndOneFormOnly) {
  const fs::path runs = root_ / "runs";
  // Every second for two seconds: two runs.
  ASSERT_TRUE(accepted(central_->submit(appendRun(runs, R"("schedule":[1,2],"fileName":"schedule.log")"))));
  const auto replies = central_->dataFolder() / "ship1" / "schedule.log";
  ASSERT_TRUE(waitFor([&] { return readFile(replies) == "ran\nran\n"; }, 30s)) << readFile(replies);
  const auto both = central_->submit(appendRun(runs, R"("schedule":[1,2],"repeat":2)"));
  EXPECT_NE(both.find("given together with repeat"), std::string::npos) << both;
  const auto half = central_->submit(appendRun(runs, R"("repeat":2)"));
  EXPECT_NE(half.find("repeatInterval\\\": is missing: repeat (runs, 0 until cancelled)"), std::string::npos) << half;
  const auto reply = central_->submit(R"([{"toNode":"ship1","method":"REQToFileAppend","data":["x"],"repeat":2,"repeatInterval":1}])");
  EXPECT_NE(reply.find("is a reply method; only requests repeat"), std::string::npos) << reply;
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(runsIn(runs), 2u);
}

TEST_F(Repeat, TheScheduleGoesOnAcrossAKill9OfTheNode) {
  const fs::path runs = root_ / "runs";
  ASSERT_TRUE(accepted(central_->submit(appendRun(runs, R"("repeat":4,"repeatInterval":2,"fileName":"kill.log")"))));
  ASSERT_TRUE(waitFor([&] { return runsIn(runs) == 1; }, 30s)) << ship1_->log();
  // Between two runs (each takes milliseconds, the gap is two seconds).
  ship1_->kill9();
  std::this_thread::sleep_for(1s);
  ship1_->start();
  ASSERT_TRUE(ship1_->waitReady());
  const auto replies = central_->dataFolder() / "ship1" / "kill.log";
  EXPECT_TRUE(waitFor([&] { return readFile(replies) == "ran\nran\nran\nran\n"; }, 40s)) << readFile(replies) << ship1_->log();
  EXPECT_EQ(runsIn(runs), 4u);
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(runsIn(runs), 4u);
}

TEST_F(Repeat, CancellingItAtTheNodeStopsFurtherRuns) {
  const fs::path runs = root_ / "runs";
  // 0: until cancelled.
  const auto answer = central_->submit(appendRun(runs, R"("repeat":0,"repeatInterval":1,"fileName":"forever.log")"));
  ASSERT_TRUE(accepted(answer)) << answer;
  const uint64_t id = idsOf(answer).at(0);
  ASSERT_TRUE(waitFor([&] { return runsIn(runs) >= 2; }, 30s)) << ship1_->log();
  auto queue = ctl(*central_, {"queue", "--at", "ship1"});
  EXPECT_EQ(queue.exitCode, 0) << queue.err;
  EXPECT_NE(queue.out.find(std::to_string(id)), std::string::npos) << queue.out;
  EXPECT_NE(queue.out.find("∞"), std::string::npos) << queue.out;
  auto cancel = ctl(*central_, {"cancel", std::to_string(id), "--at", "ship1"});
  EXPECT_EQ(cancel.exitCode, 0) << cancel.out << cancel.err;
  const size_t atCancel = runsIn(runs);
  std::this_thread::sleep_for(3s);
  // At most the run that was going when it was cancelled.
  EXPECT_LE(runsIn(runs), atCancel + 1);
  const size_t after = runsIn(runs);
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(runsIn(runs), after);
  // A cancel at a node where it is not: said so, exit 1.
  cancel = ctl(*central_, {"cancel", std::to_string(id), "--at", "ship1"});
  EXPECT_NE(cancel.exitCode, 0);
  EXPECT_NE(cancel.err.find("not queued at ship1"), std::string::npos) << cancel.err;
}

}  // namespace
}  // namespace steward::e2e
