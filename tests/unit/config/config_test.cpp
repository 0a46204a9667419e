#include "core/config/config.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace steward::config;
namespace fs = std::filesystem;

namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() /
              ("config-test-" + std::to_string(getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }
  steward::Result<CommandLine> parse(std::vector<const char*> args) {
    args.insert(args.begin(), "steward");
    return parseCommandLine(static_cast<int>(args.size()), args.data(), folder_);
  }
  std::string file() const {
    std::ifstream in(folder_ / "config.toml");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void writeFile(const std::string& text) {
    fs::create_directories(folder_);
    std::ofstream(folder_ / "config.toml") << text;
  }
  fs::path folder_;
};

}  // namespace

TEST_F(ConfigTest, MissingNodeNameIsAClearError) {
  auto r = parse({"--brokerAddress", "127.0.0.1:4222"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("--nodeName is required: every node needs a unique name", 0), 0u);
}

TEST_F(ConfigTest, HelpListsTheSpecFlagsAndWritesNothing) {
  auto r = parse({"--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->config.has_value());
  for (const char* flag :
       {"nodeName", "centralNodeName", "brokerAddress", "socketFolder", "databaseFolder",
        "subscribersDataFolder", "defaultMessageTimeout", "defaultMessageRetries",
        "errorMessageTimeout", "errorMessageRetries", "startPubREQHello", "startSubREQCliCommand",
        "startSubREQnCliCommand", "startSubREQErrorLog", "startSubREQHello", "pluginFolder"}) {
    EXPECT_NE(r->helpText.find(flag), std::string::npos) << flag;
  }
  EXPECT_FALSE(fs::exists(folder_ / "config.toml"));
}

TEST_F(ConfigTest, ReadsValues) {
  auto r = parse({"--nodeName", "ship1", "--defaultMessageTimeout", "7", "--startPubREQHello",
                  "30", "--startSubREQCliCommand", "central,ops", "--syncWrites=false"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r->config;
  EXPECT_EQ(c.nodeName, "ship1");
  EXPECT_EQ(c.defaultMessageTimeout, 7);
  EXPECT_EQ(c.startPubREQHello, 30);
  EXPECT_EQ(c.startSub.at("REQCliCommand"), "central,ops");
  EXPECT_FALSE(c.syncWrites);
}

TEST_F(ConfigTest, ReplyMethodsRunEverywhereErrorLogAndHelloOnlyAtCentral) {
  auto ship = parse({"--nodeName", "ship1"});
  ASSERT_TRUE(ship.ok());
  EXPECT_EQ(ship->config->startSub.count("REQToFileAppend"), 1u);
  EXPECT_EQ(ship->config->startSub.count("REQErrorLog"), 0u);
  EXPECT_EQ(ship->config->startSub.count("REQCliCommand"), 0u);
  EXPECT_EQ(ship->config->startSub.at("REQOpCommand"), "central");
  fs::remove_all(folder_);
  auto central = parse({"--nodeName", "central"});
  ASSERT_TRUE(central.ok());
  EXPECT_EQ(central->config->startSub.at("REQErrorLog"), "*");
  EXPECT_EQ(central->config->startSub.at("REQHello"), "*");
  auto off = parse({"--nodeName", "central", "--startSubREQHello", "off"});
  EXPECT_EQ(off->config->startSub.count("REQHello"), 0u);
}

TEST_F(ConfigTest, BadFlagValuesNameTheFlag) {
  auto r = parse({"--nodeName", "ship1", "--defaultMessageTimeout", "0"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--defaultMessageTimeout: must be at least 1, got 0"), std::string::npos)
      << r.error().message;
  auto bad = parse({"--nodeName", "ship 1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("--nodeName"), std::string::npos);
  EXPECT_FALSE(parse({"--nodeName", "a", "--noSuchFlag", "1"}).ok());
}

TEST_F(ConfigTest, RelaySettingsAreCheckedAtStart) {
  auto relay = parse({"--nodeName", "gw1", "--relayBrokerAddress", "10.0.0.1:4222", "--relayNodes",
                      "ship1,ship2", "--carriers", "gw2=central"});
  ASSERT_TRUE(relay.ok()) << relay.error().message;
  EXPECT_EQ(relay->config->relayNodes, "ship1,ship2");
  EXPECT_EQ(relay->config->carriers, "gw2=central");
  EXPECT_EQ(relay->config->relayHoldSeconds, 7 * 24 * 3600);
  // The examples in conf/relay are what README shows.
  for (const char* name : {"central", "gw1", "ship1"}) {
    const fs::path file = fs::path(STEWARD_EXAMPLE_MESSAGES) / ".." / "relay" / (std::string(name) + ".toml");
    std::ifstream in(file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(text.empty()) << file;
    auto example = steward::config::parseConfigText(text, file.string());
    ASSERT_TRUE(example.ok()) << example.error().message;
    EXPECT_EQ(example->nodeName, name);
  }
  auto badCarriers = parse({"--nodeName", "ship1", "--carriers", "gw1"});
  ASSERT_FALSE(badCarriers.ok());
  EXPECT_NE(badCarriers.error().message.find("--carriers: \"gw1\" is not <carrier>=<node>"), std::string::npos)
      << badCarriers.error().message;
  auto badNodes = parse({"--nodeName", "gw1", "--relayNodes", "ship1,ship.2"});
  ASSERT_FALSE(badNodes.ok());
  EXPECT_NE(badNodes.error().message.find("--relayNodes: \"ship.2\""), std::string::npos) << badNodes.error().message;
}

TEST_F(ConfigTest, TheFirstStartWritesEveryDefaultToTheFile) {
  ASSERT_TRUE(parse({"--nodeName", "ship1"}).ok());
  const std::string written = file();
  EXPECT_NE(written.find("nodeName = 'ship1'"), std::string::npos) << written;
  EXPECT_NE(written.find("defaultMessageRetries = 3"), std::string::npos) << written;
  EXPECT_NE(written.find("syncWrites = true"), std::string::npos) << written;
  EXPECT_NE(written.find("startSubREQCliCommand = 'off'"), std::string::npos) << written;
}

TEST_F(ConfigTest, FlagsAreWrittenBackAndBecomeTheNextDefaults) {
  ASSERT_TRUE(parse({"--nodeName", "ship1", "--defaultMessageRetries", "9",
                     "--startSubREQCliCommand", "central"}).ok());
  auto next = parse({});
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->config->nodeName, "ship1");
  EXPECT_EQ(next->config->defaultMessageRetries, 9);
  EXPECT_EQ(next->config->startSub.at("REQCliCommand"), "central");
  auto over = parse({"--defaultMessageRetries", "2"});
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->config->defaultMessageRetries, 2) << "a flag wins over the file";
  EXPECT_EQ(parse({})->config->defaultMessageRetries, 2);
}

TEST_F(ConfigTest, EditingTheFileChangesTheSettings) {
  writeFile("nodeName = 'ship7'\nbrokerAddress = '10.0.0.1:4222'\nstartPubREQHello = 60\n");
  auto r = parse({});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->config->nodeName, "ship7");
  EXPECT_EQ(r->config->brokerAddress, "10.0.0.1:4222");
  EXPECT_EQ(r->config->startPubREQHello, 60);
}

TEST_F(ConfigTest, WithWriteConfigFalseTheFileIsLeftAsItsAuthorWroteIt) {
  const std::string text = "# the admin's own words\nnodeName = 'ship7'  # and a comment\nwriteConfig = false\n";
  writeFile(text);
  auto r = parse({"--defaultMessageRetries", "9"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->config->defaultMessageRetries, 9);
  EXPECT_FALSE(r->config->writeConfig);
  EXPECT_EQ(file(), text);
  EXPECT_TRUE(r->warnings.empty());
}

TEST_F(ConfigTest, AFileThatCannotBeWrittenBackIsAWarningNotAnError) {
  writeFile("nodeName = 'ship7'\n");
  // A folder where the temporary file would go: the write fails whoever runs the test.
  fs::create_directories(folder_ / "config.toml.tmp");
  auto r = parse({});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->config->nodeName, "ship7");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("starting with these settings all the same"), std::string::npos) << r->warnings[0];
}

TEST_F(ConfigTest, DeletingTheFileRestoresTheDefaults) {
  ASSERT_TRUE(parse({"--nodeName", "ship1", "--defaultMessageRetries", "9"}).ok());
  fs::remove(folder_ / "config.toml");
  auto r = parse({"--nodeName", "ship1"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->config->defaultMessageRetries, Config{}.defaultMessageRetries);
}

TEST_F(ConfigTest, AnUnknownKeyInTheFileIsAnErrorNamingKeyAndLine) {
  writeFile("nodeName = 'ship1'\nretires = 3\n");
  auto r = parse({});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("line 2: unknown key \"retires\""), std::string::npos) << r.error().message;
}

TEST_F(ConfigTest, ABadValueInTheFileIsAnErrorNamingTheKey) {
  writeFile("nodeName = 'ship1'\ndefaultMessageTimeout = 'soon'\n");
  auto r = parse({});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("defaultMessageTimeout: must be a whole number"), std::string::npos)
      << r.error().message;
  writeFile("nodeName = 'ship1'\nsyncWrites = 'yes'\n");
  EXPECT_NE(parse({}).error().message.find("syncWrites: must be true or false"), std::string::npos);
  writeFile("nodeName = 'ship1'\nlogLevel = 'loud'\n");
  EXPECT_NE(parse({}).error().message.find("logLevel"), std::string::npos);
}

TEST_F(ConfigTest, MalformedTomlSaysWhere) {
  writeFile("nodeName = 'ship1'\nthis is not toml\n");
  auto r = parse({});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("line 2"), std::string::npos) << r.error().message;
}

TEST_F(ConfigTest, APluginsTableIsHandedToItsPluginAsJsonAndKeptWhenWrittenBack) {
  writeFile("nodeName = \"ship1\"\n[plugins.c_echo]\ngreeting = \"ahoy\"\nports = [1, 2]\n"
            "[plugins.c_echo.limits]\nmax = 3\n");
  auto c = parse({});
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->config->pluginConfigs.count("c_echo"), 1u);
  const std::string json = c->config->pluginConfigs.at("c_echo");
  EXPECT_NE(json.find("\"greeting\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"ahoy\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"max\""), std::string::npos) << json;
  // Written back as it was: the next start hands the plugin the same table.
  EXPECT_NE(file().find("[plugins.c_echo]"), std::string::npos) << file();
  auto again = parse({});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->config->pluginConfigs.at("c_echo"), json);
}

TEST_F(ConfigTest, APluginsEntryThatIsNotATableIsRefusedWithItsLine) {
  writeFile("nodeName = \"ship1\"\nplugins = 3\n");
  auto bad = parse({});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 2: plugins must be a table"), std::string::npos) << bad.error().message;
  writeFile("nodeName = \"ship1\"\n[plugins]\nc_echo = 1\n");
  auto notTable = parse({});
  ASSERT_FALSE(notTable.ok());
  EXPECT_NE(notTable.error().message.find("plugins.c_echo must be a table"), std::string::npos)
      << notTable.error().message;
}

TEST_F(ConfigTest, AnyMethodCanBeStartedByFlagOrFileAThirdPartysToo) {
  writeFile("nodeName = \"ship1\"\nstartSubREQGreet = \"central\"\n");
  auto c = parse({"--startSubREQDiskUsage=*", "--startSubREQCEcho", "central,ops1"});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->config->startSub.at("REQGreet"), "central");
  EXPECT_EQ(c->config->startSub.at("REQDiskUsage"), "*");
  EXPECT_EQ(c->config->startSub.at("REQCEcho"), "central,ops1");
  // Written back, so the next start serves them too.
  EXPECT_NE(file().find("startSubREQDiskUsage = '*'"), std::string::npos) << file();
  auto again = parse({});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->config->startSub.at("REQDiskUsage"), "*");
  // Not a method name: refused as any unknown key.
  writeFile("nodeName = \"ship1\"\nstartSubREQ.Bad = \"*\"\n");
  EXPECT_FALSE(parse({}).ok());
}
