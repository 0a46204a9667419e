#include "core/message/codec.hpp"
#include "core/message/workflow.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace steward::message;

namespace {

// The spec's methods, as the plugins describe them.
class SpecMethods : public MethodCatalog {
 public:
  SpecMethods() {
    for (const char* m : {"REQCliCommand", "REQnCliCommand", "REQnCliCommandCont", "REQTailFile",
                          "REQHttpGet", "REQOpCommand", "REQPing", "REQPong"}) {
      add(m, Kind::CommandACK, false);
    }
    for (const char* m : {"REQToFile", "REQToFileAppend", "REQToConsole"}) {
      add(m, Kind::CommandACK, true);
    }
    add("REQHello", Kind::EventNACK, false);
    add("REQErrorLog", Kind::EventACK, false);
  }
  std::optional<MethodInfo> find(std::string_view method) const override {
    auto it = methods_.find(std::string(method));
    if (it == methods_.end()) return std::nullopt;
    return it->second;
  }

 private:
  void add(const char* name, Kind kind, bool reply) {
    methods_[name] = MethodInfo{name, kind, true, reply, "test"};
  }
  std::map<std::string, MethodInfo> methods_;
};

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The code of the first refusal of `json` (decoding, then validating each message).
steward::Code codeOf(std::string_view json) {
  auto batch = decodeInput(json);
  if (!batch) return batch.error().code;
  SpecMethods methods;
  for (const auto& m : *batch) {
    if (auto s = validate(m, methods); !s) return s.error().code;
  }
  return steward::Code::unspecified;
}

std::string errorOf(std::string_view json) {
  auto batch = decodeInput(json);
  if (!batch) return batch.error().message;
  SpecMethods methods;
  for (size_t i = 0; i < batch->size(); ++i) {
    if (auto s = validate((*batch)[i], methods); !s) {
      return "message " + std::to_string(i) + ": " + s.error().message;
    }
  }
  return "";
}

}  // namespace

TEST(InputDecoding, EverySpecExampleIsAcceptedVerbatim) {
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(STEWARD_EXAMPLE_MESSAGES)) {
    ++seen;
    EXPECT_EQ(errorOf(readFile(entry.path())), "") << entry.path();
  }
  EXPECT_GE(seen, 9);
}

TEST(InputDecoding, ReadsEveryField) {
  auto batch = decodeInput(readFile(std::string(STEWARD_EXAMPLE_MESSAGES) + "/cli-command.json"));
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_EQ(batch->size(), 1u);
  const Message& m = batch->front();
  EXPECT_EQ(m.directory, "cli_command__result");
  EXPECT_EQ(m.fileName, "some-file-name.result");
  EXPECT_EQ(m.toNode, "ship1");
  EXPECT_EQ(m.data, (std::vector<std::string>{"bash", "-c", "sleep 5 & tree ./"}));
  EXPECT_EQ(m.method, "REQCliCommand");
  EXPECT_EQ(m.replyMethod, "REQToFileAppend");
  EXPECT_EQ(m.ackTimeout, 5);
  EXPECT_EQ(m.retries, 3);
  EXPECT_EQ(m.replyAckTimeout, 5);
  EXPECT_EQ(m.replyRetries, 3);
  EXPECT_EQ(m.methodTimeout, 10);
}

TEST(InputDecoding, KeysDifferingOnlyInCaseAreTheSpecField) {
  auto batch = decodeInput(R"([{"toNode":"a","method":"REQCliCommand","MethodTimeout":7}])");
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->front().methodTimeout, 7);
}

TEST(InputDecoding, OperationIsKeptAsJson) {
  auto batch = decodeInput(
      readFile(std::string(STEWARD_EXAMPLE_MESSAGES) + "/opcommand-start.json"));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->front().operation,
            R"({"opCmd":"startProc","opArg":{"method":"REQHttpGet","allowedNodes":["central","node1"]}})");
}

TEST(InputValidation, MalformedJsonSaysWhere) {
  EXPECT_EQ(errorOf(R"([{"toNode": "ship1",])").rfind("input is malformed JSON at byte", 0), 0u);
}

TEST(InputValidation, InputMustBeAnArrayOfObjects) {
  EXPECT_EQ(errorOf(R"({"toNode":"ship1"})"), "input must be a JSON array of messages");
  EXPECT_EQ(errorOf(R"([1])"), "message 0: must be a JSON object");
}

TEST(InputValidation, UnknownMethodNamesIndexAndField) {
  EXPECT_EQ(errorOf(R"([{"toNode":"ship1","method":"REQCliCommand","data":["true"]},
                       {"toNode":"ship1","method":"REQNoSuch"}])"),
            "message 1: field \"method\": unknown method \"REQNoSuch\"");
}

TEST(InputValidation, MissingMethodIsRefused) {
  EXPECT_EQ(errorOf(R"([{"toNode":"ship1"}])"), "message 0: field \"method\": is missing");
}

TEST(InputValidation, MissingToNodeAndToNodesIsRefused) {
  EXPECT_EQ(errorOf(R"([{"method":"REQCliCommand"}])"),
            "message 0: field \"toNode\": is missing, and so is toNodes: a message needs a "
            "receiver");
  EXPECT_EQ(errorOf(R"([{"toNode":"","toNodes":[],"method":"REQCliCommand"}])").find("toNode"),
            std::string("message 0: field \"").size());
}

TEST(InputValidation, WrongTypesNameTheField) {
  EXPECT_EQ(errorOf(R"([{"toNode":1,"method":"REQCliCommand"}])"),
            "message 0: field \"toNode\": must be a string");
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","data":"ls"}])"),
            "message 0: field \"data\": must be an array of strings");
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","data":["ls",2]}])"),
            "message 0: field \"data\": element 1 must be a string");
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","retries":"3"}])"),
            "message 0: field \"retries\": must be a non-negative integer");
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","ACKTimeout":1.5}])"),
            "message 0: field \"ACKTimeout\": must be a non-negative integer");
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","operation":"ps"}])"),
            "message 0: field \"operation\": must be an object");
}

TEST(InputValidation, NegativeTimeoutsAreRefused) {
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","methodTimeout":-1}])"),
            "message 0: field \"methodTimeout\": must not be negative, got -1");
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","replyACKTimeout":-5}])"),
            "message 0: field \"replyACKTimeout\": must not be negative, got -5");
}

TEST(InputValidation, LifetimeIsSecondsAndAtLeastOne) {
  auto batch = decodeInput(R"([{"toNode":"a","method":"REQCliCommand","lifetime":7200}])");
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->front().lifetime, 7200);
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","lifetime":0}])"),
            "message 0: field \"lifetime\": must be at least 1 second (leave it out to rely on "
            "retries)");
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","lifetime":-1}])"),
            "message 0: field \"lifetime\": must not be negative, got -1");
}

TEST(InputValidation, ZeroAckTimeoutIsRefused) {
  EXPECT_NE(errorOf(R"([{"toNode":"a","method":"REQCliCommand","ACKTimeout":0}])"), "");
}

TEST(InputValidation, OversizeFieldsAreRefused) {
  const std::string longName(300, 'x');
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","fileName":")" + longName + "\"}]"),
            "message 0: field \"fileName\": is longer than 255 characters");
  const std::string big(1024 * 1024, 'x');
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","data":[")" + big + "\"]}]"),
            "message 0: field \"data\": element 0 is too long");
  EXPECT_NE(errorOf(R"([{"toNode":"a","method":"REQCliCommand","retries":100000000}])"), "");
}

TEST(InputValidation, UnknownFieldIsRefusedByName) {
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","retires":3}])"),
            "message 0: unknown field \"retires\"");
}

TEST(InputValidation, EveryKindOfRefusalHasItsCode) {
  using steward::Code;
  EXPECT_EQ(codeOf(R"([{"toNode":"a","method":"REQCliCommand","retires":3}])"), Code::unknownField);
  EXPECT_EQ(codeOf(R"([{"toNode":"a","method":"REQNoSuch"}])"), Code::unknownMethod);
  EXPECT_EQ(codeOf(R"([{"toNode":"a","method":"REQCliCommand","retries":-1}])"), Code::badField);
  EXPECT_EQ(codeOf(R"([{"toNode":"a.b","method":"REQCliCommand"}])"), Code::badField);
  EXPECT_EQ(codeOf(R"([{"toNode":)"), Code::malformed);
  EXPECT_EQ(codeOf(std::string(100, '[')), Code::tooDeep);
  EXPECT_EQ(codeOf(R"([{"toNode":"a","method":"REQCliCommand"}])"), Code::unspecified);
}

TEST(InputValidation, FieldsANodeSetsAreRefused) {
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","fromNode":"central"}])"),
            "message 0: field \"fromNode\" is set by the sending node, not by input");
}

TEST(InputValidation, DotDotDirectoryIsRefused) {
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","directory":"../etc"}])"),
            "message 0: field \"directory\": \"../etc\" contains \"..\"; a directory must stay "
            "inside the data folder");
}

TEST(InputValidation, BadNodeNamesAreRefused) {
  EXPECT_NE(errorOf(R"([{"toNode":"ship 1","method":"REQCliCommand"}])"), "");
  EXPECT_EQ(errorOf(R"([{"toNodes":["ok","a.>"],"method":"REQCliCommand"}])")
                .rfind("message 0: field \"toNodes\": element 1:", 0),
            0u);
}

TEST(InputValidation, ReplyMethodMustBeAReplyMethod) {
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","replyMethod":"REQCliCommand"}])"),
            "message 0: field \"replyMethod\": \"REQCliCommand\" is not a reply method (e.g. "
            "REQToFileAppend)");
  EXPECT_EQ(errorOf(R"([{"toNode":"a","method":"REQCliCommand","replyMethod":"REQNope"}])"),
            "message 0: field \"replyMethod\": unknown method \"REQNope\"");
}

TEST(InputValidation, BatchLimitIsEnforced) {
  Limits limits;
  limits.maxBatchMessages = 2;
  auto batch = decodeInput(R"([{"toNode":"a"},{"toNode":"a"},{"toNode":"a"}])", limits);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.error().message, "input holds more than 2 messages");
}

TEST(Wire, RoundTripsEveryField) {
  Message m;
  m.id = 42;
  m.fromNode = "central";
  m.createdUnixMs = 1234;
  m.toNode = "ship1";
  m.data = {"bash", "-c", std::string("a\0b", 3)};
  m.method = "REQCliCommand";
  m.replyMethod = "REQToFile";
  m.ackTimeout = 5;
  m.retries = 0;
  m.replyAckTimeout = 6;
  m.replyRetries = 7;
  m.methodTimeout = 8;
  m.lifetime = 3600;
  m.directory = "d";
  m.fileName = "f";
  m.operation = R"({"opCmd":"ps"})";
  m.isReply = true;
  m.requestId = 41;
  m.requestMethod = "REQCliCommand";
  m.requestError = "exit status 1";
  m.result = {{"exitStatus", "1"}, {"stderr", "no such file\n"}};
  m.seq = 7;
  m.epoch = 0xfeedface12345678ULL;
  m.floor = 5;
  m.settledBelow = 40;
  auto back = decodeWire(encodeWire(m));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->id, 42u);
  EXPECT_EQ(back->seq, 7u);
  EXPECT_EQ(back->epoch, 0xfeedface12345678ULL);
  EXPECT_EQ(back->floor, 5u);
  EXPECT_EQ(back->settledBelow, 40u);
  EXPECT_EQ(back->fromNode, "central");
  EXPECT_EQ(back->createdUnixMs, 1234);
  EXPECT_EQ(back->data, m.data);
  EXPECT_EQ(back->replyMethod, "REQToFile");
  EXPECT_EQ(back->retries, 0);
  EXPECT_EQ(back->methodTimeout, 8);
  EXPECT_EQ(back->lifetime, 3600);
  EXPECT_EQ(back->operation, m.operation);
  EXPECT_TRUE(back->isReply);
  EXPECT_EQ(back->requestId, 41u);
  EXPECT_EQ(back->requestError, "exit status 1");
  EXPECT_EQ(back->result, m.result);
}

TEST(Wire, AResultIsBoundedAndOnlyANodeSetsIt) {
  Message m;
  m.id = 1;
  m.fromNode = "ship1";
  m.toNode = "central";
  m.method = "REQToFileAppend";
  m.isReply = true;
  m.requestId = 1;
  m.requestMethod = "REQCliCommand";
  std::string wire = encodeWire(m);
  auto withResult = [&](const std::string& result) {
    return decodeWire(wire.substr(0, wire.size() - 1) + R"(,"result":)" + result + "}");
  };
  EXPECT_TRUE(withResult(R"({"exitStatus":"0"})").ok());
  EXPECT_NE(withResult(R"({"bad name":"x"})").error().message.find("a name is 1 to 32 letters"), std::string::npos);
  EXPECT_NE(withResult(R"({"exitStatus":0})").error().message.find("result.exitStatus"), std::string::npos);
  std::string many = "{";
  for (int i = 0; i <= 16; ++i) many += (i ? "," : "") + ("\"k" + std::to_string(i) + "\":\"v\"");
  EXPECT_NE(withResult(many + "}").error().message.find("more than 16 names"), std::string::npos);
  EXPECT_FALSE(decodeInput(R"([{"toNode":"ship1","method":"REQCliCommand","result":{}}])").ok());
}

TEST(Wire, RefusesMessagesWithoutSenderOrId) {
  EXPECT_FALSE(decodeWire(R"({"toNode":"a","method":"REQCliCommand","fromNode":"b"})").ok());
  EXPECT_FALSE(decodeWire(R"({"id":1,"toNode":"a","method":"REQCliCommand"})").ok());
  EXPECT_FALSE(decodeWire(R"({"id":1,"fromNode":"b","toNode":"a","method":"REQCliCommand",
                               "directory":"../x"})").ok());
  EXPECT_FALSE(decodeWire("not json").ok());
}

TEST(InputValidation, RepeatComesWithItsIntervalOrAsTheSuccessorsSchedule) {
  SpecMethods methods;
  auto one = [&](const std::string& fields) -> steward::Result<Message> {
    auto batch = decodeInput(R"([{"toNode":"ship1","method":"REQCliCommand","data":["x"],)" + fields + "}]");
    if (!batch) return batch.error();
    if (auto s = validate(batch->front(), methods); !s) return s.error();
    return batch->front();
  };
  auto m = one(R"("repeat":3,"repeatInterval":60)");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m->repeat, 3);
  EXPECT_EQ(*m->repeatInterval, 60);
  // [interval, total seconds]: every 10 s for a minute is six runs; total 0 is until cancelled.
  m = one(R"("schedule":[10,60])");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m->repeat, 6);
  EXPECT_EQ(*m->repeatInterval, 10);
  EXPECT_EQ(*one(R"("schedule":[10,0])")->repeat, 0);
  EXPECT_EQ(*one(R"("schedule":[10,5])")->repeat, 1);
  EXPECT_NE(one(R"("repeat":3)").error().message.find("repeatInterval\": is missing"), std::string::npos);
  EXPECT_NE(one(R"("repeatInterval":3)").error().message.find("repeat\": is missing"), std::string::npos);
  EXPECT_NE(one(R"("repeat":3,"repeatInterval":0)").error().message.find("at least 1 second"), std::string::npos);
  EXPECT_NE(one(R"("repeatInterval":3,"schedule":[1,2])").error().message.find("give one form"), std::string::npos);
  EXPECT_FALSE(one(R"("schedule":[0,10])"));
  EXPECT_FALSE(one(R"("schedule":[10])"));
  EXPECT_FALSE(one(R"("schedule":"10,60")"));
  EXPECT_FALSE(one(R"("repeat":-1,"repeatInterval":1)"));
  EXPECT_FALSE(one(R"("repeat":1000001,"repeatInterval":1)"));
  // The wire carries it to the receiver; a reply says which run it answers.
  Message wire = one(R"("repeat":2,"repeatInterval":5)").value();
  wire.id = 1;
  wire.fromNode = "central";
  auto back = decodeWire(encodeWire(wire));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back->repeat, 2);
  Message reply = wire;
  reply.repeat.reset();
  reply.repeatInterval.reset();
  reply.isReply = true;
  reply.requestId = 1;
  reply.run = 1;
  reply.runs = 2;
  back = decodeWire(encodeWire(reply));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->run, 1u);
  EXPECT_FALSE(endsRequest(*back));
  back->run = 2;
  EXPECT_TRUE(endsRequest(*back));
  back->runs = 0;
  EXPECT_FALSE(endsRequest(*back));
}

TEST(InputValidation, ReplyOptionsAreCheckedForTheReplyMethod) {
  SpecMethods methods;
  auto check = [&](const std::string& fields) -> std::string {
    auto batch = decodeInput(R"([{"toNode":"ship1","method":"REQCliCommand","data":["x"],)" + fields + "}]");
    if (!batch) return batch.error().message;
    auto s = validate(batch->front(), methods);
    return s ? "" : s.error().message;
  };
  EXPECT_EQ(check(R"("replyOpts":{"mode":"0640","timestamp":true})"), "");
  EXPECT_EQ(check(R"("replyMethod":"REQToFile","replyOpts":{"mode":"0600"})"), "");
  EXPECT_EQ(check(R"("replyMethod":"REQToFile","replyOpts":{"timestamp":true})"),
            "field \"replyOpts.timestamp\": is not an option of REQToFile, which takes mode");
  EXPECT_EQ(check(R"("replyMethod":"REQToConsole","replyOpts":{"mode":"0600"})"),
            "field \"replyOpts.mode\": is not an option of REQToConsole, which takes none");
  EXPECT_NE(check(R"("replyOpts":{"mode":"0755"})").find("no execute"), std::string::npos);
  EXPECT_NE(check(R"("replyOpts":{"mode":"0440"})").find("the owner reads and writes"), std::string::npos);
  EXPECT_NE(check(R"("replyOpts":{"mode":640})").find("octal"), std::string::npos);
  EXPECT_EQ(check(R"("replyOpts":{"timestamp":"yes"})"), "field \"replyOpts.timestamp\": must be true or false");
  EXPECT_NE(check(R"("replyOpts":{"a":{"nested":1}})").find("must be a string of at most 256 bytes"), std::string::npos);
  EXPECT_NE(check(R"("replyOpts":["mode"])").find("must be an object"), std::string::npos);
  // The wire carries them, on a request and on its reply.
  auto batch = decodeInput(R"([{"toNode":"ship1","method":"REQCliCommand","replyOpts":{"timestamp":true}}])");
  Message m = batch->front();
  m.id = 3;
  m.fromNode = "central";
  auto back = decodeWire(encodeWire(m));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->replyOpts, R"({"timestamp":true})");
  m.isReply = true;
  m.method = "REQToFile";  // a reply to REQToFile with an option it does not take is refused
  EXPECT_FALSE(decodeWire(encodeWire(m)));
}

TEST(InputValidation, AWorkflowSaysWhichStepIsWrong) {
  SpecMethods methods;
  auto check = [&](const std::string& workflow) -> std::string {
    auto batch = decodeInput(R"([{"toNode":"ship1","method":"REQWorkflow","workflow":)" + workflow + "}]");
    if (!batch) return batch.error().message;
    auto w = parseWorkflow(batch->front().workflow, &methods);
    return w ? "" : w.error().message;
  };
  EXPECT_EQ(check(R"({"steps":[{"method":"REQCliCommand","data":["true"],"methodTimeout":5,
                      "rollback":{"method":"REQCliCommand","data":["false"]}}]})"), "");
  EXPECT_NE(check(R"({"steps":[]})").find("1 to 32 steps"), std::string::npos);
  EXPECT_NE(check(R"({"steps":[{"method":"REQCliCommand"}],"more":1})").find("one key, steps"), std::string::npos);
  EXPECT_EQ(check(R"({"steps":[{"method":"REQCliCommand"},{"method":"REQToFile"}]})"),
            "steps[1].method: REQToFile is not a command; a step runs a command");
  EXPECT_EQ(check(R"({"steps":[{"method":"REQCliCommand","rollback":{"method":"REQNope"}}]})"),
            "steps[0].rollback.method: unknown method \"REQNope\"");
  EXPECT_NE(check(R"({"steps":[{"method":"REQCliCommand","data":[1]}]})").find("steps[0].data: must be an array of strings"),
            std::string::npos);
  EXPECT_NE(check(R"({"steps":[{"method":"REQCliCommand","methodTimeout":0}]})").find("steps[0].methodTimeout"), std::string::npos);
  EXPECT_NE(check(R"({"steps":[{"method":"REQCliCommand","rollback":{"method":"REQCliCommand","rollback":{}}}]})")
                .find("a rollback has no rollback"), std::string::npos);
  EXPECT_NE(check(R"({"steps":[{"method":"REQCliCommand","dta":[]}]})").find("unknown key \"dta\""), std::string::npos);
  std::string many = R"({"steps":[)";
  for (int i = 0; i < 33; ++i) many += std::string(i ? "," : "") + R"({"method":"REQCliCommand"})";
  EXPECT_NE(check(many + "]}").find("1 to 32 steps"), std::string::npos);
  // validate() refuses a workflow on another method, and a REQWorkflow without one.
  auto batch = decodeInput(R"([{"toNode":"ship1","method":"REQCliCommand","workflow":{"steps":[]}}])");
  ASSERT_TRUE(batch);
  EXPECT_NE(validate(batch->front(), methods).error().message.find("is for REQWorkflow"), std::string::npos);
}
