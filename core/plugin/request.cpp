#include "core/plugin/request.hpp"

namespace steward::plugin {

PreparedRequest::PreparedRequest(const message::Message& m, CallContext context)
    : context_(std::move(context)) {
  for (const auto& d : m.data) {
    data_.push_back(d.c_str());
    lengths_.push_back(d.size());
  }
  request_.struct_size = sizeof(steward_request);
  request_.id = m.id;
  request_.from_node = m.fromNode.c_str();
  request_.to_node = m.toNode.c_str();
  request_.method = m.method.c_str();
  request_.data = data_.data();
  request_.data_len = lengths_.data();
  request_.data_count = data_.size();
  request_.directory = m.directory.c_str();
  request_.file_name = context_.fileName.c_str();
  request_.operation_json = m.operation.c_str();
  request_.deadline_unix_ms = context_.deadlineUnixMs;
  request_.node_name = context_.nodeName.c_str();
  request_.data_folder = context_.dataFolder.c_str();
  request_.output_path = context_.outputPath.c_str();
  request_.request_id = m.requestId;
  request_.request_method = m.requestMethod.c_str();
  request_.request_error = m.requestError.c_str();
}

}  // namespace steward::plugin
