// Whose keys a node trusts: its own, and the operator's trusted-keys folder (<node>.pub files,
// one base64 ed25519 public key each, e.g. copied from each node's <databaseFolder>/keys/node.pub
// by configuration management). A key file added while the node runs is picked up the first time
// a message from that node arrives. Thread-safe.
#pragma once

#include "core/util/result.hpp"

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace steward::security {

class Trust {
 public:
  Trust(std::string ownNode, std::string ownKey, std::filesystem::path folder);

  // The trusted public key of `node`, if there is one.
  std::optional<std::string> keyOf(const std::string& node);

 private:
  std::optional<std::string> readKeyFile(const std::string& node) const;

  std::string ownNode_;
  std::string ownKey_;
  std::filesystem::path folder_;
  std::mutex mutex_;
  std::map<std::string, std::string> keys_;
};

}  // namespace steward::security
