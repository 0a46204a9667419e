// What a subscriber runs its messages with: a plugin's instance (PluginMethod, through the C ABI)
// or one of the node's own methods (process/own_methods.hpp). The subscriber neither knows nor
// cares which.
#pragma once

#include "core/message/message.hpp"
#include "core/plugin/host.hpp"
#include "core/plugin/request.hpp"

#include <memory>

namespace steward::process {

class MethodHandler {
 public:
  virtual ~MethodHandler() = default;

  virtual const message::MethodInfo& method() const = 0;
  // Runs `message` on the calling thread (blocking). Output, errors and partial output go to
  // `call`; false when the run failed.
  virtual bool handle(const message::Message& message, const plugin::CallContext& context,
                      steward_host_call& call) = 0;
  // Asks a running handle to stop. Sets call.cancelled, which own methods poll.
  virtual void cancel(steward_host_call& call) = 0;
};

// A plugin's instance serving one method.
class PluginMethod final : public MethodHandler {
 public:
  explicit PluginMethod(std::unique_ptr<plugin::MethodInstance> instance)
      : instance_(std::move(instance)) {}

  const message::MethodInfo& method() const override { return instance_->method(); }
  bool handle(const message::Message& message, const plugin::CallContext& context,
              steward_host_call& call) override {
    const plugin::PreparedRequest request(message, context);
    return instance_->handle(request.get(), call);
  }
  void cancel(steward_host_call& call) override { instance_->cancel(call); }

 private:
  std::unique_ptr<plugin::MethodInstance> instance_;
};

}  // namespace steward::process
