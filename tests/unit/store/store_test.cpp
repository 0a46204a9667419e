#include "core/store/store.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward::store;
namespace fs = std::filesystem;

namespace {
fs::path freshDir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("store-test-" + std::to_string(getpid()) + "-" + name);
  fs::remove_all(dir);
  return dir;
}
}  // namespace

TEST(IdSource, IdsIncreaseAndNeverRepeatAcrossReopen) {
  const auto dir = freshDir("reopen");
  uint64_t last = 0;
  {
    auto store = Store::open(dir);
    ASSERT_TRUE(store.ok()) << store.error().message;
    IdSource ids(*store.value(), 10);
    for (int i = 0; i < 25; ++i) {
      auto id = ids.next();
      ASSERT_TRUE(id.ok());
      EXPECT_GT(id.value(), last);
      last = id.value();
    }
    EXPECT_EQ(last, 25u);
  }
  auto store = Store::open(dir);
  ASSERT_TRUE(store.ok());
  IdSource ids(*store.value(), 10);
  auto id = ids.next();
  ASSERT_TRUE(id.ok());
  EXPECT_GT(id.value(), last) << "an id was handed out twice";
  fs::remove_all(dir);
}

TEST(Store, ADamagedDatabaseIsAClearError) {
  const auto dir = freshDir("damaged");
  fs::create_directories(dir / "steward.ldb");
  std::ofstream(dir / "steward.ldb" / "CURRENT") << "MANIFEST-999999\n";
  auto store = Store::open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("cannot open database"), std::string::npos);
  fs::remove_all(dir);
}
