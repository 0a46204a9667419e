// What central knows of its fleet: when each node last said hello, how often it says hello, its
// queues and facts as it said them (process/facts.hpp). `steward-ctl nodes` lists it, targeting
// (`ship*`, --all, --where) picks from it, and when the broker says nobody listens where a
// message went, it tells "offline since …" from "the method is not started there".
//
// Only hellos this node took (sealed by a trusted key, or unsigned where nothing is signed) are
// kept, so nobody on the broker can make a node up. Kept in the store, so central's restart keeps
// it; at most kMaxNodes nodes.
#pragma once

#include "core/message/message.hpp"
#include "core/process/facts.hpp"
#include "core/store/store.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace steward::process {

struct NodeRecord {
  int64_t lastSeenUnixMs = 0;
  NodeStatus status;
};

// Why a message was not heard: state "offline", "notStarted" (the node is up, the method is not
// started there) or "noResponders" (this node does not know which), and a sentence for the
// operator.
struct Silence {
  std::string state;
  std::string note;
};

class Fleet {
 public:
  static constexpr size_t kMaxNodes = 100000;

  // `central`: this node takes hellos (only central has a fleet to tell of).
  Fleet(store::Store& store, bool central);

  // A hello this node took: its sender was heard now; its status field, when it has a valid
  // one, replaces what was known. An invalid status is an error naming what is wrong (the time
  // is kept all the same).
  Status onHello(const message::Message& hello, int64_t nowUnixMs);

  std::map<std::string, NodeRecord> nodes() const;
  std::optional<NodeRecord> find(const std::string& node) const;

  // Whether a node heard from at `record.lastSeenUnixMs` counts as up at `nowUnixMs`: its last
  // hello is less than two hello periods (and 5 s) old.
  static bool online(const NodeRecord& record, int64_t nowUnixMs);
  Silence explain(const std::string& node, const std::string& method, int64_t nowUnixMs) const;

 private:
  store::Store& store_;
  const bool central_;
  mutable std::mutex mutex_;
  std::map<std::string, NodeRecord> nodes_;
};

// "12 s", "5 min", "3 h", "2 d": how long ago, for people.
std::string durationText(int64_t ms);

}  // namespace steward::process
