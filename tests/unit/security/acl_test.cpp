#include "core/security/acl.hpp"

#include <gtest/gtest.h>

using steward::security::Acl;

namespace {

Acl parse(std::string_view json) {
  auto acl = Acl::parse(json);
  EXPECT_TRUE(acl.ok()) << acl.error().message;
  return acl.ok() ? std::move(acl).value() : Acl{};
}

}  // namespace

TEST(Acl, WithoutRulesOnlyCentralAndTheNodeItselfMayCall) {
  const Acl acl;
  EXPECT_TRUE(acl.allows("ship1", "central", "central", "REQCliCommand", {"rm"}, true).ok());
  EXPECT_TRUE(acl.allows("ship1", "central", "ship1", "REQCliCommand", {"ls"}, true).ok());
  EXPECT_NE(acl.allows("ship1", "central", "ops1", "REQCliCommand", {"ls"}, true).error().message.find(
                "with no ACL, only central may call REQCliCommand on ship1"),
            std::string::npos);
}

TEST(Acl, RulesNameSenderMethodAndCommandPatterns) {
  const Acl acl = parse(R"({"ship1":[{"from":"ops1","methods":["REQCliCommand"],
                                      "commands":["uptime","systemctl status *"]},
                                     {"from":"*","methods":["REQHttpGet"]}],
                            "*":[{"from":"central","methods":["*"]}]})");
  EXPECT_TRUE(acl.allows("ship1", "central", "ops1", "REQCliCommand", {"uptime"}, true).ok());
  EXPECT_TRUE(acl.allows("ship1", "central", "ops1", "REQCliCommand", {"systemctl", "status", "nginx"}, true).ok());
  EXPECT_NE(acl.allows("ship1", "central", "ops1", "REQCliCommand", {"systemctl", "stop", "nginx"}, true)
                .error().message.find("ops1 may not run \"systemctl stop nginx\" on ship1"),
            std::string::npos);
  EXPECT_NE(acl.allows("ship1", "central", "ops1", "REQTailFile", {"/etc/shadow"}, false).error().message.find(
                "lets ops1 call no REQTailFile"),
            std::string::npos);
  EXPECT_TRUE(acl.allows("ship1", "central", "anyone", "REQHttpGet", {"http://x"}, false).ok());
  // ship1 has its own entry, so "*" does not apply to it: central is not listed there.
  EXPECT_FALSE(acl.allows("ship1", "central", "central", "REQCliCommand", {"ls"}, true).ok());
  // Other nodes use "*".
  EXPECT_TRUE(acl.allows("ship2", "central", "central", "REQCliCommand", {"ls"}, true).ok());
  EXPECT_FALSE(acl.allows("ship2", "central", "ops1", "REQCliCommand", {"uptime"}, true).ok());
}

TEST(Acl, RoundTripsAndRefusesWhatIsMalformedSayingWhere) {
  const Acl acl = parse(R"({"ship1":[{"from":"ops1","methods":["REQCliCommand"],"commands":["uptime"]}]})");
  EXPECT_EQ(parse(acl.json()).json(), acl.json());
  EXPECT_NE(Acl::parse("[]").error().message.find("must be an object"), std::string::npos);
  EXPECT_NE(Acl::parse(R"({"ship1":{}})").error().message.find("ACL of ship1: must be an array"), std::string::npos);
  EXPECT_NE(Acl::parse(R"({"ship1":[{"methods":["*"]}]})").error().message.find("rule 0: needs \"from\""),
            std::string::npos);
  EXPECT_NE(Acl::parse(R"({"ship1":[{"from":"a","methods":["*"],"when":1}]})").error().message.find(
                "unknown key \"when\""),
            std::string::npos);
  EXPECT_NE(Acl::parse(R"({"ship1":[{"from":"a","methods":[1]}]})").error().message.find("array of strings"),
            std::string::npos);
}
