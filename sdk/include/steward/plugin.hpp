// steward SDK: a header-only C++ layer over plugin_abi.h.
//
// A plugin is a class with a constructor taking (steward::sdk::Host, std::string_view method) and
// a member `steward::sdk::Status handle(const steward::sdk::Request&, steward::sdk::Call&)`;
// optionally `void cancel(steward::sdk::Call&)`. STEWARD_PLUGIN exports it:
//
//   class Echo {
//    public:
//     Echo(steward::sdk::Host host, std::string_view method) : host_(host) {}
//     steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call& call) {
//       for (auto d : req.data()) call.output(d);
//       return steward::sdk::Status::ok();
//     }
//    private:
//     steward::sdk::Host host_;
//   };
//   STEWARD_PLUGIN(Echo, "echo", "1.0.0", steward::sdk::command("REQEcho"))
//
// Exceptions never cross into the host: the adapter turns them into a failed call (handle) or a
// failed create with the exception's text.
#pragma once

#include <steward/plugin_abi.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steward::sdk {

enum class Delivery { ack, nack };
enum class Order { sequenced, concurrent };

// Describes a command method. Names starting with "REQn" are concurrent by convention; pass the
// order explicitly so the descriptor says it.
constexpr steward_method_desc command(const char* name, Delivery delivery = Delivery::ack,
                                      Order order = Order::sequenced) {
  return steward_method_desc{name, STEWARD_KIND_COMMAND, delivery == Delivery::ack ? 1 : 0,
                             order == Order::sequenced ? 1 : 0, 0};
}

// Describes an event method (something happened, e.g. hello).
constexpr steward_method_desc event(const char* name, Delivery delivery = Delivery::ack,
                                    Order order = Order::sequenced) {
  return steward_method_desc{name, STEWARD_KIND_EVENT, delivery == Delivery::ack ? 1 : 0,
                             order == Order::sequenced ? 1 : 0, 0};
}

// Describes a reply method: it consumes the output of other methods and never replies itself.
constexpr steward_method_desc replyMethod(const char* name) {
  return steward_method_desc{name, STEWARD_KIND_COMMAND, 1, 1, 1};
}

// Outcome of a handler: ok, or an error with a text that goes to central's error log.
class Status {
 public:
  static Status ok() { return Status{}; }
  static Status error(std::string message) { return Status{std::move(message)}; }
  // Failed, with the reason already given through Call::error.
  static Status failed() { return Status{std::string()}; }
  bool isOk() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  Status() = default;
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

// Read-only view of the message being handled. Valid only during `handle`.
class Request {
 public:
  explicit Request(const steward_request* r) : r_(r) {
    data_.reserve(r->data_count);
    for (size_t i = 0; i < r->data_count; ++i) data_.emplace_back(r->data[i], r->data_len[i]);
  }
  uint64_t id() const { return r_->id; }
  std::string_view fromNode() const { return r_->from_node; }
  std::string_view toNode() const { return r_->to_node; }
  std::string_view method() const { return r_->method; }
  const std::vector<std::string_view>& data() const { return data_; }
  std::string_view directory() const { return r_->directory; }
  std::string_view fileName() const { return r_->file_name; }
  std::string_view operationJson() const { return r_->operation_json; }
  std::string_view nodeName() const { return r_->node_name; }
  std::string_view dataFolder() const { return r_->data_folder; }
  std::string_view outputPath() const { return r_->output_path; }
  uint64_t requestId() const { return r_->request_id; }
  std::string_view requestMethod() const { return r_->request_method; }
  std::string_view requestError() const { return r_->request_error; }
  std::chrono::system_clock::time_point deadline() const {
    return std::chrono::system_clock::time_point{std::chrono::milliseconds{r_->deadline_unix_ms}};
  }
  const steward_request* raw() const { return r_; }

 private:
  const steward_request* r_;
  std::vector<std::string_view> data_;
};

// The running call: where output and errors go. Valid only during `handle`.
class Call {
 public:
  Call(const steward_host_api* api, steward_call* call) : api_(api), call_(call) {}
  void output(std::string_view bytes) { api_->output(call_, bytes.data(), bytes.size()); }
  void error(const std::string& message) { api_->error(call_, message.c_str()); }
  bool cancelled() const { return api_->is_cancelled(call_) != 0; }
  // Sends the output so far as a reply now (ABI 1.1); false when the host cannot.
  bool emit() {
    if (api_->struct_size < offsetof(steward_host_api, emit) + sizeof(void*) ||
        api_->emit == nullptr) {
      return false;
    }
    return api_->emit(call_) == STEWARD_OK;
  }
  // Runs a node operation (REQOpCommand); false, with the call's error set, when it failed or
  // the host is older than ABI 1.1.
  bool nodeOperation(const std::string& operationJson) {
    if (api_->struct_size < offsetof(steward_host_api, node_operation) + sizeof(void*) ||
        api_->node_operation == nullptr) {
      error("this steward host does not offer node operations (plugin ABI 1.1)");
      return false;
    }
    return api_->node_operation(call_, operationJson.c_str()) == STEWARD_OK;
  }
  steward_call* raw() const { return call_; }

 private:
  const steward_host_api* api_;
  steward_call* call_;
};

// The host's services that outlive a call (logging). Copyable; valid until the instance dies.
class Host {
 public:
  Host(const steward_host_api* api, void* context) : api_(api), context_(context) {}
  void log(steward_log_level level, const std::string& message) const {
    api_->log(context_, level, message.c_str());
  }
  void info(const std::string& message) const { log(STEWARD_LOG_INFO, message); }
  void warning(const std::string& message) const { log(STEWARD_LOG_WARNING, message); }
  const steward_host_api* api() const { return api_; }

 private:
  const steward_host_api* api_;
  void* context_;
};

namespace detail {

inline void copyError(const char* what, char* out, size_t len) {
  if (out == nullptr || len == 0) return;
  std::strncpy(out, what, len - 1);
  out[len - 1] = '\0';
}

// Trampolines between the C ABI and a plugin class. No statics: nothing here may become a
// GNU unique symbol that would pin the library in memory.
template <class Plugin>
struct Adapter {
  struct Instance {
    const steward_host_api* api;
    Plugin plugin;
  };

  static void* create(const steward_host_api* host, void* context, const char* method,
                      char* error_out, size_t error_len) noexcept {
    try {
      return new Instance{host, Plugin(Host(host, context), std::string_view(method))};
    } catch (const std::exception& e) {
      copyError(e.what(), error_out, error_len);
    } catch (...) {
      copyError("unknown exception in plugin constructor", error_out, error_len);
    }
    return nullptr;
  }

  static int32_t handle(void* instance, const steward_request* request,
                        steward_call* call) noexcept {
    auto* self = static_cast<Instance*>(instance);
    Call c(self->api, call);
    try {
      Status s = self->plugin.handle(Request(request), c);
      if (s.isOk()) return STEWARD_OK;
      if (!s.message().empty()) c.error(s.message());
    } catch (const std::exception& e) {
      c.error(std::string("handler threw: ") + e.what());
    } catch (...) {
      c.error("handler threw an unknown exception");
    }
    return STEWARD_ERROR;
  }

  static void cancel(void* instance, steward_call* call) noexcept {
    auto* self = static_cast<Instance*>(instance);
    if constexpr (requires(Plugin& p, Call& c) { p.cancel(c); }) {
      Call c(self->api, call);
      try {
        self->plugin.cancel(c);
      } catch (...) {
        // cancel is best effort; is_cancelled still tells the handler.
      }
    }
  }

  static void destroy(void* instance) noexcept { delete static_cast<Instance*>(instance); }
};

template <class Plugin>
constexpr steward_plugin describe(const char* name, const char* version,
                                  const steward_method_desc* methods, size_t count) {
  return steward_plugin{STEWARD_ABI_VERSION_MAJOR,     STEWARD_ABI_VERSION_MINOR,
                        sizeof(steward_plugin),        name,
                        version,                       methods,
                        count,                         &Adapter<Plugin>::create,
                        &Adapter<Plugin>::handle,      &Adapter<Plugin>::cancel,
                        &Adapter<Plugin>::destroy};
}

}  // namespace detail
}  // namespace steward::sdk

// Exports `Class` as a plugin named `Name` at `Version`, serving the methods listed after them
// (steward::sdk::command/event/replyMethod descriptors).
#define STEWARD_PLUGIN(Class, Name, Version, ...)                                               \
  extern "C" __attribute__((visibility("default"))) const steward_plugin* steward_plugin_entry( \
      void) {                                                                                   \
    static constexpr steward_method_desc methods[] = {__VA_ARGS__};                             \
    static constexpr steward_plugin plugin = steward::sdk::detail::describe<Class>(             \
        Name, Version, methods, sizeof(methods) / sizeof(methods[0]));                          \
    return &plugin;                                                                             \
  }
