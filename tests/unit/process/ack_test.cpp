#include "core/process/ack.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace steward;
using namespace steward::process;

TEST(AckCodec, AnAcceptedAnswerCarriesTheIdsItAlsoStandsFor) {
  const auto ack = decodeAck(encodeAck(Ack::accept({4, 5, 18446744073709551615ull})));
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->accepted);
  EXPECT_EQ(ack->also, (std::vector<uint64_t>{4, 5, 18446744073709551615ull}));
  EXPECT_EQ(encodeAck(Ack::accept()), R"({"ok":true})");
}

TEST(AckCodec, ARefusalKeepsItsReasonAndCode) {
  const auto ack = decodeAck(encodeAck(Ack::refuse("no", Code::notAllowed)));
  ASSERT_TRUE(ack.has_value());
  EXPECT_FALSE(ack->accepted);
  EXPECT_EQ(ack->error, "no");
  EXPECT_EQ(ack->code, Code::notAllowed);
}

TEST(AckCodec, AnAlsoListThatIsTooLongMalformedOrOnARefusalIsNoAnswer) {
  std::string many = R"({"ok":true,"also":[)";
  for (size_t i = 0; i <= kMaxAckAlso; ++i) many += (i ? "," : "") + std::to_string(i + 1);
  many += "]}";
  EXPECT_FALSE(decodeAck(many).has_value());
  EXPECT_FALSE(decodeAck(R"({"ok":true,"also":[1,"2"]})").has_value());
  EXPECT_FALSE(decodeAck(R"({"ok":true,"also":[-1]})").has_value());
  EXPECT_FALSE(decodeAck(R"({"ok":true,"also":7})").has_value());
  EXPECT_FALSE(decodeAck(R"({"ok":false,"also":[1]})").has_value());
  EXPECT_FALSE(decodeAck("[]").has_value());
}
