#include "core/input/socket_input.hpp"

#include "tests/support/posix.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

using namespace steward;
using steward::input::completeJson;

TEST(CompleteJson, WaitsForTheWholeArray) {
  EXPECT_FALSE(completeJson(""));
  EXPECT_FALSE(completeJson("["));
  EXPECT_FALSE(completeJson("[{\"toNode\": \"sh"));
  EXPECT_FALSE(completeJson("[{\"a\":1},"));
  EXPECT_TRUE(completeJson("[{\"a\":1}]"));
  EXPECT_TRUE(completeJson("[{\"a\":\"]\"}]\n"));
}

TEST(CompleteJson, AnErrorBeforeTheEndIsCompleteSoItGetsReported) {
  EXPECT_TRUE(completeJson("[{\"a\" 1}]"));
  EXPECT_TRUE(completeJson("x"));
}

TEST(AnswerLine, ListsIdsOrTheError) {
  EXPECT_EQ(input::answerLine(std::vector<uint64_t>{1, 2}), R"({"ok":true,"ids":[1,2]})");
  EXPECT_EQ(input::answerLine(Result<std::vector<uint64_t>>(Error{"message 0: bad \"x\""})),
            R"({"ok":false,"error":"message 0: bad \"x\""})");
}

namespace {

using steward::testing::unixRoundTrip;

class SocketInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sock-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    input_ = std::make_unique<input::SocketInput>(
        io_, dir_ / "steward.sock", input::answerOnce([this](std::string_view in) {
          received_.emplace_back(in);
          return std::string("answer ") + std::to_string(received_.size());
        }));
    ASSERT_TRUE(input_->start().ok());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    io_.stop();
    thread_.join();
    input_.reset();
    std::filesystem::remove_all(dir_);
  }
  boost::asio::io_context io_;
  std::filesystem::path dir_;
  std::unique_ptr<input::SocketInput> input_;
  std::vector<std::string> received_;
  std::thread thread_;
};

}  // namespace

TEST_F(SocketInputTest, AnswersWhenTheClientHalfCloses) {
  EXPECT_EQ(unixRoundTrip(dir_ / "steward.sock", "[1", true), "answer 1\n");
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0], "[1");
}

TEST_F(SocketInputTest, AnswersAsSoonAsAWholeArrayArrivedLikeNcWithoutHalfClose) {
  EXPECT_EQ(unixRoundTrip(dir_ / "steward.sock", "[{\"a\":1}]\n", false), "answer 1\n");
  EXPECT_EQ(unixRoundTrip(dir_ / "steward.sock", "[]", false), "answer 2\n");
}

TEST_F(SocketInputTest, SocketIsForOwnerAndGroupOnly) {
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "steward.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660);
}

TEST(HostPort, ParsesAndNamesWhatIsWrong) {
  auto ok = input::parseHostPort("127.0.0.1:8080");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first, "127.0.0.1");
  EXPECT_EQ(ok->second, 8080);
  EXPECT_EQ(input::parseHostPort("127.0.0.1:0")->second, 0);
  EXPECT_NE(input::parseHostPort("localhost").error().message.find("is not host:port"), std::string::npos);
  EXPECT_NE(input::parseHostPort("h:70000").error().message.find("from 0 to 65535"), std::string::npos);
  EXPECT_FALSE(input::parseHostPort("h:").ok());
  EXPECT_FALSE(input::parseHostPort(":80").ok());
  EXPECT_FALSE(input::parseHostPort("h:8x").ok());
}
