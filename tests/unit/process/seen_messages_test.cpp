#include "core/process/seen_messages.hpp"

#include <gtest/gtest.h>

using steward::process::SeenMessages;

TEST(SeenMessages, ASecondArrivalOfOneMessageIsADuplicate) {
  SeenMessages seen;
  EXPECT_TRUE(seen.insert("central", 1));
  EXPECT_FALSE(seen.insert("central", 1));
  EXPECT_TRUE(seen.insert("central", 2));
  EXPECT_TRUE(seen.insert("ship1", 1)) << "ids are per sender";
}

TEST(SeenMessages, ForgetsTheOldestBeyondItsCapacity) {
  SeenMessages seen(2);
  EXPECT_TRUE(seen.insert("a", 1));
  EXPECT_TRUE(seen.insert("a", 2));
  EXPECT_TRUE(seen.insert("a", 3));
  EXPECT_TRUE(seen.insert("a", 1)) << "the oldest was forgotten";
  EXPECT_FALSE(seen.insert("a", 3));
}
