// The operator's input protocol on the socket and TCP listeners. Two forms:
//
//   [ {message}, … ]            → one line: {"ok":true,"ids":[…]} or {"ok":false,"error":"…"}
//   {"messages": [ … ], "follow": true, "timeoutSeconds": 300}
//                               → the same line, then one line per reply to those messages as it
//                                 arrives here, then {"done":true} once every one has its final
//                                 answer. The connection closes after timeoutSeconds at most.
//
// A reply line is {"requestId":…,"node":…,"method":…,"data":[…],"error":"…","final":true|false};
// error is "" when the request succeeded; final is false for streamed output. A message the
// receiver refused or that could not be delivered gets a final line with the reason as error.
// When the broker says nobody listens where a message went, a line that is not final says so:
// "state" (offline, notStarted or noResponders) and "note" (why, and how long it stays queued).
// This is what steward-ctl speaks; the replies still go to their reply methods as always.
#pragma once

#include "core/input/socket_input.hpp"
#include "core/process/reply_watch.hpp"

namespace steward::input {

using WatchedSubmitFn = std::function<Result<std::vector<uint64_t>>(
    std::string_view messages, const std::shared_ptr<process::ReplyWatcher>& watcher)>;

inline constexpr int64_t kMaxFollowSeconds = 7 * 24 * 3600;

ServeFn operatorInput(WatchedSubmitFn submit);

// One reply line of the follow form.
std::string replyLine(const process::ReplyNotice& notice);

}  // namespace steward::input
