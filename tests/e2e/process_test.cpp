// Run-time processes: startProc and stopProc with the spec's messages, a hot upgrade of a plugin
// without a restart, stopProc while a call runs, and bad plugins in a daemon's folder.
#include "tests/e2e/harness.hpp"

#include <steward/plugin_abi.h>

#include <fstream>
#include <thread>

namespace steward::e2e {
namespace {

class Processes : public E2eTest {
 protected:
  // A plugin folder of the node's own: the built-in plugins, plus `extra` (name -> file).
  fs::path pluginFolder(const std::string& node, const std::map<std::string, fs::path>& extra = {}) {
    const fs::path dir = root_ / ("plugins-" + node);
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(STEWARD_PLUGIN_DIR)) {
      if (entry.path().extension() == ".so") fs::copy_file(entry.path(), dir / entry.path().filename());
    }
    for (const auto& [name, file] : extra) fs::copy_file(file, dir / name);
    return dir;
  }
  static fs::path testPlugin(const std::string& name) {
    return fs::path(STEWARD_TEST_PLUGIN_DIR) / (name + ".so");
  }
  static bool mapped(int pid, const std::string& file) {
    return readFile("/proc/" + std::to_string(pid) + "/maps").find(file) != std::string::npos;
  }
};

TEST_F(Processes, StartProcAndStopProcWithTheSpecsMessages) {
  auto& central = startNode("central");
  startNode("ship2");
  const auto log = central.dataFolder() / "opcommand_logs" / "ship2" / "some.log";
  ASSERT_TRUE(accepted(central.submit(readFile(fs::path(STEWARD_SOURCE_DIR) / "conf/messages/opcommand-start.json"))));
  ASSERT_TRUE(waitFor([&] { return readFile(log).find("started REQHttpGet") != std::string::npos; }, 30s))
      << central.errorLog();
  EXPECT_NE(readFile(log).find("allowed from central,node1"), std::string::npos) << readFile(log);

  ASSERT_TRUE(accepted(central.submit(readFile(fs::path(STEWARD_SOURCE_DIR) / "conf/messages/opcommand-ps.json"))));
  ASSERT_TRUE(waitFor([&] { return readFile(log).find("\"subject\": \"ship2.REQHttpGet.CommandACK\"") != std::string::npos; }, 30s))
      << readFile(log);

  ASSERT_TRUE(accepted(central.submit(readFile(fs::path(STEWARD_SOURCE_DIR) / "conf/messages/opcommand-stop.json"))));
  ASSERT_TRUE(waitFor([&] { return readFile(log).find("stopped REQHttpGet") != std::string::npos; }, 30s))
      << central.errorLog();
  // Nobody takes REQHttpGet on ship2 any more.
  ASSERT_TRUE(accepted(central.submit(
      R"([{"toNode":"ship2","method":"REQHttpGet","data":["http://127.0.0.1:9/"],"ACKTimeout":1,"retries":1}])")));
  EXPECT_TRUE(waitFor([&] { return central.errorLog().find("REQHttpGet from central to ship2) given up") != std::string::npos; }, 30s))
      << central.errorLog();
}

TEST_F(Processes, APluginIsReplacedWithoutRestartingTheDaemon) {
  auto& central = startNode("central", {"--pluginFolder=" + pluginFolder("central", {{"echo.so", testPlugin("echo_v1")}}).string()});
  const fs::path folder = pluginFolder("ship1", {{"echo.so", testPlugin("echo_v1")}});
  auto& ship1 = startNode("ship1", {"--pluginFolder=" + folder.string()});
  const std::string echoSo = (folder / "echo.so").string();
  EXPECT_FALSE(mapped(ship1.pid(), echoSo)) << "an unused plugin stays unmapped";

  auto startEcho = [&](const std::string& tag) {
    ASSERT_TRUE(accepted(central.submit(op("ship1",
        R"({"opCmd":"startProc","opArg":{"method":"REQEcho","allowedNodes":["central"]}})", tag))));
    ASSERT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ops/ship1" / tag).find("started REQEcho") != std::string::npos; }, 30s))
        << central.errorLog();
  };
  auto echo = [&](const std::string& tag) {
    EXPECT_TRUE(accepted(central.submit(
        R"([{"toNode":"ship1","method":"REQEcho","data":["hi"],"fileName":")" + tag + "\"}]")));
    const auto file = central.dataFolder() / "ship1" / tag;
    waitFor([&] { return !readFile(file).empty(); }, 30s);
    return readFile(file);
  };

  startEcho("start1");
  EXPECT_EQ(echo("first"), "echo v1: hi\n");
  EXPECT_TRUE(mapped(ship1.pid(), echoSo));

  ASSERT_TRUE(accepted(central.submit(op("ship1", R"({"opCmd":"stopProc","opArg":{"method":"REQEcho","kind":"subscriber","receivingNode":"ship1"}})", "stop"))));
  const auto stopped = central.dataFolder() / "ops/ship1/stop";
  ASSERT_TRUE(waitFor([&] { return readFile(stopped).find("stopped REQEcho") != std::string::npos; }, 30s))
      << central.errorLog();
  EXPECT_NE(readFile(stopped).find("plugin echo unloaded"), std::string::npos) << readFile(stopped);
  EXPECT_FALSE(mapped(ship1.pid(), echoSo)) << "the library is still mapped after stopProc";

  // Replace the file the way a package upgrade does: a new file renamed over the old one.
  fs::copy_file(testPlugin("echo_v2"), folder / "echo.so.new");
  fs::rename(folder / "echo.so.new", folder / "echo.so");
  startEcho("start2");
  EXPECT_EQ(echo("second"), "echo v2: hi\n");
  EXPECT_TRUE(ship1.running());
}

// A plugin written in C against ABI 2, configured by its [plugins.c_echo] table of ship1's
// config.toml and started by --startSubREQCEcho like any built-in method: it answers with its
// configuration.
TEST_F(Processes, ACPluginGetsItsConfigTableAndAnswersEndToEnd) {
  auto& central = startNode("central", {"--pluginFolder=" + pluginFolder("central", {{"c_echo.so", testPlugin("c_echo")}}).string()});
  auto& ship1 = makeNode("ship1", {"--pluginFolder=" + pluginFolder("ship1", {{"c_echo.so", testPlugin("c_echo")}}).string(),
                                   "--startSubREQCEcho=central"});
  fs::create_directories(ship1.dir() / "etc");
  std::ofstream(ship1.dir() / "etc" / "config.toml") << "[plugins.c_echo]\ngreeting = \"ahoy\"\n";
  ship1.start();
  ASSERT_TRUE(ship1.waitReady()) << ship1.log();
  EXPECT_NE(ship1.log().find("started subscriber ship1.REQCEcho.CommandACK allowed from: central"), std::string::npos);
  ASSERT_TRUE(accepted(central.submit(R"([{"toNode":"ship1","method":"REQCEcho","data":["hi"],"fileName":"c.log"}])")));
  const auto reply = central.dataFolder() / "ship1" / "c.log";
  EXPECT_TRUE(waitFor([&] { return readFile(reply) == "{\"greeting\":\"ahoy\"} hi\n"; }, 30s)) << readFile(reply);
  // The table is written back with the rest of the config.
  EXPECT_NE(readFile(ship1.dir() / "etc" / "config.toml").find("[plugins.c_echo]"), std::string::npos);
}

TEST_F(Processes, StopProcCancelsALongCallAndTheDaemonKeepsServing) {
  auto& central = startNode("central");
  auto& ship1 = startNode("ship1", {"--startSubREQnCliCommand=central", "--startSubREQCliCommand=central"});
  const auto pidFile = root_ / "sleep.pid";
  ASSERT_TRUE(accepted(central.submit(command(
      "ship1", "echo $$ > " + pidFile.string() + "; exec sleep 300", R"("fileName":"long.log","methodTimeout":600)",
      "REQnCliCommand"))));
  ASSERT_TRUE(waitFor([&] { return !readFile(pidFile).empty(); }, 30s));
  const int sleeper = std::stoi(readFile(pidFile));
  ASSERT_TRUE(accepted(central.submit(op("ship1", R"({"opCmd":"stopProc","opArg":{"method":"REQnCliCommand"}})", "stop"))));
  const auto stopped = central.dataFolder() / "ops/ship1/stop";
  ASSERT_TRUE(waitFor([&] { return readFile(stopped).find("stopped REQnCliCommand") != std::string::npos; }, 30s))
      << central.errorLog();
  EXPECT_NE(readFile(stopped).find("stays loaded for its other methods"), std::string::npos) << readFile(stopped);
  EXPECT_TRUE(waitFor([&] { return !processAlive(sleeper); }, 10s)) << "the cancelled command lives on";
  EXPECT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ship1" / "long.log").find("cancelled") != std::string::npos; }, 30s));
  ASSERT_TRUE(accepted(central.submit(command("ship1", "echo healthy", R"("fileName":"h.log")"))));
  EXPECT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ship1" / "h.log") == "healthy\n"; }, 30s));
  EXPECT_TRUE(ship1.running());
  // A clean exit; under the sanitizer build this is also the leak check of the whole run.
  EXPECT_EQ(ship1.stop(), 0) << ship1.log();
}

TEST_F(Processes, BadPluginsAreReportedByFileAndReasonWhileTheDaemonServes) {
  auto& central = startNode("central");
  const fs::path folder = pluginFolder("ship1", {{"no_entry.so", testPlugin("no_entry")},
                                                 {"wrong_abi.so", testPlugin("wrong_abi")},
                                                 {"throwing.so", testPlugin("throwing")},
                                                 {"zz_second_cli.so", fs::path(STEWARD_PLUGIN_DIR) / "cli.so"}});
  std::ofstream(folder / "junk.so") << "not a shared object";
  fs::permissions(folder / "junk.so", fs::perms::owner_read | fs::perms::owner_write);
  auto& ship1 = startNode("ship1", {"--pluginFolder=" + folder.string(), "--startSubREQCliCommand=central"});
  ASSERT_TRUE(waitFor([&] { return countLines(central.errorLog(), "ship1: plugin ") >= 4; }, 30s))
      << central.errorLog();
  const std::string errors = central.errorLog();
  EXPECT_NE(errors.find("junk.so: not a loadable shared object"), std::string::npos) << errors;
  EXPECT_NE(errors.find("no_entry.so: missing entry symbol steward_plugin_entry"), std::string::npos) << errors;
  EXPECT_NE(errors.find("wrong_abi.so: built for plugin ABI 1.1, this steward speaks ABI 2." + std::to_string(STEWARD_ABI_VERSION_MINOR)), std::string::npos) << errors;
  EXPECT_NE(errors.find("zz_second_cli.so: method REQCliCommand is already served by plugin"), std::string::npos) << errors;

  // A handler that throws costs its message, not the daemon.
  ASSERT_TRUE(accepted(central.submit(op("ship1",
      R"({"opCmd":"startProc","opArg":{"method":"REQThrow","allowedNodes":["*"]}})", "start"))));
  ASSERT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ops/ship1/start").find("started") != std::string::npos; }, 30s))
      << central.errorLog();
  // central does not know REQThrow (its folder lacks the plugin), so ship1 sends it to itself.
  ASSERT_TRUE(accepted(ship1.submit(R"([{"toNode":"ship1","method":"REQThrow","data":[]}])")));
  EXPECT_TRUE(waitFor([&] { return central.errorLog().find("handler blew up") != std::string::npos; }, 30s))
      << central.errorLog();
  ASSERT_TRUE(accepted(central.submit(command("ship1", "echo fine", R"("fileName":"fine.log")"))));
  EXPECT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ship1" / "fine.log") == "fine\n"; }, 30s));
}

}  // namespace
}  // namespace steward::e2e

namespace steward::e2e {
namespace {

// A third party's view: install the SDK, build sdk/examples/disk-usage out of tree against it,
// run its mock-host unit test, drop the plugin into running daemons and start it with startProc.
TEST_F(Processes, AnOutOfTreePluginBuiltAgainstTheInstalledSdkAnswersEndToEnd) {
  const fs::path prefix = root_ / "sdk";
  const fs::path build = root_ / "example";
  auto sh = [&](const std::string& cmd) {
    return std::system(("(" + cmd + ") > " + (root_ / "build.log").string() + " 2>&1").c_str());
  };
  ASSERT_EQ(sh("cmake --install " + std::string(STEWARD_BUILD_DIR) + " --component sdk --prefix " +
               prefix.string()), 0) << readFile(root_ / "build.log");
  ASSERT_EQ(sh("cmake -S " + std::string(STEWARD_SOURCE_DIR) + "/sdk/examples/disk-usage -B " +
               build.string() + " -DCMAKE_PREFIX_PATH=" + prefix.string() +
               " && cmake --build " + build.string() + " && ctest --test-dir " + build.string() +
               " --output-on-failure"), 0)
      << readFile(root_ / "build.log");
  ASSERT_TRUE(fs::exists(build / "disk_usage.so"));

  const fs::path centralFolder = pluginFolder("central");
  const fs::path shipFolder = pluginFolder("ship1");
  auto& central = startNode("central", {"--pluginFolder=" + centralFolder.string()});
  startNode("ship1", {"--pluginFolder=" + shipFolder.string()});
  fs::copy_file(build / "disk_usage.so", centralFolder / "disk_usage.so");
  fs::copy_file(build / "disk_usage.so", shipFolder / "disk_usage.so");

  ASSERT_TRUE(accepted(central.submit(op("ship1",
      R"({"opCmd":"startProc","opArg":{"method":"REQDiskUsage","allowedNodes":["central"]}})", "start"))));
  ASSERT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ops/ship1/start").find("started REQDiskUsage") != std::string::npos; }, 30s))
      << central.errorLog();
  const std::string answer = central.submit(
      R"([{"toNode":"ship1","method":"REQDiskUsage","data":["/"],"fileName":"df.log"}])");
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto reply = central.dataFolder() / "ship1" / "df.log";
  EXPECT_TRUE(waitFor([&] { return readFile(reply).find("/: ") == 0 && readFile(reply).find(" free") != std::string::npos; }, 30s))
      << readFile(reply) << central.errorLog();
}

}  // namespace
}  // namespace steward::e2e
