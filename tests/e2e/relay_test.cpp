// A relay (README, "Relays"): two nats-servers that know nothing of each other, joined only by a
// node connected to both. Central's command to a node on the far broker is taken by the relay,
// held in its store, forwarded under its seal and the origin's, and the reply comes back the same
// way; a kill -9 of the relay while it holds a command loses nothing and runs nothing twice.
#include "tests/e2e/harness.hpp"

#include <thread>

namespace steward::e2e {
namespace {

class RelayTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    fs::create_directories(root_ / "far");
    far_ = std::make_unique<NatsServer>(root_ / "far", freePort());
    centralMetrics_ = freePort();
    gw1Metrics_ = freePort();
    central_ = &makeNode("central", {"--carriers=gw1=ship1", "--promHostAndPort=127.0.0.1:" + std::to_string(centralMetrics_)});
    gw1_ = &makeNode("gw1", {"--relayBrokerAddress=" + far_->address(), "--relayNodes=ship1",
                             "--promHostAndPort=127.0.0.1:" + std::to_string(gw1Metrics_)});
    ship1_ = &makeNode("ship1", {"--startSubREQCliCommand=central", "--carriers=gw1=*", "--startPubREQHello=1"},
                       far_->address());
    for (StewardNode* node : {central_, gw1_, ship1_}) {
      node->start();
      ASSERT_TRUE(node->waitReady()) << node->name() << ":\n" << node->log();
    }
  }
  // How many audit lines of the relay say it took a message of `method` for `toNode`.
  size_t carried(const std::string& toNode, const std::string& method) const {
    return events(*gw1_, "carried", toNode, method);
  }
  // How many audit lines of `node` say `event` of a message of `method` for `toNode`.
  static size_t events(const StewardNode& node, const std::string& event, const std::string& toNode,
                       const std::string& method) {
    const std::string log = node.auditLog();
    const std::string tag = "\"event\":\"" + event + "\"";
    size_t count = 0;
    for (size_t at = log.find(tag); at != std::string::npos; at = log.find(tag, at + 1)) {
      const std::string line = log.substr(at, log.find('\n', at) - at);
      if (line.find("\"toNode\":\"" + toNode + "\"") != std::string::npos &&
          line.find("\"method\":\"" + method + "\"") != std::string::npos) {
        ++count;
      }
    }
    return count;
  }
  uint16_t centralMetrics_ = 0;
  uint16_t gw1Metrics_ = 0;
  std::unique_ptr<NatsServer> far_;
  StewardNode* central_ = nullptr;
  StewardNode* gw1_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

TEST_F(RelayTest, ACommandCrossesTheRelayAndItsReplyComesBackAcrossAKill9OfTheRelay) {
  ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo across the relay", R"("fileName":"relay.log")"))));
  const auto reply = central_->dataFolder() / "ship1" / "relay.log";
  ASSERT_TRUE(waitFor([&] { return readFile(reply) == "across the relay\n"; }, 30s))
      << central_->errorLog() << gw1_->log() << ship1_->log();
  EXPECT_EQ(carried("ship1", "REQCliCommand"), 1u);
  EXPECT_EQ(carried("central", "REQToFileAppend"), 1u) << gw1_->auditLog();
  // ship1's hellos (sent once, no ACK) cross too: central hears of a node it cannot reach.
  EXPECT_TRUE(waitFor([&] {
    return scrapeMetrics(centralMetrics_)["steward_last_hello_timestamp_seconds{node=\"ship1\"}"] > 1.7e9;
  }, 10s));

  // The ship is away: the relay takes the next command (central's outbox lets it go) and holds
  // it; then the relay dies and starts again, and the command is still there for the ship.
  ship1_->stop();
  ASSERT_TRUE(accepted(central_->submit(
      command("ship1", "echo held by the relay", R"("fileName":"relay.log","ACKTimeout":2,"lifetime":120)"))));
  ASSERT_TRUE(waitFor([&] { return carried("ship1", "REQCliCommand") == 2; }, 20s)) << gw1_->log();
  EXPECT_EQ(scrapeMetrics(gw1Metrics_)["steward_relay_held"], 1);
  gw1_->kill9();
  gw1_->start();
  ASSERT_TRUE(gw1_->waitReady()) << gw1_->log();
  EXPECT_TRUE(waitFor([&] { return gw1_->log().find("relay: holding 1 message(s) from before the restart") != std::string::npos; }, 5s))
      << gw1_->log();
  ship1_->start();
  ASSERT_TRUE(ship1_->waitReady());
  EXPECT_TRUE(waitFor([&] { return readFile(reply) == "across the relay\nheld by the relay\n"; }, 60s))
      << readFile(reply) << central_->errorLog() << gw1_->log() << ship1_->log();
  // Once: whatever the relay sent again after its restart ran nowhere a second time.
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(readFile(reply), "across the relay\nheld by the relay\n");
  EXPECT_EQ(scrapeMetrics(gw1Metrics_)["steward_relay_held"], 0);
  EXPECT_GE(scrapeMetrics(gw1Metrics_)["steward_messages_forwarded_total{method=\"REQCliCommand\"}"], 1);
  EXPECT_EQ(central_->errorLog(), "");
}

TEST_F(RelayTest, AReplyWaitsAtTheRelayWhileCentralsSideIsDownAndTheShipHasLetItGo) {
  // The ship's command runs while central's broker (and with it the link to central) goes away:
  // ship1's reply is taken by the relay on the ship's broker, ship1's outbox lets it go, and the
  // relay holds it until central's side is back.
  ASSERT_TRUE(accepted(central_->submit(command("ship1", "sleep 2; echo after the outage",
                                                R"("fileName":"held.log","methodTimeout":20,"lifetime":120)"))));
  ASSERT_TRUE(waitFor([&] { return events(*ship1_, "received", "ship1", "REQCliCommand") == 1; }, 20s))
      << ship1_->auditLog() << gw1_->log();
  nats_->stop();
  ASSERT_TRUE(waitFor([&] { return events(*ship1_, "acked", "central", "REQToFileAppend") == 1; }, 20s))
      << ship1_->auditLog() << gw1_->log();
  EXPECT_EQ(carried("central", "REQToFileAppend"), 1u);
  EXPECT_EQ(scrapeMetrics(gw1Metrics_)["steward_relay_held"], 1);
  const auto reply = central_->dataFolder() / "ship1" / "held.log";
  std::this_thread::sleep_for(3s);  // held, however long the link is down: no tries are spent
  EXPECT_FALSE(fs::exists(reply));
  nats_->start();
  EXPECT_TRUE(waitFor([&] { return readFile(reply) == "after the outage\n"; }, 60s))
      << central_->errorLog() << gw1_->log();
  EXPECT_EQ(events(*gw1_, "forwarded", "central", "REQToFileAppend"), 1u);
}

}  // namespace
}  // namespace steward::e2e
