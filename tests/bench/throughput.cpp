// Throughput benchmark (prints figures; not a pass/fail test).
//
// In one run, against one nats-server on a free loopback port:
//   1. raw nats.c request/reply: a responder on a SendAsap connection, one request at a time;
//   2. steward, ACKed sequenced messages central -> ship1 (REQToFileAppend: stored in ship1's
//      inbox, ACKed, run, removed), with --syncWrites=true (fsync per write batch), for each
//      --sendWindow given;
//   3. the same with --syncWrites=false.
// Each steward figure is the median of 3 runs (min and max beside it), as a ratio of raw.
// Usage: steward_bench [messages] [windows, comma separated]   (default 2000 1,8)
#include "tests/e2e/harness.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <cstdio>
#include <vector>
#include <iostream>

using namespace steward::e2e;
using Clock = std::chrono::steady_clock;

namespace {

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

double stewardRate(const fs::path& root, const std::string& address, int count, bool sync,
                   int window) {
  static int run = 0;
  const std::string flag = std::string("--syncWrites=") + (sync ? "true" : "false");
  const std::string windowFlag = "--sendWindow=" + std::to_string(window);
  const fs::path dir = root / ("run" + std::to_string(++run));
  fs::create_directories(dir);
  StewardNode central("central", dir, address, {flag, windowFlag, "--logLevel=info"});
  StewardNode ship1("ship1", dir, address, {flag, windowFlag, "--logLevel=info"});
  central.start();
  ship1.start();
  if (!central.waitReady() || !ship1.waitReady()) {
    std::cerr << "nodes did not start\n" << central.log() << ship1.log();
    return 0;
  }
  std::string batch = "[";
  for (int i = 0; i < count; ++i) {
    batch += std::string(i ? "," : "") +
             R"({"toNode":"ship1","method":"REQToFileAppend","data":["x"],"directory":"bench","fileName":"b.log","ACKTimeout":10})";
  }
  batch += "]";
  const fs::path file = ship1.dataFolder() / "bench" / "central" / "b.log";
  const auto start = Clock::now();
  const std::string answer = central.submit(batch);
  if (answer.find("\"ok\":true") == std::string::npos) {
    std::cerr << "refused: " << answer;
    return 0;
  }
  waitFor([&] { return fs::exists(file) && fs::file_size(file) >= static_cast<uintmax_t>(count) * 2; },
          600s);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
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
        std::fflush(stdout);
      }
    }
  }
  fs::remove_all(root);
  nats_CloseAndWait(2000);
  return 0;
}
