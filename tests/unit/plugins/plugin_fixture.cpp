#include "tests/unit/plugins/plugin_fixture.hpp"

#include "core/message/paths.hpp"
#include "core/plugin/request.hpp"

#include <mutex>
#include <stdexcept>
#include <thread>

namespace steward::testing {

PluginFixture::PluginFixture(std::filesystem::path folder,
                             std::map<std::string, std::string, std::less<>> configs)
    : host_(std::move(folder), [](const std::string&, steward_log_level, const std::string&) {}) {
  host_.setConfigs(std::move(configs));
  auto loaded = host_.loadAll();
  if (!loaded) throw std::runtime_error(loaded.error().message);
}

CallResult PluginFixture::run(const TestRequest& r, std::chrono::milliseconds cancelAfter) {
  auto instance = host_.instantiate(r.method);
  if (!instance) return CallResult{false, "", instance.error().message, {}, {}};
  return runOn(*instance.value(), r, cancelAfter);
}

CallResult PluginFixture::runOn(plugin::MethodInstance& instance, const TestRequest& r,
                                std::chrono::milliseconds cancelAfter) {
  message::Message m;
  m.id = 1;
  m.fromNode = r.fromNode;
  m.toNode = r.toNode;
  m.method = r.method;
  m.data = r.data;
  m.directory = r.directory;
  m.fileName = r.fileName;
  m.requestError = r.requestError;
  m.replyOpts = r.replyOpts;
  auto path = message::resolveOutputPath(r.dataFolder, r.directory, r.fromNode, r.fileName);
  const int64_t deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
                               (std::chrono::system_clock::now() + r.timeout).time_since_epoch())
                               .count();
  const plugin::PreparedRequest req(
      m, plugin::CallContext{r.toNode, r.dataFolder.string(), path ? path->string() : "",
                             r.fileName, deadline});

  steward_host_call call;
  std::vector<std::string> emitted;
  std::mutex emittedMutex;
  call.emit = [&](std::string output) {
    std::lock_guard lock(emittedMutex);
    emitted.push_back(std::move(output));
    return Status{};
  };
  std::thread canceller;
  if (cancelAfter.count() > 0) {
    canceller = std::thread([&] {
      std::this_thread::sleep_for(cancelAfter);
      instance.cancel(call);
    });
  }
  CallResult result;
  result.ok = instance.handle(req.get(), call);
  if (canceller.joinable()) canceller.join();
  result.output = call.output;
  result.result = call.result;
  result.error = call.error;
  result.emitted = emitted;
  return result;
}

}  // namespace steward::testing
