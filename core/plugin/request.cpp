#include "core/plugin/request.hpp"

#include <steward/plugin.hpp>

namespace steward::plugin {

using sdk::str;

PreparedRequest::PreparedRequest(const message::Message& m, CallContext context)
    : context_(std::move(context)) {
  for (const auto& d : m.data) data_.push_back(str(d));
  request_.struct_size = sizeof(steward_request);
  request_.id = m.id;
  request_.from_node = str(m.fromNode);
  request_.to_node = str(m.toNode);
  request_.method = str(m.method);
  request_.data = data_.data();
  request_.data_count = data_.size();
  request_.directory = str(m.directory);
  request_.file_name = str(context_.fileName);
  request_.operation_json = str(m.operation);
  request_.deadline_unix_ms = context_.deadlineUnixMs;
  request_.node_name = str(context_.nodeName);
  request_.data_folder = str(context_.dataFolder);
  request_.output_path = str(context_.outputPath);
  request_.request_id = m.requestId;
  request_.request_method = str(m.requestMethod);
  request_.request_error = str(m.requestError);
  request_.reply_options_json = str(m.replyOpts);
}

}  // namespace steward::plugin
