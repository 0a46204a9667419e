// A fan-out to a fleet of real daemons (prints figures; not a pass/fail test).
//
// Starts one nats-server, a central and N ships (real steward processes, each in its own folder,
// keys provisioned as the e2e tests do), sends one REQCliCommand to all N with toNodes, and prints
// the time from the input to the last reply at central, replies lost (none may be), and central's
// resident memory and CPU time. Real daemons are the truth for small fleets; N is bounded by what
// the machine can start (each daemon ~1.6 MiB of its own, 6 threads).
// Usage: steward_bench_fleet [N, comma separated]   (default 50,200)
#include "tests/e2e/harness.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

using namespace steward::e2e;
using Clock = std::chrono::steady_clock;

namespace {

struct Proc {
  double cpuSeconds = 0;
  long rssKiB = 0;
};

Proc procOf(int pid) {
  Proc p;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  for (int i = 1; i <= 13 && rest >> field; ++i) {
    if (i == 12 || i == 13) p.cpuSeconds += std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) p.rssKiB = std::atol(line.substr(6).c_str());
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  std::istringstream list(argc > 1 ? argv[1] : "50,200");
  for (std::string n; std::getline(list, n, ',');) sizes.push_back(std::max(1, std::atoi(n.c_str())));
  // Short: a unix socket path inside it must stay under 108 bytes.
  const fs::path root = fs::temp_directory_path() / ("stwf-" + std::to_string(::getpid()));
  for (const int n : sizes) {
    const fs::path dir = root / std::to_string(n);
    fs::create_directories(dir);
    NatsServer nats(dir);
    StewardNode central("central", dir, nats.address(), {"--logLevel=info"});
    std::vector<std::unique_ptr<StewardNode>> ships;
    for (int i = 1; i <= n; ++i) {
      ships.push_back(std::make_unique<StewardNode>("s" + std::to_string(i), dir, nats.address(),
                                                    std::vector<std::string>{"--logLevel=info",
                                                                             "--startSubREQCliCommand=central"}));
    }
    central.start();
    for (auto& ship : ships) ship->start();
    bool up = central.waitReady(60s);
    for (auto& ship : ships) up = up && ship->waitReady(120s);
    if (!up) {
      std::cerr << "the fleet of " << n << " did not start\n";
      return 1;
    }
    std::this_thread::sleep_for(1s);
    std::string json = R"([{"toNodes":[)";
    for (int i = 1; i <= n; ++i) json += std::string(i > 1 ? "," : "") + "\"s" + std::to_string(i) + "\"";
    json += R"(],"method":"REQCliCommand","data":["echo","hi"],"fileName":"f.log","ACKTimeout":5,"retries":20,"replyACKTimeout":5,"replyRetries":20}])";
    const Proc before = procOf(central.pid());
    const auto start = Clock::now();
    const std::string answer = central.submit(json);
    if (answer.find("\"ok\":true") == std::string::npos) {
      std::cerr << "refused: " << answer.substr(0, 300) << "\n";
      return 1;
    }
    auto replies = [&] {
      int got = 0;
      for (int i = 1; i <= n; ++i) {
        if (readFile(central.dataFolder() / ("s" + std::to_string(i)) / "f.log") == "hi\n") ++got;
      }
      return got;
    };
    int got = 0;
    while ((got = replies()) < n && Clock::now() - start < 300s) std::this_thread::sleep_for(20ms);
    const double took = std::chrono::duration<double>(Clock::now() - start).count();
    const Proc after = procOf(central.pid());
    std::printf("fan-out to %d real daemons: last reply after %.2f s; %d of %d replies (%d lost); central "
                "%.1f CPU-s, %.0f MiB resident\n",
                n, took, got, n, n - got, after.cpuSeconds - before.cpuSeconds,
                static_cast<double>(after.rssKiB) / 1024.0);
    std::fflush(stdout);
  }
  fs::remove_all(root);
  return 0;
}
