#include "ctl/ctl.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward;

namespace {

Result<ctl::Parsed> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "steward-ctl");
  return ctl::parseArguments(static_cast<int>(args.size()), args.data());
}

rapidjson::Document request(std::vector<const char*> args) {
  auto parsed = parse(std::move(args));
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  rapidjson::Document d;
  auto text = ctl::buildRequest(*parsed->options, "hq");
  EXPECT_TRUE(text.ok());
  d.Parse(text->c_str());
  return d;
}

}  // namespace

TEST(CtlArguments, RunTakesTheProgramAfterDashesUntouched) {
  auto p = parse({"run", "ship1", "--timeout=5", "--", "ls", "--all", "-l"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->options->node, "ship1");
  EXPECT_EQ(p->options->method, "REQCliCommand");
  EXPECT_EQ(p->options->timeoutSeconds, 5);
  EXPECT_EQ(p->options->args, (std::vector<std::string>{"ls", "--all", "-l"}));
}

TEST(CtlArguments, OptionsMayComeBeforeTheCommand) {
  auto p = parse({"--config-folder", "/srv/etc", "--timeout=5", "run", "ship1", "--", "ls", "run"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->options->command, "run");
  EXPECT_EQ(p->options->node, "ship1");
  EXPECT_EQ(p->options->configFolder, "/srv/etc");
  EXPECT_EQ(p->options->timeoutSeconds, 5);
  EXPECT_EQ(p->options->args, (std::vector<std::string>{"ls", "run"}));
  EXPECT_TRUE(parse({"--json", "ps", "ship1"}).ok());
  EXPECT_FALSE(parse({"--timeout=5", "--", "run"}).ok()) << "a command after -- is the program's";
}

TEST(CtlArguments, AMistypedCommandNamesTheClosestAndTheVersionIsPrinted) {
  EXPECT_NE(parse({"rnu"}).error().message.find("unknown command \"rnu\"; did you mean \"run\"?"), std::string::npos);
  EXPECT_NE(parse({"stat"}).error().message.find("did you mean \"start\"?"), std::string::npos);
  EXPECT_NE(parse({"kyes"}).error().message.find("did you mean \"keys\"?"), std::string::npos);
  EXPECT_EQ(parse({"frobnicate"}).error().message.find("did you mean"), std::string::npos);
  EXPECT_EQ(parse({"xy"}).error().message.find("did you mean"), std::string::npos);
  for (const char* flag : {"--version", "version"}) {
    auto version = parse({flag});
    ASSERT_TRUE(version.ok());
    EXPECT_FALSE(version->options);
    EXPECT_EQ(version->help.rfind("steward-ctl ", 0), 0u) << version->help;
    EXPECT_NE(version->help.find_first_of("0123456789"), std::string::npos) << version->help;
  }
}

TEST(CtlArguments, MistakesSayWhatIsWrong) {
  EXPECT_NE(parse({}).error().message.find("no command given"), std::string::npos);
  EXPECT_NE(parse({"frobnicate"}).error().message.find("unknown command \"frobnicate\""), std::string::npos);
  EXPECT_NE(parse({"ps"}).error().message.find("ps takes TARGET"), std::string::npos);
  EXPECT_NE(parse({"ps", "a", "b"}).error().message.find("got 2 argument(s)"), std::string::npos);
  EXPECT_NE(parse({"ps", "a", "--", "x"}).error().message.find("only run takes"), std::string::npos);
  EXPECT_NE(parse({"run", "a", "--timeout=0", "--", "x"}).error().message.find("--timeout"), std::string::npos);
  EXPECT_FALSE(parse({"ps", "a", "--bogus"}).ok());
  EXPECT_TRUE(parse({"--help"})->help.find("Exit status") != std::string::npos);
  EXPECT_FALSE(parse({"tail", "--help"})->options);
}

TEST(CtlRequest, RunIsACliCommandBoundByTheTimeoutAndFollowed) {
  auto d = request({"run", "ship1", "--timeout=7", "--", "uptime", "-p"});
  ASSERT_TRUE(d.IsObject());
  EXPECT_TRUE(d["follow"].GetBool());
  EXPECT_EQ(d["timeoutSeconds"].GetInt64(), 7 + ctl::kTravelSeconds + 5);
  const auto& m = d["messages"][0];
  EXPECT_STREQ(m["toNode"].GetString(), "ship1");
  EXPECT_STREQ(m["method"].GetString(), "REQCliCommand");
  EXPECT_STREQ(m["data"][1].GetString(), "-p");
  EXPECT_EQ(m["methodTimeout"].GetInt64(), 7);
}

TEST(CtlRequest, StartDefaultsToTheCentralNodeAndStopNamesTheMethod) {
  auto d = request({"start", "ship1", "REQHttpGet"});
  EXPECT_STREQ(d["messages"][0]["operation"]["opCmd"].GetString(), "startProc");
  EXPECT_STREQ(d["messages"][0]["operation"]["opArg"]["allowedNodes"][0].GetString(), "hq");
  d = request({"start", "ship1", "REQHttpGet", "--allowed=a,b"});
  EXPECT_EQ(d["messages"][0]["operation"]["opArg"]["allowedNodes"].Size(), 2u);
  d = request({"stop", "ship1", "REQHttpGet"});
  EXPECT_STREQ(d["messages"][0]["operation"]["opCmd"].GetString(), "stopProc");
  EXPECT_STREQ(d["messages"][0]["operation"]["opArg"]["method"].GetString(), "REQHttpGet");
  d = request({"tail", "ship1", "/var/log/syslog"});
  EXPECT_STREQ(d["messages"][0]["method"].GetString(), "REQTailFile");
  EXPECT_STREQ(d["messages"][0]["data"][0].GetString(), "/var/log/syslog");
}

TEST(CtlPrinter, ExitCodesFollowTheAnswers) {
  auto p = parse({"run", "ship1", "--", "x"});
  const ctl::Options o = *p->options;
  ctl::Output out;
  {
    ctl::Printer printer(o);
    EXPECT_TRUE(printer.take(R"({"ok":true,"ids":[4]})", out));
    EXPECT_TRUE(printer.take(R"({"requestId":4,"node":"ship1","method":"m","data":["a"],"error":"","final":false})", out));
    EXPECT_TRUE(printer.take(R"({"requestId":4,"node":"ship1","method":"m","data":["b\n"],"error":"","final":true})", out));
    EXPECT_FALSE(printer.take(R"({"done":true})", out));
    EXPECT_EQ(printer.finish(false, out), ctl::kOk);
    EXPECT_EQ(out.out, "ab\n");
  }
  {
    ctl::Printer printer(o);
    printer.take(R"({"ok":true,"ids":[4]})", out);
    printer.take(R"({"requestId":4,"node":"ship1","method":"m","data":[],"error":"exit status 2","final":true})", out);
    printer.take(R"({"done":true})", out);
    EXPECT_EQ(printer.finish(false, out), ctl::kRemoteFailure);
  }
  {
    ctl::Printer printer(o);
    printer.take(R"({"ok":true,"ids":[4,5]})", out);
    printer.take(R"({"requestId":4,"node":"ship1","method":"m","data":[],"error":"","final":true})", out);
    out = {};
    EXPECT_EQ(printer.finish(true, out), ctl::kTimedOut);
    EXPECT_NE(out.err.find("message(s) 5;"), std::string::npos) << out.err;
  }
  {
    ctl::Printer printer(o);
    EXPECT_FALSE(printer.take(R"({"ok":false,"error":"message 0: bad"})", out));
    EXPECT_EQ(printer.finish(false, out), ctl::kLocalFailure);
  }
}

TEST(CtlPrinter, TheExitStatusFollowsTheCodeNotTheText) {
  auto p = parse({"run", "ship1", "--", "x"});
  const ctl::Options o = *p->options;
  auto finish = [&](const std::vector<std::string>& codes) {
    ctl::Printer printer(o);
    ctl::Output out;
    std::string ids;
    for (size_t i = 0; i < codes.size(); ++i) ids += (i ? "," : "") + std::to_string(i + 1);
    printer.take(R"({"ok":true,"ids":[)" + ids + "]}", out);
    for (size_t i = 0; i < codes.size(); ++i) {
      printer.take(R"({"requestId":)" + std::to_string(i + 1) +
                       R"(,"node":"ship1","method":"m","data":[],"error":"whatever it says","final":true,"code":")" +
                       codes[i] + R"("})",
                   out);
    }
    printer.take(R"({"done":true})", out);
    return std::make_pair(printer.finish(false, out), out.err);
  };
  EXPECT_EQ(finish({"methodFailed"}).first, ctl::kRemoteFailure);
  const auto refused = finish({"notAllowed"});
  EXPECT_EQ(refused.first, ctl::kRefused);
  EXPECT_NE(refused.second.find("ship1: m (notAllowed): whatever it says"), std::string::npos) << refused.second;
  EXPECT_EQ(finish({"forged"}).first, ctl::kRefused);
  EXPECT_EQ(finish({"undelivered"}).first, ctl::kUndelivered);
  EXPECT_EQ(finish({"removed"}).first, ctl::kUndelivered);
  // Several answers: a refusal outranks what never arrived, which outranks a failed run.
  EXPECT_EQ(finish({"methodFailed", "undelivered"}).first, ctl::kUndelivered);
  EXPECT_EQ(finish({"methodFailed", "undelivered", "replayed"}).first, ctl::kRefused);
}

namespace {

constexpr const char* kFleet = R"({"node":"hq","nodes":[
  {"node":"ship1","key":"allowed","lastSeenUnixMs":1,"facts":{"role":"db","os":"Debian GNU/Linux 12"}},
  {"node":"ship2","key":"allowed","lastSeenUnixMs":1,"facts":{"role":"web"}},
  {"node":"ship3","key":"pending","online":false},
  {"node":"boat1","key":"allowed","lastSeenUnixMs":1,"facts":{"role":"db"}},
  {"node":"ship9","key":"allowed","online":false}]})";

std::vector<std::string> picked(std::vector<const char*> args) {
  auto parsed = parse(std::move(args));
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  auto picked = ctl::resolveTargets(*parsed->options, kFleet);
  if (!picked) return {"error: " + picked.error().message};
  return picked.value();
}

}  // namespace

TEST(CtlTargets, PatternsListsAllAndFactsPickFromCentralsNodes) {
  using V = std::vector<std::string>;
  // A pattern picks nodes that said hello with an allowed key: not ship3 (pending), not ship9
  // (never heard from).
  EXPECT_EQ(picked({"run", "ship*", "--", "x"}), (V{"ship1", "ship2"}));
  EXPECT_EQ(picked({"run", "ship[2-9],boat1", "--", "x"}), (V{"ship2", "boat1"}));
  // A plain name is taken as it is, known or not, once.
  EXPECT_EQ(picked({"run", "ship9,nowhere,ship9", "--", "x"}), (V{"ship9", "nowhere"}));
  EXPECT_EQ(picked({"run", "--all", "--", "x"}), (V{"ship1", "ship2", "boat1"}));
  EXPECT_EQ(picked({"run", "--where", "role=db", "--", "x"}), (V{"ship1", "boat1"}));
  EXPECT_EQ(picked({"run", "ship*", "--where", "role=d?", "--where", "os=Debian*", "--", "x"}), (V{"ship1"}));
  EXPECT_EQ(picked({"ps", "ship2", "--where", "role=db"})[0].rfind("error: no node matches ship2 --where role=db", 0), 0u);
  // keys allow picks pending keys.
  EXPECT_EQ(picked({"keys", "allow", "ship*"}), (V{"ship3"}));
  EXPECT_EQ(picked({"keys", "allow", "--all"}), (V{"ship3"}));
  const auto none = picked({"run", "tug*", "--", "x"});
  EXPECT_EQ(none[0], "error: no node matches tug* (central knows 3 node(s) that said hello; steward-ctl nodes lists them)");
}

TEST(CtlRequest, StartupPutsAFileListsAndRemoves) {
  const auto file = std::filesystem::temp_directory_path() / ("ctl-startup-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << R"([{"toNode":"hq","method":"REQPing"}])";
  auto d = request({"startup", "ship1", "put", file.c_str()});
  EXPECT_STREQ(d["messages"][0]["method"].GetString(), "REQStartupFolderWrite");
  EXPECT_EQ(d["messages"][0]["data"][0].GetString(), file.filename().string());
  EXPECT_STREQ(d["messages"][0]["data"][1].GetString(), R"([{"toNode":"hq","method":"REQPing"}])");
  d = request({"startup", "ship1", "put", file.c_str(), "10-ping.json"});
  EXPECT_STREQ(d["messages"][0]["data"][0].GetString(), "10-ping.json");
  std::filesystem::remove(file);
  d = request({"startup", "ship1", "list"});
  EXPECT_STREQ(d["messages"][0]["method"].GetString(), "REQStartupFolderList");
  d = request({"startup", "ship1", "rm", "a.json", "b.json"});
  EXPECT_STREQ(d["messages"][0]["method"].GetString(), "REQStartupFolderRemove");
  EXPECT_EQ(d["messages"][0]["data"].Size(), 2u);
  EXPECT_TRUE(ctl::needsFleet(*parse({"startup", "--all", "list"})->options));
  EXPECT_NE(parse({"startup", "ship1", "ls"}).error().message.find("startup takes list, put"), std::string::npos);
  EXPECT_FALSE(parse({"startup", "ship1", "rm"}).ok());
  EXPECT_FALSE(parse({"startup", "ship1", "list", "extra"}).ok());
}

TEST(CtlRequest, CpSendsREQCopySrcToTheNodeThatHasTheFile) {
  auto d = request({"cp", "ship1:/var/log/app.log", "ship2:logs/app.log"});
  EXPECT_STREQ(d["messages"][0]["toNode"].GetString(), "ship1");
  EXPECT_STREQ(d["messages"][0]["method"].GetString(), "REQCopySrc");
  ASSERT_EQ(d["messages"][0]["data"].Size(), 3u);
  EXPECT_STREQ(d["messages"][0]["data"][0].GetString(), "/var/log/app.log");
  EXPECT_STREQ(d["messages"][0]["data"][1].GetString(), "ship2");
  EXPECT_STREQ(d["messages"][0]["data"][2].GetString(), "logs/app.log");
  EXPECT_NE(parse({"cp", "ship1", "ship2:x"}).error().message.find("cp takes NODE:PATH NODE:PATH"), std::string::npos);
  EXPECT_FALSE(parse({"cp", "ship1:a"}).ok());
}

TEST(CtlTargets, OneFanOutMessageForSeveralNodes) {
  auto p = parse({"run", "ship1,ship2", "--", "uptime"});
  ASSERT_TRUE(p.ok());
  ctl::Options o = *p->options;
  EXPECT_TRUE(ctl::fleetMode(o));
  EXPECT_FALSE(ctl::needsFleet(o));
  o.nodes = ctl::plainTargets(o);
  rapidjson::Document d;
  d.Parse(ctl::buildRequest(o, "hq").value().c_str());
  ASSERT_EQ(d["messages"].Size(), 1u);
  EXPECT_FALSE(d["messages"][0].HasMember("toNode"));
  EXPECT_EQ(d["messages"][0]["toNodes"].Size(), 2u);
  EXPECT_TRUE(ctl::needsFleet(*parse({"run", "ship*", "--", "x"})->options));
  EXPECT_FALSE(ctl::fleetMode(*parse({"run", "ship1", "--", "x"})->options));
  // queue and cancel go to the local node.
  o = *parse({"cancel", "12", "13"})->options;
  d.Parse(ctl::buildRequest(o, "hq", "ship5").value().c_str());
  EXPECT_STREQ(d["messages"][0]["toNode"].GetString(), "ship5");
  EXPECT_EQ(d["messages"][0]["operation"]["opArg"]["ids"].Size(), 2u);
  EXPECT_FALSE(parse({"cancel", "twelve"}).ok());
}

TEST(CtlPrinter, AFleetIsPrintedPerNodeWithASummaryAndANodeNobodyListensAtIsNotWaitedFor) {
  auto p = parse({"run", "a,b,c", "--", "x"});
  ctl::Options o = *p->options;
  o.nodes = {"a", "b", "c"};
  ctl::Printer printer(o);
  ctl::Output out;
  EXPECT_TRUE(printer.take(R"({"ok":true,"ids":[1,2,3]})", out));
  EXPECT_EQ(out.progress, "3 nodes: 0 ok, 0 failed, 0 not answering, 3 waiting");
  EXPECT_TRUE(printer.take(R"({"requestId":1,"node":"a","method":"m","data":["up\n"],"error":"","final":true})", out));
  EXPECT_TRUE(printer.take(R"({"requestId":3,"node":"c","method":"m","data":[],"error":"","final":false,"state":"offline","note":"c is offline"})", out));
  EXPECT_FALSE(printer.take(R"({"requestId":2,"node":"b","method":"m","data":["x"],"error":"exit status 1","final":true,"code":"methodFailed","result":{"exitStatus":"1","stderr":"bad\n"}})", out))
      << "everything is settled: nothing more to wait for";
  EXPECT_EQ(printer.finish(false, out), ctl::kNotAnswered);
  EXPECT_EQ(out.out, "=== a\nup\n=== b (failed)\nx\n");
  EXPECT_NE(out.err.find("steward-ctl: c is offline\n"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("b: bad\n"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("steward-ctl: b: m: exit status 1\n"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("1/3 ok; b failed, c offline\n"), std::string::npos) << out.err;
}

TEST(CtlPs, RendersATable) {
  const std::string table = ctl::psTable(
      R"({"node":"ship1","processes":[{"id":1,"kind":"subscriber","method":"REQCliCommand","allowedNodes":"central","running":0,"plugin":{"name":"cli","version":"1.0.0"}},{"id":8,"kind":"publisher","toNode":"central","method":"REQToFileAppend","pending":2}],"plugins":[{"name":"cli","loaded":true},{"name":"tail","loaded":false}]})");
  EXPECT_NE(table.find("node ship1"), std::string::npos) << table;
  EXPECT_NE(table.find("REQCliCommand"), std::string::npos) << table;
  EXPECT_NE(table.find("cli 1.0.0"), std::string::npos) << table;
  EXPECT_NE(table.find("to central"), std::string::npos) << table;
  EXPECT_NE(table.find("tail (not loaded)"), std::string::npos) << table;
}

TEST(CtlSocket, FoundThroughTheConfigFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("ctl-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "etc");
  std::ofstream(dir / "etc" / "config.toml") << "nodeName = 'central'\nsocketFolder = './tmp'\n";
  auto p = parse({"ps", "ship1", ("--config-folder=" + (dir / "etc").string()).c_str()});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(ctl::socketPath(*p->options).value(), dir / "tmp" / "steward.sock");
  std::ofstream(dir / "etc" / "config.toml") << "socketFolder = '/run/steward'\n";
  EXPECT_EQ(ctl::socketPath(*p->options).value(), std::filesystem::path("/run/steward/steward.sock"));
  p = parse({"ps", "ship1", ("--config-folder=" + (dir / "nowhere").string()).c_str()});
  EXPECT_NE(ctl::socketPath(*p->options).error().message.find("give --socket"), std::string::npos);
  std::filesystem::remove_all(dir);
}
