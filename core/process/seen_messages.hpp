// The receiver's memory of messages it has taken, by (fromNode, id), so a resent message is ACKed
// again but never run again. Bounded: the oldest entries are forgotten first.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace steward::process {

class SeenMessages {
 public:
  explicit SeenMessages(size_t capacity = 200000) : capacity_(capacity) {}

  // Records the message; false when it was already recorded.
  bool insert(std::string_view fromNode, uint64_t id) {
    std::string key;
    key.reserve(fromNode.size() + 21);
    key.append(fromNode).push_back('/');
    key.append(std::to_string(id));
    std::lock_guard lock(mutex_);
    if (!keys_.insert(key).second) return false;
    order_.push_back(std::move(key));
    if (order_.size() > capacity_) {
      keys_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::unordered_set<std::string> keys_;
  std::deque<std::string> order_;
};

}  // namespace steward::process
