// The methods steward itself knows by name, in one table: what the core does with each (send
// hellos, report errors, push keys, reply by default) and where each is started when no flag or
// config says. Everything else about a method (command or event, ACK or not, sequenced or not,
// reply method, whether its data is a command line for the ACL) comes from its plugin's
// descriptor, and any loaded method, a third party's included, is started with
// --startSub<Method> or startSub<Method> in config.toml.
#pragma once

#include <array>
#include <string_view>

namespace steward::message::methods {

inline constexpr std::string_view kHello = "REQHello";
inline constexpr std::string_view kErrorLog = "REQErrorLog";
inline constexpr std::string_view kOpCommand = "REQOpCommand";
inline constexpr std::string_view kKeysUpdate = "REQKeysUpdate";
inline constexpr std::string_view kPing = "REQPing";
inline constexpr std::string_view kPong = "REQPong";
inline constexpr std::string_view kWorkflow = "REQWorkflow";
inline constexpr std::string_view kCopySrc = "REQCopySrc";
inline constexpr std::string_view kCopyDst = "REQCopyDst";
inline constexpr std::string_view kCopyResult = "REQCopyResult";
inline constexpr std::string_view kStartupFolderList = "REQStartupFolderList";
inline constexpr std::string_view kStartupFolderWrite = "REQStartupFolderWrite";
inline constexpr std::string_view kStartupFolderRemove = "REQStartupFolderRemove";
// Where a reply goes when the request names no replyMethod.
inline constexpr std::string_view kDefaultReply = "REQToFileAppend";

// Who may send a method when nothing says otherwise.
enum class DefaultStart {
  off,           // started only when asked (--startSub<Method>, startProc)
  everywhere,    // every node, from any node ("*")
  atCentral,     // on the central node, from any node; off elsewhere
  fromCentral,   // every node, from the central node only
};

struct WellKnown {
  std::string_view name;
  DefaultStart start;
};

inline constexpr std::array<WellKnown, 21> kWellKnown = {{
    {kErrorLog, DefaultStart::atCentral},
    {kHello, DefaultStart::atCentral},
    {"REQToFileAppend", DefaultStart::everywhere},
    {"REQToFile", DefaultStart::everywhere},
    {"REQToConsole", DefaultStart::everywhere},
    {kPing, DefaultStart::off},
    {kPong, DefaultStart::everywhere},
    {"REQCliCommand", DefaultStart::off},
    {"REQnCliCommand", DefaultStart::off},
    {"REQHttpGet", DefaultStart::off},
    {"REQTailFile", DefaultStart::off},
    {"REQnCliCommandCont", DefaultStart::off},
    {kOpCommand, DefaultStart::fromCentral},
    {kKeysUpdate, DefaultStart::fromCentral},
    {kWorkflow, DefaultStart::off},
    {kCopySrc, DefaultStart::off},
    {kCopyDst, DefaultStart::off},
    {kCopyResult, DefaultStart::everywhere},
    {kStartupFolderList, DefaultStart::fromCentral},
    {kStartupFolderWrite, DefaultStart::fromCentral},
    {kStartupFolderRemove, DefaultStart::fromCentral},
}};

// The table's entry for `method`, or nullptr for a method steward does not know by name.
constexpr const WellKnown* find(std::string_view method) {
  for (const auto& m : kWellKnown) {
    if (m.name == method) return &m;
  }
  return nullptr;
}

// Methods the node serves itself, never a plugin: they act on the node (its queues, processes,
// keys, startup folder and outbox: file copies) or call other methods (a workflow's steps), which
// no plugin may do.
constexpr bool servedByNode(std::string_view method) {
  return method == kOpCommand || method == kKeysUpdate || method == kWorkflow || method == kCopySrc ||
         method == kCopyDst || method == kCopyResult || method == kStartupFolderList ||
         method == kStartupFolderWrite || method == kStartupFolderRemove;
}

// The replyOpts (the spec's TODO: options for the reply method) that steward's own reply methods
// take; any of their other options is refused at input. A third party's reply method is handed
// what the request gives, checked for shape only.
enum class ReplyOptionType {
  fileMode,  // a string of octal digits, e.g. "0640": read and write bits only
  flag,      // true or false
};
struct ReplyOption {
  std::string_view method;
  std::string_view name;
  ReplyOptionType type;
  std::string_view meaning;
};
inline constexpr std::array<ReplyOption, 3> kReplyOptions = {{
    {"REQToFile", "mode", ReplyOptionType::fileMode, "the reply file's mode"},
    {"REQToFileAppend", "mode", ReplyOptionType::fileMode, "the reply file's mode"},
    {"REQToFileAppend", "timestamp", ReplyOptionType::flag, "each line starts with the UTC time it was written"},
}};
// The reply methods whose options steward knows (none, for some).
constexpr bool knowsReplyOptions(std::string_view method) {
  return method == "REQToFile" || method == "REQToFileAppend" || method == "REQToConsole" || method == kPong;
}

// The reply method of a request that names none: a ping answers with a pong, as in the Go steward.
constexpr std::string_view defaultReplyTo(std::string_view request) {
  return request == kPing ? kPong : kDefaultReply;
}

}  // namespace steward::message::methods
