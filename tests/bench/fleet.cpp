// A fan-out to a fleet of real daemons (prints figures; not a pass/fail test).
//
// Starts one nats-server, a central and N ships (real steward processes, each in its own folder,
// keys provisioned as the e2e tests do), sends one REQCliCommand to all N with toNodes, and prints
// the time from the input to the last reply at central, replies lost (none may be), and central's
// resident memory and CPU time. Real daemons are the truth for small fleets; N is bounded by what
// the machine can start (each daemon ~1.6 MiB of its own, 6 threads).
// Then the same on a three-server cluster (every node given the three addresses), with the server
// central uses killed (kill -9) once a third of the replies are in.
// Usage: steward_bench_fleet [N, comma separated]   (default 50,200)
#include "tests/e2e/harness.hpp"

#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

using namespace steward::e2e;
using Clock = std::chrono::steady_clock;

namespace {

// One fan-out to `n` real ships on `brokers`; with `cluster`, the server central uses is killed
// once a third of the replies are in. False when the fleet would not start.
bool fanOut(const fs::path& dir, const std::string& brokers, int n, NatsCluster* cluster) {
  StewardNode central("central", dir, brokers, {"--logLevel=info"});
  std::vector<std::unique_ptr<StewardNode>> ships;
  for (int i = 1; i <= n; ++i) {
    ships.push_back(std::make_unique<StewardNode>(
        "s" + std::to_string(i), dir, brokers,
        std::vector<std::string>{"--logLevel=info", "--startSubREQCliCommand=central"}));
  }
  central.start();
  for (auto& ship : ships) ship->start();
  bool up = central.waitReady(60s);
  for (auto& ship : ships) up = up && ship->waitReady(120s);
  if (!up) {
    std::cerr << "the fleet of " << n << " did not start\n";
    return false;
  }
  std::this_thread::sleep_for(1s);
  std::string json = R"([{"toNodes":[)";
  for (int i = 1; i <= n; ++i) json += std::string(i > 1 ? "," : "") + "\"s" + std::to_string(i) + "\"";
  json += R"(],"method":"REQCliCommand","data":["echo","hi"],"fileName":"f.log","ACKTimeout":5,"retries":20,"replyACKTimeout":5,"replyRetries":20}])";
  const int used = cluster != nullptr ? cluster->serverOf("steward-central") : -1;
  const ProcessUse before = processUse(central.pid());
  const auto start = Clock::now();
  const std::string answer = central.submit(json);
  if (answer.find("\"ok\":true") == std::string::npos) {
    std::cerr << "refused: " << answer.substr(0, 300) << "\n";
    return false;
  }
  // Replies, and copies of a reply beyond the first (a run twice would write "hi" twice).
  int twice = 0;
  auto replies = [&] {
    int got = 0;
    twice = 0;
    for (int i = 1; i <= n; ++i) {
      const std::string text = readFile(central.dataFolder() / ("s" + std::to_string(i)) / "f.log");
      if (text.rfind("hi\n", 0) == 0) ++got;
      if (text.size() > 3) ++twice;
    }
    return got;
  };
  bool killed = false;
  int got = 0;
  while ((got = replies()) < n && Clock::now() - start < 300s) {
    if (cluster != nullptr && used >= 0 && !killed && got >= n / 3) {
      cluster->server(static_cast<size_t>(used)).kill9();
      killed = true;
    }
    std::this_thread::sleep_for(20ms);
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::this_thread::sleep_for(2s);  // a reply that would come twice comes now
  got = replies();
  const ProcessUse after = processUse(central.pid());
  std::printf("fan-out to %d real daemons%s: last reply after %.2f s; %d of %d replies (%d lost, %d twice); "
              "central %.1f CPU-s, %.0f MiB resident\n",
              n, cluster == nullptr ? "" : (killed ? ", three-server cluster, central's server killed mid-way"
                                                   : ", three-server cluster (finished before the kill)"),
              took, got, n, n - got, twice, after.cpuSeconds - before.cpuSeconds,
              static_cast<double>(after.rssKiB) / 1024.0);
  std::fflush(stdout);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  std::istringstream list(argc > 1 ? argv[1] : "50,200");
  for (std::string n; std::getline(list, n, ',');) sizes.push_back(std::max(1, std::atoi(n.c_str())));
  // Short: a unix socket path inside it must stay under 108 bytes.
  const fs::path root = fs::temp_directory_path() / ("stwf-" + std::to_string(::getpid()));
  for (const bool clustered : {false, true}) {
    for (const int n : sizes) {
      const fs::path dir = root / ((clustered ? "c" : "") + std::to_string(n));
      fs::create_directories(dir);
      std::unique_ptr<NatsServer> nats;
      std::unique_ptr<NatsCluster> cluster;
      std::string brokers;
      if (clustered) {
        cluster = std::make_unique<NatsCluster>(dir / "cluster");
        if (!cluster->waitRouted()) {
          std::cerr << "the cluster did not form\n";
          return 1;
        }
        brokers = cluster->addresses();
      } else {
        nats = std::make_unique<NatsServer>(dir);
        brokers = nats->address();
      }
      if (!fanOut(dir, brokers, n, cluster.get())) return 1;
    }
  }
  fs::remove_all(root);
  return 0;
}
