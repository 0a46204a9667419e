// The error kernel: every failure on a node (a given-up message, a handler error, refused input)
// is logged locally and sent to central as a REQErrorLog message, where it is appended to the
// error log under central's data folder.
#pragma once

#include "core/message/message.hpp"

#include <functional>
#include <string>

namespace steward::observe {

inline constexpr const char* kErrorLogMethod = "REQErrorLog";

class ErrorKernel {
 public:
  using Send = std::function<void(message::Message)>;

  ErrorKernel(std::string centralNode, int64_t ackTimeout, int64_t retries, Send send)
      : central_(std::move(centralNode)),
        ackTimeout_(ackTimeout),
        retries_(retries),
        send_(std::move(send)) {}

  // Logs `what` and sends it to central.
  void report(const std::string& what) const;
  // Logs `what` only: for failures of error messages themselves, which must not loop.
  static void logOnly(const std::string& what);

 private:
  std::string central_;
  int64_t ackTimeout_;
  int64_t retries_;
  Send send_;
};

}  // namespace steward::observe
