#include "core/util/targets.hpp"

#include "core/util/json.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace steward::targets {

namespace {

bool matches(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

}  // namespace

bool isPattern(std::string_view name) { return name.find_first_of("*?[") != std::string_view::npos; }

std::vector<std::string> splitNames(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string name(list.substr(0, comma));
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

Result<FactMatch> parseFactMatch(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == 0 || eq == std::string_view::npos) {
    return Error{"a fact to match is KEY=VALUE, not \"" + std::string(text) + "\""};
  }
  return FactMatch{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

Result<std::vector<std::string>> resolve(const Target& target, std::string_view nodesJson) {
  auto parsed = json::parse(nodesJson, "central's node list");
  if (!parsed) return parsed.error();
  const rapidjson::Value& d = parsed.value();
  if (!d.IsObject() || !d.HasMember("nodes") || !d["nodes"].IsArray()) {
    return Error{"central's node list has no \"nodes\": is central older than this steward-ctl?"};
  }
  struct Known {
    std::string name;
    bool pickable;  // a pattern or `all` may pick it
    const rapidjson::Value* facts;
  };
  std::vector<Known> known;
  for (const auto& n : d["nodes"].GetArray()) {
    if (!n.IsObject() || !n.HasMember("node") || !n["node"].IsString()) continue;
    const std::string key = n.HasMember("key") && n["key"].IsString() ? n["key"].GetString() : "none";
    const bool pickable = target.pending ? key == "pending" : key != "pending" && n.HasMember("lastSeenUnixMs");
    known.push_back({n["node"].GetString(), pickable,
                     n.HasMember("facts") && n["facts"].IsObject() ? &n["facts"] : nullptr});
  }
  auto factsMatch = [&](const Known* k) {
    for (const auto& w : target.where) {
      if (k == nullptr || k->facts == nullptr || !k->facts->HasMember(w.key.c_str())) return false;
      const auto& v = (*k->facts)[w.key.c_str()];
      if (!v.IsString() || !matches(w.value, v.GetString())) return false;
    }
    return true;
  };
  std::vector<std::string> out;
  auto add = [&](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  if (target.all || (target.names.empty() && !target.where.empty())) {
    for (const auto& k : known) {
      if (k.pickable && factsMatch(&k)) add(k.name);
    }
  }
  for (const auto& name : target.names) {
    if (!isPattern(name)) {
      const auto it = std::find_if(known.begin(), known.end(), [&](const Known& k) { return k.name == name; });
      if (factsMatch(it == known.end() ? nullptr : &*it)) add(name);
      continue;
    }
    for (const auto& k : known) {
      if (k.pickable && matches(name, k.name) && factsMatch(&k)) add(k.name);
    }
  }
  if (out.empty()) {
    std::string what = target.all ? "--all" : "";
    for (const auto& n : target.names) what += (what.empty() ? "" : ",") + n;
    for (const auto& w : target.where) what += (what.empty() ? "" : " ") + ("--where " + w.key + "=" + w.value);
    size_t pickable = 0;
    for (const auto& k : known) pickable += k.pickable ? 1 : 0;
    return Error{"no node matches " + what + " (central knows " + std::to_string(pickable) +
                 (target.pending ? " node(s) with a pending key" : " node(s) that said hello") +
                 "; steward-ctl nodes lists them)"};
  }
  return out;
}

}  // namespace steward::targets
