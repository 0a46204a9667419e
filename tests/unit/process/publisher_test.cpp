#include "core/process/publisher.hpp"
#include "core/util/clock.hpp"

#include "core/message/codec.hpp"
#include "core/process/ack.hpp"
#include "tests/unit/process/mock_transport.hpp"

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace steward;
using namespace steward::process;
using ::testing::_;
using ::testing::Invoke;
using ::testing::Return;

namespace {

// A publish action that records every reply inbox it is given, in order.
auto recordInboxes(std::vector<std::string>& inboxes) {
  return Invoke([&inboxes](const std::string&, std::string_view, const std::string& reply) {
    inboxes.push_back(reply);
    return Status{};
  });
}

// A publish action that records the reply inbox it was given.
auto recordInbox(std::string& inbox) {
  return Invoke([&inbox](const std::string&, std::string_view, const std::string& reply) {
    inbox = reply;
    return Status{};
  });
}

struct Settlement {
  uint64_t id;
  Outcome outcome;
  int attempts;
  std::string detail;
  Code code;
};

class PublisherTest : public ::testing::Test, public PublisherEvents {
 protected:
  std::shared_ptr<Publisher> makePublisher() {
    return Publisher::create(io_.get_executor(), transport_, "ship1.REQCliCommand.CommandACK",
                             *this);
  }
  void settled(const std::string&, const message::Message& m, Outcome o, int attempts,
               const std::string& detail,
               Code code) override {
    settled_.push_back({m.id, o, attempts, detail, code});
  }
  void sent(const message::Message&, int) override {}
  void unheard(const message::Message& m, int64_t queuedUntilUnixMs) override {
    unheard_.emplace_back(m.id, queuedUntilUnixMs);
  }
  // Unsealed: the answer is taken as it is.
  Result<OpenedAnswer> openAnswer(const message::Message&, const std::string&,
                                  const std::string& payload) override {
    return OpenedAnswer{payload, {}};
  }
  static message::Message msg(uint64_t id) {
    message::Message m;
    m.id = id;
    m.fromNode = "central";
    m.toNode = "ship1";
    m.method = "REQCliCommand";
    return m;
  }
  static std::string wire(uint64_t id) { return message::encodeWire(msg(id)); }
  static DeliveryPolicy ack(int retries, int timeoutMs = 20) {
    return DeliveryPolicy{true, std::chrono::milliseconds(timeoutMs), retries};
  }
  // Runs the io_context until `done` holds or two seconds pass.
  template <class Pred>
  void runUntil(Pred done) {
    for (int i = 0; i < 400 && !done(); ++i) io_.run_for(std::chrono::milliseconds(5));
  }

  boost::asio::io_context io_;
  ::testing::StrictMock<steward::testing::MockTransport> transport_;
  std::vector<Settlement> settled_;
  std::vector<std::pair<uint64_t, int64_t>> unheard_;
};

}  // namespace

TEST_F(PublisherTest, GivesUpAfterExactlyRetriesPlusOneSends) {
  EXPECT_CALL(transport_, publish("ship1.REQCliCommand.CommandACK", _, _))
      .Times(4)
      .WillRepeatedly(Return(Status{}));
  auto p = makePublisher();
  p->enqueue(msg(1), wire(1), ack(3));
  runUntil([&] { return !settled_.empty(); });
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].outcome, Outcome::givenUp);
  EXPECT_EQ(settled_[0].attempts, 4);
  EXPECT_EQ(settled_[0].code, Code::undelivered);
  EXPECT_EQ(p->pending(), 0u);
  EXPECT_EQ(transport_.openInboxes(), 0u);
}

TEST_F(PublisherTest, AnAckSettlesTheMessageAndStopsResending) {
  std::vector<std::string> inboxes;
  EXPECT_CALL(transport_, publish(_, _, _))
      .Times(2)
      .WillRepeatedly(recordInboxes(inboxes));
  auto p = makePublisher();
  p->enqueue(msg(7), wire(7), ack(5));
  runUntil([&] { return inboxes.size() == 2; });
  ASSERT_EQ(inboxes.size(), 2u);
  EXPECT_EQ(inboxes[0], inboxes[1]) << "a resend keeps the message's own inbox";
  ASSERT_TRUE(transport_.answer(inboxes[1], encodeAck(Ack::accept())));
  runUntil([&] { return !settled_.empty(); });
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].id, 7u);
  EXPECT_EQ(settled_[0].outcome, Outcome::delivered);
  EXPECT_EQ(settled_[0].attempts, 2);
  io_.run_for(std::chrono::milliseconds(100));  // no further sends (Times(2) checks)
}

TEST_F(PublisherTest, ARefusalStopsRetriesAndCarriesTheReason) {
  std::string inbox;
  EXPECT_CALL(transport_, publish(_, _, _))
      .WillOnce(recordInbox(inbox));
  auto p = makePublisher();
  p->enqueue(msg(3), wire(3), ack(10, 1000));
  runUntil([&] { return !inbox.empty(); });
  transport_.answer(inbox, encodeAck(Ack::refuse("central is not allowed", Code::notAllowed)));
  runUntil([&] { return !settled_.empty(); });
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].outcome, Outcome::refused);
  EXPECT_EQ(settled_[0].detail, "central is not allowed");
  EXPECT_EQ(settled_[0].code, Code::notAllowed);
}

TEST_F(PublisherTest, NoRespondersIsToldOnceAndTheMessageStaysQueuedUntilItsSendsAreSpent) {
  std::string inbox;
  EXPECT_CALL(transport_, publish(_, _, _)).WillRepeatedly(recordInbox(inbox));
  auto p = makePublisher();
  const int64_t before = nowUnixMs();
  p->enqueue(msg(4), wire(4), ack(2, 1000));
  runUntil([&] { return !inbox.empty(); });
  transport_.answer(inbox, "", true);
  runUntil([&] { return !unheard_.empty(); });
  transport_.answer(inbox, "", true);
  io_.run_for(std::chrono::milliseconds(50));
  ASSERT_EQ(unheard_.size(), 1u);
  EXPECT_EQ(unheard_[0].first, 4u);
  // Three sends of a second each: queued until about three seconds from the first.
  EXPECT_GE(unheard_[0].second, before + 3000);
  EXPECT_LE(unheard_[0].second, nowUnixMs() + 3000);
  // Not an answer: the message is still in flight.
  EXPECT_TRUE(settled_.empty());
  EXPECT_EQ(p->pending(), 1u);
  p->stop();
  io_.run_for(std::chrono::milliseconds(20));
}

TEST(OutcomeCode, SaysWhatBecameOfAMessage) {
  EXPECT_EQ(outcomeCode(Outcome::delivered), Code::unspecified);
  EXPECT_EQ(outcomeCode(Outcome::refused), Code::refused);
  EXPECT_EQ(outcomeCode(Outcome::refused, Code::forged), Code::forged);
  EXPECT_EQ(outcomeCode(Outcome::givenUp), Code::undelivered);
  EXPECT_EQ(outcomeCode(Outcome::expired), Code::undelivered);
  EXPECT_EQ(outcomeCode(Outcome::removed), Code::removed);
  EXPECT_EQ(outcomeCode(Outcome::failed), Code::broker);
}

TEST_F(PublisherTest, GarbageOnTheInboxIsNotAnAck) {
  std::string inbox;
  EXPECT_CALL(transport_, publish(_, _, _))
      .Times(2)
      .WillRepeatedly(recordInbox(inbox));
  auto p = makePublisher();
  p->enqueue(msg(3), wire(3), ack(1, 50));
  runUntil([&] { return !inbox.empty(); });
  transport_.answer(inbox, "");
  transport_.answer(inbox, "{\"no\":1}");
  runUntil([&] { return !settled_.empty(); });
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].outcome, Outcome::givenUp);
}

TEST_F(PublisherTest, MessagesGoOutOneAtATimeInQueueOrder) {
  std::vector<uint64_t> sentIds;
  std::vector<std::string> inboxes;
  EXPECT_CALL(transport_, publish(_, _, _))
      .WillRepeatedly(
          Invoke([&](const std::string&, std::string_view payload, const std::string& reply) {
            sentIds.push_back(message::decodeWire(payload)->id);
            inboxes.push_back(reply);
            return Status{};
          }));
  auto p = makePublisher();
  for (uint64_t id = 1; id <= 3; ++id) p->enqueue(msg(id), wire(id), ack(0, 1000));
  for (uint64_t id = 1; id <= 3; ++id) {
    runUntil([&] { return sentIds.size() == id; });
    io_.run_for(std::chrono::milliseconds(20));
    ASSERT_EQ(sentIds.size(), id) << "the next message went out before the ACK";
    transport_.answer(inboxes.back(), encodeAck(Ack::accept()));
  }
  runUntil([&] { return settled_.size() == 3; });
  EXPECT_EQ(sentIds, (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_EQ(settled_.size(), 3u);
  for (const auto& s : settled_) EXPECT_EQ(s.outcome, Outcome::delivered);
}

TEST_F(PublisherTest, NackKindsArePublishedOnceWithoutInbox) {
  EXPECT_CALL(transport_, publish(_, _, std::string())).Times(2).WillRepeatedly(Return(Status{}));
  auto p = makePublisher();
  p->enqueue(msg(1), wire(1), DeliveryPolicy{false, std::chrono::milliseconds(10), 5});
  p->enqueue(msg(2), wire(2), DeliveryPolicy{false, std::chrono::milliseconds(10), 5});
  runUntil([&] { return settled_.size() == 2; });
  ASSERT_EQ(settled_.size(), 2u);
  EXPECT_EQ(settled_[0].outcome, Outcome::delivered);
  EXPECT_EQ(settled_[1].attempts, 1);
}

TEST_F(PublisherTest, AFailedPublishCountsAsASendWithoutAck) {
  EXPECT_CALL(transport_, publish(_, _, _))
      .Times(3)
      .WillRepeatedly(Return(Status{Error{"buffer full"}}));
  auto p = makePublisher();
  p->enqueue(msg(1), wire(1), ack(2));
  runUntil([&] { return !settled_.empty(); });
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].outcome, Outcome::givenUp);
  EXPECT_EQ(settled_[0].attempts, 3);
}

TEST_F(PublisherTest, StopSettlesWhatIsQueuedAsStopped) {
  EXPECT_CALL(transport_, publish(_, _, _)).WillRepeatedly(Return(Status{}));
  auto p = makePublisher();
  p->enqueue(msg(1), wire(1), ack(100, 1000));
  p->enqueue(msg(2), wire(2), ack(100, 1000));
  io_.run_for(std::chrono::milliseconds(20));
  p->stop();
  runUntil([&] { return settled_.size() == 2; });
  ASSERT_EQ(settled_.size(), 2u);
  EXPECT_EQ(settled_[0].outcome, Outcome::stopped);
  EXPECT_EQ(settled_[1].outcome, Outcome::stopped);
  EXPECT_EQ(p->pending(), 0u);
}

TEST_F(PublisherTest, NothingIsHandedToTheBrokerWhileItIsUnreachable) {
  transport_.setConnected(false);
  auto p = makePublisher();
  p->enqueue(msg(1), wire(1), ack(2));
  runUntil([&] { return !settled_.empty(); });  // StrictMock: any publish fails the test
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].outcome, Outcome::givenUp);
  EXPECT_EQ(settled_[0].attempts, 3);
}

TEST_F(PublisherTest, AReconnectSendsTheWaitingMessageAtOnce) {
  transport_.setConnected(false);
  std::string inbox;
  EXPECT_CALL(transport_, publish(_, _, _))
      .WillOnce(recordInbox(inbox));
  auto p = makePublisher();
  p->enqueue(msg(1), wire(1), ack(1, 10000));
  io_.run_for(std::chrono::milliseconds(50));
  transport_.setConnected(true);
  p->brokerReconnected();
  runUntil([&] { return !inbox.empty(); });
  ASSERT_FALSE(inbox.empty()) << "the reconnect did not send the waiting message";
  transport_.answer(inbox, encodeAck(Ack::accept()));
  runUntil([&] { return !settled_.empty(); });
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].outcome, Outcome::delivered);
  EXPECT_EQ(settled_[0].attempts, 1);
}

TEST_F(PublisherTest, ALifetimeKeepsResendingBeyondRetriesThenExpires) {
  int sends = 0;
  EXPECT_CALL(transport_, publish(_, _, _)).WillRepeatedly(Invoke([&](auto&, auto, auto&) {
    ++sends;
    return Status{};
  }));
  auto p = makePublisher();
  DeliveryPolicy policy = ack(0, 20);
  policy.expiresUnixMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() +
                         400;
  p->enqueue(msg(1), wire(1), policy);
  runUntil([&] { return !settled_.empty(); });
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].outcome, Outcome::expired);
  // Back-off from 20 ms: 20, 40, 80, 160, then the rest of the 400 ms: 5 or 6 sends.
  EXPECT_GE(sends, 4);
  EXPECT_LE(sends, 7);
}

TEST_F(PublisherTest, AMessageWhoseLifetimeIsOverIsNotSentAtAll) {
  auto p = makePublisher();
  DeliveryPolicy policy = ack(3, 20);
  policy.expiresUnixMs = 1;  // long past
  p->enqueue(msg(1), wire(1), policy);
  runUntil([&] { return !settled_.empty(); });
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].outcome, Outcome::expired);
}

TEST_F(PublisherTest, AWindowKeepsThatManyInFlightAndStartsTheNextAsEachIsAcked) {
  std::vector<std::string> inboxes;
  EXPECT_CALL(transport_, publish(_, _, _))
      .Times(5)
      .WillRepeatedly(recordInboxes(inboxes));
  auto p = Publisher::create(io_.get_executor(), transport_, "ship1.REQCliCommand.CommandACK", *this,
                             0, 3);
  for (uint64_t id = 1; id <= 5; ++id) p->enqueue(msg(id), wire(id), ack(0, 5000));
  runUntil([&] { return inboxes.size() == 3; });
  io_.run_for(std::chrono::milliseconds(50));
  ASSERT_EQ(inboxes.size(), 3u) << "a window of 3 sends 3 before any ACK";
  // The second is ACKed first: it settles, and the fourth starts.
  transport_.answer(inboxes[1], encodeAck(Ack::accept()));
  runUntil([&] { return inboxes.size() == 4; });
  ASSERT_EQ(settled_.size(), 1u);
  EXPECT_EQ(settled_[0].id, 2u);
  transport_.answer(inboxes[0], encodeAck(Ack::accept()));
  transport_.answer(inboxes[2], encodeAck(Ack::accept()));
  runUntil([&] { return inboxes.size() == 5; });
  transport_.answer(inboxes[3], encodeAck(Ack::accept()));
  transport_.answer(inboxes[4], encodeAck(Ack::accept()));
  runUntil([&] { return settled_.size() == 5; });
  ASSERT_EQ(settled_.size(), 5u);
  for (const auto& s : settled_) EXPECT_EQ(s.outcome, Outcome::delivered);
  EXPECT_EQ(p->pending(), 0u);
}

TEST_F(PublisherTest, AnAckNamingOthersSettlesThemToo) {
  std::vector<std::string> inboxes;
  EXPECT_CALL(transport_, publish(_, _, _))
      .Times(3)
      .WillRepeatedly(recordInboxes(inboxes));
  auto p = Publisher::create(io_.get_executor(), transport_, "ship1.REQCliCommand.CommandACK", *this,
                             0, 3);
  for (uint64_t id = 1; id <= 3; ++id) p->enqueue(msg(id), wire(id), ack(0, 5000));
  runUntil([&] { return inboxes.size() == 3; });
  ASSERT_EQ(inboxes.size(), 3u);
  // The receiver took 1 and 3 in one write: one answer on 3's inbox names 1 (and an id this
  // publisher never sent, which changes nothing); 2 still waits for its own.
  transport_.answer(inboxes[2], encodeAck(Ack::accept({1, 99})));
  runUntil([&] { return settled_.size() == 2; });
  io_.run_for(std::chrono::milliseconds(50));
  ASSERT_EQ(settled_.size(), 2u);
  EXPECT_EQ(settled_[0].id, 3u);
  EXPECT_EQ(settled_[1].id, 1u);
  EXPECT_EQ(settled_[1].outcome, Outcome::delivered);
  transport_.answer(inboxes[1], encodeAck(Ack::accept()));
  runUntil([&] { return settled_.size() == 3; });
  EXPECT_EQ(settled_.size(), 3u);
}
