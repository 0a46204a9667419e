#include "core/message/workflow.hpp"

#include "core/message/methods.hpp"
#include "core/util/json.hpp"

namespace steward::message {
namespace {

using rapidjson::Value;

Result<WorkflowCall> readCall(const Value& v, const std::string& where, const MethodCatalog* methods,
                              const Limits& limits) {
  if (!v.IsObject()) return Error{where + ": must be an object with method and data", Code::badField};
  WorkflowCall call;
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    const std::string_view key(it->name.GetString(), it->name.GetStringLength());
    const Value& value = it->value;
    if (key == "method") {
      if (!value.IsString()) return Error{where + ".method: must be a string", Code::badField};
      call.method.assign(value.GetString(), value.GetStringLength());
    } else if (key == "data") {
      if (!value.IsArray() || value.Size() > limits.maxDataItems) {
        return Error{where + ".data: must be an array of strings", Code::badField};
      }
      for (const auto& item : value.GetArray()) {
        if (!item.IsString()) return Error{where + ".data: must be an array of strings", Code::badField};
        call.data.emplace_back(item.GetString(), item.GetStringLength());
      }
    } else if (key == "methodTimeout") {
      if (!value.IsInt64() || value.GetInt64() < 1 || value.GetInt64() > limits.maxTimeoutSeconds) {
        return Error{where + ".methodTimeout: must be 1 to " + std::to_string(limits.maxTimeoutSeconds) + " seconds",
                     Code::badField};
      }
      call.methodTimeout = value.GetInt64();
    } else if (key != "rollback") {
      return Error{where + ": unknown key \"" + std::string(key) + "\"; a step takes method, data, methodTimeout, rollback",
                   Code::unknownField};
    }
  }
  if (auto s = checkMethodName(call.method, limits); !s) return Error{where + ".method: " + s.error().message, Code::badField};
  if (call.method == methods::kWorkflow || methods::servedByNode(call.method)) {
    return Error{where + ".method: " + call.method + " acts on the node itself; a workflow step cannot be it",
                 Code::badField};
  }
  if (methods != nullptr) {
    const auto info = methods->find(call.method);
    if (!info) return Error{where + ".method: unknown method \"" + call.method + "\"", Code::unknownMethod};
    if (info->replyMethod || info->kind == Kind::EventACK || info->kind == Kind::EventNACK) {
      return Error{where + ".method: " + call.method + " is not a command; a step runs a command", Code::badField};
    }
  }
  return call;
}

}  // namespace

Result<Workflow> parseWorkflow(std::string_view json, const MethodCatalog* methods, const Limits& limits) {
  auto doc = json::parse(json, "the workflow", {.maxBytes = limits.maxMessageBytes});
  if (!doc) return doc.error();
  const Value& root = doc.value();
  if (!root.IsObject() || !root.HasMember("steps") || !root["steps"].IsArray() || root.MemberCount() != 1) {
    return Error{"must be an object with one key, steps: an array of {method, data, rollback}", Code::badField};
  }
  const auto& steps = root["steps"];
  if (steps.Empty() || steps.Size() > kMaxWorkflowSteps) {
    return Error{"steps: 1 to " + std::to_string(kMaxWorkflowSteps) + " steps", Code::badField};
  }
  Workflow workflow;
  for (rapidjson::SizeType i = 0; i < steps.Size(); ++i) {
    const std::string where = "steps[" + std::to_string(i) + "]";
    auto call = readCall(steps[i], where, methods, limits);
    if (!call) return call.error();
    WorkflowStep step{std::move(call).value(), std::nullopt};
    if (steps[i].HasMember("rollback")) {
      auto rollback = readCall(steps[i]["rollback"], where + ".rollback", methods, limits);
      if (!rollback) return rollback.error();
      if (steps[i]["rollback"].HasMember("rollback")) {
        return Error{where + ".rollback: a rollback has no rollback of its own", Code::badField};
      }
      step.rollback = std::move(rollback).value();
    }
    workflow.steps.push_back(std::move(step));
  }
  return workflow;
}

}  // namespace steward::message
