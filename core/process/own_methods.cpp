#include "core/process/own_methods.hpp"

#include "core/message/methods.hpp"

#include <mutex>

namespace steward::process {
namespace {

message::MethodInfo ownCommand(std::string_view name) {
  message::MethodInfo info;
  info.name = name;
  info.kind = message::Kind::CommandACK;
  info.ordered = true;
  info.plugin = "steward";
  return info;
}

// An own method: a function from the message to its reply text, run on the handler thread.
class OwnMethod final : public MethodHandler {
 public:
  using Run = std::function<Result<std::string>(const message::Message&)>;

  OwnMethod(message::MethodInfo info, Run run) : info_(std::move(info)), run_(std::move(run)) {}

  const message::MethodInfo& method() const override { return info_; }
  bool handle(const message::Message& m, const plugin::CallContext&,
              steward_host_call& call) override {
    Result<std::string> result = Error{"failed"};
    try {
      result = run_(m);
    } catch (const std::exception& e) {
      result = Error{m.method + " failed: " + e.what()};
    }
    std::lock_guard lock(call.mutex);
    if (!result) {
      call.error = result.error().message;
      return false;
    }
    call.output += result.value();
    return true;
  }
  // The operations end on their own (each waits a bounded time).
  void cancel(steward_host_call& call) override { call.cancelled = true; }

 private:
  message::MethodInfo info_;
  Run run_;
};

}  // namespace

void addOwnMethods(Catalog& catalog, NodeOperations& operations, TrustKeeper& keys) {
  const auto opCommand = ownCommand(message::methods::kOpCommand);
  catalog.addOwn(opCommand, [opCommand, &operations] {
    return std::make_unique<OwnMethod>(opCommand, [&operations](const message::Message& m) -> Result<std::string> {
      if (m.operation.empty()) {
        return Error{"REQOpCommand needs an \"operation\" object with opCmd", Code::badField};
      }
      return operations.run(m.operation);
    });
  });
  const auto keysUpdate = ownCommand(message::methods::kKeysUpdate);
  catalog.addOwn(keysUpdate, [keysUpdate, &keys] {
    return std::make_unique<OwnMethod>(keysUpdate, [&keys](const message::Message& m) -> Result<std::string> {
      return keys.applyUpdate(m.data);
    });
  });
}

}  // namespace steward::process
