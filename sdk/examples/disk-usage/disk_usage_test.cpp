// Unit test of the plugin with the SDK's mock host: no daemon, no broker.
#include <steward/testing.hpp>

#include <cstdio>

extern "C" const steward_plugin* steward_plugin_entry();

int main() {
  steward::sdk::testing::MockHost host(steward_plugin_entry());
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "FAILED: %s\n", what);
      ++failures;
    }
  };
  auto root = host.run("REQDiskUsage", {"/"});
  check(root.ok, "usage of / is reported");
  check(root.output.rfind("/: ", 0) == 0 && root.output.find("used (") != std::string::npos &&
            root.output.find(" free\n") != std::string::npos,
        "the line names the path, the share used and what is free");
  auto missing = host.run("REQDiskUsage", {"/no/such/path"});
  check(!missing.ok && missing.error.find("/no/such/path") != std::string::npos,
        "a missing path is an error naming it");
  check(!host.run("REQOther", {}).ok, "a method the plugin does not serve is refused");
  std::printf("%d passed, %d failed\n", 3 - failures, failures);
  return failures == 0 ? 0 : 1;
}
