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
  const std::string payload = security::seal(*central_, "central", "ship1.REQCliCommand.CommandACK", wire(), now_);
  auto sealed = security::open(payload);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->sentUnixMs, now_);
  EXPECT_EQ(sealed->signer, "central");
  EXPECT_EQ(sealed->key, "");
  EXPECT_EQ(sealed->wire, wire());
  EXPECT_TRUE(security::verify(central_->publicKey(), "ship1.REQCliCommand.CommandACK", *sealed));
  EXPECT_FALSE(security::verify(ship_->publicKey(), "ship1.REQCliCommand.CommandACK", *sealed));
  EXPECT_FALSE(security::verify(central_->publicKey(), "ship2.REQCliCommand.CommandACK", *sealed));
  // The signer's name is signed too: another name on the same signature does not verify.
  std::string renamed = payload;
  renamed.replace(renamed.find(" central "), 9, " centra1 ");
  auto renamedSeal = security::open(renamed);
  ASSERT_TRUE(renamedSeal.ok());
  EXPECT_FALSE(security::verify(central_->publicKey(), "ship1.REQCliCommand.CommandACK", *renamedSeal));
  EXPECT_NE(security::open("{}").error().message.find("unsigned"), std::string::npos);
  EXPECT_NE(security::open("SIG2 x y z\n{}").error().message.find("not a number"), std::string::npos);
  EXPECT_NE(security::open("SIG2 12").error().message.find("no end of line"), std::string::npos);
  EXPECT_NE(security::open("SIG2 12 central\n{}").error().message.find("needs a time, a signer"), std::string::npos);
  EXPECT_NE(security::open("SIG1 12 sig\n{}").error().message.find("older steward"), std::string::npos);
  // The seal's line is looked for within its bound, not across a large payload.
  EXPECT_NE(security::open("SIG2 " + std::string(1 << 20, '1')).error().message.find("within 512 bytes"),
            std::string::npos);
  const std::string hello = security::seal(*ship_, "ship1", "central.REQHello.EventNACK", "{}", now_, true);
  auto withKey = security::open(hello);  // views into `hello`
  ASSERT_TRUE(withKey.ok());
  EXPECT_EQ(withKey->key, ship_->publicKey());
}

TEST_F(Sealing, TheVerifierChecksKeySubjectAndWindow) {
  const security::Verifier verifier(*trust_, std::chrono::seconds(300), [this] { return now_; });
  const std::string subject = "ship1.REQCliCommand.CommandACK";
  auto ok = verifier.open(subject, security::seal(*central_, "central", subject, wire(), now_ - 299'000));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->message.data[0], "uptime");
  EXPECT_NE(verifier.open(subject, security::seal(*ship_, "central", subject, wire(), now_)).error().message.find(
                "does not match central's trusted key"),
            std::string::npos);
  EXPECT_NE(verifier.open(subject, security::seal(*central_, "central", subject, wire(), now_ - 301'000))
                .error().message.find("301 s ago"),
            std::string::npos);
  EXPECT_NE(verifier.open(subject, security::seal(*central_, "central", subject, wire(), now_ + 400'000))
                .error().message.find("in the future"),
            std::string::npos);
  EXPECT_NE(verifier.open(subject, security::seal(*central_, "ship7", subject, wire("ship7"), now_))
                .error().message.find("no trusted key for ship7"),
            std::string::npos);
  // Its own messages (replies to itself) are trusted by its own key.
  EXPECT_TRUE(verifier.open(subject, security::seal(*ship_, "ship1", subject, wire("ship1"), now_)).ok());
  // A key added to the folder while running is found.
  std::ofstream(dir_ / "trusted" / "ship7.pub") << ship_->publicKey() << "\n";
  EXPECT_TRUE(verifier.open(subject, security::seal(*ship_, "ship7", subject, wire("ship7"), now_)).ok());
}

TEST_F(Sealing, ANodeMaySendOnlyAsItself) {
  const security::Verifier verifier(*trust_, std::chrono::seconds(300), [this] { return now_; });
  const std::string subject = "ship1.REQCliCommand.CommandACK";
  // ship1's key, properly sealed as ship1, but the message claims to come from central.
  auto posing = verifier.open(subject, security::seal(*ship_, "ship1", subject, wire("central"), now_));
  ASSERT_FALSE(posing.ok());
  EXPECT_NE(posing.error().message.find("says it is message 9 from central: a node may only send as itself"),
            std::string::npos) << posing.error().message;
}

TEST_F(Sealing, NothingIsDecodedBeforeTheSignatureChecksOut) {
  const security::Verifier verifier(*trust_, std::chrono::seconds(300), [this] { return now_; });
  const std::string subject = "ship1.REQCliCommand.CommandACK";
  // 400,000 levels of nesting (800 KB, within the size limit) would overflow the stack of a
  // recursive parser.
  const std::string deep = std::string(400'000, '[') + std::string(400'000, ']');
  EXPECT_NE(verifier.open(subject, deep).error().message.find("unsigned"), std::string::npos);
  EXPECT_EQ(verifier.open(subject, deep).error().code, Code::unsignedMessage);
  auto intruder = security::Identity::create(dir_ / "intruder").value();
  auto forged = verifier.open(subject, security::seal(intruder, "central", subject, deep, now_));
  EXPECT_NE(forged.error().message.find("does not match central's trusted key"), std::string::npos)
      << forged.error().message;
  EXPECT_EQ(forged.error().code, Code::forged);
  auto unknown = verifier.open(subject, security::seal(intruder, "ship9", subject, deep, now_));
  EXPECT_NE(unknown.error().message.find("no trusted key for ship9"), std::string::npos);
  EXPECT_EQ(unknown.error().code, Code::unknownKey);
  // Even a trusted node's deep message is refused by the bounded parser, not recursed into.
  auto trusted = verifier.open(subject, security::seal(*central_, "central", subject, deep, now_));
  EXPECT_NE(trusted.error().message.find("nests deeper than 32 levels"), std::string::npos)
      << trusted.error().message;
  // Too large is refused before the seal is even read.
  auto huge = verifier.open(subject, std::string(2 * 1024 * 1024, ' '));
  EXPECT_NE(huge.error().message.find("is larger than"), std::string::npos);
}

TEST_F(Sealing, OnlyAHelloSealedByTheKeyItCarriesIsAnAnnouncement) {
  const security::Verifier verifier(*trust_, std::chrono::seconds(300), [this] { return now_; });
  auto newcomer = security::Identity::create(dir_ / "ship5").value();
  auto hello = [&](const std::string& key) {
    message::Message m;
    m.id = 1;
    m.fromNode = "ship5";
    m.toNode = "ship1";
    m.method = "REQHello";
    m.data = {"ship5", key, "0"};
    return message::encodeWire(m);
  };
  const std::string helloSubject = "ship1.REQHello.EventNACK";
  auto announced = verifier.open(helloSubject, security::seal(newcomer, "ship5", helloSubject,
                                                              hello(newcomer.publicKey()), now_, true));
  ASSERT_TRUE(announced.ok()) << announced.error().message;
  EXPECT_TRUE(announced->announcement);
  // The key in the seal and the one in the hello must be the same.
  EXPECT_NE(verifier.open(helloSubject, security::seal(newcomer, "ship5", helloSubject,
                                                       hello(ship_->publicKey()), now_, true))
                .error().message.find("must announce the key that sealed it"),
            std::string::npos);
  // A key in the seal of anything but a hello counts for nothing.
  const std::string command = "ship1.REQCliCommand.CommandACK";
  EXPECT_NE(verifier.open(command, security::seal(newcomer, "ship5", command, wire("ship5"), now_, true))
                .error().message.find("no trusted key for ship5"),
            std::string::npos);
}

TEST_F(Sealing, AnAnswerCountsOnlyWhenTheReceiverSealedItForThatInbox) {
  const security::Verifier verifier(*trust_, std::chrono::seconds(300), [this] { return now_; });
  const std::string inbox = "_INBOX.ship1.abc.7";
  const std::string ack = R"({"ok":true})";
  auto ok = verifier.openAnswer(inbox, security::seal(*central_, "central", inbox, ack, now_), "central");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->text, ack);
  EXPECT_EQ(ok->skewNote, "");
  EXPECT_NE(verifier.openAnswer(inbox, ack, "central").error().message.find("unsigned"), std::string::npos);
  EXPECT_NE(verifier.openAnswer(inbox, security::seal(*ship_, "central", inbox, ack, now_), "central")
                .error().message.find("forged"),
            std::string::npos);
  EXPECT_FALSE(verifier.openAnswer(inbox, security::seal(*central_, "ship1", inbox, ack, now_), "central").ok());
  EXPECT_FALSE(verifier.openAnswer("_INBOX.ship1.abc.8", security::seal(*central_, "central", inbox, ack, now_), "central").ok());
}

TEST_F(Sealing, AStaleAnswerOnItsOwnInboxIsTakenWithANoteAboutTheClock) {
  const security::Verifier verifier(*trust_, std::chrono::seconds(300), [this] { return now_; });
  const std::string inbox = "_INBOX.ship1.abc.7";
  const std::string refusal = R"({"ok":false,"error":"stale"})";
  auto late = verifier.openAnswer(inbox, security::seal(*central_, "central", inbox, refusal, now_ + 400'000), "central");
  ASSERT_TRUE(late.ok()) << late.error().message;
  EXPECT_EQ(late->text, refusal);
  EXPECT_NE(late->skewNote.find("central's answer was sent 400 s in the future"), std::string::npos) << late->skewNote;
}

TEST_F(Sealing, CarriersNameTheRelaysANodeTakesOthersMessagesFrom) {
  auto carriers = message::Carriers::parse("gw1=ship1,ship2;gw2=*");
  ASSERT_TRUE(carriers.ok()) << carriers.error().message;
  EXPECT_TRUE(carriers->carries("gw1", "ship2"));
  EXPECT_FALSE(carriers->carries("gw1", "ship3"));
  EXPECT_TRUE(carriers->carries("gw2", "anyone"));
  EXPECT_FALSE(carriers->carries("ship1", "gw1"));
  EXPECT_EQ(carriers->toString(), "gw1=ship1,ship2;gw2=*");
  EXPECT_EQ(message::Carriers::parse("").value().toString(), "none");
  EXPECT_NE(message::Carriers::parse("gw1").error().message.find("is not <carrier>=<node>"), std::string::npos);
  EXPECT_NE(message::Carriers::parse("gw1=").error().message.find("carries no node"), std::string::npos);
  EXPECT_NE(message::Carriers::parse("g.w=ship1").error().message.find("carrier \"g.w\""), std::string::npos);
  EXPECT_NE(message::Carriers::parse("gw1=ship/1").error().message.find("node \"ship/1\" carried by gw1"),
            std::string::npos);
}

namespace {

// ship1 takes what gw1 carries from central; gw1's key is trusted like any node's.
class Carried : public Sealing {
 protected:
  void SetUp() override {
    Sealing::SetUp();
    gw1_ = std::make_unique<security::Identity>(security::Identity::create(dir_ / "gw1").value());
    std::ofstream(dir_ / "trusted" / "gw1.pub") << gw1_->publicKey() << "\n";
  }
  security::Verifier verifier(const std::string& carriers = "gw1=central") {
    return security::Verifier(*trust_, std::chrono::seconds(300), [this] { return now_; },
                              message::Carriers::parse(carriers).value());
  }
  // central's message as it left central at `sentMs`, forwarded by gw1 at `carriedMs`.
  std::string carried(int64_t sentMs, int64_t carriedMs, const security::Identity* relay = nullptr,
                      const std::string& relayName = "gw1") {
    const std::string origin = security::seal(*central_, "central", subject_, wire(), sentMs);
    return security::seal(relay ? *relay : *gw1_, relayName, subject_, origin, carriedMs);
  }
  const std::string subject_ = "ship1.REQCliCommand.CommandACK";
  std::unique_ptr<security::Identity> gw1_;
};

}  // namespace

TEST_F(Carried, AMessageHeldByARelayForHoursIsTakenWhenTheRelaysSealIsFresh) {
  const auto v = verifier();
  const std::string payload = carried(now_ - 3 * 3600 * 1000, now_ - 1000);
  auto opened = v.open(subject_, payload);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->message.fromNode, "central");
  EXPECT_EQ(opened->carrier, "gw1");
  // Its age is the relay's seal's: a resend by the relay is a newer copy.
  EXPECT_EQ(opened->sentUnixMs, now_ - 1000);
  // What a relay forwards onward is the origin's payload, as central sealed it.
  EXPECT_EQ(payload.substr(opened->originOffset),
            security::seal(*central_, "central", subject_, wire(), now_ - 3 * 3600 * 1000));
  auto direct = v.open(subject_, security::seal(*central_, "central", subject_, wire(), now_));
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->carrier, "");
  EXPECT_EQ(direct->originOffset, 0u);
}

TEST_F(Carried, TheRelaysSealMustBeFreshAndTrustedAndTheRelayANamedCarrier) {
  const auto v = verifier();
  auto stale = v.open(subject_, carried(now_, now_ - 400'000));
  EXPECT_EQ(stale.error().code, Code::stale);
  EXPECT_NE(stale.error().message.find("carried by gw1: sent 400 s ago"), std::string::npos) << stale.error().message;
  // A relay this node was not told of, though its key is trusted.
  auto notNamed = verifier("gw2=*").open(subject_, carried(now_, now_));
  EXPECT_EQ(notNamed.error().code, Code::notAllowed);
  EXPECT_NE(notNamed.error().message.find("gw1 is not a carrier this node takes that node's messages from "
                                          "(carriers: gw2=*)"),
            std::string::npos) << notNamed.error().message;
  // Named, but not for central's messages.
  EXPECT_EQ(verifier("gw1=ship7").open(subject_, carried(now_, now_)).error().code, Code::notAllowed);
  // The relay's seal by another key than gw1's.
  auto intruder = security::Identity::create(dir_ / "intruder").value();
  auto forged = v.open(subject_, carried(now_, now_, &intruder));
  EXPECT_EQ(forged.error().code, Code::forged);
  EXPECT_NE(forged.error().message.find("the relay's seal does not match gw1's trusted key"), std::string::npos);
  auto unknown = v.open(subject_, carried(now_, now_, &intruder, "gw9"));
  EXPECT_EQ(unknown.error().code, Code::unknownKey);
}

TEST_F(Carried, TheOriginsSealIsCheckedEndToEnd) {
  const auto v = verifier("gw1=*");
  // A relay cannot make a message of its own look like central's: the inner seal is central's or
  // nothing.
  const std::string posing = security::seal(*gw1_, "central", subject_, wire(), now_);
  auto forged = v.open(subject_, security::seal(*gw1_, "gw1", subject_, posing, now_));
  EXPECT_EQ(forged.error().code, Code::forged);
  EXPECT_NE(forged.error().message.find("carried by gw1: a message on " + subject_ +
                                        " signed as central: the signature does not match"),
            std::string::npos) << forged.error().message;
  // Nor move central's message to another subject: both seals cover it.
  const std::string other = "ship1.REQToFile.CommandACK";
  const std::string origin = security::seal(*central_, "central", subject_, wire(), now_);
  EXPECT_EQ(v.open(other, security::seal(*gw1_, "gw1", other, origin, now_)).error().code, Code::forged);
  // Nor wrap it twice.
  const std::string twice = security::seal(*gw1_, "gw1", subject_, carried(now_, now_), now_);
  EXPECT_NE(v.open(subject_, twice).error().message.find("sealed by relays twice"), std::string::npos);
  // Nor carry a message that is not sealed at all.
  EXPECT_EQ(v.open(subject_, security::seal(*gw1_, "gw1", subject_, "SIG2 x", now_)).error().code,
            Code::unsignedMessage);
}

TEST_F(Carried, ACarrierMayAnswerForTheNodesItCarriesOnly) {
  const std::string inbox = "_INBOX.ship1.abc.7";
  const std::string ack = R"({"ok":true})";
  const std::string byRelay = security::seal(*gw1_, "gw1", inbox, ack, now_);
  auto taken = verifier("gw1=central").openAnswer(inbox, byRelay, "central");
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken->text, ack);
  EXPECT_NE(verifier("gw1=ship7").openAnswer(inbox, byRelay, "central").error().message.find("forged"),
            std::string::npos);
  EXPECT_FALSE(verifier("").openAnswer(inbox, byRelay, "central").ok());
  // Sealed as gw1 by another key.
  auto intruder = security::Identity::create(dir_ / "intruder").value();
  EXPECT_FALSE(verifier("gw1=central").openAnswer(inbox, security::seal(intruder, "gw1", inbox, ack, now_), "central").ok());
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

TEST_F(TrustRegister, ANodeTakesTheChangesSinceItsVersionInsteadOfTheWholeSet) {
  const std::string shipKey = ship_->publicKey();
  auto other = security::Identity::create(dir_ / "other-keys").value();
  atCentral_->announce("ship2", other.publicKey(), 1);
  ASSERT_TRUE(atCentral_->allow("ship2").ok());  // version 1
  auto acl = security::Acl::parse(R"({"*":[{"from":"central","methods":["*"]}]})").value();
  ASSERT_TRUE(atCentral_->setAcl(acl).ok());  // version 2
  atCentral_->announce("ship3", shipKey, 1);
  ASSERT_TRUE(atCentral_->allow("ship3").ok());  // version 3

  // Changes that start after the version held would skip one: refused, nothing taken.
  auto fromTwo = atCentral_->signedChanges(*central_, 2);
  ASSERT_TRUE(fromTwo.has_value());
  EXPECT_NE(trust_->applyChanges(fromTwo->first, fromTwo->second).error().message.find("start after version 2"),
            std::string::npos);
  EXPECT_EQ(trust_->version(), 0u);
  // Forged or altered: refused.
  auto all = atCentral_->signedChanges(*central_, 0);
  ASSERT_TRUE(all.has_value());
  EXPECT_NE(trust_->applyChanges(all->first, other.sign("steward-trusted-changes\n" + all->first)).error().message.find("not signed by central"),
            std::string::npos);
  auto altered = all->first;
  altered.replace(altered.find(shipKey), shipKey.size(), other.publicKey());
  EXPECT_FALSE(trust_->applyChanges(altered, all->second).ok());
  // A whole set's signature does not pass for changes.
  EXPECT_FALSE(trust_->applyChanges(all->first, central_->sign("steward-trusted-set\n" + all->first)).ok());

  ASSERT_TRUE(trust_->applyChanges(all->first, all->second).ok());
  EXPECT_EQ(trust_->version(), 3u);
  EXPECT_EQ(trust_->keyOf("ship2"), other.publicKey());
  EXPECT_EQ(trust_->keyOf("ship3"), shipKey);
  EXPECT_TRUE(trust_->authorize("central", "REQCliCommand", {"ls"}, true).ok());
  EXPECT_FALSE(trust_->authorize("ship2", "REQCliCommand", {"ls"}, true).ok()) << "the ACL came too";
  EXPECT_NE(trust_->applyChanges(all->first, all->second).error().message.find("not newer"), std::string::npos);

  // A revocation, as a change of a few hundred bytes.
  ASSERT_TRUE(atCentral_->revoke("ship2").ok());  // version 4
  auto revocation = atCentral_->signedChanges(*central_, 3);
  ASSERT_TRUE(revocation.has_value());
  EXPECT_LT(revocation->first.size(), 300u);
  ASSERT_TRUE(trust_->applyChanges(revocation->first, revocation->second).ok());
  EXPECT_FALSE(trust_->keyOf("ship2").has_value());
  EXPECT_TRUE(trust_->revoked(other.publicKey()));
  EXPECT_FALSE(atCentral_->signedChanges(*central_, 4).has_value()) << "nothing newer to send";

  // Central keeps its changes across a restart.
  auto reopened = security::Trust::open({.ownNode = "central", .ownKey = central_->publicKey(),
                                         .centralNode = "central", .folder = dir_ / "central-trusted",
                                         .stateDir = dir_ / "central-state"});
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->signedChanges(*central_, 0).has_value());
}

TEST_F(TrustRegister, ALargeSetComesInSignedPartsAndIsTakenOnceAllHaveCome) {
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) {
    auto id = security::Identity::create(dir_ / ("many-" + std::to_string(i))).value();
    const std::string node = "node" + std::to_string(i);
    atCentral_->announce(node, id.publicKey(), 1);
    ASSERT_TRUE(atCentral_->allow(node).ok());
    keys.push_back(id.publicKey());
  }
  ASSERT_TRUE(atCentral_->revoke("node0").ok());
  auto parts = atCentral_->signedParts(*central_, 400);
  ASSERT_GE(parts.size(), 4u);
  // Out of order, one forged on the way: nothing is taken until every genuine part has come.
  std::swap(parts.front(), parts.back());
  EXPECT_FALSE(trust_->applyPart(parts[1].first, parts[1].second + "x").ok());
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto taken = trust_->applyPart(parts[i].first, parts[i].second);
    ASSERT_TRUE(taken.ok()) << taken.error().message;
    EXPECT_NE(taken->find("taken"), std::string::npos) << *taken;
    EXPECT_EQ(trust_->version(), 0u);
  }
  auto last = trust_->applyPart(parts.back().first, parts.back().second);
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_NE(last->find("applied"), std::string::npos);
  EXPECT_EQ(trust_->version(), atCentral_->version());
  EXPECT_EQ(trust_->keyOf("node39"), keys[39]);
  EXPECT_FALSE(trust_->keyOf("node0").has_value());
  EXPECT_TRUE(trust_->revoked(keys[0]));
}
