// steward SDK: a header-only C++ layer over plugin_abi.h.
//
// A plugin is a class with a constructor taking (steward::sdk::Host, std::string_view method) and
// a member `steward::sdk::Status handle(const steward::sdk::Request&, steward::sdk::Call&)`;
// optionally `void cancel(steward::sdk::Call&)`. Its configuration (the [plugins.<name>] table of
// config.toml, as JSON) is host.config(). STEWARD_PLUGIN exports it:
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
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steward::sdk {

enum class Delivery { ack, nack };
enum class Order { sequenced, concurrent };
// What a command's data is: plain values, or a command line the ACL's command patterns apply to.
enum class Data { plain, commandLine };

// A string view of a steward_str (empty when it has no bytes or no pointer), and back. The host
// uses them too, on what plugins hand it.
inline std::string_view view(steward_str s) {
  return s.len == 0 || s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}
constexpr steward_str str(std::string_view s) { return steward_str{s.data(), s.size()}; }

namespace detail {
constexpr steward_method_desc method(const char* name, uint32_t flags) {
  return steward_method_desc{sizeof(steward_method_desc), str(name), flags, 0, {0, 0}};
}
constexpr uint32_t flags(Delivery delivery, Order order) {
  return (delivery == Delivery::nack ? STEWARD_METHOD_NO_ACK : 0u) |
         (order == Order::concurrent ? STEWARD_METHOD_CONCURRENT : 0u);
}
}  // namespace detail

// Describes a command method. Names starting with "REQn" are concurrent by convention; pass the
// order explicitly so the descriptor says it.
constexpr steward_method_desc command(const char* name, Delivery delivery = Delivery::ack,
                                      Order order = Order::sequenced, Data data = Data::plain) {
  return detail::method(name, detail::flags(delivery, order) |
                                  (data == Data::commandLine ? STEWARD_METHOD_COMMAND_DATA : 0u));
}

// Describes an event method (something happened, e.g. hello).
constexpr steward_method_desc event(const char* name, Delivery delivery = Delivery::ack,
                                    Order order = Order::sequenced) {
  return detail::method(name, STEWARD_METHOD_EVENT | detail::flags(delivery, order));
}

// Describes a reply method: it consumes the output of other methods and never replies itself.
constexpr steward_method_desc replyMethod(const char* name) {
  return detail::method(name, STEWARD_METHOD_REPLY);
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
    for (size_t i = 0; i < r->data_count; ++i) data_.push_back(view(r->data[i]));
  }
  uint64_t id() const { return r_->id; }
  std::string_view fromNode() const { return view(r_->from_node); }
  std::string_view toNode() const { return view(r_->to_node); }
  std::string_view method() const { return view(r_->method); }
  const std::vector<std::string_view>& data() const { return data_; }
  std::string_view directory() const { return view(r_->directory); }
  std::string_view fileName() const { return view(r_->file_name); }
  std::string_view operationJson() const { return view(r_->operation_json); }
  std::string_view nodeName() const { return view(r_->node_name); }
  std::string_view dataFolder() const { return view(r_->data_folder); }
  std::string_view outputPath() const { return view(r_->output_path); }
  uint64_t requestId() const { return r_->request_id; }
  std::string_view requestMethod() const { return view(r_->request_method); }
  std::string_view requestError() const { return view(r_->request_error); }
  // For a reply: the request's replyOpts as a JSON object text; empty when none, or when the host
  // is older than ABI 2.2.
  std::string_view replyOptionsJson() const {
    if (r_->struct_size < offsetof(steward_request, reply_options_json) + sizeof(steward_str)) return {};
    return view(r_->reply_options_json);
  }
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
  Call(const steward_host_api* api, steward_host_call* call) : api_(api), call_(call) {}
  void output(std::string_view bytes) { api_->output(call_, str(bytes)); }
  void error(std::string_view message) { api_->error(call_, str(message)); }
  bool cancelled() const { return api_->is_cancelled(call_) != 0; }
  // Sends the output so far as a reply now; false when the host cannot queue it.
  bool emit() { return api_->emit(call_) == STEWARD_OK; }
  // Sets a named part of the final reply besides the output (ABI 2.1; false on a 2.0 host, or a
  // bad name).
  bool result(std::string_view name, std::string_view value) {
    if (api_->struct_size < offsetof(steward_host_api, set_result) + sizeof(api_->set_result)) return false;
    return api_->set_result(call_, str(name), str(value)) == STEWARD_OK;
  }
  steward_host_call* raw() const { return call_; }

 private:
  const steward_host_api* api_;
  steward_host_call* call_;
};

// The host's services that outlive a call (logging, the plugin's configuration). Copyable; valid
// until the instance dies.
class Host {
 public:
  Host(const steward_host_api* api, steward_host_instance* instance, std::string_view config = "{}")
      : api_(api), instance_(instance), config_(config) {}
  void log(steward_log_level level, std::string_view message) const {
    api_->log(instance_, level, str(message));
  }
  void info(std::string_view message) const { log(STEWARD_LOG_INFO, message); }
  void warning(std::string_view message) const { log(STEWARD_LOG_WARNING, message); }
  // The [plugins.<name>] table of config.toml as a JSON object; "{}" when there is none. Only
  // valid during the plugin's constructor: keep what you need of it.
  std::string_view config() const { return config_; }
  const steward_host_api* api() const { return api_; }

 private:
  const steward_host_api* api_;
  steward_host_instance* instance_;
  std::string_view config_;
};

namespace detail {

// Trampolines between the C ABI and a plugin class. No statics: nothing here may become a
// GNU unique symbol that would pin the library in memory.
template <class Plugin>
struct Adapter {
  struct Instance {
    const steward_host_api* api;
    Plugin plugin;
  };
  static Instance* self(steward_plugin_instance* instance) { return reinterpret_cast<Instance*>(instance); }

  static int32_t create(const steward_host_api* host, steward_host_instance* hostInstance,
                        steward_str method, steward_str config,
                        steward_plugin_instance** out) noexcept {
    try {
      auto* made = new Instance{host, Plugin(Host(host, hostInstance, view(config)), view(method))};
      *out = reinterpret_cast<steward_plugin_instance*>(made);
      return STEWARD_OK;
    } catch (const std::exception& e) {
      host->instance_error(hostInstance, str(e.what()));
    } catch (...) {
      host->instance_error(hostInstance, str("unknown exception in plugin constructor"));
    }
    return STEWARD_ERROR;
  }

  static int32_t handle(steward_plugin_instance* instance, const steward_request* request,
                        steward_host_call* call) noexcept {
    Call c(self(instance)->api, call);
    try {
      Status s = self(instance)->plugin.handle(Request(request), c);
      if (s.isOk()) return STEWARD_OK;
      if (!s.message().empty()) c.error(s.message());
    } catch (const std::exception& e) {
      c.error(std::string("handler threw: ") + e.what());
    } catch (...) {
      c.error("handler threw an unknown exception");
    }
    return STEWARD_ERROR;
  }

  static void cancel(steward_plugin_instance* instance, steward_host_call* call) noexcept {
    if constexpr (requires(Plugin& p, Call& c) { p.cancel(c); }) {
      Call c(self(instance)->api, call);
      try {
        self(instance)->plugin.cancel(c);
      } catch (...) {
        // cancel is best effort; is_cancelled still tells the handler.
      }
    }
  }

  static void destroy(steward_plugin_instance* instance) noexcept { delete self(instance); }
};

template <class Plugin>
constexpr steward_plugin describe(const char* name, const char* version,
                                  const steward_method_desc* const* methods, size_t count) {
  return steward_plugin{STEWARD_ABI_VERSION_MAJOR,
                        STEWARD_ABI_VERSION_MINOR,
                        sizeof(steward_plugin),
                        0,  // every host of ABI 2 has all this layer calls
                        0,
                        str(name),
                        str(version),
                        methods,
                        count,
                        &Adapter<Plugin>::create,
                        &Adapter<Plugin>::handle,
                        &Adapter<Plugin>::cancel,
                        &Adapter<Plugin>::destroy,
                        {nullptr, nullptr, nullptr, nullptr}};
}

// Pointers to each element of a descriptor array, as the ABI lists methods.
template <size_t N>
struct MethodList {
  constexpr explicit MethodList(const steward_method_desc (&methods)[N]) {
    for (size_t i = 0; i < N; ++i) pointers[i] = &methods[i];
  }
  const steward_method_desc* pointers[N]{};
};

}  // namespace detail
}  // namespace steward::sdk

// Exports `Class` as a plugin named `Name` at `Version`, serving the methods listed after them
// (steward::sdk::command/event/replyMethod descriptors).
#define STEWARD_PLUGIN(Class, Name, Version, ...)                                                  \
  extern "C" __attribute__((visibility("default"))) const steward_plugin* steward_plugin_entry(    \
      void) {                                                                                      \
    static constexpr steward_method_desc methods[] = {__VA_ARGS__};                                \
    static constexpr steward::sdk::detail::MethodList list(methods);                               \
    static constexpr steward_plugin plugin = steward::sdk::detail::describe<Class>(                \
        Name, Version, list.pointers, sizeof(methods) / sizeof(methods[0]));                       \
    return &plugin;                                                                                \
  }
