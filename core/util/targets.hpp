// Which nodes a target names: a list of names and shell patterns (ship1,ship*), --all, and facts
// to match (--where role=db), resolved against central's node list (the JSON of the `nodes`
// operation). steward-ctl and central's fleet view both pick nodes this way.
//
// A library of its own (steward_targets): steward-ctl links it without the daemon's.
#pragma once

#include "core/util/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace steward::targets {

struct FactMatch {
  std::string key;
  std::string value;  // a pattern (* ? [..])
};

struct Target {
  std::vector<std::string> names;  // names and patterns, each once
  bool all = false;                // every node central has heard from
  std::vector<FactMatch> where;    // each must match the node's facts
  bool pending = false;            // pick nodes whose key is pending (keys allow), not those heard from
};

bool isPattern(std::string_view name);
// "a,b,,a" → {"a", "b"}.
std::vector<std::string> splitNames(std::string_view list);
// "role=db" → {role, db}; an error for anything else.
Result<FactMatch> parseFactMatch(std::string_view text);

// The nodes `target` names in `nodesJson`, in order and once each. Patterns and `all` pick
// nodes that said hello with an allowed key (or, with `pending`, nodes whose key is pending); a
// plain name is taken as it is, known or not; `where` keeps those whose facts match. None is an
// error that says what central knows.
Result<std::vector<std::string>> resolve(const Target& target, std::string_view nodesJson);

}  // namespace steward::targets
