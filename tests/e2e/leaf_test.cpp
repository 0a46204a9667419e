// Nodes behind a ship's gateway nats-server joined to central's as a leaf node (conf/leaf/): the
// transport-level answer to "a node central's broker cannot reach", with no store and forward on
// the way. A command crosses the leaf link, and one sent while the link is down arrives once it is
// back (the sender's outbox keeps it).
#include "tests/e2e/harness.hpp"

#include <fstream>
#include <thread>

namespace steward::e2e {
namespace {

class LeafNode : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    const std::vector<uint16_t> ports{freePort(), freePort(), freePort()};
    fs::create_directories(root_ / "hub");
    fs::create_directories(root_ / "gateway");
    std::ofstream(root_ / "hub" / "hub.conf") << "leafnodes { listen: 127.0.0.1:" << ports[1] << " }\n";
    std::ofstream(root_ / "gateway" / "gateway.conf")
        << "leafnodes { remotes: [ { urls: [\"nats-leaf://127.0.0.1:" << ports[1] << "\"] } ] }\n";
    hub_ = std::make_unique<NatsServer>(root_ / "hub", ports[0], root_ / "hub" / "hub.conf");
    gateway_ = std::make_unique<NatsServer>(root_ / "gateway", ports[2], root_ / "gateway" / "gateway.conf");
    ASSERT_TRUE(linked()) << readFile(root_ / "gateway" / "nats-server.log");
    central_ = &makeNode("central", {}, hub_->address());
    central_->start();
    ASSERT_TRUE(central_->waitReady());
    ship1_ = &makeNode("ship1", {"--startSubREQCliCommand=central"}, gateway_->address());
    ship1_->start();
    ASSERT_TRUE(ship1_->waitReady());
  }
  bool linked() {
    return waitFor([&] {
      return readFile(root_ / "gateway" / "nats-server.log").find("Leafnode connection created") != std::string::npos;
    }, 10s);
  }
  std::unique_ptr<NatsServer> hub_;
  std::unique_ptr<NatsServer> gateway_;
  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

TEST_F(LeafNode, ACommandReachesAShipBehindItsGatewayEvenAfterTheLinkWasDown) {
  ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo over the leaf", R"("fileName":"leaf.log")"))));
  const auto reply = central_->dataFolder() / "ship1" / "leaf.log";
  ASSERT_TRUE(waitFor([&] { return readFile(reply) == "over the leaf\n"; }, 30s)) << central_->errorLog();

  // The ship's side goes away (its gateway server, and the link with it); a command is sent
  // meanwhile: central's outbox keeps it until the gateway is back and the link made again.
  gateway_->stop();
  ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo after the outage",
                                                R"("fileName":"leaf.log","ACKTimeout":2,"lifetime":120)"))));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(readFile(reply), "over the leaf\n");
  gateway_->start();
  EXPECT_TRUE(waitFor([&] { return readFile(reply) == "over the leaf\nafter the outage\n"; }, 60s))
      << readFile(reply) << central_->errorLog();
}

}  // namespace
}  // namespace steward::e2e
