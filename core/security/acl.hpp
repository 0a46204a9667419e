// Authorization: which sender may call which method on which node, and, for the command methods,
// which commands. Managed at central (steward-ctl acl set FILE.json) and pushed to the nodes
// inside the signed trusted set, like the keys. The per-subscriber allowedNodes (startSub…) stays
// as the coarse layer in front of it.
//
//   { "ship1": [ {"from": "central", "methods": ["*"]},
//                {"from": "ops1", "methods": ["REQCliCommand"],
//                 "commands": ["uptime", "systemctl status *"]} ],
//     "*":     [ {"from": "central", "methods": ["*"]} ] }
//
// A node uses its own entry, else "*". A message is allowed when one rule names its sender (or
// "*") and its method (or "*"), and, for REQCliCommand, REQnCliCommand and REQnCliCommandCont,
// when the command (data joined by spaces) matches one of the rule's commands, if it lists any
// (exact text, or a pattern with * and ?). With no ACL at all, only the central node may call
// methods. Events (hello, error log) and reply methods are not governed by it: every trusted node
// sends those, and their reach is the data folder.
#pragma once

#include "core/util/result.hpp"

#include <rapidjson/document.h>

#include <map>
#include <string>
#include <vector>

namespace steward::security {

struct AclRule {
  std::string from;
  std::vector<std::string> methods;
  std::vector<std::string> commands;  // empty: any
};

class Acl {
 public:
  // Reads the JSON form above; an error names the node and rule that is wrong.
  static Result<Acl> parse(const rapidjson::Value& json);
  static Result<Acl> parse(std::string_view json);
  std::string json() const;
  bool empty() const { return rules_.empty(); }

  // Whether `from` may call `method` with `data` on `node`; the error says why not. When
  // `commandData` (the method's descriptor says its data is a command line), the rule's command
  // patterns must match the data joined by spaces too.
  Status allows(const std::string& node, const std::string& central, const std::string& from,
                const std::string& method, const std::vector<std::string>& data,
                bool commandData) const;

 private:
  std::map<std::string, std::vector<AclRule>> rules_;
};

}  // namespace steward::security
