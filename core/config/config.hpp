// The daemon's settings and the command line that sets them (the spec's flags).
#pragma once

#include "core/util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace steward::config {

struct Config {
  std::string nodeName;
  std::string centralNodeName = "central";
  std::string brokerAddress = "127.0.0.1:4222";
  std::filesystem::path nkeySeedFile;  // nkey authentication to the broker; empty: none
  std::filesystem::path rootCAPath;    // TLS to the broker, trusting this CA; empty: plain
  // <node>.pub files: the public keys of the nodes this node takes messages from.
  std::filesystem::path trustedKeysFolder = "./etc/trusted-keys";
  // Relays this node takes carried messages from, and ACKs for others from (message::Carriers):
  // "gw1=ship1,ship2;gw2=*"; empty: none.
  std::string carriers;
  // This node as a relay (process::Relay): the far broker's address, the nodes behind it that
  // this node carries messages to, and how long it holds one for a receiver that does not ACK.
  // Empty address: not a relay.
  std::string relayBrokerAddress;
  std::string relayNodes;  // comma separated node names
  int64_t relayHoldSeconds = 7 * 24 * 3600;
  // A message sealed longer ago (or further ahead) than this is refused.
  int64_t signatureWindowSeconds = 300;
  std::filesystem::path socketFolder = "./tmp";
  std::filesystem::path databaseFolder = "./var/lib";
  std::filesystem::path subscribersDataFolder = "./data";
  std::filesystem::path pluginFolder;  // empty: next to the executable
  std::string tcpListener;   // "host:port" for JSON input over TCP; empty: off
  std::string httpListener;  // "host:port" for JSON input over HTTP POST; empty: off
  // Every *.json in it is submitted at each start, in name order (the spec's "services at
  // startup"); empty: none.
  std::filesystem::path startupFolder;
  // Files of key=value lines: facts this node's hellos carry besides the machine's own
  // (process/facts.hpp); empty: none.
  std::filesystem::path factsFolder;
  // Where files copied to this node land (a destination path is taken within it, no link
  // followed); empty: <subscribersDataFolder>/copies. And the largest file copied either way.
  std::filesystem::path copyFolder;
  int64_t copyMaxBytes = 1024LL * 1024 * 1024;
  // The fleet view (input/fleet_view.hpp): "127.0.0.1:port" on central; empty: off. Its token
  // is read from fleetViewTokenFile (empty: <databaseFolder>/fleet-view.token, made at first start).
  std::string fleetViewListener;
  std::filesystem::path fleetViewTokenFile;
  std::string promHostAndPort;  // "host:port" to serve Prometheus metrics at /metrics; empty: off
  std::string exposeDataFolder; // "host:port" to serve subscribersDataFolder read-only; empty: off
  int64_t defaultMessageTimeout = 10;  // seconds to wait for an ACK
  int64_t defaultMessageRetries = 3;
  int64_t defaultMethodTimeout = 10;   // seconds a method may run when methodTimeout is not set
  int64_t errorMessageTimeout = 60;
  int64_t errorMessageRetries = 10;
  int64_t errorReportsPerMinute = 30;  // beyond these, errors are logged here and counted
  int64_t startPubREQHello = 0;        // seconds between hellos to central; 0: none
  // Subscribers to start: method -> who may send it ("*" or comma separated node names).
  std::map<std::string, std::string> startSub;
  size_t maxHandlerThreads = 64;
  size_t sendWindow = 8;  // messages of one (toNode, method) in flight at once (tests/bench)
  // Senders whose messages of one sequenced method run at once; 0: 8 on the central node (the
  // fleet's replies), 1 elsewhere.
  size_t sendersAtOnce = 0;
  // true: each write that takes a message is synced to disk (concurrent writes share one sync);
  // false: the OS decides when (fast; a power cut can lose the last accepted messages).
  bool syncWrites = true;
  // Whether the settled settings are written back to config.toml at each start (the spec's
  // behaviour); false leaves the file as its author wrote it (the packages' setting).
  bool writeConfig = true;
  // Seconds a SIGTERM waits for running methods before cancelling them.
  int64_t stopGraceSeconds = 10;
  std::string logLevel = "info";
  // Also log to this file (rotated); empty: stderr only.
  std::filesystem::path logFile;
  // Each plugin's [plugins.<name>] table of config.toml, as the JSON object its create gets.
  // Only the file sets them; they are written back as they were.
  std::map<std::string, std::string, std::less<>> pluginConfigs;
};

// The methods that have a startSub<Method> flag.
const std::vector<std::string>& flagMethods();

struct CommandLine {
  std::optional<Config> config;  // empty when --help was asked for
  std::string helpText;
  std::vector<std::string> warnings;  // e.g. the settings could not be written back
};

// Settles the configuration, as the spec's "Flags and configuration file" says: flags win over
// <configFolder>/config.toml, which wins over the defaults; the result is written back to the file
// (created on first start), so flags given once become the next start's defaults, and deleting
// the file restores the defaults. With writeConfig = false the file is left as it is; a file that
// cannot be written is a warning, not an error. A missing nodeName, an unknown key or flag, or a bad value is an
// error that names it (and, for the file, its line).
// The configuration a config file's text gives (no flags, nothing written); errors as above.
// `name` says where the text is from.
Result<Config> parseConfigText(std::string_view text, const std::string& name);

Result<CommandLine> parseCommandLine(int argc, const char* const* argv,
                                     const std::filesystem::path& configFolder);

}  // namespace steward::config
