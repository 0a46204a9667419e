#include "core/message/carriers.hpp"

#include "core/message/message.hpp"
#include "core/util/targets.hpp"

namespace steward::message {

Result<Carriers> Carriers::parse(std::string_view spec) {
  Carriers out;
  while (!spec.empty()) {
    const size_t end = spec.find(';');
    const std::string_view entry = spec.substr(0, end);
    spec = end == std::string_view::npos ? std::string_view() : spec.substr(end + 1);
    if (entry.empty()) continue;
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) {
      return Error{"\"" + std::string(entry) + "\" is not <carrier>=<node>,<node>… (or <carrier>=*)"};
    }
    const std::string carrier(entry.substr(0, eq));
    if (auto s = message::checkNodeName(carrier); !s) {
      return Error{"carrier \"" + carrier + "\": " + s.error().message};
    }
    auto& nodes = out.nodes_[carrier];
    for (const auto& node : targets::splitNames(entry.substr(eq + 1))) {
      if (node != "*") {
        if (auto s = message::checkNodeName(node); !s) {
          return Error{"node \"" + node + "\" carried by " + carrier + ": " + s.error().message};
        }
      }
      nodes.insert(node);
    }
    if (nodes.empty()) return Error{"carrier " + carrier + " carries no node"};
  }
  return out;
}

bool Carriers::carries(std::string_view carrier, std::string_view node) const {
  auto it = nodes_.find(carrier);
  return it != nodes_.end() && (it->second.count("*") != 0 || it->second.count(node) != 0);
}

std::string Carriers::toString() const {
  std::string out;
  for (const auto& [carrier, nodes] : nodes_) {
    if (!out.empty()) out += ";";
    out += carrier + "=";
    bool first = true;
    for (const auto& n : nodes) {
      if (!first) out += ",";
      out += n;
      first = false;
    }
  }
  return out.empty() ? "none" : out;
}

}  // namespace steward::message
