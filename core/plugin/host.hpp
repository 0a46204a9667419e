// Loads method plugins (shared objects behind the C ABI of sdk/include/steward/plugin_abi.h) with
// Boost.DLL, checks them, and creates the instances that run messages.
#pragma once

#include "core/message/message.hpp"
#include "core/util/result.hpp"

#include <steward/plugin_abi.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// The ABI's opaque call handle: the state of one running `handle`.
struct steward_call {
  std::mutex mutex;
  std::string output;
  std::string error;
  std::atomic<bool> cancelled{false};
  // What node_operation runs for this call: the node's operations, returning their result text.
  std::function<steward::Result<std::string>(std::string_view operationJson)> operation;
};

namespace steward::plugin {

class Library;

// Logging callback the host gives to plugins: (plugin name, level, text).
using PluginLog = std::function<void(const std::string&, steward_log_level, const std::string&)>;

// One instance of a plugin serving one method. Keeps its library loaded while it lives; destroying
// it calls the plugin's `destroy`.
class MethodInstance {
 public:
  ~MethodInstance();
  MethodInstance(const MethodInstance&) = delete;
  MethodInstance& operator=(const MethodInstance&) = delete;

  // Runs one message on the calling thread (blocking). Output and errors land in `call`.
  bool handle(const steward_request& request, steward_call& call);
  // Asks a running handle to stop; also sets call.cancelled.
  void cancel(steward_call& call);

  const message::MethodInfo& method() const { return method_; }

  // Per-instance state the host's C callbacks reach through their context pointer.
  struct Context;

 private:
  friend class PluginHost;
  MethodInstance(std::shared_ptr<Library> library, message::MethodInfo method,
                 std::unique_ptr<Context> context, void* instance);

  std::shared_ptr<Library> library_;
  message::MethodInfo method_;
  std::unique_ptr<Context> context_;
  void* instance_;
};

// What `ps` will show of a loaded plugin.
struct PluginInfo {
  std::string name;
  std::string version;
  std::filesystem::path file;
  std::vector<std::string> methods;
};

class PluginHost : public message::MethodCatalog {
 public:
  PluginHost(std::filesystem::path folder, PluginLog log);
  ~PluginHost() override;

  // Loads every *.so in the plugin folder. A plugin that fails a check is skipped; the returned
  // errors name its file and the reason. Fails as a whole only when the folder is unusable.
  Result<std::vector<Error>> loadAll();
  // Loads one plugin file.
  Status load(const std::filesystem::path& file);

  const message::MethodInfo* find(std::string_view method) const override;
  std::vector<message::MethodInfo> methods() const;
  std::vector<PluginInfo> plugins() const;

  // Creates an instance serving `method`.
  Result<std::unique_ptr<MethodInstance>> instantiate(const std::string& method);

 private:
  std::filesystem::path folder_;
  PluginLog log_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Library>, std::less<>> byMethod_;
  std::map<std::string, message::MethodInfo, std::less<>> methods_;
};

}  // namespace steward::plugin
