// Message signing end to end: what a node refuses, that nothing it refuses runs, and that
// central's error log says who sent what and why.
#include "tests/e2e/harness.hpp"

#include "core/message/codec.hpp"
#include "core/security/envelope.hpp"
#include "core/util/clock.hpp"

#include <nats/nats.h>

namespace steward::e2e {
namespace {

class Signing : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    auto flags = shipFlags();
    flags.push_back("--startSubREQCliCommand=central");
    ship1_ = &startNode("ship1", flags);
    auto id = security::Identity::loadOrCreate(root_ / "central" / "db" / "keys");
    ASSERT_TRUE(id.ok());
    centralKey_ = std::make_unique<security::Identity>(std::move(id).value());
    auto other = security::Identity::create(root_ / "intruder-keys");
    ASSERT_TRUE(other.ok());
    intruderKey_ = std::make_unique<security::Identity>(std::move(other).value());
  }

  virtual std::vector<std::string> shipFlags() const { return {}; }

  // A command for ship1 that leaves a file behind when it runs.
  std::string wire(uint64_t id, const std::string& from = "central") {
    message::Message m;
    m.id = id;
    m.fromNode = from;
    m.toNode = "ship1";
    m.method = "REQCliCommand";
    m.createdUnixMs = nowUnixMs();
    m.data = {"touch", ran(id).string()};
    return message::encodeWire(m);
  }
  fs::path ran(uint64_t id) const { return root_ / ("ran-" + std::to_string(id)); }
  std::string send(const std::string& payload) { return ackOf(client().request(kSubject, payload)); }
  BrokerClient& client() {
    if (!client_) client_ = std::make_unique<BrokerClient>(nats_->address());
    return *client_;
  }
  // Refused with `code`, never run, and central's error log names the reason.
  void expectRefused(const std::string& answer, uint64_t id, const std::string& code, const std::string& reason) {
    EXPECT_NE(answer.find("\"ok\":false"), std::string::npos) << answer;
    EXPECT_NE(answer.find("\"code\":\"" + code + "\""), std::string::npos) << answer;
    EXPECT_NE(answer.find(reason), std::string::npos) << answer;
    EXPECT_TRUE(waitFor([&] { return central_->errorLog().find(reason) != std::string::npos; }, 20s))
        << central_->errorLog();
    // A refused message is answered before it could be stored: it can never run later.
    EXPECT_FALSE(fs::exists(ran(id))) << "message " << id << " ran";
  }

  static constexpr const char* kSubject = "ship1.REQCliCommand.CommandACK";
  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
  std::unique_ptr<security::Identity> centralKey_;
  std::unique_ptr<security::Identity> intruderKey_;
  std::unique_ptr<BrokerClient> client_;
};

TEST_F(Signing, AMessageSealedByTheRightKeyRuns) {
  EXPECT_EQ(send(security::seal(*centralKey_, "central", kSubject, wire(1), nowUnixMs())), R"({"ok":true})");
  EXPECT_TRUE(waitFor([&] { return fs::exists(ran(1)); }, 20s));
}

TEST_F(Signing, AForgedMessageIsRefused) {
  // Right subject, right fromNode, another key.
  expectRefused(send(security::seal(*intruderKey_, "central", kSubject, wire(2), nowUnixMs())), 2, "forged",
                "signed as central: the signature does not match central's trusted key");
}

TEST_F(Signing, AMessageAlteredAfterSealingIsRefused) {
  std::string payload = security::seal(*centralKey_, "central", kSubject, wire(3), nowUnixMs());
  payload.replace(payload.find("touch"), 5, "rm -f");
  expectRefused(send(payload), 3, "forged", "the signature does not match central's trusted key");
}

TEST_F(Signing, AMessageSealedForAnotherSubjectIsRefused) {
  expectRefused(send(security::seal(*centralKey_, "central", "ship2.REQCliCommand.CommandACK", wire(4), nowUnixMs())),
                4, "forged", "the signature does not match");
}

TEST_F(Signing, AnUnsignedMessageIsRefused) {
  expectRefused(send(wire(5)), 5, "unsigned", "is unsigned: it carries no SIG2 seal");
}

TEST_F(Signing, AnUnknownSenderIsRefused) {
  expectRefused(send(security::seal(*intruderKey_, "ship9", kSubject, wire(6, "ship9"), nowUnixMs())), 6, "unknownKey",
                "signed as ship9: no trusted key for ship9");
}

TEST_F(Signing, AnOldRecordingIsRefused) {
  const int64_t anHourAgo = nowUnixMs() - 3600 * 1000;
  expectRefused(send(security::seal(*centralKey_, "central", kSubject, wire(7), anHourAgo)), 7, "stale",
                "sent 3600 s ago, outside the 300 s signature window");
}

TEST_F(Signing, AReplayedCaptureIsRefusedAndRunsNoMore) {
  const std::string captured = security::seal(*centralKey_, "central", kSubject, wire(8), nowUnixMs());
  EXPECT_EQ(send(captured), R"({"ok":true})");
  ASSERT_TRUE(waitFor([&] { return fs::exists(ran(8)); }, 20s));
  fs::remove(ran(8));
  expectRefused(send(captured), 8, "replayed", "message 8 (REQCliCommand) from central: replayed");
}

class RefusalFlood : public Signing {
 protected:
  std::vector<std::string> shipFlags() const override { return {"--errorReportsPerMinute=5"}; }
};

// A flood of forged messages is refused one by one, but it does not become a flood of error
// messages to central: five a minute, the rest are in ship1's own log.
TEST_F(RefusalFlood, OnlyAFewRefusalsAMinuteGoToCentral) {
  for (uint64_t id = 100; id < 120; ++id) {
    EXPECT_NE(send(wire(id)).find("\"ok\":false"), std::string::npos);
  }
  // The refusal is answered first and logged right after.
  EXPECT_TRUE(waitFor([&] { return occurrences(ship1_->log(), "carries no SIG2 seal") == 20; }, 10s))
      << ship1_->log();
  ASSERT_TRUE(waitFor([&] { return occurrences(central_->errorLog(), "carries no SIG2 seal") >= 5; }, 20s))
      << central_->errorLog();
  for (uint64_t id = 100; id < 120; ++id) EXPECT_FALSE(fs::exists(ran(id)));
  // When the minute is over, ship1 tells central how many more there were, without a new error:
  // that line comes after every refusal, so the five are all central heard of them.
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("ship1: 15 more error(s) in 60 s were not sent to central") != std::string::npos; }, 75s))
      << central_->errorLog();
  // (The count line quotes the first held-back refusal too.)
  const std::string errors = central_->errorLog();
  EXPECT_EQ(countLines(errors, "carries no SIG2 seal") - countLines(errors, "more error(s)"), 5u) << errors;
}

class ForgedAck : public E2eTest {};

// An ACK is the receiver's word that it owns the message now; a forged one must not make the
// sender drop a message that never arrived.
TEST_F(ForgedAck, AForgedAckDoesNotMakeTheSenderDropTheMessage) {
  auto& central = startNode("central");
  auto& ship1 = makeNode("ship1", {"--startSubREQCliCommand=central"});  // known, not started yet
  auto intruder = security::Identity::create(root_ / "intruder-keys");
  ASSERT_TRUE(intruder.ok());
  natsConnection* conn = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&conn, ("nats://" + nats_->address()).c_str()), NATS_OK);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, conn, "ship1.REQCliCommand.CommandACK"), NATS_OK);
  natsConnection_Flush(conn);

  const fs::path file = root_ / "delivered-anyway";
  ASSERT_TRUE(accepted(central.submit(command("ship1", "touch " + file.string(),
                                              R"("fileName":"f.log","ACKTimeout":2,"retries":30)"))));
  natsMsg* msg = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&msg, sub, 15000), NATS_OK);
  const std::string inbox = natsMsg_GetReply(msg);
  natsMsg_Destroy(msg);
  // "Taken", in ship1's name: unsealed, then sealed by a key that is not ship1's.
  const std::string ack = R"({"ok":true})";
  natsConnection_Publish(conn, inbox.c_str(), ack.data(), static_cast<int>(ack.size()));
  const std::string forged = security::seal(*intruder, "ship1", inbox, ack, nowUnixMs());
  natsConnection_Publish(conn, inbox.c_str(), forged.data(), static_cast<int>(forged.size()));
  natsConnection_Flush(conn);
  EXPECT_TRUE(waitFor([&] {
    return countLines(central.log(), "ignored an answer") >= 2;
  }, 15s)) << central.log();
  EXPECT_NE(central.log().find("is not sealed by its key (forged)"), std::string::npos);
  natsSubscription_Destroy(sub);
  natsConnection_Close(conn);
  natsConnection_Destroy(conn);

  // Still central's to deliver: once ship1 is up, it arrives and runs.
  ship1.start();
  EXPECT_TRUE(waitFor([&] { return fs::exists(file); }, 60s)) << central.log();
}

}  // namespace
}  // namespace steward::e2e
