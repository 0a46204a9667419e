// Hellos at central (prints figures; not a pass/fail test).
//
// A fleet of N nodes saying hello every 60 s sends central N/60 hellos a second. This starts one
// real central on a real nats-server, makes N node keys (trusted at central as provisioned
// keys), and offers central sealed hellos from those N nodes with raw nats.c, at a rate of
// `factor` x N/60 per second for `seconds` s. It prints the rate central handled them at, how
// far behind it was when the offer stopped, how long it took to catch up, and central's RSS and
// CPU time.
// Usage: steward_bench_hellos [nodes] [seconds] [factor]   (default 10000 20 3)
#include "tests/e2e/harness.hpp"

#include "core/message/codec.hpp"
#include "core/security/envelope.hpp"
#include "core/security/identity.hpp"
#include "core/util/clock.hpp"

#include <nats/nats.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

using namespace steward;
using namespace steward::e2e;
using Clock = std::chrono::steady_clock;

namespace {

double metric(uint16_t port, const std::string& name) {
  const auto all = scrapeMetrics(port);
  double sum = 0;
  for (const auto& [key, value] : all) {
    if (key.rfind(name, 0) == 0 && key.find("REQHello") != std::string::npos) sum += value;
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const int nodes = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10000;
  const int seconds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  const double factor = argc > 3 ? std::max(0.1, std::atof(argv[3])) : 3.0;
  const double rate = factor * nodes / 60.0;
  const fs::path root = fs::temp_directory_path() / ("stw-bench-hellos-" + std::to_string(::getpid()));
  fs::create_directories(root / "trusted-keys");
  std::printf("nodes: %d, hellos offered: %.0f/s (%.1f x one per node per 60 s) for %d s\n", nodes, rate,
              factor, seconds);
  std::vector<security::Identity> ids;
  ids.reserve(static_cast<size_t>(nodes));
  for (int i = 0; i < nodes; ++i) {
    const std::string name = "ship" + std::to_string(i + 1);
    auto id = security::Identity::create(root / "ids" / name);
    if (!id) {
      std::cerr << id.error().message << "\n";
      return 1;
    }
    std::ofstream(root / "trusted-keys" / (name + ".pub")) << id->publicKey() << "\n";
    ids.push_back(std::move(id).value());
  }
  {
    NatsServer nats(root);
    const uint16_t metrics = freePort();
    StewardNode central("central", root, nats.address(),
                        {"--logLevel=info", "--promHostAndPort=127.0.0.1:" + std::to_string(metrics)});
    central.start();
    if (!central.waitReady(60s)) {
      std::cerr << "central did not start\n" << central.log();
      return 1;
    }
    natsConnection* nc = nullptr;
    if (natsConnection_ConnectTo(&nc, ("nats://" + nats.address()).c_str()) != NATS_OK) return 1;
    const std::string subject = "central.REQHello.EventNACK";
    const ProcessUse before = processUse(central.pid());
    const auto start = Clock::now();
    long sent = 0;
    for (;;) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      if (elapsed >= seconds) break;
      const long due = static_cast<long>(elapsed * rate);
      for (; sent < due; ++sent) {
        const size_t who = static_cast<size_t>(sent % nodes);
        const std::string name = "ship" + std::to_string(who + 1);
        message::Message m;
        m.id = static_cast<uint64_t>(sent / nodes + 1);
        m.settledBelow = m.id;
        m.fromNode = name;
        m.toNode = "central";
        m.method = "REQHello";
        m.createdUnixMs = nowUnixMs();
        m.data = {name, ids[who].publicKey(), "0"};
        m.directory = "hello-messages";
        m.fileName = "hello.log";
        const std::string payload =
            security::seal(ids[who], name, subject, message::encodeWire(m), nowUnixMs(), true);
        natsConnection_Publish(nc, subject.c_str(), payload.data(), static_cast<int>(payload.size()));
      }
      std::this_thread::sleep_for(2ms);
    }
    natsConnection_Flush(nc);
    const double offered = std::chrono::duration<double>(Clock::now() - start).count();
    const double doneAtEnd = metric(metrics, "steward_messages_executed_total");
    const double takenAtEnd = metric(metrics, "steward_messages_received_total");
    const ProcessUse atEnd = processUse(central.pid());
    // Catching up: until every hello offered ran, or 120 s.
    const auto drainStart = Clock::now();
    double done = doneAtEnd;
    while (done < static_cast<double>(sent) && Clock::now() - drainStart < 120s) {
      std::this_thread::sleep_for(200ms);
      done = metric(metrics, "steward_messages_executed_total");
    }
    const double drain = std::chrono::duration<double>(Clock::now() - drainStart).count();
    std::printf("central handled %.0f hellos/s while %.0f/s were offered (%.2f of the offer); "
                "%.0f taken and %.0f waiting to run when the offer stopped\n",
                doneAtEnd / offered, static_cast<double>(sent) / offered,
                doneAtEnd / static_cast<double>(sent), takenAtEnd, static_cast<double>(sent) - doneAtEnd);
    std::printf("caught up %.0f of %ld in %.1f s more; central: %.1f CPU-s during the offer, %.0f MiB resident\n",
                done, sent, drain, atEnd.cpuSeconds - before.cpuSeconds, static_cast<double>(atEnd.rssKiB) / 1024.0);
    natsConnection_Destroy(nc);
  }
  fs::remove_all(root);
  nats_CloseAndWait(2000);
  return 0;
}
