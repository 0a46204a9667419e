// Throughput benchmark (prints figures; not a pass/fail test).
//
// In one run, against one nats-server on a free loopback port:
//   1. raw nats.c request/reply: a responder on a SendAsap connection, one request at a time;
//   2. steward, ACKed sequenced messages central -> ship1 (REQToFileAppend: stored in ship1's
//      inbox, ACKed, run, removed), with --syncWrites=true (fsync per write batch);
//   3. the same with --syncWrites=false.
// Usage: steward_bench [messages]   (default 2000)
#include "tests/e2e/harness.hpp"

#include <nats/nats.h>

#include <cstdio>
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

double stewardRate(const fs::path& root, const std::string& address, int count, bool sync) {
  const std::string flag = std::string("--syncWrites=") + (sync ? "true" : "false");
  const fs::path dir = root / (sync ? "sync" : "nosync");
  fs::create_directories(dir);
  StewardNode central("central", dir, address, {flag, "--logLevel=info"});
  StewardNode ship1("ship1", dir, address, {flag, "--logLevel=info"});
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

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2000;
  const fs::path root = fs::temp_directory_path() / ("stw-bench-" + std::to_string(::getpid()));
  fs::create_directories(root);
  double raw = 0, durable = 0, fast = 0;
  {
    NatsServer nats(root);
    raw = rawRequestReply(nats.address(), count);
    durable = stewardRate(root, nats.address(), count, true);
    fast = stewardRate(root, nats.address(), count, false);
  }
  fs::remove_all(root);
  std::printf("messages per run:                         %d\n", count);
  std::printf("raw nats.c request/reply:                 %8.0f msg/s\n", raw);
  std::printf("steward ACKed sequenced, fsync:           %8.0f msg/s  (%.2f of raw)\n", durable,
              durable / raw);
  std::printf("steward ACKed sequenced, no fsync:        %8.0f msg/s  (%.2f of raw)\n", fast,
              fast / raw);
  nats_CloseAndWait(2000);
  return 0;
}
