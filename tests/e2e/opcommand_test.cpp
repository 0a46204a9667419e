// REQOpCommand from central: ps with the spec's message, and listing and removing queued messages.
#include "tests/e2e/harness.hpp"

#include <sstream>

#include <thread>

namespace steward::e2e {
namespace {

class OpCommand : public E2eTest {};

TEST_F(OpCommand, PsWithTheSpecsMessageListsProcessesAndPlugins) {
  auto& central = startNode("central");
  startNode("ship2", {"--startSubREQCliCommand=central"});
  const std::string answer = central.submit(readFile(fs::path(STEWARD_SOURCE_DIR) / "conf/messages/opcommand-ps.json"));
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto reply = central.dataFolder() / "opcommand_logs" / "ship2" / "some.log";
  ASSERT_TRUE(waitFor([&] { return readFile(reply).find("\"processes\"") != std::string::npos; }, 30s))
      << central.errorLog();
  const std::string ps = readFile(reply);
  EXPECT_NE(ps.find("\"node\": \"ship2\""), std::string::npos) << ps;
  EXPECT_NE(ps.find("\"subject\": \"ship2.REQCliCommand.CommandACK\""), std::string::npos) << ps;
  EXPECT_NE(ps.find("\"allowedNodes\": \"central\""), std::string::npos) << ps;
  EXPECT_NE(ps.find("\"name\": \"cli\""), std::string::npos) << ps;
  EXPECT_NE(ps.find("cli.so"), std::string::npos) << ps;
  EXPECT_NE(ps.find("\"subject\": \"ship2.REQOpCommand.CommandACK\""), std::string::npos) << ps;
}

TEST_F(OpCommand, QueuedOutboxMessagesAreListedAndRemoved) {
  auto& central = startNode("central");
  const std::string answer = central.submit(
      R"([{"toNodes":["ship9"],"method":"REQCliCommand","data":["true"],"ACKTimeout":1,"lifetime":600},
          {"toNode":"ship9","method":"REQCliCommand","data":["true"],"ACKTimeout":1,"lifetime":600},
          {"toNode":"ship8","method":"REQCliCommand","data":["true"],"ACKTimeout":1,"lifetime":600}])");
  ASSERT_TRUE(accepted(answer)) << answer;
  ASSERT_TRUE(accepted(central.submit(op("central", R"({"opCmd":"listQueue","opArg":{"queue":"outbox"}})", "list1"))));
  const auto list1 = central.dataFolder() / "ops" / "central" / "list1";
  ASSERT_TRUE(waitFor([&] { return readFile(list1).find("\"outbox\"") != std::string::npos; }, 30s))
      << central.errorLog();
  EXPECT_EQ(countLines(readFile(list1), "\"toNode\": \"ship9\""), 2u) << readFile(list1);
  EXPECT_EQ(countLines(readFile(list1), "\"toNode\": \"ship8\""), 1u) << readFile(list1);

  ASSERT_TRUE(accepted(central.submit(
      op("central", R"({"opCmd":"removeQueued","opArg":{"toNode":"ship9"}})", "removed"))));
  const auto removed = central.dataFolder() / "ops" / "central" / "removed";
  ASSERT_TRUE(waitFor([&] { return readFile(removed).find("\"removed\"") != std::string::npos; }, 30s));
  const auto ids = idsOf(answer);
  ASSERT_EQ(ids.size(), 3u) << answer;
  EXPECT_NE(readFile(removed).find("\"removed\": [\n        " + std::to_string(ids[0]) + ",\n        " +
                                   std::to_string(ids[1]) + "\n    ]"),
            std::string::npos)
      << readFile(removed);

  ASSERT_TRUE(accepted(central.submit(op("central", R"({"opCmd":"listQueue"})", "list2"))));
  const auto list2 = central.dataFolder() / "ops" / "central" / "list2";
  ASSERT_TRUE(waitFor([&] { return readFile(list2).find("\"inbox\"") != std::string::npos; }, 30s));
  EXPECT_EQ(countLines(readFile(list2), "\"toNode\": \"ship9\""), 0u) << readFile(list2);
  EXPECT_EQ(countLines(readFile(list2), "\"toNode\": \"ship8\""), 1u) << readFile(list2);
  EXPECT_NE(readFile(central.dir() / "db" / "audit.log").find("\"event\":\"removed\""),
            std::string::npos);
}

TEST_F(OpCommand, QueuedInboxMessagesAreRemovedButARunningOneIsKept) {
  auto& central = startNode("central");
  auto& ship1 = startNode("ship1", {"--startSubREQCliCommand=central"});
  const auto started = root_ / "started";
  ASSERT_TRUE(accepted(central.submit(command(
      "ship1", "touch " + started.string() + "; sleep 2", R"("fileName":"slow.log")"))));
  ASSERT_TRUE(waitFor([&] { return fs::exists(started); }, 30s));
  for (const char* name : {"second", "third"}) {
    ASSERT_TRUE(accepted(central.submit(
        command("ship1", "touch " + (root_ / name).string(), R"("fileName":"q.log")"))));
  }
  // Both are in ship1's inbox, behind the running one, once ship1's audit log says it took them.
  ASSERT_TRUE(waitFor([&] {
    size_t taken = 0;
    std::istringstream audit(ship1.auditLog());
    for (std::string line; std::getline(audit, line);) {
      taken += line.find("\"event\":\"received\"") != std::string::npos &&
               line.find("\"method\":\"REQCliCommand\"") != std::string::npos;
    }
    return taken == 3;
  }, 30s)) << ship1.auditLog();
  ASSERT_TRUE(accepted(central.submit(op(
      "ship1", R"({"opCmd":"removeQueued","opArg":{"queue":"inbox","method":"REQCliCommand"}})",
      "inbox"))));
  const auto result = central.dataFolder() / "ops" / "ship1" / "inbox";
  ASSERT_TRUE(waitFor([&] { return readFile(result).find("\"removed\"") != std::string::npos; }, 30s))
      << central.errorLog();
  EXPECT_NE(readFile(result).find("\"why\": \"running\""), std::string::npos) << readFile(result);
  EXPECT_TRUE(waitFor([&] { return fs::exists(central.dataFolder() / "ship1" / "slow.log"); }, 30s));
  // Sequenced: a later command runs after anything still queued before it.
  ASSERT_TRUE(accepted(central.submit(command("ship1", "touch " + (root_ / "fourth").string(), R"("fileName":"q.log")"))));
  ASSERT_TRUE(waitFor([&] { return fs::exists(root_ / "fourth"); }, 30s));
  EXPECT_FALSE(fs::exists(root_ / "second"));
  EXPECT_FALSE(fs::exists(root_ / "third"));
}

TEST_F(OpCommand, AnUnknownOpCmdIsAnErrorThatSaysWhatIsKnown) {
  auto& central = startNode("central");
  startNode("ship1");
  ASSERT_TRUE(accepted(central.submit(op("ship1", R"({"opCmd":"reboot"})", "bad"))));
  EXPECT_TRUE(waitFor([&] {
    return central.errorLog().find("unknown opCmd \"reboot\"; this node knows ps, startProc, stopProc, listQueue, removeQueued") !=
           std::string::npos;
  }, 30s)) << central.errorLog();
}

}  // namespace
}  // namespace steward::e2e
