// Items that one writer takes in batches: arrivals wait here while the writer stores the ones
// before, and each turn of the writer takes all that wait, so they share one write (one sync).
// Whoever adds to an idle queue starts the writer; the writer runs until nothing waits.
#pragma once

#include <mutex>
#include <utility>
#include <vector>

namespace steward::process {

template <class Item>
class Batches {
 public:
  // Queues `item`; true when the queue was idle: the caller starts the writer.
  bool add(Item item) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(item));
    if (busy_) return false;
    busy_ = true;
    return true;
  }
  // For the writer: everything waiting now. Empty when nothing waits, and the queue is idle
  // again (the next add starts a writer).
  std::vector<Item> next() {
    std::lock_guard lock(mutex_);
    std::vector<Item> batch;
    batch.swap(items_);
    if (batch.empty()) busy_ = false;
    return batch;
  }

 private:
  std::mutex mutex_;
  std::vector<Item> items_;
  bool busy_ = false;  // a writer is at work
};

}  // namespace steward::process
