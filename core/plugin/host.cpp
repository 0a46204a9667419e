#include "core/plugin/host.hpp"

#include "core/message/methods.hpp"

#include <boost/dll/shared_library.hpp>
#include <steward/plugin.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string_view>

namespace steward::plugin {
namespace fs = std::filesystem;

// A loaded shared object and its checked descriptor.
class Library {
 public:
  Library(boost::dll::shared_library lib, const steward_plugin* descriptor, fs::path file)
      : lib_(std::move(lib)), descriptor_(descriptor), file_(std::move(file)) {}
  const steward_plugin& descriptor() const { return *descriptor_; }
  const fs::path& file() const { return file_; }

 private:
  boost::dll::shared_library lib_;
  const steward_plugin* descriptor_;
  fs::path file_;
};

struct MethodInstance::Context {
  PluginLog log;
  std::string pluginName;
  std::string createError;  // what the plugin said through instance_error during create
};



namespace {

using sdk::str;
using sdk::view;

MethodInstance::Context* contextOf(steward_host_instance* instance) {
  return reinterpret_cast<MethodInstance::Context*>(instance);
}

void hostOutput(steward_host_call* call, steward_str bytes) {
  if (call == nullptr) return;
  std::lock_guard lock(call->mutex);
  call->output.append(view(bytes));
}

void hostError(steward_host_call* call, steward_str message) {
  if (call == nullptr) return;
  std::lock_guard lock(call->mutex);
  if (!call->error.empty()) call->error += "; ";
  call->error.append(view(message));
}

int32_t hostIsCancelled(steward_host_call* call) {
  return call != nullptr && call->cancelled.load() ? 1 : 0;
}

void hostLog(steward_host_instance* instance, int32_t level, steward_str message) {
  if (instance == nullptr) return;
  auto* ctx = contextOf(instance);
  ctx->log(ctx->pluginName, static_cast<steward_log_level>(level), std::string(view(message)));
}

int32_t hostEmit(steward_host_call* call) {
  if (call == nullptr || !call->emit) return STEWARD_ERROR;
  std::string output;
  {
    std::lock_guard lock(call->mutex);
    if (call->output.empty()) return STEWARD_OK;
    output.swap(call->output);
  }
  if (auto s = call->emit(output); !s) {
    std::lock_guard lock(call->mutex);
    call->output.insert(0, output);  // keep it for the next emit or the final reply
    return STEWARD_ERROR;
  }
  return STEWARD_OK;
}

int32_t hostSetResult(steward_host_call* call, steward_str name, steward_str value) {
  if (call == nullptr || !message::validResultName(view(name))) return STEWARD_ERROR;
  std::lock_guard lock(call->mutex);
  const std::string key(view(name));
  if (call->result.size() >= STEWARD_MAX_RESULT_FIELDS && call->result.count(key) == 0) return STEWARD_ERROR;
  call->result[key] = std::string(view(value));
  return STEWARD_OK;
}

void hostInstanceError(steward_host_instance* instance, steward_str message) {
  if (instance == nullptr) return;
  auto* ctx = contextOf(instance);
  if (!ctx->createError.empty()) ctx->createError += "; ";
  ctx->createError.append(view(message));
}

const steward_host_api kHostApi = {sizeof(steward_host_api), hostOutput,        hostError,
                                   hostIsCancelled,          hostLog,           hostEmit,
                                   hostInstanceError,        hostSetResult};

// A plugin runs with the daemon's rights: refuse files anyone but the owner could have replaced.
Status checkPermissions(const fs::path& path, const char* what) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Error{std::string("cannot stat ") + what};
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return Error{std::string(what) + " is writable by group or others (mode " + mode +
                 "); only its owner may write it"};
  }
  return {};
}

std::string abiText(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// The descriptor, checked field by field against what this host speaks; every refusal says why.
Status checkDescriptor(const steward_plugin* d) {
  if (d == nullptr) return Error{"entry symbol returned no descriptor"};
  const std::string host = abiText(STEWARD_ABI_VERSION_MAJOR, STEWARD_ABI_VERSION_MINOR);
  if (d->abi_major != STEWARD_ABI_VERSION_MAJOR) {
    return Error{"built for plugin ABI " + abiText(d->abi_major, d->abi_minor) +
                 ", this steward speaks ABI " + host + " (a plugin must be built for major " +
                 std::to_string(STEWARD_ABI_VERSION_MAJOR) + ")"};
  }
  if (d->struct_size < STEWARD_PLUGIN_MIN_SIZE_2_0) {
    return Error{"its descriptor is " + std::to_string(d->struct_size) + " bytes, less than the " +
                 std::to_string(STEWARD_PLUGIN_MIN_SIZE_2_0) + " every ABI 2 descriptor has"};
  }
  if (d->min_host_minor > STEWARD_ABI_VERSION_MINOR) {
    return Error{"needs a steward host of ABI " + abiText(STEWARD_ABI_VERSION_MAJOR, d->min_host_minor) +
                 " or later; this one speaks ABI " + host};
  }
  if (view(d->name).empty() || view(d->version).empty()) return Error{"descriptor has no name or version"};
  if (d->create == nullptr || d->handle == nullptr || d->destroy == nullptr) {
    return Error{"descriptor lacks create, handle or destroy"};
  }
  if (d->methods == nullptr || d->method_count == 0) return Error{"plugin serves no method"};
  std::set<std::string_view> seen;
  for (size_t i = 0; i < d->method_count; ++i) {
    const steward_method_desc* m = d->methods[i];
    const std::string which = "method " + std::to_string(i);
    if (m == nullptr) return Error{which + " has no descriptor"};
    if (m->struct_size < STEWARD_METHOD_DESC_MIN_SIZE_2_0) {
      return Error{which + ": its descriptor is " + std::to_string(m->struct_size) +
                   " bytes, less than the " + std::to_string(STEWARD_METHOD_DESC_MIN_SIZE_2_0) +
                   " every ABI 2 method descriptor has"};
    }
    const std::string_view name = view(m->name);
    if (auto s = message::checkMethodName(name); !s) return Error{which + ": " + s.error().message};
    if ((m->flags & ~STEWARD_METHOD_KNOWN_FLAGS_2_0) != 0) {
      return Error{"method " + std::string(name) + " has flags this host does not know"};
    }
    if (!seen.insert(name).second) {
      return Error{"method " + std::string(name) + " is listed twice in its descriptor"};
    }
  }
  return {};
}

}  // namespace

MethodInstance::MethodInstance(std::shared_ptr<Library> library, message::MethodInfo method,
                               std::unique_ptr<Context> context, steward_plugin_instance* instance)
    : library_(std::move(library)),
      method_(std::move(method)),
      context_(std::move(context)),
      instance_(instance) {}

MethodInstance::~MethodInstance() { library_->descriptor().destroy(instance_); }

bool MethodInstance::handle(const steward_request& request, steward_host_call& call) {
  return library_->descriptor().handle(instance_, &request, &call) == STEWARD_OK;
}

void MethodInstance::cancel(steward_host_call& call) {
  call.cancelled = true;
  if (auto fn = library_->descriptor().cancel) fn(instance_, &call);
}

std::filesystem::path PluginHost::defaultFolder() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "plugins";
  for (const fs::path& candidate :
       {exe.parent_path() / "plugins", exe.parent_path() / ".." / STEWARD_PLUGIN_INSTALL_DIR}) {
    if (fs::is_directory(candidate, ec)) return fs::weakly_canonical(candidate, ec);
  }
  return exe.parent_path() / "plugins";
}

PluginHost::PluginHost(fs::path folder, PluginLog log)
    : folder_(std::move(folder)), log_(std::move(log)) {}

PluginHost::~PluginHost() = default;

void PluginHost::setConfigs(std::map<std::string, std::string, std::less<>> configs) {
  std::lock_guard lock(mutex_);
  configs_ = std::move(configs);
}

Result<std::vector<Error>> PluginHost::loadAll() {
  std::error_code ec;
  if (!fs::is_directory(folder_, ec)) {
    return Error{"plugin folder " + folder_.string() + " does not exist or is not a folder"};
  }
  if (auto s = checkPermissions(folder_, "plugin folder"); !s) {
    return Error{folder_.string() + ": " + s.error().message};
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder_, ec)) {
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  }
  if (ec) return Error{"cannot list plugin folder " + folder_.string() + ": " + ec.message()};
  std::sort(files.begin(), files.end());
  std::vector<Error> errors;
  for (const auto& file : files) {
    {
      std::lock_guard lock(mutex_);
      if (files_.count(file) != 0) continue;
    }
    if (auto s = load(file); !s) errors.push_back(s.error());
  }
  return errors;
}

Status PluginHost::load(const fs::path& file) {
  std::lock_guard lock(mutex_);
  auto library = open(file);
  if (!library) return library.error();
  return {};  // the library is unmapped again here unless an instance holds it
}

Result<std::shared_ptr<Library>> PluginHost::open(const fs::path& file) {
  auto fail = [&](const std::string& why) {
    return Error{"plugin " + file.string() + ": " + why, Code::pluginRefused};
  };
  if (!fs::is_regular_file(file)) return fail("not a regular file");
  if (auto s = checkPermissions(file, "file"); !s) return fail(s.error().message);

  boost::dll::shared_library lib;
  try {
    lib.load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return fail(std::string("not a loadable shared object: ") + e.what());
  }
  if (!lib.has(STEWARD_PLUGIN_ENTRY_SYMBOL)) {
    return fail(std::string("missing entry symbol ") + STEWARD_PLUGIN_ENTRY_SYMBOL);
  }
  auto entry = lib.get<const steward_plugin*()>(STEWARD_PLUGIN_ENTRY_SYMBOL);
  const steward_plugin* descriptor = entry();
  if (auto s = checkDescriptor(descriptor); !s) return fail(s.error().message);

  for (size_t i = 0; i < descriptor->method_count; ++i) {
    const std::string name(view(descriptor->methods[i]->name));
    if (message::methods::servedByNode(name)) {
      return fail("method " + name + " is served by steward itself; a plugin cannot take it over");
    }
    if (auto it = fileOf_.find(name); it != fileOf_.end() && it->second != file) {
      return fail("method " + name + " is already served by plugin " + it->second.string());
    }
  }
  auto library = std::make_shared<Library>(std::move(lib), descriptor, file);
  // A reloaded file may serve other methods than before: forget the old ones first.
  if (auto it = files_.find(file); it != files_.end()) {
    for (const auto& m : it->second.info.methods) {
      fileOf_.erase(m);
      methods_.erase(m);
    }
  }
  FileRecord& record = files_[file];
  record.library = library;
  record.info = PluginInfo{std::string(view(descriptor->name)), std::string(view(descriptor->version)),
                           file, {}, true};
  for (size_t i = 0; i < descriptor->method_count; ++i) {
    const steward_method_desc& m = *descriptor->methods[i];
    message::MethodInfo info;
    info.name = view(m.name);
    info.kind = message::makeKind((m.flags & STEWARD_METHOD_EVENT) != 0, (m.flags & STEWARD_METHOD_NO_ACK) == 0);
    info.ordered = (m.flags & STEWARD_METHOD_CONCURRENT) == 0;
    info.replyMethod = (m.flags & STEWARD_METHOD_REPLY) != 0;
    info.plugin = view(descriptor->name);
    info.commandData = (m.flags & STEWARD_METHOD_COMMAND_DATA) != 0;
    record.info.methods.push_back(info.name);
    fileOf_[info.name] = file;
    methods_[info.name] = std::move(info);
  }
  return library;
}

std::optional<message::MethodInfo> PluginHost::find(std::string_view method) const {
  std::lock_guard lock(mutex_);
  auto it = methods_.find(method);
  if (it == methods_.end()) return std::nullopt;
  return it->second;
}

std::vector<PluginInfo> PluginHost::plugins() const {
  std::lock_guard lock(mutex_);
  std::vector<PluginInfo> out;
  for (const auto& [file, record] : files_) {
    out.push_back(record.info);
    out.back().loaded = !record.library.expired();
  }
  return out;
}

Result<std::unique_ptr<MethodInstance>> PluginHost::instantiate(const std::string& method,
                                                                 const std::string& logTag) {
  std::shared_ptr<Library> library;
  message::MethodInfo info;
  std::string config = "{}";
  {
    std::lock_guard lock(mutex_);
    auto it = fileOf_.find(method);
    if (it == fileOf_.end()) return Error{"no plugin serves method " + method, Code::unknownMethod};
    const fs::path file = it->second;
    library = files_[file].library.lock();
    if (!library) {
      auto reopened = open(file);
      if (!reopened) return reopened.error();
      library = std::move(reopened).value();
      if (methods_.count(method) == 0) {
        return Error{"plugin " + file.string() + " no longer serves method " + method};
      }
    }
    info = methods_.at(method);
    if (auto it = configs_.find(info.plugin); it != configs_.end()) config = it->second;
  }
  auto context = std::make_unique<MethodInstance::Context>();
  context->log = log_;
  context->pluginName = logTag + info.plugin;
  steward_plugin_instance* instance = nullptr;
  const int32_t created = library->descriptor().create(
      &kHostApi, reinterpret_cast<steward_host_instance*>(context.get()),
      str(method), str(config), &instance);
  if (created != STEWARD_OK || instance == nullptr) {
    return Error{"plugin " + library->file().string() + " could not create " + method + ": " +
                 (context->createError.empty() ? std::string("no reason given") : context->createError)};
  }
  return std::unique_ptr<MethodInstance>(
      new MethodInstance(std::move(library), std::move(info), std::move(context), instance));
}

}  // namespace steward::plugin
