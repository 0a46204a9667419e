// Operators waiting for answers (steward-ctl): a watcher registered for the ids of messages this
// node sent is told of every reply that arrives here for them, and of a message the receiver
// refused or that could not be delivered. The replies still go to their reply method (the file
// is the durable record); a watch only observes, and is forgotten once its owner lets go of it.
#pragma once

#include "core/util/result.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace steward::process {

struct ReplyNotice {
  uint64_t requestId = 0;
  std::string node = {};    // the node that answered, or that the message was for
  std::string method = {};  // the request's method
  std::vector<std::string> data = {};
  std::string error = {};  // empty when the request succeeded
  bool final = true;   // false for streamed output; more follows
  // What kind of failure `error` is: methodFailed (it ran and failed), a refusal's code,
  // undelivered or removed; unspecified on success.
  Code code = Code::unspecified;
  // News of a message that has no answer yet (not final, no data): "offline", "notStarted" or
  // "noResponders" when the broker says nobody listens where it went, with `note` saying why
  // and how long it stays queued.
  std::string state = {};
  std::string note = {};
  std::map<std::string, std::string> result = {};  // the reply's named parts (stderr, exitStatus)
  uint64_t run = 0;  // the run of a repeating request it answers (0: it does not repeat)
};

using ReplyWatcher = std::function<void(const ReplyNotice&)>;

class ReplyWatch {
 public:
  // Holds `watcher` weakly: when the last owner drops it, its ids are forgotten.
  void watch(const std::vector<uint64_t>& ids, const std::shared_ptr<ReplyWatcher>& watcher);
  // Tells the watcher of notice.requestId, if any; a final notice ends the watch of that id.
  void notify(const ReplyNotice& notice);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<uint64_t, std::weak_ptr<ReplyWatcher>> watchers_;
};

}  // namespace steward::process
