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
  EXPECT_NE(answer.find("\"ids\":[1,2]"), std::string::npos) << answer;
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
  std::this_thread::sleep_for(2500ms);
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
  std::this_thread::sleep_for(2s);  // anything more would show up now
  EXPECT_EQ(spy.count(), 3u);
  EXPECT_EQ(countLines(central.errorLog(), "to ship9"), 1u) << central.errorLog();
  EXPECT_EQ(countLines(central.errorLog(), "given up after 3 send(s)"), 1u) << central.errorLog();
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
  // The refusal stopped the retries: one refusal from ship1, one "refused" from ship2.
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(countLines(central.errorLog(), "ship1: node ship1 refused"), 1u) << central.errorLog();
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
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(central.running());
  nats_->start();
  const auto file = central.dataFolder() / "ship1" / "p.log";
  ASSERT_TRUE(waitFor([&] { return readFile(file) == "patience\n"; }, 45s))
      << central.log() << ship1.log();
  // Resends during the outage must not turn into extra runs once the broker is back.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(readFile(file), "patience\n");
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
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(readFile(file), "run\n");
  EXPECT_EQ(countLines(ship1.log(), "ACKed again, not run"), 2u);
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
