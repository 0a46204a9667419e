// The relay between two brokers (fakes here, recording what is published and delivering what a
// test sends), with real seals, a real store and a real verifier.
#include "core/process/ack.hpp"
#include "core/process/relay.hpp"
#include "core/message/codec.hpp"
#include "core/security/envelope.hpp"
#include "core/security/identity.hpp"
#include "core/security/trust.hpp"
#include "core/util/clock.hpp"
#include "tests/unit/process/mock_transport.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <thread>

using namespace steward;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A broker that records what is published and hands a test's deliveries to the subscriptions
// (MockTransport's reply inboxes, answered by hand).
class FakeBroker : public steward::testing::MockTransport {
 public:
  struct Sent {
    std::string subject;
    std::string payload;
    std::string replyTo;
  };

  Status publish(const std::string& subject, std::string_view payload, const std::string& replyTo) override {
    std::lock_guard lock(mutex_);
    sent_.push_back({subject, std::string(payload), replyTo});
    return {};
  }
  Result<std::unique_ptr<transport::Subscription>> subscribe(const std::string& subject, Handler handler) override {
    std::lock_guard lock(mutex_);
    handlers_[subject] = std::move(handler);
    return std::make_unique<transport::Subscription>();
  }

  // What a subscription for `subject` (exactly, "<node>.>" or ">") is handed.
  void deliver(const std::string& subject, const std::string& payload, const std::string& replyTo = {}) {
    Handler handler;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [pattern, h] : handlers_) {
        if (pattern == ">" || pattern == subject ||
            (pattern.ends_with(".>") && subject.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0)) {
          handler = h;
        }
      }
    }
    if (handler) handler(transport::Incoming{subject, replyTo, payload, false});
  }
  std::vector<Sent> sentTo(const std::string& subject) {
    std::lock_guard lock(mutex_);
    std::vector<Sent> out;
    for (const auto& s : sent_) {
      if (s.subject == subject) out.push_back(s);
    }
    return out;
  }
  size_t sentCount() {
    std::lock_guard lock(mutex_);
    return sent_.size();
  }

 private:
  std::mutex mutex_;
  std::vector<Sent> sent_;
  std::map<std::string, Handler> handlers_;
};

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

// gw1 relays between central's broker (near) and ship1's (far).
class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("relay-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "trusted");
    for (const char* name : {"central", "ship1", "ship2", "ship3", "gw1"}) {
      ids_.emplace(name, security::Identity::create(dir_ / name).value());
      std::ofstream(dir_ / "trusted" / (std::string(name) + ".pub")) << ids_.at(name).publicKey() << "\n";
    }
    trust_ = security::Trust::open({.ownNode = "gw1",
                                    .ownKey = ids_.at("gw1").publicKey(),
                                    .centralNode = "central",
                                    .folder = dir_ / "trusted",
                                    .stateDir = dir_ / "gw1-state"})
                 .value();
    verifier_ = std::make_unique<security::Verifier>(*trust_, 300s, [] { return nowUnixMs(); });
    store_ = store::Store::open(dir_ / "db").value();
    audit_ = std::make_unique<observe::Audit>(observe::AuditSettings{dir_ / "audit"});
    errors_ = std::make_unique<observe::ErrorKernel>("gw1", "central", 10, 3, [this](message::Message m) {
      std::lock_guard lock(reportsMutex_);
      reports_.push_back(m.data.empty() ? "" : m.data.back());
    });
    io_thread_ = std::thread([this] { io_.run(); });
    settings_.nodeName = "gw1";
    settings_.farNodes = {"ship1"};
    settings_.tick = 20ms;
  }
  void TearDown() override {
    if (relay_) relay_->stop();
    relay_.reset();
    work_.reset();
    io_.stop();
    io_thread_.join();
    fs::remove_all(dir_);
  }
  void startRelay() {
    relay_ = std::make_shared<process::Relay>(io_, near_, far_, *verifier_, *store_, *audit_, *errors_, settings_);
    ASSERT_TRUE(relay_->start().ok());
  }
  // A message of `from` to `to`, as `from` seals it for the broker.
  // `policy` sets the message's delivery fields (ACKTimeout, retries, lifetime).
  std::string sealed(const std::string& from, const std::string& to, uint64_t id,
                     const std::string& method = "REQCliCommand",
                     const std::function<void(message::Message&)>& policy = {},
                     const std::string& kind = "CommandACK") {
    message::Message m;
    if (policy) policy(m);
    m.createdUnixMs = nowUnixMs();
    m.id = id;
    m.fromNode = from;
    m.toNode = to;
    m.method = method;
    m.data = {"uptime"};
    return security::seal(ids_.at(from), from, subjectOf(to, method, kind), message::encodeWire(m), nowUnixMs());
  }
  static std::string subjectOf(const std::string& to, const std::string& method = "REQCliCommand",
                               const std::string& kind = "CommandACK") {
    return to + "." + method + "." + kind;
  }
  std::string ackBy(const std::string& node, const std::string& inbox, const process::Ack& ack = process::Ack::accept()) {
    return security::seal(ids_.at(node), node, inbox, process::encodeAck(ack), nowUnixMs());
  }
  // The id of the message in a sealed payload.
  static uint64_t idOf(const std::string& payload) {
    auto sealed = security::open(payload);
    if (!sealed) return 0;
    auto m = message::decodeWire(sealed->wire);
    return m ? m->id : 0;
  }
  static bool isAccept(const FakeBroker::Sent& s) {
    auto ack = process::decodeAck(s.payload);
    return ack && ack->accepted;
  }
  std::vector<std::string> reports() {
    std::lock_guard lock(reportsMutex_);
    return reports_;
  }

  fs::path dir_;
  std::map<std::string, security::Identity> ids_;
  std::unique_ptr<security::Trust> trust_;
  std::unique_ptr<security::Verifier> verifier_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<observe::Audit> audit_;
  std::unique_ptr<observe::ErrorKernel> errors_;
  std::mutex reportsMutex_;
  std::vector<std::string> reports_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread io_thread_;
  FakeBroker near_;
  FakeBroker far_;
  process::RelaySettings settings_;
  std::shared_ptr<process::Relay> relay_;
};

}  // namespace

TEST_F(RelayTest, AMessageIsStoredBeforeItIsAckedAndForwardedUntilItsReceiverAcks) {
  startRelay();
  const std::string subject = subjectOf("ship1");
  const std::string origin = sealed("central", "ship1", 7);
  near_.deliver(subject, origin, "_INBOX.central.a.1");
  // ACKed to central on central's broker, and held in the store by then.
  ASSERT_TRUE(waitFor([&] { return !near_.sentTo("_INBOX.central.a.1").empty(); }));
  auto acks = near_.sentTo("_INBOX.central.a.1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(isAccept(acks[0])) << acks[0].payload;
  ASSERT_EQ(store_->loadCarried().entries.size(), 1u);
  EXPECT_EQ(store_->loadCarried().entries[0].payload, origin);

  // Forwarded on the far broker as central sealed it (the far transport adds the relay's seal).
  ASSERT_TRUE(waitFor([&] { return !far_.sentTo(subject).empty(); }));
  const auto first = far_.sentTo(subject)[0];
  EXPECT_EQ(first.payload, origin);
  // An answer not sealed by ship1 settles nothing; ship1's does.
  EXPECT_TRUE(far_.answer(first.replyTo, ackBy("central", first.replyTo)));
  EXPECT_EQ(relay_->held(), 1u);
  EXPECT_TRUE(far_.answer(first.replyTo, ackBy("ship1", first.replyTo)));
  EXPECT_EQ(relay_->held(), 0u);
  EXPECT_TRUE(store_->loadCarried().entries.empty());
}

TEST_F(RelayTest, AMessageThatWouldPassOneNotYetAckedWaitsAndABatchGoesAsAWindow) {
  settings_.farNodes = {"ship1", "ship2", "ship3"};
  startRelay();
  // To ship1, each sent after the relay ACKed the one before: central counts that one settled,
  // and says so.
  const std::string toShip1 = subjectOf("ship1");
  for (uint64_t id : {1, 2, 3}) {
    near_.deliver(toShip1, sealed("central", "ship1", id, "REQCliCommand", [id](message::Message& m) {
                    m.ackTimeout = id == 1 ? 30 : 1;
                    m.settledBelow = id;
                  }), "_INBOX.central.a." + std::to_string(id));
  }
  // To ship2, three sent at once: none settled when they left.
  for (uint64_t id : {4, 5, 6}) {
    near_.deliver(subjectOf("ship2"), sealed("central", "ship2", id, "REQCliCommand",
                                             [](message::Message& m) { m.settledBelow = 4; }),
                  "_INBOX.central.a." + std::to_string(id));
  }
  // To ship3, a sequenced stream whose second says the first is settled (its floor).
  for (uint64_t seq : {1, 2}) {
    near_.deliver(subjectOf("ship3"), sealed("central", "ship3", 6 + seq, "REQCliCommand", [seq](message::Message& m) {
                    m.settledBelow = 7;
                    m.seq = seq;
                    m.epoch = 9;
                    m.floor = seq;
                  }), "_INBOX.central.b." + std::to_string(seq));
  }
  ASSERT_TRUE(waitFor([&] {
    return relay_->held() == 8 && far_.sentTo(toShip1).size() == 1 &&
           far_.sentTo(subjectOf("ship2")).size() == 3 && far_.sentTo(subjectOf("ship3")).size() == 1;
  }));
  EXPECT_EQ(store_->loadCarried().entries.size(), 8u);
  // ship1's second waits for its first's ACK, however long.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(far_.sentTo(toShip1).size(), 1u);
  EXPECT_EQ(far_.sentTo(subjectOf("ship3")).size(), 1u);
  auto sends = far_.sentTo(toShip1);
  EXPECT_TRUE(far_.answer(sends[0].replyTo, ackBy("ship1", sends[0].replyTo)));
  ASSERT_EQ(far_.sentTo(toShip1).size(), 2u);  // at once
  // The second gets no ACK within its ACKTimeout (1 s): it goes again on an inbox of its own,
  // and the third still waits.
  ASSERT_TRUE(waitFor([&] { return far_.sentTo(toShip1).size() >= 3; }, 3s));
  sends = far_.sentTo(toShip1);
  for (size_t i = 1; i < sends.size(); ++i) EXPECT_EQ(idOf(sends[i].payload), 2u);
  EXPECT_FALSE(far_.answer(sends[1].replyTo, ackBy("ship1", sends[1].replyTo)));  // closed
  // Its latest send is ACKed (on a slow machine another may have gone meanwhile: that one).
  for (int i = 0; i < 10; ++i) {
    const auto latest = far_.sentTo(toShip1).back();
    if (far_.answer(latest.replyTo, ackBy("ship1", latest.replyTo))) break;
  }
  sends = far_.sentTo(toShip1);
  EXPECT_EQ(idOf(sends[0].payload), 1u);
  ASSERT_EQ(idOf(sends.back().payload), 3u);  // the third went at once
  EXPECT_TRUE(far_.answer(sends.back().replyTo, ackBy("ship1", sends.back().replyTo)));
  // ship2 took its three in one write: one answer, on the last one's inbox, names the others.
  const auto toShip2 = far_.sentTo(subjectOf("ship2"));
  EXPECT_TRUE(far_.answer(toShip2[2].replyTo, ackBy("ship2", toShip2[2].replyTo, process::Ack::accept({4, 5}))));
  // ship3's second number goes once its first is ACKed.
  const auto toShip3 = far_.sentTo(subjectOf("ship3"));
  EXPECT_TRUE(far_.answer(toShip3[0].replyTo, ackBy("ship3", toShip3[0].replyTo)));
  ASSERT_EQ(far_.sentTo(subjectOf("ship3")).size(), 2u);
  EXPECT_EQ(relay_->held(), 1u);
}

TEST_F(RelayTest, AMessageIsGivenUpAfterItsOwnRetriesOrLifetimeAndTheNextOfItsPairGoes) {
  startRelay();
  const std::string subject = subjectOf("ship1");
  near_.deliver(subject, sealed("central", "ship1", 1, "REQCliCommand", [](message::Message& m) {
                  m.ackTimeout = 1;
                  m.retries = 1;
                }), "_INBOX.central.a.1");
  near_.deliver(subject, sealed("central", "ship1", 2, "REQCliCommand", [](message::Message& m) {
                  m.ackTimeout = 1;
                  m.retries = 0;
                  m.lifetime = 6;
                  m.settledBelow = 2;  // sent after the relay ACKed the first: waits for it
                }), "_INBOX.central.a.2");
  // The first: two sends, no answer, given up; central is told.
  ASSERT_TRUE(waitFor([&] { return far_.sentTo(subject).size() >= 3; }, 5s));
  ASSERT_TRUE(waitFor([&] { return !reports().empty(); }));
  EXPECT_NE(reports()[0].find("relay: gave up message 1 (REQCliCommand) from central: no ACK from ship1 after 2 sends"),
            std::string::npos) << reports()[0];
  // The second has a lifetime: sent again and again (nobody listens), whatever its retries say,
  // until its lifetime ends.
  auto sends = far_.sentTo(subject);
  EXPECT_EQ(idOf(sends[1].payload), 1u);
  EXPECT_EQ(idOf(sends[2].payload), 2u);
  (void)far_.answer(sends[2].replyTo, "", true);  // nobody listens (unless it timed out already)
  ASSERT_TRUE(waitFor([&] { return relay_->held() == 0; }, 10s));
  EXPECT_GE(far_.sentTo(subject).size(), 4u);  // the second more than once, though its retries say 0
  ASSERT_TRUE(waitFor([&] { return reports().size() == 2; }));
  EXPECT_NE(reports()[1].find("relay: message 2 (REQCliCommand) from central expired: its lifetime ended before ship1 ACKed it"),
            std::string::npos) << reports()[1];
}

TEST_F(RelayTest, AMessageWithoutAckNeverPassesOneOfItsPairHeldHere) {
  startRelay();
  const std::string subject = subjectOf("ship1");
  const std::string event = subjectOf("ship1", "REQToConsole", "EventNACK");
  near_.deliver(subject, sealed("central", "ship1", 1), "_INBOX.central.a.1");
  ASSERT_TRUE(waitFor([&] { return far_.sentTo(subject).size() == 1; }));
  // It says what central settled, and central counts message 1 settled: it would pass it.
  const auto settledTwo = [](message::Message& m) { m.settledBelow = 2; };
  near_.deliver(event, sealed("central", "ship1", 2, "REQToConsole", settledTwo, "EventNACK"));
  EXPECT_TRUE(far_.sentTo(event).empty());
  const auto sent = far_.sentTo(subject)[0];
  EXPECT_TRUE(far_.answer(sent.replyTo, ackBy("ship1", sent.replyTo)));
  // Nothing of the pair held: sent once, as it came, and not kept.
  near_.deliver(event, sealed("central", "ship1", 3, "REQToConsole", settledTwo, "EventNACK"));
  ASSERT_EQ(far_.sentTo(event).size(), 1u);
  EXPECT_EQ(far_.sentTo(event)[0].replyTo, "");
  EXPECT_EQ(relay_->held(), 0u);
}

TEST_F(RelayTest, WhatIsNotItsToCarryIsPassedOverAndWhatIsNotSealedIsRefused) {
  startRelay();
  // The far broker's own traffic (to ship1), and messages to the relay itself.
  far_.deliver(subjectOf("ship1"), sealed("central", "ship1", 1));
  far_.deliver(subjectOf("gw1"), sealed("ship1", "gw1", 1), "_INBOX.ship1.a.1");
  far_.deliver("_INBOX.central.a.1", "{}");
  far_.deliver("not a subject", "{}");
  EXPECT_EQ(far_.sentCount(), 0u);
  EXPECT_EQ(near_.sentCount(), 0u);
  // Unsealed, or sealed by a key nobody trusts: refused where it came from, nothing held.
  near_.deliver(subjectOf("ship1"), "{\"id\":1}", "_INBOX.x.1");
  auto intruder = security::Identity::create(dir_ / "intruder").value();
  near_.deliver(subjectOf("ship1"), security::seal(intruder, "central", subjectOf("ship1"), "{}", nowUnixMs()),
                "_INBOX.x.2");
  // central's message sealed for ship1's subject but saying it is for ship2.
  message::Message m;
  m.id = 5;
  m.fromNode = "central";
  m.toNode = "ship2";
  m.method = "REQCliCommand";
  near_.deliver(subjectOf("ship1"),
                security::seal(ids_.at("central"), "central", subjectOf("ship1"), message::encodeWire(m), nowUnixMs()),
                "_INBOX.x.3");
  for (const char* inbox : {"_INBOX.x.1", "_INBOX.x.2", "_INBOX.x.3"}) {
    auto answers = near_.sentTo(inbox);
    ASSERT_EQ(answers.size(), 1u) << inbox;
    EXPECT_FALSE(isAccept(answers[0])) << answers[0].payload;
  }
  EXPECT_NE(near_.sentTo("_INBOX.x.3")[0].payload.find("not the subject's ship1/REQCliCommand"), std::string::npos);
  EXPECT_EQ(relay_->held(), 0u);
  EXPECT_TRUE(store_->loadCarried().entries.empty());
}

TEST_F(RelayTest, RepliesFromTheFarSideGoBackAndACopySentAgainIsHeldOnce) {
  startRelay();
  const std::string subject = subjectOf("central", "REQToFileAppend");
  const std::string reply = sealed("ship1", "central", 4, "REQToFileAppend");
  far_.deliver(subject, reply, "_INBOX.ship1.a.1");
  ASSERT_TRUE(waitFor([&] { return !far_.sentTo("_INBOX.ship1.a.1").empty(); }));
  EXPECT_TRUE(isAccept(far_.sentTo("_INBOX.ship1.a.1").at(0)));
  far_.deliver(subject, reply, "_INBOX.ship1.a.2");
  ASSERT_EQ(far_.sentTo("_INBOX.ship1.a.2").size(), 1u);  // ACKed again at once: held already
  EXPECT_TRUE(isAccept(far_.sentTo("_INBOX.ship1.a.2").at(0)));
  EXPECT_EQ(relay_->held(), 1u);
  EXPECT_EQ(store_->loadCarried().entries.size(), 1u);
  ASSERT_TRUE(waitFor([&] { return !near_.sentTo(subject).empty(); }));
  const auto sent = near_.sentTo(subject)[0];
  EXPECT_EQ(sent.payload, reply);
  // A refusal ends it too: the receiver said no, sending again would not change that.
  EXPECT_TRUE(near_.answer(sent.replyTo, ackBy("central", sent.replyTo, process::Ack::refuse("not allowed", Code::notAllowed))));
  EXPECT_EQ(relay_->held(), 0u);
}

TEST_F(RelayTest, AMessageNoOneAcksIsGivenUpAfterTheHoldTimeAndCentralIsTold) {
  settings_.hold = 1s;
  startRelay();
  near_.deliver(subjectOf("ship1"), sealed("central", "ship1", 3), "_INBOX.central.a.1");
  ASSERT_TRUE(waitFor([&] { return !near_.sentTo("_INBOX.central.a.1").empty(); }));
  ASSERT_TRUE(waitFor([&] { return relay_->held() == 0; }, 5s));
  EXPECT_TRUE(store_->loadCarried().entries.empty());
  ASSERT_TRUE(waitFor([&] { return !reports().empty(); }));
  EXPECT_NE(reports()[0].find("relay: gave up message 3 (REQCliCommand) from central: no ACK from ship1 after holding it 1 s"),
            std::string::npos) << reports()[0];
}

TEST_F(RelayTest, WhatItHoldsIsForwardedAfterARestartAndBeyondItsMostNothingIsAcked) {
  far_.setConnected(false);
  settings_.maxHeld = 2;
  startRelay();
  for (uint64_t id : {1, 2, 3}) near_.deliver(subjectOf("ship1"), sealed("central", "ship1", id), "_INBOX.central.a." + std::to_string(id));
  ASSERT_TRUE(waitFor([&] { return relay_->held() == 2; }));
  EXPECT_EQ(near_.sentTo("_INBOX.central.a.3").size(), 0u);  // central keeps it and sends it again
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(far_.sentCount(), 0u);  // the far broker is away
  relay_->stop();
  relay_.reset();

  far_.setConnected(true);
  startRelay();
  EXPECT_EQ(relay_->held(), 2u);
  ASSERT_TRUE(waitFor([&] { return far_.sentTo(subjectOf("ship1")).size() == 2; }));
  // A copy of one held from before is ACKed again, not held twice.
  near_.deliver(subjectOf("ship1"), sealed("central", "ship1", 2), "_INBOX.central.b.2");
  ASSERT_EQ(near_.sentTo("_INBOX.central.b.2").size(), 1u);
  EXPECT_TRUE(isAccept(near_.sentTo("_INBOX.central.b.2").at(0)));
  EXPECT_EQ(relay_->held(), 2u);
}
