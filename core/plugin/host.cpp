#include "core/plugin/host.hpp"

#include <boost/dll/shared_library.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

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
};

namespace {

void hostOutput(steward_call* call, const char* bytes, size_t len) {
  if (call == nullptr || bytes == nullptr) return;
  std::lock_guard lock(call->mutex);
  call->output.append(bytes, len);
}

void hostError(steward_call* call, const char* message) {
  if (call == nullptr || message == nullptr) return;
  std::lock_guard lock(call->mutex);
  if (!call->error.empty()) call->error += "; ";
  call->error += message;
}

int hostIsCancelled(steward_call* call) {
  return call != nullptr && call->cancelled.load() ? 1 : 0;
}

void hostLog(void* context, int32_t level, const char* message) {
  if (context == nullptr || message == nullptr) return;
  auto* ctx = static_cast<MethodInstance::Context*>(context);
  ctx->log(ctx->pluginName, static_cast<steward_log_level>(level), message);
}

int32_t hostNodeOperation(steward_call* call, const char* operationJson) {
  if (call == nullptr || operationJson == nullptr) return STEWARD_ERROR;
  if (!call->operation) {
    hostError(call, "node operations are not available to this call");
    return STEWARD_ERROR;
  }
  Result<std::string> result = Error{"operation failed"};
  try {
    result = call->operation(operationJson);
  } catch (const std::exception& e) {
    result = Error{std::string("operation failed: ") + e.what()};
  }
  if (!result) {
    hostError(call, result.error().message.c_str());
    return STEWARD_ERROR;
  }
  hostOutput(call, result->data(), result->size());
  return STEWARD_OK;
}

int32_t hostEmit(steward_call* call) {
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

const steward_host_api kHostApi = {sizeof(steward_host_api), hostOutput, hostError,
                                   hostIsCancelled, hostLog, hostNodeOperation, hostEmit};

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

Status checkDescriptor(const steward_plugin* d) {
  if (d == nullptr) return Error{"entry symbol returned no descriptor"};
  if (d->abi_major != STEWARD_ABI_VERSION_MAJOR) {
    return Error{"built for plugin ABI " + std::to_string(d->abi_major) + "." +
                 std::to_string(d->abi_minor) + ", this steward speaks ABI " +
                 std::to_string(STEWARD_ABI_VERSION_MAJOR) + ".x"};
  }
  if (d->struct_size < sizeof(steward_plugin)) return Error{"descriptor is too small"};
  if (d->name == nullptr || d->version == nullptr) return Error{"descriptor has no name/version"};
  if (d->create == nullptr || d->handle == nullptr || d->destroy == nullptr) {
    return Error{"descriptor lacks create, handle or destroy"};
  }
  if (d->methods == nullptr || d->method_count == 0) return Error{"plugin serves no method"};
  for (size_t i = 0; i < d->method_count; ++i) {
    const char* name = d->methods[i].name;
    if (name == nullptr) return Error{"method " + std::to_string(i) + " has no name"};
    if (auto s = message::checkMethodName(name); !s) return s;
  }
  return {};
}

}  // namespace

MethodInstance::MethodInstance(std::shared_ptr<Library> library, message::MethodInfo method,
                               std::unique_ptr<Context> context, void* instance)
    : library_(std::move(library)),
      method_(std::move(method)),
      context_(std::move(context)),
      instance_(instance) {}

MethodInstance::~MethodInstance() { library_->descriptor().destroy(instance_); }

bool MethodInstance::handle(const steward_request& request, steward_call& call) {
  return library_->descriptor().handle(instance_, &request, &call) == STEWARD_OK;
}

void MethodInstance::cancel(steward_call& call) {
  call.cancelled = true;
  if (auto fn = library_->descriptor().cancel) fn(instance_, &call);
}

PluginHost::PluginHost(fs::path folder, PluginLog log)
    : folder_(std::move(folder)), log_(std::move(log)) {}

PluginHost::~PluginHost() = default;

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
  auto fail = [&](const std::string& why) { return Error{"plugin " + file.string() + ": " + why}; };
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
    const std::string name = descriptor->methods[i].name;
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
  record.info = PluginInfo{descriptor->name, descriptor->version, file, {}, true};
  for (size_t i = 0; i < descriptor->method_count; ++i) {
    const steward_method_desc& m = descriptor->methods[i];
    message::MethodInfo info;
    info.name = m.name;
    info.kind = message::makeKind(m.kind == STEWARD_KIND_EVENT, m.ack != 0);
    info.ordered = m.ordered != 0;
    info.replyMethod = m.reply_method != 0;
    info.plugin = descriptor->name;
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

Result<std::unique_ptr<MethodInstance>> PluginHost::instantiate(const std::string& method) {
  std::shared_ptr<Library> library;
  message::MethodInfo info;
  {
    std::lock_guard lock(mutex_);
    auto it = fileOf_.find(method);
    if (it == fileOf_.end()) return Error{"no plugin serves method " + method};
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
  }
  auto context = std::make_unique<MethodInstance::Context>();
  context->log = log_;
  context->pluginName = library->descriptor().name;
  char error[512] = {0};
  void* instance =
      library->descriptor().create(&kHostApi, context.get(), method.c_str(), error, sizeof error);
  if (instance == nullptr) {
    return Error{"plugin " + library->file().string() + " could not create " + method + ": " +
                 (error[0] != '\0' ? std::string(error) : std::string("no reason given"))};
  }
  return std::unique_ptr<MethodInstance>(
      new MethodInstance(std::move(library), std::move(info), std::move(context), instance));
}

}  // namespace steward::plugin
