#include "core/process/operations.hpp"

#include "core/message/codec.hpp"
#include "core/message/methods.hpp"

#include "core/util/log.hpp"
#include "core/util/clock.hpp"
#include "core/util/json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

namespace steward::process {
namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void str(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

// Which waiting messages removeQueued takes. Every filter given must match.
struct QueueFilter {
  std::set<uint64_t> ids;
  int64_t olderThanMs = -1;
  std::string node;  // toNode for the outbox, fromNode for the inbox
  std::string method;

  bool empty() const { return ids.empty() && olderThanMs < 0 && node.empty() && method.empty(); }
  bool matches(const message::Message& m, const std::string& node_) const {
    if (!ids.empty() && ids.count(m.id) == 0) return false;
    if (olderThanMs >= 0 && nowUnixMs() - m.createdUnixMs < olderThanMs) return false;
    if (!node.empty() && node != node_) return false;
    if (!method.empty() && method != m.method) return false;
    return true;
  }
};

namespace {

Result<QueueFilter> readFilter(const rapidjson::Value* arg, bool inbox) {
  QueueFilter f;
  if (arg == nullptr) return f;
  if (arg->HasMember("ids")) {
    const auto& ids = (*arg)["ids"];
    if (!ids.IsArray()) return Error{"opArg.ids must be an array of message ids"};
    for (const auto& id : ids.GetArray()) {
      if (!id.IsUint64()) return Error{"opArg.ids must be an array of message ids"};
      f.ids.insert(id.GetUint64());
    }
  }
  if (arg->HasMember("olderThanSeconds")) {
    if (!(*arg)["olderThanSeconds"].IsInt64() || (*arg)["olderThanSeconds"].GetInt64() < 0) {
      return Error{"opArg.olderThanSeconds must be a non-negative integer"};
    }
    f.olderThanMs = (*arg)["olderThanSeconds"].GetInt64() * 1000;
  }
  const char* nodeKey = inbox ? "fromNode" : "toNode";
  const char* otherKey = inbox ? "toNode" : "fromNode";
  if (arg->HasMember(otherKey)) {
    return Error{std::string("opArg.") + otherKey + " does not filter the " + (inbox ? "inbox" : "outbox") +
                 "; use opArg." + nodeKey};
  }
  if (arg->HasMember(nodeKey)) {
    if (!(*arg)[nodeKey].IsString()) return Error{std::string("opArg.") + nodeKey + " must be a string"};
    f.node = (*arg)[nodeKey].GetString();
  }
  if (arg->HasMember("method")) {
    if (!(*arg)["method"].IsString()) return Error{"opArg.method must be a string"};
    f.method = (*arg)["method"].GetString();
  }
  return f;
}

// The keys each operation takes in opArg; any other key is refused by name, so a misspelt option
// ("allowedNode") is an error rather than a silent default.
const std::map<std::string, std::vector<std::string>, std::less<>>& operationKeys() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> keys = {
      {"ps", {}},
      {"listQueue", {"queue", "toNode", "fromNode", "method"}},
      {"nodes", {}},
      {"removeQueued", {"queue", "ids", "olderThanSeconds", "fromNode", "toNode", "method"}},
      {"startProc", {"method", "allowedNodes"}},
      {"stopProc", {"method", "kind", "receivingNode", "id"}},
      {"keysList", {}},
      {"keysAllow", {"node"}},
      {"keysRevoke", {"node"}},
      {"keysAclShow", {}},
      {"keysAclSet", {"acl"}},
  };
  return keys;
}

Status checkKeys(const std::string& cmd, const rapidjson::Value& op, const rapidjson::Value* arg) {
  for (const auto& member : op.GetObject()) {
    const std::string_view key(member.name.GetString(), member.name.GetStringLength());
    if (key != "opCmd" && key != "opArg") {
      return Error{"unknown key \"" + std::string(key) + "\" in the operation; it takes opCmd and opArg"};
    }
  }
  const auto known = operationKeys().find(cmd);
  if (known == operationKeys().end() || arg == nullptr) return {};
  for (const auto& member : arg->GetObject()) {
    const std::string_view key(member.name.GetString(), member.name.GetStringLength());
    if (std::find(known->second.begin(), known->second.end(), key) != known->second.end()) continue;
    std::string takes;
    for (const auto& k : known->second) takes += (takes.empty() ? "" : ", ") + k;
    return Error{"unknown key \"" + std::string(key) + "\" in opArg of " + cmd + "; " +
                 (takes.empty() ? cmd + " takes none" : "it takes " + takes)};
  }
  return {};
}

Result<std::string> queueName(const rapidjson::Value* arg, bool allowBoth) {
  if (arg == nullptr || !arg->HasMember("queue")) return std::string(allowBoth ? "both" : "outbox");
  const auto& q = (*arg)["queue"];
  if (!q.IsString() || (std::string_view(q.GetString()) != "outbox" &&
                        std::string_view(q.GetString()) != "inbox")) {
    return Error{"opArg.queue must be \"outbox\" or \"inbox\""};
  }
  return std::string(q.GetString());
}

}  // namespace

NodeOperations::NodeOperations(std::string nodeName, Catalog& catalog, store::Store& store,
                               Outbox& outbox, Inbox& inbox, TrustKeeper& keys,
                               const Fleet& fleet, const observe::ErrorKernel& errors)
    : nodeName_(std::move(nodeName)),
      catalog_(catalog),
      store_(store),
      outbox_(outbox),
      inbox_(inbox),
      keys_(keys),
      fleet_(fleet),
      errors_(errors) {}

Result<std::string> NodeOperations::run(std::string_view operationJson) {
  auto parsed = json::parse(operationJson, "the operation");
  if (!parsed) return parsed.error();
  const rapidjson::Document& op = parsed.value();
  if (!op.IsObject() || !op.HasMember("opCmd") || !op["opCmd"].IsString()) {
    return Error{"operation must be an object with a string opCmd"};
  }
  const std::string cmd = op["opCmd"].GetString();
  const rapidjson::Value* arg = nullptr;
  if (op.HasMember("opArg")) {
    if (!op["opArg"].IsObject()) return Error{"opArg must be an object"};
    arg = &op["opArg"];
  }
  if (auto s = checkKeys(cmd, op, arg); !s) return s.error();
  if (cmd == "ps") return ps();
  if (cmd == "listQueue") {
    auto queue = queueName(arg, true);
    if (!queue) return queue.error();
    // toNode picks from the outbox, fromNode from the inbox.
    QueueFilter filter;
    for (const char* key : {"toNode", "fromNode", "method"}) {
      if (arg == nullptr || !arg->HasMember(key)) continue;
      if (!(*arg)[key].IsString()) return Error{std::string("opArg.") + key + " must be a string"};
      (std::string_view(key) == "method" ? filter.method : filter.node) = (*arg)[key].GetString();
    }
    if (arg != nullptr && arg->HasMember("toNode") && arg->HasMember("fromNode")) {
      return Error{"listQueue takes opArg.toNode (the outbox) or opArg.fromNode (the inbox), not both"};
    }
    std::string which = queue.value();
    if (arg != nullptr && arg->HasMember("toNode")) which = which == "inbox" ? "" : "outbox";
    if (arg != nullptr && arg->HasMember("fromNode")) which = which == "outbox" ? "" : "inbox";
    if (which.empty()) return Error{"opArg.toNode filters the outbox and opArg.fromNode the inbox"};
    return listQueue(which, filter);
  }
  if (cmd == "nodes") return nodes();
  if (cmd == "removeQueued") {
    auto queue = queueName(arg, false);
    if (!queue) return queue.error();
    auto filter = readFilter(arg, queue.value() == "inbox");
    if (!filter) return filter.error();
    if (filter->empty()) {
      return Error{"removeQueued needs at least one of opArg.ids, olderThanSeconds, " +
                   std::string(queue.value() == "inbox" ? "fromNode" : "toNode") + ", method"};
    }
    return removeQueued(queue.value(), filter.value());
  }
  if (cmd == "startProc" || cmd == "stopProc") {
    if (arg == nullptr || !arg->HasMember("method") || !(*arg)["method"].IsString()) {
      return Error{cmd + " needs opArg.method"};
    }
    const std::string method = (*arg)["method"].GetString();
    if (cmd == "startProc") {
      if (!arg->HasMember("allowedNodes") || !(*arg)["allowedNodes"].IsArray()) {
        return Error{"startProc needs opArg.allowedNodes, e.g. [\"central\"] or [\"*\"]"};
      }
      std::string allowed;
      for (const auto& n : (*arg)["allowedNodes"].GetArray()) {
        if (!n.IsString()) return Error{"opArg.allowedNodes must hold node names"};
        allowed += (allowed.empty() ? "" : ",") + std::string(n.GetString());
      }
      return startProc(method, allowed);
    }
    if (arg->HasMember("kind") &&
        (!(*arg)["kind"].IsString() || std::string_view((*arg)["kind"].GetString()) != "subscriber")) {
      return Error{"stopProc stops subscribers; publishers come and go with their messages"};
    }
    if (arg->HasMember("receivingNode") &&
        (!(*arg)["receivingNode"].IsString() || (*arg)["receivingNode"].GetString() != nodeName_)) {
      return Error{"opArg.receivingNode names another node than " + nodeName_};
    }
    std::optional<uint64_t> id;
    if (arg->HasMember("id")) {
      if (!(*arg)["id"].IsUint64()) return Error{"opArg.id must be a process id from ps"};
      id = (*arg)["id"].GetUint64();
    }
    return stopProc(method, id);
  }
  if (cmd.rfind("keys", 0) == 0) return keys_.operate(cmd, arg);
  return Error{"unknown opCmd \"" + cmd +
               "\"; this node knows ps, startProc, stopProc, listQueue, removeQueued, nodes, "
               "keysList, keysAllow, keysRevoke, keysAclShow, keysAclSet"};
}

std::string NodeOperations::ps() {
  const auto plugins = catalog_.plugins();
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  str(w, "node", nodeName_);
  w.Key("processes");
  w.StartArray();
  for (const auto& [method, s] : inbox_.subscribers()) {
    w.StartObject();
    w.Key("id");
    w.Uint64(s->processId());
    str(w, "kind", "subscriber");
    str(w, "method", method);
    str(w, "subject", s->subject());
    str(w, "allowedNodes", s->allowed().toString());
    w.Key("running");
    w.Uint64(s->running());
    if (message::methods::servedByNode(method)) {
      w.Key("plugin");
      w.StartObject();
      str(w, "name", "steward");
      str(w, "version", "built in");
      w.EndObject();
    }
    for (const auto& p : plugins) {
      if (std::find(p.methods.begin(), p.methods.end(), method) == p.methods.end()) continue;
      w.Key("plugin");
      w.StartObject();
      str(w, "name", p.name);
      str(w, "version", p.version);
      str(w, "file", p.file.string());
      w.EndObject();
    }
    w.EndObject();
  }
  for (const auto& p : outbox_.publishers()) {
    auto parts = message::parseSubject(p->subject());
    w.StartObject();
    w.Key("id");
    w.Uint64(p->processId());
    str(w, "kind", "publisher");
    str(w, "subject", p->subject());
    if (parts) {
      str(w, "toNode", parts->node);
      str(w, "method", parts->method);
    }
    w.Key("pending");
    w.Uint64(p->pending());
    w.EndObject();
  }
  w.EndArray();
  w.Key("plugins");
  w.StartArray();
  for (const auto& p : plugins) {
    w.StartObject();
    str(w, "name", p.name);
    str(w, "version", p.version);
    str(w, "file", p.file.string());
    w.Key("loaded");
    w.Bool(p.loaded);
    w.Key("methods");
    w.StartArray();
    for (const auto& m : p.methods) w.String(m.c_str());
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

namespace {

// The first of a message's data, shortened: enough to tell which command a queued one is.
std::string summaryOf(const message::Message& m) {
  if (m.data.empty() && m.floor > 0) {
    return "(tells " + m.toNode + " not to wait for numbers below " + std::to_string(m.floor) + ")";
  }
  std::string text;
  for (const auto& d : m.data) {
    if (text.size() >= 80) break;
    text += (text.empty() ? "" : " ") + d;
  }
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

}  // namespace

std::string NodeOperations::listQueue(const std::string& queue, const QueueFilter& filter) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  str(w, "node", nodeName_);
  if (queue != "inbox") {
    auto loaded = store_.loadOutbox();
    for (const auto& e : loaded.damaged) errors_.report(e.message);
    w.Key("outbox");
    w.StartArray();
    for (const auto& entry : loaded.entries) {
      auto m = message::decodeWire(entry.wire);
      if (!m || !filter.matches(*m, m->toNode)) continue;
      w.StartObject();
      w.Key("id");
      w.Uint64(entry.id);
      str(w, "toNode", m->toNode);
      str(w, "method", m->method);
      str(w, "summary", summaryOf(*m));
      w.Key("createdUnixMs");
      w.Int64(m->createdUnixMs);
      if (entry.expiresUnixMs > 0) {
        w.Key("expiresUnixMs");
        w.Int64(entry.expiresUnixMs);
      }
      w.EndObject();
    }
    w.EndArray();
  }
  if (queue != "outbox") {
    auto loaded = store_.loadInbox();
    for (const auto& e : loaded.damaged) errors_.report(e.message);
    w.Key("inbox");
    w.StartArray();
    for (const auto& entry : loaded.entries) {
      auto m = message::decodeWire(entry.wire);
      if (!m || !filter.matches(*m, m->fromNode)) continue;
      w.StartObject();
      w.Key("arrival");
      w.Uint64(entry.arrival);
      w.Key("id");
      w.Uint64(m->id);
      str(w, "fromNode", m->fromNode);
      str(w, "method", m->method);
      str(w, "state", entry.running ? "running" : "queued");
      if (m->repeat) {
        w.Key("run");
        w.Uint64(entry.run);
      }
      w.EndObject();
    }
    // Repeating messages between two runs.
    auto scheduled = store_.loadScheduled();
    for (const auto& e : scheduled.damaged) errors_.report(e.message);
    for (const auto& run : scheduled.entries) {
      auto m = message::decodeWire(run.wire);
      if (!m || !filter.matches(*m, m->fromNode)) continue;
      w.StartObject();
      w.Key("id");
      w.Uint64(m->id);
      str(w, "fromNode", m->fromNode);
      str(w, "method", m->method);
      str(w, "state", run.cancelled ? "cancelled" : "scheduled");
      str(w, "summary", summaryOf(*m));
      w.Key("run");
      w.Uint64(run.run);
      w.Key("runs");
      w.Int64(m->repeat.value_or(0));
      w.Key("atUnixMs");
      w.Int64(run.atUnixMs);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::string NodeOperations::nodes() {
  const int64_t now = nowUnixMs();
  const auto keyState = keys_.keyStates();
  // Messages waiting here for each node.
  const auto queued = outbox_.unsettledByReceiver();
  auto records = fleet_.nodes();
  std::set<std::string> names;
  for (const auto& [node, record] : records) names.insert(node);
  for (const auto& [node, state] : keyState) names.insert(node);

  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  str(w, "node", nodeName_);
  w.Key("nodes");
  w.StartArray();
  for (const auto& name : names) {
    w.StartObject();
    str(w, "node", name);
    auto state = keyState.find(name);
    str(w, "key", state != keyState.end() ? state->second : "none");
    auto record = records.find(name);
    if (record != records.end()) {
      const NodeRecord& r = record->second;
      w.Key("lastSeenUnixMs");
      w.Int64(r.lastSeenUnixMs);
      w.Key("secondsAgo");
      w.Int64((now - r.lastSeenUnixMs) / 1000);
      w.Key("online");
      w.Bool(Fleet::online(r, now));
      w.Key("helloSeconds");
      w.Int64(r.status.helloSeconds);
      w.Key("inbox");
      w.Uint64(r.status.inbox);
      w.Key("outbox");
      w.Uint64(r.status.outbox);
      w.Key("facts");
      json::writeStrings(w, r.status.facts);
    } else {
      w.Key("online");
      w.Bool(false);
    }
    w.Key("queued");
    const auto waiting = queued.find(name);
    w.Uint64(waiting != queued.end() ? waiting->second : 0);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::string NodeOperations::removeQueued(const std::string& queue, const QueueFilter& filter) {
  std::vector<uint64_t> removed;
  std::vector<std::pair<uint64_t, std::string>> kept;
  if (queue == "outbox") {
    for (const auto& entry : store_.loadOutbox().entries) {
      auto m = message::decodeWire(entry.wire);
      if (!m || !filter.matches(*m, m->toNode)) continue;
      if (outbox_.remove(entry)) {
        removed.push_back(entry.id);
      } else {
        kept.emplace_back(entry.id, "settled meanwhile");
      }
    }
  } else {
    // A repeating message between runs: its schedule ends (removed), or ends with the run going.
    for (const auto& run : store_.loadScheduled().entries) {
      auto m = message::decodeWire(run.wire);
      if (!m || !filter.matches(*m, m->fromNode)) continue;
      auto cancelled = inbox_.cancelSchedule(run);
      if (!cancelled) {
        kept.emplace_back(m->id, cancelled.error().message);
      } else if (*cancelled == "removed") {
        removed.push_back(m->id);
      } else {
        kept.emplace_back(m->id, "repeating: " + *cancelled);
      }
    }
    for (const auto& entry : store_.loadInbox().entries) {
      auto m = message::decodeWire(entry.wire);
      if (!m || !filter.matches(*m, m->fromNode)) continue;
      if (entry.running) {
        std::string why = "running";
        // A repeating one's schedule ends with it.
        if (m->repeat) {
          store::ScheduledRun last{entry.scheduleNumber(), entry.method, entry.run + 1,
                                   0, false, entry.wire};
          auto marked = inbox_.cancelSchedule(last);
          why += marked ? "; no run of it follows" : "; " + marked.error().message;
        }
        kept.emplace_back(m->id, why);
      } else if (inbox_.remove(entry, *m)) {
        removed.push_back(m->id);
      } else {
        kept.emplace_back(m->id, "started meanwhile");
      }
    }
  }
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  str(w, "node", nodeName_);
  str(w, "queue", queue);
  w.Key("removed");
  w.StartArray();
  for (uint64_t id : removed) w.Uint64(id);
  w.EndArray();
  w.Key("kept");
  w.StartArray();
  for (const auto& [id, why] : kept) {
    w.StartObject();
    w.Key("id");
    w.Uint64(id);
    str(w, "why", why);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

Result<std::string> NodeOperations::startProc(const std::string& method,
                                              const std::string& allowedSpec) {
  auto allowed = AllowedNodes::parse(allowedSpec);
  if (!allowed) return within("opArg.allowedNodes: ", allowed.error());
  const auto running = inbox_.subscribers();
  if (auto it = running.find(method); it != running.end()) {
    return Error{method + " is already running (process " + std::to_string(it->second->processId()) +
                 ")"};
  }
  // A plugin put into the folder since the start is picked up now.
  auto scanned = catalog_.knowAll({method});
  if (!scanned) return scanned.error();
  for (const auto& e : scanned.value()) errors_.report(e.message);
  if (!catalog_.find(method)) {
    return Error{"no plugin in " + catalog_.pluginFolder().string() + " serves " + method,
                 Code::unknownMethod};
  }
  // Messages for this method that waited in the inbox run first.
  std::vector<Inbound> waiting;
  for (auto& entry : store_.loadInbox().entries) {
    if (entry.method != method || entry.running) continue;
    if (auto m = message::decodeWire(entry.wire)) waiting.push_back(inboundOf(entry, std::move(m).value()));
  }
  auto id = inbox_.start(method, allowed.value(), std::move(waiting));
  if (!id) return id.error();
  return "started " + method + " as process " + std::to_string(id.value()) + ", allowed from " +
         allowed->toString() + "\n";
}

Result<std::string> NodeOperations::stopProc(const std::string& method, std::optional<uint64_t> id) {
  if (method == message::methods::kOpCommand) {
    return Error{"REQOpCommand cannot stop itself: it runs this very operation"};
  }
  auto stopped = inbox_.stop(method, id);
  if (!stopped) return stopped.error();
  std::string unloaded;
  for (const auto& p : catalog_.plugins()) {
    if (std::find(p.methods.begin(), p.methods.end(), method) == p.methods.end()) continue;
    unloaded = p.loaded ? "; plugin " + p.name + " stays loaded for its other methods"
                        : "; plugin " + p.name + " unloaded";
  }
  return "stopped " + method + " (process " + std::to_string(stopped.value()) + ")" + unloaded +
         "\n";
}

}  // namespace steward::process
