#include "core/store/store.hpp"

#include <gtest/gtest.h>
#include <leveldb/db.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward::store;
namespace fs = std::filesystem;

namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("store-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<Store> open(StoreOptions options = {}) {
    auto s = Store::open(dir_, options);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(s).value() : nullptr;
  }
  static OutboxEntry out(uint64_t id) {
    OutboxEntry e;
    e.id = id;
    e.subject = "ship1.REQCliCommand.CommandACK";
    e.ackTimeoutMs = 5000;
    e.retries = 2;
    e.expiresUnixMs = 99;
    e.wire = "{\"id\":" + std::to_string(id) + "}";
    return e;
  }
  fs::path dir_;
};

}  // namespace

TEST_F(StoreTest, IdsIncreaseAndNeverRepeatAcrossReopen) {
  uint64_t last = 0;
  {
    auto store = open();
    IdSource ids(*store, "nextId", 10);
    for (int i = 0; i < 25; ++i) {
      auto id = ids.next();
      ASSERT_TRUE(id.ok());
      EXPECT_GT(id.value(), last);
      last = id.value();
    }
    EXPECT_EQ(last, 25u);
  }
  auto store = open();
  IdSource ids(*store, "nextId", 10);
  EXPECT_GT(ids.next().value(), last) << "an id was handed out twice";
}

TEST_F(StoreTest, OutboxComesBackInIdOrderWithItsSettingsUntilRemoved) {
  {
    auto store = open();
    ASSERT_TRUE(store->putOutbox({out(12), out(3)}).ok());
    ASSERT_TRUE(store->putOutbox({out(7)}).ok());
    ASSERT_TRUE(store->removeOutbox(12).ok());
  }
  auto store = open();
  auto loaded = store->loadOutbox();
  EXPECT_TRUE(loaded.damaged.empty());
  ASSERT_EQ(loaded.entries.size(), 2u);
  EXPECT_EQ(loaded.entries[0].id, 3u);
  EXPECT_EQ(loaded.entries[1].id, 7u);
  EXPECT_EQ(loaded.entries[1].subject, "ship1.REQCliCommand.CommandACK");
  EXPECT_EQ(loaded.entries[1].ackTimeoutMs, 5000);
  EXPECT_EQ(loaded.entries[1].retries, 2);
  EXPECT_EQ(loaded.entries[1].expiresUnixMs, 99);
  EXPECT_EQ(loaded.entries[1].wire, "{\"id\":7}");
}

TEST_F(StoreTest, ACopySealedNoLaterThanTheOneTakenIsAReplayAndALaterOneADuplicate) {
  auto store = open();
  EXPECT_GT(store->acceptInbound("central", 7, "REQCliCommand", "w", 1000).value().arrival, 0u);
  auto replay = store->acceptInbound("central", 7, "REQCliCommand", "w", 1000).value();
  EXPECT_EQ(replay.arrival, 0u);
  EXPECT_TRUE(replay.replayed);
  auto resend = store->acceptInbound("central", 7, "REQCliCommand", "w", 5000).value();
  EXPECT_EQ(resend.arrival, 0u);
  EXPECT_FALSE(resend.replayed);
  // The resend is now the latest copy: a replay of the first copy, or of it, is refused.
  EXPECT_TRUE(store->acceptInbound("central", 7, "REQCliCommand", "w", 1000).value().replayed);
  EXPECT_TRUE(store->acceptInbound("central", 7, "REQCliCommand", "w", 5000).value().replayed);
}

TEST_F(StoreTest, AMessageIsTakenOnceAndRememberedAcrossReopen) {
  {
    auto store = open();
    auto first = store->acceptInbound("central", 5, "REQCliCommand", "w5");
    ASSERT_TRUE(first.ok());
    EXPECT_GT(first.value().arrival, 0u);
    EXPECT_EQ(store->acceptInbound("central", 5, "REQCliCommand", "w5").value().arrival, 0u);
    EXPECT_GT(store->acceptInbound("ship2", 5, "REQCliCommand", "other").value().arrival, 0u);
  }
  auto store = open();
  EXPECT_EQ(store->acceptInbound("central", 5, "REQCliCommand", "w5").value().arrival, 0u);
  auto inbox = store->loadInbox();
  ASSERT_EQ(inbox.entries.size(), 2u);
  EXPECT_EQ(inbox.entries[0].wire, "w5");
  EXPECT_EQ(inbox.entries[0].method, "REQCliCommand");
  EXPECT_LT(inbox.entries[0].arrival, inbox.entries[1].arrival);
  EXPECT_FALSE(inbox.entries[0].running);
}

TEST_F(StoreTest, ARunningMarkSurvivesAndFinishingSwapsRequestForReply) {
  uint64_t arrival = 0;
  {
    auto store = open();
    arrival = store->acceptInbound("central", 1, "REQCliCommand", "req").value().arrival;
    ASSERT_TRUE(store->markRunning(arrival).ok());
  }
  auto store = open();
  auto inbox = store->loadInbox();
  ASSERT_EQ(inbox.entries.size(), 1u);
  EXPECT_TRUE(inbox.entries[0].running);
  const OutboxEntry reply = out(40);
  ASSERT_TRUE(store->finishInbound(arrival, &reply).ok());
  EXPECT_TRUE(store->loadInbox().entries.empty());
  auto outbox = store->loadOutbox();
  ASSERT_EQ(outbox.entries.size(), 1u);
  EXPECT_EQ(outbox.entries[0].id, 40u);
  EXPECT_EQ(store->acceptInbound("central", 1, "REQCliCommand", "req").value().arrival, 0u)
      << "finishing must not forget that the message was seen";
}

TEST_F(StoreTest, ASenderThatNeverSaysWhatItSettledIsRememberedUpToABound) {
  StoreOptions options;
  options.seenPerSender = 3;
  auto store = open(options);
  for (uint64_t id = 1; id <= 5; ++id) {
    ASSERT_GT(store->acceptInbound("a", id, "M", "w").value().arrival, 0u);
  }
  EXPECT_EQ(store->acceptInbound("a", 5, "M", "w").value().arrival, 0u);
  EXPECT_EQ(store->acceptInbound("a", 3, "M", "w").value().arrival, 0u);
  EXPECT_GT(store->acceptInbound("a", 1, "M", "w").value().arrival, 0u) << "the oldest was forgotten";
}

TEST_F(StoreTest, DamagedEntriesAreReportedRemovedAndSkipped) {
  auto store = open();
  ASSERT_TRUE(store->putOutbox({out(1), out(3)}).ok());
  ASSERT_TRUE(store->putRaw("out/0000000000000002", "garbage without a header").ok());
  ASSERT_TRUE(store->putRaw("out/not-a-number", "{}\nx").ok());
  ASSERT_TRUE(store->putRaw("in/0000000000000009", "{\"method\":1}\nx").ok());
  auto outbox = store->loadOutbox();
  ASSERT_EQ(outbox.entries.size(), 2u);
  EXPECT_EQ(outbox.entries[0].id, 1u);
  EXPECT_EQ(outbox.entries[1].id, 3u);
  ASSERT_EQ(outbox.damaged.size(), 2u);
  EXPECT_NE(outbox.damaged[0].message.find("out/0000000000000002"), std::string::npos);
  auto inbox = store->loadInbox();
  EXPECT_TRUE(inbox.entries.empty());
  ASSERT_EQ(inbox.damaged.size(), 1u);
  EXPECT_TRUE(store->loadOutbox().damaged.empty()) << "a damaged entry is reported once";
}

TEST_F(StoreTest, ADamagedDatabaseIsAClearError) {
  fs::create_directories(dir_ / "steward.ldb");
  std::ofstream(dir_ / "steward.ldb" / "CURRENT") << "MANIFEST-999999\n";
  auto store = Store::open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("cannot open database"), std::string::npos);
}

TEST_F(StoreTest, WhatASenderSettledIsForgottenAndALateCopyOfItIsNotTaken) {
  auto store = open();
  ASSERT_GT(store->acceptInbound("a", 10, "M", "w", 0, 10).value().arrival, 0u);
  ASSERT_GT(store->acceptInbound("a", 11, "M", "w", 0, 10).value().arrival, 0u);
  // a says everything below 13 is settled: 12 never came (given up there), so a late copy of
  // it is answered but not taken; 10 and 11 are forgotten and stay not taken.
  ASSERT_GT(store->acceptInbound("a", 13, "M", "w", 0, 13).value().arrival, 0u);
  EXPECT_EQ(store->acceptInbound("a", 12, "M", "w", 0, 10).value().arrival, 0u);
  EXPECT_EQ(store->acceptInbound("a", 11, "M", "w", 0, 10).value().arrival, 0u);
  EXPECT_EQ(store->acceptInbound("a", 13, "M", "w", 0, 13).value().arrival, 0u) << "13 is remembered";
  // Another sender's word changes nothing of a's.
  ASSERT_GT(store->acceptInbound("b", 12, "M", "w", 0, 12).value().arrival, 0u);
  ASSERT_GT(store->acceptInbound("a", 14, "M", "w", 0, 13).value().arrival, 0u);
  store.reset();
  auto reopened = open();
  EXPECT_EQ(reopened->acceptInbound("a", 12, "M", "w", 0, 0).value().arrival, 0u)
      << "what a settled is kept across a restart";
  EXPECT_EQ(reopened->acceptInbound("a", 14, "M", "w", 0, 13).value().arrival, 0u);
  EXPECT_GT(reopened->acceptInbound("a", 15, "M", "w", 0, 13).value().arrival, 0u);
}

TEST_F(StoreTest, AResendIsRecognisedAfterTwoHundredThousandMessagesFromOtherSenders) {
  StoreOptions options;
  options.sync = false;
  auto store = open(options);
  // ship1's message 7 was taken; its ACK was lost and ship1 stayed away. Meanwhile 200,000
  // messages from a thousand other senders, each saying what it settled.
  ASSERT_GT(store->acceptInbound("ship1", 7, "M", "w", 0, 7).value().arrival, 0u);
  uint64_t id = 1;
  for (int round = 0; round < 200; ++round) {
    std::vector<Store::Arriving> batch;
    for (int sender = 0; sender < 1000; ++sender) {
      batch.push_back({"node" + std::to_string(sender), id, "M", "w", 0, id});
    }
    ++id;
    ASSERT_TRUE(store->acceptInbound(batch).ok());
  }
  EXPECT_EQ(store->acceptInbound("ship1", 7, "M", "w", 0, 7).value().arrival, 0u)
      << "the resend must not run again";
}

TEST_F(StoreTest, TheArrivalRingOfAnOlderDatabaseIsDroppedAtOpen) {
  {
    auto store = open();
    ASSERT_TRUE(store->putRaw("seenAt/0000000000000001", "seen/a/0000000000000001").ok());
    ASSERT_TRUE(store->putRaw("seenAt/0000000000000002", "seen/a/0000000000000002").ok());
  }
  auto store = open();
  EXPECT_GT(store->acceptInbound("a", 1, "M", "w").value().arrival, 0u);
  store.reset();
  // Nothing of the ring is left to read.
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), (dir_ / "steward.ldb").string(), &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  it->Seek("seenAt/");
  EXPECT_FALSE(it->Valid() && it->key().starts_with("seenAt/"));
}

TEST_F(StoreTest, PartsOfOneDatabaseKeepEverythingApartAndSurviveReopen) {
  uint64_t aArrival = 0;
  {
    auto root = open();
    auto a = root->part("s1");
    auto b = root->part("s2");
    root.reset();  // the parts keep the database open
    ASSERT_TRUE(a->putOutbox({out(3)}, {{"central.REQHello.EventNACK", 9}}).ok());
    ASSERT_TRUE(b->putOutbox({out(4), out(5)}).ok());
    aArrival = a->acceptInbound("central", 7, "REQCliCommand", "for s1").value().arrival;
    ASSERT_GT(aArrival, 0u);
    ASSERT_TRUE(a->markRunning(aArrival).ok());
    // The same message id from the same sender is new to the other part.
    EXPECT_GT(b->acceptInbound("central", 7, "REQCliCommand", "for s2").value().arrival, 0u);
    EXPECT_NE(a->epoch().value(), b->epoch().value());
  }
  auto root = open();
  EXPECT_TRUE(root->loadOutbox().entries.empty()) << "the database's own keys hold none of its parts'";
  EXPECT_TRUE(root->loadInbox().entries.empty());
  auto a = root->part("s1");
  auto b = root->part("s2");
  ASSERT_EQ(a->loadOutbox().entries.size(), 1u);
  EXPECT_EQ(a->loadOutbox().entries[0].id, 3u);
  EXPECT_EQ(a->lastSeq("central.REQHello.EventNACK").value(), 9u);
  EXPECT_EQ(b->lastSeq("central.REQHello.EventNACK").value(), 0u);
  ASSERT_EQ(b->loadOutbox().entries.size(), 2u);
  auto inbox = a->loadInbox();
  ASSERT_EQ(inbox.entries.size(), 1u);
  EXPECT_EQ(inbox.entries[0].wire, "for s1");
  EXPECT_TRUE(inbox.entries[0].running);
  EXPECT_FALSE(b->loadInbox().entries.at(0).running);
  EXPECT_EQ(a->acceptInbound("central", 7, "REQCliCommand", "again").value().arrival, 0u);
  EXPECT_NE(root->part("s3")->acceptInbound("central", 7, "REQCliCommand", "x").value().arrival, 0u);
}

TEST_F(StoreTest, ANewCounterStartsWhereItIsToldAndAnOldOneGoesOnFromItsLastNumber) {
  {
    auto store = open();
    IdSource ids(*store, "nextId", 10, 5000);
    EXPECT_EQ(ids.next().value(), 5000u);
    EXPECT_EQ(ids.next().value(), 5001u);
  }
  auto store = open();
  IdSource ids(*store, "nextId", 10, 1);
  EXPECT_EQ(ids.next().value(), 5010u) << "a counter in use never starts over";
}

// A repeating message is in the inbox (a run) or in sched/ (between runs), never both nor neither.
TEST_F(StoreTest, ARepeatingMessageMovesBetweenInboxAndScheduleWithItsRunNumber) {
  auto store = open();
  const uint64_t first = store->acceptInbound("central", 7, "REQCliCommand", "req").value().arrival;
  ScheduledRun next{first, "REQCliCommand", 2, 12345, false, "req"};
  Store::Repeat repeat{first, &next};
  ASSERT_TRUE(store->finishInbound(first, nullptr, {}, nullptr, true, &repeat).ok());
  EXPECT_TRUE(store->loadInbox().entries.empty());
  auto scheduled = store->loadScheduled();
  ASSERT_EQ(scheduled.entries.size(), 1u);
  EXPECT_EQ(scheduled.entries[0].schedule, first);
  EXPECT_EQ(scheduled.entries[0].run, 2u);
  EXPECT_EQ(scheduled.entries[0].atUnixMs, 12345);
  EXPECT_EQ(scheduled.entries[0].wire, "req");

  const uint64_t second = store->releaseScheduled(scheduled.entries[0]).value();
  EXPECT_GT(second, first);
  EXPECT_TRUE(store->loadScheduled().entries.empty());
  store.reset();
  store = open();  // across a restart
  auto inbox = store->loadInbox();
  ASSERT_EQ(inbox.entries.size(), 1u);
  EXPECT_EQ(inbox.entries[0].run, 2u);
  EXPECT_EQ(inbox.entries[0].schedule, first);

  // A cancel while that run goes leaves a mark; the run's end takes it away with the schedule.
  ASSERT_TRUE(store->cancelScheduled(ScheduledRun{first, "REQCliCommand", 3, 0, false, "req"}, true).ok());
  ASSERT_EQ(store->loadScheduled().entries.size(), 1u);
  EXPECT_TRUE(store->loadScheduled().entries[0].cancelled);
  Store::Repeat end{first, nullptr};
  ASSERT_TRUE(store->finishInbound(second, nullptr, {}, nullptr, true, &end).ok());
  EXPECT_TRUE(store->loadScheduled().entries.empty());
  EXPECT_TRUE(store->loadInbox().entries.empty());
}
