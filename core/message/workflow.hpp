// A workflow (the spec's TODO "workflow request type"): one REQWorkflow message carries ordered
// steps, each a method and its data, run on the receiving node one after the other; the first
// failure stops them, and the rollback steps of the steps that had succeeded run in reverse order.
// This is its shape, checked at input and again where it runs.
//
//   "workflow": {"steps": [
//     {"method": "REQCliCommand", "data": ["mkdir", "/srv/app.new"], "methodTimeout": 30,
//      "rollback": {"method": "REQCliCommand", "data": ["rm", "-rf", "/srv/app.new"]}},
//     {"method": "REQCliCommand", "data": ["systemctl", "restart", "app"]}
//   ]}
#pragma once

#include "core/message/message.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steward::message {

inline constexpr size_t kMaxWorkflowSteps = 32;

struct WorkflowCall {
  std::string method;
  std::vector<std::string> data;
  std::optional<int64_t> methodTimeout;  // seconds; the workflow's own deadline still bounds it
};

struct WorkflowStep {
  WorkflowCall call;
  std::optional<WorkflowCall> rollback;
};

struct Workflow {
  std::vector<WorkflowStep> steps;
};

// The workflow in `json` (the message's "workflow" object), every method checked against
// `methods` when given: known, and a command (not a reply method). Errors name the step:
// "steps[2].rollback.method: unknown method \"REQNoSuch\"".
Result<Workflow> parseWorkflow(std::string_view json, const MethodCatalog* methods = nullptr,
                               const Limits& limits = {});

}  // namespace steward::message
