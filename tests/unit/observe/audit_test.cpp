#include "core/observe/audit.hpp"
#include "core/util/log.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward;
namespace fs = std::filesystem;

namespace {

fs::path freshDir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("audit-test-" + std::to_string(getpid()) + "-" + name);
  fs::remove_all(dir);
  return dir;
}

message::Message sample(uint64_t id) {
  message::Message m;
  m.id = id;
  m.fromNode = "central";
  m.toNode = "ship1";
  m.method = "REQCliCommand";
  return m;
}

}  // namespace

TEST(Audit, WritesOneJsonLinePerEvent) {
  const auto dir = freshDir("lines");
  {
    observe::Audit audit(observe::AuditSettings{dir});
    audit.record("sent", sample(7), 2, "detail \"quoted\"");
    audit.record("acked", sample(7));
  }
  std::ifstream in(dir / "audit.log");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  rapidjson::Document doc;
  doc.Parse(line.c_str());
  ASSERT_FALSE(doc.HasParseError()) << line;
  EXPECT_STREQ(doc["event"].GetString(), "sent");
  EXPECT_EQ(doc["id"].GetUint64(), 7u);
  EXPECT_STREQ(doc["fromNode"].GetString(), "central");
  EXPECT_STREQ(doc["toNode"].GetString(), "ship1");
  EXPECT_STREQ(doc["method"].GetString(), "REQCliCommand");
  EXPECT_EQ(doc["attempt"].GetInt(), 2);
  EXPECT_STREQ(doc["detail"].GetString(), "detail \"quoted\"");
  EXPECT_TRUE(doc.HasMember("time"));
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_NE(line.find("\"event\":\"acked\""), std::string::npos);
  fs::remove_all(dir);
}

TEST(Audit, RotatesBySizeAndKeepsALimitedNumberOfFiles) {
  const auto dir = freshDir("rotate");
  {
    observe::AuditSettings settings{dir};
    settings.rotationBytes = 2000;
    settings.keepFiles = 3;
    observe::Audit audit(settings);
    for (uint64_t i = 0; i < 300; ++i) audit.record("received", sample(i));
  }
  size_t rotated = 0;
  for (const auto& entry : fs::directory_iterator(dir / "audit")) {
    EXPECT_EQ(entry.path().extension(), ".log");
    ++rotated;
  }
  EXPECT_GE(rotated, 1u);
  EXPECT_LE(rotated, 3u);
  EXPECT_TRUE(fs::exists(dir / "audit.log"));
  fs::remove_all(dir);
}

TEST(Audit, NoFileDescriptorLeftForTheNextFileDropsRecordsInsteadOfThrowing) {
#ifdef STEWARD_SANITIZED
  // UndefinedBehaviorSanitizer checks an object's type through a pipe of its own; with no
  // descriptor left it reports Boost.Log's valid objects as invalid. The plain build runs this.
  GTEST_SKIP() << "the sanitizer runtime needs file descriptors of its own";
#endif
  logging::dropUnwritableRecords();
  const auto dir = freshDir("nofd");
  {
    observe::AuditSettings settings{dir};
    settings.rotationBytes = 500;
    observe::Audit audit(settings);
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    size_t open = 0;
    for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
      (void)entry;
      ++open;
    }
    // Not one descriptor more: the rotation cannot open the next file.
    const rlimit none{open, old.rlim_max};
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &none), 0);
    EXPECT_NO_THROW(for (uint64_t i = 0; i < 50; ++i) audit.record("received", sample(i)));
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
    // Descriptors again: it writes again.
    EXPECT_NO_THROW(audit.record("received", sample(99)));
  }
  fs::remove_all(dir);
}
