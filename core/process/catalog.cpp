#include "core/process/catalog.hpp"

#include "core/util/log.hpp"

#include <algorithm>

namespace steward::process {

void Catalog::addOwn(message::MethodInfo info, Make make) {
  std::string name = info.name;
  own_[std::move(name)] = Own{std::move(info), std::move(make)};
}

std::optional<message::MethodInfo> Catalog::find(std::string_view method) const {
  if (auto it = own_.find(method); it != own_.end()) return it->second.info;
  return plugins_.find(method);
}

Result<std::vector<Error>> Catalog::knowAll(const std::vector<std::string_view>& methods) {
  const bool unknown = std::any_of(methods.begin(), methods.end(), [&](std::string_view m) {
    return !m.empty() && !find(m);
  });
  if (!unknown) return std::vector<Error>{};
  return plugins_.loadAll();
}

Result<std::unique_ptr<MethodHandler>> Catalog::instantiate(const std::string& method) {
  if (auto it = own_.find(method); it != own_.end()) return it->second.make();
  auto instance = plugins_.instantiate(method, logging::nodeTag(nodeName_));
  if (!instance) return instance.error();
  return std::unique_ptr<MethodHandler>(std::make_unique<PluginMethod>(std::move(instance).value()));
}

}  // namespace steward::process
