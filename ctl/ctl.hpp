// steward-ctl: the operator's command line. It speaks the follow form of the operator input
// (core/input/operator_input.hpp) on the local daemon's socket: it sends its messages, prints the
// replies as they arrive, and turns the outcome into an exit code.
//
// A command for nodes takes a target: a name, several (ship1,ship2), patterns (ship*), --all
// (every node central has heard from) and --where key=value on their facts. Patterns, --all and
// --where are resolved against central's node list (REQOpCommand nodes) first; the command then
// goes out as one message to all of them (toNodes), and each node's answer is printed under its
// name, with a last line "N/M ok".
#pragma once

#include "core/util/result.hpp"
#include "core/util/targets.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
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
  kNotAnswered = 7,    // nobody listens there (offline, or the method not started): the message
                       // stays queued for its lifetime, unless cancelled
};

// The exit status a failed answer's code calls for (the "code" of the daemon's reply line):
// kRefused for a refusal, kUndelivered for undelivered, removed and broker, kRemoteFailure for
// methodFailed and for an error without a code.
Exit exitFor(Code code);

// Seconds steward-ctl waits beyond --timeout (which is also the method's methodTimeout), for the
// last reply to travel back.
inline constexpr int64_t kTravelSeconds = 10;


struct Options {
  std::string command;                  // run, send, ps, start, stop, tail, keys, acl, nodes,
                                        // queue, cancel
  std::filesystem::path socket;         // empty: from the configuration
  std::filesystem::path configFolder;   // empty: $CONFIG_FOLDER, /etc/steward, ./etc
  bool json = false;
  bool exitCode = false;                // run --exit-code: exit with the remote exit status
  bool wait = true;                     // send --no-wait: print the ids only
  int64_t timeoutSeconds = 60;
  std::string node;                     // the target as given: names and patterns, comma separated
  std::vector<std::string> nodes;       // the nodes it names (resolveTargets when it needs central)
  bool all = false;                     // --all: every node central has heard from
  std::vector<targets::FactMatch> where;  // --where: each must match the node's facts
  bool waitQueued = false;              // --wait: wait for a node nobody listens at (offline)
  bool yes = false;                     // keys allow: no question asked
  std::vector<uint64_t> ids;            // cancel
  std::string at;                       // queue/cancel --at: that node's inbox, not the local outbox
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
// The local daemon's own name from the config file (the central node's when it does not say).
std::string localNodeName(const Options& options);

// Whether the target needs central's node list: a pattern, --all or --where (or keys allow of
// several nodes, which shows what it allows first).
bool needsFleet(const Options& options);
// Whether more than one node may answer: each answer is then printed under its node's name.
bool fleetMode(const Options& options);
// The request for central's node list (REQOpCommand nodes), followed.
std::string fleetRequest(const std::string& centralNodeName);
// The nodes the target names, from central's node list (the JSON nodes answers), in order and
// once each. Patterns and --all pick nodes with an allowed key (keys allow: pending ones); a plain
// name is taken as it is, known or not; --where keeps those whose facts match. None is an error
// that says what central knows.
Result<std::vector<std::string>> resolveTargets(const Options& options, const std::string& nodesJson);
// Without a node list: the names of the target as given.
std::vector<std::string> plainTargets(const Options& options);

// The JSON request for the daemon: {"messages":[…],"follow":…,"timeoutSeconds":…}. `options.nodes`
// holds the nodes (plainTargets or resolveTargets); queue and cancel go to `localNodeName`.
Result<std::string> buildRequest(const Options& options, const std::string& centralNodeName,
                                 const std::string& localNodeName = "");

// Prints what the daemon answers and returns the exit code. `lines` yields the daemon's lines
// one by one and nullopt when the connection ended (or `deadline` passed).
struct Output {
  std::string out;  // for stdout
  std::string err;  // for stderr
  // How the nodes stand, for a line on stderr that is rewritten in place (when it is a terminal):
  // empty when nothing changed.
  std::string progress;
};
class Printer {
 public:
  explicit Printer(const Options& options) : options_(options) {}
  // Takes one line from the daemon; false once nothing more is expected.
  bool take(const std::string& line, Output& output);
  // The exit code, once the connection ended (timedOut: it ended by the deadline).
  int finish(bool timedOut, Output& output);

 private:
  // One message sent and what became of it.
  struct Answer {
    std::string node;
    std::string state = "waiting";  // waiting, ok, failed, refused, undelivered, offline,
                                    // notStarted, noResponders
    std::vector<std::string> data;  // its output (fleet mode keeps it for the end)
    std::string error;
    Code code = Code::unspecified;
    std::string note;
    std::map<std::string, std::string> result;  // the reply's named parts (stderr, exitStatus)
  };
  void takeReply(const rapidjson::Value& d, Output& output);
  void printData(const std::string& method, const std::vector<std::string>& data, bool final,
                 bool ok, Output& output);
  // Every message is settled: answered, or (without --wait) known to be unheard.
  bool allSettled() const;
  std::string progress() const;
  static bool unheard(const std::string& state);
  static Exit exitOf(const Answer& answer);

  const Options& options_;
  std::optional<std::vector<uint64_t>> ids_;
  std::map<uint64_t, Answer> answers_;
  bool refused_ = false;  // the local daemon refused the input
  bool failed_ = false;   // an answer it could not read
  bool done_ = false;
};

// Renders REQOpCommand ps output (JSON) as a table.
std::string psTable(const std::string& json);
// Renders keysList output (JSON) as a table.
std::string keysTable(const std::string& json);
// Renders the nodes operation's output (JSON) as a table.
std::string nodesTable(const std::string& json);
// Renders listQueue output (JSON) as a table.
std::string queueTable(const std::string& json);

}  // namespace steward::ctl
