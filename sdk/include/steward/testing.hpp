// steward SDK: a mock host, to unit-test a plugin without a daemon or a broker.
//
//   #include <steward/testing.hpp>
//   extern "C" const steward_plugin* steward_plugin_entry();   // your plugin, linked in
//
//   steward::sdk::testing::MockHost host(steward_plugin_entry());
//   auto r = host.run("REQDiskUsage", {"/"});
//   EXPECT_TRUE(r.ok) << r.error;
//
// It checks the descriptor as the daemon does (ABI major version, size, the host minor it needs,
// callbacks, the method), creates an instance with a configuration, runs one request through the
// C ABI and destroys the instance again.
#pragma once

#include <steward/plugin.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace steward::sdk::testing {

struct CallResult {
  bool ok = false;
  std::string output;                // what was left for the final reply
  std::string error;
  std::vector<std::string> emitted;  // partial replies, in order
  std::map<std::string, std::string> result;  // set_result's fields
};

struct RequestOptions {
  std::string fromNode = "central";
  std::string toNode = "node1";
  std::string directory;
  std::string fileName = "out.log";
  std::string operationJson;
  std::string replyOptionsJson;  // a reply's replyOpts
  std::chrono::milliseconds timeout{10000};
  std::filesystem::path dataFolder = std::filesystem::temp_directory_path();
};

class MockHost {
 public:
  // `config`: the JSON the plugin's create gets, as from a [plugins.<name>] table.
  explicit MockHost(const steward_plugin* plugin, std::string config = "{}")
      : plugin_(plugin), config_(std::move(config)) {}

  // Log lines the plugin wrote, as "<level>: <text>".
  std::vector<std::string> logs() const {
    std::lock_guard lock(state_.mutex);
    return state_.logs;
  }

  CallResult run(const std::string& method, const std::vector<std::string>& data,
                 const RequestOptions& options = {}) {
    auto fail = [](std::string why) { return CallResult{false, "", std::move(why), {}, {}}; };
    if (plugin_ == nullptr) return fail("no plugin descriptor");
    if (plugin_->abi_major != STEWARD_ABI_VERSION_MAJOR) return fail("ABI major differs");
    if (plugin_->struct_size < STEWARD_PLUGIN_MIN_SIZE_2_0) return fail("descriptor too small");
    if (plugin_->min_host_minor > STEWARD_ABI_VERSION_MINOR) return fail("needs a newer host");
    if (!plugin_->create || !plugin_->handle || !plugin_->destroy) {
      return fail("descriptor lacks create, handle or destroy");
    }
    bool served = false;
    for (size_t i = 0; i < plugin_->method_count; ++i) {
      const steward_method_desc* m = plugin_->methods[i];
      served |= m != nullptr && method == std::string_view(m->name.ptr, m->name.len);
    }
    if (!served) return fail("the plugin does not serve " + method);

    steward_plugin_instance* instance = nullptr;
    if (plugin_->create(&api_, state_.handle(), str(method), str(config_), &instance) != STEWARD_OK) {
      std::lock_guard lock(state_.mutex);
      return fail("create failed: " + state_.createError);
    }

    std::vector<steward_str> items;
    for (const auto& d : data) items.push_back(str(d));
    const std::string dataFolder = options.dataFolder.string();
    const std::string outputPath = (options.dataFolder / options.directory / options.fromNode /
                                    options.fileName).string();
    steward_request req{};
    req.struct_size = sizeof req;
    req.id = 1;
    req.from_node = str(options.fromNode);
    req.to_node = str(options.toNode);
    req.method = str(method);
    req.data = items.data();
    req.data_count = items.size();
    req.directory = str(options.directory);
    req.file_name = str(options.fileName);
    req.operation_json = str(options.operationJson);
    req.deadline_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               (std::chrono::system_clock::now() + options.timeout).time_since_epoch())
                               .count();
    req.node_name = str(options.toNode);
    req.data_folder = str(dataFolder);
    req.output_path = str(outputPath);
    req.reply_options_json = str(options.replyOptionsJson);

    Call call;
    CallResult result;
    result.ok = plugin_->handle(instance, &req, call.handle()) == STEWARD_OK;
    plugin_->destroy(instance);
    result.output = call.output;
    result.error = call.error;
    result.emitted = call.emitted;
    result.result = call.result;
    return result;
  }

 private:
  // The host's side of a call; the plugin only ever sees it as an opaque steward_host_call*.
  struct Call {
    std::mutex mutex;
    std::string output;
    std::string error;
    std::vector<std::string> emitted;
    std::map<std::string, std::string> result;
    std::atomic<bool> cancelled{false};
    steward_host_call* handle() { return reinterpret_cast<steward_host_call*>(this); }
    static Call* from(steward_host_call* c) { return reinterpret_cast<Call*>(c); }
  };
  // The host's side of the instance.
  struct State {
    mutable std::mutex mutex;
    std::vector<std::string> logs;
    std::string createError;
    steward_host_instance* handle() { return reinterpret_cast<steward_host_instance*>(this); }
    static State* from(steward_host_instance* i) { return reinterpret_cast<State*>(i); }
  };
  static std::string text(steward_str s) { return std::string(view(s)); }

  static void output(steward_host_call* c, steward_str bytes) {
    std::lock_guard lock(Call::from(c)->mutex);
    Call::from(c)->output += text(bytes);
  }
  static void error(steward_host_call* c, steward_str message) {
    std::lock_guard lock(Call::from(c)->mutex);
    auto& e = Call::from(c)->error;
    if (!e.empty()) e += "; ";
    e += text(message);
  }
  static int32_t isCancelled(steward_host_call* c) { return Call::from(c)->cancelled.load() ? 1 : 0; }
  static void log(steward_host_instance* instance, int32_t level, steward_str message) {
    auto* state = State::from(instance);
    std::lock_guard lock(state->mutex);
    static const char* names[] = {"debug", "info", "warning", "error"};
    state->logs.push_back(std::string(level >= 0 && level <= 3 ? names[level] : "?") + ": " + text(message));
  }
  // Partial replies are kept in order in CallResult::emitted.
  static int32_t emit(steward_host_call* c) {
    Call* call = Call::from(c);
    std::lock_guard lock(call->mutex);
    if (!call->output.empty()) call->emitted.push_back(std::move(call->output));
    call->output.clear();
    return STEWARD_OK;
  }
  static int32_t setResult(steward_host_call* c, steward_str name, steward_str value) {
    Call* call = Call::from(c);
    std::lock_guard lock(call->mutex);
    if (name.len == 0 || name.len > 32) return STEWARD_ERROR;
    if (call->result.size() >= STEWARD_MAX_RESULT_FIELDS && call->result.count(text(name)) == 0) return STEWARD_ERROR;
    call->result[text(name)] = text(value);
    return STEWARD_OK;
  }
  static void instanceError(steward_host_instance* instance, steward_str message) {
    auto* state = State::from(instance);
    std::lock_guard lock(state->mutex);
    state->createError += text(message);
  }

  const steward_plugin* plugin_;
  std::string config_;
  State state_;
  const steward_host_api api_{sizeof(steward_host_api), output, error, isCancelled, log, emit,
                              instanceError, setResult};
};

}  // namespace steward::sdk::testing
