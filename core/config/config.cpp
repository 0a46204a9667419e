#include "core/config/config.hpp"

#include "core/message/carriers.hpp"
#include "core/message/message.hpp"
#include "core/message/methods.hpp"
#include "core/util/json.hpp"
#include "core/util/targets.hpp"

#include <cxxopts.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <toml++/toml.h>

#include <deque>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <variant>

namespace steward::config {

const std::vector<std::string>& flagMethods() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& m : message::methods::kWellKnown) out.emplace_back(m.name);
    return out;
  }();
  return names;
}

namespace {

namespace fs = std::filesystem;
using Value = std::variant<std::string, int64_t, bool>;
using message::methods::DefaultStart;

bool isOff(const std::string& v) { return v.empty() || v == "off" || v == "false" || v == "no"; }

DefaultStart defaultStart(std::string_view method) {
  const auto* known = message::methods::find(method);
  return known == nullptr ? DefaultStart::off : known->start;
}

// One setting: its key (flag name and config file key), help, and how it reads and writes Config.
struct Setting {
  std::string key;
  std::string help;
  std::function<Value(const Config&)> get;
  std::function<Status(Config&, const Value&)> set;
};

Status typeError(const std::string& key, const char* want) {
  return Error{key + ": must be " + want};
}

Setting text(std::string key, std::string help, std::string Config::*field,
             std::function<Status(const std::string&)> check = {}) {
  return Setting{key, std::move(help), [field](const Config& c) { return Value(c.*field); },
                 [key, field, check](Config& c, const Value& v) -> Status {
                   const auto* s = std::get_if<std::string>(&v);
                   if (s == nullptr) return typeError(key, "a string");
                   if (check) {
                     if (auto st = check(*s); !st) return Error{key + ": " + st.error().message};
                   }
                   c.*field = *s;
                   return {};
                 }};
}

Setting path(std::string key, std::string help, fs::path Config::*field) {
  return Setting{key, std::move(help), [field](const Config& c) { return Value((c.*field).string()); },
                 [key, field](Config& c, const Value& v) -> Status {
                   const auto* s = std::get_if<std::string>(&v);
                   if (s == nullptr) return typeError(key, "a path");
                   c.*field = *s;
                   return {};
                 }};
}

template <class Int>
Setting integer(std::string key, std::string help, Int Config::*field, int64_t minimum) {
  return Setting{key, std::move(help),
                 [field](const Config& c) { return Value(static_cast<int64_t>(c.*field)); },
                 [key, field, minimum](Config& c, const Value& v) -> Status {
                   const auto* n = std::get_if<int64_t>(&v);
                   if (n == nullptr) return typeError(key, "a whole number");
                   if (*n < minimum) {
                     return Error{key + ": must be at least " + std::to_string(minimum) +
                                  ", got " + std::to_string(*n)};
                   }
                   c.*field = static_cast<Int>(*n);
                   return {};
                 }};
}

Setting boolean(std::string key, std::string help, bool Config::*field) {
  return Setting{key, std::move(help), [field](const Config& c) { return Value(c.*field); },
                 [key, field](Config& c, const Value& v) -> Status {
                   const auto* b = std::get_if<bool>(&v);
                   if (b == nullptr) return typeError(key, "true or false");
                   c.*field = *b;
                   return {};
                 }};
}

Setting startSub(const std::string& method) {
  std::string help = "start the " + method + " subscriber: \"*\" (any node), a comma list of "
                     "nodes allowed to send it, or off";
  switch (defaultStart(method)) {
    case DefaultStart::everywhere: help += " (default: *)"; break;
    case DefaultStart::atCentral: help += " (default: * on the central node, off elsewhere)"; break;
    case DefaultStart::fromCentral: help += " (default: the central node only)"; break;
    case DefaultStart::off: break;
  }
  const std::string key = "startSub" + method;
  return Setting{key, help,
                 [method](const Config& c) {
                   auto it = c.startSub.find(method);
                   return Value(it == c.startSub.end() ? std::string("off") : it->second);
                 },
                 [key, method](Config& c, const Value& v) -> Status {
                   const auto* s = std::get_if<std::string>(&v);
                   if (s == nullptr) return typeError(key, "a string: \"*\", node names or off");
                   if (isOff(*s)) {
                     c.startSub.erase(method);
                   } else {
                     c.startSub[method] = *s;
                   }
                   return {};
                 }};
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = [] {
    auto nodeName = [](const std::string& v) { return message::checkNodeName(v); };
    std::vector<Setting> s = {
        text("nodeName", "unique name of this node (required)", &Config::nodeName,
             [](const std::string& v) {
               return v.empty() ? Status{Error{"must not be empty"}} : message::checkNodeName(v);
             }),
        text("centralNodeName", "the node that receives error logs and hellos",
             &Config::centralNodeName, nodeName),
        text("brokerAddress", "nats-server address host:port, or nats:// URLs, comma separated",
             &Config::brokerAddress),
        path("nkeySeedFile", "file with this node's nkey user seed, to authenticate to the "
                             "broker; empty: none", &Config::nkeySeedFile),
        path("rootCAPath", "CA certificate (PEM) that signed the broker's: connect with TLS; "
                           "empty: plain", &Config::rootCAPath),
        path("trustedKeysFolder", "folder of <node>.pub files: the keys of the nodes whose "
                                  "messages this node takes", &Config::trustedKeysFolder),
        text("carriers", "relays this node takes messages of other nodes from, and lets answer "
                         "for them: \"gw1=ship1,ship2;gw2=*\"; empty: none", &Config::carriers,
             [](const std::string& v) -> Status {
               auto parsed = message::Carriers::parse(v);
               if (!parsed) return parsed.error();
               return {};
             }),
        text("relayBrokerAddress", "the far broker this node relays to (host:port or nats:// URLs, "
                                   "comma separated): it carries messages between it and "
                                   "brokerAddress; empty: not a relay", &Config::relayBrokerAddress),
        text("relayNodes", "comma separated nodes on relayBrokerAddress that this node carries "
                           "messages to", &Config::relayNodes,
             [](const std::string& v) -> Status {
               for (const auto& node : targets::splitNames(v)) {
                 if (auto s = message::checkNodeName(node); !s) return Error{"\"" + node + "\": " + s.error().message};
               }
               return {};
             }),
        integer("relayHoldSeconds", "seconds a relay holds a message its receiver does not ACK "
                                    "before it gives it up and tells central",
                &Config::relayHoldSeconds, 1),
        integer("signatureWindowSeconds", "a message sealed longer ago (or ahead) than this is "
                                          "refused as a replay", &Config::signatureWindowSeconds, 1),
        path("socketFolder", "folder of the steward.sock input socket", &Config::socketFolder),
        path("databaseFolder", "folder of the node's database and audit log",
             &Config::databaseFolder),
        path("subscribersDataFolder", "folder where methods write their files",
             &Config::subscribersDataFolder),
        path("pluginFolder", "folder of method plugins (empty: plugins/ beside the executable, "
                             "then ../lib/steward/plugins)", &Config::pluginFolder),
        text("tcpListener", "host:port to take JSON input over TCP, as on the socket; empty: off. "
                            "Unauthenticated: bind to 127.0.0.1 or a trusted interface",
             &Config::tcpListener),
        text("httpListener", "host:port to take JSON input as HTTP POST (202 with the ids, 400 "
                             "with the error); empty: off. Unauthenticated, like tcpListener",
             &Config::httpListener),
        text("fleetViewListener", "loopback host:port to serve the fleet view (a web page of the "
                                  "nodes and a form to run commands) on; empty: off",
             &Config::fleetViewListener),
        path("fleetViewTokenFile", "file with the token the fleet view asks for; empty: "
                                   "<databaseFolder>/fleet-view.token, made at first start",
             &Config::fleetViewTokenFile),
        text("promHostAndPort", "host:port to serve Prometheus metrics at /metrics; empty: off",
             &Config::promHostAndPort),
        text("exposeDataFolder", "host:port to serve the data folder read-only over HTTP; "
                                 "empty: off", &Config::exposeDataFolder),
        path("startupFolder", "folder whose *.json message files are sent at every start, in "
                              "name order; empty: none", &Config::startupFolder),
        path("factsFolder", "folder of key=value files: facts this node's hellos tell central "
                            "(steward-ctl nodes, --where); empty: only the machine's own",
             &Config::factsFolder),
        path("copyFolder", "folder that files copied to this node (REQCopyDst) are written under; "
                           "empty: <subscribersDataFolder>/copies", &Config::copyFolder),
        integer("copyMaxBytes", "largest file this node sends or takes by REQCopySrc/REQCopyDst",
                &Config::copyMaxBytes, 1),
        integer("defaultMessageTimeout", "seconds to wait for an ACK when a message does not say",
                &Config::defaultMessageTimeout, 1),
        integer("defaultMessageRetries", "resends when a message does not say",
                &Config::defaultMessageRetries, 0),
        integer("defaultMethodTimeout", "seconds a method may run when a message does not say",
                &Config::defaultMethodTimeout, 1),
        integer("errorMessageTimeout", "ACK timeout in seconds of error messages to central",
                &Config::errorMessageTimeout, 1),
        integer("errorMessageRetries", "resends of error messages to central",
                &Config::errorMessageRetries, 0),
        integer("errorReportsPerMinute", "errors sent to central per minute at most; the rest "
                                         "are logged here and counted to central",
                &Config::errorReportsPerMinute, 1),
        integer("startPubREQHello", "send a hello to central every N seconds; 0: never",
                &Config::startPubREQHello, 0),
        integer("maxHandlerThreads", "most method handlers running at once on this node",
                &Config::maxHandlerThreads, 1),
        integer("sendersAtOnce", "sequenced methods: how many senders' messages run at once (each "
                                 "sender's one at a time, in order); 0: 8 on the central node, "
                                 "which takes the fleet's replies, 1 elsewhere",
                &Config::sendersAtOnce, 0),
        integer("sendWindow", "messages of one (toNode, method) sent before the first is "
                              "ACKed; the receiver runs sequenced methods in order whatever "
                              "order they arrive in", &Config::sendWindow, 1),
        boolean("writeConfig", "write the settled settings back to config.toml at each start, so "
                               "flags given once stay; false: the file is left as written",
                &Config::writeConfig),
        boolean("syncWrites", "sync every write that takes a message to disk before it is "
                              "acknowledged (false: leave it to the OS; faster, but a power cut "
                              "can lose messages)", &Config::syncWrites),
        integer("stopGraceSeconds", "on SIGTERM, seconds running methods may take to finish "
                                    "before they are cancelled", &Config::stopGraceSeconds, 0),
        path("logFile", "also log to this file, rotated at 16 MiB into a folder beside it (ten "
                        "kept); empty: stderr only", &Config::logFile),
        text("logLevel", "debug, info, warning or error", &Config::logLevel,
             [](const std::string& v) -> Status {
               if (v == "debug" || v == "info" || v == "warning" || v == "error") return {};
               return Error{"\"" + v + "\" is not debug, info, warning or error"};
             }),
    };
    for (const auto& method : flagMethods()) s.push_back(startSub(method));
    return s;
  }();
  return all;
}

// startSub<Method> for a method steward does not know by name (a third party's): made the first
// time it is asked for, and kept, so settings read from the file and the flags can point at it.
const Setting* otherStartSub(std::string_view key) {
  static std::deque<Setting> made;
  constexpr std::string_view prefix = "startSub";
  if (key.substr(0, prefix.size()) != prefix) return nullptr;
  const std::string method(key.substr(prefix.size()));
  if (!message::checkMethodName(method)) return nullptr;
  for (const auto& s : made) {
    if (s.key == key) return &s;
  }
  return &made.emplace_back(startSub(method));
}

const Setting* findSetting(std::string_view key) {
  for (const auto& s : settings()) {
    if (s.key == key) return &s;
  }
  return otherStartSub(key);
}

std::string shown(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* n = std::get_if<int64_t>(&v)) return std::to_string(*n);
  return std::get<bool>(v) ? "true" : "false";
}

using Values = std::vector<std::pair<const Setting*, Value>>;

// What a config file holds: the settings, and the [plugins.<name>] tables as they were written.
struct FileContents {
  Values values;
  toml::table plugins;
};

// Each [plugins.<name>] table as the JSON object its plugin's create gets.
std::map<std::string, std::string, std::less<>> pluginConfigs(const toml::table& plugins) {
  std::map<std::string, std::string, std::less<>> out;
  for (const auto& [name, node] : plugins) {
    std::ostringstream pretty;
    pretty << toml::json_formatter{*node.as_table(), toml::format_flags::none};
    // toml++ lays JSON out over lines; a plugin gets it compact, one object on one line.
    auto parsed = json::parse(pretty.str(), "plugins." + std::string(name.str()));
    rapidjson::StringBuffer compact;
    rapidjson::Writer<rapidjson::StringBuffer> writer(compact);
    if (parsed) parsed->Accept(writer);
    out[std::string(name.str())] = parsed ? std::string(compact.GetString(), compact.GetSize()) : pretty.str();
  }
  return out;
}

// Reads config file text; unknown keys and wrong types are errors naming key and line.
Result<FileContents> readText(std::string_view text, const std::string& source) {
  FileContents contents;
  Values& values = contents.values;
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin.line;
    return Error{"config file " + source + ", line " + where.str() + ": " +
                 std::string(e.description())};
  }
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const std::string at = "config file " + source + ", line " +
                           std::to_string(node.source().begin.line) + ": ";
    if (name == "plugins") {
      // [plugins.<name>] tables: each plugin's own configuration, handed to it as JSON.
      const toml::table* plugins = node.as_table();
      if (plugins == nullptr) return Error{at + "plugins must be a table of [plugins.<name>] tables"};
      for (const auto& [plugin, config] : *plugins) {
        if (!config.is_table()) {
          return Error{"config file " + source + ", line " + std::to_string(config.source().begin.line) +
                       ": plugins." + std::string(plugin.str()) + " must be a table ([plugins." +
                       std::string(plugin.str()) + "])"};
        }
      }
      contents.plugins = *plugins;
      continue;
    }
    const Setting* setting = findSetting(name);
    if (setting == nullptr) return Error{at + "unknown key \"" + name + "\""};
    if (auto s = node.value<std::string>(); s && node.is_string()) {
      values.emplace_back(setting, *s);
    } else if (node.is_integer()) {
      values.emplace_back(setting, *node.value<int64_t>());
    } else if (node.is_boolean()) {
      values.emplace_back(setting, *node.value<bool>());
    } else {
      return Error{at + name + ": must be a string, a whole number or true/false"};
    }
  }
  return contents;
}

Status writeFile(const fs::path& file, const Config& c, const toml::table& plugins) {
  toml::table table;
  for (const auto& s : settings()) {
    const Value v = s.get(c);
    if (const auto* str = std::get_if<std::string>(&v)) {
      table.insert(s.key, *str);
    } else if (const auto* n = std::get_if<int64_t>(&v)) {
      table.insert(s.key, *n);
    } else {
      table.insert(s.key, std::get<bool>(v));
    }
  }
  // Methods started by flag or file that steward does not know by name (a third party's).
  for (const auto& [method, allowed] : c.startSub) {
    if (message::methods::find(method) == nullptr) table.insert("startSub" + method, allowed);
  }
  if (!plugins.empty()) table.insert("plugins", plugins);
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) return Error{"cannot create config folder " + file.parent_path().string() + ": " + ec.message()};
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << "# steward configuration. Flags given on the command line are written back here and\n"
           "# become the defaults of the next start; delete this file to get the defaults back.\n"
        << table << "\n";
    if (!out) return Error{"cannot write config file " + tmp.string()};
  }
  fs::rename(tmp, file, ec);
  if (ec) return Error{"cannot replace config file " + file.string() + ": " + ec.message()};
  return {};
}

// Defaults that depend on other settings: who runs the central-only and default subscribers.
void defaultSubscribers(Config& c) {
  const bool central = c.nodeName == c.centralNodeName;
  for (const auto& m : message::methods::kWellKnown) {
    const std::string method(m.name);
    if (m.start == DefaultStart::everywhere || (central && m.start == DefaultStart::atCentral)) {
      c.startSub[method] = "*";
    } else if (m.start == DefaultStart::fromCentral) {
      c.startSub[method] = c.centralNodeName;
    }
  }
}

// Defaults, then the file's values, then the flags'.
Result<Config> settle(const FileContents& contents, const Values& flagValues, const std::string& file) {
  const Values& fileValues = contents.values;
  Config c;
  c.pluginConfigs = pluginConfigs(contents.plugins);
  // The node name decides the subscriber defaults, so it is settled first.
  const std::string fromFile = "config file " + file + ": ";
  for (const auto& [values, where] : {std::pair{&fileValues, fromFile}, std::pair{&flagValues, std::string("--")}}) {
    for (const auto& [s, v] : *values) {
      if (s->key == "nodeName" || s->key == "centralNodeName") {
        if (auto st = s->set(c, v); !st) return Error{where + st.error().message};
      }
    }
  }
  if (c.nodeName.empty()) {
    return Error{"--nodeName is required: every node needs a unique name (give it as a flag "
                 "or in " + file + ")"};
  }
  defaultSubscribers(c);
  for (const auto& [s, v] : fileValues) {
    if (auto st = s->set(c, v); !st) return Error{fromFile + st.error().message};
  }
  for (const auto& [s, v] : flagValues) {
    if (auto st = s->set(c, v); !st) return Error{"--" + st.error().message};
  }
  return c;
}

}  // namespace

Result<Config> parseConfigText(std::string_view text, const std::string& name) {
  auto values = readText(text, name);
  if (!values) return values.error();
  return settle(*values, {}, name);
}


Result<CommandLine> parseCommandLine(int argc, const char* const* argv,
                                     const std::filesystem::path& configFolder) {
  const Config defaults;
  cxxopts::Options options("steward", "steward: command and control for fleets of machines.\n"
                                      "Settings come from the flags, then the config file "
                                      "$CONFIG_FOLDER/config.toml (default ./etc), then defaults.");
  options.set_width(100);
  std::set<std::string> addedOther;
  for (const auto& s : settings()) {
    std::string help = s.help;
    if (s.key != "nodeName" && s.key.rfind("startSub", 0) != 0) {
      help += " (default: " + shown(s.get(defaults)) + ")";
    }
    if (std::holds_alternative<bool>(s.get(defaults))) {
      options.add_options()(s.key, help, cxxopts::value<bool>());
    } else if (std::holds_alternative<int64_t>(s.get(defaults))) {
      options.add_options()(s.key, help, cxxopts::value<int64_t>());
    } else {
      options.add_options()(s.key, help, cxxopts::value<std::string>());
    }
  }
  options.add_options()("h,help", "print this help");
  // --startSub<Method> of a method steward does not know by name: any loaded plugin's method.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.substr(0, 10) != "--startSub") continue;
    const size_t equals = arg.find('=');
    const std::string key(arg.substr(2, equals == std::string_view::npos ? equals : equals - 2));
    if (message::methods::find(key.substr(8)) != nullptr) continue;  // a flag of settings() already
    const Setting* setting = otherStartSub(key);
    if (setting != nullptr && addedOther.insert(key).second) {
      options.add_options()(key, setting->help, cxxopts::value<std::string>());
    }
  }

  try {
    auto r = options.parse(argc, argv);
    if (!r.unmatched().empty()) return Error{"unexpected argument \"" + r.unmatched()[0] + "\""};
    if (r.count("help")) return CommandLine{std::nullopt, options.help(), {}};

    const fs::path file = configFolder / "config.toml";
    std::error_code ec;
    FileContents fromFile;
    if (fs::exists(file, ec)) {
      std::ifstream in(file);
      std::stringstream text;
      text << in.rdbuf();
      auto read = readText(text.str(), file.string());
      if (!read) return read.error();
      fromFile = std::move(read).value();
    }
    Values flagValues;
    for (const auto& key : addedOther) {
      if (r.count(key)) flagValues.emplace_back(findSetting(key), r[key].as<std::string>());
    }
    for (const auto& s : settings()) {
      if (!r.count(s.key)) continue;
      const Value d = s.get(defaults);
      if (std::holds_alternative<bool>(d)) {
        flagValues.emplace_back(&s, r[s.key].as<bool>());
      } else if (std::holds_alternative<int64_t>(d)) {
        flagValues.emplace_back(&s, r[s.key].as<int64_t>());
      } else {
        flagValues.emplace_back(&s, r[s.key].as<std::string>());
      }
    }

    auto c = settle(fromFile, flagValues, file.string());
    if (!c) return c.error();
    CommandLine line{*c, {}, {}};
    if (c->writeConfig) {
      if (auto s = writeFile(file, *c, fromFile.plugins); !s) {
        line.warnings.push_back(s.error().message + "; starting with these settings all the same "
                                "(writeConfig = false leaves the file as it is)");
      }
    }
    return line;
  } catch (const cxxopts::exceptions::exception& e) {
    return Error{e.what()};
  }
}

}  // namespace steward::config
