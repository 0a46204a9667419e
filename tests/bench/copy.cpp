// File copy throughput (prints figures; not a pass/fail test).
//
// One nats-server, a central and two ships (real daemons, syncWrites on as packaged): central asks
// ship1 to copy a file of N MiB to ship2 (REQCopySrc), and the time from the request to its final
// reply at central is set against `cat` of the same file into a pipe on the same machine, the same
// run (what reading and moving the bytes costs with no network, no store and no checks at all).
// Usage: steward_bench_copy [MiB] [chunk size in bytes]   (default 100 262144)
#include "tests/e2e/harness.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

using namespace steward::e2e;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::stoul(argv[1]) : 100;
  const std::string chunk = argc > 2 ? argv[2] : "262144";
  const fs::path dir = fs::temp_directory_path() / ("steward-bench-copy-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path source = dir / "source.bin";
  {
    std::mt19937_64 random(7);
    std::string block(1024 * 1024, '\0');
    std::ofstream out(source, std::ios::binary);
    for (size_t i = 0; i < mib; ++i) {
      for (size_t j = 0; j < block.size(); j += 8) {
        const uint64_t r = random();
        std::memcpy(block.data() + j, &r, 8);
      }
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  NatsServer nats(dir);  // started here
  StewardNode central("central", dir, nats.address(), {});
  StewardNode ship1("ship1", dir, nats.address(), {"--startSubREQCopySrc=central"});
  StewardNode ship2("ship2", dir, nats.address(), {"--startSubREQCopyDst=ship1", "--copyFolder=" + (dir / "copies").string()});
  for (auto* n : {&central, &ship1, &ship2}) n->start();
  for (auto* n : {&central, &ship1, &ship2}) {
    if (!n->waitReady(30s)) {
      std::cerr << n->name() << " did not start\n" << n->log();
      return 1;
    }
  }
  std::ofstream(dir / "acl.json") << R"({"ship2":[{"from":"central","methods":["*"]},{"from":"ship1","methods":["REQCopyDst"]}],"*":[{"from":"central","methods":["*"]}]})";
  auto acl = runToEnd({STEWARD_CTL_BINARY, "--config-folder=" + (central.dir() / "etc").string(), "acl", "set",
                       (dir / "acl.json").string()},
                      central.dir(), 30s);
  if (acl.exitCode != 0 || !waitFor([&] { return ship2.log().find("trusted set version 1") != std::string::npos; }, 20s)) {
    std::cerr << "the ACL did not reach ship2: " << acl.err << "\n";
    return 1;
  }

  const auto start = Clock::now();
  const std::string answer = central.submit(R"([{"toNode":"ship1","method":"REQCopySrc","data":[")" + source.string() +
                                            R"(","ship2","copy.bin",")" + chunk + R"("],"fileName":"copy.log"}])");
  if (answer.find("\"ok\":true") == std::string::npos) {
    std::cerr << "refused: " << answer << "\n";
    return 1;
  }
  const auto replies = central.dataFolder() / "ship1" / "copy.log";
  const bool arrived = waitFor([&] { return readFile(replies).find("arrived at ship2") != std::string::npos; }, 600s);
  const double steward = std::chrono::duration<double>(Clock::now() - start).count();
  if (!arrived) {
    std::cerr << "the copy did not end: " << readFile(replies) << central.errorLog();
    return 1;
  }
  const auto catStart = Clock::now();
  auto cat = runToEnd({"/bin/sh", "-c", "cat '" + source.string() + "' | cat > /dev/null"}, dir, 120s);
  const double catSeconds = std::chrono::duration<double>(Clock::now() - catStart).count();
  const double size = static_cast<double>(mib);
  std::printf("file copy, %zu MiB in chunks of %s bytes, ship1 -> ship2 on one nats-server, syncWrites on:\n", mib, chunk.c_str());
  std::printf("steward REQCopySrc to the final reply: %.2f s, %.1f MiB/s\n", steward, size / steward);
  std::printf("cat of the same file into a pipe:       %.2f s, %.1f MiB/s (steward at %.3f of it)\n", catSeconds,
              size / catSeconds, catSeconds / steward);
  for (auto* n : {&central, &ship1, &ship2}) n->stop();
  nats.stop();
  fs::remove_all(dir);
  return cat.exitCode == 0 ? 0 : 1;
}
