// steward SDK: a mock host, to unit-test a plugin without a daemon or a broker.
//
//   #include <steward/testing.hpp>
//   extern "C" const steward_plugin* steward_plugin_entry();   // your plugin, linked in
//
//   steward::sdk::testing::MockHost host(steward_plugin_entry());
//   auto r = host.run("REQDiskUsage", {"/"});
//   EXPECT_TRUE(r.ok) << r.error;
//
// It checks the descriptor as the daemon does (ABI major version, callbacks, the method), creates
// an instance, runs one request through the C ABI and destroys the instance again.
#pragma once

#include <steward/plugin_abi.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace steward::sdk::testing {

struct CallResult {
  bool ok = false;
  std::string output;                // what was left for the final reply
  std::string error;
  std::vector<std::string> emitted;  // partial replies, in order
};

struct RequestOptions {
  std::string fromNode = "central";
  std::string toNode = "node1";
  std::string directory;
  std::string fileName = "out.log";
  std::string operationJson;
  std::chrono::milliseconds timeout{10000};
  std::filesystem::path dataFolder = std::filesystem::temp_directory_path();
};

class MockHost {
 public:
  explicit MockHost(const steward_plugin* plugin) : plugin_(plugin) {}

  // Log lines the plugin wrote, as "<level>: <text>".
  std::vector<std::string> logs() const {
    std::lock_guard lock(state_.mutex);
    return state_.logs;
  }

  CallResult run(const std::string& method, const std::vector<std::string>& data,
                 const RequestOptions& options = {}) {
    auto fail = [](std::string why) { return CallResult{false, "", std::move(why), {}}; };
    if (plugin_ == nullptr) return fail("no plugin descriptor");
    if (plugin_->abi_major != STEWARD_ABI_VERSION_MAJOR) return fail("ABI major differs");
    if (!plugin_->create || !plugin_->handle || !plugin_->destroy) {
      return fail("descriptor lacks create, handle or destroy");
    }
    bool served = false;
    for (size_t i = 0; i < plugin_->method_count; ++i) served |= method == plugin_->methods[i].name;
    if (!served) return fail("the plugin does not serve " + method);

    char error[512] = {0};
    void* instance = plugin_->create(&api_, &state_, method.c_str(), error, sizeof error);
    if (instance == nullptr) return fail(std::string("create failed: ") + error);

    std::vector<const char*> ptrs;
    std::vector<size_t> lengths;
    for (const auto& d : data) {
      ptrs.push_back(d.c_str());
      lengths.push_back(d.size());
    }
    const std::string dataFolder = options.dataFolder.string();
    const std::string outputPath = (options.dataFolder / options.directory / options.fromNode /
                                    options.fileName).string();
    steward_request req{};
    req.struct_size = sizeof req;
    req.id = 1;
    req.from_node = options.fromNode.c_str();
    req.to_node = options.toNode.c_str();
    req.method = method.c_str();
    req.data = ptrs.data();
    req.data_len = lengths.data();
    req.data_count = ptrs.size();
    req.directory = options.directory.c_str();
    req.file_name = options.fileName.c_str();
    req.operation_json = options.operationJson.c_str();
    req.deadline_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               (std::chrono::system_clock::now() + options.timeout).time_since_epoch())
                               .count();
    req.node_name = options.toNode.c_str();
    req.data_folder = dataFolder.c_str();
    req.output_path = outputPath.c_str();
    req.request_method = "";
    req.request_error = "";

    Call call;
    CallResult result;
    result.ok = plugin_->handle(instance, &req, call.handle()) == STEWARD_OK;
    plugin_->destroy(instance);
    result.output = call.output;
    result.error = call.error;
    result.emitted = call.emitted;
    return result;
  }

 private:
  // The host's side of a call; the plugin only ever sees it as an opaque steward_call*.
  struct Call {
    std::mutex mutex;
    std::string output;
    std::string error;
    std::vector<std::string> emitted;
    std::atomic<bool> cancelled{false};
    steward_call* handle() { return reinterpret_cast<steward_call*>(this); }
    static Call* from(steward_call* c) { return reinterpret_cast<Call*>(c); }
  };
  struct State {
    mutable std::mutex mutex;
    std::vector<std::string> logs;
  };

  static void output(steward_call* c, const char* bytes, size_t len) {
    std::lock_guard lock(Call::from(c)->mutex);
    Call::from(c)->output.append(bytes, len);
  }
  static void error(steward_call* c, const char* message) {
    std::lock_guard lock(Call::from(c)->mutex);
    auto& e = Call::from(c)->error;
    if (!e.empty()) e += "; ";
    e += message;
  }
  static int isCancelled(steward_call* c) { return Call::from(c)->cancelled.load() ? 1 : 0; }
  static void log(void* context, int32_t level, const char* message) {
    auto* state = static_cast<State*>(context);
    std::lock_guard lock(state->mutex);
    static const char* names[] = {"debug", "info", "warning", "error"};
    state->logs.push_back(std::string(level >= 0 && level <= 3 ? names[level] : "?") + ": " + message);
  }
  static int32_t nodeOperation(steward_call* c, const char*) {
    error(c, "the mock host runs no node operations");
    return STEWARD_ERROR;
  }
  // Partial replies are kept in order in CallResult::emitted.
  static int32_t emit(steward_call* c) {
    Call* call = Call::from(c);
    std::lock_guard lock(call->mutex);
    if (!call->output.empty()) call->emitted.push_back(std::move(call->output));
    call->output.clear();
    return STEWARD_OK;
  }

  const steward_plugin* plugin_;
  State state_;
  const steward_host_api api_{sizeof(steward_host_api), output, error, isCancelled, log,
                              nodeOperation, emit};
};

}  // namespace steward::sdk::testing
