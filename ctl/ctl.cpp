#include "ctl/ctl.hpp"

#include "core/util/json.hpp"

#include <cxxopts.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <toml++/toml.h>

#include <algorithm>
#include <vector>
#include <cstdlib>
#include <fstream>
#include <iomanip>
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
    {"run", "NODE [--method M] -- PROGRAM [ARG…]",
     "run a program on NODE (REQCliCommand) and print its output"},
    {"send", "FILE.json", "send the messages in FILE (a JSON array) and print their replies"},
    {"ps", "NODE", "list the processes and plugins of NODE"},
    {"start", "NODE METHOD [--allowed NODE,…]", "start METHOD's subscriber on NODE"},
    {"stop", "NODE METHOD", "stop METHOD's subscriber on NODE"},
    {"tail", "NODE PATH", "follow a file on NODE for --timeout seconds"},
    {"keys", "list | allow NODE | revoke NODE",
     "the keys central trusts: list them, allow a node's announced key, revoke a node's key"},
    {"acl", "show | set FILE.json",
     "who may call what on which node: show central's ACL, or replace it with FILE's"},
};

constexpr const char* kExitCodes =
    "Exit status: 0 success; 1 the method ran on the node and failed; 2 bad usage; 3 the local\n"
    "daemon cannot be reached or refused the input; 4 no final answer within the timeout; 5 the\n"
    "node refused the message (it did not run); 6 the message never reached the node.\n";

std::string overview() {
  std::ostringstream o;
  o << "steward-ctl: command a steward fleet through the local daemon\n\n"
    << "Usage: steward-ctl COMMAND [OPTIONS] ARGS   (steward-ctl --version: its version)\n\nCommands:\n";
  for (const auto& c : kCommands) {
    o << "  " << std::left << std::setw(6) << c.name << " " << c.positional << "\n         "
      << c.summary << "\n";
  }
  o << "\nRun 'steward-ctl COMMAND --help' for a command's options.\n\n" << kExitCodes;
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

// Which positional arguments each command takes (before "--" for run).
size_t positionalCount(std::string_view command, std::string_view first) {
  if (command == "keys") return first == "list" ? 1 : 2;
  if (command == "acl") return first == "show" ? 1 : 2;
  if (command == "send" || command == "ps") return 1;
  return 2 - (command == "run");
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
    spec.add_options()("method", "the command method", cxxopts::value<std::string>()->default_value("REQCliCommand"));
  }
  if (o.command == "start") {
    spec.add_options()("allowed", "nodes allowed to send METHOD (default: the central node)",
                       cxxopts::value<std::vector<std::string>>());
  }
  if (o.command == "send") spec.add_options()("no-wait", "print the accepted ids and return");
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
    if (r.count("allowed")) o.allowed = r["allowed"].as<std::vector<std::string>>();
    if (o.command == "send") o.wait = r.count("no-wait") == 0;
    std::vector<std::string> positional;
    if (r.count("positional")) positional = r["positional"].as<std::vector<std::string>>();
    const size_t wanted = positionalCount(o.command, positional.empty() ? "" : positional[0]);
    if (positional.size() != wanted) {
      return Error{o.command + " takes " + info->positional + " (got " +
                   std::to_string(positional.size()) + " argument(s) before any --)"};
    }
    if (o.command == "send" || o.command == "keys" || o.command == "acl") {
      o.args = positional;
      if (o.command == "keys" && o.args[0] != "list" && o.args[0] != "allow" && o.args[0] != "revoke") {
        return Error{"keys takes list, allow NODE or revoke NODE, not \"" + o.args[0] + "\""};
      }
      if (o.command == "acl" && o.args[0] != "show" && o.args[0] != "set") {
        return Error{"acl takes show or set FILE.json, not \"" + o.args[0] + "\""};
      }
    } else {
      o.node = positional[0];
      if (o.command == "start" || o.command == "stop") o.method = positional[1];
      if (o.command == "tail") o.args = {positional[1]};
    }
    if (o.command == "run") {
      if (after.empty()) return Error{"run needs the program after --: steward-ctl run NODE -- uptime"};
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

Result<std::string> buildRequest(const Options& o, const std::string& centralNodeName) {
  rapidjson::Document messages(rapidjson::kArrayType);
  auto& a = messages.GetAllocator();
  auto str = [&](const std::string& s) { return rapidjson::Value(s.c_str(), a); };
  const std::string toNode = o.command == "keys" || o.command == "acl" ? centralNodeName : o.node;
  auto message = [&](const std::string& method) {
    rapidjson::Value m(rapidjson::kObjectType);
    m.AddMember("toNode", str(toNode), a);
    m.AddMember("method", str(method), a);
    m.AddMember("data", rapidjson::Value(rapidjson::kArrayType), a);
    // The replies are also kept, as always, under the data folder of this node.
    m.AddMember("directory", "steward-ctl", a);
    m.AddMember("fileName", str(toNode + "." + method + ".log"), a);
    return m;
  };
  auto operation = [&](const char* cmd, rapidjson::Value arg) {
    rapidjson::Value m = message("REQOpCommand");
    rapidjson::Value op(rapidjson::kObjectType);
    op.AddMember("opCmd", rapidjson::StringRef(cmd), a);
    if (!arg.IsNull()) op.AddMember("opArg", arg, a);
    m.AddMember("operation", op, a);
    return m;
  };

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
    rapidjson::Value m = message(o.command == "run" ? o.method : "REQTailFile");
    for (const auto& arg : o.args) m["data"].PushBack(str(arg), a);
    // The node stops the method when the operator stops waiting.
    m.AddMember("methodTimeout", o.timeoutSeconds, a);
    messages.PushBack(m, a);
  } else if (o.command == "ps") {
    messages.PushBack(operation("ps", rapidjson::Value()), a);
  } else if (o.command == "keys") {
    rapidjson::Value arg;
    if (o.args[0] != "list") {
      arg.SetObject();
      arg.AddMember("node", str(o.args[1]), a);
    }
    const char* cmd = o.args[0] == "list" ? "keysList" : o.args[0] == "allow" ? "keysAllow" : "keysRevoke";
    messages.PushBack(operation(cmd, std::move(arg)), a);
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

bool Printer::take(const std::string& line, Output& output) {
  if (options_.json) output.out += line + "\n";
  auto parsed = json::parse(line, "the daemon's answer");
  if (!parsed || !parsed->IsObject()) {
    output.err += "steward-ctl: the daemon answered something unexpected: " + line + "\n";
    failed_ = true;
    return true;
  }
  const rapidjson::Value& d = parsed.value();
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
    if (!options_.json && !options_.wait) {
      for (uint64_t id : *ids_) output.out += "accepted " + std::to_string(id) + "\n";
    }
    return options_.wait;
  }
  if (d.HasMember("done")) {
    done_ = true;
    return false;
  }
  std::vector<std::string> data;
  if (d.HasMember("data") && d["data"].IsArray()) {
    for (const auto& v : d["data"].GetArray()) {
      if (v.IsString()) data.emplace_back(v.GetString(), v.GetStringLength());
    }
  }
  auto text = [&](const char* key) {
    return d.HasMember(key) && d[key].IsString() ? std::string(d[key].GetString()) : std::string();
  };
  const bool final = !d.HasMember("final") || !d["final"].IsBool() || d["final"].GetBool();
  const uint64_t id = d.HasMember("requestId") && d["requestId"].IsUint64() ? d["requestId"].GetUint64() : 0;
  printReply(text("node"), text("method"), data, text("error"), codeNamed(text("code")), final, id,
             output);
  return true;
}

void Printer::printReply(const std::string& node, const std::string& method,
                         const std::vector<std::string>& data, const std::string& error,
                         Code code, bool final, uint64_t id, Output& output) {
  if (final) answered_.push_back(id);
  if (!error.empty()) failures_.push_back(exitFor(code));
  if (options_.json) return;
  const bool several = ids_ && ids_->size() > 1;
  if (several && final) output.out += "=== " + node + " " + method + " (id " + std::to_string(id) + ")\n";
  for (const auto& d : data) {
    if (method == "REQOpCommand" && options_.command == "ps" && error.empty()) {
      output.out += psTable(d);
      continue;
    }
    if (method == "REQOpCommand" && options_.command == "keys" && error.empty() &&
        options_.args[0] == "list") {
      output.out += keysTable(d);
      continue;
    }
    output.out += d;
    if (!d.empty() && d.back() != '\n' && final) output.out += "\n";
  }
  if (error.empty()) return;
  // A refusal or a failed delivery says its kind; a failed run speaks for itself.
  const std::string kind =
      code == Code::methodFailed || code == Code::unspecified ? "" : " (" + std::string(codeName(code)) + ")";
  output.err += "steward-ctl: " + node + ": " + method + kind + ": " + error + "\n";
}

Exit exitFor(Code code) {
  switch (code) {
    case Code::unspecified:
    case Code::methodFailed: return kRemoteFailure;
    case Code::undelivered:
    case Code::removed:
    case Code::broker: return kUndelivered;
    default: return kRefused;
  }
}

int Printer::finish(bool timedOut, Output& output) {
  if (refused_) return kLocalFailure;
  if (!ids_) {
    output.err += "steward-ctl: the daemon closed the connection without an answer\n";
    return kLocalFailure;
  }
  if (options_.wait && !done_) {
    std::string missing;
    for (uint64_t id : *ids_) {
      if (std::find(answered_.begin(), answered_.end(), id) == answered_.end()) {
        missing += (missing.empty() ? "" : ", ") + std::to_string(id);
      }
    }
    if (!missing.empty()) {
      output.err += "steward-ctl: no final answer " + std::string(timedOut ? "within " +
                    std::to_string(options_.timeoutSeconds + kTravelSeconds) + " s " : "before the daemon closed the connection ") +
                    "for message(s) " + missing + "; their replies will still be written under the data folder\n";
      return kTimedOut;
    }
  }
  if (failed_) return kRemoteFailure;
  // A refusal first: sending again will not help. Then what never arrived, then failed runs.
  for (const Exit worst : {kRefused, kUndelivered, kRemoteFailure}) {
    if (std::find(failures_.begin(), failures_.end(), worst) != failures_.end()) return worst;
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
