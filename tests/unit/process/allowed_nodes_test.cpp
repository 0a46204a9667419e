#include "core/process/subscriber.hpp"

#include <gtest/gtest.h>

using steward::process::AllowedNodes;

TEST(AllowedNodes, StarAllowsAnyone) {
  auto a = AllowedNodes::parse("*");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->allows("anyone"));
  EXPECT_EQ(a->toString(), "*");
}

TEST(AllowedNodes, AListAllowsOnlyItsNodes) {
  auto a = AllowedNodes::parse("central, node1");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->allows("central"));
  EXPECT_TRUE(a->allows("node1"));
  EXPECT_FALSE(a->allows("ship2"));
  EXPECT_FALSE(a->allows("centra"));
  EXPECT_EQ(a->toString(), "central,node1");
}

TEST(AllowedNodes, EmptyOrBadListsAreErrors) {
  EXPECT_FALSE(AllowedNodes::parse("").ok());
  EXPECT_FALSE(AllowedNodes::parse(" , ").ok());
  EXPECT_FALSE(AllowedNodes::parse("a b").ok());
}
