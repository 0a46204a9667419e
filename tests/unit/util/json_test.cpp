#include "core/util/json.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

using namespace steward;

namespace {

json::Framer::State frame(std::string_view text) {
  json::Framer framer;
  return framer.feed(text);
}

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

TEST(JsonFramer, WaitsForTheWholeValue) {
  using State = json::Framer::State;
  EXPECT_EQ(frame(""), State::incomplete);
  EXPECT_EQ(frame("["), State::incomplete);
  EXPECT_EQ(frame("[{\"toNode\": \"sh"), State::incomplete);
  EXPECT_EQ(frame("[{\"a\":1},"), State::incomplete);
  EXPECT_EQ(frame("[{\"a\":1}]"), State::complete);
  EXPECT_EQ(frame("  {\"messages\":[]}"), State::complete);
}

TEST(JsonFramer, BracketsInStringsAndEscapedQuotesDoNotCount) {
  using State = json::Framer::State;
  EXPECT_EQ(frame(R"([{"a":"]"}])"), State::complete);
  EXPECT_EQ(frame(R"([{"a":"\"]"}])"), State::complete);
  EXPECT_EQ(frame(R"([{"a":"\\"}])"), State::complete);
  EXPECT_EQ(frame(R"([{"a":"\\\"]"}])"), State::complete);
  EXPECT_EQ(frame(R"([{"a":"]]]]"})"), State::incomplete);
}

TEST(JsonFramer, ScalarsAndStrayClosersAreCompleteSoTheParserNamesThem) {
  using State = json::Framer::State;
  EXPECT_EQ(frame("x"), State::complete);
  EXPECT_EQ(frame("42"), State::complete);
  EXPECT_EQ(frame("]"), State::complete);
}

TEST(JsonFramer, StopsAtTheDepthLimitWithoutReadingOn) {
  json::Framer framer;
  const std::string deep(1'000'000, '[');
  EXPECT_EQ(framer.feed(deep), json::Framer::State::tooDeep);
  EXPECT_EQ(framer.scanned(), json::kMaxDepth + 1);
}

TEST(JsonFramer, ScansEachByteOnceHoweverTheInputIsSplit) {
  // 16 MiB arriving 64 KiB at a time: the framer looks at each byte once.
  std::string buffer;
  const std::string piece = "{\"data\":[\"" + std::string(64 * 1024 - 16, 'x') + "\"]},";
  json::Framer framer;
  buffer = "[";
  size_t feeds = 0;
  while (buffer.size() < 16 * 1024 * 1024) {
    buffer += piece;
    ASSERT_EQ(framer.feed(buffer), json::Framer::State::incomplete);
    ++feeds;
  }
  buffer += "{}]";
  EXPECT_EQ(framer.feed(buffer), json::Framer::State::complete);
  EXPECT_EQ(framer.scanned(), buffer.size());
  EXPECT_GT(feeds, 200u);
}

TEST(JsonBounds, RefusesTooDeepAndTooLargeByName) {
  EXPECT_TRUE(json::checkBounds(nested(json::kMaxDepth)).ok());
  auto deep = json::checkBounds(nested(json::kMaxDepth + 1));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error().message.find("nests deeper than 32 levels"), std::string::npos) << deep.error().message;
  EXPECT_NE(deep.error().message.find("at byte 32"), std::string::npos) << deep.error().message;
  auto big = json::checkBounds(std::string(100, ' '), {.maxBytes = 10});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("larger than 10 bytes"), std::string::npos);
}

TEST(JsonParse, AMillionLevelsAreRefusedNotRecursedInto) {
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  auto parsed = json::parse(deep, "input");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message.rfind("input nests deeper than", 0), 0u) << parsed.error().message;
  // Deep nesting inside strings is only text.
  auto text = json::parse("[\"" + std::string(100000, '[') + "\"]", "input");
  EXPECT_TRUE(text.ok());
}

TEST(JsonParse, NamesWhatIsMalformedAndWhere) {
  auto bad = json::parse(R"({"a":})", "the ACL");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("the ACL is malformed JSON at byte 5", 0), 0u) << bad.error().message;
  auto good = json::parse(R"({"a":[1,{"b":null}]})", "x");
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->IsObject());
}

TEST(JsonParse, EachRefusalCarriesItsCode) {
  EXPECT_EQ(json::parse(nested(40), "input").error().code, Code::tooDeep);
  EXPECT_EQ(json::parse(std::string(20, ' '), "input", {.maxBytes = 10}).error().code, Code::tooLarge);
  EXPECT_EQ(json::parse("[1,", "input").error().code, Code::malformed);
  EXPECT_EQ(codeName(Code::tooDeep), "tooDeep");
  EXPECT_EQ(codeNamed("unsigned"), Code::unsignedMessage);
  EXPECT_EQ(codeNamed("no such code"), Code::unspecified);
}

TEST(Codes, EveryCodeHasANameThatLeadsBackToIt) {
  for (uint16_t i = 1; i <= static_cast<uint16_t>(kLastCode); ++i) {
    const auto code = static_cast<Code>(i);
    EXPECT_FALSE(codeName(code).empty()) << i;
    EXPECT_EQ(codeNamed(codeName(code)), code) << codeName(code);
  }
}
