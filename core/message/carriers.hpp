// Which relays a node lets carry messages of other nodes to it, and answer for them (README,
// "Relays"). A relay's ACK means it holds the message now and owes its delivery, so a node only
// takes one from a relay it was told of for that node.
#pragma once

#include "core/util/result.hpp"

#include <map>
#include <set>
#include <string>
#include <string_view>

namespace steward::message {

// The relays this node lets store and forward messages for others: "gw1=ship1,ship2;gw2=*" lets
// gw1 bring messages from ship1 and ship2 (and answer for them: its ACK means it holds the
// message now) and gw2 any node's. Empty: no carrier.
class Carriers {
 public:
  Carriers() = default;
  static Result<Carriers> parse(std::string_view spec);
  bool carries(std::string_view carrier, std::string_view node) const;
  std::string toString() const;

 private:
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> nodes_;  // "*": any
};

}  // namespace steward::message
