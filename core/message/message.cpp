#include "core/message/message.hpp"

#include <algorithm>
#include <unordered_set>

namespace steward::message {

std::string_view kindName(Kind kind) {
  switch (kind) {
    case Kind::CommandACK: return "CommandACK";
    case Kind::CommandNACK: return "CommandNACK";
    case Kind::EventACK: return "EventACK";
    case Kind::EventNACK: return "EventNACK";
  }
  return "CommandACK";
}

Kind makeKind(bool event, bool ack) {
  if (event) return ack ? Kind::EventACK : Kind::EventNACK;
  return ack ? Kind::CommandACK : Kind::CommandNACK;
}

bool needsAck(Kind kind) { return kind == Kind::CommandACK || kind == Kind::EventACK; }

namespace {

bool isWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool validResultName(std::string_view name) {
  return !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
         });
}

Status checkNodeName(std::string_view name, const Limits& limits) {
  if (name.empty()) return Error{"node name is empty"};
  if (name.size() > limits.maxNodeNameLength) {
    return Error{"node name is longer than " + std::to_string(limits.maxNodeNameLength) +
                 " characters"};
  }
  for (char c : name) {
    if (c == '.') {
      // "ship1.x" would receive on ship1.x.<method>.<kind>, inside what a broker permission of
      // "ship1.>" lets ship1 read (and its folders would nest in ship1's): one token only.
      return Error{"node name \"" + std::string(name) + "\" holds a '.': a node name is one subject "
                   "token, or its subjects would fall under those of the node \"" +
                   std::string(name.substr(0, name.find('.'))) + "\""};
    }
    if (!isWordChar(c) && c != '-') {
      return Error{"node name \"" + std::string(name) + "\" may only hold letters, digits, '_' and '-'"};
    }
  }
  return {};
}

Status checkMethodName(std::string_view name, const Limits& limits) {
  if (name.empty()) return Error{"method name is empty"};
  if (name.size() > limits.maxNameLength) return Error{"method name is too long"};
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) {
    return Error{"method name \"" + std::string(name) + "\" must start with a letter"};
  }
  if (!std::all_of(name.begin(), name.end(), isWordChar)) {
    return Error{"method name \"" + std::string(name) + "\" may only hold letters, digits and '_'"};
  }
  return {};
}

std::string subject(std::string_view node, std::string_view method, Kind kind) {
  std::string s;
  s.reserve(node.size() + method.size() + 13);
  s.append(node).append(".").append(method).append(".").append(kindName(kind));
  return s;
}

Result<SubjectParts> parseSubject(std::string_view subj) {
  const auto kindDot = subj.rfind('.');
  if (kindDot == std::string_view::npos || kindDot == 0) {
    return Error{"subject \"" + std::string(subj) + "\" is not <node>.<method>.<kind>"};
  }
  const auto methodDot = subj.rfind('.', kindDot - 1);
  if (methodDot == std::string_view::npos) {
    return Error{"subject \"" + std::string(subj) + "\" is not <node>.<method>.<kind>"};
  }
  SubjectParts parts;
  parts.node = std::string(subj.substr(0, methodDot));
  parts.method = std::string(subj.substr(methodDot + 1, kindDot - methodDot - 1));
  const auto kind = subj.substr(kindDot + 1);
  bool found = false;
  for (Kind k : {Kind::CommandACK, Kind::CommandNACK, Kind::EventACK, Kind::EventNACK}) {
    if (kind == kindName(k)) {
      parts.kind = k;
      found = true;
    }
  }
  if (!found) return Error{"subject \"" + std::string(subj) + "\": unknown kind"};
  if (auto s = checkNodeName(parts.node); !s) return s.error();
  if (auto s = checkMethodName(parts.method); !s) return s.error();
  return parts;
}

std::vector<Message> fanOut(const Message& message) {
  std::vector<Message> out;
  std::unordered_set<std::string> seen;
  // Each copy is made from one without the list: copying the list into each copy (even to clear
  // it) would cost time and memory of receivers x receivers.
  Message one = message;
  std::vector<std::string>().swap(one.toNodes);
  auto add = [&](const std::string& node) {
    if (node.empty() || !seen.insert(node).second) return;
    Message copy = one;
    copy.toNode = node;
    out.push_back(std::move(copy));
  };
  add(message.toNode);
  for (const auto& node : message.toNodes) add(node);
  return out;
}

}  // namespace steward::message
