#include "core/process/reply.hpp"

#include "core/message/codec.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace steward;
using message::Kind;
using message::Message;
using message::MethodInfo;

namespace {

class Catalog : public message::MethodCatalog {
 public:
  std::optional<MethodInfo> find(std::string_view method) const override {
    static const std::map<std::string, MethodInfo, std::less<>> known = {
        {"REQCliCommand", {"REQCliCommand", Kind::CommandACK, true, false, "cli"}},
        {"REQPing", {"REQPing", Kind::CommandACK, true, false, "ping"}},
        {"REQHello", {"REQHello", Kind::EventNACK, true, false, "hello"}},
        {"REQToFile", {"REQToFile", Kind::CommandACK, true, true, "file"}},
    };
    auto it = known.find(method);
    if (it == known.end()) return std::nullopt;
    return it->second;
  }
};

Message request(const std::string& method) {
  Message m;
  m.id = 7;
  m.fromNode = "central";
  m.toNode = "ship1";
  m.method = method;
  m.directory = "out";
  m.replyRetries = 4;
  return m;
}

}  // namespace

TEST(Reply, AFinalReplyCarriesTheRunsResultAndAPartialOneDoesNot) {
  const Catalog catalog;
  process::CallOutput output("out\n");
  output.result = {{"exitStatus", "2"}, {"stderr", "oops\n"}};
  auto r = process::replyTo(request("REQCliCommand"), catalog, output, "exit status 2", false);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->data, std::vector<std::string>{"out\n"});
  EXPECT_EQ(r->result, output.result);
  r = process::replyTo(request("REQCliCommand"), catalog, output, "", true);
  EXPECT_TRUE(r->result.empty());
  // Cut to fit: the output first, then the parts beside it.
  output = process::CallOutput(std::string(4000, 'o'));
  output.result = {{"stderr", std::string(4000, 'e')}};
  r = process::replyTo(request("REQCliCommand"), catalog, output, "", false);
  const std::string wire = process::encodeFitting(*r, 3000);
  EXPECT_LE(wire.size(), 3000u);
  EXPECT_NE(r->result.at("stderr").find("[steward: cut to fit"), std::string::npos);
}

TEST(Reply, GoesBackToTheSenderWithTheRequestsReplyFields) {
  const Catalog catalog;
  auto r = process::replyTo(request("REQCliCommand"), catalog, "up 3 days\n", "", false);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->toNode, "central");
  EXPECT_EQ(r->method, "REQToFileAppend");
  EXPECT_EQ(r->data, std::vector<std::string>{"up 3 days\n"});
  EXPECT_EQ(r->fileName, "REQCliCommand.log");
  EXPECT_EQ(r->directory, "out");
  EXPECT_EQ(r->retries, 4);
  EXPECT_TRUE(r->isReply);
  EXPECT_EQ(r->requestId, 7u);
  auto named = request("REQCliCommand");
  named.replyMethod = "REQToFile";
  EXPECT_EQ(process::replyTo(named, catalog, "", "exit 2", false)->method, "REQToFile");
  EXPECT_EQ(process::replyTo(request("REQPing"), catalog, "", "", false)->method, "REQPong");
}

TEST(Reply, RepliesEventsAndUnknownMethodsGetNone) {
  const Catalog catalog;
  auto reply = request("REQToFile");
  EXPECT_FALSE(process::replyTo(reply, catalog, "", "", false).has_value());
  EXPECT_FALSE(process::replyTo(request("REQHello"), catalog, "", "", false).has_value());
  EXPECT_FALSE(process::replyTo(request("REQNoSuch"), catalog, "", "", false).has_value());
  auto already = request("REQCliCommand");
  already.isReply = true;
  EXPECT_FALSE(process::replyTo(already, catalog, "", "", false).has_value());
}

TEST(Reply, OutputIsCutToFitTheBrokerAndSaysSo) {
  const Catalog catalog;
  auto r = process::replyTo(request("REQCliCommand"), catalog, std::string(10'000, 'x'), "", false);
  ASSERT_TRUE(r.has_value());
  r->id = 1;  // stamped, as the node does before it encodes
  r->fromNode = "ship1";
  const std::string wire = process::encodeFitting(*r, 2'000);
  EXPECT_LE(wire.size(), 2'000u);
  EXPECT_NE(r->data[0].find("[steward: output cut to fit the broker's max payload of 2000 bytes]"),
            std::string::npos);
  auto back = message::decodeWire(wire);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->data, r->data);
}
