#include "core/observe/error_kernel.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace steward::observe {
namespace {

using namespace std::chrono_literals;

class ErrorKernelTest : public ::testing::Test {
 protected:
  ErrorKernel kernel(ErrorLimit limit) {
    return ErrorKernel(
        "ship1", "central", 60, 10, [this](message::Message m) { sent.push_back(m); }, limit,
        [this] { return now; });
  }
  std::string sentText(size_t i) const { return sent.at(i).data.at(0); }

  std::chrono::steady_clock::time_point now{};
  std::vector<message::Message> sent;
};

TEST_F(ErrorKernelTest, SendsEachErrorToCentralsErrorLog) {
  auto errors = kernel({});
  errors.report("ship1: something failed");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].toNode, "central");
  EXPECT_EQ(sent[0].method, "REQErrorLog");
  EXPECT_EQ(sent[0].directory, "errorLog");
  EXPECT_EQ(sent[0].fileName, "errors.log");
  EXPECT_EQ(sent[0].ackTimeout, 60);
  EXPECT_EQ(sent[0].retries, 10);
  EXPECT_EQ(sentText(0), "ship1: something failed");
}

TEST_F(ErrorKernelTest, AFloodIsHeldBackAndCountedToCentralWhenTheWindowEnds) {
  auto errors = kernel({.perWindow = 3, .window = 60s});
  std::vector<std::chrono::steady_clock::duration> scheduled;
  errors.setSchedule([&](std::chrono::steady_clock::duration d) { scheduled.push_back(d); });
  for (int i = 0; i < 10; ++i) {
    now += 1s;
    errors.report("refused " + std::to_string(i));
  }
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sentText(2), "refused 2");
  // One timer, for the end of the window, asked by the first error held back (at 4 s).
  ASSERT_EQ(scheduled.size(), 1u);
  EXPECT_EQ(scheduled[0], 56s);

  now += 20s;  // 30 s into the window: too early
  errors.flushHeldBack();
  EXPECT_EQ(sent.size(), 3u);

  now += 30s;
  errors.flushHeldBack();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sentText(3),
            "7 more error(s) in 60 s were not sent to central (at most 3 are); all are in "
            "ship1's log. The first: refused 3");
  errors.flushHeldBack();  // said once
  EXPECT_EQ(sent.size(), 4u);

  // A new window: three more go through, then a new flood is held back.
  for (int i = 0; i < 4; ++i) errors.report("again " + std::to_string(i));
  ASSERT_EQ(sent.size(), 7u);
  EXPECT_EQ(sentText(6), "again 2");
  EXPECT_EQ(scheduled.size(), 2u);
}

TEST_F(ErrorKernelTest, WithoutATimerTheCountGoesWithTheNextErrorAfterTheWindow) {
  auto errors = kernel({.perWindow = 1, .window = 60s});
  errors.report("first");
  errors.report("held back");
  now += 61s;
  errors.report("later");
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_NE(sentText(1).find("1 more error(s)"), std::string::npos) << sentText(1);
  EXPECT_NE(sentText(1).find("The first: held back"), std::string::npos) << sentText(1);
  EXPECT_EQ(sentText(2), "later");
}

TEST_F(ErrorKernelTest, AQuietWindowStartsAfresh) {
  auto errors = kernel({.perWindow = 2, .window = 60s});
  errors.report("a");
  errors.report("b");
  now += 5min;
  errors.report("c");
  errors.report("d");
  EXPECT_EQ(sent.size(), 4u);
}

}  // namespace
}  // namespace steward::observe
