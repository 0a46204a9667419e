// Every method a node can serve, in one place: its own methods (operations, key updates) and
// those of the plugins in its plugin folder. Looking a method up, picking up a plugin dropped into
// the folder since the start, and making the handler a subscriber runs all go through here.
#pragma once

#include "core/message/message.hpp"
#include "core/plugin/host.hpp"
#include "core/process/method_handler.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace steward::process {

class Catalog final : public message::MethodCatalog {
 public:
  using Make = std::function<std::unique_ptr<MethodHandler>()>;

  // `nodeName`: the node whose plugin instances these are, named on what they log where several
  // nodes share a process (logging::tagNodes).
  explicit Catalog(plugin::PluginHost& plugins, std::string nodeName = {})
      : plugins_(plugins), nodeName_(std::move(nodeName)) {}

  // One of the node's own methods. Set up before the node starts; the plugin host refuses any
  // plugin that claims the same name (message/methods.hpp lists them).
  void addOwn(message::MethodInfo info, Make make);

  std::optional<message::MethodInfo> find(std::string_view method) const override;
  // Whether every method in `methods` is known, reading the plugin folder again first when one
  // is not (a plugin dropped in since the start). What the new read refused is returned to be
  // reported; an unusable folder is an error.
  Result<std::vector<Error>> knowAll(const std::vector<std::string_view>& methods);
  // A handler serving `method`: a new plugin instance (loading its library if none holds it) or
  // the node's own.
  Result<std::unique_ptr<MethodHandler>> instantiate(const std::string& method);

  // What ps shows of each method: its plugin, or "steward" for the node's own.
  std::vector<plugin::PluginInfo> plugins() const { return plugins_.plugins(); }
  const std::filesystem::path& pluginFolder() const { return plugins_.folder(); }

 private:
  struct Own {
    message::MethodInfo info;
    Make make;
  };

  plugin::PluginHost& plugins_;
  const std::string nodeName_;
  std::map<std::string, Own, std::less<>> own_;
};

}  // namespace steward::process
