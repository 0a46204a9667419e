#include "core/process/fleet.hpp"

#include "core/util/json.hpp"
#include "core/util/log.hpp"

#include <steward/util.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace steward::process {

namespace {

std::string encodeRecord(const NodeRecord& record) {
  return "{\"lastSeenUnixMs\":" + std::to_string(record.lastSeenUnixMs) +
         ",\"status\":" + encodeStatus(record.status) + "}";
}

Result<NodeRecord> decodeRecord(const std::string& text) {
  auto parsed = json::parse(text, "node record", {.maxBytes = 2 * kMaxStatusBytes, .maxDepth = 4});
  if (!parsed) return parsed.error();
  const auto& d = parsed.value();
  if (!d.IsObject() || !d.HasMember("lastSeenUnixMs") || !d["lastSeenUnixMs"].IsInt64() ||
      !d.HasMember("status")) {
    return Error{"node record without lastSeenUnixMs and status"};
  }
  auto status = readStatus(d["status"]);
  if (!status) return status.error();
  return NodeRecord{d["lastSeenUnixMs"].GetInt64(), std::move(status).value()};
}

std::string utc(int64_t unixMs) {
  return sdk::utcTimestamp(std::chrono::system_clock::time_point{std::chrono::milliseconds{unixMs}});
}

}  // namespace

std::string durationText(int64_t ms) {
  const int64_t s = std::max<int64_t>(0, ms / 1000);
  if (s < 120) return std::to_string(s) + " s";
  if (s < 2 * 3600) return std::to_string(s / 60) + " min";
  if (s < 2 * 86400) return std::to_string(s / 3600) + " h";
  return std::to_string(s / 86400) + " d";
}

Fleet::Fleet(store::Store& store, bool central) : store_(store), central_(central) {
  if (!central_) return;
  for (const auto& [node, text] : store_.loadNodeRecords()) {
    auto record = decodeRecord(text);
    if (!record) {
      STEWARD_LOG(warning) << "database: the record of node " << node << " is damaged and left out: "
                           << record.error().message;
      continue;
    }
    if (nodes_.size() < kMaxNodes) nodes_.emplace(node, std::move(record).value());
  }
}

Status Fleet::onHello(const message::Message& hello, int64_t nowUnixMs) {
  if (!central_) return {};
  std::optional<Result<NodeStatus>> status;
  if (hello.data.size() >= 4) status = decodeStatus(hello.data[3]);
  NodeRecord copy;
  {
    std::lock_guard lock(mutex_);
    auto it = nodes_.find(hello.fromNode);
    if (it == nodes_.end()) {
      if (nodes_.size() >= kMaxNodes) {
        return Error{"hello from " + hello.fromNode + " not recorded: central keeps " +
                     std::to_string(kMaxNodes) + " nodes at most"};
      }
      it = nodes_.emplace(hello.fromNode, NodeRecord{}).first;
    }
    it->second.lastSeenUnixMs = nowUnixMs;
    if (status && *status) it->second.status = std::move(*status).value();
    copy = it->second;
  }
  if (auto s = store_.putNodeRecord(hello.fromNode, encodeRecord(copy)); !s) return s;
  if (status && !*status) {
    return Error{"hello from " + hello.fromNode + ": " + status->error().message};
  }
  return {};
}

std::map<std::string, NodeRecord> Fleet::nodes() const {
  std::lock_guard lock(mutex_);
  return nodes_;
}

std::optional<NodeRecord> Fleet::find(const std::string& node) const {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

bool Fleet::online(const NodeRecord& record, int64_t nowUnixMs) {
  // A node that does not say how often it says hello is taken to say it every minute.
  const int64_t period = record.status.helloSeconds > 0 ? record.status.helloSeconds : 60;
  return nowUnixMs - record.lastSeenUnixMs < 2 * period * 1000 + 5000;
}

Silence Fleet::explain(const std::string& node, const std::string& method, int64_t nowUnixMs) const {
  if (!central_) {
    return {"noResponders", "nobody listens for " + method + " on " + node +
                                ": the node is offline, or " + method + " is not started there"};
  }
  const auto record = find(node);
  if (!record) {
    return {"offline", node + " is offline: central has never heard from it (no hello)"};
  }
  const int64_t ago = nowUnixMs - record->lastSeenUnixMs;
  const auto& methods = record->status.methods;
  // It ran the method at its last hello and nobody listens now: it is gone, however recent.
  const bool ranIt = std::find(methods.begin(), methods.end(), method) != methods.end();
  if (online(*record, nowUnixMs) && !ranIt) {
    return {"notStarted", node + " is up (its last hello " + durationText(ago) + " ago) but " + method +
                              " is not started there (steward-ctl start " + node + " " + method + ")"};
  }
  return {"offline", node + " is offline: last heard from " + durationText(ago) + " ago, at " +
                         utc(record->lastSeenUnixMs)};
}

}  // namespace steward::process
