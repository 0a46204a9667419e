// A fleet of thousands of nodes in steward-sim against a real central daemon, on a three-server
// nats-server cluster (prints figures; not a pass/fail test).
//
// For each fleet size N: starts the cluster, central (a real daemon given the three addresses,
// with its metrics endpoint) and steward-sim with N nodes (hellos every 60 s, keys provisioned
// where central looks; without fsync: N nodes share this one disk, where each real node syncs its
// own; central syncs), then prints
//   - how long the simulator took to start N nodes, and its memory and threads;
//   - a fan-out (one message with toNodes to all N): time from the input to the last reply at
//     central, replies lost and run twice, central's CPU time and resident memory; with REQPing
//     (nothing started on the node) and with REQCliCommand running `echo` (on a real fleet each
//     node starts its process; here all N start on this machine);
//     the first REQPing fan-out after the start is printed apart: each node's first message writes
//     its epoch and first block of ids with a sync (N nodes share this one disk);
//   - the REQPing fan-out with the server central is connected to killed (kill -9) once a third
//     of the replies are in;
//   - hellos: the simulator restarted with a hello every H seconds from every node (default 20:
//     a fleet at the usual 60 s with 3x headroom), and what central handled per second against
//     what was offered, with its inbox queue at the end (flat: it keeps up).
// Usage: steward_bench_sim [N, comma separated] [H]   (default 1000,10000 and 20)
#include "tests/e2e/harness.hpp"

#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

using namespace steward::e2e;
using Clock = std::chrono::steady_clock;

namespace {

class Fleet {
 public:
  Fleet(const fs::path& dir, int n) : dir_(dir), n_(n), cluster_(dir / "cluster") {}

  bool start() {
    if (!cluster_.waitRouted()) {
      std::cerr << "the cluster did not form\n";
      return false;
    }
    metricsPort_ = freePort();
    central_ = std::make_unique<StewardNode>(
        "central", dir_, cluster_.addresses(),
        std::vector<std::string>{"--logLevel=info", "--promHostAndPort=127.0.0.1:" + std::to_string(metricsPort_)});
    central_->start();
    if (!central_->waitReady(60s)) {
      std::cerr << "central did not start\n" << central_->log();
      return false;
    }
    return true;
  }

  // Starts the simulator with a hello every `helloSeconds` from each node, the nodes started at
  // `perSecond`; false when it did not come up.
  bool startSim(int helloSeconds, double perSecond) {
    ++simStarts_;
    const fs::path keys = dir_ / "trusted-keys";
    sim_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{STEWARD_SIM_BINARY, "--nodes=" + std::to_string(n_),
                                 "--folder=" + (dir_ / "sim").string(), "--provisionKeys=" + keys.string(),
                                 "--startPerSecond=" + std::to_string(perSecond), "--",
                                 "--brokerAddress=" + cluster_.addresses(), "--trustedKeysFolder=" + keys.string(),
                                 "--startSubREQCliCommand=central", "--startSubREQPing=central",
                                 "--startPubREQHello=" + std::to_string(helloSeconds), "--syncWrites=false",
                                 "--logLevel=warning", "--pluginFolder=" STEWARD_PLUGIN_DIR},
        dir_, simLog());
    const auto began = Clock::now();
    if (!waitFor([&] { return readFile(simLog()).find(" nodes running") != std::string::npos; }, 900s)) {
      std::cerr << "steward-sim did not start " << n_ << " nodes\n" << readFile(simLog()).substr(0, 2000);
      return false;
    }
    const ProcessUse use = processUse(sim_->pid());
    std::printf("  steward-sim started %d nodes in %.1f s: %.0f MiB resident, %ld threads, %.1f CPU-s\n", n_,
                std::chrono::duration<double>(Clock::now() - began).count(), static_cast<double>(use.rssKiB) / 1024.0,
                use.threads, use.cpuSeconds);
    std::fflush(stdout);
    return true;
  }

  void stopSim() { sim_.reset(); }

  // Central's metric `name` (with labels), 0 when absent.
  double metric(const std::string& name) {
    const auto all = scrapeMetrics(metricsPort_);
    const auto it = all.find(name);
    return it == all.end() ? 0 : it->second;
  }

  // Waits until central has handled `count` hellos in all (up to `limit`).
  bool waitHellos(double count, std::chrono::seconds limit) {
    return waitFor([&] { return metric(R"(steward_messages_executed_total{method="REQHello"})") >= count; }, limit);
  }

  // One message to every node: `ping` REQPing, else REQCliCommand `echo hi`; with `killServer`,
  // central's server is killed once a third of the replies are in.
  void fanOut(bool ping, const std::string& fileName, bool killServer) {
    std::string json = R"([{"toNodes":[)";
    for (int i = 1; i <= n_; ++i) json += std::string(i > 1 ? "," : "") + "\"s" + std::to_string(i) + "\"";
    json += std::string(ping ? R"(],"method":"REQPing","replyMethod":"REQToFileAppend")"
                             : R"(],"method":"REQCliCommand","data":["echo","hi"])") +
            R"(,"fileName":")" + fileName + R"(","ACKTimeout":10,"retries":30,"replyACKTimeout":10,"replyRetries":30}])";
    auto expected = [&](int i) { return ping ? "pong from s" + std::to_string(i) + "\n" : std::string("hi\n"); };
    const int used = cluster_.serverOf("steward-central");
    const ProcessUse before = processUse(central_->pid());
    const auto start = Clock::now();
    const std::string answer = central_->submit(json);
    const double acceptedAfter = std::chrono::duration<double>(Clock::now() - start).count();
    if (answer.find("\"ok\":true") == std::string::npos) {
      std::cerr << "refused: " << answer.substr(0, 300) << "\n";
      return;
    }
    std::vector<int> missing;
    for (int i = 1; i <= n_; ++i) missing.push_back(i);
    auto replyOf = [&](int i) { return central_->dataFolder() / ("s" + std::to_string(i)) / fileName; };
    bool killed = false;
    double took = 0;
    while (!missing.empty() && Clock::now() - start < 600s) {
      std::erase_if(missing, [&](int i) { return fs::exists(replyOf(i)); });
      took = std::chrono::duration<double>(Clock::now() - start).count();
      if (killServer && !killed && used >= 0 && static_cast<int>(missing.size()) <= n_ - n_ / 3) {
        cluster_.server(static_cast<size_t>(used)).kill9();
        killed = true;
      }
      std::this_thread::sleep_for(100ms);
    }
    const ProcessUse after = processUse(central_->pid());
    std::this_thread::sleep_for(3s);  // a reply that would come twice comes now
    int twice = 0;
    for (int i = 1; i <= n_; ++i) twice += readFile(replyOf(i)).size() > expected(i).size() ? 1 : 0;
    const ProcessUse sim = processUse(sim_->pid());
    std::printf("  %s fan-out to %d nodes%s: accepted in %.2f s, last reply after %.2f s; %zu lost, %d twice; "
                "central %.1f CPU-s, %.0f MiB resident; steward-sim %.0f MiB, %ld threads\n",
                ping ? "REQPing" : "REQCliCommand echo", n_, killServer ? (killed ? " (central's server killed mid-way)" : " (done before the kill)") : "",
                acceptedAfter, took, missing.size(), twice, after.cpuSeconds - before.cpuSeconds,
                static_cast<double>(after.rssKiB) / 1024.0, static_cast<double>(sim.rssKiB) / 1024.0,
                sim.threads);
    std::fflush(stdout);
    if (killed) cluster_.server(static_cast<size_t>(used)).start();
  }

  // Hellos every `seconds` from every node, measured over two intervals after one to settle.
  void hellos(int seconds) {
    stopSim();
    if (!startSim(seconds, static_cast<double>(n_) / seconds)) return;
    const std::string executed = R"(steward_messages_executed_total{method="REQHello"})";
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    const double first = metric(executed);
    const ProcessUse before = processUse(central_->pid());
    const auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(2 * seconds));
    const double handled = metric(executed) - first;
    const double took = std::chrono::duration<double>(Clock::now() - start).count();
    const ProcessUse after = processUse(central_->pid());
    std::printf("  hellos from %d nodes every %d s: offered %.0f/s, central handled %.0f/s (%.2f of offered), "
                "its inbox queue %.0f at the end; %.2f CPU-s per second, %.0f MiB resident\n",
                n_, seconds, static_cast<double>(n_) / seconds, handled / took,
                handled / took / (static_cast<double>(n_) / seconds), metric("steward_inbox_queued"),
                (after.cpuSeconds - before.cpuSeconds) / took, static_cast<double>(after.rssKiB) / 1024.0);
    std::fflush(stdout);
  }

 private:
  fs::path simLog() const { return dir_ / ("sim-" + std::to_string(simStarts_) + ".log"); }

  fs::path dir_;
  int n_;
  NatsCluster cluster_;
  uint16_t metricsPort_ = 0;
  std::unique_ptr<StewardNode> central_;
  std::unique_ptr<ChildProcess> sim_;
  int simStarts_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  std::istringstream list(argc > 1 ? argv[1] : "1000,10000");
  for (std::string n; std::getline(list, n, ',');) sizes.push_back(std::max(1, std::atoi(n.c_str())));
  const int helloSeconds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  // Short: a unix socket path inside it must stay under 108 bytes.
  const fs::path root = fs::temp_directory_path() / ("stws-" + std::to_string(::getpid()));
  for (const int n : sizes) {
    std::printf("%d nodes in steward-sim, a real central, a three-server cluster:\n", n);
    const fs::path dir = root / std::to_string(n);
    fs::create_directories(dir);
    Fleet fleet(dir, n);
    if (!fleet.start() || !fleet.startSim(60, 1000)) return 1;
    // The first hellos (one per node as it starts) are handled before the fan-outs.
    if (!fleet.waitHellos(n, 300s)) std::printf("  (central had not handled the %d first hellos after 300 s)\n", n);
    // The first message a node sends writes its database's epoch and first block of ids, each
    // with a sync: the first fan-out after a start pays that once per node, the next do not.
    fleet.fanOut(true, "first.log", false);
    fleet.fanOut(true, "a.log", false);
    fleet.fanOut(false, "b.log", false);
    fleet.fanOut(true, "c.log", true);
    fleet.hellos(helloSeconds);
  }
  fs::remove_all(root);
  return 0;
}
