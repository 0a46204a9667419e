// End-to-end test harness: a real nats-server on a free loopback port and real steward daemons,
// each in a temporary folder. Every process started here is stopped by its owner's destructor,
// and dies with the test process if that crashes (PR_SET_PDEATHSIG).
#pragma once

#include "tests/support/posix.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;

namespace steward::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A port nothing listens on right now, on 127.0.0.1.
uint16_t freePort();
// A node's Prometheus metrics (--promHostAndPort): "name{labels}" -> value; empty when the
// scrape failed.
std::map<std::string, double> scrapeMetrics(uint16_t port);
// What /proc says of a process: CPU seconds (user and system), resident memory and threads. For
// benches.
struct ProcessUse {
  double cpuSeconds = 0;
  long rssKiB = 0;
  long threads = 0;
};
ProcessUse processUse(int pid);
std::string readFile(const fs::path& path);
// How many times `part` occurs in `text`.
size_t occurrences(const std::string& text, const std::string& part);
size_t countLines(const std::string& text, const std::string& containing = "");
// What the throughput benchmarks send: `count` sequenced, ACKed REQToFileAppend messages to
// `toNode` as one input, each appending "x\n" to bench/<sender>/b.log in its data folder.
std::string appendBatch(const std::string& toNode, int count);
// Polls `done` every 50 ms until it holds or `timeout` passes; returns its last value.
bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout);
using testing::processAlive;

class ChildProcess {
 public:
  // Standard output and error go to `log`, or error to `errorLog` when it is given.
  ChildProcess(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& log,
               const fs::path& errorLog = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // SIGTERM, then SIGKILL if it has not exited within `grace`. Returns the exit status.
  int terminate(std::chrono::milliseconds grace = 10s);
  void kill9();
  bool running();
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Runs a program to its end (killed after `limit`) and returns what it printed and its exit
// status (-1 when it was killed).
struct RunResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};
RunResult runToEnd(const std::vector<std::string>& argv, const fs::path& cwd,
                   std::chrono::milliseconds limit = 60s);

class NatsServer {
 public:
  // With `config`, nats-server reads that configuration file (the port is still ours).
  // `extra`: more nats-server flags (a cluster's routes, say).
  explicit NatsServer(const fs::path& dir, uint16_t port = 0, fs::path config = {},
                      std::vector<std::string> extra = {});
  ~NatsServer();
  void start();
  void stop();
  void kill9();
  // Makes nats-server read its configuration file again (SIGHUP), as an operator's reload does.
  void reload();
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  fs::path dir_;
  uint16_t port_;
  fs::path config_;
  std::vector<std::string> extra_;
  std::unique_ptr<ChildProcess> process_;
};

// Three nats-servers on loopback joined by routes into one cluster, each in a folder of its own.
class NatsCluster {
 public:
  explicit NatsCluster(const fs::path& dir);
  NatsServer& server(size_t i) { return *servers_.at(i); }
  // "127.0.0.1:a,127.0.0.1:b,127.0.0.1:c", as --brokerAddress takes it.
  std::string addresses() const;
  // Waits until every server has routes to the other two.
  bool waitRouted(std::chrono::milliseconds timeout = 15s);
  // The server a client (by its connection name) is connected to, or -1.
  int serverOf(const std::string& clientName);

 private:
  std::vector<uint16_t> clusterPorts_;
  std::vector<std::unique_ptr<NatsServer>> servers_;
  std::vector<uint16_t> monitorPorts_;
};

// Subscribes to a subject with nats.c and keeps what arrives, without answering.
class BrokerSpy {
 public:
  BrokerSpy(const std::string& address, const std::string& subject);
  ~BrokerSpy();
  size_t count() const { return count_.load(); }

 private:
  static void onMessage(__natsConnection*, __natsSubscription*, __natsMsg*, void*);
  __natsConnection* conn_ = nullptr;
  __natsSubscription* sub_ = nullptr;
  std::atomic<size_t> count_{0};
};

// A plain nats.c client, to talk to daemons the way another node would.
class BrokerClient {
 public:
  explicit BrokerClient(const std::string& address);
  ~BrokerClient();
  // Sends a request and returns the answer, or "" after `timeout`.
  std::string request(const std::string& subject, const std::string& payload,
                      std::chrono::milliseconds timeout = 5s);

 private:
  __natsConnection* conn_ = nullptr;
};

class StewardNode {
 public:
  StewardNode(std::string name, const fs::path& root, const std::string& broker,
              std::vector<std::string> flags);
  ~StewardNode();

  void start();
  // Graceful stop with SIGTERM; returns the exit status.
  int stop();
  void kill9();
  bool running() { return process_ && process_->running(); }
  int pid() const { return process_ ? process_->pid() : -1; }
  // Waits until the log says the node runs and is connected.
  bool waitReady(std::chrono::milliseconds timeout = 15s);

  // Writes `json` into the node's socket and returns the one-line answer.
  std::string submit(const std::string& json);

  const std::string& name() const { return name_; }
  fs::path dir() const { return dir_; }
  fs::path dataFolder() const { return dir_ / "data"; }
  fs::path socket() const { return dir_ / "tmp" / "steward.sock"; }
  std::string log() const { return readFile(dir_ / "steward.log"); }
  std::string errorLog() const { return readFile(dataFolder() / "errorLog" / "errors.log"); }
  // The audit log: one JSON line per message event ("sent", "retried", "acked", …).
  std::string auditLog() const { return readFile(dir_ / "db" / "audit.log"); }

 private:
  std::string name_;
  fs::path dir_;
  fs::path trustedKeys_;
  std::string broker_;
  std::vector<std::string> flags_;
  std::unique_ptr<ChildProcess> process_;
};

// A test with its own temporary folder and nats-server.
class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts a node (and waits for it) with the given extra flags.
  StewardNode& startNode(const std::string& name, std::vector<std::string> flags = {});
  // Creates a node without starting it; `broker` (addresses, comma separated): other than the
  // test's own nats-server.
  StewardNode& makeNode(const std::string& name, std::vector<std::string> flags = {},
                        const std::string& broker = "");

  // A REQCliCommand-style message as JSON, for one receiver.
  static std::string command(const std::string& toNode, const std::string& shell,
                             const std::string& extra = "",
                             const std::string& method = "REQCliCommand");
  // A REQOpCommand for `toNode`; its reply lands at the sender in ops/<toNode>/<fileName>.
  static std::string op(const std::string& toNode, const std::string& operation,
                        const std::string& fileName);
  // steward-ctl, run in `node`'s folder and finding its socket through the node's config file.
  static RunResult ctl(const StewardNode& node, std::vector<std::string> args);
  // The ACK text of a sealed answer (what follows the seal line).
  static std::string ackOf(const std::string& answer) {
    const auto nl = answer.find('\n');
    return answer.rfind("SIG2 ", 0) == 0 && nl != std::string::npos ? answer.substr(nl + 1) : answer;
  }
  static bool accepted(const std::string& answer) {
    return answer.find("\"ok\":true") != std::string::npos;
  }
  // The ids an accepting answer gave ({"ok":true,"ids":[…]}), in order; empty for any other.
  static std::vector<uint64_t> idsOf(const std::string& answer);

  fs::path root_;
  std::unique_ptr<NatsServer> nats_;
  std::vector<std::unique_ptr<StewardNode>> nodes_;
  // Flags every node of the test gets before its own.
  std::vector<std::string> everyNodeFlags_;
};

// central with the TCP and HTTP inputs on free ports, and ship1 running REQCliCommand for it.
class ListenersTest : public E2eTest {
 protected:
  void SetUp() override;

  uint16_t tcpPort_ = 0;
  uint16_t httpPort_ = 0;
  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

}  // namespace steward::e2e
