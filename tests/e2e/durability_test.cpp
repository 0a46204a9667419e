// Nothing lost, nothing run twice: crashes of sender and receiver, a broker outage, a node that
// stays away beyond its retries, damaged store entries, and a graceful stop.
#include "tests/e2e/harness.hpp"

#include <algorithm>

#include "core/store/store.hpp"

#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace steward::e2e {
namespace {

class Durability : public E2eTest {
 protected:
  // N messages, each appending its number to `runs` on the receiver.
  static std::string appendBatch(const std::string& toNode, int first, int last,
                                 const fs::path& runs, const std::string& extra) {
    std::string json = "[";
    for (int i = first; i <= last; ++i) {
      if (i > first) json += ",";
      json += R"({"toNode":")" + toNode + R"(","method":"REQCliCommand","data":["bash","-c","echo )" +
              std::to_string(i) + " >> " + runs.string() + R"("],"fileName":"runs.log",)" + extra +
              "}";
    }
    return json + "]";
  }
  static std::vector<int> numbers(const std::string& text) {
    std::vector<int> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(std::stoi(line));
    }
    return out;
  }
  // Sends one more numbered run to ship1 after the others and waits until it has run. Messages
  // of one (sender, method) run in their sequence order and a copy of a number that ran is never
  // run, so once it has run, every copy of the earlier ones that could run has run.
  void barrier(StewardNode& central, const fs::path& runs, int number) {
    ASSERT_TRUE(accepted(central.submit(appendBatch("ship1", number, number, runs, R"("ACKTimeout":1,"retries":60)"))));
    ASSERT_TRUE(waitFor([&] {
      const auto n = numbers(readFile(runs));
      return std::find(n.begin(), n.end(), number) != n.end();
    }, 60s)) << "the barrier message " << number << " did not run";
  }
  static std::vector<int> range(int first, int last) {
    std::vector<int> out;
    for (int i = first; i <= last; ++i) out.push_back(i);
    return out;
  }
  static std::vector<uint64_t> idsOf(const std::string& answer) {
    std::vector<uint64_t> ids;
    auto start = answer.find("\"ids\":[");
    if (start == std::string::npos) return ids;
    std::istringstream in(answer.substr(start + 7));
    uint64_t id;
    char sep;
    while (in >> id) {
      ids.push_back(id);
      if (!(in >> sep) || sep != ',') break;
    }
    return ids;
  }
};

// The delivery guarantees with one message in flight per (toNode, method), and with a window.
class DurabilityWindow : public Durability, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    Durability::SetUp();
    everyNodeFlags_ = {"--sendWindow=" + std::to_string(GetParam())};
  }
};

INSTANTIATE_TEST_SUITE_P(Window, DurabilityWindow, ::testing::Values(1, 8),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "of" + std::to_string(info.param);
                         });

TEST_P(DurabilityWindow, SenderKilledMidStreamRunsEveryMessageOnceInOrderAfterRestart) {
  auto& central = startNode("central");
  startNode("ship1", {"--startSubREQCliCommand=central"});
  const auto runs = root_ / "runs";
  const std::string answer = central.submit(appendBatch(
      "ship1", 1, 200, runs, R"("ACKTimeout":2,"retries":20,"replyACKTimeout":1,"replyRetries":30)"));
  ASSERT_TRUE(accepted(answer)) << answer;
  ASSERT_TRUE(waitFor([&] { return numbers(readFile(runs)).size() >= 30; }, 60s));
  central.kill9();
  const size_t atKill = numbers(readFile(runs)).size();
  ASSERT_LT(atKill, 200u) << "the stream finished before the kill; nothing was tested";
  central.start();
  ASSERT_TRUE(central.waitReady());
  ASSERT_TRUE(waitFor([&] { return numbers(readFile(runs)).size() >= 200; }, 120s))
      << numbers(readFile(runs)).size() << " of 200 ran";
  barrier(central, runs, 201);
  EXPECT_EQ(numbers(readFile(runs)), range(1, 201));
}

TEST_P(DurabilityWindow, ReceiverKilledWhileRunningLosesNothingAndRunsNothingTwice) {
  auto& central = startNode("central");
  auto& ship1 = startNode("ship1", {"--startSubREQCliCommand=central"});
  const auto runs = root_ / "runs";
  const std::string answer = central.submit(appendBatch(
      "ship1", 1, 200, runs, R"("ACKTimeout":1,"retries":60,"replyACKTimeout":1,"replyRetries":60)"));
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto ids = idsOf(answer);
  ASSERT_EQ(ids.size(), 200u);
  ASSERT_TRUE(waitFor([&] { return numbers(readFile(runs)).size() >= 40; }, 60s));
  ship1.kill9();
  ASSERT_LT(numbers(readFile(runs)).size(), 200u) << "the stream finished before the kill";
  ship1.start();
  ASSERT_TRUE(ship1.waitReady());
  // Every message either ran, or its run was cut by the kill and it was answered as interrupted.
  const auto replies = central.dataFolder() / "ship1" / "runs.log";
  auto accountedFor = [&] {
    std::set<int> done;
    for (int n : numbers(readFile(runs))) done.insert(n);
    const std::string r = readFile(replies);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (r.find("(id " + std::to_string(ids[i]) + ") on ship1: interrupted") != std::string::npos) {
        done.insert(static_cast<int>(i) + 1);
      }
    }
    return done.size();
  };
  ASSERT_TRUE(waitFor([&] { return accountedFor() == 200; }, 120s)) << accountedFor() << " of 200";
  barrier(central, runs, 201);
  const auto ran = numbers(readFile(runs));
  EXPECT_EQ(std::set<int>(ran.begin(), ran.end()).size(), ran.size()) << "a message ran twice";
  EXPECT_TRUE(std::is_sorted(ran.begin(), ran.end())) << "sequenced messages ran out of order";
  EXPECT_LE(countLines(readFile(replies), "interrupted"), 1u) << "one run at most can be cut";
}

TEST_P(DurabilityWindow, ABrokerOutageOfTenSecondsLosesNothing) {
  auto& central = startNode("central");
  startNode("ship1", {"--startSubREQCliCommand=central"});
  const auto runs = root_ / "runs";
  const std::string settings = R"("ACKTimeout":1,"lifetime":300,"replyACKTimeout":1,"replyRetries":100)";
  ASSERT_TRUE(accepted(central.submit(appendBatch("ship1", 1, 50, runs, settings))));
  ASSERT_TRUE(waitFor([&] { return numbers(readFile(runs)).size() >= 10; }, 60s));
  nats_->stop();
  // Accepted while the broker is away: they wait in the outbox.
  ASSERT_TRUE(accepted(central.submit(appendBatch("ship1", 51, 100, runs, settings))));
  std::this_thread::sleep_for(10s);
  nats_->start();
  ASSERT_TRUE(waitFor([&] { return numbers(readFile(runs)).size() >= 100; }, 90s))
      << numbers(readFile(runs)).size() << " of 100 ran";
  barrier(central, runs, 101);
  EXPECT_EQ(numbers(readFile(runs)), range(1, 101));
}

TEST_P(DurabilityWindow, ANodeAwayLongerThanItsRetriesButWithinTheLifetimeGetsTheMessage) {
  auto& central = startNode("central");
  auto& ship1 = makeNode("ship1", {"--startSubREQCliCommand=central"});
  ASSERT_TRUE(accepted(central.submit(
      command("ship1", "echo finally", R"("fileName":"f.log","ACKTimeout":1,"retries":1,"lifetime":120)"))));
  std::this_thread::sleep_for(5s);  // far beyond (retries+1) x ACKTimeout
  ship1.start();
  ASSERT_TRUE(ship1.waitReady());
  const auto file = central.dataFolder() / "ship1" / "f.log";
  EXPECT_TRUE(waitFor([&] { return readFile(file) == "finally\n"; }, 60s)) << central.log();
  EXPECT_EQ(countLines(central.errorLog(), "given up"), 0u) << central.errorLog();
}

TEST_F(Durability, AnExpiredLifetimeIsReportedToCentral) {
  auto& central = startNode("central");
  ASSERT_TRUE(accepted(central.submit(
      command("ship7", "echo never", R"("ACKTimeout":1,"retries":0,"lifetime":2)"))));
  EXPECT_TRUE(waitFor([&] { return central.errorLog().find("to ship7) expired") != std::string::npos; },
                      30s))
      << central.errorLog();
}

TEST_F(Durability, DamagedStoreEntriesAreReportedToCentralAndSkipped) {
  auto& central = startNode("central");
  auto& ship1 = startNode("ship1", {"--startSubREQCliCommand=central"});
  ship1.stop();
  {
    auto store = store::Store::open(ship1.dir() / "db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    ASSERT_TRUE(store.value()->putRaw("out/00000000000000aa", "not an entry").ok());
    ASSERT_TRUE(store.value()->putRaw("in/00000000000000bb", "{\"method\":\"REQCliCommand\"}\n{torn").ok());
  }
  ship1.start();
  ASSERT_TRUE(ship1.waitReady());
  EXPECT_TRUE(waitFor([&] { return countLines(central.errorLog(), "ship1:") >= 2; }, 30s))
      << central.errorLog();
  const std::string errors = central.errorLog();
  EXPECT_NE(errors.find("damaged store entry out/00000000000000aa"), std::string::npos) << errors;
  EXPECT_NE(errors.find("inbox message at arrival 187 is unreadable"), std::string::npos) << errors;
  // And it still serves.
  ASSERT_TRUE(accepted(central.submit(command("ship1", "echo alive", R"("fileName":"alive.log")"))));
  EXPECT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ship1" / "alive.log") == "alive\n"; },
                      30s));
}

TEST_F(Durability, ANodeWhoseDatabaseWasMadeAnewIsNotTakenForCopiesOfItsOldMessages) {
  auto& central = startNode("central");
  auto& ship1 = startNode("ship1");
  auto line = [](const std::string& text) {
    return R"([{"toNode":"central","method":"REQToFileAppend","data":[")" + text +
           R"("],"directory":"from","fileName":"ship1.log"}])";
  };
  const auto file = central.dataFolder() / "from" / "ship1" / "ship1.log";
  ASSERT_TRUE(accepted(ship1.submit(line("before"))));
  ASSERT_TRUE(waitFor([&] { return readFile(file) == "before\n"; }, 30s)) << central.errorLog();
  // A new disk: the database is gone, the key provisioned again. Central remembers what it took
  // from the old database; the new one's messages must not look like copies of those.
  EXPECT_EQ(ship1.stop(), 0);
  fs::remove_all(ship1.dir() / "db" / "steward.ldb");
  ship1.start();
  ASSERT_TRUE(ship1.waitReady());
  ASSERT_TRUE(accepted(ship1.submit(line("after"))));
  EXPECT_TRUE(waitFor([&] { return readFile(file) == "before\nafter\n"; }, 30s)) << central.auditLog();
}

TEST_F(Durability, SigtermLetsARunningCommandFinishAndItsReplyLeavesAfterRestart) {
  auto& central = startNode("central");
  auto& ship1 = startNode("ship1", {"--startSubREQCliCommand=central"});
  const auto started = root_ / "started";
  ASSERT_TRUE(accepted(central.submit(command(
      "ship1", "touch " + started.string() + "; sleep 1; echo graceful",
      R"("fileName":"g.log","replyACKTimeout":1,"replyRetries":60)"))));
  ASSERT_TRUE(waitFor([&] { return fs::exists(started); }, 30s));
  central.stop();  // the reply cannot be delivered now
  EXPECT_EQ(ship1.stop(), 0);
  EXPECT_NE(ship1.log().find("stays in the outbox"), std::string::npos) << ship1.log();
  central.start();
  ASSERT_TRUE(central.waitReady());
  ship1.start();
  ASSERT_TRUE(ship1.waitReady());
  const auto file = central.dataFolder() / "ship1" / "g.log";
  EXPECT_TRUE(waitFor([&] { return readFile(file) == "graceful\n"; }, 30s)) << ship1.log();
}

TEST_F(Durability, TheAuditLogFollowsAMessageFromAcceptToReply) {
  auto& central = startNode("central");
  auto& ship1 = startNode("ship1", {"--startSubREQCliCommand=central"});
  ASSERT_TRUE(accepted(central.submit(command("ship1", "echo audited", R"("fileName":"a.log")"))));
  ASSERT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ship1" / "a.log") == "audited\n"; }, 30s));
  const auto centralAudit = central.dir() / "db" / "audit.log";
  const auto shipAudit = ship1.dir() / "db" / "audit.log";
  auto has = [](const fs::path& f, const std::string& event) {
    return readFile(f).find("\"event\":\"" + event + "\"") != std::string::npos;
  };
  EXPECT_TRUE(waitFor([&] { return has(centralAudit, "acked"); }, 10s)) << readFile(centralAudit);
  for (const char* e : {"accepted", "sent", "acked", "received", "executed"}) {
    EXPECT_TRUE(has(centralAudit, e)) << e << "\n" << readFile(centralAudit);
  }
  for (const char* e : {"received", "executed", "replied", "sent", "acked"}) {
    EXPECT_TRUE(has(shipAudit, e)) << e << "\n" << readFile(shipAudit);
  }
  EXPECT_NE(readFile(centralAudit).find(R"("fromNode":"central","toNode":"ship1","method":"REQCliCommand")"),
            std::string::npos);
}

// A three-server cluster joined by routes: a node given every server's address comes up on one
// that is up, and when the server it uses dies it goes on through another with every guarantee.
TEST_F(Durability, ANodeWhoseFirstBrokerIsDownComesUpOnAnotherServerOfTheCluster) {
  NatsCluster cluster(root_ / "cluster");
  ASSERT_TRUE(cluster.waitRouted()) << "the three servers did not route to each other";
  cluster.server(0).kill9();
  auto& central = makeNode("central", {}, cluster.addresses());
  auto& ship1 = makeNode("ship1", {"--startSubREQCliCommand=central"}, cluster.server(2).address());
  central.start();
  ship1.start();
  ASSERT_TRUE(central.waitReady()) << central.log();
  ASSERT_TRUE(ship1.waitReady()) << ship1.log();
  ASSERT_TRUE(accepted(central.submit(command("ship1", "echo across the cluster", R"("fileName":"c.log")"))));
  const auto reply = central.dataFolder() / "ship1" / "c.log";
  ASSERT_TRUE(waitFor([&] { return readFile(reply).find("across the cluster") != std::string::npos; }, 60s))
      << central.log();
  EXPECT_NE(cluster.serverOf("steward-central"), 0);
}

TEST_F(Durability, TheServerTheSenderUsesKilledMidStreamLosesNothingAndRunsNothingTwice) {
  NatsCluster cluster(root_ / "cluster");
  ASSERT_TRUE(cluster.waitRouted()) << "the three servers did not route to each other";
  auto& central = makeNode("central", {}, cluster.addresses());
  auto& ship1 = makeNode("ship1", {"--startSubREQCliCommand=central"}, cluster.addresses());
  central.start();
  ship1.start();
  ASSERT_TRUE(central.waitReady()) << central.log();
  ASSERT_TRUE(ship1.waitReady()) << ship1.log();
  int used = -1;
  ASSERT_TRUE(waitFor([&] { return (used = cluster.serverOf("steward-central")) >= 0; }, 10s));
  const auto runs = root_ / "runs";
  ASSERT_TRUE(accepted(central.submit(appendBatch(
      "ship1", 1, 300, runs, R"("ACKTimeout":1,"retries":60,"replyACKTimeout":1,"replyRetries":60)"))));
  ASSERT_TRUE(waitFor([&] { return numbers(readFile(runs)).size() >= 30; }, 60s));
  cluster.server(static_cast<size_t>(used)).kill9();
  ASSERT_LT(numbers(readFile(runs)).size(), 300u) << "the stream finished before the kill";
  ASSERT_TRUE(waitFor([&] { return numbers(readFile(runs)).size() >= 300; }, 120s))
      << numbers(readFile(runs)).size() << " of 300 ran";
  barrier(central, runs, 301);
  EXPECT_EQ(numbers(readFile(runs)), range(1, 301)) << "lost, run twice or out of order";
  const int now = cluster.serverOf("steward-central");
  EXPECT_TRUE(now >= 0 && now != used) << "central is on server " << now << ", killed " << used;
}

TEST_F(Durability, TheServerCentralUsesKilledMidFanOutLosesNoReplyAndRunsNothingTwice) {
  NatsCluster cluster(root_ / "cluster");
  ASSERT_TRUE(cluster.waitRouted()) << "the three servers did not route to each other";
  auto& central = makeNode("central", {}, cluster.addresses());
  std::vector<StewardNode*> ships;
  for (const char* name : {"ship1", "ship2", "ship3"}) {
    ships.push_back(&makeNode(name, {"--startSubREQCliCommand=central"}, cluster.addresses()));
  }
  central.start();
  for (auto* ship : ships) ship->start();
  ASSERT_TRUE(central.waitReady()) << central.log();
  for (auto* ship : ships) ASSERT_TRUE(ship->waitReady()) << ship->log();
  int used = -1;
  ASSERT_TRUE(waitFor([&] { return (used = cluster.serverOf("steward-central")) >= 0; }, 10s));
  // 40 messages, each to the three ships; each run's output comes back to central as a reply.
  std::string batch = "[";
  for (int i = 1; i <= 40; ++i) {
    batch += std::string(i > 1 ? "," : "") +
             R"({"toNodes":["ship1","ship2","ship3"],"method":"REQCliCommand","data":["bash","-c","sleep 0.02; echo )" +
             std::to_string(i) + R"("],"fileName":"fan.log","ACKTimeout":1,"retries":60,"replyACKTimeout":1,"replyRetries":60})";
  }
  ASSERT_TRUE(accepted(central.submit(batch + "]")));
  auto replies = [&](const std::string& ship) { return numbers(readFile(central.dataFolder() / ship / "fan.log")); };
  auto total = [&] { return replies("ship1").size() + replies("ship2").size() + replies("ship3").size(); };
  ASSERT_TRUE(waitFor([&] { return total() >= 30; }, 60s));
  cluster.server(static_cast<size_t>(used)).kill9();
  ASSERT_LT(total(), 120u) << "the fan-out finished before the kill";
  ASSERT_TRUE(waitFor([&] { return total() >= 120; }, 120s)) << total() << " of 120 replies";
  std::this_thread::sleep_for(2s);  // a reply that would come twice comes now
  for (const char* ship : {"ship1", "ship2", "ship3"}) {
    EXPECT_EQ(replies(ship), range(1, 40)) << ship << ": a reply lost, twice or out of order";
  }
}

}  // namespace
}  // namespace steward::e2e
