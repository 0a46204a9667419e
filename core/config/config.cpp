#include "core/config/config.hpp"

#include "core/message/message.hpp"

#include <cxxopts.hpp>

namespace steward::config {

const std::vector<std::string>& flagMethods() {
  static const std::vector<std::string> methods = {
      "REQErrorLog", "REQHello",        "REQToFileAppend", "REQToFile",          "REQToConsole",
      "REQPing",     "REQPong",         "REQCliCommand",   "REQnCliCommand",     "REQHttpGet",
      "REQTailFile", "REQnCliCommandCont", "REQOpCommand"};
  return methods;
}

namespace {

bool isOff(const std::string& v) { return v.empty() || v == "off" || v == "false" || v == "no"; }

// Methods every node serves unless told otherwise, and those only central serves.
bool onByDefault(const std::string& method) {
  return method == "REQToFileAppend" || method == "REQToFile" || method == "REQToConsole" ||
         method == "REQPong";
}
bool onAtCentralByDefault(const std::string& method) {
  return method == "REQErrorLog" || method == "REQHello";
}

}  // namespace

Result<CommandLine> parseCommandLine(int argc, const char* const* argv) {
  Config c;
  cxxopts::Options options("steward", "steward: command and control for fleets of machines");
  options.set_width(100);
  // clang-format off
  options.add_options()
    ("nodeName", "unique name of this node (required)", cxxopts::value<std::string>())
    ("centralNodeName", "the node that receives error logs and hellos",
        cxxopts::value<std::string>()->default_value(c.centralNodeName))
    ("brokerAddress", "nats-server address host:port, or nats:// URLs, comma separated",
        cxxopts::value<std::string>()->default_value(c.brokerAddress))
    ("socketFolder", "folder of the steward.sock input socket",
        cxxopts::value<std::string>()->default_value(c.socketFolder.string()))
    ("databaseFolder", "folder of the node's database",
        cxxopts::value<std::string>()->default_value(c.databaseFolder.string()))
    ("subscribersDataFolder", "folder where methods write their files",
        cxxopts::value<std::string>()->default_value(c.subscribersDataFolder.string()))
    ("pluginFolder", "folder of method plugins (default: plugins/ beside the executable, "
                     "then ../lib/steward/plugins)", cxxopts::value<std::string>())
    ("defaultMessageTimeout", "seconds to wait for an ACK when a message does not say",
        cxxopts::value<int64_t>()->default_value(std::to_string(c.defaultMessageTimeout)))
    ("defaultMessageRetries", "resends when a message does not say",
        cxxopts::value<int64_t>()->default_value(std::to_string(c.defaultMessageRetries)))
    ("defaultMethodTimeout", "seconds a method may run when a message does not say",
        cxxopts::value<int64_t>()->default_value(std::to_string(c.defaultMethodTimeout)))
    ("errorMessageTimeout", "ACK timeout in seconds of error messages to central",
        cxxopts::value<int64_t>()->default_value(std::to_string(c.errorMessageTimeout)))
    ("errorMessageRetries", "resends of error messages to central",
        cxxopts::value<int64_t>()->default_value(std::to_string(c.errorMessageRetries)))
    ("startPubREQHello", "send a hello to central every N seconds; 0: never",
        cxxopts::value<int64_t>()->default_value("0"))
    ("maxHandlerThreads", "most method handlers running at once on this node",
        cxxopts::value<size_t>()->default_value(std::to_string(c.maxHandlerThreads)))
    ("syncWrites", "sync every write that takes a message to disk before it is acknowledged "
                   "(false: leave it to the OS; faster, but a power cut can lose messages)",
        cxxopts::value<bool>()->default_value("true"))
    ("stopGraceSeconds", "on SIGTERM, seconds running methods may take to finish before they "
                         "are cancelled",
        cxxopts::value<int64_t>()->default_value(std::to_string(c.stopGraceSeconds)))
    ("logLevel", "debug, info, warning or error",
        cxxopts::value<std::string>()->default_value(c.logLevel))
    ("h,help", "print this help");
  // clang-format on
  for (const auto& method : flagMethods()) {
    std::string help = "start the " + method + " subscriber: \"*\" (any node), a comma list of "
                       "nodes allowed to send it, or off";
    if (onByDefault(method)) help += " (default: *)";
    if (onAtCentralByDefault(method)) help += " (default: * on the central node, off elsewhere)";
    if (method == "REQOpCommand") help += " (default: the central node only)";
    options.add_options()("startSub" + method, help, cxxopts::value<std::string>());
  }

  try {
    auto r = options.parse(argc, argv);
    if (!r.unmatched().empty()) return Error{"unexpected argument \"" + r.unmatched()[0] + "\""};
    if (r.count("help")) return CommandLine{std::nullopt, options.help()};
    if (!r.count("nodeName") || r["nodeName"].as<std::string>().empty()) {
      return Error{"--nodeName is required: every node needs a unique name"};
    }
    c.nodeName = r["nodeName"].as<std::string>();
    c.centralNodeName = r["centralNodeName"].as<std::string>();
    for (const auto& [flag, value] : {std::pair{"nodeName", c.nodeName},
                                      std::pair{"centralNodeName", c.centralNodeName}}) {
      if (auto s = message::checkNodeName(value); !s) {
        return Error{std::string("--") + flag + ": " + s.error().message};
      }
    }
    c.brokerAddress = r["brokerAddress"].as<std::string>();
    c.socketFolder = r["socketFolder"].as<std::string>();
    c.databaseFolder = r["databaseFolder"].as<std::string>();
    c.subscribersDataFolder = r["subscribersDataFolder"].as<std::string>();
    if (r.count("pluginFolder")) c.pluginFolder = r["pluginFolder"].as<std::string>();
    c.maxHandlerThreads = r["maxHandlerThreads"].as<size_t>();
    c.syncWrites = r["syncWrites"].as<bool>();
    c.logLevel = r["logLevel"].as<std::string>();
    if (c.logLevel != "debug" && c.logLevel != "info" && c.logLevel != "warning" &&
        c.logLevel != "error") {
      return Error{"--logLevel: \"" + c.logLevel + "\" is not debug, info, warning or error"};
    }
    struct Seconds {
      const char* flag;
      int64_t* target;
      int64_t minimum;
    };
    for (const Seconds& s : {Seconds{"defaultMessageTimeout", &c.defaultMessageTimeout, 1},
                             Seconds{"defaultMessageRetries", &c.defaultMessageRetries, 0},
                             Seconds{"defaultMethodTimeout", &c.defaultMethodTimeout, 1},
                             Seconds{"errorMessageTimeout", &c.errorMessageTimeout, 1},
                             Seconds{"errorMessageRetries", &c.errorMessageRetries, 0},
                             Seconds{"startPubREQHello", &c.startPubREQHello, 0},
                             Seconds{"stopGraceSeconds", &c.stopGraceSeconds, 0}}) {
      *s.target = r[s.flag].as<int64_t>();
      if (*s.target < s.minimum) {
        return Error{std::string("--") + s.flag + ": must be at least " +
                     std::to_string(s.minimum) + ", got " + std::to_string(*s.target)};
      }
    }
    const bool central = c.nodeName == c.centralNodeName;
    for (const auto& method : flagMethods()) {
      std::string value;
      if (r.count("startSub" + method)) {
        value = r["startSub" + method].as<std::string>();
      } else if (onByDefault(method) || (central && onAtCentralByDefault(method))) {
        value = "*";
      } else if (method == "REQOpCommand") {
        value = c.centralNodeName;
      }
      if (!isOff(value)) c.startSub[method] = value;
    }
  } catch (const cxxopts::exceptions::exception& e) {
    return Error{e.what()};
  }
  return CommandLine{c, {}};
}

}  // namespace steward::config
