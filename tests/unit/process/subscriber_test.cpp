// A sequenced subscriber runs each sender's stream in its number order, whatever order the
// messages arrive in; it holds an early arrival until the gap is filled or known never to be.
#include "core/process/subscriber.hpp"

#include "core/message/codec.hpp"
#include "core/process/ack.hpp"
#include "tests/unit/process/mock_transport.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

using namespace steward;
using namespace steward::process;
using ::testing::_;
using ::testing::Invoke;
using ::testing::Return;
namespace fs = std::filesystem;

namespace {

// Records the numbers it runs.
class Recorder final : public MethodHandler {
 public:
  explicit Recorder(std::vector<uint64_t>& ran) : ran_(ran) {
    info_.name = "REQSeq";
    info_.replyMethod = true;  // no replies
  }
  const message::MethodInfo& method() const override { return info_; }
  bool handle(const message::Message& m, const plugin::CallContext&, steward_host_call&) override {
    ran_.push_back(m.seq);
    return true;
  }
  void cancel(steward_host_call& call) override { call.cancelled = true; }

 private:
  message::MethodInfo info_;
  std::vector<uint64_t>& ran_;
};

class Quiet final : public SubscriberEvents {
 public:
  void handled(const Inbound& in, CallOutput, std::string, const store::Store::RunMark* next) override {
    handled_.push_back(in.arrival);
    // What the node does: the next run's mark goes with this one's end.
    if (next != nullptr) (void)store->markRunning(next->arrival, next->advance);
  }
  store::Store* store = nullptr;
  Status partial(const Inbound&, std::string) override { return {}; }
  void problem(const std::string& what) override { problems_.push_back(what); }
  void audit(std::string_view, const message::Message&) override {}
  void announced(const message::Message&) override {}
  void timed(const std::string&, double) override {}
  std::vector<uint64_t> handled_;
  std::vector<std::string> problems_;
};

class SequencedSubscriber : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("subscriber-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    store_ = std::move(store::Store::open(dir_, {.sync = false}).value());
    events_.store = store_.get();
    ON_CALL(transport_, publish(_, _, _)).WillByDefault(Return(Status{}));
    EXPECT_CALL(transport_, subscribe(_, _)).WillOnce([this](const std::string&, transport::Transport::Handler h) {
      deliver_ = std::move(h);
      return Result<std::unique_ptr<transport::Subscription>>(std::make_unique<transport::Subscription>());
    });
    SubscriberSettings settings;
    settings.nodeName = "ship1";
    settings.dataFolder = dir_ / "data";
    settings.allowed = AllowedNodes::parse("*").value();
    subscriber_ = Subscriber::create(io_.get_executor(), transport_, pool_, intake_, *store_,
                                     std::make_unique<Recorder>(ran_), settings, events_);
    ASSERT_TRUE(subscriber_->start().ok());
  }
  void TearDown() override {
    EXPECT_TRUE(events_.problems_.empty()) << events_.problems_.front();
    subscriber_->stop();
    io_.run_for(std::chrono::milliseconds(50));
    pool_.stop();
    intake_.stop();
    subscriber_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  // A message of central's stream (epoch 7) numbered `seq`, with the sender's floor.
  void arrive(uint64_t id, uint64_t seq, uint64_t floor, const std::string& inbox = "_INBOX.x") {
    message::Message m;
    m.id = id;
    m.fromNode = "central";
    m.toNode = "ship1";
    m.method = "REQSeq";
    m.createdUnixMs = 1;
    m.epoch = 7;
    m.seq = seq;
    m.floor = floor;
    deliver_(transport::Incoming{"ship1.REQSeq.CommandACK", inbox, message::encodeWire(m)});
  }
  // From now on, what the subscriber publishes (ACKs, NACKs) is kept: (subject, payload).
  void recordPublished() {
    ON_CALL(transport_, publish(_, _, _))
        .WillByDefault(Invoke([this](const std::string& subject, std::string_view payload, const std::string&) {
          std::lock_guard lock(publishedMutex_);
          published_.emplace_back(subject, std::string(payload));
          return Status{};
        }));
  }
  std::vector<std::pair<std::string, std::string>> publishedNow() {
    std::lock_guard lock(publishedMutex_);
    return published_;
  }
  // Keeps the one intake thread busy until the promise is set: what arrives meanwhile is stored
  // in one write.
  std::promise<void> holdIntake() {
    std::promise<void> release;
    intake_.submit([gate = release.get_future().share()] { gate.wait(); });
    return release;
  }
  // Runs the io_context until `count` messages ran (or two seconds pass).
  void runUntilRan(size_t count) {
    for (int i = 0; i < 400 && ran_.size() < count; ++i) io_.run_for(std::chrono::milliseconds(5));
  }

  fs::path dir_;
  boost::asio::io_context io_;
  // run_for returns at once on an io_context that ran out of work; this keeps it working.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  ::testing::NiceMock<steward::testing::MockTransport> transport_;
  HandlerPool pool_{2};
  HandlerPool intake_{1};
  std::unique_ptr<store::Store> store_;
  transport::Transport::Handler deliver_;
  std::vector<uint64_t> ran_;
  Quiet events_;
  std::shared_ptr<Subscriber> subscriber_;
  std::mutex publishedMutex_;
  std::vector<std::pair<std::string, std::string>> published_;
};

}  // namespace

TEST_F(SequencedSubscriber, RunsAStreamInNumberOrderWhateverOrderItArrivesIn) {
  arrive(13, 3, 1);
  arrive(12, 2, 1);
  io_.run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(ran_.empty()) << "2 and 3 must wait for 1";
  arrive(11, 1, 1);
  runUntilRan(3);
  EXPECT_EQ(ran_, (std::vector<uint64_t>{1, 2, 3}));
  // A late copy of a number that ran is taken (ACKed) but not run.
  arrive(21, 2, 1);
  arrive(14, 4, 4);
  runUntilRan(4);
  io_.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(ran_, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_F(SequencedSubscriber, AFloorLetsLaterNumbersPassAGapThatWillNotBeFilled) {
  arrive(12, 2, 1);
  io_.run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(ran_.empty());
  // The sender settled 1 without delivering it: 3 says so, and both run in order.
  arrive(13, 3, 3);
  runUntilRan(2);
  EXPECT_EQ(ran_, (std::vector<uint64_t>{2, 3}));
  // 1 arriving after all is not run out of its turn.
  arrive(11, 1, 1);
  io_.run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(ran_, (std::vector<uint64_t>{2, 3}));
}

TEST_F(SequencedSubscriber, AStreamNoteClosesAGapBehindANumberThatArrived) {
  arrive(12, 2, 1);
  io_.run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(ran_.empty());
  message::Message note;
  note.id = 30;
  note.fromNode = "central";
  note.toNode = "ship1";
  note.method = "REQSeq";
  note.epoch = 7;
  note.floor = 2;
  deliver_(transport::Incoming{"ship1.REQSeq.CommandACK", "_INBOX.y", message::encodeWire(note)});
  runUntilRan(1);
  EXPECT_EQ(ran_, (std::vector<uint64_t>{2}));
  // The note is kept in the stream, not in the inbox (which holds number 2 alone: the node, not
  // this test, removes what ran), and never run.
  EXPECT_EQ(store_->loadStreams("REQSeq").begin()->second.floor, 2u);
  EXPECT_EQ(store_->loadInbox().entries.size(), 1u);
}

TEST_F(SequencedSubscriber, ARemovedNumberIsPassedInItsTurn) {
  arrive(13, 3, 1);
  io_.run_for(std::chrono::milliseconds(100));
  const auto waiting = store_->loadInbox().entries;
  ASSERT_EQ(waiting.size(), 1u);
  auto removed = subscriber_->remove(waiting.front().arrival);
  io_.run_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(removed.get());
  arrive(11, 1, 1);
  arrive(12, 2, 1);
  arrive(14, 4, 1);
  runUntilRan(3);
  EXPECT_EQ(ran_, (std::vector<uint64_t>{1, 2, 4}));
}

TEST_F(SequencedSubscriber, WhatOneWriteTookOfASenderIsAckedOnceNamingTheOthers) {
  recordPublished();
  // The one intake thread is busy, so three arrivals wait and are stored in one write.
  std::promise<void> release = holdIntake();
  arrive(11, 1, 1, "_INBOX.a");
  arrive(12, 2, 1, "_INBOX.b");
  arrive(13, 3, 1, "_INBOX.c");
  release.set_value();
  runUntilRan(3);
  EXPECT_EQ(ran_, (std::vector<uint64_t>{1, 2, 3}));
  const auto published = publishedNow();
  ASSERT_EQ(published.size(), 1u) << "one ACK for the three";
  EXPECT_EQ(published[0].first, "_INBOX.c");
  const auto ack = decodeAck(published[0].second);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->accepted);
  EXPECT_EQ(ack->also, (std::vector<uint64_t>{11, 12}));
}

TEST_F(SequencedSubscriber, ACopyTakenBeforeAndAnotherSenderProcessGetAnAckOfTheirOwn) {
  arrive(11, 1, 1, "_INBOX.central.old.1");
  runUntilRan(1);
  recordPublished();
  std::promise<void> release = holdIntake();
  arrive(12, 2, 1, "_INBOX.central.new.2");
  arrive(11, 1, 1, "_INBOX.central.new.1");   // a copy of 1, resent by central after a restart
  arrive(13, 3, 1, "_INBOX.central.old.3");   // sent by the process before, late
  arrive(14, 4, 1, "_INBOX.central.new.4");
  release.set_value();
  runUntilRan(4);
  EXPECT_EQ(ran_, (std::vector<uint64_t>{1, 2, 3, 4}));
  std::map<std::string, std::vector<uint64_t>> also;
  for (const auto& [subject, payload] : publishedNow()) also[subject] = decodeAck(payload)->also;
  ASSERT_EQ(also.size(), 3u);
  EXPECT_EQ(also["_INBOX.central.new.1"], std::vector<uint64_t>{}) << "the copy: alone";
  EXPECT_EQ(also["_INBOX.central.new.4"], std::vector<uint64_t>{12});
  EXPECT_EQ(also["_INBOX.central.old.3"], std::vector<uint64_t>{});
}

namespace {

// Runs for a while, counting how many run at once: in all, and of one sender.
struct Overlap {
  std::mutex mutex;
  int now = 0;
  int most = 0;
  std::map<std::string, int> bySender;
  int sameSenderAtOnce = 0;
  std::map<std::string, std::vector<uint64_t>> order;
};

class Slow final : public MethodHandler {
 public:
  explicit Slow(Overlap& o) : o_(o) {
    info_.name = "REQSeq";
    info_.replyMethod = true;
  }
  const message::MethodInfo& method() const override { return info_; }
  bool handle(const message::Message& m, const plugin::CallContext&, steward_host_call&) override {
    {
      std::lock_guard lock(o_.mutex);
      o_.most = std::max(o_.most, ++o_.now);
      if (++o_.bySender[m.fromNode] > 1) ++o_.sameSenderAtOnce;
      o_.order[m.fromNode].push_back(m.seq);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    std::lock_guard lock(o_.mutex);
    --o_.now;
    --o_.bySender[m.fromNode];
    return true;
  }
  void cancel(steward_host_call& call) override { call.cancelled = true; }

 private:
  message::MethodInfo info_;
  Overlap& o_;
};

// Three senders' streams of three messages each, to a subscriber running `lanes` senders at once.
void runThreeSenders(size_t lanes, Overlap& overlap) {
  const fs::path dir = fs::temp_directory_path() / ("lanes-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  {
    auto store = std::move(store::Store::open(dir, {.sync = false}).value());
    Quiet events;
    events.store = store.get();
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    ::testing::NiceMock<steward::testing::MockTransport> transport;
    ON_CALL(transport, publish(_, _, _)).WillByDefault(Return(Status{}));
    transport::Transport::Handler deliver;
    EXPECT_CALL(transport, subscribe(_, _)).WillOnce([&](const std::string&, transport::Transport::Handler h) {
      deliver = std::move(h);
      return Result<std::unique_ptr<transport::Subscription>>(std::make_unique<transport::Subscription>());
    });
    HandlerPool pool{4};
    HandlerPool intake{1};
    SubscriberSettings settings;
    settings.nodeName = "ship1";
    settings.dataFolder = dir / "data";
    settings.allowed = AllowedNodes::parse("*").value();
    settings.sendersAtOnce = lanes;
    settings.moreHandlers = [&overlap] {
      return Result<std::unique_ptr<MethodHandler>>(std::make_unique<Slow>(overlap));
    };
    auto subscriber = Subscriber::create(io.get_executor(), transport, pool, intake, *store,
                                         std::make_unique<Slow>(overlap), settings, events);
    EXPECT_TRUE(subscriber->start().ok());
    uint64_t id = 1;
    for (uint64_t seq : {2, 1, 3}) {
      for (const char* sender : {"a", "b", "c"}) {
        message::Message m;
        m.id = id++;
        m.fromNode = sender;
        m.toNode = "ship1";
        m.method = "REQSeq";
        m.createdUnixMs = 1;
        m.epoch = 7;
        m.seq = seq;
        m.floor = 1;
        deliver(transport::Incoming{"ship1.REQSeq.CommandACK", "_INBOX.x", message::encodeWire(m)});
      }
    }
    for (int i = 0; i < 600 && events.handled_.size() < 9; ++i) io.run_for(std::chrono::milliseconds(5));
    EXPECT_EQ(events.handled_.size(), 9u);
    EXPECT_TRUE(events.problems_.empty());
    subscriber->stop();
    io.run_for(std::chrono::milliseconds(50));
    pool.stop();
    intake.stop();
  }
  fs::remove_all(dir);
}

}  // namespace

TEST(SequencedSubscriberLanes, SeveralSendersRunAtOnceEachStillOneAtATimeInOrder) {
  Overlap o;
  runThreeSenders(3, o);
  EXPECT_EQ(o.most, 3) << "the three senders' streams run side by side";
  EXPECT_EQ(o.sameSenderAtOnce, 0);
  for (const char* sender : {"a", "b", "c"}) EXPECT_EQ(o.order[sender], (std::vector<uint64_t>{1, 2, 3})) << sender;
}

TEST(SequencedSubscriberLanes, OneAtATimeOnTheNodeWhenOneSenderAtOnce) {
  Overlap o;
  runThreeSenders(1, o);
  EXPECT_EQ(o.most, 1);
  for (const char* sender : {"a", "b", "c"}) EXPECT_EQ(o.order[sender], (std::vector<uint64_t>{1, 2, 3})) << sender;
}
