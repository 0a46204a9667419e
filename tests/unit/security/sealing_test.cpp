#include "core/message/codec.hpp"
#include "core/security/envelope.hpp"
#include "core/security/identity.hpp"
#include "core/security/sealing.hpp"
#include "core/security/trust.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

using namespace steward;
namespace fs = std::filesystem;

namespace {

class Sealing : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sealing-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    central_ = std::make_unique<security::Identity>(security::Identity::create(dir_ / "central").value());
    fs::create_directories(dir_ / "trusted");
    std::ofstream(dir_ / "trusted" / "central.pub") << central_->publicKey() << "\n";
    ship_ = std::make_unique<security::Identity>(security::Identity::create(dir_ / "ship1").value());
    trust_ = security::Trust::open({.ownNode = "ship1",
                                    .ownKey = ship_->publicKey(),
                                    .centralNode = "central",
                                    .folder = dir_ / "trusted",
                                    .stateDir = dir_ / "ship1"})
                 .value();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string wire(const std::string& from = "central") {
    message::Message m;
    m.id = 9;
    m.fromNode = from;
    m.toNode = "ship1";
    m.method = "REQCliCommand";
    m.data = {"uptime"};
    return message::encodeWire(m);
  }

  fs::path dir_;
  std::unique_ptr<security::Identity> central_;
  std::unique_ptr<security::Identity> ship_;
  std::unique_ptr<security::Trust> trust_;
  int64_t now_ = 1'800'000'000'000;
};

}  // namespace

TEST_F(Sealing, IdentityIsKeptAndReloadedAndItsSecretIsTheOwnersAlone) {
  auto again = security::Identity::loadOrCreate(dir_ / "central");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->publicKey(), central_->publicKey());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "central" / "node.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ::chmod((dir_ / "central" / "node.key").c_str(), 0644);
  EXPECT_NE(security::Identity::loadOrCreate(dir_ / "central").error().message.find("chmod 600"),
            std::string::npos);
  std::ofstream(dir_ / "central" / "node.key") << "not a key\n";
  ::chmod((dir_ / "central" / "node.key").c_str(), 0600);
  EXPECT_NE(security::Identity::loadOrCreate(dir_ / "central").error().message.find("damaged"),
            std::string::npos);
}

TEST_F(Sealing, ASealOpensAndVerifiesOnlyForItsKeyAndSubject) {
  const std::string payload = security::seal(*central_, "ship1.REQCliCommand.CommandACK", wire(), now_);
  auto sealed = security::open(payload);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->sentUnixMs, now_);
  EXPECT_EQ(sealed->wire, wire());
  EXPECT_TRUE(security::verify(central_->publicKey(), "ship1.REQCliCommand.CommandACK", *sealed));
  EXPECT_FALSE(security::verify(ship_->publicKey(), "ship1.REQCliCommand.CommandACK", *sealed));
  EXPECT_FALSE(security::verify(central_->publicKey(), "ship2.REQCliCommand.CommandACK", *sealed));
  EXPECT_NE(security::open("{}").error().message.find("unsigned"), std::string::npos);
  EXPECT_NE(security::open("SIG1 x y\n{}").error().message.find("not a number"), std::string::npos);
  EXPECT_NE(security::open("SIG1 12").error().message.find("no end of line"), std::string::npos);
}

TEST_F(Sealing, TheVerifierChecksKeySubjectAndWindow) {
  const security::Verifier verifier(*trust_, std::chrono::seconds(300), [this] { return now_; });
  const std::string subject = "ship1.REQCliCommand.CommandACK";
  auto ok = verifier.open(subject, security::seal(*central_, subject, wire(), now_ - 299'000));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->message.data[0], "uptime");
  EXPECT_NE(verifier.open(subject, security::seal(*ship_, subject, wire(), now_)).error().message.find(
                "does not match central's trusted key"),
            std::string::npos);
  EXPECT_NE(verifier.open(subject, security::seal(*central_, subject, wire(), now_ - 301'000))
                .error().message.find("301 s ago"),
            std::string::npos);
  EXPECT_NE(verifier.open(subject, security::seal(*central_, subject, wire(), now_ + 400'000))
                .error().message.find("in the future"),
            std::string::npos);
  EXPECT_NE(verifier.open(subject, security::seal(*central_, subject, wire("ship7"), now_))
                .error().message.find("no trusted key for ship7"),
            std::string::npos);
  // Its own messages (replies to itself) are trusted by its own key.
  EXPECT_TRUE(verifier.open(subject, security::seal(*ship_, subject, wire("ship1"), now_)).ok());
  // A key added to the folder while running is found.
  std::ofstream(dir_ / "trusted" / "ship7.pub") << ship_->publicKey() << "\n";
  EXPECT_TRUE(verifier.open(subject, security::seal(*ship_, subject, wire("ship7"), now_)).ok());
}

TEST_F(Sealing, AnAnswerCountsOnlyWhenTheReceiverSealedItForThatInbox) {
  const security::Verifier verifier(*trust_, std::chrono::seconds(300), [this] { return now_; });
  const std::string inbox = "_INBOX.ship1.abc.7";
  const std::string ack = R"({"ok":true})";
  auto ok = verifier.openAnswer(inbox, security::seal(*central_, inbox, ack, now_), "central");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, ack);
  EXPECT_NE(verifier.openAnswer(inbox, ack, "central").error().message.find("unsigned"), std::string::npos);
  EXPECT_NE(verifier.openAnswer(inbox, security::seal(*ship_, inbox, ack, now_), "central")
                .error().message.find("forged"),
            std::string::npos);
  EXPECT_FALSE(verifier.openAnswer("_INBOX.ship1.abc.8", security::seal(*central_, inbox, ack, now_), "central").ok());
  EXPECT_FALSE(verifier.openAnswer(inbox, security::seal(*central_, inbox, ack, now_ - 301'000), "central").ok());
}

TEST_F(Sealing, TrustNeverReadsOutsideItsFolder) {
  std::ofstream(dir_ / "outside.pub") << central_->publicKey() << "\n";
  EXPECT_FALSE(trust_->keyOf("../outside").has_value());
  EXPECT_FALSE(trust_->keyOf("").has_value());
  EXPECT_TRUE(trust_->keyOf("central").has_value());
}

namespace {

// Central's register and a node's pushed set, in two state folders.
class TrustRegister : public Sealing {
 protected:
  void SetUp() override {
    Sealing::SetUp();
    atCentral_ = security::Trust::open({.ownNode = "central",
                                        .ownKey = central_->publicKey(),
                                        .centralNode = "central",
                                        .folder = dir_ / "central-trusted",
                                        .stateDir = dir_ / "central-state"})
                     .value();
  }
  std::unique_ptr<security::Trust> atCentral_;
};

}  // namespace

TEST_F(TrustRegister, AnnouncedKeysWaitUntilAllowedAndRevokedOnesAreRefusedEverywhere) {
  const std::string shipKey = ship_->publicKey();
  EXPECT_FALSE(atCentral_->announce("ship1", shipKey, 1));
  EXPECT_FALSE(atCentral_->keyOf("ship1").has_value());
  EXPECT_NE(atCentral_->listJson().find("\"pending\":{\"ship1\":\"" + shipKey), std::string::npos);
  EXPECT_NE(atCentral_->allow("ship9").error().message.find("no key announced by ship9"), std::string::npos);
  ASSERT_TRUE(atCentral_->allow("ship1").ok());
  EXPECT_EQ(atCentral_->keyOf("ship1"), shipKey);
  EXPECT_EQ(atCentral_->version(), 1u);
  EXPECT_TRUE(atCentral_->announce("ship1", shipKey, 2));

  // The node takes the set central signed, and only a newer one.
  auto [set, signature] = atCentral_->signedSet(*central_);
  EXPECT_NE(trust_->applySet(set, signature + "x").error().message.find("not signed by central"),
            std::string::npos);
  auto tampered = set;
  tampered.replace(tampered.find("\"version\":1"), 11, "\"version\":9");
  EXPECT_FALSE(trust_->applySet(tampered, signature).ok());
  ASSERT_TRUE(trust_->applySet(set, signature).ok());
  EXPECT_EQ(trust_->version(), 1u);
  EXPECT_NE(trust_->applySet(set, signature).error().message.find("not newer"), std::string::npos);

  ASSERT_TRUE(atCentral_->revoke("ship1").ok());
  EXPECT_FALSE(atCentral_->keyOf("ship1").has_value());
  EXPECT_NE(atCentral_->whyUntrusted("ship1").find("no trusted key"), std::string::npos);
  EXPECT_FALSE(atCentral_->announce("ship1", shipKey, 3));  // a revoked key is not even pending
  std::tie(set, signature) = atCentral_->signedSet(*central_);
  ASSERT_TRUE(trust_->applySet(set, signature).ok());
  EXPECT_TRUE(trust_->revoked(shipKey));

  // Kept on disk: a restart holds the same register and set.
  auto reopened = security::Trust::open({.ownNode = "central", .ownKey = central_->publicKey(),
                                         .centralNode = "central", .folder = dir_ / "central-trusted",
                                         .stateDir = dir_ / "central-state"});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->version(), 2u);
  EXPECT_TRUE((*reopened)->revoked(shipKey));
}

TEST_F(TrustRegister, AProvisionedKeyThatIsRevokedIsNoLongerTrusted) {
  std::ofstream(dir_ / "trusted" / "ship7.pub") << ship_->publicKey() << "\n";
  ASSERT_TRUE(trust_->keyOf("ship7").has_value());
  fs::create_directories(dir_ / "central-trusted");
  std::ofstream(dir_ / "central-trusted" / "ship7.pub") << ship_->publicKey() << "\n";
  EXPECT_TRUE(atCentral_->announce("ship7", ship_->publicKey(), 1));  // provisioned: known
  ASSERT_TRUE(atCentral_->revoke("ship7").ok());
  auto [set, signature] = atCentral_->signedSet(*central_);
  ASSERT_TRUE(trust_->applySet(set, signature).ok());
  EXPECT_FALSE(trust_->keyOf("ship7").has_value());
  EXPECT_NE(trust_->whyUntrusted("ship7").find("has been revoked"), std::string::npos);
}
