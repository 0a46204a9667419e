#include "core/process/reply_watch.hpp"

namespace steward::process {

void ReplyWatch::watch(const std::vector<uint64_t>& ids,
                       const std::shared_ptr<ReplyWatcher>& watcher) {
  std::lock_guard lock(mutex_);
  // Watches whose owner went away (a client that hung up) are dropped here, so the map stays as
  // small as the number of live watches.
  std::erase_if(watchers_, [](const auto& entry) { return entry.second.expired(); });
  for (uint64_t id : ids) watchers_[id] = watcher;
}

void ReplyWatch::notify(const ReplyNotice& notice) {
  std::shared_ptr<ReplyWatcher> watcher;
  {
    std::lock_guard lock(mutex_);
    auto it = watchers_.find(notice.requestId);
    if (it == watchers_.end()) return;
    watcher = it->second.lock();
    if (!watcher || notice.final) watchers_.erase(it);
  }
  if (watcher) (*watcher)(notice);
}

size_t ReplyWatch::size() const {
  std::lock_guard lock(mutex_);
  return watchers_.size();
}

}  // namespace steward::process
