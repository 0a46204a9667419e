#include "core/plugin/host.hpp"

#include "tests/unit/plugins/plugin_fixture.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward;
namespace fs = std::filesystem;

namespace {

class PluginHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("host-test-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void copy(const fs::path& from, const std::string& as) {
    fs::copy_file(from, dir_ / as);
    fs::permissions(dir_ / as, fs::perms::owner_read | fs::perms::owner_write |
                                   fs::perms::owner_exec | fs::perms::group_read);
  }
  fs::path dir_;
};

plugin::PluginHost hostFor(const fs::path& dir) {
  return plugin::PluginHost(dir, [](const std::string&, steward_log_level, const std::string&) {});
}

std::vector<std::string> messages(const Result<std::vector<Error>>& r) {
  std::vector<std::string> out;
  if (r.ok()) {
    for (const auto& e : r.value()) out.push_back(e.message);
  } else {
    out.push_back("FOLDER: " + r.error().message);
  }
  return out;
}

}  // namespace

TEST_F(PluginHostTest, LoadsTheBuiltInPluginsAndKnowsTheirMethods) {
  auto host = hostFor(STEWARD_PLUGIN_DIR);
  auto errors = messages(host.loadAll());
  EXPECT_TRUE(errors.empty()) << errors.front();
  const auto cli = host.find("REQCliCommand");
  ASSERT_TRUE(cli.has_value());
  EXPECT_EQ(cli->kind, message::Kind::CommandACK);
  EXPECT_TRUE(cli->ordered);
  const auto ncli = host.find("REQnCliCommand");
  ASSERT_TRUE(ncli.has_value());
  EXPECT_FALSE(ncli->ordered);
  const auto hello = host.find("REQHello");
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->kind, message::Kind::EventNACK);
  EXPECT_TRUE(host.find("REQToFileAppend")->replyMethod);
  EXPECT_FALSE(host.find("REQNoSuch").has_value());
  // The command-line methods say so in their descriptors, for the ACL's command patterns.
  EXPECT_TRUE(cli->commandData);
  EXPECT_TRUE(ncli->commandData);
  EXPECT_FALSE(host.find("REQHttpGet")->commandData);
}

TEST_F(PluginHostTest, NotASharedObjectIsRefusedWithFileAndReason) {
  std::ofstream(dir_ / "junk.so") << "this is text";
  fs::permissions(dir_ / "junk.so", fs::perms::owner_read | fs::perms::owner_write);
  auto errors = messages(hostFor(dir_).loadAll());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find((dir_ / "junk.so").string()), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("not a loadable shared object"), std::string::npos) << errors[0];
}

TEST_F(PluginHostTest, MissingEntrySymbolIsRefused) {
  copy(fs::path(STEWARD_TEST_PLUGIN_DIR) / "no_entry.so", "no_entry.so");
  auto errors = messages(hostFor(dir_).loadAll());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("missing entry symbol steward_plugin_entry"), std::string::npos)
      << errors[0];
}

TEST_F(PluginHostTest, AnotherAbiMajorVersionIsRefused) {
  copy(fs::path(STEWARD_TEST_PLUGIN_DIR) / "wrong_abi.so", "wrong_abi.so");
  auto host = hostFor(dir_);
  auto errors = messages(host.loadAll());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("built for plugin ABI 1.1, this steward speaks ABI 2." + std::to_string(STEWARD_ABI_VERSION_MINOR)), std::string::npos)
      << errors[0];
}

// Each refusal path has a fixture written in C (tests/unit/plugin/fixtures/*.c).
TEST_F(PluginHostTest, EveryRefusalOfTheAbiSaysWhy) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"too_small", "its descriptor is 24 bytes, less than the"},
      {"duplicate_method", "method REQTwice is listed twice in its descriptor"},
      {"host_too_old", "needs a steward host of ABI 2.99 or later; this one speaks ABI 2." + std::to_string(STEWARD_ABI_VERSION_MINOR)},
      {"no_entry", "missing entry symbol steward_plugin_entry"},
      {"claims_own_method", "method REQOpCommand is served by steward itself"},
  };
  for (const auto& [fixture, why] : cases) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
    copy(fs::path(STEWARD_TEST_PLUGIN_DIR) / (fixture + ".so"), fixture + ".so");
    auto host = hostFor(dir_);
    auto errors = messages(host.loadAll());
    ASSERT_EQ(errors.size(), 1u) << fixture;
    EXPECT_NE(errors[0].find(fixture + ".so"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find(why), std::string::npos) << fixture << ": " << errors[0];
  }
}

TEST_F(PluginHostTest, APluginInCGetsItsConfigurationAndFailsThroughTheOneErrorChannel) {
  copy(fs::path(STEWARD_TEST_PLUGIN_DIR) / "c_echo.so", "c_echo.so");
  steward::testing::PluginFixture f(dir_, {{"c_echo", R"({"greeting":"ahoy"})"}});
  auto echo = f.run({"REQCEcho", {"one", "two"}});
  EXPECT_TRUE(echo.ok) << echo.error;
  EXPECT_EQ(echo.output, R"({"greeting":"ahoy"} one two)");
  auto fail = f.run({"REQCFail", {}});
  EXPECT_FALSE(fail.ok);
  EXPECT_EQ(fail.error, "REQCFail fails, as asked");
  // Without a table, a plugin gets an empty object.
  steward::testing::PluginFixture plain(dir_);
  EXPECT_EQ(plain.run({"REQCEcho", {}}).output, "{}");
}

TEST_F(PluginHostTest, TwoPluginsClaimingOneMethodIsRefused) {
  copy(fs::path(STEWARD_PLUGIN_DIR) / "cli.so", "a_cli.so");
  copy(fs::path(STEWARD_PLUGIN_DIR) / "cli.so", "b_cli.so");
  auto host = hostFor(dir_);
  auto errors = messages(host.loadAll());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("b_cli.so"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("already served by plugin"), std::string::npos) << errors[0];
  EXPECT_TRUE(host.find("REQCliCommand").has_value()) << "the first one keeps serving";
}

TEST_F(PluginHostTest, AFileWritableByOthersIsRefused) {
  copy(fs::path(STEWARD_PLUGIN_DIR) / "cli.so", "cli.so");
  fs::permissions(dir_ / "cli.so", fs::perms::others_write, fs::perm_options::add);
  auto errors = messages(hostFor(dir_).loadAll());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("writable by group or others"), std::string::npos) << errors[0];
}

TEST_F(PluginHostTest, AFolderWritableByOthersIsRefusedWhole) {
  fs::permissions(dir_, fs::perms::others_write, fs::perm_options::add);
  auto r = hostFor(dir_).loadAll();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("writable by group or others"), std::string::npos);
}

TEST_F(PluginHostTest, AThrowingHandlerCostsTheCallNotTheHost) {
  copy(fs::path(STEWARD_TEST_PLUGIN_DIR) / "throwing.so", "throwing.so");
  steward::testing::PluginFixture f(dir_);
  auto r = f.run({"REQThrow", {}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "before ");
  EXPECT_NE(r.error.find("handler blew up"), std::string::npos) << r.error;
}

TEST_F(PluginHostTest, AThrowingConstructorIsAnErrorNamingThePlugin) {
  copy(fs::path(STEWARD_TEST_PLUGIN_DIR) / "throwing.so", "throwing.so");
  auto host = hostFor(dir_);
  ASSERT_TRUE(host.loadAll().ok());
  auto instance = host.instantiate("REQThrowOnCreate");
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().message.find("refusing to start"), std::string::npos);
  EXPECT_NE(instance.error().message.find("throwing.so"), std::string::npos);
}
