// Hostile input and hostile networks, against real daemons and a real nats-server: what anyone on
// the broker or on an input can send must not crash a node, lead a write out of its data folder,
// make central record nodes that do not exist, or starve the inputs.
#include "tests/e2e/harness.hpp"

#include "core/message/codec.hpp"
#include "core/security/envelope.hpp"
#include "core/security/trust.hpp"
#include "core/util/clock.hpp"
#include "core/util/json.hpp"
#include "tests/support/posix.hpp"

#include <httplib.h>
#include <nats/nats.h>

#include <sys/resource.h>

namespace steward::e2e {
namespace {

using steward::testing::connectTcp;
using steward::testing::connectUnix;
using steward::testing::tcpRoundTrip;
using steward::testing::unixRoundTrip;

// Sends `bytes` on an open socket, without SIGPIPE.
void sendAll(int fd, const std::string& bytes) {
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

class Hostile : public ListenersTest {
 protected:
  // A command from central to ship1 and its reply: both nodes still serve.
  void expectServes(const std::string& tag) {
    ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo " + tag, R"("fileName":")" + tag + R"(.log")"))));
    EXPECT_TRUE(waitFor([&] { return readFile(central_->dataFolder() / "ship1" / (tag + ".log")) == tag + "\n"; }, 30s))
        << central_->errorLog();
  }
};

TEST_F(Hostile, DeepNestingOnEveryInputIsRefusedByNameAndTheNodeStaysUp) {
  const std::string deep(1'000'000, '[');
  // No half-close: the framer stops at level 33, it does not wait for the rest.
  const std::string overSocket = unixRoundTrip(central_->socket(), deep, false);
  EXPECT_NE(overSocket.find("\"code\":\"tooDeep\""), std::string::npos) << overSocket.substr(0, 300);
  EXPECT_NE(overSocket.find("input nests deeper than 32 levels of arrays and objects (at byte 32)"),
            std::string::npos) << overSocket.substr(0, 300);
  const std::string objectForm = unixRoundTrip(central_->socket(), "{\"messages\":" + deep, false);
  EXPECT_NE(objectForm.find("nests deeper than 32 levels"), std::string::npos) << objectForm.substr(0, 300);
  const std::string overTcp = tcpRoundTrip(tcpPort_, deep);
  EXPECT_NE(overTcp.find("nests deeper than 32 levels"), std::string::npos) << overTcp.substr(0, 300);
  httplib::Client client("127.0.0.1", httpPort_);
  auto overHttp = client.Post("/", deep + std::string(deep.size(), ']'), "application/json");
  ASSERT_TRUE(overHttp);
  EXPECT_EQ(overHttp->status, 400);
  EXPECT_NE(overHttp->body.find("\"code\":\"tooDeep\""), std::string::npos) << overHttp->body.substr(0, 300);
  EXPECT_NE(overHttp->body.find("input nests deeper than 32 levels"), std::string::npos) << overHttp->body.substr(0, 300);
  EXPECT_TRUE(central_->running());
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("nests deeper than 32 levels") != std::string::npos; }, 20s));
  expectServes("after-deep-input");
}

TEST_F(Hostile, DeepNestingFromTheBrokerWithoutAKeyIsRefusedBeforeItIsParsed) {
  BrokerClient client(nats_->address());
  const std::string subject = "ship1.REQCliCommand.CommandACK";
  // 400,000 levels: within the size limit, far past what a recursive parser survives.
  const std::string deep(400'000, '[');
  const std::string bare = ackOf(client.request(subject, deep));
  EXPECT_NE(bare.find("\"code\":\"unsigned\""), std::string::npos) << bare;
  EXPECT_NE(bare.find("unsigned: it carries no SIG2 seal"), std::string::npos) << bare;
  auto intruder = security::Identity::create(root_ / "intruder-keys").value();
  const std::string unknown = ackOf(client.request(subject, security::seal(intruder, "ship9", subject, deep, nowUnixMs())));
  EXPECT_NE(unknown.find("\"code\":\"unknownKey\""), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("signed as ship9: no trusted key for ship9"), std::string::npos) << unknown;
  const std::string forged = ackOf(client.request(subject, security::seal(intruder, "central", subject, deep, nowUnixMs())));
  EXPECT_NE(forged.find("\"code\":\"forged\""), std::string::npos) << forged;
  EXPECT_TRUE(ship1_->running());
  // Reported to central (it is not silent), and ship1 still does its work.
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("signed as ship9: no trusted key for ship9") != std::string::npos; }, 20s))
      << central_->errorLog();
  expectServes("after-deep-broker");
}

TEST_F(Hostile, ALinkAtAnyLevelOfAReplyPathIsNotFollowed) {
  const fs::path outside = root_ / "outside";
  fs::create_directories(outside / "b" / "ship1");
  fs::create_directories(outside / "ship1");
  const fs::path data = central_->dataFolder();
  // Replies land in <data>/<directory>/<node>/<fileName>; a link at each level of it.
  fs::create_directories(data);
  fs::create_directory_symlink(outside, data / "l1");                  // <data>/l1 -> outside
  fs::create_directories(data / "l2");
  fs::create_directory_symlink(outside, data / "l2" / "b");            // <data>/l2/b -> outside
  fs::create_directories(data / "l3" / "b");
  fs::create_directory_symlink(outside, data / "l3" / "b" / "ship1");  // <data>/l3/b/ship1 -> outside
  fs::create_directories(data / "l4" / "b" / "ship1");
  std::ofstream(outside / "target.log") << "untouched\n";
  fs::create_symlink(outside / "target.log", data / "l4" / "b" / "ship1" / "f.log");
  for (const char* level : {"l1", "l2", "l3", "l4"}) {
    const std::string before = central_->errorLog();
    ASSERT_TRUE(accepted(central_->submit(command(
        "ship1", "echo escaped", std::string(R"("directory":")") + level + R"(/b","fileName":"f.log")"))));
    EXPECT_TRUE(waitFor([&] {
      return occurrences(central_->errorLog(), "steward does not follow links inside its data folder") >
             occurrences(before, "steward does not follow links inside its data folder");
    }, 30s)) << level << ": " << central_->errorLog();
  }
  // Nothing was written outside: only what the test put there.
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(outside)) {
    if (entry.is_regular_file()) ++files;
  }
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(readFile(outside / "target.log"), "untouched\n");
  expectServes("after-links");
}

TEST_F(Hostile, HellosFromUnknownKeysAreOnlyRecordedAndThePendingListIsBounded) {
  // Hellos are not sent by the nodes of this test: last-seen holds only what the test causes.
  const fs::path lastSeen = central_->dataFolder() / "hello-messages" / "last-seen.json";
  const std::string seenBefore = readFile(lastSeen);
  auto intruder = security::Identity::create(root_ / "intruder-keys").value();
  natsConnection* conn = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&conn, ("nats://" + nats_->address()).c_str()), NATS_OK);
  const std::string subject = "central.REQHello.EventNACK";
  auto hello = [&](const std::string& node, uint64_t id) {
    message::Message m;
    m.id = id;
    m.fromNode = node;
    m.toNode = "central";
    m.method = "REQHello";
    m.data = {node, intruder.publicKey(), "0"};
    m.directory = "hello-messages";
    m.fileName = "hello.log";
    const std::string payload =
        security::seal(intruder, node, subject, message::encodeWire(m), nowUnixMs(), true);
    natsConnection_Publish(conn, subject.c_str(), payload.data(), static_cast<int>(payload.size()));
  };
  // ship1 is a real, trusted node: a hello in its name by another key must not move its
  // last-seen time. The invented nodes go past the bound of pending keys.
  hello("ship1", 1);
  for (uint64_t i = 0; i < security::Trust::kMaxPending + 100; ++i) hello("invented" + std::to_string(i), i + 2);
  natsConnection_Flush(conn);
  natsConnection_Destroy(conn);

  const fs::path register_ = central_->dir() / "db" / "keys" / "trust.json";
  auto pending = [&]() -> size_t {
    auto parsed = json::parse(readFile(register_), "trust.json");
    if (!parsed || !parsed->IsObject() || !parsed->HasMember("pending")) return 0;
    return (*parsed)["pending"].MemberCount();
  };
  EXPECT_TRUE(waitFor([&] { return pending() >= security::Trust::kMaxPending; }, 60s)) << pending();
  EXPECT_EQ(pending(), security::Trust::kMaxPending);
  EXPECT_EQ(readFile(lastSeen), seenBefore) << "an unknown key's hello was run";
  EXPECT_EQ(readFile(central_->dataFolder() / "hello-messages" / "ship1" / "hello.log"), "");
  EXPECT_TRUE(central_->running());
  // The operator sees the keys waiting, ship1's new one among them.
  const RunResult keys = ctl(*central_, {"keys", "list"});
  EXPECT_NE(keys.out.find("invented1"), std::string::npos) << keys.out.substr(0, 500);
  expectServes("after-hellos");
}

TEST_F(Hostile, SlowAndIdleClientsDoNotStarveAnyInput) {
  const std::string real = command("ship1", "true", R"("fileName":"slow.log")");
  struct Input {
    const char* name;
    std::function<int()> connect;
    std::string partial;
    std::function<bool()> served;
  };
  std::vector<Input> inputs = {
      {"socket", [&] { return connectUnix(central_->socket()); }, "[{\"toNode\":",
       [&] { return accepted(unixRoundTrip(central_->socket(), real)); }},
      {"tcp", [&] { return connectTcp(tcpPort_); }, "[{\"toNode\":",
       [&] { return accepted(tcpRoundTrip(tcpPort_, real)); }},
      {"http", [&] { return connectTcp(httpPort_); }, "POST / HTTP/1.1\r\nHost: x\r\nContent-Le",
       [&] {
         httplib::Client client("127.0.0.1", httpPort_);
         auto res = client.Post("/", real, "application/json");
         return res && res->status == 202;
       }},
  };
  for (auto& input : inputs) {
    // 300 clients that connect, send a little and then nothing: more than the listener holds.
    std::vector<int> slow;
    for (int i = 0; i < 300; ++i) {
      const int fd = input.connect();
      ASSERT_GE(fd, 0) << input.name << " connection " << i;
      sendAll(fd, input.partial);
      slow.push_back(fd);
    }
    EXPECT_TRUE(input.served()) << input.name << ": a real request got no answer behind 300 slow clients";
    for (int fd : slow) ::close(fd);
  }
  EXPECT_NE(central_->log().find("an input is full (256 connections)"), std::string::npos);
  EXPECT_TRUE(central_->running());
}

TEST_F(Hostile, RunningOutOfFileDescriptorsIsSurvived) {
#ifdef STEWARD_SANITIZED
  // UndefinedBehaviorSanitizer checks an object's type through a pipe of its own; with no
  // descriptor left it reports a valid object as invalid and stops the daemon. The plain build
  // runs this test.
  GTEST_SKIP() << "the sanitizer runtime needs file descriptors of its own";
#endif
  const int pid = central_->pid();
  size_t open = 0;
  for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    (void)entry;
    ++open;
  }
  rlimit old{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &old), 0);
  const rlimit tight{open + 8, old.rlim_max};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &tight, nullptr), 0);
  std::vector<int> held;
  for (int i = 0; i < 40; ++i) {
    const int fd = connectTcp(tcpPort_);
    if (fd >= 0) held.push_back(fd);
  }
  EXPECT_TRUE(waitFor([&] { return central_->log().find("cannot accept connections: Too many open files") != std::string::npos; }, 20s))
      << central_->log().substr(0, 2000);
  // Several more tries fail (each is a debug line) …
  EXPECT_TRUE(waitFor([&] { return occurrences(central_->log(), "accept failed again") >= 3; }, 20s))
      << central_->log().substr(0, 2000);
  EXPECT_TRUE(central_->running());
  // … but the error is said once, not once per try.
  EXPECT_EQ(occurrences(central_->log(), "cannot accept connections"), 1u);
  for (int fd : held) ::close(fd);
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &old, nullptr), 0);
  // Free again: it serves, and says so.
  EXPECT_TRUE(waitFor([&] { return accepted(tcpRoundTrip(tcpPort_, command("ship1", "true", R"("fileName":"fd.log")"))); }, 20s));
  EXPECT_TRUE(waitFor([&] { return central_->log().find("accepting connections again") != std::string::npos; }, 10s));
  expectServes("after-fds");
}

TEST_F(Hostile, ARefusalSealedByASkewedClockStillReachesCentralByMessageId) {
  // ship1's daemon is away; a client with ship1's key answers in its place, from a clock 400 s
  // ahead: it refuses central's message as stale, as a skewed ship1 would.
  ship1_->stop();
  auto ship1Key = security::Identity::loadOrCreate(ship1_->dir() / "db" / "keys").value();
  natsConnection* conn = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&conn, ("nats://" + nats_->address()).c_str()), NATS_OK);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, conn, "ship1.REQCliCommand.CommandACK"), NATS_OK);
  natsConnection_Flush(conn);
  const std::string answer = central_->submit(command("ship1", "true", R"("ACKTimeout":2,"retries":50)"));
  ASSERT_TRUE(accepted(answer)) << answer;
  const std::string id = answer.substr(answer.find('[') + 1, answer.find(']') - answer.find('[') - 1);
  natsMsg* msg = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&msg, sub, 15000), NATS_OK);
  const std::string inbox = natsMsg_GetReply(msg);
  natsMsg_Destroy(msg);
  const std::string refusal = R"({"ok":false,"error":"node ship1 refused a message: sent 400 s in the future"})";
  const std::string sealed = security::seal(ship1Key, "ship1", inbox, refusal, nowUnixMs() + 400'000);
  natsConnection_Publish(conn, inbox.c_str(), sealed.data(), static_cast<int>(sealed.size()));
  natsConnection_Flush(conn);
  EXPECT_TRUE(waitFor([&] {
    return central_->errorLog().find("message " + id + " (REQCliCommand from central to ship1) refused after 1 send(s)") !=
           std::string::npos;
  }, 20s)) << central_->errorLog();
  EXPECT_NE(central_->errorLog().find("; ship1's answer was sent "), std::string::npos) << central_->errorLog();
  EXPECT_NE(central_->errorLog().find("s in the future, outside the 300 s signature window"), std::string::npos);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(conn);
}

TEST_F(Hostile, DottedNodeNamesAndUnknownOperationKeysAreRefusedByName) {
  const std::string dotted = central_->submit(command("ship1.REQCliCommand", "true"));
  EXPECT_NE(dotted.find("holds a '.'"), std::string::npos) << dotted;
  ASSERT_TRUE(accepted(central_->submit(
      R"([{"toNode":"ship1","method":"REQOpCommand","directory":"ops","fileName":"start.log",)"
      R"("operation":{"opCmd":"startProc","opArg":{"method":"REQCliCommand","allowedNode":["central"]}}}])")));
  EXPECT_TRUE(waitFor([&] {
    return readFile(central_->dataFolder() / "ops" / "ship1" / "start.log")
               .find("unknown key \\\"allowedNode\\\" in opArg of startProc; it takes method, allowedNodes") != std::string::npos ||
           readFile(central_->dataFolder() / "ops" / "ship1" / "start.log")
               .find("unknown key \"allowedNode\" in opArg of startProc; it takes method, allowedNodes") != std::string::npos;
  }, 30s)) << readFile(central_->dataFolder() / "ops" / "ship1" / "start.log") << central_->errorLog();
  auto& misnamed = makeNode("ship1.REQCliCommand");
  misnamed.start();
  EXPECT_TRUE(waitFor([&] { return misnamed.log().find("holds a '.'") != std::string::npos; }, 10s)) << misnamed.log();
}

}  // namespace
}  // namespace steward::e2e
