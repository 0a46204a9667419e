// Delivery across real daemons and a real nats-server: order, fan-out, late and absent nodes,
// refused senders, and a broker that comes up after the daemons.
#include "tests/e2e/harness.hpp"

#include "core/security/envelope.hpp"
#include "core/util/clock.hpp"

#include <thread>

namespace steward::e2e {
namespace {

class Delivery : public E2eTest {};

TEST_F(Delivery, TwentySequencedMessagesRunAndReplyInSendOrder) {
  auto& central = startNode("central");
  startNode("ship1", {"--startSubREQCliCommand=central"});
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(accepted(central.submit(
        command("ship1", "echo " + std::to_string(i), R"("fileName":"order.log","ACKTimeout":5)"))));
  }
  const auto file = central.dataFolder() / "ship1" / "order.log";
  ASSERT_TRUE(waitFor([&] { return countLines(readFile(file)) == 20; }, 60s)) << readFile(file);
  std::string expected;
  for (int i = 1; i <= 20; ++i) expected += std::to_string(i) + "\n";
  EXPECT_EQ(readFile(file), expected);
}

TEST_F(Delivery, ToNodesFansOutToEveryNode) {
  auto& central = startNode("central");
  startNode("ship1", {"--startSubREQCliCommand=central"});
  startNode("ship2", {"--startSubREQCliCommand=central"});
  const std::string answer = central.submit(
      R"([{"toNode":"","toNodes":["ship1","ship2"],"method":"REQCliCommand",
           "data":["bash","-c","echo from $0"],"directory":"fan","fileName":"out.log"}])");
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto ids = idsOf(answer);
  ASSERT_EQ(ids.size(), 2u) << answer;
  EXPECT_EQ(ids[1], ids[0] + 1) << answer;
  for (const char* ship : {"ship1", "ship2"}) {
    const auto file = central.dataFolder() / "fan" / ship / "out.log";
    EXPECT_TRUE(waitFor([&] { return !readFile(file).empty(); }, 30s)) << ship;
    EXPECT_EQ(readFile(file), "from bash\n");
  }
}

TEST_F(Delivery, ANodeStartedLateButInsideTheRetryWindowGetsItsMessage) {
  auto& central = startNode("central");
  auto& ship1 = makeNode("ship1", {"--startSubREQCliCommand=central"});
  ASSERT_TRUE(accepted(central.submit(
      command("ship1", "echo late", R"("fileName":"late.log","ACKTimeout":1,"retries":15)"))));
  // Started only once central has had to resend.
  ASSERT_TRUE(waitFor([&] { return countLines(central.auditLog(), "\"event\":\"retried\"") >= 2; }, 30s))
      << central.auditLog();
  ship1.start();
  ASSERT_TRUE(ship1.waitReady());
  const auto file = central.dataFolder() / "ship1" / "late.log";
  EXPECT_TRUE(waitFor([&] { return readFile(file) == "late\n"; }, 30s)) << readFile(file);
  EXPECT_EQ(countLines(central.errorLog(), "given up"), 0u);
}

TEST_F(Delivery, ANodeThatNeverStartsGetsRetriesPlusOneSendsAndOneErrorLine) {
  auto& central = startNode("central");
  BrokerSpy spy(nats_->address(), "ship9.>");
  const auto start = std::chrono::steady_clock::now();
  const std::string answer = central.submit(
      command("ship9", "echo never", R"("ACKTimeout":1,"retries":2)"));
  ASSERT_TRUE(accepted(answer)) << answer;
  ASSERT_TRUE(waitFor([&] { return countLines(central.errorLog(), "to ship9") > 0; }, 30s))
      << central.log();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 2500ms) << "gave up before 3 ACK timeouts";
  // A second message on the same path goes out only once the first is settled: when it too has
  // been given up, every send of the first has been seen.
  ASSERT_TRUE(accepted(central.submit(command("ship9", "echo barrier", R"("ACKTimeout":1,"retries":0)"))));
  ASSERT_TRUE(waitFor([&] { return countLines(central.errorLog(), "to ship9") == 2; }, 30s)) << central.errorLog();
  EXPECT_TRUE(waitFor([&] { return spy.count() == 4u; }, 10s)) << spy.count();
  EXPECT_EQ(countLines(central.errorLog(), "given up after 3 send(s)"), 1u) << central.errorLog();
  EXPECT_EQ(countLines(central.errorLog(), "given up after 1 send(s)"), 1u) << central.errorLog();
}

TEST_F(Delivery, ASenderNotAllowedIsRefusedNotRunAndCentralHearsWhoTriedWhat) {
  auto& central = startNode("central");
  auto& ship1 = startNode("ship1", {"--startSubREQCliCommand=central"});
  auto& ship2 = startNode("ship2");
  const auto marker = root_ / "ran";
  ASSERT_TRUE(accepted(ship2.submit(
      command("ship1", "touch " + marker.string(), R"("ACKTimeout":1,"retries":5)"))));
  ASSERT_TRUE(waitFor([&] { return countLines(central.errorLog(), "not allowed") >= 1; }, 30s))
      << central.errorLog();
  const std::string errors = central.errorLog();
  EXPECT_NE(errors.find("ship2 is not allowed to send REQCliCommand"), std::string::npos) << errors;
  // The refusal stopped the retries: a second command from ship2 is sent only once the first is
  // settled, so when it has been refused too there is exactly one refusal per message.
  ASSERT_TRUE(accepted(ship2.submit(command("ship1", "touch " + marker.string(), R"("ACKTimeout":1,"retries":5)"))));
  ASSERT_TRUE(waitFor([&] { return countLines(central.errorLog(), "ship1: node ship1 refused") >= 2; }, 30s))
      << central.errorLog();
  EXPECT_EQ(countLines(central.errorLog(), "ship1: node ship1 refused"), 2u) << central.errorLog();
  EXPECT_FALSE(fs::exists(marker));
  (void)ship1;
}

TEST_F(Delivery, DaemonsStartedBeforeTheBrokerConnectWhenItComesUp) {
  nats_->stop();
  auto& central = makeNode("central");
  auto& ship1 = makeNode("ship1", {"--startSubREQCliCommand=central"});
  central.start();
  ship1.start();
  ASSERT_TRUE(waitFor([&] { return fs::exists(central.socket()); }, 10s)) << central.log();
  ASSERT_TRUE(accepted(central.submit(
      command("ship1", "echo patience", R"("fileName":"p.log","ACKTimeout":1,"retries":30)"))));
  // The broker stays away for a while (attempts made with no broker are not sent, so there is no
  // event to wait for: this is the scenario's pace, not a check).
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(central.running());
  nats_->start();
  const auto file = central.dataFolder() / "ship1" / "p.log";
  ASSERT_TRUE(waitFor([&] { return readFile(file) == "patience\n"; }, 45s))
      << central.log() << ship1.log();
  // Resends during the outage must not turn into extra runs once the broker is back: a second
  // command is sent only after the first is settled and runs after it, so its reply comes last.
  ASSERT_TRUE(accepted(central.submit(command("ship1", "echo after", R"("fileName":"p.log")"))));
  ASSERT_TRUE(waitFor([&] { return readFile(file).find("after\n") != std::string::npos; }, 30s)) << readFile(file);
  EXPECT_EQ(readFile(file), "patience\nafter\n");
}

}  // namespace
}  // namespace steward::e2e

#include "core/message/codec.hpp"

namespace steward::e2e {
namespace {

TEST_F(Delivery, AResentMessageIsAckedAgainButRunOnce) {
  makeNode("central");  // its key signs what the client sends in its name
  auto& ship1 = startNode("ship1", {"--startSubREQCliCommand=central"});
  auto central = security::Identity::loadOrCreate(root_ / "central" / "db" / "keys");
  ASSERT_TRUE(central.ok());
  const auto file = root_ / "runs";
  message::Message m;
  m.id = 4242;
  m.fromNode = "central";
  m.toNode = "ship1";
  m.method = "REQCliCommand";
  m.data = {"bash", "-c", "echo run >> " + file.string()};
  const std::string wire = message::encodeWire(m);
  const std::string subject = "ship1.REQCliCommand.CommandACK";
  BrokerClient client(nats_->address());
  // Three sends, each sealed anew as a publisher's resends are.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ackOf(client.request(subject, security::seal(*central, "central", subject, wire, nowUnixMs() + i))),
              R"({"ok":true})") << i;
  }
  ASSERT_TRUE(waitFor([&] { return readFile(file) == "run\n"; }, 10s));
  // A copy is ACKed again only after ship1 decided not to run it (it never enters the queue), so
  // once both decisions are logged nothing more can run.
  ASSERT_TRUE(waitFor([&] { return countLines(ship1.log(), "ACKed again, not run") == 2u; }, 10s)) << ship1.log();
  EXPECT_EQ(readFile(file), "run\n");
}

TEST_F(Delivery, AnUndecodableMessageIsRefusedSoTheSenderStops) {
  startNode("central");
  startNode("ship1", {"--startSubREQCliCommand=central"});
  auto central = security::Identity::loadOrCreate(root_ / "central" / "db" / "keys");
  ASSERT_TRUE(central.ok());
  BrokerClient client(nats_->address());
  const std::string subject = "ship1.REQCliCommand.CommandACK";
  std::string answer = client.request(subject, security::seal(*central, "central", subject, "{not json", nowUnixMs()));
  EXPECT_NE(answer.find("\"ok\":false"), std::string::npos) << answer;
  EXPECT_NE(answer.find("malformed JSON"), std::string::npos) << answer;
  answer = client.request(subject, "{not json");
  EXPECT_NE(answer.find("unsigned"), std::string::npos) << answer;
}

}  // namespace
}  // namespace steward::e2e
