// Throughput benchmark (prints figures; not a pass/fail test).
//
// In one run, against one nats-server on a free loopback port:
//   1. raw nats.c request/reply: a responder on a SendAsap connection, one request at a time;
//   2. steward, ACKed sequenced messages central -> ship1 (REQToFileAppend: stored in ship1's
//      inbox, ACKed, run, removed), with --syncWrites=true (fsync per write batch), for each
//      --sendWindow given;
//   3. the same with --syncWrites=false;
//   4. for each steward run: CPU-ms and context switches per message on each node (from /proc),
//      synced writes per message at the receiver (its steward_store_synced_writes_total),
//      and the idle RSS and threads of a node with the default subscribers only;
//   5. one central and four ships: REQToFileAppend (sequenced) and REQnCliCommand `echo`
//      (concurrent, a process per message) to all four at once, against four raw request/reply
//      streams side by side.
// Each steward figure is the median of 3 runs (min and max beside it), as a ratio of raw.
// Usage: steward_bench [messages] [windows, comma separated]   (default 2000 1,8)
#include "tests/e2e/harness.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <fstream>
#include <thread>
#include <cstdio>
#include <vector>
#include <iostream>

using namespace steward::e2e;
using Clock = std::chrono::steady_clock;

namespace {

// What /proc says of a process: CPU time, context switches, threads and resident memory.
struct ProcStats {
  double cpuMs = 0;
  double switches = 0;
  long threads = 0;
  long rssKiB = 0;
  long anonKiB = 0;  // resident and not backed by a file: heap and stacks, the node's own
  long floorKiB = 0;  // resident pages of what any nats.c program maps before a line of steward runs
  std::map<std::string, double> switchesByThread;  // by thread name; nats.c's threads together
};

ProcStats procStats(int pid) {
  ProcStats p;
  const ProcessUse use = processUse(pid);
  p.cpuMs = use.cpuSeconds * 1000.0;
  p.rssKiB = use.rssKiB;
  p.threads = use.threads;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    auto value = [&] { return std::atol(line.substr(line.find(':') + 1).c_str()); };
    if (line.rfind("RssAnon:", 0) == 0) p.anonKiB = value();
  }
  // Context switches are counted per thread: the process's own status has its main thread's only.
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    // The daemon names its own threads "stw-…" (its main thread keeps the process's name, as do
    // the ones nats.c starts).
    if (task.path().filename() == std::to_string(pid)) {
      name = "main";
    } else if (name.rfind("stw-", 0) != 0) {
      name = "nats.c";
    }
    std::ifstream taskStatus(task.path() / "status");
    for (std::string line; std::getline(taskStatus, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        const double n = static_cast<double>(std::atol(line.substr(line.find(':') + 1).c_str()));
        p.switches += n;
        p.switchesByThread[name] += n;
      }
    }
  }
  return p;
}

// Per message, on each node, for the last steward run; and a node at rest.
struct PerMessage {
  double centralCpuMs = 0, shipCpuMs = 0, centralSwitches = 0, shipSwitches = 0;
  double shipSyncedWrites = 0;  // synced writes ship1's store made (LevelDB may share a sync)
  std::string centralByThread, shipByThread;  // context switches per message by thread
};

// "stw-io 1.2, nats.c 3.4": the context switches per message of each kind of thread.
std::string perThread(const ProcStats& before, const ProcStats& after, int count) {
  std::string out;
  for (const auto& [name, n] : after.switchesByThread) {
    const auto was = before.switchesByThread.find(name);
    const double per = (n - (was == before.switchesByThread.end() ? 0.0 : was->second)) / count;
    char part[64];
    std::snprintf(part, sizeof part, "%s%s %.1f", out.empty() ? "" : ", ", name.c_str(), per);
    out += part;
  }
  return out;
}
PerMessage lastPerMessage;

// The resident pages of the C and C++ runtime, nats.c and the OpenSSL it initialises (nats_Open
// calls OPENSSL_init_ssl, which alone makes 1.9 MiB of libcrypto resident): what a program that
// only connects with nats.c keeps, whatever steward does.
long runtimeFloorKiB(int pid) {
  static const char* const floor[] = {"/libc.so", "/libstdc++.so", "/libm.so", "/ld-linux", "/libgcc_s.so",
                                      "/libnats.so", "/libssl.so", "/libcrypto.so"};
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
  long total = 0;
  bool counted = false;
  for (std::string line; std::getline(smaps, line);) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 16) {
      counted = std::any_of(std::begin(floor), std::end(floor),
                            [&](const char* name) { return line.find(name) != std::string::npos; });
    } else if (counted && line.rfind("Rss:", 0) == 0) {
      total += std::atol(line.substr(4).c_str());
    }
  }
  return total;
}

// A node at rest: started with the defaults only (no metrics endpoint, no inputs but its socket),
// measured 2 s after it is up.
ProcStats atRest(const fs::path& root, const std::string& address) {
  const fs::path dir = root / "rest";
  fs::create_directories(dir);
  StewardNode node("rest", dir, address, {});
  node.start();
  if (!node.waitReady()) {
    std::cerr << "the node at rest did not start\n" << node.log();
    return {};
  }
  std::this_thread::sleep_for(2s);
  ProcStats p = procStats(node.pid());
  p.floorKiB = runtimeFloorKiB(node.pid());
  return p;
}

void respond(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  natsConnection_Publish(nc, natsMsg_GetReply(msg), "{\"ok\":true}", 11);
  natsMsg_Destroy(msg);
}

double rawRequestReply(const std::string& address, int count) {
  const std::string url = "nats://" + address;
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetSendAsap(opts, true);
  natsConnection* server = nullptr;
  natsConnection* client = nullptr;
  natsConnection_Connect(&server, opts);
  natsConnection_Connect(&client, opts);
  natsSubscription* sub = nullptr;
  natsConnection_Subscribe(&sub, server, "bench.raw", respond, nullptr);
  natsConnection_Flush(server);
  const std::string payload(200, 'x');
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    natsMsg* reply = nullptr;
    if (natsConnection_Request(&reply, client, "bench.raw", payload.data(),
                               static_cast<int>(payload.size()), 5000) == NATS_OK) {
      natsMsg_Destroy(reply);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(client);
  natsConnection_Destroy(server);
  natsOptions_Destroy(opts);
  return count / seconds;
}

// `streams` raw request/reply streams side by side, each on its own connection and thread.
double rawStreams(const std::string& address, int count, int streams) {
  std::vector<std::thread> threads;
  std::vector<double> rates(static_cast<size_t>(streams));
  const auto start = Clock::now();
  for (int i = 0; i < streams; ++i) {
    threads.emplace_back([&, i] { rates[static_cast<size_t>(i)] = rawRequestReply(address, count); });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return streams * count / seconds;
}

// Central sends `count` messages to each of four ships in one input; the rate over all.
double fleetRate(const fs::path& root, const std::string& address, int count, bool concurrent) {
  static int run = 0;
  const fs::path dir = root / ("fleet" + std::to_string(++run));
  fs::create_directories(dir);
  const std::vector<std::string> ships{"ship1", "ship2", "ship3", "ship4"};
  StewardNode central("central", dir, address, {"--logLevel=info"});
  std::vector<std::unique_ptr<StewardNode>> nodes;
  for (const auto& name : ships) {
    nodes.push_back(std::make_unique<StewardNode>(
        name, dir, address, std::vector<std::string>{"--logLevel=info", "--startSubREQnCliCommand=central"}));
  }
  central.start();
  for (auto& n : nodes) n->start();
  bool ready = central.waitReady();
  for (auto& n : nodes) ready = n->waitReady() && ready;
  if (!ready) {
    std::cerr << "nodes did not start\n";
    return 0;
  }
  std::string batch = "[";
  for (int i = 0; i < count; ++i) {
    for (const auto& ship : ships) {
      batch += std::string(batch.size() > 1 ? "," : "") + R"({"toNode":")" + ship + "\"," +
               (concurrent ? R"("method":"REQnCliCommand","data":["echo"])"
                           : R"("method":"REQToFileAppend","data":["x"])") +
               R"(,"directory":"bench","fileName":"b.log","ACKTimeout":10})";
    }
  }
  batch += "]";
  // Sequenced: a line a message in each ship's file. Concurrent: a line a reply (echo's empty
  // line) in central's file for that ship.
  auto done = [&] {
    for (size_t i = 0; i < ships.size(); ++i) {
      const fs::path file = concurrent ? central.dataFolder() / "bench" / ships[i] / "b.log"
                                       : nodes[i]->dataFolder() / "bench" / "central" / "b.log";
      const std::string text = readFile(file);
      if (static_cast<int>(std::count(text.begin(), text.end(), '\n')) < count) return false;
    }
    return true;
  };
  const auto start = Clock::now();
  const std::string answer = central.submit(batch);
  if (answer.find("\"ok\":true") == std::string::npos) {
    std::cerr << "refused: " << answer.substr(0, 300);
    return 0;
  }
  waitFor(done, 600s);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return 4.0 * count / seconds;
}

double stewardRate(const fs::path& root, const std::string& address, int count, bool sync,
                   int window) {
  static int run = 0;
  const std::string flag = std::string("--syncWrites=") + (sync ? "true" : "false");
  const std::string windowFlag = "--sendWindow=" + std::to_string(window);
  const fs::path dir = root / ("run" + std::to_string(++run));
  fs::create_directories(dir);
  const uint16_t shipMetrics = freePort();
  StewardNode central("central", dir, address, {flag, windowFlag, "--logLevel=info"});
  StewardNode ship1("ship1", dir, address,
                    {flag, windowFlag, "--logLevel=info",
                     "--promHostAndPort=127.0.0.1:" + std::to_string(shipMetrics)});
  central.start();
  ship1.start();
  if (!central.waitReady() || !ship1.waitReady()) {
    std::cerr << "nodes did not start\n" << central.log() << ship1.log();
    return 0;
  }
  const std::string batch = appendBatch("ship1", count);
  const fs::path file = ship1.dataFolder() / "bench" / "central" / "b.log";
  std::this_thread::sleep_for(1s);
  const ProcStats centralBefore = procStats(central.pid());
  const ProcStats shipBefore = procStats(ship1.pid());
  const double syncedBefore = scrapeMetrics(shipMetrics)["steward_store_synced_writes_total"];
  const auto start = Clock::now();
  const std::string answer = central.submit(batch);
  if (answer.find("\"ok\":true") == std::string::npos) {
    std::cerr << "refused: " << answer;
    return 0;
  }
  waitFor([&] { return fs::exists(file) && fs::file_size(file) >= static_cast<uintmax_t>(count) * 2; },
          600s);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const ProcStats centralAfter = procStats(central.pid());
  const ProcStats shipAfter = procStats(ship1.pid());
  const double syncedAfter = scrapeMetrics(shipMetrics)["steward_store_synced_writes_total"];
  lastPerMessage = {(centralAfter.cpuMs - centralBefore.cpuMs) / count,
                    (shipAfter.cpuMs - shipBefore.cpuMs) / count,
                    (centralAfter.switches - centralBefore.switches) / count,
                    (shipAfter.switches - shipBefore.switches) / count,
                    (syncedAfter - syncedBefore) / count,
                    perThread(centralBefore, centralAfter, count),
                    perThread(shipBefore, shipAfter, count)};
  return count / seconds;
}

struct Figures {
  double min = 0, median = 0, max = 0;
};

// Three runs: min, median and max.
template <class Run>
Figures threeRuns(Run run) {
  std::vector<double> rates{run(), run(), run()};
  std::sort(rates.begin(), rates.end());
  return {rates[0], rates[1], rates[2]};
}

std::vector<int> windowsFrom(const char* text) {
  std::vector<int> out;
  std::string s = text;
  for (size_t at = 0; at <= s.size();) {
    const size_t comma = std::min(s.find(',', at), s.size());
    if (comma > at) out.push_back(std::max(1, std::atoi(s.substr(at, comma - at).c_str())));
    at = comma + 1;
  }
  return out.empty() ? std::vector<int>{1} : out;
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2000;
  const std::vector<int> windows = windowsFrom(argc > 2 ? argv[2] : "1,8");
  const fs::path root = fs::temp_directory_path() / ("stw-bench-" + std::to_string(::getpid()));
  fs::create_directories(root);
  std::printf("messages per run:                         %d\n", count);
  {
    NatsServer nats(root);
    const double raw = rawRequestReply(nats.address(), count);
    std::printf("raw nats.c request/reply:                 %8.0f msg/s\n", raw);
    for (const bool sync : {true, false}) {
      for (const int window : windows) {
        const auto f = threeRuns([&] { return stewardRate(root, nats.address(), count, sync, window); });
        std::printf("steward ACKed sequenced, %s: %.0f msg/s (%.2f of raw)  [window %d; min %.2f, max %.2f]\n",
                    sync ? "fsync" : "no fsync", f.median, f.median / raw, window, f.min / raw,
                    f.max / raw);
        std::printf("  per message (last run): CPU %.3f ms central, %.3f ms ship1; context switches %.1f central, %.1f ship1; synced writes at ship1 %.2f\n",
                    lastPerMessage.centralCpuMs, lastPerMessage.shipCpuMs,
                    lastPerMessage.centralSwitches, lastPerMessage.shipSwitches,
                    lastPerMessage.shipSyncedWrites);
        std::printf("  context switches per message by thread: central %s; ship1 %s\n",
                    lastPerMessage.centralByThread.c_str(), lastPerMessage.shipByThread.c_str());
        std::fflush(stdout);
      }
    }
    const double raw4 = rawStreams(nats.address(), count, 4);
    std::printf("four raw request/reply streams:           %8.0f msg/s\n", raw4);
    for (const bool concurrent : {false, true}) {
      const auto f = threeRuns([&] { return fleetRate(root, nats.address(), count, concurrent); });
      std::printf("steward central -> four ships, %s: %.0f msg/s (%.2f of four raw; min %.2f, max %.2f)\n",
                  concurrent ? "REQnCliCommand echo" : "sequenced, fsync", f.median, f.median / raw4,
                  f.min / raw4, f.max / raw4);
      std::fflush(stdout);
    }
    const ProcStats idle = atRest(root, nats.address());
    const auto mib = [](long kib) { return static_cast<double>(kib) / 1024.0; };
    std::printf("a node at rest (default subscribers): %.1f MiB resident (%.1f MiB heap and stacks; "
                "%.1f MiB pages of libc, libstdc++, nats.c and the OpenSSL it starts; the rest pages of "
                "steward and its other libraries), %ld threads\n",
                mib(idle.rssKiB), mib(idle.anonKiB), mib(idle.floorKiB), idle.threads);
  }
  fs::remove_all(root);
  nats_CloseAndWait(2000);
  return 0;
}
