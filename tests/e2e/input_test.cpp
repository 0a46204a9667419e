// Operator input through the unix socket: what is refused, what the client hears, and that the
// daemon keeps serving.
#include "tests/e2e/harness.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>

namespace steward::e2e {
namespace {

class Input : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startSubREQCliCommand=central"});
  }
  // A good message still goes through end to end.
  void expectStillServing(const std::string& tag) {
    ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo " + tag, R"("fileName":")" + tag + "\""))));
    const auto file = central_->dataFolder() / "ship1" / tag;
    EXPECT_TRUE(waitFor([&] { return readFile(file) == tag + "\n"; }, 30s)) << tag;
  }
  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

TEST_F(Input, MalformedJsonIsRefusedAndTheDaemonKeepsServing) {
  const std::string answer = central_->submit(R"([{"toNode": "ship1", "method":)");
  EXPECT_NE(answer.find("\"ok\":false"), std::string::npos) << answer;
  EXPECT_NE(answer.find("malformed JSON at byte"), std::string::npos) << answer;
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("malformed JSON") != std::string::npos; }, 30s));
  expectStillServing("after-malformed");
}

TEST_F(Input, AnUnknownMethodRefusesTheWholeBatch) {
  const auto marker = root_ / "ran";
  const std::string answer = central_->submit(
      R"([{"toNode":"ship1","method":"REQCliCommand","data":["touch",")" + marker.string() +
      R"("]},{"toNode":"ship1","method":"REQNoSuchMethod"}])");
  EXPECT_EQ(answer,
            "{\"ok\":false,\"error\":\"message 1: field \\\"method\\\": unknown method "
            "\\\"REQNoSuchMethod\\\"\",\"code\":\"unknownMethod\"}\n");
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("REQNoSuchMethod") != std::string::npos; }, 30s));
  expectStillServing("after-unknown");
  EXPECT_FALSE(fs::exists(marker)) << "a message of a refused batch ran";
}

TEST_F(Input, ADotDotDirectoryIsRefused) {
  const std::string answer = central_->submit(
      command("ship1", "echo escaped", R"("directory":"../../escape","fileName":"x")"));
  EXPECT_NE(answer.find("field \\\"directory\\\""), std::string::npos) << answer;
  EXPECT_NE(answer.find("contains \\\"..\\\""), std::string::npos) << answer;
  expectStillServing("after-dotdot");
  EXPECT_FALSE(fs::exists(root_ / "escape"));
}

TEST_F(Input, AnAbsoluteDirectoryLandsInsideTheDataFolder) {
  const std::string answer = central_->submit(R"([
{
"directory":"/var/steward/cli-command/executed-result",
"fileName": "some.log",
"toNode": "ship1",
"data": ["bash","-c","echo inside"],
"method":"REQCliCommand",
"ACKTimeout":10,
"retries":3,
"methodTimeout": 4
}
])");
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto file = central_->dataFolder() / "var/steward/cli-command/executed-result/ship1/some.log";
  EXPECT_TRUE(waitFor([&] { return readFile(file) == "inside\n"; }, 30s));
}

TEST_F(Input, AMissingNodeNameIsAClearStartupError) {
  ChildProcess p({STEWARD_BINARY, "--brokerAddress=" + nats_->address()}, root_, root_ / "noname.log");
  ASSERT_TRUE(waitFor([&] { return !p.running(); }, 10s));
  EXPECT_NE(readFile(root_ / "noname.log").find("--nodeName is required"), std::string::npos);
}

TEST_F(Input, SigtermStopsTheDaemonCleanly) {
  EXPECT_EQ(ship1_->stop(), 0);
  EXPECT_NE(ship1_->log().find("stopped"), std::string::npos);
}

// What systemd (Type=notify) hears on NOTIFY_SOCKET: READY=1 once the node runs, STOPPING=1 when
// it is told to stop.
TEST_F(Input, TellsSystemdWhenItIsReadyAndWhenItStops) {
  const fs::path path = root_ / "notify";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const timeval timeout{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  auto receive = [fd] {
    char buffer[512];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string("(nothing)");
  };
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  auto& ship2 = makeNode("ship2");
  ship2.start();
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(receive(), "READY=1\nSTATUS=node ship2 running");
  EXPECT_EQ(ship2.stop(), 0);
  EXPECT_EQ(receive(), "STOPPING=1");
  ::close(fd);
}

}  // namespace
}  // namespace steward::e2e

#include <httplib.h>

namespace steward::e2e {
namespace {

using testing::tcpRoundTrip;

class NetworkInput : public ListenersTest {};

TEST_F(NetworkInput, TcpTakesMessagesLikeTheSocket) {
  const std::string answer = tcpRoundTrip(tcpPort_, command("ship1", "echo over tcp", R"("fileName":"tcp.log")"));
  EXPECT_EQ(answer, "{\"ok\":true,\"ids\":[" + std::to_string(idsOf(answer).at(0)) + "]}\n");
  EXPECT_TRUE(waitFor([&] { return readFile(central_->dataFolder() / "ship1" / "tcp.log") == "over tcp\n"; }, 30s));
  const std::string bad = tcpRoundTrip(tcpPort_, "[{\"toNode\":");
  EXPECT_NE(bad.find("\"ok\":false"), std::string::npos) << bad;
  EXPECT_NE(bad.find("malformed JSON"), std::string::npos) << bad;
}

TEST_F(NetworkInput, HttpAnswers202WithIdsOr400WithTheError) {
  httplib::Client client("127.0.0.1", httpPort_);
  auto ok = client.Post("/messages", command("ship1", "echo over http", R"("fileName":"http.log")"),
                        "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 202);
  EXPECT_NE(ok->body.find("\"ids\":["), std::string::npos) << ok->body;
  EXPECT_TRUE(waitFor([&] { return readFile(central_->dataFolder() / "ship1" / "http.log") == "over http\n"; }, 30s));

  auto bad = client.Post("/", R"([{"toNode":"ship1","method":"REQNoSuch"}])", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("message 0: field \\\"method\\\": unknown method \\\"REQNoSuch\\\""), std::string::npos)
      << bad->body;
  auto malformed = client.Post("/", "not json", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  auto get = client.Get("/");
  ASSERT_TRUE(get);
  EXPECT_NE(get->status, 202);
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("input from http refused") != std::string::npos; }, 30s));
}

}  // namespace
}  // namespace steward::e2e

namespace steward::e2e {
namespace {

class StartupFolder : public E2eTest {};

TEST_F(StartupFolder, ItsMessagesAreSentAtEveryStartAndABadFileIsReported) {
  auto& central = startNode("central");
  const fs::path folder = root_ / "startup";
  fs::create_directories(folder);
  std::ofstream(folder / "01-announce.json")
      << R"([{"toNode":"central","method":"REQToFileAppend","data":["ship1 is up"],"directory":"boot","fileName":"boot.log"}])";
  std::ofstream(folder / "02-broken.json") << R"([{"toNode":"central","method":)";
  std::ofstream(folder / "notes.txt") << "not a message";
  auto& ship1 = startNode("ship1", {"--startupFolder=" + folder.string()});
  const auto boot = central.dataFolder() / "boot" / "ship1" / "boot.log";
  ASSERT_TRUE(waitFor([&] { return readFile(boot) == "ship1 is up\n"; }, 30s)) << ship1.log();
  EXPECT_TRUE(waitFor([&] { return central.errorLog().find("input from startup file " + (folder / "02-broken.json").string() + " refused") != std::string::npos; }, 30s))
      << central.errorLog();
  ship1.stop();
  ship1.start();
  ASSERT_TRUE(ship1.waitReady());
  EXPECT_TRUE(waitFor([&] { return readFile(boot) == "ship1 is up\nship1 is up\n"; }, 30s)) << readFile(boot);
}

// The spec's three startup-folder handlers: central writes a message file into ship1's folder,
// lists it, sees it sent at ship1's next start, and removes it; what would be refused at the start
// (bad messages, a name with a path) is refused when it is written.
TEST_F(StartupFolder, CentralWritesListsAndRemovesAShipsStartupFiles) {
  auto& central = startNode("central");
  const fs::path folder = root_ / "ship1-startup";  // made by the first write
  auto& ship1 = startNode("ship1", {"--startupFolder=" + folder.string()});
  auto quoted = [](std::string text) {
    for (size_t at = 0; (at = text.find('"', at)) != std::string::npos; at += 2) text.insert(at, "\\");
    return text;
  };
  auto send = [&](const std::string& method, const std::string& data, const std::string& fileName) {
    const std::string answer = central.submit(R"([{"toNode":"ship1","method":")" + method + R"(","data":[)" + data +
                                              R"(],"directory":"startup","fileName":")" + fileName + R"("}])");
    EXPECT_TRUE(accepted(answer)) << answer;
    return central.dataFolder() / "startup" / "ship1" / fileName;
  };
  const std::string announce =
      R"([{"toNode":"central","method":"REQToFileAppend","data":["ship1 started"],"directory":"boot","fileName":"boot.log"}])";

  const auto wrote = send("REQStartupFolderWrite", R"("10-announce.json",")" + quoted(announce) + R"(")", "write.log");
  ASSERT_TRUE(waitFor([&] { return readFile(wrote).find("wrote startup file") != std::string::npos; }, 30s))
      << central.errorLog();
  EXPECT_EQ(readFile(folder / "10-announce.json"), announce);
  EXPECT_EQ(fs::status(folder / "10-announce.json").permissions() & fs::perms::others_all, fs::perms::none);

  // Refused as they are written, and nothing is left behind.
  send("REQStartupFolderWrite", R"("../escape.json",")" + quoted(announce) + R"(")", "bad-name.log");
  send("REQStartupFolderWrite", R"("20-bad.json",")" + quoted(R"([{"toNode":"central","method":"REQNoSuch"}])") + R"(")",
       "bad-message.log");
  EXPECT_TRUE(waitFor([&] {
    const std::string errors = central.errorLog();
    return errors.find("startup file name \"../escape.json\"") != std::string::npos &&
           errors.find("startup file 20-bad.json: message 0: field \"method\": unknown method") != std::string::npos;
  }, 30s)) << central.errorLog();
  EXPECT_FALSE(fs::exists(root_ / "escape.json"));
  EXPECT_FALSE(fs::exists(folder / "20-bad.json"));

  const auto listed = send("REQStartupFolderList", "", "list.log");
  ASSERT_TRUE(waitFor([&] { return readFile(listed).find("\"name\":\"10-announce.json\"") != std::string::npos; }, 30s))
      << central.errorLog();
  EXPECT_NE(readFile(listed).find("\"bytes\":" + std::to_string(announce.size())), std::string::npos) << readFile(listed);

  // Sent at ship1's next start.
  ship1.stop();
  ship1.start();
  ASSERT_TRUE(ship1.waitReady());
  const auto boot = central.dataFolder() / "boot" / "ship1" / "boot.log";
  ASSERT_TRUE(waitFor([&] { return readFile(boot) == "ship1 started\n"; }, 30s)) << ship1.log();

  // Removing a name that is not there removes nothing; then it is removed and not sent again.
  send("REQStartupFolderRemove", R"("10-announce.json","99-none.json")", "remove-bad.log");
  EXPECT_TRUE(waitFor([&] { return central.errorLog().find("there is no startup file 99-none.json") != std::string::npos; }, 30s));
  EXPECT_TRUE(fs::exists(folder / "10-announce.json"));
  const auto removed = send("REQStartupFolderRemove", R"("10-announce.json")", "remove.log");
  ASSERT_TRUE(waitFor([&] { return readFile(removed).find("removed 10-announce.json") != std::string::npos; }, 30s))
      << central.errorLog();
  EXPECT_FALSE(fs::exists(folder / "10-announce.json"));
  ship1.stop();
  ship1.start();
  ASSERT_TRUE(ship1.waitReady());
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(readFile(boot), "ship1 started\n");
}

}  // namespace
}  // namespace steward::e2e
