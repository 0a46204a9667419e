// The error kernel: every failure on a node (a given-up message, a handler error, refused input)
// is logged locally and sent to central as a REQErrorLog message, where it is appended to the
// error log under central's data folder.
//
// Sending is rate limited: a flood of bad or forged messages must not become a flood of error
// messages over a satellite link, nor fill the outbox. Within one window (a minute) the first
// `perWindow` errors go to central; the rest are only logged here, and when the window ends
// central gets one line more, saying how many were held back and what the first of them was.
#pragma once

#include "core/message/message.hpp"

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

namespace steward::observe {

struct ErrorLimit {
  int64_t perWindow = 30;
  std::chrono::steady_clock::duration window = std::chrono::minutes(1);
};

class ErrorKernel {
 public:
  using Send = std::function<void(message::Message)>;
  // Asked to call flushHeldBack() after the given delay: the first error held back in a window
  // asks for it.
  using Schedule = std::function<void(std::chrono::steady_clock::duration)>;
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  ErrorKernel(std::string nodeName, std::string centralNode, int64_t ackTimeout, int64_t retries,
              Send send, ErrorLimit limit = {}, Clock clock = std::chrono::steady_clock::now);

  // Who arms the timer for flushHeldBack(); without one, the summary goes with the next error
  // after the window.
  void setSchedule(Schedule schedule) { schedule_ = std::move(schedule); }

  // Logs `what` and sends it to central, unless this window's share is used up. `what` does not
  // name this node: central's error log puts the sender's name before every line, in one place
  // (the REQErrorLog plugin).
  void report(const std::string& what) const;
  // Sends central the count of errors held back, once their window is over.
  void flushHeldBack() const;
  // Logs `what` only: for failures of error messages themselves, which must not loop.
  static void logOnly(const std::string& what);

 private:
  void sendToCentral(const std::string& what) const;
  // With mutex_ held: starts a new window if the current one is over, and returns the summary
  // of what the old one held back (empty if nothing).
  std::string rollWindow(std::chrono::steady_clock::time_point now) const;

  std::string node_;
  std::string central_;
  int64_t ackTimeout_;
  int64_t retries_;
  Send send_;
  ErrorLimit limit_;
  Clock clock_;
  Schedule schedule_;

  mutable std::mutex mutex_;
  mutable std::chrono::steady_clock::time_point windowStart_{};
  mutable int64_t sentInWindow_ = 0;
  mutable int64_t heldBack_ = 0;
  mutable std::string firstHeldBack_;
};

}  // namespace steward::observe
