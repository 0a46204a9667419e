#include "tests/unit/plugins/plugin_fixture.hpp"

#include "core/message/paths.hpp"

#include <stdexcept>
#include <thread>

namespace steward::testing {

PluginFixture::PluginFixture(std::filesystem::path folder)
    : host_(std::move(folder), [](const std::string&, steward_log_level, const std::string&) {}) {
  auto loaded = host_.loadAll();
  if (!loaded) throw std::runtime_error(loaded.error().message);
}

CallResult PluginFixture::run(const TestRequest& r, std::chrono::milliseconds cancelAfter) {
  auto instance = host_.instantiate(r.method);
  if (!instance) return CallResult{false, "", instance.error().message};
  std::vector<const char*> data;
  std::vector<size_t> lengths;
  for (const auto& d : r.data) {
    data.push_back(d.c_str());
    lengths.push_back(d.size());
  }
  auto path = message::resolveOutputPath(r.dataFolder, r.directory, r.fromNode, r.fileName);
  const std::string outputPath = path ? path->string() : "";
  const std::string dataFolder = r.dataFolder.string();
  steward_request req{};
  req.struct_size = sizeof req;
  req.id = 1;
  req.from_node = r.fromNode.c_str();
  req.to_node = r.toNode.c_str();
  req.method = r.method.c_str();
  req.data = data.data();
  req.data_len = lengths.data();
  req.data_count = data.size();
  req.directory = r.directory.c_str();
  req.file_name = r.fileName.c_str();
  req.operation_json = "";
  req.deadline_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             (std::chrono::system_clock::now() + r.timeout).time_since_epoch())
                             .count();
  req.node_name = r.toNode.c_str();
  req.data_folder = dataFolder.c_str();
  req.output_path = outputPath.c_str();
  req.request_id = 0;
  req.request_method = "";
  req.request_error = r.requestError.c_str();

  steward_call call;
  std::thread canceller;
  if (cancelAfter.count() > 0) {
    canceller = std::thread([&] {
      std::this_thread::sleep_for(cancelAfter);
      instance.value()->cancel(call);
    });
  }
  CallResult result;
  result.ok = instance.value()->handle(req, call);
  if (canceller.joinable()) canceller.join();
  result.output = call.output;
  result.error = call.error;
  return result;
}

}  // namespace steward::testing
