// Figures for the bounds on outside input (prints figures; not a pass/fail test):
//   1. framing 15 MiB of input arriving in 64 KiB reads: the framer (each byte once) against
//      re-parsing the whole buffer after every read, as the input did before;
//   2. parsing that input once it is complete;
//   3. how long a node takes to refuse 400 KB of nesting from the broker, unsigned;
//   4. memory per idle connection on the socket input, and what is left after they close.
// Usage: steward_bench_input [connections]   (default 256)
#include "core/input/socket_input.hpp"
#include "core/message/codec.hpp"
#include "core/security/envelope.hpp"
#include "core/security/sealing.hpp"
#include "core/security/trust.hpp"
#include "core/util/json.hpp"
#include "tests/support/posix.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <rapidjson/reader.h>

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace steward;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Resident memory of this process, in KiB.
long residentKiB() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// What the input did before: a SAX parse of everything so far after every read.
bool reparsedComplete(std::string_view buffer) {
  rapidjson::Reader reader;
  rapidjson::BaseReaderHandler<> ignore;
  rapidjson::MemoryStream ms(buffer.data(), buffer.size());
  reader.Parse<rapidjson::kParseStopWhenDoneFlag>(ms, ignore);
  return !reader.HasParseError() || reader.GetErrorOffset() < buffer.size();
}

std::string bigInput(size_t bytes) {
  std::string message = R"({"toNode":"ship1","method":"REQCliCommand","data":[")" + std::string(60 * 1024, 'x') + "\"]}";
  std::string input = "[";
  while (input.size() + message.size() + 2 < bytes) input += message + ",";
  input += message + "]";
  return input;
}

void framing() {
  const std::string input = bigInput(15 * 1024 * 1024);
  const size_t chunk = 64 * 1024;
  auto start = Clock::now();
  json::Framer framer;
  std::string_view seen;
  for (size_t end = chunk;; end += chunk) {
    seen = std::string_view(input).substr(0, std::min(end, input.size()));
    if (framer.feed(seen) != json::Framer::State::incomplete || seen.size() == input.size()) break;
  }
  const double framed = secondsSince(start);
  start = Clock::now();
  for (size_t end = chunk;; end += chunk) {
    seen = std::string_view(input).substr(0, std::min(end, input.size()));
    if (reparsedComplete(seen) || seen.size() == input.size()) break;
  }
  const double reparsed = secondsSince(start);
  start = Clock::now();
  auto decoded = message::decodeInput(input);
  const double parsed = secondsSince(start);
  std::printf("framing %.1f MiB in 64 KiB reads:  framer %.1f ms (%zu bytes scanned)   re-parse per read %.0f ms   (%.0fx)\n",
              input.size() / 1048576.0, framed * 1e3, framer.scanned(), reparsed * 1e3, reparsed / framed);
  std::printf("parsing it once complete (decodeInput, %zu messages): %.3f s\n",
              decoded ? decoded->size() : 0, parsed);
}

void refusal() {
  const fs::path dir = fs::temp_directory_path() / ("bench-input-" + std::to_string(getpid()));
  fs::create_directories(dir / "trusted");
  auto own = security::Identity::create(dir / "own").value();
  auto intruder = security::Identity::create(dir / "intruder").value();
  auto trust = security::Trust::open({.ownNode = "ship1", .ownKey = own.publicKey(), .centralNode = "central",
                                      .folder = dir / "trusted", .stateDir = dir / "state"})
                   .value();
  const security::Verifier verifier(*trust, std::chrono::seconds(300), [] { return int64_t{0}; });
  const std::string subject = "ship1.REQCliCommand.CommandACK";
  // central is known here (its key provisioned), so a forgery in its name costs one check.
  auto central = security::Identity::create(dir / "central").value();
  std::ofstream(dir / "trusted" / "central.pub") << central.publicKey() << "\n";
  const std::string deep(400'000, '[');
  const std::string unknown = security::seal(intruder, "ship9", subject, deep, 0);
  const std::string forged = security::seal(intruder, "central", subject, deep, 0);
  const int rounds = 200;
  auto perCall = [&](const std::string& payload) {
    const auto start = Clock::now();
    for (int i = 0; i < rounds; ++i) (void)verifier.open(subject, payload);
    return secondsSince(start) / rounds * 1e6;
  };
  const double bare = perCall(deep);
  const double noKey = perCall(unknown);
  const double badSignature = perCall(forged);
  std::printf("refusing 400 KB of nesting from the broker (nothing parsed): unsigned %.1f us, signer"
              " with no key %.1f us, forged in a known node's name %.1f us (one signature check)\n",
              bare, noKey, badSignature);
  fs::remove_all(dir);
}

void idleConnections(int count) {
  const fs::path dir = fs::temp_directory_path() / ("bench-idle-" + std::to_string(getpid()));
  fs::create_directories(dir);
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  input::SocketInput in(io, dir / "steward.sock", input::answerOnce([](std::string_view) { return std::string("ok"); }),
                        {.maxConnections = static_cast<size_t>(count) + 1});
  if (!in.start()) return;
  std::thread thread([&] { io.run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  malloc_trim(0);
  const long before = residentKiB();
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    const int fd = steward::testing::connectUnix(dir / "steward.sock");
    if (fd < 0) break;
    (void)::send(fd, "[", 1, MSG_NOSIGNAL);  // started, then idle
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long held = residentKiB();
  for (int fd : fds) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  malloc_trim(0);
  const long after = residentKiB();
  std::printf("%zu idle connections on the socket input: %.1f KiB each (both ends in this process),"
              " %ld KiB still held after they closed\n",
              fds.size(), fds.empty() ? 0.0 : double(held - before) / fds.size(), after - before);
  in.stop();
  work.reset();
  io.stop();
  thread.join();
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const int connections = argc > 1 ? std::atoi(argv[1]) : 256;
  framing();
  refusal();
  idleConnections(connections);
  return 0;
}
