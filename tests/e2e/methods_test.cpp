// Each built-in method plugin, run by real daemons.
#include "tests/e2e/harness.hpp"

#include <fstream>
#include <sstream>
#include <thread>

namespace steward::e2e {
namespace {

class Methods : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startSubREQCliCommand=central",
                                  "--startSubREQnCliCommand=central", "--startPubREQHello=1"});
  }
  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

TEST_F(Methods, CliCommandRepliesWithItsOutputToTheSpecsFile) {
  const std::string answer = central_->submit(R"([
{
"directory":"cli_command__result",
"fileName": "some-file-name.result",
"toNode": "ship1",
"data": ["bash","-c","echo hello from $0"],
"method":"REQCliCommand",
"replyMethod":"REQToFileAppend",
"ACKTimeout":5,
"retries":3,
"replyACKTimeout":5,
"replyRetries":3,
"methodTimeout": 10
}
])");
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto file = central_->dataFolder() / "cli_command__result" / "ship1" / "some-file-name.result";
  EXPECT_TRUE(waitFor([&] { return readFile(file) == "hello from bash\n"; }, 30s)) << readFile(file);
}

// The spec's replyOpts: options the request gives its reply method, carried with the reply.
TEST_F(Methods, ReplyOptionsReachTheReplyMethodAndBadOnesAreRefusedAtInput) {
  ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo first; echo second",
                                                R"("fileName":"opts.log","replyOpts":{"mode":"0600","timestamp":true})"))));
  const auto file = central_->dataFolder() / "ship1" / "opts.log";
  ASSERT_TRUE(waitFor([&] { return countLines(readFile(file)) == 2; }, 30s)) << central_->errorLog();
  const std::string text = readFile(file);
  EXPECT_EQ(text.substr(19, 2), "Z ") << text;
  EXPECT_NE(text.find("Z first\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Z second\n"), std::string::npos) << text;
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  const std::string bad = central_->submit(command("ship1", "true", R"("replyMethod":"REQToFile","replyOpts":{"timestamp":true})"));
  EXPECT_NE(bad.find("is not an option of REQToFile, which takes mode"), std::string::npos) << bad;
}

TEST_F(Methods, NCliCommandRunsMessagesConcurrently) {
  // The first command waits for a file the second one creates: only concurrent runs finish both.
  const auto flag = root_ / "flag";
  ASSERT_TRUE(accepted(central_->submit(command(
      "ship1", "for i in $(seq 200); do [ -f " + flag.string() + " ] && echo first && exit 0; sleep 0.05; done; exit 1",
      R"("fileName":"first.log","methodTimeout":30)", "REQnCliCommand"))));
  ASSERT_TRUE(accepted(central_->submit(command("ship1", "touch " + flag.string() + "; echo second",
                                                R"("fileName":"second.log")", "REQnCliCommand"))));
  const auto dir = central_->dataFolder() / "ship1";
  EXPECT_TRUE(waitFor([&] { return readFile(dir / "first.log") == "first\n"; }, 30s))
      << readFile(dir / "first.log");
  EXPECT_EQ(readFile(dir / "second.log"), "second\n");
}

TEST_F(Methods, ToFileReplacesAndToFileAppendAppends) {
  for (const char* word : {"old", "new"}) {
    ASSERT_TRUE(accepted(central_->submit(command(
        "ship1", std::string("echo ") + word, R"("fileName":"f.txt","replyMethod":"REQToFile")"))));
    ASSERT_TRUE(accepted(central_->submit(command(
        "ship1", std::string("echo ") + word, R"("fileName":"a.txt","replyMethod":"REQToFileAppend")"))));
  }
  const auto dir = central_->dataFolder() / "ship1";
  ASSERT_TRUE(waitFor([&] { return readFile(dir / "a.txt") == "old\nnew\n"; }, 30s))
      << readFile(dir / "a.txt");
  EXPECT_TRUE(waitFor([&] { return readFile(dir / "f.txt") == "new\n"; }, 10s)) << readFile(dir / "f.txt");
}

TEST_F(Methods, ToConsolePrintsOnTheReceivingDaemon) {
  ASSERT_TRUE(accepted(central_->submit(
      command("ship1", "echo console-marker-42", R"("replyMethod":"REQToConsole")"))));
  EXPECT_TRUE(waitFor([&] { return central_->log().find("console-marker-42") != std::string::npos; },
                      30s));
}

TEST_F(Methods, HelloRecordsWhenCentralLastSawEachNode) {
  const auto file = central_->dataFolder() / "hello-messages" / "last-seen.json";
  ASSERT_TRUE(waitFor([&] { return readFile(file).find("\"ship1\"") != std::string::npos; }, 30s));
  EXPECT_NE(readFile(file).find("lastSeen"), std::string::npos);
}

TEST_F(Methods, AFailingCommandReachesCentralsErrorLogAndItsReply) {
  ASSERT_TRUE(accepted(central_->submit(
      command("ship1", "echo oops >&2; exit 3", R"("fileName":"fail.log")"))));
  ASSERT_TRUE(waitFor([&] { return central_->errorLog().find("exit status 3") != std::string::npos; },
                      30s))
      << central_->log();
  const std::string errors = central_->errorLog();
  EXPECT_NE(errors.find(" ship1: "), std::string::npos) << errors;
  EXPECT_NE(errors.find("oops"), std::string::npos) << errors;
  const auto reply = central_->dataFolder() / "ship1" / "fail.log";
  EXPECT_TRUE(waitFor([&] { return readFile(reply).find("exit status 3") != std::string::npos; }, 10s));
}

TEST_F(Methods, MethodTimeoutKillsTheCommandAndItsChildren) {
  const auto pidFile = root_ / "child.pid";
  ASSERT_TRUE(accepted(central_->submit(command(
      "ship1", "sleep 300 & echo $! > " + pidFile.string() + "; sleep 300",
      R"("fileName":"slow.log","methodTimeout":2)"))));
  const auto reply = central_->dataFolder() / "ship1" / "slow.log";
  ASSERT_TRUE(waitFor([&] { return readFile(reply).find("methodTimeout") != std::string::npos; }, 30s))
      << ship1_->log();
  const int child = std::stoi(readFile(pidFile));
  EXPECT_TRUE(waitFor([&] { return !processAlive(child); }, 5s)) << "child " << child << " survived";
  // The sequenced queue moves on after the kill.
  ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo next", R"("fileName":"next.log")"))));
  EXPECT_TRUE(waitFor([&] { return readFile(central_->dataFolder() / "ship1" / "next.log") == "next\n"; },
                      30s));
}

}  // namespace
}  // namespace steward::e2e

namespace steward::e2e {
namespace {

TEST_F(Methods, OutputBeyondTheBrokersPayloadArrivesCutWithAMarker) {
  // NUL bytes are escaped six-fold in JSON, so this output is several MiB on the wire.
  ASSERT_TRUE(accepted(central_->submit(
      command("ship1", "head -c 700000 /dev/zero; echo", R"("fileName":"big.log")"))));
  const auto reply = central_->dataFolder() / "ship1" / "big.log";
  EXPECT_TRUE(waitFor([&] {
    return readFile(reply).find("output cut to fit the broker's max payload") != std::string::npos;
  }, 30s)) << ship1_->log();
}

TEST_F(Methods, AReplyMethodSentDirectlyWritesOnTheReceiverAndRepliesNothing) {
  ASSERT_TRUE(accepted(central_->submit(
      R"([{"toNode":"ship1","method":"REQToFileAppend","data":["note\n"],"directory":"notes","fileName":"n.txt"}])")));
  const auto file = ship1_->dataFolder() / "notes" / "central" / "n.txt";
  ASSERT_TRUE(waitFor([&] { return readFile(file) == "note\n"; }, 30s));
  // A reply from ship1 would go to central on the same (central, REQToFileAppend) path as the
  // reply to a later command, ahead of it: once that one is in, there was none.
  ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo barrier", R"("fileName":"barrier.log")"))));
  ASSERT_TRUE(waitFor([&] { return readFile(central_->dataFolder() / "ship1" / "barrier.log") == "barrier\n"; }, 30s));
  EXPECT_FALSE(fs::exists(central_->dataFolder() / "notes"));
  // ship1 queued one reply, the barrier's.
  size_t replies = 0;
  std::istringstream log(ship1_->log());
  for (std::string line; std::getline(log, line);) {
    replies += line.find("queued message") != std::string::npos &&
               line.find("(REQToFileAppend from ship1") != std::string::npos;
  }
  EXPECT_EQ(replies, 1u) << ship1_->log();
}

}  // namespace
}  // namespace steward::e2e

namespace steward::e2e {
namespace {

TEST_F(Methods, ContSendsOutputWhileItRunsAndIsKilledAtMethodTimeout) {
  auto& ship2 = startNode("ship2", {"--startSubREQnCliCommandCont=central"});
  const auto pidFile = root_ / "cont-child.pid";
  ASSERT_TRUE(accepted(central_->submit(command(
      "ship2",
      "for i in $(seq 1 15); do echo line $i; sleep 0.2; done; sleep 300 & echo $! > " +
          pidFile.string() + "; sleep 300",
      R"("fileName":"cont.log","methodTimeout":5)", "REQnCliCommandCont"))));
  const auto reply = central_->dataFolder() / "ship2" / "cont.log";
  ASSERT_TRUE(waitFor([&] { return readFile(reply).find("methodTimeout reached") != std::string::npos; }, 30s))
      << ship2.log();
  std::string expected;
  for (int i = 1; i <= 15; ++i) expected += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(readFile(reply).rfind(expected, 0), 0u) << readFile(reply);
  // Several replies arrived, not one at the end.
  const std::string audit = readFile(central_->dir() / "db" / "audit.log");
  size_t replies = 0;
  std::istringstream lines(audit);
  for (std::string line; std::getline(lines, line);) {
    replies += line.find(R"("event":"received")") != std::string::npos &&
               line.find(R"("fromNode":"ship2","toNode":"central","method":"REQToFileAppend")") !=
                   std::string::npos;
  }
  EXPECT_GE(replies, 3u) << audit;
  const int child = std::stoi(readFile(pidFile));
  EXPECT_TRUE(waitFor([&] { return !processAlive(child); }, 5s)) << "a child outlived methodTimeout";
}

}  // namespace
}  // namespace steward::e2e

namespace steward::e2e {
namespace {

void append(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::app) << text; }

TEST_F(Methods, TailFollowsAFileAcrossRotationAndTruncation) {
  auto& ship2 = startNode("ship2", {"--startSubREQTailFile=central"});
  const fs::path logs = root_ / "logs";
  fs::create_directories(logs);
  const fs::path file = logs / "app.log";
  append(file, "before the tail\n");
  ASSERT_TRUE(accepted(central_->submit(R"([{"toNode":"ship2","method":"REQTailFile","data":[")" +
                                        file.string() + R"("],"fileName":"tail.log","methodTimeout":10}])")));
  // Each step waits for the tail to say where it follows from, or for the reply of the step before.
  const auto reply = central_->dataFolder() / "ship2" / "tail.log";
  auto said = [&](const std::string& what) {
    return waitFor([&] { return ship2.log().find(what) != std::string::npos; }, 30s);
  };
  auto replied = [&](const std::string& what) {
    return waitFor([&] { return readFile(reply).find(what) != std::string::npos; }, 30s);
  };
  ASSERT_TRUE(said("following " + file.string() + " from offset 16")) << ship2.log();
  append(file, "a1\na2\n");
  ASSERT_TRUE(replied("a2")) << readFile(reply);
  fs::rename(file, logs / "app.log.1");  // rotation: the old file goes on under another name
  append(logs / "app.log.1", "a3\n");
  append(file, "b1\n");
  ASSERT_TRUE(said("from offset 0 (rotated)")) << ship2.log();
  append(file, "b2\n");
  ASSERT_TRUE(replied("b2")) << readFile(reply);
  fs::resize_file(file, 0);  // truncation
  ASSERT_TRUE(said("from offset 0 (truncated)")) << ship2.log();
  append(file, "c1\n");
  ASSERT_TRUE(waitFor([&] { return readFile(reply).find("c1") != std::string::npos; }, 30s))
      << readFile(reply) << ship2.log();
  EXPECT_EQ(readFile(reply), "a1\na2\na3\nb1\nb2\nc1\n");
}

TEST_F(Methods, TailOfAMissingFileIsAnErrorReply) {
  startNode("ship2", {"--startSubREQTailFile=central"});
  ASSERT_TRUE(accepted(central_->submit(
      R"([{"toNode":"ship2","method":"REQTailFile","data":["/no/such/file.log"],"fileName":"missing.log"}])")));
  const auto reply = central_->dataFolder() / "ship2" / "missing.log";
  EXPECT_TRUE(waitFor([&] { return readFile(reply).find("cannot open /no/such/file.log: No such file or directory") != std::string::npos; }, 30s))
      << readFile(reply);
}

}  // namespace
}  // namespace steward::e2e
