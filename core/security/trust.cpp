#include "core/security/trust.hpp"

#include <fstream>

namespace steward::security {

Trust::Trust(std::string ownNode, std::string ownKey, std::filesystem::path folder)
    : ownNode_(std::move(ownNode)), ownKey_(std::move(ownKey)), folder_(std::move(folder)) {}

std::optional<std::string> Trust::keyOf(const std::string& node) {
  if (node == ownNode_) return ownKey_;
  std::lock_guard lock(mutex_);
  if (auto it = keys_.find(node); it != keys_.end()) return it->second;
  auto key = readKeyFile(node);
  if (key) keys_[node] = *key;
  return key;
}

std::optional<std::string> Trust::readKeyFile(const std::string& node) const {
  // Node names never hold a "/" (they are subject tokens), so this stays inside the folder.
  if (folder_.empty() || node.empty() || node.find('/') != std::string::npos || node[0] == '.') {
    return std::nullopt;
  }
  std::ifstream in(folder_ / (node + ".pub"));
  std::string key;
  if (!std::getline(in, key)) return std::nullopt;
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) return std::nullopt;
  return key;
}

}  // namespace steward::security
