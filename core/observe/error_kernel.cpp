#include "core/observe/error_kernel.hpp"

#include "core/message/methods.hpp"
#include "core/util/log.hpp"

namespace steward::observe {

ErrorKernel::ErrorKernel(std::string nodeName, std::string centralNode, int64_t ackTimeout,
                         int64_t retries, Send send, ErrorLimit limit, Clock clock)
    : node_(std::move(nodeName)),
      central_(std::move(centralNode)),
      ackTimeout_(ackTimeout),
      retries_(retries),
      send_(std::move(send)),
      limit_(limit),
      clock_(std::move(clock)) {
  windowStart_ = clock_();
}

void ErrorKernel::report(const std::string& what) const {
  STEWARD_LOG(error) << logging::nodeTag(node_) << what;
  std::string summary;
  bool send = false;
  bool firstHeld = false;
  std::chrono::steady_clock::duration windowLeft{};
  {
    std::lock_guard lock(mutex_);
    summary = rollWindow(clock_());
    if (sentInWindow_ < limit_.perWindow) {
      ++sentInWindow_;
      send = true;
    } else if (heldBack_++ == 0) {
      firstHeldBack_ = what;
      firstHeld = true;
      windowLeft = limit_.window - (clock_() - windowStart_);
    }
  }
  // Sent outside the lock: sending may fail and report again.
  if (!summary.empty()) sendToCentral(summary);
  if (send) sendToCentral(what);
  if (firstHeld && schedule_) schedule_(windowLeft);
}

void ErrorKernel::flushHeldBack() const {
  std::string summary;
  {
    std::lock_guard lock(mutex_);
    summary = rollWindow(clock_());
  }
  if (!summary.empty()) sendToCentral(summary);
}

std::string ErrorKernel::rollWindow(std::chrono::steady_clock::time_point now) const {
  if (now - windowStart_ < limit_.window) return {};
  std::string summary;
  if (heldBack_ > 0) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(limit_.window).count();
    summary = std::to_string(heldBack_) + " more error(s) in " +
              std::to_string(seconds) + " s were not sent to central (at most " +
              std::to_string(limit_.perWindow) + " are); all are in " + node_ +
              "'s log. The first: " + firstHeldBack_;
  }
  windowStart_ = now;
  sentInWindow_ = 0;
  heldBack_ = 0;
  firstHeldBack_.clear();
  return summary;
}

void ErrorKernel::sendToCentral(const std::string& what) const {
  message::Message m;
  m.toNode = central_;
  m.method = message::methods::kErrorLog;
  m.data = {what};
  m.ackTimeout = ackTimeout_;
  m.retries = retries_;
  m.directory = "errorLog";
  m.fileName = "errors.log";
  send_(std::move(m));
}

void ErrorKernel::logOnly(const std::string& what) { STEWARD_LOG(error) << what; }

}  // namespace steward::observe
