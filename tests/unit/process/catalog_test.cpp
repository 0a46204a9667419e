#include "core/process/catalog.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

using namespace steward;
namespace fs = std::filesystem;

namespace {

class Fixed final : public process::MethodHandler {
 public:
  explicit Fixed(message::MethodInfo info) : info_(std::move(info)) {}
  const message::MethodInfo& method() const override { return info_; }
  bool handle(const message::Message& m, const plugin::CallContext&, steward_host_call& call) override {
    call.output = "own " + m.method;
    return true;
  }
  void cancel(steward_host_call& call) override { call.cancelled = true; }

 private:
  message::MethodInfo info_;
};

plugin::PluginHost hostFor(const fs::path& dir) {
  return plugin::PluginHost(dir, [](const std::string&, steward_log_level, const std::string&) {});
}

}  // namespace

TEST(Catalog, OwnMethodsAndPluginsAnswerAsOne) {
  auto host = hostFor(STEWARD_PLUGIN_DIR);
  process::Catalog catalog(host);
  message::MethodInfo own{.name = "REQOwn", .plugin = "steward"};
  catalog.addOwn(own, [own] { return std::make_unique<Fixed>(own); });

  // Nothing read yet: a plugin's method is unknown until the folder is read.
  EXPECT_FALSE(catalog.find("REQCliCommand"));
  auto read = catalog.knowAll({"REQOwn", "REQCliCommand", ""});
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_TRUE(read->empty());
  ASSERT_TRUE(catalog.find("REQCliCommand"));
  EXPECT_TRUE(catalog.find("REQCliCommand")->commandData);
  EXPECT_EQ(catalog.find("REQOwn")->plugin, "steward");

  auto handler = catalog.instantiate("REQOwn");
  ASSERT_TRUE(handler.ok());
  steward_host_call call;
  message::Message m;
  m.method = "REQOwn";
  EXPECT_TRUE((*handler)->handle(m, {}, call));
  EXPECT_EQ(call.output, "own REQOwn");

  auto cli = catalog.instantiate("REQCliCommand");
  ASSERT_TRUE(cli.ok()) << cli.error().message;
  EXPECT_EQ((*cli)->method().name, "REQCliCommand");
  EXPECT_FALSE(catalog.instantiate("REQNoSuch").ok());
}

TEST(Catalog, AFolderThatCannotBeReadIsAnErrorOnlyWhenAMethodIsMissing) {
  auto host = hostFor(fs::temp_directory_path() / ("no-such-folder-" + std::to_string(getpid())));
  process::Catalog catalog(host);
  message::MethodInfo own;
  own.name = "REQOwn";
  catalog.addOwn(own, [own] { return std::make_unique<Fixed>(own); });
  EXPECT_TRUE(catalog.knowAll({"REQOwn"}).ok());
  EXPECT_FALSE(catalog.knowAll({"REQOwn", "REQCliCommand"}).ok());
}
