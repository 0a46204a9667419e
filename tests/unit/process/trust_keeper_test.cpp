#include "core/process/trust_keeper.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward;
using namespace steward::process;

namespace {

namespace fs = std::filesystem;

class Captured final : public MessageSender {
 public:
  Result<uint64_t> send(message::Message m) override {
    sent.push_back(std::move(m));
    return sent.size();
  }
  std::vector<message::Message> to(const std::string& node) const {
    std::vector<message::Message> out;
    for (const auto& m : sent) {
      if (m.toNode == node) out.push_back(m);
    }
    return out;
  }
  std::vector<message::Message> sent;
};

// Central's keeper and ship1's, over real registers in temporary folders; what central sends is
// captured and handed to ship1 by hand.
class TrustKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trust-keeper-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    central_ = std::make_unique<security::Identity>(security::Identity::create(dir_ / "central-keys").value());
    ship1_ = std::make_unique<security::Identity>(security::Identity::create(dir_ / "ship1-keys").value());
    fs::create_directories(dir_ / "central-trusted");
    fs::create_directories(dir_ / "ship1-trusted");
    std::ofstream(dir_ / "central-trusted" / "ship1.pub") << ship1_->publicKey() << "\n";
    std::ofstream(dir_ / "ship1-trusted" / "central.pub") << central_->publicKey() << "\n";
    atShip1_ = security::Trust::open({.ownNode = "ship1", .ownKey = ship1_->publicKey(), .centralNode = "central",
                                      .folder = dir_ / "ship1-trusted", .stateDir = dir_ / "ship1-state"})
                   .value();
    shipKeeper_ = std::make_unique<TrustKeeper>("ship1", "central", atShip1_.get(), ship1_.get(), shipSent_, errors_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void openCentral() {
    atCentral_ = security::Trust::open({.ownNode = "central", .ownKey = central_->publicKey(),
                                        .centralNode = "central", .folder = dir_ / "central-trusted",
                                        .stateDir = dir_ / "central-state"})
                     .value();
    keeper_ = std::make_unique<TrustKeeper>("central", "central", atCentral_.get(), central_.get(), sent_, errors_);
  }
  message::Message helloFromShip1(uint64_t held) const {
    message::Message m;
    m.fromNode = "ship1";
    m.toNode = "central";
    m.method = "REQHello";
    m.data = {"ship1", ship1_->publicKey(), std::to_string(held)};
    return m;
  }
  // Hands ship1 what central sent it, in order; the last answer.
  std::string deliverToShip1() {
    std::string last;
    for (const auto& m : sent_.to("ship1")) {
      auto r = shipKeeper_->applyUpdate(m.data);
      last = r ? r.value() : "error: " + r.error().message;
    }
    sent_.sent.clear();
    return last;
  }

  fs::path dir_;
  std::unique_ptr<security::Identity> central_, ship1_;
  std::unique_ptr<security::Trust> atCentral_, atShip1_;
  Captured sent_, shipSent_;
  observe::ErrorKernel errors_{"central", "central", 10, 1, [](message::Message) {}};
  std::unique_ptr<TrustKeeper> keeper_, shipKeeper_;
};

}  // namespace

TEST_F(TrustKeeperTest, AChangeIsPushedAsChangesAndAHelloBehindGetsWhatItLacks) {
  openCentral();
  auto other = security::Identity::create(dir_ / "ship2-keys").value();
  atCentral_->announce("ship2", other.publicKey(), 1);
  rapidjson::Document arg;
  arg.Parse(R"({"node":"ship2"})");
  ASSERT_TRUE(keeper_->operate("keysAllow", &arg).ok());
  // Every known node (ship1, provisioned; ship2, allowed now) gets the change alone.
  ASSERT_EQ(sent_.to("ship1").size(), 1u);
  ASSERT_EQ(sent_.to("ship2").size(), 1u);
  EXPECT_EQ(sent_.to("ship1").front().data.at(0), "changes");
  EXPECT_LT(sent_.to("ship1").front().data.at(1).size(), 300u);
  EXPECT_NE(deliverToShip1().find("version 1 applied"), std::string::npos);
  EXPECT_EQ(atShip1_->keyOf("ship2"), other.publicKey());

  // ship1 misses the revocation; its next hello (holding 1) brings it the changes since 1.
  ASSERT_TRUE(keeper_->operate("keysRevoke", &arg).ok());
  sent_.sent.clear();
  keeper_->onHello(helloFromShip1(1), 1);
  ASSERT_EQ(sent_.to("ship1").size(), 1u);
  EXPECT_EQ(sent_.to("ship1").front().data.at(0), "changes");
  EXPECT_NE(deliverToShip1().find("version 2 applied"), std::string::npos);
  EXPECT_TRUE(atShip1_->revoked(other.publicKey()));
  // Up to date: a hello gets nothing.
  keeper_->onHello(helloFromShip1(2), 2);
  EXPECT_TRUE(sent_.sent.empty());
}

TEST_F(TrustKeeperTest, ANodeWithNothingGetsALargeSetInSignedParts) {
  // A register of 5,000 allowed nodes written before central kept its changes: it has none.
  std::string keys;
  for (int i = 0; i < 5000; ++i) {
    keys += std::string(i ? "," : "") + "\"n" + std::to_string(i) + "\":\"" + std::string(44, 'A' + i % 26) + "\"";
  }
  fs::create_directories(dir_ / "central-state");
  std::ofstream(dir_ / "central-state" / "trust.json")
      << R"({"set":{"version":7,"keys":{)" << keys << R"(},"revoked":[]},"signature":"","pending":{}})";
  openCentral();
  keeper_->onHello(helloFromShip1(0), 1);
  const auto parts = sent_.to("ship1");
  ASSERT_GE(parts.size(), 2u) << "the set is over 256 KiB: it goes in parts";
  for (const auto& m : parts) {
    EXPECT_EQ(m.data.at(0), "part");
    EXPECT_LE(m.data.at(1).size(), 140u * 1024);
  }
  const std::string last = deliverToShip1();
  EXPECT_NE(last.find("version 7 applied (" + std::to_string(parts.size()) + " parts)"), std::string::npos) << last;
  EXPECT_EQ(atShip1_->version(), 7u);
  EXPECT_TRUE(atShip1_->keyOf("n4999").has_value());
}
