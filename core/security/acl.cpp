#include "core/security/acl.hpp"

#include "core/util/json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fnmatch.h>

#include <algorithm>

namespace steward::security {

namespace {

Result<std::vector<std::string>> strings(const rapidjson::Value& rule, const char* key,
                                         const std::string& where) {
  std::vector<std::string> out;
  if (!rule.HasMember(key)) return out;
  if (!rule[key].IsArray()) return Error{where + ": \"" + key + "\" must be an array of strings"};
  for (const auto& v : rule[key].GetArray()) {
    if (!v.IsString()) return Error{where + ": \"" + key + "\" must be an array of strings"};
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

}  // namespace

Result<Acl> Acl::parse(const rapidjson::Value& json) {
  if (!json.IsObject()) return Error{"the ACL must be an object of node: [rules]"};
  Acl acl;
  for (const auto& node : json.GetObject()) {
    const std::string name = node.name.GetString();
    if (!node.value.IsArray()) return Error{"ACL of " + name + ": must be an array of rules"};
    size_t index = 0;
    for (const auto& r : node.value.GetArray()) {
      const std::string where = "ACL of " + name + ", rule " + std::to_string(index++);
      if (!r.IsObject() || !r.HasMember("from") || !r["from"].IsString()) {
        return Error{where + ": needs \"from\" (a node name or \"*\")"};
      }
      for (const auto& member : r.GetObject()) {
        const std::string_view key(member.name.GetString());
        if (key != "from" && key != "methods" && key != "commands") {
          return Error{where + ": unknown key \"" + std::string(key) + "\""};
        }
      }
      AclRule rule;
      rule.from = r["from"].GetString();
      auto methods = strings(r, "methods", where);
      if (!methods) return methods.error();
      if (methods->empty()) return Error{where + ": needs \"methods\" (names or \"*\")"};
      rule.methods = std::move(methods).value();
      auto commands = strings(r, "commands", where);
      if (!commands) return commands.error();
      rule.commands = std::move(commands).value();
      acl.rules_[name].push_back(std::move(rule));
    }
  }
  return acl;
}

Result<Acl> Acl::parse(std::string_view json) {
  auto d = json::parse(json, "the ACL");
  if (!d) return d.error();
  return parse(d.value());
}

std::string Acl::json() const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto list = [&w](const std::vector<std::string>& items) {
    w.StartArray();
    for (const auto& s : items) w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    w.EndArray();
  };
  w.StartObject();
  for (const auto& [node, rules] : rules_) {
    w.Key(node.c_str(), static_cast<rapidjson::SizeType>(node.size()));
    w.StartArray();
    for (const auto& r : rules) {
      w.StartObject();
      w.Key("from");
      w.String(r.from.c_str(), static_cast<rapidjson::SizeType>(r.from.size()));
      w.Key("methods");
      list(r.methods);
      if (!r.commands.empty()) {
        w.Key("commands");
        list(r.commands);
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Status Acl::allows(const std::string& node, const std::string& central, const std::string& from,
                   const std::string& method, const std::vector<std::string>& data,
                   bool commandData) const {
  if (from == node) return {};  // a node may always ask itself
  auto entry = rules_.find(node);
  if (entry == rules_.end()) entry = rules_.find("*");
  if (entry == rules_.end()) {
    if (from == central) return {};
    return Error{"not authorized: with no ACL, only " + central + " may call " + method + " on " + node};
  }
  std::string command;
  for (const auto& d : data) command += (command.empty() ? "" : " ") + d;
  bool methodAllowed = false;
  for (const auto& rule : entry->second) {
    if (rule.from != "*" && rule.from != from) continue;
    if (std::find(rule.methods.begin(), rule.methods.end(), "*") == rule.methods.end() &&
        std::find(rule.methods.begin(), rule.methods.end(), method) == rule.methods.end()) {
      continue;
    }
    methodAllowed = true;
    if (!commandData || rule.commands.empty()) return {};
    for (const auto& pattern : rule.commands) {
      if (::fnmatch(pattern.c_str(), command.c_str(), 0) == 0) return {};
    }
  }
  if (methodAllowed) {
    return Error{"not authorized: " + from + " may not run \"" + command + "\" on " + node +
                 " (no command pattern of its ACL rules matches)"};
  }
  return Error{"not authorized: the ACL of " + node + " lets " + from + " call no " + method};
}

}  // namespace steward::security
