#include "core/process/handler_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

using steward::process::HandlerPool;

TEST(HandlerPool, RunsEveryTaskBeforeStopReturns) {
  std::atomic<int> ran{0};
  HandlerPool pool(3);
  for (int i = 0; i < 50; ++i) pool.submit([&] { ++ran; });
  pool.stop();
  EXPECT_EQ(ran.load(), 50);
}

TEST(HandlerPool, NeverRunsMoreThanItsCapAtOnce) {
  std::atomic<int> running{0}, peak{0};
  HandlerPool pool(2);
  for (int i = 0; i < 8; ++i) {
    pool.submit([&] {
      int now = ++running;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      --running;
    });
  }
  pool.stop();
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
}

TEST(HandlerPool, SubmitAfterStopIsDropped) {
  std::atomic<int> ran{0};
  HandlerPool pool(1);
  pool.stop();
  pool.submit([&] { ++ran; });
  EXPECT_EQ(ran.load(), 0);
}

TEST(HandlerPool, AThreadWithoutWorkEndsAndANewOneStartsForTheNextTask) {
  std::atomic<int> ran{0};
  HandlerPool pool(2, "test-pool", std::chrono::milliseconds(50));
  pool.submit([&] { ++ran; });
  pool.submit([&] { ++ran; });
  EXPECT_GE(pool.threads(), 1u);
  for (int i = 0; i < 200 && pool.threads() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(pool.threads(), 0u);
  pool.submit([&] { ++ran; });
  EXPECT_EQ(pool.threads(), 1u);
  pool.stop();
  EXPECT_EQ(ran.load(), 3);
}
