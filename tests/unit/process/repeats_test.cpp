#include "core/process/repeats.hpp"

#include "core/util/clock.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <thread>
#include <vector>

using namespace steward;
using namespace steward::process;

namespace {

store::ScheduledRun due(uint64_t schedule, int64_t inMs) {
  return store::ScheduledRun{schedule, "REQCliCommand", 2, nowUnixMs() + inMs, false, "{}"};
}

}  // namespace

TEST(RepeatsTest, ArmedRunsFireInTimeOrderAndADisarmedOneNever) {
  boost::asio::io_context io;
  std::vector<uint64_t> fired;
  Repeats repeats(io.get_executor(), [&](store::ScheduledRun run) { fired.push_back(run.schedule); });
  repeats.arm(due(1, 150));
  repeats.arm(due(2, 50));
  repeats.arm(due(3, 100));
  repeats.arm(due(4, -5000));  // its time passed while the node was down: at once
  EXPECT_EQ(repeats.armed().size(), 4u);
  auto taken = repeats.disarm(3);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->schedule, 3u);
  EXPECT_FALSE(repeats.disarm(3));
  io.run_for(std::chrono::milliseconds(400));
  EXPECT_EQ(fired, (std::vector<uint64_t>{4, 2, 1}));
  EXPECT_TRUE(repeats.armed().empty());
  EXPECT_FALSE(repeats.disarm(1));  // it fired: nothing to take
}

TEST(RepeatsTest, ARearmedScheduleFiresOnceAndNothingFiresAfterStop) {
  boost::asio::io_context io;
  int fired = 0;
  auto repeats = std::make_unique<Repeats>(io.get_executor(), [&](store::ScheduledRun) { ++fired; });
  repeats->arm(due(1, 20));
  repeats->arm(due(1, 40));
  io.run_for(std::chrono::milliseconds(150));
  EXPECT_EQ(fired, 1);
  io.restart();
  repeats->arm(due(2, 30));
  repeats->stop();
  repeats.reset();  // gone before the aborted wait's handler runs
  io.run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(fired, 1);
}

TEST(RepeatsTest, ACancelIsSaidOnceWhenTheRunEnds) {
  boost::asio::io_context io;
  Repeats repeats(io.get_executor(), [](store::ScheduledRun) {});
  EXPECT_FALSE(repeats.takeCancelled(5));
  repeats.cancel(5);
  EXPECT_TRUE(repeats.takeCancelled(5));
  EXPECT_FALSE(repeats.takeCancelled(5));
}
