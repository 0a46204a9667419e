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

  // `moreFollows`: a success's reply is not the last (the node sends the rest itself).
  OwnMethod(message::MethodInfo info, Run run, bool moreFollows = false)
      : info_(std::move(info)), run_(std::move(run)), moreFollows_(moreFollows) {}

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
    call.more = moreFollows_;
    return true;
  }
  // The operations end on their own (each waits a bounded time).
  void cancel(steward_host_call& call) override { call.cancelled = true; }

 private:
  message::MethodInfo info_;
  Run run_;
  bool moreFollows_;
};

// REQCopyDst: a chunk's answer names its copy even when the chunk could not be written, so the
// sender can tell which copy failed.
class CopyDstMethod final : public MethodHandler {
 public:
  CopyDstMethod(message::MethodInfo info, CopyWriter& writer) : info_(std::move(info)), writer_(writer) {}
  const message::MethodInfo& method() const override { return info_; }
  bool handle(const message::Message& m, const plugin::CallContext&, steward_host_call& call) override {
    auto answer = writer_.write(m.fromNode, m.data);
    std::lock_guard lock(call.mutex);
    call.output += answer.json;
    call.error = answer.error;
    return answer.error.empty();
  }
  void cancel(steward_host_call& call) override { call.cancelled = true; }

 private:
  message::MethodInfo info_;
  CopyWriter& writer_;
};

// Makes `info` known to `catalog`, each subscriber getting an OwnMethod running `run`.
void addOwn(Catalog& catalog, const message::MethodInfo& info, OwnMethod::Run run, bool moreFollows = false) {
  catalog.addOwn(info, [info, run = std::move(run), moreFollows] {
    return std::make_unique<OwnMethod>(info, run, moreFollows);
  });
}
void addOwn(Catalog& catalog, std::string_view method, OwnMethod::Run run) {
  addOwn(catalog, ownCommand(method), std::move(run));
}

}  // namespace

void addOwnMethods(Catalog& catalog, OwnParts parts) {
  namespace methods = message::methods;
  addOwn(catalog, methods::kOpCommand, [&operations = parts.operations](const message::Message& m) -> Result<std::string> {
    if (m.operation.empty()) {
      return Error{"REQOpCommand needs an \"operation\" object with opCmd", Code::badField};
    }
    return operations.run(m.operation);
  });
  addOwn(catalog, methods::kKeysUpdate, [&keys = parts.keys](const message::Message& m) -> Result<std::string> {
    return keys.applyUpdate(m.data);
  });
  const auto workflow = ownCommand(methods::kWorkflow);
  catalog.addOwn(workflow, [workflow, steps = parts.stepHandlers] {
    return std::make_unique<WorkflowMethod>(workflow, steps);
  });
  addOwn(
      catalog, ownCommand(methods::kCopySrc), [&copier = parts.copier](const message::Message& m) { return copier.start(m); },
      true);
  auto copyDst = ownCommand(methods::kCopyDst);
  copyDst.rerunnable = true;
  catalog.addOwn(copyDst, [copyDst, &writer = parts.copyWriter] { return std::make_unique<CopyDstMethod>(copyDst, writer); });
  auto copyResult = ownCommand(methods::kCopyResult);
  copyResult.replyMethod = true;
  addOwn(catalog, copyResult, [&copier = parts.copier](const message::Message& m) { return copier.answered(m); });
  addOwn(catalog, methods::kStartupFolderList, [&startup = parts.startup](const message::Message&) {
    return startup.list();
  });
  addOwn(catalog, methods::kStartupFolderWrite,
         [&startup = parts.startup, check = parts.checkInput](const message::Message& m) -> Result<std::string> {
           if (m.data.size() != 2) {
             return Error{"REQStartupFolderWrite takes data [\"<name>.json\", \"<messages as JSON>\"]", Code::badField};
           }
           // What the file holds is what the node will take at its next start: checked as input now,
           // so a file that would be refused then is refused here.
           if (auto s = check(m.data[1]); !s) {
             return within("startup file " + m.data[0].substr(0, 80) + ": ", s.error());
           }
           return startup.write(m.data[0], m.data[1]);
         });
  addOwn(catalog, methods::kStartupFolderRemove, [&startup = parts.startup](const message::Message& m) {
    return startup.remove(m.data);
  });
}

}  // namespace steward::process
