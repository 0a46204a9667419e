// A message laid out as the C ABI's steward_request, with the storage its pointers point into.
#pragma once

#include "core/message/message.hpp"

#include <steward/plugin_abi.h>

#include <string>
#include <vector>

namespace steward::plugin {

struct CallContext {
  std::string nodeName;
  std::string dataFolder;
  std::string outputPath;  // already checked to lie inside dataFolder
  std::string fileName;    // the message's, or the default one
  int64_t deadlineUnixMs = 0;
};

class PreparedRequest {
 public:
  // Keeps references to `message`; it must outlive this object.
  PreparedRequest(const message::Message& message, CallContext context);
  PreparedRequest(const PreparedRequest&) = delete;
  PreparedRequest& operator=(const PreparedRequest&) = delete;

  const steward_request& get() const { return request_; }

 private:
  CallContext context_;
  std::vector<steward_str> data_;
  steward_request request_{};
};

}  // namespace steward::plugin
