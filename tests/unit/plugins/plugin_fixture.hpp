// Runs a plugin's handler directly, the way a subscriber would, without a daemon or broker.
#pragma once

#include "core/plugin/host.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <map>
#include <vector>

namespace steward::testing {

struct CallResult {
  bool ok = false;
  std::string output;
  std::string error;
  std::vector<std::string> emitted;  // partial replies, in order
  std::map<std::string, std::string> result;  // set_result's named parts
};

struct TestRequest {
  TestRequest(std::string m, std::vector<std::string> d) : method(std::move(m)), data(std::move(d)) {}
  std::string method;
  std::vector<std::string> data;
  std::string fromNode = "central";
  std::string toNode = "ship1";
  std::string directory;
  std::string fileName = "out.log";
  std::chrono::milliseconds timeout{5000};
  std::filesystem::path dataFolder = "/nonexistent";
  std::string requestError;
  std::string replyOpts;  // the request's, as a reply carries it
};

class PluginFixture {
 public:
  // `configs`: plugin name -> the JSON its create gets, as from [plugins.<name>] tables.
  explicit PluginFixture(std::filesystem::path folder = STEWARD_PLUGIN_DIR,
                         std::map<std::string, std::string, std::less<>> configs = {});
  // Runs one request on a fresh instance of its method; `cancelAfter` > 0 cancels it then.
  CallResult run(const TestRequest& request,
                 std::chrono::milliseconds cancelAfter = std::chrono::milliseconds(0));
  // The same on an instance the test keeps (host().instantiate), as a node keeps one per method.
  CallResult runOn(plugin::MethodInstance& instance, const TestRequest& request,
                   std::chrono::milliseconds cancelAfter = std::chrono::milliseconds(0));
  plugin::PluginHost& host() { return host_; }

 private:
  plugin::PluginHost host_;
};

}  // namespace steward::testing
