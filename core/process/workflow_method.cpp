#include "core/process/workflow_method.hpp"

#include "core/util/clock.hpp"
#include "core/util/json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace steward::process {
namespace {

// The most of one step's output the report keeps (the reply is cut to the broker's limit anyway).
constexpr size_t kMaxStepOutput = 64 * 1024;

message::Message stepMessage(const message::Message& workflow, const message::WorkflowCall& c) {
  message::Message step;
  step.id = workflow.id;
  step.fromNode = workflow.fromNode;
  step.toNode = workflow.toNode;
  step.createdUnixMs = workflow.createdUnixMs;
  step.method = c.method;
  step.data = c.data;
  step.methodTimeout = c.methodTimeout;
  step.directory = workflow.directory;
  step.fileName = workflow.fileName;
  return step;
}

std::string describe(size_t index, const std::string& method) {
  return "step " + std::to_string(index + 1) + " (" + method + ")";
}

}  // namespace

WorkflowMethod::WorkflowMethod(message::MethodInfo info, StepHandlers handlers)
    : info_(std::move(info)), handlers_(std::move(handlers)) {}

void WorkflowMethod::cancel(steward_host_call& call) {
  call.cancelled = true;
  std::lock_guard lock(mutex_);
  stopping_ = true;
  if (current_ != nullptr && currentCall_ != nullptr) current_->cancel(*currentCall_);
  changed_.notify_all();
}

WorkflowMethod::Outcome WorkflowMethod::run(const message::Message& workflow, const message::WorkflowCall& c,
                                            MethodHandler& handler, const plugin::CallContext& context,
                                            int64_t deadlineUnixMs, steward_host_call& parent,
                                            bool stopWithWorkflow) {
  Outcome outcome;
  outcome.method = c.method;
  if (stopWithWorkflow && parent.cancelled) {
    outcome.error = "not run: the workflow was cancelled";
    return outcome;
  }
  const message::Message step = stepMessage(workflow, c);
  plugin::CallContext stepContext = context;
  stepContext.deadlineUnixMs = deadlineUnixMs;
  steward_host_call call;
  std::string emitted;  // a streaming method's output comes here, not as replies of its own
  call.emit = [&call, &emitted](std::string output) {
    std::lock_guard lock(call.mutex);
    emitted += output;
    return Status{};
  };
  bool done = false;
  // Ends the step at its deadline, or when the workflow is cancelled.
  std::thread watch([&] {
    std::unique_lock lock(mutex_);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max<int64_t>(0, deadlineUnixMs - nowUnixMs()));
    changed_.wait_until(lock, until, [&] { return done || (stopWithWorkflow && stopping_); });
    if (!done) handler.cancel(call);
  });
  {
    std::lock_guard lock(mutex_);
    current_ = stopWithWorkflow ? &handler : nullptr;
    currentCall_ = stopWithWorkflow ? &call : nullptr;
  }
  bool ok = false;
  try {
    ok = handler.handle(step, stepContext, call);
  } catch (const std::exception& e) {
    std::lock_guard lock(call.mutex);
    call.error = std::string("it threw: ") + e.what();
  }
  {
    std::lock_guard lock(mutex_);
    done = true;
    current_ = nullptr;
    currentCall_ = nullptr;
    changed_.notify_all();
  }
  watch.join();
  std::lock_guard lock(call.mutex);
  outcome.output = emitted + call.output;
  if (outcome.output.size() > kMaxStepOutput) {
    outcome.output.resize(kMaxStepOutput);
    outcome.output += "\n[steward: step output cut at " + std::to_string(kMaxStepOutput) + " bytes]\n";
  }
  outcome.ok = ok && call.error.empty() && !call.cancelled;
  outcome.error = call.error;
  if (!outcome.ok && outcome.error.empty()) {
    outcome.error = call.cancelled ? (nowUnixMs() >= deadlineUnixMs ? "its methodTimeout was reached" : "cancelled")
                                   : "failed";
  }
  return outcome;
}

bool WorkflowMethod::handle(const message::Message& m, const plugin::CallContext& context, steward_host_call& call) {
  auto fail = [&](const std::string& why) {
    std::lock_guard lock(call.mutex);
    call.error = why;
    return false;
  };
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  if (m.workflow.empty()) return fail("REQWorkflow needs a \"workflow\" object with its steps");
  auto workflow = message::parseWorkflow(m.workflow);
  if (!workflow) return fail("workflow: " + workflow.error().message);
  const auto& steps = workflow->steps;

  // Every step and rollback is allowed, or nothing runs.
  std::vector<std::unique_ptr<MethodHandler>> handlers(steps.size());
  std::vector<std::unique_ptr<MethodHandler>> rollbacks(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    auto handler = handlers_(stepMessage(m, steps[i].call));
    if (!handler) return fail(describe(i, steps[i].call.method) + ": " + handler.error().message + "; nothing ran");
    handlers[i] = std::move(handler).value();
    if (!steps[i].rollback) continue;
    auto rollback = handlers_(stepMessage(m, *steps[i].rollback));
    if (!rollback) {
      return fail(describe(i, steps[i].call.method) + ", its rollback (" + steps[i].rollback->method +
                  "): " + rollback.error().message + "; nothing ran");
    }
    rollbacks[i] = std::move(rollback).value();
  }

  std::vector<Outcome> done;
  size_t failed = steps.size();
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& c = steps[i].call;
    int64_t deadline = context.deadlineUnixMs;
    if (c.methodTimeout) deadline = std::min(deadline, nowUnixMs() + *c.methodTimeout * 1000);
    done.push_back(run(m, c, *handlers[i], context, deadline, call, true));
    if (!done.back().ok) {
      failed = i;
      break;
    }
  }
  std::vector<std::pair<size_t, Outcome>> undone;  // rollbacks run, by step
  if (failed < steps.size()) {
    for (size_t j = failed; j-- > 0;) {
      if (!steps[j].rollback) continue;
      const auto& r = *steps[j].rollback;
      const int64_t deadline = nowUnixMs() + r.methodTimeout.value_or(kRollbackSeconds) * 1000;
      undone.emplace_back(j, run(m, r, *rollbacks[j], context, deadline, call, false));
    }
  }

  // The report: every step's outcome, those not run, and the rollbacks.
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  auto outcome = [&](size_t index, const Outcome& o) {
    w.StartObject();
    w.Key("step");
    w.Uint64(index + 1);
    str("method", o.method);
    str("state", o.ok ? "ok" : "failed");
    str("output", o.output);
    if (!o.ok) str("error", o.error);
    w.EndObject();
  };
  w.StartObject();
  w.Key("ok");
  w.Bool(failed == steps.size());
  w.Key("steps");
  w.StartArray();
  for (size_t i = 0; i < steps.size(); ++i) {
    if (i < done.size()) {
      outcome(i, done[i]);
      continue;
    }
    w.StartObject();
    w.Key("step");
    w.Uint64(i + 1);
    str("method", steps[i].call.method);
    str("state", "not run");
    w.EndObject();
  }
  w.EndArray();
  w.Key("rollback");
  w.StartArray();
  for (const auto& [index, o] : undone) outcome(index, o);
  w.EndArray();
  w.EndObject();
  std::lock_guard lock(call.mutex);
  call.output += std::string(buffer.GetString(), buffer.GetSize()) + "\n";
  if (failed == steps.size()) return true;
  std::string stepError = done[failed].error;
  while (!stepError.empty() && stepError.back() == '\n') stepError.pop_back();
  std::string why = describe(failed, steps[failed].call.method) + " failed: " + stepError;
  if (undone.empty()) {
    why += "; nothing to roll back";
  } else {
    bool allUndone = true;
    std::string which;
    for (const auto& [index, o] : undone) {
      which += (which.empty() ? "" : ", ") + std::to_string(index + 1);
      allUndone = allUndone && o.ok;
    }
    why += "; rolled back step" + std::string(undone.size() > 1 ? "s " : " ") + which +
           (allUndone ? "" : " (a rollback failed too: see the report)");
  }
  call.error = why;
  return false;
}

}  // namespace steward::process
