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

// The ABI's call handle, defined on the host's side only: the state of one running `handle`.
struct steward_host_call {
  std::mutex mutex;
  std::string output;
  std::string error;
  std::map<std::string, std::string> result;  // set_result's named parts of the final reply
  std::atomic<bool> cancelled{false};
  // A node's own method: its reply is not the last; the node sends more replies to the request
  // later itself (a file copy's progress and end).
  bool more = false;
  // What emit runs: queues `output` as a partial reply.
  std::function<steward::Status(std::string output)> emit;
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
  bool handle(const steward_request& request, steward_host_call& call);
  // Asks a running handle to stop; also sets call.cancelled.
  void cancel(steward_host_call& call);

  const message::MethodInfo& method() const { return method_; }

  // Per-instance state the host's C callbacks reach through their steward_host_instance handle.
  struct Context;

 private:
  friend class PluginHost;
  MethodInstance(std::shared_ptr<Library> library, message::MethodInfo method,
                 std::unique_ptr<Context> context, steward_plugin_instance* instance);

  std::shared_ptr<Library> library_;
  message::MethodInfo method_;
  std::unique_ptr<Context> context_;
  steward_plugin_instance* instance_;
};

// What `ps` shows of a plugin.
struct PluginInfo {
  std::string name;
  std::string version;
  std::filesystem::path file;
  std::vector<std::string> methods;
  bool loaded = false;  // mapped in memory now (some instance uses it)
};

class PluginHost : public message::MethodCatalog {
 public:
  PluginHost(std::filesystem::path folder, PluginLog log);
  // Where the plugins are when none is configured: "plugins" next to the executable (a build
  // tree), else the installed folder relative to it (../lib/steward/plugins/abiN).
  static std::filesystem::path defaultFolder();
  ~PluginHost() override;

  // Each plugin's configuration, by plugin name: its [plugins.<name>] table of config.toml as a
  // JSON object, handed to its `create`. A plugin with none gets "{}".
  void setConfigs(std::map<std::string, std::string, std::less<>> configs);

  // Reads every *.so in the plugin folder not read before: checks it and records its methods. A
  // plugin that fails a check is skipped; the returned errors name its file and the reason.
  // Fails as a whole only when the folder is unusable. A library stays mapped only while an
  // instance of it lives: it is loaded again, and checked again, when one is next created, so a
  // replaced file is picked up.
  Result<std::vector<Error>> loadAll();
  // Reads one plugin file, as loadAll does.
  Status load(const std::filesystem::path& file);

  std::optional<message::MethodInfo> find(std::string_view method) const override;
  std::vector<PluginInfo> plugins() const;
  const std::filesystem::path& folder() const { return folder_; }

  // Creates an instance serving `method`, loading its library if no instance holds it. What the
  // instance logs goes to the log callback under "<logTag><plugin name>".
  Result<std::unique_ptr<MethodInstance>> instantiate(const std::string& method,
                                                      const std::string& logTag = {});

 private:
  struct FileRecord {
    std::weak_ptr<Library> library;
    PluginInfo info;
  };
  // Maps and checks `file`, and records what it serves. Caller holds mutex_.
  Result<std::shared_ptr<Library>> open(const std::filesystem::path& file);

  std::filesystem::path folder_;
  PluginLog log_;
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> configs_;
  std::map<std::filesystem::path, FileRecord> files_;
  std::map<std::string, std::filesystem::path, std::less<>> fileOf_;  // method -> file
  std::map<std::string, message::MethodInfo, std::less<>> methods_;
};

}  // namespace steward::plugin
