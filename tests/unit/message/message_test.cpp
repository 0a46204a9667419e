#include "core/message/message.hpp"

#include <gtest/gtest.h>

using namespace steward::message;

TEST(Subject, IsNodeMethodKind) {
  EXPECT_EQ(subject("ship1", "REQCliCommand", Kind::CommandACK), "ship1.REQCliCommand.CommandACK");
  EXPECT_EQ(subject("central", "REQHello", Kind::EventNACK), "central.REQHello.EventNACK");
}

TEST(Subject, ParsesIntoItsThreeTokens) {
  auto parts = parseSubject(subject("ship1", "REQToFile", makeKind(false, true)));
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  EXPECT_EQ(parts->node, "ship1");
  EXPECT_EQ(parts->method, "REQToFile");
  EXPECT_EQ(parts->kind, Kind::CommandACK);
  // Four tokens are not a subject of any node: node names hold no dot.
  EXPECT_FALSE(parseSubject("ww.ship1.REQToFile.CommandACK").ok());
}

TEST(Subject, ParsingRefusesWhatIsNotASubject) {
  EXPECT_FALSE(parseSubject("ship1.REQCliCommand").ok());
  EXPECT_FALSE(parseSubject("ship1.REQCliCommand.Command").ok());
  EXPECT_FALSE(parseSubject(".REQCliCommand.CommandACK").ok());
  EXPECT_FALSE(parseSubject("REQCliCommand.CommandACK").ok());
}

TEST(Kind, AckKindsNeedAnAck) {
  EXPECT_TRUE(needsAck(Kind::CommandACK));
  EXPECT_TRUE(needsAck(Kind::EventACK));
  EXPECT_FALSE(needsAck(Kind::CommandNACK));
  EXPECT_FALSE(needsAck(Kind::EventNACK));
  EXPECT_EQ(makeKind(true, false), Kind::EventNACK);
}

TEST(NodeName, AcceptsLettersDigitsDashAndUnderscore) {
  EXPECT_TRUE(checkNodeName("ship1").ok());
  EXPECT_TRUE(checkNodeName("ww-ship-1_a").ok());
}

TEST(NodeName, RefusesDotsThatWouldOverlapAnotherNodesSubjects) {
  // ship1.REQCliCommand would receive on ship1.REQCliCommand.<method>.<kind>: under ship1.>.
  auto dotted = checkNodeName("ship1.REQCliCommand");
  ASSERT_FALSE(dotted.ok());
  EXPECT_NE(dotted.error().message.find("would fall under those of the node \"ship1\""), std::string::npos)
      << dotted.error().message;
}

TEST(NodeName, RefusesWhatWouldBreakSubjectsOrPaths) {
  for (const char* bad : {"", ".", "..", "a..b", ".a", "a.", "a b", "a/b", "a*", "a>", "ship\n"}) {
    EXPECT_FALSE(checkNodeName(bad).ok()) << "accepted \"" << bad << "\"";
  }
  EXPECT_FALSE(checkNodeName(std::string(256, 'a')).ok());
}

TEST(MethodName, MustBeAWord) {
  EXPECT_TRUE(checkMethodName("REQnCliCommand").ok());
  EXPECT_FALSE(checkMethodName("REQ.Cli").ok());
  EXPECT_FALSE(checkMethodName("1REQ").ok());
  EXPECT_FALSE(checkMethodName("").ok());
}

TEST(FanOut, OneMessagePerDistinctReceiverInOrder) {
  Message m;
  m.method = "REQCliCommand";
  m.toNode = "ship1";
  m.toNodes = {"ship2", "ship1", "ship3", "ship2"};
  auto out = fanOut(m);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].toNode, "ship1");
  EXPECT_EQ(out[1].toNode, "ship2");
  EXPECT_EQ(out[2].toNode, "ship3");
  for (const auto& one : out) {
    EXPECT_TRUE(one.toNodes.empty());
    // Not even room for the list: a fan-out to N nodes would otherwise hold N x N names.
    EXPECT_EQ(one.toNodes.capacity(), 0u);
    EXPECT_EQ(one.method, "REQCliCommand");
  }
}

TEST(FanOut, EmptyToNodeWithToNodesUsesToNodes) {
  Message m;
  m.toNode = "";
  m.toNodes = {"central", "ship2"};
  auto out = fanOut(m);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].toNode, "central");
  EXPECT_EQ(out[1].toNode, "ship2");
}
