#include "core/config/config.hpp"

#include <gtest/gtest.h>

using namespace steward::config;

namespace {
steward::Result<CommandLine> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "steward");
  return parseCommandLine(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST(CommandLine, MissingNodeNameIsAClearError) {
  auto r = parse({"--brokerAddress", "127.0.0.1:4222"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "--nodeName is required: every node needs a unique name");
}

TEST(CommandLine, HelpListsTheSpecFlags) {
  auto r = parse({"--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->config.has_value());
  for (const char* flag :
       {"nodeName", "centralNodeName", "brokerAddress", "socketFolder", "databaseFolder",
        "subscribersDataFolder", "defaultMessageTimeout", "defaultMessageRetries",
        "errorMessageTimeout", "errorMessageRetries", "startPubREQHello", "startSubREQCliCommand",
        "startSubREQnCliCommand", "startSubREQErrorLog", "startSubREQHello", "pluginFolder"}) {
    EXPECT_NE(r->helpText.find(flag), std::string::npos) << flag;
  }
}

TEST(CommandLine, ReadsValues) {
  auto r = parse({"--nodeName", "ship1", "--defaultMessageTimeout", "7", "--startPubREQHello",
                  "30", "--startSubREQCliCommand", "central,ops"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r->config;
  EXPECT_EQ(c.nodeName, "ship1");
  EXPECT_EQ(c.defaultMessageTimeout, 7);
  EXPECT_EQ(c.startPubREQHello, 30);
  EXPECT_EQ(c.startSub.at("REQCliCommand"), "central,ops");
}

TEST(CommandLine, ReplyMethodsRunEverywhereErrorLogAndHelloOnlyAtCentral) {
  auto ship = parse({"--nodeName", "ship1"});
  ASSERT_TRUE(ship.ok());
  EXPECT_EQ(ship->config->startSub.count("REQToFileAppend"), 1u);
  EXPECT_EQ(ship->config->startSub.count("REQErrorLog"), 0u);
  EXPECT_EQ(ship->config->startSub.count("REQCliCommand"), 0u);
  auto central = parse({"--nodeName", "central"});
  ASSERT_TRUE(central.ok());
  EXPECT_EQ(central->config->startSub.at("REQErrorLog"), "*");
  EXPECT_EQ(central->config->startSub.at("REQHello"), "*");
  auto off = parse({"--nodeName", "central", "--startSubREQHello", "off"});
  EXPECT_EQ(off->config->startSub.count("REQHello"), 0u);
}

TEST(CommandLine, BadValuesNameTheFlag) {
  auto r = parse({"--nodeName", "ship1", "--defaultMessageTimeout", "0"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--defaultMessageTimeout"), std::string::npos);
  auto bad = parse({"--nodeName", "ship 1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("--nodeName"), std::string::npos);
  auto unknown = parse({"--nodeName", "a", "--noSuchFlag", "1"});
  EXPECT_FALSE(unknown.ok());
}
