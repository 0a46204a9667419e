// steward-ctl: the operator's command line. It speaks the follow form of the operator input
// (core/input/operator_input.hpp) on the local daemon's socket: it sends one message, prints the
// replies as they arrive, and turns the outcome into an exit code.
#pragma once

#include "core/util/result.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace steward::ctl {

// Exit codes, also listed by --help.
enum Exit : int {
  kOk = 0,
  kRemoteFailure = 1,  // the method ran on the node and failed
  kUsage = 2,
  kLocalFailure = 3,   // the local daemon cannot be reached, or it refused the input
  kTimedOut = 4,
  kRefused = 5,        // the receiving node refused the message: it did not run
  kUndelivered = 6,    // the message never reached the node (given up, expired, removed)
};

// The exit status a failed answer's code calls for (the "code" of the daemon's reply line):
// kRefused for a refusal, kUndelivered for undelivered, removed and broker, kRemoteFailure for
// methodFailed and for an error without a code.
Exit exitFor(Code code);

// Seconds steward-ctl waits beyond --timeout (which is also the method's methodTimeout), for the
// last reply to travel back.
inline constexpr int64_t kTravelSeconds = 10;

struct Options {
  std::string command;                  // run, send, ps, start, stop, tail, keys, acl
  std::filesystem::path socket;         // empty: from the configuration
  std::filesystem::path configFolder;   // empty: $CONFIG_FOLDER, /etc/steward, ./etc
  bool json = false;
  bool wait = true;                     // send --no-wait: print the ids only
  int64_t timeoutSeconds = 60;
  std::string node;
  std::string method;                   // run --method, start/stop METHOD
  std::vector<std::string> allowed;     // start --allowed
  std::vector<std::string> args;        // run: program and arguments; tail: path; send: file
};

// Parses argv; an error names what is wrong. `help` is set when --help was asked for, with the
// text of the command it was asked for.
struct Parsed {
  std::optional<Options> options;
  std::string help;
};
Result<Parsed> parseArguments(int argc, const char* const* argv);

// The daemon's socket: --socket, else <socketFolder>/steward.sock from the config file; a relative
// socketFolder is taken from the config folder's parent (the daemon's folder with ./etc).
Result<std::filesystem::path> socketPath(const Options& options);

// The central node's name from the config file ("central" when it does not say).
std::string centralNodeName(const Options& options);

// The JSON request for the daemon: {"messages":[…],"follow":…,"timeoutSeconds":…}.
Result<std::string> buildRequest(const Options& options, const std::string& centralNodeName);

// Prints what the daemon answers and returns the exit code. `lines` yields the daemon's lines
// one by one and nullopt when the connection ended (or `deadline` passed).
struct Output {
  std::string out;  // for stdout
  std::string err;  // for stderr
};
class Printer {
 public:
  explicit Printer(const Options& options) : options_(options) {}
  // Takes one line from the daemon; false once nothing more is expected.
  bool take(const std::string& line, Output& output);
  // The exit code, once the connection ended (timedOut: it ended by the deadline).
  int finish(bool timedOut, Output& output);

 private:
  void printReply(const std::string& node, const std::string& method,
                  const std::vector<std::string>& data, const std::string& error, Code code,
                  bool final, uint64_t id, Output& output);

  const Options& options_;
  std::optional<std::vector<uint64_t>> ids_;
  std::vector<uint64_t> answered_;
  bool refused_ = false;  // the local daemon refused the input
  bool failed_ = false;   // an answer it could not read
  // The failures the answers reported, by the exit status each calls for.
  std::vector<Exit> failures_;
  bool done_ = false;
};

// Renders REQOpCommand ps output (JSON) as a table.
std::string psTable(const std::string& json);
// Renders keysList output (JSON) as a table.
std::string keysTable(const std::string& json);

}  // namespace steward::ctl
