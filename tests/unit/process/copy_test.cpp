#include "core/process/copy_writer.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace steward;
using namespace steward::process;

namespace {

namespace fs = std::filesystem;

class CopyWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("copy-writer-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path folder() const { return dir_ / "copies"; }
  // The chunks of `content` for `toPath`, in order.
  static std::vector<std::vector<std::string>> chunks(const std::string& content, const std::string& toPath,
                                                      uint64_t chunkSize = copy::kMinChunkSize, uint64_t number = 7) {
    std::vector<std::vector<std::string>> out;
    const uint64_t count = content.empty() ? 1 : (content.size() + chunkSize - 1) / chunkSize;
    for (uint64_t i = 0; i < count; ++i) {
      copy::Chunk c;
      c.copy = number;
      c.toPath = toPath;
      c.index = i;
      c.chunks = count;
      c.chunkSize = chunkSize;
      c.size = content.size();
      c.mode = 0640;
      c.fileSha256 = copy::sha256Hex(content);
      c.bytes = content.substr(i * chunkSize, c.expectedLength());
      c.chunkSha256 = copy::sha256Hex(c.bytes);
      out.push_back(c.encode());
    }
    return out;
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path dir_;
};

}  // namespace

TEST_F(CopyWriterTest, ChunksMakeTheFileWhichAppearsOnlyWholeWithItsMode) {
  CopyWriter writer(folder(), 1 << 20, false);
  std::string content;
  for (int i = 0; content.size() < 3 * copy::kMinChunkSize + 100; ++i) content += std::to_string(i) + ",";
  const auto parts = chunks(content, "in/data.csv");
  ASSERT_EQ(parts.size(), 4u);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto a = writer.write("ship1", parts[i]);
    EXPECT_EQ(a.error, "") << i;
    EXPECT_NE(a.json.find("\"done\":false"), std::string::npos);
    EXPECT_FALSE(fs::exists(folder() / "in/data.csv"));  // not before the last chunk
  }
  // A chunk written again (its run interrupted by a crash) changes nothing.
  EXPECT_EQ(writer.write("ship1", parts[1]).error, "");
  auto last = writer.write("ship1", parts.back());
  EXPECT_EQ(last.error, "");
  EXPECT_NE(last.json.find("\"done\":true"), std::string::npos) << last.json;
  EXPECT_EQ(read(folder() / "in/data.csv"), content);
  EXPECT_EQ(fs::status(folder() / "in/data.csv").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  // The last chunk again, after the file is in place: still done, the file untouched.
  last = writer.write("ship1", parts.back());
  EXPECT_EQ(last.error, "");
  EXPECT_NE(last.json.find("\"done\":true"), std::string::npos);
  EXPECT_EQ(read(folder() / "in/data.csv"), content);
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(folder())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST_F(CopyWriterTest, AFileThatDoesNotMatchItsSha256IsNotPutInPlace) {
  CopyWriter writer(folder(), 1 << 20, false);
  auto parts = chunks("hello world", "x.txt");
  // The chunk is right, but the whole file's sha256 says something else.
  parts[0][7] = std::string(64, 'a');
  auto a = writer.write("ship1", parts[0]);
  EXPECT_NE(a.error.find("arrived with sha256"), std::string::npos) << a.error;
  EXPECT_NE(a.json.find("\"copy\":7"), std::string::npos);
  EXPECT_FALSE(fs::exists(folder() / "x.txt"));
}

TEST_F(CopyWriterTest, DestinationsOutsideTheFolderAndBadChunksAreRefused) {
  CopyWriter writer(folder(), 1 << 20, false);
  for (const std::string& outside : {std::string("../up.txt"), (dir_ / "abs.txt").string(), std::string("a/../../b.txt")}) {
    auto a = writer.write("ship1", chunks("data", outside)[0]);
    EXPECT_FALSE(a.error.empty()) << outside;
    EXPECT_NE(a.json.find("\"copy\":7"), std::string::npos) << a.json;
  }
  EXPECT_FALSE(fs::exists(dir_ / "up.txt"));
  EXPECT_FALSE(fs::exists(dir_ / "abs.txt"));
  EXPECT_EQ(writer.write("ship1", chunks("data", (folder() / "inside.txt").string())[0]).error, "");
  EXPECT_EQ(read(folder() / "inside.txt"), "data");
  // A link in the folder is not followed.
  fs::create_directory_symlink(dir_, folder() / "link");
  EXPECT_NE(writer.write("ship1", chunks("data", "link/out.txt")[0]).error.find("symbolic link"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "out.txt"));
  // Damaged or oversized chunks.
  auto bad = chunks("some bytes", "y.txt")[0];
  bad[9] = "!!!";
  EXPECT_NE(writer.write("ship1", bad).error.find("not base64"), std::string::npos);
  bad = chunks("some bytes", "y.txt")[0];
  bad[8] = std::string(64, '0');
  EXPECT_NE(writer.write("ship1", bad).error.find("does not match its sha256"), std::string::npos);
  bad = chunks("some bytes", "y.txt")[0];
  bad.pop_back();
  EXPECT_NE(writer.write("ship1", bad).error.find("10 items"), std::string::npos);
  CopyWriter small(folder(), 4, false);
  EXPECT_NE(small.write("ship1", chunks("five!", "z.txt")[0]).error.find("more than copyMaxBytes"), std::string::npos);
}
