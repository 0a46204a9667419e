#include "tests/e2e/harness.hpp"

#include "tests/support/posix.hpp"

#include "core/security/identity.hpp"

#include <httplib.h>
#include <nats/nats.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace steward::e2e {

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string appendBatch(const std::string& toNode, int count) {
  std::string batch = "[";
  for (int i = 0; i < count; ++i) {
    batch += std::string(i ? "," : "") + R"({"toNode":")" + toNode +
             R"(","method":"REQToFileAppend","data":["x"],"directory":"bench","fileName":"b.log","ACKTimeout":10})";
  }
  return batch + "]";
}

size_t countLines(const std::string& text, const std::string& containing) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(containing) != std::string::npos) ++n;
  }
  return n;
}

bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const fs::path& cwd,
                           const fs::path& log, const fs::path& errorLog) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, STDOUT_FILENO);
    if (!errorLog.empty()) fd = ::open(errorLog.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, STDERR_FILENO);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() { terminate(); }

RunResult runToEnd(const std::vector<std::string>& argv, const fs::path& cwd,
                   std::chrono::milliseconds limit) {
  static std::atomic<int> runs{0};
  const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(runs++);
  const fs::path out = fs::temp_directory_path() / ("stw-run-" + tag + ".out");
  const fs::path err = fs::temp_directory_path() / ("stw-run-" + tag + ".err");
  RunResult result;
  {
    ChildProcess child(argv, cwd, out, err);
    const bool ended = waitFor([&] { return !child.running(); }, limit);
    const int status = child.terminate();
    if (ended && WIFEXITED(status)) result.exitCode = WEXITSTATUS(status);
  }
  result.out = readFile(out);
  result.err = readFile(err);
  std::error_code ec;
  fs::remove(out, ec);
  fs::remove(err, ec);
  return result;
}

bool ChildProcess::running() {
  if (reaped_ || pid_ <= 0) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

int ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (!running()) return status_;
  ::kill(pid_, SIGTERM);
  waitFor([&] { return !running(); }, grace);
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  return status_;
}

void ChildProcess::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status_, 0);
  reaped_ = true;
}

NatsServer::NatsServer(const fs::path& dir, uint16_t port, fs::path config, std::vector<std::string> extra)
    : dir_(dir), port_(port == 0 ? freePort() : port), config_(std::move(config)), extra_(std::move(extra)) {
  start();
}

NatsServer::~NatsServer() { stop(); }

void NatsServer::start() {
  std::vector<std::string> argv{NATS_SERVER_BINARY, "-a", "127.0.0.1", "-p", std::to_string(port_)};
  if (!config_.empty()) argv.insert(argv.end(), {"-c", config_.string()});
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  process_ = std::make_unique<ChildProcess>(argv, dir_, dir_ / "nats-server.log");
  // Ready when it accepts a TCP connection.
  const bool ready = waitFor(
      [&] {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port_);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        return ok;
      },
      10s);
  if (!ready) ADD_FAILURE() << "nats-server did not start on port " << port_;
}

void NatsServer::stop() { process_.reset(); }

void NatsServer::kill9() {
  if (process_) process_->kill9();
  process_.reset();
}

namespace {

// `count` distinct free ports: every socket is held until all are picked, so none comes twice.
std::vector<uint16_t> freePorts(size_t count) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    fds.push_back(fd);
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

}  // namespace

NatsCluster::NatsCluster(const fs::path& dir) {
  const auto ports = freePorts(9);
  for (size_t i = 0; i < 3; ++i) {
    clusterPorts_.push_back(ports[3 + i]);
    monitorPorts_.push_back(ports[6 + i]);
  }
  for (size_t i = 0; i < 3; ++i) {
    std::string routes;
    for (size_t j = 0; j < 3; ++j) {
      if (j == i) continue;
      routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(clusterPorts_[j]);
    }
    const fs::path folder = dir / ("nats" + std::to_string(i + 1));
    fs::create_directories(folder);
    servers_.push_back(std::make_unique<NatsServer>(
        folder, ports[i], fs::path{},
        std::vector<std::string>{"--cluster_name", "steward",
                                 "--cluster", "nats://127.0.0.1:" + std::to_string(clusterPorts_[i]),
                                 "--routes", routes, "-m", std::to_string(monitorPorts_[i])}));
  }
}

std::string NatsCluster::addresses() const {
  std::string out;
  for (const auto& s : servers_) out += (out.empty() ? "" : ",") + s->address();
  return out;
}

bool NatsCluster::waitRouted(std::chrono::milliseconds timeout) {
  // The monitoring endpoint's /routez says how many routes a server has.
  return waitFor(
      [&] {
        for (const uint16_t port : monitorPorts_) {
          httplib::Client client("127.0.0.1", port);
          auto res = client.Get("/routez");
          if (!res || res->status != 200 || res->body.find("\"num_routes\": 2") == std::string::npos) return false;
        }
        return true;
      },
      timeout);
}

void NatsServer::reload() {
  if (process_ != nullptr) ::kill(process_->pid(), SIGHUP);
}

BrokerSpy::BrokerSpy(const std::string& address, const std::string& subject) {
  const std::string url = "nats://" + address;
  if (natsConnection_ConnectTo(&conn_, url.c_str()) != NATS_OK) {
    ADD_FAILURE() << "spy cannot connect to " << url;
    return;
  }
  if (natsConnection_Subscribe(&sub_, conn_, subject.c_str(), onMessage, this) != NATS_OK) {
    ADD_FAILURE() << "spy cannot subscribe to " << subject;
  }
  natsConnection_Flush(conn_);
}

BrokerSpy::~BrokerSpy() {
  if (sub_ != nullptr) {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
  if (conn_ != nullptr) {
    natsConnection_Close(conn_);
    natsConnection_Destroy(conn_);
  }
}

void BrokerSpy::onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  ++static_cast<BrokerSpy*>(closure)->count_;
  natsMsg_Destroy(msg);
}

BrokerClient::BrokerClient(const std::string& address) {
  const std::string url = "nats://" + address;
  if (natsConnection_ConnectTo(&conn_, url.c_str()) != NATS_OK) {
    ADD_FAILURE() << "client cannot connect to " << url;
  }
}

BrokerClient::~BrokerClient() {
  if (conn_ != nullptr) {
    natsConnection_Close(conn_);
    natsConnection_Destroy(conn_);
  }
}

std::string BrokerClient::request(const std::string& subject, const std::string& payload,
                                  std::chrono::milliseconds timeout) {
  natsMsg* reply = nullptr;
  if (natsConnection_Request(&reply, conn_, subject.c_str(), payload.data(),
                             static_cast<int>(payload.size()), timeout.count()) != NATS_OK) {
    return "";
  }
  std::string out(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  return out;
}

StewardNode::StewardNode(std::string name, const fs::path& root, const std::string& broker,
                         std::vector<std::string> flags)
    : name_(std::move(name)),
      dir_(root / name_),
      trustedKeys_(root / "trusted-keys"),
      broker_(broker),
      flags_(std::move(flags)) {
  fs::create_directories(dir_);
  // Provisioned as configuration management would: the node's key pair made ahead of its first
  // start, its public key put where every node of the test looks for trusted keys.
  fs::create_directories(trustedKeys_);
  if (!fs::exists(dir_ / "db" / "keys" / "node.key")) {
    auto identity = security::Identity::create(dir_ / "db" / "keys");
    if (!identity) {
      ADD_FAILURE() << identity.error().message;
    } else {
      std::ofstream(trustedKeys_ / (name_ + ".pub")) << identity->publicKey() << "\n";
    }
  }
}

StewardNode::~StewardNode() { stop(); }

void StewardNode::start() {
  std::vector<std::string> argv = {STEWARD_BINARY,
                                   "--nodeName=" + name_,
                                   "--brokerAddress=" + broker_,
                                   "--socketFolder=" + (dir_ / "tmp").string(),
                                   "--databaseFolder=" + (dir_ / "db").string(),
                                   "--subscribersDataFolder=" + dataFolder().string(),
                                   "--trustedKeysFolder=" + trustedKeys_.string(),
                                   "--logLevel=debug"};
  argv.insert(argv.end(), flags_.begin(), flags_.end());
  const bool ownFolder = std::any_of(flags_.begin(), flags_.end(), [](const std::string& f) {
    return f.rfind("--pluginFolder=", 0) == 0;
  });
  if (!ownFolder) argv.push_back("--pluginFolder=" + std::string(STEWARD_PLUGIN_DIR));
  process_ = std::make_unique<ChildProcess>(argv, dir_, dir_ / "steward.log");
}

int StewardNode::stop() {
  if (!process_) return 0;
  int status = process_->terminate();
  process_.reset();
  // In a sanitizer build every daemon checks itself; LeakSanitizer reports at exit.
  const std::string l = log();
  if (const auto at = l.find("Sanitizer"); at != std::string::npos) {
    ADD_FAILURE() << name_ << " reported a sanitizer finding:\n" << l.substr(at > 200 ? at - 200 : 0, 6000);
  }
  // A daemon ends on SIGTERM by itself (or by it, when it comes before the handler is set up);
  // dying of another signal (but the SIGKILL sent when the grace ran out) is a crash, e.g. in a
  // library's cleanup at exit.
  if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL && WTERMSIG(status) != SIGTERM) {
    ADD_FAILURE() << name_ << " died of signal " << WTERMSIG(status) << " when stopped:\n"
                  << l.substr(l.size() > 3000 ? l.size() - 3000 : 0);
  }
  return status;
}

void StewardNode::kill9() {
  if (process_) process_->kill9();
  process_.reset();
}

bool StewardNode::waitReady(std::chrono::milliseconds timeout) {
  const std::string running = "node " + name_ + " running";
  return waitFor(
      [&] {
        const std::string l = log();
        return l.find(running) != std::string::npos &&
               l.find("connected to broker") != std::string::npos && fs::exists(socket());
      },
      timeout);
}

std::string StewardNode::submit(const std::string& json) {
  return testing::unixRoundTrip(socket(), json);
}

void E2eTest::SetUp() {
  // Short: a unix socket path inside it must stay under 108 bytes.
  static int counter = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  root_ = fs::temp_directory_path() /
          ("stw-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  fs::remove_all(root_);
  fs::create_directories(root_);
  std::ofstream(root_ / "TEST") << info->test_suite_name() << "." << info->name() << "\n";
  nats_ = std::make_unique<NatsServer>(root_);
}

void E2eTest::TearDown() {
  nodes_.clear();
  nats_.reset();
  // Keep the folder of a failed test for a look at the logs.
  if (!HasFailure()) {
    fs::remove_all(root_);
  } else {
    std::cerr << "logs kept in " << root_ << "\n";
  }
}

ProcessUse processUse(int pid) {
  ProcessUse p;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // The fields after the command name (which ends with ')'): utime and stime are the 12th and 13th.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  for (int i = 1; i <= 13 && rest >> field; ++i) {
    if (i == 12 || i == 13) p.cpuSeconds += std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) p.rssKiB = std::atol(line.substr(6).c_str());
    if (line.rfind("Threads:", 0) == 0) p.threads = std::atol(line.substr(8).c_str());
  }
  return p;
}

std::map<std::string, double> scrapeMetrics(uint16_t port) {
  std::map<std::string, double> out;
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return out;
  std::istringstream lines(res->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

StewardNode& E2eTest::makeNode(const std::string& name, std::vector<std::string> flags,
                               const std::string& broker) {
  flags.insert(flags.begin(), everyNodeFlags_.begin(), everyNodeFlags_.end());
  nodes_.push_back(std::make_unique<StewardNode>(name, root_, broker.empty() ? nats_->address() : broker,
                                                 std::move(flags)));
  return *nodes_.back();
}

std::vector<uint64_t> E2eTest::idsOf(const std::string& answer) {
  std::vector<uint64_t> ids;
  const auto open = answer.find("\"ids\":[");
  if (!accepted(answer) || open == std::string::npos) return ids;
  std::istringstream list(answer.substr(open + 7, answer.find(']', open) - open - 7));
  for (std::string id; std::getline(list, id, ',');) ids.push_back(std::stoull(id));
  return ids;
}

StewardNode& E2eTest::startNode(const std::string& name, std::vector<std::string> flags) {
  StewardNode& node = makeNode(name, std::move(flags));
  node.start();
  EXPECT_TRUE(node.waitReady()) << name << " did not start:\n" << node.log();
  return node;
}

std::string E2eTest::op(const std::string& toNode, const std::string& operation,
                        const std::string& fileName) {
  return R"([{"toNode":")" + toNode + R"(","method":"REQOpCommand","operation":)" + operation +
         R"(,"directory":"ops","fileName":")" + fileName +
         R"(","replyACKTimeout":1,"replyRetries":10}])";
}

RunResult E2eTest::ctl(const StewardNode& node, std::vector<std::string> args) {
  // The options before the command, so they stay out of a program after "--".
  args.insert(args.begin(), {STEWARD_CTL_BINARY, "--config-folder=" + (node.dir() / "etc").string()});
  return runToEnd(args, node.dir(), 90s);
}

std::string E2eTest::command(const std::string& toNode, const std::string& shell,
                             const std::string& extra, const std::string& method) {
  std::string escaped;
  for (char c : shell) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  return R"([{"toNode":")" + toNode + R"(","method":")" + method +
         R"(","data":["bash","-c",")" + escaped + "\"]" + (extra.empty() ? "" : "," + extra) +
         "}]";
}

void ListenersTest::SetUp() {
  E2eTest::SetUp();
  tcpPort_ = freePort();
  httpPort_ = freePort();
  central_ = &startNode("central", {"--tcpListener=127.0.0.1:" + std::to_string(tcpPort_),
                                    "--httpListener=127.0.0.1:" + std::to_string(httpPort_)});
  ship1_ = &startNode("ship1", {"--startSubREQCliCommand=central"});
  ASSERT_TRUE(waitFor([&] { return central_->log().find("taking input over HTTP") != std::string::npos; }, 10s));
}

int NatsCluster::serverOf(const std::string& clientName) {
  for (size_t i = 0; i < monitorPorts_.size(); ++i) {
    httplib::Client client("127.0.0.1", monitorPorts_[i]);
    auto res = client.Get("/connz");
    if (res && res->status == 200 && res->body.find("\"name\": \"" + clientName + "\"") != std::string::npos) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace steward::e2e
