// Facts: the small inventory a node's hellos carry to central, for `steward-ctl nodes` and for
// targeting (`--where os=debian`). Some are the machine's own (os, kernel, arch, hostname,
// steward's version, uptime); the operator adds more as key=value lines in files of a folder
// (factsFolder), read again at every hello, so a changed file shows at the next one.
#pragma once

#include "core/util/result.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace steward::process {

using Facts = std::map<std::string, std::string, std::less<>>;

// The bounds of what a node may say: at most kMaxFacts facts, a key of 1–64 letters, digits and
// "._-", a value of at most kMaxFactValue bytes. A folder's files are read up to kMaxFactFiles
// files of kMaxFactFileBytes each.
inline constexpr size_t kMaxFacts = 64;
inline constexpr size_t kMaxFactKey = 64;
inline constexpr size_t kMaxFactValue = 256;
inline constexpr size_t kMaxFactFiles = 64;
inline constexpr size_t kMaxFactFileBytes = 16 * 1024;

bool validFactKey(std::string_view key);

// The machine's facts: os (PRETTY_NAME of /etc/os-release), osId, kernel, arch, hostname,
// stewardVersion, uptimeSeconds.
Facts machineFacts();

// The operator's facts from every regular file directly in `folder` (links, folders and files
// past the bounds are skipped, and said in `problems`, with the file and line). Lines are
// key=value; blank lines and lines starting with # are skipped. A key the machine's facts
// already have keeps the machine's value. No folder, no facts.
Facts folderFacts(const std::filesystem::path& folder, std::vector<std::string>& problems);

// What a hello says of its node besides its name and key (its fourth data field, JSON):
//   {"helloSeconds":60,"inbox":0,"outbox":2,"methods":["REQCliCommand",…],
//    "facts":{"os":"Debian GNU/Linux 12", …}}
struct NodeStatus {
  int64_t helloSeconds = 0;  // how often it says hello; 0: not said
  uint64_t inbox = 0;        // messages waiting in its inbox
  uint64_t outbox = 0;       // messages waiting in its outbox
  // The methods it has started: nobody listening for one of these means the node is gone,
  // not that the method is not started there.
  std::vector<std::string> methods;
  Facts facts;
};
inline constexpr size_t kMaxStatusMethods = 256;
std::string encodeStatus(const NodeStatus& status);
// Reads a hello's status field; anything past the bounds or of the wrong type is an error that
// names it. At most kMaxStatusBytes of JSON.
inline constexpr size_t kMaxStatusBytes = 32 * 1024;
Result<NodeStatus> decodeStatus(std::string_view json);
// The same from a parsed object (a record central keeps).
Result<NodeStatus> readStatus(const rapidjson::Value& v);

}  // namespace steward::process
