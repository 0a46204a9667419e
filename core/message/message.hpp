// The steward message: the JSON object of the spec ("Message fields explanation") plus the fields a
// node adds (id, fromNode, and for replies the request they answer).
#pragma once

#include "core/util/result.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steward::message {

// The last token of a subject: whether the method is a command or an event, and whether the sender
// waits for an ACK.
enum class Kind { CommandACK, CommandNACK, EventACK, EventNACK };

std::string_view kindName(Kind kind);
Kind makeKind(bool event, bool ack);
bool needsAck(Kind kind);

// What the node knows about a method, from the plugin that serves it.
struct MethodInfo {
  std::string name;
  Kind kind = Kind::CommandACK;
  bool ordered = true;      // REQ…: one at a time in send order; REQn…: concurrently
  bool replyMethod = false; // consumes replies, never produces one
  std::string plugin;       // name of the plugin that serves it
  bool commandData = false; // its data is a command line: the ACL's command patterns apply
  // Running it again gives the same result (a copy's chunk written at its place): a run that a
  // crash interrupted runs again, instead of being answered as interrupted.
  bool rerunnable = false;
};

// Looks a method up by name; nullopt when no plugin serves it. A copy, so a plugin reloaded
// meanwhile never leaves the caller holding stale memory.
class MethodCatalog {
 public:
  virtual ~MethodCatalog() = default;
  virtual std::optional<MethodInfo> find(std::string_view method) const = 0;
};

struct Message {
  // Set by the sending node.
  uint64_t id = 0;
  std::string fromNode;
  int64_t createdUnixMs = 0;

  // The operator's fields, as in the spec.
  std::string toNode;
  std::vector<std::string> toNodes;
  std::vector<std::string> data;
  std::string method;
  std::string replyMethod;
  std::optional<int64_t> ackTimeout;      // seconds to wait for an ACK ("ACKTimeout")
  std::optional<int64_t> retries;         // resends after the first send
  std::optional<int64_t> replyAckTimeout; // "replyACKTimeout"
  std::optional<int64_t> replyRetries;
  std::optional<int64_t> methodTimeout;   // seconds a method may run
  // Seconds after it was accepted during which the message is resent (with back-off) until the
  // receiver ACKs it, whatever `retries` says. Not in the Go steward; see README.
  std::optional<int64_t> lifetime;
  std::string directory;
  std::string fileName;
  std::string operation;  // the "operation" object as compact JSON text; empty when absent
  // The spec's replyOpts: options for the reply method, a flat JSON object (compact text; empty
  // when absent) of at most kMaxReplyOptions names, each a string, number or boolean. A reply
  // carries its request's, for the reply method to read.
  std::string replyOpts;
  // A REQWorkflow's steps (message/workflow.hpp), as compact JSON text; empty when absent.
  std::string workflow;
  // The spec's repeat and repeatInterval: the receiving node runs the message `repeat` times (0:
  // until cancelled, or until its lifetime ends), the next run `repeatInterval` seconds after a run
  // ends; each run replies. Input may give the successor's "schedule": [interval, total seconds]
  // instead. Both or neither are set.
  std::optional<int64_t> repeat;
  std::optional<int64_t> repeatInterval;

  // Set on replies: the request this answers, and the error it ended with ("" when it succeeded).
  bool isReply = false;
  uint64_t requestId = 0;
  std::string requestMethod;
  std::string requestError;
  // Set on a reply that a running request sent early (streamed output); more replies follow.
  bool partial = false;
  // Set on a reply to a repeating request: the run it answers (1, 2, …) and the request's repeat
  // (0: until cancelled). More replies follow while run < runs, or always when runs is 0.
  uint64_t run = 0;
  uint64_t runs = 0;
  // Set on a final reply: named parts of the outcome besides the output in `data`, as the method
  // set them (REQCliCommand: "stderr" and "exitStatus"). At most kMaxResultFields.
  std::map<std::string, std::string> result;

  // Set by the sending node on sequenced (REQ…) methods with an ACK: the message's place in its
  // stream, the (sender, toNode, method) it belongs to, numbered 1, 2, 3, … without gaps, and the
  // stream's epoch (new when the sender's database is). The receiver runs a stream in this order,
  // whatever order its messages arrive in. 0: not sequenced.
  uint64_t seq = 0;
  uint64_t epoch = 0;
  // Every number of the stream below this one that has not arrived never will (the sender
  // settled it: gave it up, or it was refused or removed there), so the receiver need not wait for
  // it. Set on every sequenced message, and alone (no seq) on a stream note, which is never stored
  // or run.
  uint64_t floor = 0;
  // Set by the sending node on every message: each of its messages to this toNode with a lower
  // id is settled there (delivered, refused, given up, expired or removed). The receiver then
  // forgets those ids, and a copy of one that was never taken is not run (the sender has already
  // reported it undelivered). How a receiver recognises a resend however old it is, without a
  // memory shared by all senders.
  uint64_t settledBelow = 0;
};

// Bounds on everything a message may carry, so no input can make a node allocate without limit.
struct Limits {
  size_t maxBatchMessages = 10000;
  size_t maxInputBytes = 16 * 1024 * 1024;
  size_t maxMessageBytes = 900 * 1024;  // below nats-server's default max payload of 1 MiB
  size_t maxDataItems = 65536;
  size_t maxNodeNameLength = 255;
  size_t maxNameLength = 255;       // method, replyMethod, fileName
  size_t maxDirectoryLength = 4096;
  size_t maxToNodes = 10000;
  int64_t maxTimeoutSeconds = 30LL * 24 * 3600;
  int64_t maxLifetimeSeconds = 366LL * 24 * 3600;
  int64_t maxRetries = 1000000;
  int64_t maxRepeat = 1000000;
};

// Whether a reply ends what its request asked for: not streamed output, and not a run of a
// repeating request that more runs follow.
inline bool endsRequest(const Message& reply) {
  return !reply.partial && (reply.run == 0 || (reply.runs != 0 && reply.run >= reply.runs));
}

// The largest wire encoding of a message: its data plus room for every other field.
inline size_t maxWireBytes(const Limits& limits) { return limits.maxMessageBytes + 64 * 1024; }

// Node names become one subject token and a folder name: [A-Za-z0-9_-]+, no dots (a dotted name
// would share the subject space of the node named by its first part).
Status checkNodeName(std::string_view name, const Limits& limits = {});
// A name in a reply's result: 1 to 32 letters, digits or '_'.
bool validResultName(std::string_view name);
inline constexpr size_t kMaxResultFields = 16;
inline constexpr size_t kMaxReplyOptions = 16;
// Method names: [A-Za-z0-9_], starting with a letter.
Status checkMethodName(std::string_view name, const Limits& limits = {});

// <node>.<method>.<kind>. The node may contain dots; the method and kind never do.
std::string subject(std::string_view node, std::string_view method, Kind kind);

struct SubjectParts {
  std::string node;
  std::string method;
  Kind kind;
};
// Splits a subject from the right, so node names with dots survive.
Result<SubjectParts> parseSubject(std::string_view subject);

// One message per distinct receiver named in toNode and toNodes, in the order given.
std::vector<Message> fanOut(const Message& message);

}  // namespace steward::message
