#include "core/process/outbox.hpp"

#include "core/message/codec.hpp"
#include "core/process/ack.hpp"
#include "tests/unit/process/mock_transport.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <mutex>

using namespace steward;
using namespace steward::process;
using ::testing::_;
using ::testing::Invoke;

namespace {

namespace fs = std::filesystem;

class Methods final : public message::MethodCatalog {
 public:
  std::optional<message::MethodInfo> find(std::string_view method) const override {
    if (method != "REQnCliCommand" && method != "REQCliCommand") return std::nullopt;
    message::MethodInfo info;
    info.name = std::string(method);
    info.ordered = method == "REQCliCommand";
    return info;
  }
};

// A real outbox over a real store, sending through a transport the test answers by hand.
class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("outbox-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    store_ = std::move(store::Store::open(dir_ / "db", {.sync = false}).value());
    audit_ = std::make_unique<observe::Audit>(observe::AuditSettings{dir_ / "audit"});
    ON_CALL(transport_, publish(_, _, _))
        .WillByDefault(Invoke([this](const std::string& subject, std::string_view payload,
                                     const std::string& inbox) {
          std::lock_guard lock(mutex_);
          sent_.push_back({subject, message::decodeWire(payload).value(), inbox});
          return Status{};
        }));
  }
  void TearDown() override {
    outbox_.reset();
    store_.reset();
    audit_.reset();
    fs::remove_all(dir_);
  }
  void make(std::chrono::milliseconds retireIdleAfter = std::chrono::minutes(5)) {
    outbox_ = std::make_unique<Outbox>(
        OutboxSettings{.nodeName = "central", .defaultMessageTimeout = 10, .defaultMessageRetries = 3,
                       .window = 8, .retireIdleAfter = retireIdleAfter},
        io_.get_executor(), transport_, methods_, *store_, *audit_, errors_, nullptr, processIds_);
    outbox_->resume();
  }
  uint64_t send(const std::string& toNode, const std::string& method = "REQnCliCommand") {
    message::Message m;
    m.toNode = toNode;
    m.method = method;
    m.data = {"true"};
    return outbox_->send(std::move(m)).value();
  }
  struct Sent {
    std::string subject;
    message::Message message;
    std::string inbox;
  };
  // The last copy sent of message `id`.
  Sent sentOf(uint64_t id) {
    for (int i = 0; i < 400; ++i) {
      {
        std::lock_guard lock(mutex_);
        for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
          if (it->message.id == id) return *it;
        }
      }
      io_.run_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "message " << id << " was not sent";
    return {};
  }
  // Removes message `id` as removeQueued does, running the io_context meanwhile (the publisher
  // answers on it); whether it was still there.
  bool remove(uint64_t id) {
    store::OutboxEntry entry;
    entry.id = id;
    entry.subject = sentOf(id).subject;
    auto removing = std::async(std::launch::async, [&] { return outbox_->remove(entry); });
    runUntil([&] { return removing.wait_for(std::chrono::seconds(0)) == std::future_status::ready; });
    return removing.get();
  }
  template <class Done>
  void runUntil(Done done) {
    for (int i = 0; i < 400 && !done(); ++i) io_.run_for(std::chrono::milliseconds(5));
  }

  fs::path dir_;
  // Before the io_context: handlers it still holds when it goes close their inboxes here.
  ::testing::NiceMock<steward::testing::MockTransport> transport_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  Methods methods_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<observe::Audit> audit_;
  observe::ErrorKernel errors_{"central", "central", 10, 1, [](message::Message) {}};
  std::atomic<uint64_t> processIds_{1};
  std::unique_ptr<Outbox> outbox_;
  std::mutex mutex_;
  std::vector<Sent> sent_;
};

}  // namespace

TEST_F(OutboxTest, EachMessageSaysBelowWhichIdItsSendersMessagesToThatNodeAreSettled) {
  make();
  const uint64_t a = send("ship1");
  const uint64_t b = send("ship1");
  const uint64_t other = send("ship2");
  EXPECT_EQ(sentOf(a).message.settledBelow, a);
  EXPECT_EQ(sentOf(b).message.settledBelow, a) << "a is not settled yet";
  EXPECT_EQ(sentOf(other).message.settledBelow, other) << "each receiver on its own";
  // a is ACKed: the next message to ship1 says everything below b is settled.
  ASSERT_TRUE(transport_.answer(sentOf(a).inbox, encodeAck(Ack::accept())));
  runUntil([&] { return outbox_->publishers().front()->pending() == 1; });
  const uint64_t c = send("ship1");
  EXPECT_EQ(sentOf(c).message.settledBelow, b);
}

TEST_F(OutboxTest, WhatIsStillInTheOutboxAtAStartKeepsTheFloorBelowIt) {
  make();
  const uint64_t a = send("ship1");
  (void)sentOf(a);
  outbox_->stop();
  io_.run_for(std::chrono::milliseconds(50));  // its publishers stop (they tell the outbox)
  outbox_.reset();
  make();  // a is resumed from the store, unsettled
  const uint64_t b = send("ship1");
  EXPECT_EQ(sentOf(b).message.settledBelow, a);
}

TEST_F(OutboxTest, APublisherWithNothingToSendForAWhileIsRetiredAndMadeAgainWhenNeeded) {
  make(std::chrono::milliseconds(50));
  const uint64_t a = send("ship1");
  ASSERT_TRUE(transport_.answer(sentOf(a).inbox, encodeAck(Ack::accept())));
  runUntil([&] { return outbox_->publishers().empty(); });
  EXPECT_TRUE(outbox_->publishers().empty()) << "the idle publisher of ship1 stays";
  const uint64_t b = send("ship1");
  ASSERT_EQ(outbox_->publishers().size(), 1u);
  ASSERT_TRUE(transport_.answer(sentOf(b).inbox, encodeAck(Ack::accept())));
  runUntil([&] { return outbox_->publishers().empty(); });
  EXPECT_TRUE(outbox_->publishers().empty());
}

TEST_F(OutboxTest, APublisherWaitingForAnAckIsNotRetired) {
  make(std::chrono::milliseconds(20));
  const uint64_t a = send("ship1");
  (void)sentOf(a);
  io_.run_for(std::chrono::milliseconds(200));
  ASSERT_EQ(outbox_->publishers().size(), 1u);
  EXPECT_EQ(outbox_->publishers().front()->pending(), 1u);
}

TEST_F(OutboxTest, AMessageRemovedBeforeLaterOnesIsPassedOverOnceALaterOneIsDeliveredAndNoEarlierOneWaits) {
  make();
  const uint64_t first = send("ship1", "REQCliCommand");
  const uint64_t removed = send("ship1", "REQCliCommand");
  const uint64_t later = send("ship1", "REQCliCommand");
  const Sent firstSent = sentOf(first);
  const Sent laterSent = sentOf(later);
  // The later one was numbered with the removed one below it: its receiver would wait for it.
  EXPECT_EQ(laterSent.message.floor, firstSent.message.seq);
  ASSERT_TRUE(remove(removed));
  auto skips = [&] {
    std::lock_guard lock(mutex_);
    return std::count_if(sent_.begin(), sent_.end(), [](const Sent& s) { return s.message.data.empty(); });
  };
  // Nothing after the gap was taken yet, and the first still waits: nothing to say.
  ASSERT_TRUE(transport_.answer(firstSent.inbox, encodeAck(Ack::accept())));
  io_.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(skips(), 0);
  // The later one is taken: its receiver holds it until told the gap will not fill.
  ASSERT_TRUE(transport_.answer(laterSent.inbox, encodeAck(Ack::accept())));
  runUntil([&] { return skips() > 0; });
  ASSERT_EQ(skips(), 1);
  std::lock_guard lock(mutex_);
  const auto skip = std::find_if(sent_.begin(), sent_.end(), [](const Sent& s) { return s.message.data.empty(); });
  EXPECT_EQ(skip->subject, laterSent.subject);
  EXPECT_EQ(skip->message.floor, laterSent.message.seq + 1);
  EXPECT_EQ(skip->message.seq, 0u) << "a note has no number of its own";
}

TEST_F(OutboxTest, WhenEveryLaterMessageIsRemovedTooNothingIsAnnounced) {
  make();
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(send("ship1", "REQCliCommand"));
  for (const uint64_t id : {ids[1], ids[0], ids[2]}) ASSERT_TRUE(remove(id));
  io_.run_for(std::chrono::milliseconds(50));
  std::lock_guard lock(mutex_);
  EXPECT_EQ(std::count_if(sent_.begin(), sent_.end(), [](const Sent& s) { return s.message.data.empty(); }), 0);
  EXPECT_TRUE(store_->loadLost().empty());
}
