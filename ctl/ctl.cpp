#include "ctl/ctl.hpp"

#include "core/util/json.hpp"
#include "core/util/targets.hpp"

// Lists given to an option are split here (--allowed a,b), not by cxxopts: a target is one
// argument however many commas it has.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace steward::ctl {

namespace {

struct CommandInfo {
  const char* name;
  const char* positional;  // usage of the arguments
  const char* summary;
};

constexpr CommandInfo kCommands[] = {
    {"run", "TARGET [--method M] -- PROGRAM [ARG...]",
     "run a program on the TARGET nodes (REQCliCommand) and print their output"},
    {"send", "FILE.json", "send the messages in FILE (a JSON array) and print their replies"},
    {"ps", "TARGET", "list the processes and plugins of the TARGET nodes"},
    {"start", "TARGET METHOD [--allowed NODE,...]", "start METHOD's subscriber on the TARGET nodes"},
    {"stop", "TARGET METHOD", "stop METHOD's subscriber on the TARGET nodes"},
    {"tail", "NODE PATH", "follow a file on NODE for --timeout seconds"},
    {"cp", "NODE:PATH NODE:PATH", "copy a file from one node to another (REQCopySrc there, REQCopyDst at the "
                                  "other, within its copyFolder), printing its progress"},
    {"nodes", "[TARGET]", "the fleet: every node central knows, when it was last heard from, its "
                          "key, version, queues and facts"},
    {"queue", "[NODE]", "messages the local daemon holds, not yet delivered (to NODE); --at NODE: what "
                        "waits in NODE's inbox, repeating messages included"},
    {"cancel", "ID...", "withdraw queued messages from the local daemon's outbox before they are delivered; "
                        "--at NODE: from NODE's inbox, and end a repeating message's runs"},
    {"keys", "list | allow TARGET | revoke NODE",
     "the keys central trusts: list them, allow nodes' announced keys, revoke a node's key"},
    {"startup", "TARGET list | put FILE.json [NAME] | rm NAME...",
     "the TARGET nodes' startup folders: list them, put a file of messages sent at every start, remove files"},
    {"acl", "show | set FILE.json",
     "who may call what on which node: show central's ACL, or replace it with FILE's"},
};

constexpr const char* kTargets =
    "TARGET: a node, several (ship1,ship2), patterns (ship*, ship[1-3]), or none with --all (every\n"
    "node central has heard from); --where KEY=VALUE keeps nodes whose fact KEY matches VALUE (see\n"
    "steward-ctl nodes). A node nobody listens at (offline, or the method not started there) is\n"
    "said so at once; its message stays queued until its retries or lifetime end (steward-ctl\n"
    "cancel ID withdraws it); --wait waits for it instead.\n";

constexpr const char* kExitCodes =
    "Exit status: 0 success (every node); 1 the method ran on a node and failed; 2 bad usage; 3 the\n"
    "local daemon cannot be reached or refused the input; 4 no final answer within the timeout; 5 a\n"
    "node refused the message (it did not run); 6 the message never reached a node; 7 nobody\n"
    "listens at a node (offline, or the method not started there): its message stays queued.\n";

// Commands whose NODE argument is a TARGET.
bool takesTarget(std::string_view command) {
  return command == "run" || command == "ps" || command == "start" || command == "stop" ||
         command == "nodes" || command == "startup";
}


std::string overview() {
  std::ostringstream o;
  o << "steward-ctl: command a steward fleet through the local daemon\n\n"
    << "Usage: steward-ctl COMMAND [OPTIONS] ARGS\n       steward-ctl --version\n\nCommands:\n";
  for (const auto& c : kCommands) {
    o << "  " << std::left << std::setw(6) << c.name << " " << c.positional << "\n         "
      << c.summary << "\n";
  }
  o << "\n" << kTargets << "\nRun 'steward-ctl COMMAND --help' for a command's options.\n\n" << kExitCodes;
  return o.str();
}

const CommandInfo* findCommand(std::string_view name) {
  for (const auto& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

// How many letters must be inserted, removed, changed or swapped with a neighbour to turn `a`
// into `b` (optimal string alignment distance).
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// "unknown command", with the command it most likely meant when one is close enough.
std::string unknownCommand(const std::string& name) {
  std::string message = "unknown command \"" + name + "\"";
  if (name.size() <= 64) {
    const CommandInfo* closest = nullptr;
    size_t best = 3;  // at most two mistakes
    for (const auto& c : kCommands) {
      if (const size_t d = editDistance(name, c.name); d < best && d < std::string_view(c.name).size()) {
        best = d;
        closest = &c;
      }
    }
    if (closest != nullptr) message += "; did you mean \"" + std::string(closest->name) + "\"?";
  }
  return message;
}

// Which positional arguments each command takes (before "--" for run); `noTarget`: --all or
// --where stands for the target.
bool positionalCountFits(std::string_view command, std::string_view first, std::string_view action, size_t given,
                         bool noTarget) {
  if (command == "keys") return given == (first == "list" ? 1u : first == "allow" && noTarget ? 1u : 2u);
  if (command == "acl") return given == (first == "show" ? 1u : 2u);
  if (command == "send") return given == 1;
  if (command == "cp") return given == 2;
  if (command == "queue") return given <= 1;
  if (command == "nodes") return given <= 1;
  if (command == "cancel") return given >= 1;
  if (command == "startup") {
    // TARGET (unless --all or --where) then the action and its arguments.
    const size_t target = noTarget ? 0 : 1;
    if (given < target + 1) return false;
    const size_t rest = given - target - 1;
    return (action == "list" && rest == 0) || (action == "put" && (rest == 1 || rest == 2)) ||
           (action == "rm" && rest >= 1);
  }
  const size_t withTarget = command == "run" || command == "ps" ? 1 : 2;
  return given == withTarget || (noTarget && takesTarget(command) && given == withTarget - 1);
}

}  // namespace

Result<Parsed> parseArguments(int argc, const char* const* argv) {
  if (argc < 2) return Error{"no command given\n\n" + overview()};
  std::vector<std::string> given(argv + 1, argv + argc);
  // Options may come before the command too (steward-ctl --config-folder X run …, as git and
  // kubectl take them): they go after it.
  if (given[0].size() > 1 && given[0][0] == '-' && given[0] != "--") {
    for (size_t i = 1; i < given.size() && given[i] != "--"; ++i) {
      if (findCommand(given[i]) == nullptr) continue;
      const auto at = given.begin() + static_cast<std::ptrdiff_t>(i);
      std::rotate(given.begin(), at, at + 1);
      break;
    }
  }
  const std::string first = given[0];
  if (first == "-h" || first == "--help" || first == "help") return Parsed{std::nullopt, overview()};
  if (first == "--version" || first == "version") return Parsed{std::nullopt, "steward-ctl " STEWARD_VERSION "\n"};
  const CommandInfo* info = findCommand(first);
  if (info == nullptr) return Error{unknownCommand(first) + "\n\n" + overview()};

  // run's program comes after "--" and is passed on untouched.
  std::vector<std::string> before;
  std::vector<std::string> after;
  bool dashes = false;
  for (size_t i = 1; i < given.size(); ++i) {
    const std::string& a = given[i];
    if (!dashes && a == "--") {
      dashes = true;
    } else {
      (dashes ? after : before).push_back(a);
    }
  }

  Options o;
  o.command = first;
  const bool isTail = o.command == "tail";
  cxxopts::Options spec("steward-ctl " + o.command, info->summary);
  // clang-format off
  spec.add_options()
    ("socket", "the daemon's socket (default: <socketFolder>/steward.sock from config.toml)",
     cxxopts::value<std::string>())
    ("config-folder", "where config.toml is (default: $CONFIG_FOLDER, else /etc/steward, else ./etc)",
     cxxopts::value<std::string>())
    ("json", "print the daemon's answer lines (JSON) instead of text")
    ("timeout", isTail ? "seconds to follow the file" : "seconds to wait for the answer",
     cxxopts::value<int64_t>()->default_value("60"))
    ("h,help", "this help")
    ("positional", "", cxxopts::value<std::vector<std::string>>());
  if (o.command == "run") {
    spec.add_options()("method", "the command method", cxxopts::value<std::string>()->default_value("REQCliCommand"))
      ("exit-code", "exit with the program's own exit status (of the first node, in target order, "
                    "whose program exited non-zero), instead of 1 for any failure");
  }
  if (o.command == "start") {
    spec.add_options()("allowed", "nodes allowed to send METHOD (default: the central node)",
                       cxxopts::value<std::vector<std::string>>());
  }
  if (o.command == "send") spec.add_options()("no-wait", "print the accepted ids and return");
  if (takesTarget(o.command) || o.command == "keys") {
    spec.add_options()
      ("all", o.command == "keys" ? "keys allow: every node whose key is pending"
                                  : "every node central has heard from")
      ("where", "KEY=VALUE: only nodes whose fact KEY matches VALUE (repeatable)",
       cxxopts::value<std::vector<std::string>>());
  }
  if (o.command == "run" || o.command == "ps" || o.command == "start" || o.command == "stop") {
    spec.add_options()
      ("wait", "wait for nodes nobody listens at (offline) until --timeout, instead of leaving "
               "their messages queued")
      ("no-wait", "leave the messages of nodes nobody listens at queued and return (the default)");
  }
  if (o.command == "keys") spec.add_options()("yes", "allow several keys without asking");
  if (o.command == "queue" || o.command == "cancel") {
    spec.add_options()("at", "NODE: what this node's messages wait for in NODE's inbox (repeating ones between "
                             "runs too), instead of in the local outbox", cxxopts::value<std::string>());
  }
  // clang-format on
  spec.parse_positional({"positional"});
  spec.positional_help(info->positional);
  spec.custom_help("[OPTIONS]");

  std::vector<const char*> args{argv[0]};
  for (const auto& a : before) args.push_back(a.c_str());
  try {
    auto r = spec.parse(static_cast<int>(args.size()), args.data());
    if (r.count("help")) return Parsed{std::nullopt, spec.help({""}) + "\n" + kExitCodes};
    if (r.count("socket")) o.socket = r["socket"].as<std::string>();
    if (r.count("config-folder")) o.configFolder = r["config-folder"].as<std::string>();
    o.json = r.count("json") > 0;
    o.timeoutSeconds = r["timeout"].as<int64_t>();
    if (o.timeoutSeconds < 1 || o.timeoutSeconds > 7 * 24 * 3600) {
      return Error{"--timeout must be from 1 to 604800 seconds"};
    }
    if (o.command == "run") o.method = r["method"].as<std::string>();
    for (const auto& list : r.count("allowed") ? r["allowed"].as<std::vector<std::string>>() : std::vector<std::string>{}) {
      for (auto& n : targets::splitNames(list)) o.allowed.push_back(std::move(n));
    }
    if (o.command == "send") o.wait = r.count("no-wait") == 0;
    if (r.count("wait") && r.count("no-wait")) return Error{"--wait and --no-wait exclude each other"};
    o.waitQueued = r.count("wait") > 0;
    o.all = r.count("all") > 0;
    o.exitCode = r.count("exit-code") > 0;
    o.yes = r.count("yes") > 0;
    if (r.count("at")) {
      o.at = r["at"].as<std::string>();
      if (targets::isPattern(o.at) || o.at.find(',') != std::string::npos) {
        return Error{"--at names one node, not \"" + o.at + "\""};
      }
    }
    for (const auto& w : r.count("where") ? r["where"].as<std::vector<std::string>>() : std::vector<std::string>{}) {
      auto match = targets::parseFactMatch(w);
      if (!match) return Error{"--where takes KEY=VALUE, not \"" + w + "\""};
      o.where.push_back(std::move(match).value());
    }
    std::vector<std::string> positional;
    if (r.count("positional")) positional = r["positional"].as<std::vector<std::string>>();
    const bool noTarget = o.all || !o.where.empty();
    const size_t actionAt = noTarget ? 0 : 1;  // startup's action
    const std::string action = positional.size() > actionAt ? positional[actionAt] : "";
    if (o.command == "startup" && !action.empty() && action != "list" && action != "put" && action != "rm") {
      return Error{"startup takes list, put FILE.json [NAME] or rm NAME..., not \"" + action + "\""};
    }
    if (!positionalCountFits(o.command, positional.empty() ? "" : positional[0], action, positional.size(), noTarget)) {
      return Error{o.command + " takes " + info->positional + " (got " +
                   std::to_string(positional.size()) + " argument(s) before any --)"};
    }
    if (o.command == "cp") {
      for (const auto& side : positional) {
        const auto colon = side.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == side.size()) {
          return Error{"cp takes NODE:PATH NODE:PATH, not \"" + side + "\""};
        }
      }
      o.node = positional[0].substr(0, positional[0].find(':'));
      o.args = {positional[0].substr(o.node.size() + 1), positional[1].substr(0, positional[1].find(':')),
                positional[1].substr(positional[1].find(':') + 1)};
    } else if (o.command == "send" || o.command == "keys" || o.command == "acl") {
      o.args = positional;
      if (o.command == "keys" && o.args[0] != "list" && o.args[0] != "allow" && o.args[0] != "revoke") {
        return Error{"keys takes list, allow TARGET or revoke NODE, not \"" + o.args[0] + "\""};
      }
      if (o.command == "keys" && o.args[0] == "allow" && o.args.size() > 1) o.node = o.args[1];
      if (o.command == "keys" && o.args[0] != "allow" && noTarget) {
        return Error{"--all and --where pick nodes for keys allow only"};
      }
      if (o.command == "acl" && o.args[0] != "show" && o.args[0] != "set") {
        return Error{"acl takes show or set FILE.json, not \"" + o.args[0] + "\""};
      }
    } else if (o.command == "cancel") {
      for (const auto& id : positional) {
        uint64_t value = 0;
        const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
        if (ec != std::errc() || end != id.data() + id.size() || value == 0) {
          return Error{"cancel takes message ids (as run, send and queue print them), not \"" + id + "\""};
        }
        o.ids.push_back(value);
      }
    } else if (o.command == "queue" || o.command == "nodes") {
      if (!positional.empty()) o.node = positional[0];
    } else if (o.command == "startup") {
      if (!noTarget) o.node = positional[0];
      o.args.assign(positional.begin() + static_cast<std::ptrdiff_t>(actionAt), positional.end());
    } else {
      const bool targetGiven = positional.size() == (o.command == "run" || o.command == "ps" ? 1u : 2u);
      if (targetGiven) o.node = positional[0];
      const size_t rest = targetGiven ? 1 : 0;
      if (o.command == "start" || o.command == "stop") o.method = positional[rest];
      if (o.command == "tail") o.args = {positional[rest]};
    }
    if (o.command == "tail" && (o.node.find(',') != std::string::npos || targets::isPattern(o.node))) {
      return Error{"tail follows a file on one node, not \"" + o.node + "\""};
    }
    if (o.command == "run") {
      if (after.empty()) return Error{"run needs the program after --: steward-ctl run TARGET -- uptime"};
      o.args = after;
    } else if (dashes) {
      return Error{"only run takes arguments after --"};
    }
  } catch (const cxxopts::exceptions::exception& e) {
    return Error{e.what()};
  }
  return Parsed{o, {}};
}

namespace {

fs::path configFolder(const Options& o) {
  if (!o.configFolder.empty()) return o.configFolder;
  if (const char* env = std::getenv("CONFIG_FOLDER"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  if (fs::exists("/etc/steward/config.toml", ec)) return "/etc/steward";
  return "./etc";
}

std::optional<std::string> configValue(const Options& o, const char* key) {
  try {
    auto table = toml::parse_file((configFolder(o) / "config.toml").string());
    if (auto v = table[key].value<std::string>()) return *v;
  } catch (const toml::parse_error&) {
  }
  return std::nullopt;
}

}  // namespace

Result<fs::path> socketPath(const Options& o) {
  if (!o.socket.empty()) return o.socket;
  const fs::path file = configFolder(o) / "config.toml";
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    return Error{"no " + file.string() +
                 ": give --socket, --config-folder or CONFIG_FOLDER (the daemon's config folder)"};
  }
  fs::path folder = configValue(o, "socketFolder").value_or("./tmp");
  // A relative folder is relative to where the daemon runs, which, with the default ./etc config
  // folder, is the config folder's parent.
  if (folder.is_relative()) folder = fs::absolute(configFolder(o)).parent_path() / folder;
  return folder.lexically_normal() / "steward.sock";
}

std::string centralNodeName(const Options& o) {
  return configValue(o, "centralNodeName").value_or("central");
}

std::string localNodeName(const Options& o) {
  return configValue(o, "nodeName").value_or(centralNodeName(o));
}

std::vector<std::string> plainTargets(const Options& o) { return targets::splitNames(o.node); }

bool needsFleet(const Options& o) {
  const bool picks = takesTarget(o.command) || (o.command == "keys" && !o.args.empty() && o.args[0] == "allow");
  if (!picks || o.command == "nodes") return false;
  if (o.all || !o.where.empty()) return true;
  const auto names = plainTargets(o);
  if (o.command == "keys" && names.size() > 1) return true;
  return std::any_of(names.begin(), names.end(), [](const std::string& n) { return targets::isPattern(n); });
}

bool fleetMode(const Options& o) {
  if (!takesTarget(o.command) || o.command == "nodes") return false;
  if (o.all || !o.where.empty()) return true;
  const auto names = o.nodes.empty() ? plainTargets(o) : o.nodes;
  return names.size() > 1 || std::any_of(names.begin(), names.end(), [](const std::string& n) { return targets::isPattern(n); });
}

std::string fleetRequest(const std::string& centralNodeName) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("messages");
  w.StartArray();
  w.StartObject();
  w.Key("toNode");
  w.String(centralNodeName.c_str());
  w.Key("method");
  w.String("REQOpCommand");
  w.Key("operation");
  w.StartObject();
  w.Key("opCmd");
  w.String("nodes");
  w.EndObject();
  w.Key("data");
  w.StartArray();
  w.EndArray();
  w.Key("directory");
  w.String("steward-ctl");
  w.Key("fileName");
  w.String("nodes.log");
  w.EndObject();
  w.EndArray();
  w.Key("follow");
  w.Bool(true);
  w.Key("timeoutSeconds");
  w.Int(30);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<std::vector<std::string>> resolveTargets(const Options& o, const std::string& nodesJson) {
  targets::Target target;
  target.names = plainTargets(o);
  target.all = o.all;
  target.where = o.where;
  target.pending = o.command == "keys";
  return targets::resolve(target, nodesJson);
}

Result<std::string> buildRequest(const Options& o, const std::string& centralNodeName,
                                 const std::string& localNodeName) {
  rapidjson::Document messages(rapidjson::kArrayType);
  auto& a = messages.GetAllocator();
  auto str = [&](const std::string& s) { return rapidjson::Value(s.c_str(), a); };
  const std::vector<std::string> nodes = o.nodes.empty() ? plainTargets(o) : o.nodes;
  const std::string local = localNodeName.empty() ? centralNodeName : localNodeName;
  const bool atCentral = o.command == "keys" || o.command == "acl" || o.command == "nodes";
  const bool atLocal = (o.command == "queue" || o.command == "cancel") && o.at.empty();
  const bool atNode = (o.command == "queue" || o.command == "cancel") && !o.at.empty();
  auto message = [&](const std::string& method, const std::string& toNode) {
    rapidjson::Value m(rapidjson::kObjectType);
    m.AddMember("toNode", str(toNode), a);
    m.AddMember("method", str(method), a);
    m.AddMember("data", rapidjson::Value(rapidjson::kArrayType), a);
    // The replies are also kept, as always, under the data folder of this node.
    m.AddMember("directory", "steward-ctl", a);
    m.AddMember("fileName", str((nodes.size() == 1 || atCentral || atLocal || atNode ? toNode : std::string("fleet")) + "." + method + ".log"), a);
    return m;
  };
  // One message for the target: to its node, or to all of its nodes (toNodes).
  auto targeted = [&](const std::string& method) {
    if (atCentral) return message(method, centralNodeName);
    if (atLocal) return message(method, local);
    if (atNode) return message(method, o.at);
    rapidjson::Value m = message(method, nodes.size() == 1 ? nodes[0] : std::string());
    if (nodes.size() > 1) {
      m.RemoveMember("toNode");
      rapidjson::Value list(rapidjson::kArrayType);
      for (const auto& n : nodes) list.PushBack(str(n), a);
      m.AddMember("toNodes", list, a);
    }
    return m;
  };
  auto operation = [&](const char* cmd, rapidjson::Value arg, const std::string* toNode = nullptr) {
    rapidjson::Value m = toNode != nullptr ? message("REQOpCommand", *toNode) : targeted("REQOpCommand");
    rapidjson::Value op(rapidjson::kObjectType);
    op.AddMember("opCmd", rapidjson::StringRef(cmd), a);
    if (!arg.IsNull()) op.AddMember("opArg", arg, a);
    m.AddMember("operation", op, a);
    return m;
  };
  if (takesTarget(o.command) && o.command != "nodes" && nodes.empty()) {
    return Error{o.command + " needs a target: a node, a pattern, --all or --where"};
  }

  if (o.command == "send") {
    std::ifstream in(o.args[0]);
    if (!in) return Error{"cannot read " + o.args[0]};
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = json::parse(text.str(), o.args[0]);
    if (!parsed) return parsed.error();
    if (!parsed->IsArray()) return Error{o.args[0] + " is not a JSON array of messages"};
    messages.CopyFrom(parsed.value(), a);
  } else if (o.command == "run" || o.command == "tail") {
    rapidjson::Value m = targeted(o.command == "run" ? o.method : "REQTailFile");
    for (const auto& arg : o.args) m["data"].PushBack(str(arg), a);
    // The node stops the method when the operator stops waiting.
    m.AddMember("methodTimeout", o.timeoutSeconds, a);
    messages.PushBack(m, a);
  } else if (o.command == "cp") {
    rapidjson::Value m = message("REQCopySrc", o.node);
    for (const auto& arg : o.args) m["data"].PushBack(str(arg), a);
    messages.PushBack(m, a);
  } else if (o.command == "startup") {
    const std::string& action = o.args[0];
    rapidjson::Value m = targeted(action == "list"  ? "REQStartupFolderList"
                                  : action == "put" ? "REQStartupFolderWrite"
                                                    : "REQStartupFolderRemove");
    if (action == "put") {
      // The file is checked here as JSON, and at each node as input it would take.
      const std::string& file = o.args[1];
      std::ifstream in(file);
      if (!in) return Error{"cannot read " + file};
      std::stringstream text;
      text << in.rdbuf();
      if (auto parsed = json::parse(text.str(), file); !parsed) return parsed.error();
      m["data"].PushBack(str(o.args.size() > 2 ? o.args[2] : fs::path(file).filename().string()), a);
      m["data"].PushBack(str(text.str()), a);
    } else {
      for (size_t i = 1; i < o.args.size(); ++i) m["data"].PushBack(str(o.args[i]), a);
    }
    messages.PushBack(m, a);
  } else if (o.command == "ps") {
    messages.PushBack(operation("ps", rapidjson::Value()), a);
  } else if (o.command == "nodes") {
    messages.PushBack(operation("nodes", rapidjson::Value()), a);
  } else if (o.command == "queue") {
    rapidjson::Value arg(rapidjson::kObjectType);
    if (atNode) {
      arg.AddMember("queue", "inbox", a);
      arg.AddMember("fromNode", str(local), a);
    } else {
      arg.AddMember("queue", "outbox", a);
      if (!o.node.empty()) arg.AddMember("toNode", str(o.node), a);
    }
    messages.PushBack(operation("listQueue", std::move(arg)), a);
  } else if (o.command == "cancel") {
    rapidjson::Value arg(rapidjson::kObjectType);
    arg.AddMember("queue", rapidjson::StringRef(atNode ? "inbox" : "outbox"), a);
    if (atNode) arg.AddMember("fromNode", str(local), a);
    rapidjson::Value ids(rapidjson::kArrayType);
    for (uint64_t id : o.ids) ids.PushBack(id, a);
    arg.AddMember("ids", ids, a);
    messages.PushBack(operation("removeQueued", std::move(arg)), a);
  } else if (o.command == "keys") {
    const char* cmd = o.args[0] == "list" ? "keysList" : o.args[0] == "allow" ? "keysAllow" : "keysRevoke";
    // keys allow of several nodes: one operation each, in one input.
    const std::vector<std::string> which =
        o.args[0] == "list" ? std::vector<std::string>{""}
        : o.args[0] == "allow" ? nodes
                               : std::vector<std::string>{o.args[1]};
    for (const auto& node : which) {
      rapidjson::Value arg;
      if (!node.empty()) {
        arg.SetObject();
        arg.AddMember("node", str(node), a);
      }
      messages.PushBack(operation(cmd, std::move(arg), &centralNodeName), a);
    }
  } else if (o.command == "acl") {
    rapidjson::Value arg;
    if (o.args[0] == "set") {
      std::ifstream in(o.args[1]);
      if (!in) return Error{"cannot read " + o.args[1]};
      std::stringstream text;
      text << in.rdbuf();
      auto acl = json::parse(text.str(), o.args[1]);
      if (!acl) return acl.error();
      if (!acl->IsObject()) return Error{o.args[1] + " is not a JSON object (node: [rules])"};
      arg.SetObject();
      arg.AddMember("acl", rapidjson::Value(acl.value(), a), a);
    }
    messages.PushBack(operation(o.args[0] == "set" ? "keysAclSet" : "keysAclShow", std::move(arg)), a);
  } else if (o.command == "start" || o.command == "stop") {
    rapidjson::Value arg(rapidjson::kObjectType);
    arg.AddMember("method", str(o.method), a);
    if (o.command == "start") {
      rapidjson::Value allowed(rapidjson::kArrayType);
      if (o.allowed.empty()) allowed.PushBack(str(centralNodeName), a);
      for (const auto& n : o.allowed) allowed.PushBack(str(n), a);
      arg.AddMember("allowedNodes", allowed, a);
    }
    messages.PushBack(operation(o.command == "start" ? "startProc" : "stopProc", std::move(arg)), a);
  } else {
    return Error{"unknown command " + o.command};
  }

  rapidjson::Document request(rapidjson::kObjectType);
  auto& ra = request.GetAllocator();
  request.AddMember("messages", rapidjson::Value(messages, ra), ra);
  request.AddMember("follow", o.wait, ra);
  // The daemon waits a little longer than the method may run, for the reply to travel, and a
  // little longer than this program does, so a timeout is always seen here as one.
  request.AddMember("timeoutSeconds", o.timeoutSeconds + kTravelSeconds + 5, ra);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  request.Accept(w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string nodesTable(const std::string& json, const std::vector<std::string>* only);
std::string queueTable(const std::string& json, const std::vector<uint64_t>& hide);

namespace {

// Commands whose answer is a JSON object; --json prints that object, one line per node.
bool answersObject(const Options& o) {
  return o.command == "ps" || o.command == "nodes" || o.command == "queue" || o.command == "cancel" ||
         (o.command == "keys" && o.args[0] == "list");
}


// What a removeQueued answer says: the ids removed, and why the node kept the others it was asked
// for (running, a repeating message's last run); nullopt when `answer` is not one.
struct RemoveAnswer {
  std::set<uint64_t> removed;
  std::map<uint64_t, std::string> kept;
};
std::optional<RemoveAnswer> removeAnswer(const std::string& answer) {
  auto parsed = json::parse(answer, "the answer");
  if (!parsed || !parsed->IsObject() || !parsed->HasMember("removed") || !(*parsed)["removed"].IsArray()) {
    return std::nullopt;
  }
  RemoveAnswer out;
  for (const auto& id : (*parsed)["removed"].GetArray()) {
    if (id.IsUint64()) out.removed.insert(id.GetUint64());
  }
  if (parsed->HasMember("kept") && (*parsed)["kept"].IsArray()) {
    for (const auto& k : (*parsed)["kept"].GetArray()) {
      if (k.IsObject() && k.HasMember("id") && k["id"].IsUint64() && k.HasMember("why") && k["why"].IsString()) {
        out.kept[k["id"].GetUint64()] = k["why"].GetString();
      }
    }
  }
  return out;
}

// The text a command's answer is shown as, when it is not printed as it came; `own`: the ids of
// this command's messages (queue leaves its own request out).
std::string rendered(const Options& o, const std::string& data, const std::vector<uint64_t>& own) {
  if (o.command == "ps") return psTable(data);
  if (o.command == "nodes") {
    if (o.node.empty() && o.where.empty()) return nodesTable(data);
    auto picked = resolveTargets(o, data);
    if (!picked) return picked.error().message + "\n";
    return nodesTable(data, &picked.value());
  }
  if (o.command == "queue") return queueTable(data, own);
  if (o.command == "keys" && o.args[0] == "list") return keysTable(data);
  if (o.command == "cancel") {
    const auto answer = removeAnswer(data);
    if (!answer) return data;
    std::string text;
    for (uint64_t id : answer->removed) text += "cancelled " + std::to_string(id) + "\n";
    return text;
  }
  return data;
}

// cancel: says which of the ids asked for the answer does not list as removed.
std::string notCancelled(const Options& o, const std::vector<std::string>& data, const std::string& node,
                         Output& output) {
  std::set<uint64_t> removed;
  std::map<uint64_t, std::string> kept;  // why the node kept one (running, a repeat's last run)
  for (const auto& item : data) {
    auto answer = removeAnswer(item);
    if (!answer) continue;
    removed.merge(answer->removed);
    kept.merge(answer->kept);
  }
  std::string error;
  for (uint64_t id : o.ids) {
    if (removed.count(id) != 0) continue;
    if (auto why = kept.find(id); why != kept.end()) {
      output.err += "steward-ctl: " + std::to_string(id) + ": " + why->second + "\n";
      if (why->second.find("no run of it follows") != std::string::npos ||
          why->second.find("ends with the run going now") != std::string::npos) {
        continue;  // its schedule is cancelled: only the run going now finishes
      }
    } else {
      output.err += "steward-ctl: " + std::to_string(id) + ": not queued " +
                    (o.at.empty() ? "here (delivered, settled, or not sent from " + node + ")"
                                  : "at " + o.at + " (run, or not sent from this node)") +
                    "\n";
    }
    error = "not every message was cancelled";
  }
  return error;
}

}  // namespace

bool Printer::take(const std::string& line, Output& output) {
  auto parsed = json::parse(line, "the daemon's answer");
  if (!parsed || !parsed->IsObject()) {
    output.err += "steward-ctl: the daemon answered something unexpected: " + line + "\n";
    failed_ = true;
    return true;
  }
  const rapidjson::Value& d = parsed.value();
  // Raw lines, unless the answers are printed per node or as the objects they hold.
  if (options_.json && !fleetMode(options_) && !answersObject(options_)) output.out += line + "\n";
  if (d.HasMember("ok")) {
    if (!d["ok"].IsBool() || !d["ok"].GetBool()) {
      refused_ = true;
      // The code, when the daemon gives one, says what kind of refusal it is (tooDeep, busy, …).
      const std::string code = d.HasMember("code") && d["code"].IsString() ? d["code"].GetString() : "";
      output.err += "steward-ctl: the daemon refused the input" + (code.empty() ? "" : " (" + code + ")") +
                    ": " + (d.HasMember("error") && d["error"].IsString() ? d["error"].GetString() : "") + "\n";
      return false;
    }
    ids_.emplace();
    if (d.HasMember("ids") && d["ids"].IsArray()) {
      for (const auto& id : d["ids"].GetArray()) {
        if (id.IsUint64()) ids_->push_back(id.GetUint64());
      }
    }
    // A fan-out's ids come in the order of its nodes.
    const bool named = ids_->size() == options_.nodes.size();
    for (size_t i = 0; i < ids_->size(); ++i) answers_[(*ids_)[i]].node = named ? options_.nodes[i] : "";
    if (!options_.json && !options_.wait) {
      for (uint64_t id : *ids_) output.out += "accepted " + std::to_string(id) + "\n";
    }
    output.progress = progress();
    return options_.wait;
  }
  if (d.HasMember("done")) {
    done_ = true;
    return false;
  }
  takeReply(d, output);
  output.progress = progress();
  // The daemon says done once every message has its final answer; a node nobody listens at
  // (not waited for) has none yet, so this side stops by itself.
  return !allSettled() || std::none_of(answers_.begin(), answers_.end(),
                                       [](const auto& a) { return unheard(a.second.state); });
}

void Printer::takeReply(const rapidjson::Value& d, Output& output) {
  auto text = [&](const char* key) {
    return d.HasMember(key) && d[key].IsString() ? std::string(d[key].GetString(), d[key].GetStringLength())
                                                  : std::string();
  };
  std::vector<std::string> data;
  if (d.HasMember("data") && d["data"].IsArray()) {
    for (const auto& v : d["data"].GetArray()) {
      if (v.IsString()) data.emplace_back(v.GetString(), v.GetStringLength());
    }
  }
  const bool final = !d.HasMember("final") || !d["final"].IsBool() || d["final"].GetBool();
  const uint64_t id = d.HasMember("requestId") && d["requestId"].IsUint64() ? d["requestId"].GetUint64() : 0;
  const std::string node = text("node");
  const std::string method = text("method");
  const std::string state = text("state");
  Answer& answer = answers_[id];
  if (answer.node.empty()) answer.node = node;
  const bool fleet = fleetMode(options_);

  if (!final && !state.empty()) {
    // Nobody listens there: said once; without --wait the node is not waited for.
    if (answer.state != "waiting") return;
    answer.note = text("note");
    if (!options_.waitQueued) answer.state = state;
    if (!options_.json) output.err += "steward-ctl: " + answer.note + "\n";
    return;
  }
  const std::string error = text("error");
  const Code code = codeNamed(text("code"));
  for (auto& item : data) answer.data.push_back(item);
  if (d.HasMember("result") && d["result"].IsObject()) {
    for (const auto& part : d["result"].GetObject()) {
      if (part.value.IsString()) answer.result[part.name.GetString()] = std::string(part.value.GetString(), part.value.GetStringLength());
    }
  }
  if (!final) {
    // Streamed output: printed as it comes for one node; kept for the end of each in a fleet.
    if (!fleet) {
      printData(method, data, false, error.empty(), output);
      answer.data.clear();
    }
    return;
  }
  answer.error = error;
  answer.code = code;
  if (options_.command == "cancel" && error.empty()) answer.error = notCancelled(options_, answer.data, node, output);
  answer.state = answer.error.empty() ? "ok" : std::string(failureState(code));
  if (options_.json) {
    if (answersObject(options_) && error.empty()) {
      for (const auto& item : answer.data) {
        auto object = json::parse(item, "the answer");
        output.out += (object && object->IsObject() ? json::compact(object.value()) : item) + "\n";
      }
    }
    if (!answersObject(options_) || error.empty()) return;
  }
  const bool several = ids_ && ids_->size() > 1;
  if (!options_.json) {
    if (fleet) {
      output.out += "=== " + answer.node + (error.empty() ? "" : " (" + answer.state + ")") + "\n";
    } else if (several) {
      output.out += "=== " + node + " " + method + " (id " + std::to_string(id) + ")\n";
    }
    printData(method, answer.data, true, error.empty(), output);
    // What the program wrote to stderr goes to stderr (each line under its node's name when
    // several nodes answer).
    if (auto stderrText = answer.result.find("stderr"); stderrText != answer.result.end()) {
      std::istringstream lines(stderrText->second);
      for (std::string line; std::getline(lines, line);) output.err += (fleet ? answer.node + ": " : "") + line + "\n";
    }
  }
  answer.data.clear();
  if (error.empty()) return;
  // A refusal or a failed delivery says its kind; a failed run speaks for itself, by how it
  // ended when the reply says so (its stderr is printed already).
  const std::string kind =
      code == Code::methodFailed || code == Code::unspecified ? "" : " (" + std::string(codeName(code)) + ")";
  std::string why = error;
  if (auto status = answer.result.find("exitStatus"); status != answer.result.end()) {
    why = "exit status " + status->second;
  } else if (auto signal = answer.result.find("signal"); signal != answer.result.end()) {
    // A timeout or cancel says so itself; another signal is said by number.
    if (error.find("process group") == std::string::npos) why = "killed by signal " + signal->second;
  }
  output.err += "steward-ctl: " + answer.node + ": " + method + kind + ": " + why + "\n";
}

void Printer::printData(const std::string& method, const std::vector<std::string>& data, bool final,
                        bool ok, Output& output) {
  for (const auto& d : data) {
    if (method == "REQOpCommand" && ok && answersObject(options_)) {
      output.out += rendered(options_, d, ids_ ? *ids_ : std::vector<uint64_t>{});
      continue;
    }
    output.out += d;
    if (!d.empty() && d.back() != '\n' && final) output.out += "\n";
  }
}

bool Printer::unheard(const std::string& state) {
  return state == "offline" || state == "notStarted" || state == "noResponders";
}

bool Printer::allSettled() const {
  if (!ids_) return false;
  for (uint64_t id : *ids_) {
    auto it = answers_.find(id);
    if (it == answers_.end() || it->second.state == "waiting") return false;
  }
  return true;
}

std::string Printer::progress() const {
  if (!fleetMode(options_) || !ids_) return {};
  size_t ok = 0, failed = 0, silent = 0, waiting = 0;
  for (uint64_t id : *ids_) {
    auto it = answers_.find(id);
    const std::string state = it == answers_.end() ? "waiting" : it->second.state;
    if (state == "ok") {
      ++ok;
    } else if (state == "waiting") {
      ++waiting;
    } else if (unheard(state)) {
      ++silent;
    } else {
      ++failed;
    }
  }
  return std::to_string(ids_->size()) + " nodes: " + std::to_string(ok) + " ok, " + std::to_string(failed) +
         " failed, " + std::to_string(silent) + " not answering, " + std::to_string(waiting) + " waiting";
}

Exit exitFor(Code code) {
  const auto state = failureState(code);
  return state == "failed" ? kRemoteFailure : state == "undelivered" ? kUndelivered : kRefused;
}

Exit Printer::exitOf(const Answer& answer) {
  if (answer.state == "ok") return kOk;
  if (answer.state == "waiting") return kTimedOut;
  if (unheard(answer.state)) return kNotAnswered;
  return exitFor(answer.code);
}

int Printer::finish(bool timedOut, Output& output) {
  output.progress.clear();
  if (refused_) return kLocalFailure;
  if (!ids_) {
    output.err += "steward-ctl: the daemon closed the connection without an answer\n";
    return kLocalFailure;
  }
  if (!options_.wait) return kOk;
  std::vector<Exit> exits;
  std::string missing;
  size_t ok = 0;
  std::string notOk;
  for (uint64_t id : *ids_) {
    const Answer& answer = answers_[id];
    const Exit e = exitOf(answer);
    exits.push_back(e);
    if (e == kOk) ++ok;
    if (e == kTimedOut && !done_) missing += (missing.empty() ? "" : ", ") + std::to_string(id);
    if (e != kOk) {
      notOk += (notOk.empty() ? "" : ", ") + (answer.node.empty() ? "message " + std::to_string(id) : answer.node) +
               " " + (e == kTimedOut ? std::string("no answer") : answer.state);
    }
    if (options_.json && fleetMode(options_)) {
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
      w.StartObject();
      w.Key("node");
      w.String(answer.node.c_str());
      w.Key("id");
      w.Uint64(id);
      w.Key("state");
      w.String(e == kTimedOut ? "timedOut" : answer.state.c_str());
      w.Key("ok");
      w.Bool(e == kOk);
      w.Key("data");
      w.StartArray();
      for (const auto& d : answer.data) w.String(d.c_str(), static_cast<rapidjson::SizeType>(d.size()));
      w.EndArray();
      w.Key("error");
      w.String(answer.error.c_str());
      const auto code = codeName(answer.code);
      w.Key("code");
      w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
      w.Key("note");
      w.String(answer.note.c_str());
      if (!answer.result.empty()) {
        w.Key("result");
        json::writeStrings(w, answer.result);
      }
      w.EndObject();
      output.out += std::string(buffer.GetString(), buffer.GetSize()) + "\n";
    }
  }
  if (!missing.empty()) {
    output.err += "steward-ctl: no final answer " + std::string(timedOut ? "within " +
                  std::to_string(options_.timeoutSeconds + kTravelSeconds) + " s " : "before the daemon closed the connection ") +
                  "for message(s) " + missing + "; their replies will still be written under the data folder\n";
  }
  if (fleetMode(options_)) {
    output.err += std::to_string(ok) + "/" + std::to_string(ids_->size()) + " ok" +
                  (notOk.empty() ? "" : "; " + notOk) + "\n";
  }
  if (failed_) return kRemoteFailure;
  if (options_.exitCode) {
    for (uint64_t id : *ids_) {
      const Answer& answer = answers_[id];
      auto status = answer.result.find("exitStatus");
      if (status == answer.result.end() || status->second == "0") continue;
      int value = 0;
      const auto [end, ec] = std::from_chars(status->second.data(), status->second.data() + status->second.size(), value);
      if (ec == std::errc() && end == status->second.data() + status->second.size() && value > 0 && value < 256) {
        return value;
      }
    }
  }
  // No answer first; then a refusal (sending again will not help), what never arrived, nodes
  // nobody listens at, failed runs.
  for (const Exit worst : {kTimedOut, kRefused, kUndelivered, kNotAnswered, kRemoteFailure}) {
    if (std::find(exits.begin(), exits.end(), worst) != exits.end()) return worst;
  }
  return kOk;
}

std::string keysTable(const std::string& json) {
  auto parsed = json::parse(json, "the answer");
  if (!parsed || !parsed->IsObject() || !parsed->HasMember("allowed")) return json + "\n";
  const rapidjson::Value& d = parsed.value();
  std::ostringstream o;
  o << "trusted set version " << (d["version"].IsUint64() ? d["version"].GetUint64() : 0) << "\n";
  o << std::left << std::setw(10) << "STATE" << std::setw(24) << "NODE" << "KEY\n";
  for (const char* state : {"allowed", "pending"}) {
    if (!d.HasMember(state) || !d[state].IsObject()) continue;
    for (const auto& k : d[state].GetObject()) {
      o << std::setw(10) << state << std::setw(24) << k.name.GetString()
        << (k.value.IsString() ? k.value.GetString() : "") << "\n";
    }
  }
  if (d.HasMember("revoked") && d["revoked"].IsArray()) {
    for (const auto& k : d["revoked"].GetArray()) {
      o << std::setw(10) << "revoked" << std::setw(24) << "-" << (k.IsString() ? k.GetString() : "") << "\n";
    }
  }
  return o.str();
}

std::string nodesTable(const std::string& json, const std::vector<std::string>* only) {
  auto parsed = json::parse(json, "the answer");
  if (!parsed || !parsed->IsObject() || !parsed->HasMember("nodes") || !(*parsed)["nodes"].IsArray()) {
    return json + "\n";
  }
  auto text = [](const rapidjson::Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsString() ? std::string(v[key].GetString()) : std::string("-");
  };
  auto number = [](const rapidjson::Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsUint64() ? std::to_string(v[key].GetUint64()) : std::string("-");
  };
  std::ostringstream o;
  o << std::left << std::setw(20) << "NODE" << std::setw(9) << "STATE" << std::setw(10) << "SEEN"
    << std::setw(9) << "KEY" << std::setw(9) << "VERSION" << std::setw(8) << "QUEUED" << std::setw(12)
    << "INBOX/OUTBOX" << "OS\n";
  for (const auto& n : (*parsed)["nodes"].GetArray()) {
    if (!n.IsObject()) continue;
    const std::string name = text(n, "node");
    if (only != nullptr && std::find(only->begin(), only->end(), name) == only->end()) continue;
    const bool seen = n.HasMember("secondsAgo") && n["secondsAgo"].IsInt64();
    const bool online = n.HasMember("online") && n["online"].IsBool() && n["online"].GetBool();
    const std::string key = text(n, "key");
    std::string ago = "never";
    if (seen) {
      const int64_t s = n["secondsAgo"].GetInt64();
      ago = s < 120 ? std::to_string(s) + "s ago" : s < 7200 ? std::to_string(s / 60) + "m ago"
            : s < 172800 ? std::to_string(s / 3600) + "h ago" : std::to_string(s / 86400) + "d ago";
    }
    const rapidjson::Value* facts = n.HasMember("facts") && n["facts"].IsObject() ? &n["facts"] : nullptr;
    o << std::setw(20) << name << std::setw(9) << (key == "pending" ? "pending" : online ? "online" : "offline")
      << std::setw(10) << ago << std::setw(9) << key << std::setw(9)
      << (facts ? text(*facts, "stewardVersion") : "-") << std::setw(8) << number(n, "queued") << std::setw(12)
      << (seen ? number(n, "inbox") + "/" + number(n, "outbox") : "-")
      << (facts ? text(*facts, "os") : "-") << "\n";
  }
  return o.str();
}

std::string nodesTable(const std::string& json) { return nodesTable(json, nullptr); }

std::string queueTable(const std::string& json) { return queueTable(json, {}); }

namespace {

// A node's inbox as listQueue gives it: what waits, runs, or repeats; `hide`: this command's own
// messages (its listQueue runs there as it lists).
std::string inboxTable(const rapidjson::Value& d, const std::vector<uint64_t>& hide) {
  auto text = [](const rapidjson::Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsString() ? std::string(v[key].GetString()) : std::string("-");
  };
  auto number = [](const rapidjson::Value& v, const char* key) -> std::optional<int64_t> {
    if (v.HasMember(key) && v[key].IsInt64()) return v[key].GetInt64();
    return std::nullopt;
  };
  std::vector<const rapidjson::Value*> shown;
  for (const auto& m : d["inbox"].GetArray()) {
    const bool own = m.IsObject() && m.HasMember("id") && m["id"].IsUint64() && !m.HasMember("atUnixMs") &&
                     std::find(hide.begin(), hide.end(), m["id"].GetUint64()) != hide.end();
    if (m.IsObject() && !own) shown.push_back(&m);
  }
  if (shown.empty()) return "nothing waits at " + text(d, "node") + "\n";
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  std::ostringstream o;
  o << std::left << std::setw(20) << "ID" << std::setw(20) << "FROM" << std::setw(22) << "METHOD" << std::setw(11)
    << "STATE" << std::setw(9) << "RUN" << "NEXT\n";
  for (const rapidjson::Value* one : shown) {
    const rapidjson::Value& m = *one;
    const auto run = number(m, "run");
    const auto runs = number(m, "runs");
    const auto at = number(m, "atUnixMs");
    std::string runText = run ? std::to_string(*run) + (runs ? "/" + (*runs == 0 ? std::string("∞") : std::to_string(*runs)) : "") : "-";
    o << std::setw(20) << (m.HasMember("id") && m["id"].IsUint64() ? std::to_string(m["id"].GetUint64()) : "-")
      << std::setw(20) << text(m, "fromNode") << std::setw(22) << text(m, "method") << std::setw(11)
      << text(m, "state") << std::setw(9) << runText
      << (at ? "in " + std::to_string(std::max<int64_t>(0, *at - now) / 1000) + "s" : "-") << "\n";
  }
  return o.str();
}

}  // namespace

std::string queueTable(const std::string& json, const std::vector<uint64_t>& hide) {
  auto parsed = json::parse(json, "the answer");
  if (parsed && parsed->IsObject() && parsed->HasMember("inbox") && (*parsed)["inbox"].IsArray() &&
      !parsed->HasMember("outbox")) {
    return inboxTable(parsed.value(), hide);
  }
  if (!parsed || !parsed->IsObject() || !parsed->HasMember("outbox") || !(*parsed)["outbox"].IsArray()) {
    return json + "\n";
  }
  auto text = [](const rapidjson::Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsString() ? std::string(v[key].GetString()) : std::string("-");
  };
  std::vector<const rapidjson::Value*> shown;
  for (const auto& m : (*parsed)["outbox"].GetArray()) {
    const bool hidden = m.IsObject() && m.HasMember("id") && m["id"].IsUint64() &&
                        std::find(hide.begin(), hide.end(), m["id"].GetUint64()) != hide.end();
    if (m.IsObject() && !hidden) shown.push_back(&m);
  }
  if (shown.empty()) return "nothing queued\n";
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  std::ostringstream o;
  o << std::left << std::setw(20) << "ID" << std::setw(20) << "TO" << std::setw(22) << "METHOD"
    << std::setw(9) << "AGE" << "WHAT\n";
  for (const rapidjson::Value* one : shown) {
    const rapidjson::Value& m = *one;
    const int64_t created = m.HasMember("createdUnixMs") && m["createdUnixMs"].IsInt64() ? m["createdUnixMs"].GetInt64() : now;
    o << std::setw(20) << (m.HasMember("id") && m["id"].IsUint64() ? std::to_string(m["id"].GetUint64()) : "-")
      << std::setw(20) << text(m, "toNode") << std::setw(22) << text(m, "method") << std::setw(9)
      << (std::to_string(std::max<int64_t>(0, now - created) / 1000) + "s") << text(m, "summary") << "\n";
  }
  return o.str();
}

std::string psTable(const std::string& json) {
  auto parsed = json::parse(json, "the answer");
  if (!parsed || !parsed->IsObject() || !parsed->HasMember("processes")) return json + "\n";
  const rapidjson::Value& d = parsed.value();
  auto text = [](const rapidjson::Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsString() ? std::string(v[key].GetString()) : std::string("-");
  };
  auto number = [](const rapidjson::Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsUint64() ? std::to_string(v[key].GetUint64()) : std::string("-");
  };
  std::ostringstream o;
  o << "node " << text(d, "node") << "\n"
    << std::left << std::setw(5) << "ID" << std::setw(11) << "KIND" << std::setw(24) << "METHOD"
    << std::setw(16) << "NODES" << std::setw(8) << "BUSY" << "PLUGIN\n";
  for (const auto& p : d["processes"].GetArray()) {
    const bool sub = text(p, "kind") == "subscriber";
    std::string plugin = "-";
    if (p.HasMember("plugin")) plugin = text(p["plugin"], "name") + " " + text(p["plugin"], "version");
    o << std::setw(5) << number(p, "id") << std::setw(11) << text(p, "kind") << std::setw(24)
      << text(p, "method") << std::setw(16) << (sub ? text(p, "allowedNodes") : "to " + text(p, "toNode"))
      << std::setw(8) << (sub ? number(p, "running") : number(p, "pending")) << plugin << "\n";
  }
  if (d.HasMember("plugins") && d["plugins"].IsArray()) {
    o << "plugins:";
    for (const auto& p : d["plugins"].GetArray()) {
      o << " " << text(p, "name") << (p.HasMember("loaded") && p["loaded"].GetBool() ? "" : " (not loaded)");
    }
    o << "\n";
  }
  return o.str();
}

}  // namespace steward::ctl
