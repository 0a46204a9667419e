// File copy (REQCopySrc at the node with the file, REQCopyDst at the one receiving it), run by real
// daemons: a 50 MiB file crosses a broker outage and a kill -9 of its receiver and arrives whole,
// once; a destination outside the receiver's copyFolder is refused.
#include "tests/e2e/harness.hpp"

#include "core/process/copy_chunk.hpp"

#include <fstream>
#include <random>
#include <thread>

namespace steward::e2e {
namespace {

class Copy : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startSubREQCopySrc=central"});
    ship2_ = &startNode("ship2", {"--startSubREQCopyDst=ship1", "--copyFolder=" + (root_ / "ship2-copies").string()});
    // Node to node: the ACL lets ship1 send ship2 chunks (with none, only central may call).
    std::ofstream(root_ / "acl.json") << R"({"ship2":[{"from":"central","methods":["*"]},{"from":"ship1","methods":["REQCopyDst"]}],
                                              "*":[{"from":"central","methods":["*"]}]})";
    auto r = ctl(*central_, {"acl", "set", (root_ / "acl.json").string()});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    ASSERT_TRUE(waitFor([&] { return ship2_->log().find("trusted set version 1") != std::string::npos; }, 20s))
        << ship2_->log();
  }
  // A file of `bytes` random bytes.
  fs::path randomFile(const std::string& name, size_t bytes) {
    const fs::path path = root_ / name;
    std::mt19937_64 random(42);
    std::string block(1024 * 1024, '\0');
    std::ofstream out(path, std::ios::binary);
    for (size_t written = 0; written < bytes; written += block.size()) {
      for (size_t i = 0; i < block.size(); i += 8) {
        const uint64_t r = random();
        std::memcpy(block.data() + i, &r, 8);
      }
      out.write(block.data(), static_cast<std::streamsize>(std::min(block.size(), bytes - written)));
    }
    return path;
  }
  static std::string sha256Of(const fs::path& path) { return process::copy::sha256Hex(readFile(path)); }
  std::string copy(const fs::path& source, const std::string& toPath, const std::string& fileName) {
    return central_->submit(R"([{"toNode":"ship1","method":"REQCopySrc","data":[")" + source.string() +
                            R"(","ship2",")" + toPath + R"("],"fileName":")" + fileName + R"("}])");
  }
  // Bytes of ship2's part files so far.
  uint64_t arrivedSoFar() {
    uint64_t bytes = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root_ / "ship2-copies", ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file()) bytes += it->file_size();
    }
    return bytes;
  }

  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
  StewardNode* ship2_ = nullptr;
};

TEST_F(Copy, FiftyMebibytesCrossABrokerOutageAndAReceiverKillAndArriveWholeOnce) {
  const size_t size = 50 * 1024 * 1024;
  const fs::path source = randomFile("big", size);
  fs::permissions(source, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  const auto answer = copy(source, "incoming/big.bin", "copy.log");
  ASSERT_TRUE(accepted(answer)) << answer;
  const auto replies = central_->dataFolder() / "ship1" / "copy.log";
  ASSERT_TRUE(waitFor([&] { return readFile(replies).find("copy 1: ") != std::string::npos; }, 30s)) << central_->errorLog();

  // A few chunks in, the broker goes away for 10 s.
  ASSERT_TRUE(waitFor([&] { return arrivedSoFar() > 0; }, 60s)) << ship2_->log();
  nats_->stop();
  std::this_thread::sleep_for(10s);
  nats_->start();
  // Further on, the receiver is killed once.
  const uint64_t before = arrivedSoFar();
  ASSERT_TRUE(waitFor([&] { return arrivedSoFar() > before + 4 * 256 * 1024; }, 60s)) << ship2_->log();
  ASSERT_LT(arrivedSoFar(), size) << "the copy ended before the receiver could be killed mid-way";
  ship2_->kill9();
  std::this_thread::sleep_for(1s);
  ship2_->start();
  ASSERT_TRUE(ship2_->waitReady());

  const fs::path arrived = root_ / "ship2-copies" / "incoming" / "big.bin";
  ASSERT_TRUE(waitFor([&] { return readFile(replies).find("arrived at ship2") != std::string::npos; }, 120s))
      << readFile(replies) << central_->errorLog();
  EXPECT_EQ(fs::file_size(arrived), size);
  EXPECT_EQ(sha256Of(arrived), sha256Of(source));
  EXPECT_EQ(fs::status(arrived).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  // Once: one final answer, nothing else left in the folder.
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(occurrences(readFile(replies), "arrived at ship2"), 1u) << readFile(replies);
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root_ / "ship2-copies")) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST_F(Copy, ADestinationOutsideTheCopyFolderIsRefusedAndNothingIsWritten) {
  const fs::path source = randomFile("small", 10000);
  for (const std::string& outside : {std::string("../escape.bin"), (root_ / "escape.bin").string()}) {
    ASSERT_TRUE(accepted(copy(source, outside, "refused.log")));
  }
  EXPECT_TRUE(waitFor([&] { return occurrences(central_->errorLog(), "is not inside") + occurrences(central_->errorLog(), "climbs out of") >= 2; }, 30s))
      << central_->errorLog();
  EXPECT_FALSE(fs::exists(root_ / "escape.bin"));
  // A link planted in the copy folder is not followed either.
  fs::create_directories(root_ / "ship2-copies");
  fs::create_directory_symlink(root_, root_ / "ship2-copies" / "link");
  ASSERT_TRUE(accepted(copy(source, "link/escape.bin", "link.log")));
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("symbolic link") != std::string::npos; }, 30s))
      << central_->errorLog();
  EXPECT_FALSE(fs::exists(root_ / "escape.bin"));
  // And a small one in the folder arrives.
  ASSERT_TRUE(accepted(copy(source, "small.bin", "ok.log")));
  EXPECT_TRUE(waitFor([&] { return readFile(central_->dataFolder() / "ship1" / "ok.log").find("arrived at ship2") != std::string::npos; }, 30s))
      << central_->errorLog();
  EXPECT_EQ(sha256Of(root_ / "ship2-copies" / "small.bin"), sha256Of(source));
  // steward-ctl cp says where the copy stands and how it ended.
  auto r = ctl(*central_, {"cp", "ship1:" + source.string(), "ship2:again/small.bin"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("in 1 chunk(s) of 262144 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("arrived at ship2:" + (root_ / "ship2-copies" / "again" / "small.bin").string()), std::string::npos) << r.out;
  EXPECT_EQ(sha256Of(root_ / "ship2-copies" / "again" / "small.bin"), sha256Of(source));
  r = ctl(*central_, {"cp", "ship1:" + source.string(), "ship2:../out.bin"});
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("climbs out of"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace steward::e2e
