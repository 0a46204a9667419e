// REQWorkflow, served by the node itself: runs a workflow's steps (message/workflow.hpp) one after
// the other through the handlers of the methods they name; the first failure stops them, and the
// rollbacks of the steps that had succeeded run in reverse order. One reply reports every step.
//
// A step is what its sender could have sent as a message of its own, no more: before anything
// runs, every step and rollback must name a method started on this node for that sender, and pass
// the ACL with its data; otherwise nothing runs and the workflow fails saying which step and why.
#pragma once

#include "core/message/workflow.hpp"
#include "core/process/method_handler.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace steward::process {

// The handler that runs `step` (a message of the workflow's sender), if that sender may call its
// method with its data here.
using StepHandlers = std::function<Result<std::unique_ptr<MethodHandler>>(const message::Message& step)>;

class WorkflowMethod final : public MethodHandler {
 public:
  // The time a rollback gets when it names none: it runs after the workflow's own time is up too.
  static constexpr int64_t kRollbackSeconds = 60;

  WorkflowMethod(message::MethodInfo info, StepHandlers handlers);

  const message::MethodInfo& method() const override { return info_; }
  bool handle(const message::Message& m, const plugin::CallContext& context, steward_host_call& call) override;
  void cancel(steward_host_call& call) override;

 private:
  struct Outcome {
    std::string method;
    bool ok = false;
    std::string output;
    std::string error;
  };
  // Runs one call with `handler` until it ends, `deadlineUnixMs` passes, or the workflow is
  // cancelled (`stopWithWorkflow`; a rollback is not stopped by it).
  Outcome run(const message::Message& workflow, const message::WorkflowCall& c, MethodHandler& handler,
              const plugin::CallContext& context, int64_t deadlineUnixMs, steward_host_call& parent,
              bool stopWithWorkflow);

  const message::MethodInfo info_;
  const StepHandlers handlers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  MethodHandler* current_ = nullptr;      // the step running now, and its call
  steward_host_call* currentCall_ = nullptr;
  bool stopping_ = false;                 // the workflow was cancelled
};

}  // namespace steward::process
