// steward-ctl against real daemons: what it prints and the exit codes it gives.
#include "tests/e2e/harness.hpp"

#include <future>
#include <fstream>
#include <thread>

namespace steward::e2e {
namespace {

class Ctl : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startSubREQCliCommand=central", "--startSubREQTailFile=central"});
  }
  // steward-ctl run from central's folder, finding the socket through its config file.
  RunResult ctl(std::vector<std::string> args) { return E2eTest::ctl(*central_, std::move(args)); }
  static std::vector<std::string> withProgram(std::vector<std::string> args,
                                              const std::vector<std::string>& program) {
    args.push_back("--");
    args.insert(args.end(), program.begin(), program.end());
    return args;
  }
  RunResult run(const std::string& node, const std::vector<std::string>& program,
                std::vector<std::string> options = {}) {
    options.insert(options.begin(), {"run", node});
    // The program goes last, after "--"; options come before it.
    return runToEnd(withProgram(withCtl(options), program), central_->dir(), 90s);
  }
  std::vector<std::string> withCtl(std::vector<std::string> args) {
    args.insert(args.begin(), STEWARD_CTL_BINARY);
    args.push_back("--config-folder=" + (central_->dir() / "etc").string());
    return args;
  }

  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

TEST_F(Ctl, RunPrintsTheOutputAndSucceeds) {
  const auto r = run("ship1", {"sh", "-c", "echo hello from $(hostname >/dev/null && echo ship1)"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "hello from ship1\n");
  EXPECT_EQ(r.err, "");
  // The reply is also kept where replies always go.
  EXPECT_TRUE(waitFor([&] {
    return readFile(central_->dataFolder() / "steward-ctl" / "ship1" / "ship1.REQCliCommand.log")
               .find("hello from ship1") != std::string::npos;
  }, 10s));
}

TEST_F(Ctl, RunOfAFailingProgramPrintsItsOutputAndExitsOne) {
  const auto r = run("ship1", {"sh", "-c", "echo partial output; exit 3"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.out.find("partial output"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("ship1: REQCliCommand: exit status 3"), std::string::npos) << r.err;
}

TEST_F(Ctl, StdoutStderrAndTheExitStatusComeApart) {
  const std::vector<std::string> program{"sh", "-c", "echo to stdout; echo to stderr >&2; exit 5"};
  auto r = run("ship1", program);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.out, "to stdout\n");
  EXPECT_EQ(r.err, "to stderr\nsteward-ctl: ship1: REQCliCommand: exit status 5\n");
  r = run("ship1", program, {"--exit-code"});
  EXPECT_EQ(r.exitCode, 5) << r.err;
  // Success keeps stderr too.
  r = run("ship1", {"sh", "-c", "echo fine; echo a warning >&2"});
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_EQ(r.out, "fine\n");
  EXPECT_EQ(r.err, "a warning\n");
  // The daemon's lines carry them as the reply's result.
  r = run("ship1", program, {"--json"});
  EXPECT_NE(r.out.find(R"("data":["to stdout\n"])"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("result":{"exitStatus":"5","stderr":"to stderr\n"})"), std::string::npos) << r.out;
  // The reply written to the data folder keeps what it kept before: the output.
  EXPECT_TRUE(waitFor([&] {
    return readFile(central_->dataFolder() / "steward-ctl" / "ship1" / "ship1.REQCliCommand.log").find("to stdout") != std::string::npos;
  }, 10s));
}

TEST_F(Ctl, JsonPrintsTheDaemonsLines) {
  const auto r = run("ship1", {"echo", "hi"}, {"--json"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("{\"ok\":true,\"ids\":["), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("node":"ship1","method":"REQCliCommand","data":["hi\n"],"error":"","result":{"exitStatus":"0","stderr":""},"final":true})"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"done\":true}"), std::string::npos) << r.out;
}

TEST_F(Ctl, AMessageTheReceiverRefusesExitsFiveWithTheReasonAndItsCode) {
  startNode("ship2", {"--startSubREQCliCommand=ship9"});
  const auto r = run("ship2", {"true"});
  EXPECT_EQ(r.exitCode, 5) << r.err;
  EXPECT_NE(r.err.find("ship2: REQCliCommand (notAllowed): "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("central is not allowed to send REQCliCommand"), std::string::npos) << r.err;
}

TEST_F(Ctl, ANodeNobodyListensAtIsSaidAtOnceAndWithWaitItIsWaitedFor) {
  makeNode("ship3");  // known by name, never started
  auto started = std::chrono::steady_clock::now();
  auto r = run("ship3", {"true"});
  EXPECT_EQ(r.exitCode, 7) << r.out << r.err;
  EXPECT_NE(r.err.find("ship3 is offline: central has never heard from it"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stays queued until"), std::string::npos) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  // A method not started on a node that is up is told apart by the node's hellos.
  StewardNode& ship4 = startNode("ship4", {"--startPubREQHello=1"});
  ASSERT_TRUE(waitFor([&] { return ctl({"nodes"}).out.find("ship4 ") != std::string::npos; }, 15s));
  r = run("ship4", {"true"});
  EXPECT_EQ(r.exitCode, 7) << r.out << r.err;
  EXPECT_NE(r.err.find("ship4 is up (its last hello"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("REQCliCommand is not started there (steward-ctl start ship4 REQCliCommand)"),
            std::string::npos) << r.err;
  ship4.stop();
  // --wait waits for the node until the timeout.
  started = std::chrono::steady_clock::now();
  r = run("ship3", {"true"}, {"--timeout=1", "--wait"});
  EXPECT_EQ(r.exitCode, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("no final answer within 11 s"), std::string::npos) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 25s);
}

TEST_F(Ctl, LocalProblemsAreExitThreeAndUsageIsExitTwo) {
  auto r = runToEnd({STEWARD_CTL_BINARY, "ps", "ship1", "--socket=/nonexistent/steward.sock"}, root_);
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_NE(r.err.find("cannot reach the daemon at /nonexistent/steward.sock"), std::string::npos) << r.err;
  // The daemon refuses input naming a method nobody has.
  r = run("ship1", {"true"}, {"--method=REQNoSuchMethod"});
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_NE(r.err.find("the daemon refused the input (unknownMethod)"), std::string::npos) << r.err;
  r = runToEnd(withCtl({"run", "ship1"}), root_);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("run needs the program after --"), std::string::npos) << r.err;
  r = runToEnd({STEWARD_CTL_BINARY, "reboot"}, root_);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("unknown command \"reboot\""), std::string::npos) << r.err;
  for (const char* command : {"run", "send", "ps", "start", "stop", "tail"}) {
    r = runToEnd({STEWARD_CTL_BINARY, command, "--help"}, root_);
    EXPECT_EQ(r.exitCode, 0) << command;
    EXPECT_NE(r.out.find("Exit status"), std::string::npos) << command << r.out;
  }
}

TEST_F(Ctl, PsStopAndStartManageAProcessOnANode) {
  auto r = ctl({"ps", "ship1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("node ship1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("REQTailFile"), std::string::npos) << r.out;

  r = ctl({"stop", "ship1", "REQTailFile"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = ctl({"ps", "ship1"});
  EXPECT_EQ(r.out.find("subscriber REQTailFile"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("REQTailFile "), std::string::npos) << r.out;

  r = ctl({"start", "ship1", "REQTailFile"});  // allowed from central, the default
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = ctl({"ps", "ship1", "--json"});
  EXPECT_NE(r.out.find("ship1.REQTailFile.CommandACK"), std::string::npos) << r.out;
  // The answer itself, an object, on one line.
  EXPECT_EQ(r.out.rfind(R"({"node":"ship1","processes":[)", 0), 0u) << r.out;
  EXPECT_EQ(countLines(r.out), 1u) << r.out;

  r = ctl({"stop", "ship1", "REQNoSuchMethod"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_FALSE(r.err.empty());
}

TEST_F(Ctl, TailPrintsLinesAsTheyAreWrittenUntilTheTimeout) {
  const fs::path file = root_ / "app.log";
  std::ofstream(file) << "old line\n";
  auto tail = std::async(std::launch::async, [&] { return ctl({"tail", "ship1", file.string(), "--timeout=4"}); });
  // The tail says where it follows from; each line is written once the one before went back.
  ASSERT_TRUE(waitFor([&] { return ship1_->log().find("following " + file.string() + " from offset") != std::string::npos; }, 30s))
      << ship1_->log();
  const auto audit = ship1_->dir() / "db" / "audit.log";
  size_t sent = 0;
  for (const char* line : {"first\n", "second\n"}) {
    std::ofstream(file, std::ios::app) << line;
    ASSERT_TRUE(waitFor([&] { return occurrences(readFile(audit), R"("detail":"partial")") > sent; }, 10s));
    ++sent;
  }
  const auto r = tail.get();
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "first\nsecond\n");
}

TEST_F(Ctl, SendPrintsTheRepliesOfAFileOrJustTheIds) {
  const fs::path file = root_ / "two.json";
  std::ofstream(file) << R"([{"toNode":"ship1","method":"REQCliCommand","data":["echo","one"]},
                             {"toNode":"ship1","method":"REQCliCommand","data":["echo","two"]}])";
  auto r = ctl({"send", file.string()});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(countLines(r.out, "=== ship1 REQCliCommand (id "), 2u) << r.out;
  EXPECT_NE(r.out.find("one\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("two\n"), std::string::npos) << r.out;
  r = ctl({"send", file.string(), "--no-wait"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(countLines(r.out, "accepted "), 2u) << r.out;
  std::ofstream(root_ / "bad.json") << R"({"not":"an array"})";
  r = ctl({"send", (root_ / "bad.json").string()});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("is not a JSON array of messages"), std::string::npos) << r.err;
}

// A central and three ships that say hello every second; ship1 and ship2 have facts of their own.
class CtlFleet : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    for (const std::string name : {"ship1", "ship2", "ship3"}) {
      const fs::path facts = root_ / (name + "-facts");
      fs::create_directories(facts);
      if (name != "ship3") std::ofstream(facts / "role") << "# what it does\nrole = " << (name == "ship1" ? "db" : "web") << "\n";
      ships_.push_back(&startNode(name, {"--startSubREQCliCommand=central", "--startPubREQHello=1",
                                         "--factsFolder=" + facts.string(),
                                         "--startupFolder=" + (root_ / (name + "-startup")).string()}));
    }
    ASSERT_TRUE(waitFor([&] { return countLines(ctl({"nodes"}).out, " online ") == 3; }, 20s))
        << ctl({"nodes"}).out;
  }
  RunResult ctl(std::vector<std::string> args) { return E2eTest::ctl(*central_, std::move(args)); }

  StewardNode* central_ = nullptr;
  std::vector<StewardNode*> ships_;
};

TEST_F(CtlFleet, GlobListAndAllReachEveryNodeAndAnOfflineOneIsSaidWithinSeconds) {
  auto r = ctl({"run", "ship*", "--", "sh", "-c", "echo hello from $0", "x"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(countLines(r.out, "hello from x"), 3u) << r.out;
  for (const char* ship : {"ship1", "ship2", "ship3"}) {
    EXPECT_NE(r.out.find("=== " + std::string(ship) + "\nhello from x\n"), std::string::npos) << r.out;
  }
  EXPECT_NE(r.err.find("3/3 ok"), std::string::npos) << r.err;

  ships_[2]->kill9();
  for (const std::vector<std::string>& target : {std::vector<std::string>{"ship*"},
                                                 std::vector<std::string>{"ship1,ship2,ship3"},
                                                 std::vector<std::string>{"--all"}}) {
    std::vector<std::string> args{"run"};
    args.insert(args.end(), target.begin(), target.end());
    for (const char* a : {"--", "echo", "hi"}) args.push_back(a);
    const auto started = std::chrono::steady_clock::now();
    r = ctl(args);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << target[0];
    EXPECT_EQ(r.exitCode, 7) << target[0] << r.out << r.err;
    EXPECT_NE(r.out.find("=== ship1\nhi\n"), std::string::npos) << target[0] << r.out;
    EXPECT_NE(r.out.find("=== ship2\nhi\n"), std::string::npos) << target[0] << r.out;
    EXPECT_EQ(r.out.find("=== ship3"), std::string::npos) << target[0] << r.out;
    EXPECT_NE(r.err.find("ship3 is offline: last heard from"), std::string::npos) << target[0] << r.err;
    EXPECT_NE(r.err.find("2/3 ok; ship3 offline"), std::string::npos) << target[0] << r.err;
  }
  // One object per node for scripts.
  r = ctl({"run", "ship1,ship3", "--json", "--", "echo", "hi"});
  EXPECT_EQ(r.exitCode, 7) << r.err;
  EXPECT_EQ(countLines(r.out, "{\"node\":"), 2u) << r.out;
  EXPECT_NE(r.out.find(R"({"node":"ship1",)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("state":"ok","ok":true,"data":["hi\n"])"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("state":"offline","ok":false)"), std::string::npos) << r.out;
  // A pattern nothing matches says what central knows.
  r = ctl({"run", "boat*", "--", "true"});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("no node matches boat*"), std::string::npos) << r.err;
}

TEST_F(CtlFleet, FactsTellTheFleetAndPickTheTarget) {
  auto r = ctl({"nodes"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("ship1 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" online "), std::string::npos) << r.out;
  r = ctl({"nodes", "--json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find(R"("role":"db")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("stewardVersion":")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("kernel":")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("helloSeconds":1)"), std::string::npos) << r.out;

  r = ctl({"run", "--where", "role=db", "--", "echo", "db here"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("=== ship1\ndb here\n"), std::string::npos) << r.out;
  EXPECT_EQ(countLines(r.out, "db here"), 1u) << r.out;
  EXPECT_NE(r.err.find("1/1 ok"), std::string::npos) << r.err;
  r = ctl({"run", "ship*", "--where", "role=*", "--", "echo", "has a role"});
  EXPECT_EQ(countLines(r.out, "has a role"), 2u) << r.out;
  EXPECT_EQ(r.out.find("=== ship3"), std::string::npos) << r.out;
  // A fact changed in its file shows at the next hello.
  std::ofstream(root_ / "ship3-facts" / "role") << "role=db\n";
  ASSERT_TRUE(waitFor([&] { return ctl({"nodes", "--where", "role=db"}).out.find("ship3 ") != std::string::npos; }, 10s));
  r = ctl({"run", "--where", "role=db", "--", "echo", "db here"});
  EXPECT_EQ(countLines(r.out, "db here"), 2u) << r.out;
}

TEST_F(CtlFleet, StartupFilesArePutListedAndRemovedAcrossTheFleet) {
  const fs::path file = root_ / "announce.json";
  std::ofstream(file) << R"([{"toNode":"central","method":"REQToFileAppend","data":["up"],"fileName":"boot.log"}])";
  auto r = ctl({"startup", "ship*", "put", file.string()});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("3/3 ok"), std::string::npos) << r.err;
  for (const std::string name : {"ship1", "ship2", "ship3"}) {
    EXPECT_TRUE(fs::exists(root_ / (name + "-startup") / "announce.json")) << name;
  }
  r = ctl({"startup", "ship1", "list"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("\"name\":\"announce.json\""), std::string::npos) << r.out;
  // Refused before anything is sent: not JSON; and by the node: not messages it would take.
  std::ofstream(root_ / "broken.json") << "[{";
  r = ctl({"startup", "ship1", "put", (root_ / "broken.json").string()});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  std::ofstream(root_ / "unknown.json") << R"([{"toNode":"central","method":"REQNoSuch"}])";
  r = ctl({"startup", "ship1", "put", (root_ / "unknown.json").string(), "20-unknown.json"});
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("unknown method"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(root_ / "ship1-startup" / "20-unknown.json"));
  r = ctl({"startup", "ship1,ship2", "rm", "announce.json"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_FALSE(fs::exists(root_ / "ship1-startup" / "announce.json"));
  EXPECT_TRUE(fs::exists(root_ / "ship3-startup" / "announce.json"));
}

TEST_F(CtlFleet, ACancelledMessageNeverRunsWhenItsNodeComesBack) {
  ships_[2]->stop();
  const fs::path cancelled = root_ / "cancelled", kept = root_ / "kept";
  auto r = ctl({"run", "ship3", "--", "touch", cancelled.string()});
  ASSERT_EQ(r.exitCode, 7) << r.err;
  r = ctl({"run", "ship3", "--", "touch", kept.string()});
  ASSERT_EQ(r.exitCode, 7) << r.err;
  r = ctl({"queue", "ship3"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(countLines(r.out, " ship3 "), 2u) << r.out;
  EXPECT_EQ(countLines(r.out, " touch "), 2u) << r.out;
  const size_t at = r.out.find("touch " + cancelled.string());
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string line = r.out.substr(r.out.rfind('\n', at) + 1);
  const std::string id = line.substr(0, line.find(' '));
  r = ctl({"cancel", id});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "cancelled " + id + "\n");
  r = ctl({"cancel", id});
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.err.find(id + ": not queued here"), std::string::npos) << r.err;
  r = ctl({"queue", "ship3"});
  EXPECT_EQ(countLines(r.out, " touch "), 1u) << r.out;
  EXPECT_EQ(countLines(r.out, "touch " + kept.string()), 1u) << r.out;

  ships_[2]->start();
  ASSERT_TRUE(ships_[2]->waitReady());
  ASSERT_TRUE(waitFor([&] { return fs::exists(kept); }, 30s)) << "the message not cancelled runs";
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(fs::exists(cancelled));
  EXPECT_EQ(ctl({"queue"}).out, "nothing queued\n");
}

}  // namespace
}  // namespace steward::e2e
