// What a relay costs (prints figures; not a pass/fail test).
//
// In one run, real daemons with syncWrites on (as packaged): N sequenced, ACKed messages
// (REQToFileAppend, stored, ACKed and run at ship1) from central to ship1,
//   1. direct: central and ship1 on one nats-server;
//   2. relayed: central and the relay gw1 on one nats-server, ship1 on another that central does
//      not reach; gw1 takes each message into its store, ACKs it, forwards it under its own seal
//      and waits for ship1's ACK.
// Each figure is the median of 3 runs (min and max beside it); the relayed one as a ratio of the
// direct one. Usage: steward_bench_relay [messages]   (default 1000)
#include "tests/e2e/harness.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

using namespace steward::e2e;
using Clock = std::chrono::steady_clock;

namespace {

// Messages per second from central's submit to the last one run at ship1; 0 when it failed.
double rate(const fs::path& root, int count, bool relayed) {
  static int run = 0;
  const fs::path dir = root / ("run" + std::to_string(++run));
  fs::create_directories(dir / "near");
  fs::create_directories(dir / "far");
  NatsServer near(dir / "near", freePort());
  std::unique_ptr<NatsServer> far;
  std::vector<std::unique_ptr<StewardNode>> nodes;
  const std::vector<std::string> quiet{"--logLevel=info"};
  auto flags = [&](std::vector<std::string> more) {
    more.insert(more.end(), quiet.begin(), quiet.end());
    return more;
  };
  if (relayed) {
    far = std::make_unique<NatsServer>(dir / "far", freePort());
    nodes.push_back(std::make_unique<StewardNode>("central", dir, near.address(), flags({"--carriers=gw1=ship1"})));
    nodes.push_back(std::make_unique<StewardNode>(
        "gw1", dir, near.address(), flags({"--relayBrokerAddress=" + far->address(), "--relayNodes=ship1"})));
    nodes.push_back(std::make_unique<StewardNode>("ship1", dir, far->address(), flags({"--carriers=gw1=*"})));
  } else {
    nodes.push_back(std::make_unique<StewardNode>("central", dir, near.address(), flags({})));
    nodes.push_back(std::make_unique<StewardNode>("ship1", dir, near.address(), flags({})));
  }
  for (auto& n : nodes) n->start();
  for (auto& n : nodes) {
    if (!n->waitReady(30s)) {
      std::cerr << n->name() << " did not start\n" << n->log();
      return 0;
    }
  }
  const std::string batch = appendBatch("ship1", count);
  StewardNode& ship1 = *nodes.back();
  const fs::path file = ship1.dataFolder() / "bench" / "central" / "b.log";
  std::this_thread::sleep_for(1s);
  const auto start = Clock::now();
  const std::string answer = nodes.front()->submit(batch);
  if (answer.find("\"ok\":true") == std::string::npos) {
    std::cerr << "refused: " << answer;
    return 0;
  }
  const bool done = waitFor([&] { return fs::exists(file) && fs::file_size(file) >= static_cast<uintmax_t>(count) * 2; },
                            600s);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& n : nodes) n->stop();
  if (!done) {
    std::cerr << "not all arrived\n" << nodes.front()->errorLog();
    return 0;
  }
  return count / seconds;
}

struct Figures {
  double min = 0, median = 0, max = 0;
};

Figures threeRuns(const fs::path& root, int count, bool relayed) {
  std::vector<double> rates{rate(root, count, relayed), rate(root, count, relayed), rate(root, count, relayed)};
  std::sort(rates.begin(), rates.end());
  return {rates[0], rates[1], rates[2]};
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::stoi(argv[1]) : 1000;
  const fs::path root = fs::temp_directory_path() / ("steward-bench-relay-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  const Figures direct = threeRuns(root, count, false);
  const Figures relayed = threeRuns(root, count, true);
  std::printf("%d sequenced ACKed messages central -> ship1 (REQToFileAppend), syncWrites on, median of 3:\n", count);
  std::printf("direct, one nats-server:           %8.0f msg/s (min %.0f, max %.0f)\n", direct.median, direct.min,
              direct.max);
  std::printf("through relay gw1, two nats-servers: %6.0f msg/s (min %.0f, max %.0f), %.2f of direct\n",
              relayed.median, relayed.min, relayed.max, direct.median > 0 ? relayed.median / direct.median : 0.0);
  fs::remove_all(root);
  return direct.median > 0 && relayed.median > 0 ? 0 : 1;
}
