#include "core/process/reply_watch.hpp"

#include <gtest/gtest.h>

using namespace steward::process;

TEST(ReplyWatch, TellsTheWatcherUntilTheFinalReply) {
  ReplyWatch watch;
  std::vector<ReplyNotice> seen;
  auto watcher = std::make_shared<ReplyWatcher>([&](const ReplyNotice& n) { seen.push_back(n); });
  watch.watch({1, 2}, watcher);
  watch.notify({.requestId = 1, .data = {"a"}, .final = false});
  watch.notify({.requestId = 3});  // not watched
  watch.notify({.requestId = 1, .data = {"b"}});
  watch.notify({.requestId = 1, .data = {"late duplicate"}});
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].data[0], "b");
  EXPECT_EQ(watch.size(), 1u);  // 2 is still awaited
}

TEST(ReplyWatch, ForgetsIdsWhenTheOwnerLetsGo) {
  ReplyWatch watch;
  int calls = 0;
  auto watcher = std::make_shared<ReplyWatcher>([&](const ReplyNotice&) { ++calls; });
  watch.watch({1, 2, 3}, watcher);
  watcher.reset();
  watch.notify({.requestId = 1});
  EXPECT_EQ(calls, 0);
  auto other = std::make_shared<ReplyWatcher>([&](const ReplyNotice&) { ++calls; });
  watch.watch({9}, other);  // prunes the expired ones
  EXPECT_EQ(watch.size(), 1u);
}
