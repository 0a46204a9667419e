// Accepting a fan-out at central (prints figures; not a pass/fail test).
//
// For each N given: one real central on a real nats-server takes one message with toNodes naming
// N nodes (none of them running: only central's side is measured) and the time to accept it,
// central's CPU for it and its resident memory before and after are printed.
// Usage: steward_bench_fanout [N, comma separated]   (default 1000,10000)
#include "tests/e2e/harness.hpp"

#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

using namespace steward::e2e;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::vector<int> sizes;
  std::istringstream list(argc > 1 ? argv[1] : "1000,10000");
  for (std::string n; std::getline(list, n, ',');) sizes.push_back(std::max(1, std::atoi(n.c_str())));
  const fs::path root = fs::temp_directory_path() / ("stw-bench-fanout-" + std::to_string(::getpid()));
  for (const int n : sizes) {
    const fs::path dir = root / std::to_string(n);
    fs::create_directories(dir);
    NatsServer nats(dir);
    StewardNode central("central", dir, nats.address(), {"--logLevel=info"});
    central.start();
    if (!central.waitReady()) {
      std::cerr << "central did not start\n" << central.log();
      return 1;
    }
    std::string json = R"([{"toNodes":[)";
    for (int i = 1; i <= n; ++i) json += std::string(i > 1 ? "," : "") + "\"ship" + std::to_string(i) + "\"";
    json += R"(],"method":"REQCliCommand","data":["uptime"],"ACKTimeout":600,"retries":0}])";
    std::this_thread::sleep_for(500ms);
    const ProcessUse before = processUse(central.pid());
    const auto start = Clock::now();
    const std::string answer = central.submit(json);
    const double took = std::chrono::duration<double>(Clock::now() - start).count();
    if (answer.find("\"ok\":true") == std::string::npos) {
      std::cerr << "refused: " << answer.substr(0, 300) << "\n";
      return 1;
    }
    std::this_thread::sleep_for(2s);  // every message handed to its publisher and sent once
    const ProcessUse after = processUse(central.pid());
    std::printf("fan-out to %d nodes: accepted in %.2f s (%.0f us per node), central %.1f CPU-s; "
                "resident %.0f MiB before, %.0f MiB after (%.1f KiB per node waiting)\n",
                n, took, took * 1e6 / n, after.cpuSeconds - before.cpuSeconds,
                static_cast<double>(before.rssKiB) / 1024.0, static_cast<double>(after.rssKiB) / 1024.0,
                static_cast<double>(after.rssKiB - before.rssKiB) / n);
    std::fflush(stdout);
  }
  fs::remove_all(root);
  return 0;
}
