#include "core/input/operator_input.hpp"

#include "tests/support/posix.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <thread>

using namespace steward;
using process::ReplyNotice;
using process::ReplyWatcher;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    out.push_back(text.substr(start, nl - start));
  }
  return out;
}

// A socket input whose "node" is a test double: it records what was submitted and hands the
// watcher to the test, which plays the replies.
class OperatorInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("opin-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    input_ = std::make_unique<input::SocketInput>(
        io_, dir_ / "steward.sock",
        input::operatorInput([this](std::string_view in,
                                    const std::shared_ptr<ReplyWatcher>& watcher)
                                 -> Result<std::vector<uint64_t>> {
          submitted_.emplace_back(in);
          watcher_ = watcher;
          if (in.find("refuse") != std::string_view::npos) return Error{"message 0: refused"};
          // A reply that races ahead of the ids line.
          if (watcher) (*watcher)(ReplyNotice{7, "ship1", "REQCliCommand", {"early"}, "", false});
          return std::vector<uint64_t>{7, 8};
        }));
    ASSERT_TRUE(input_->start().ok());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    if (player_.joinable()) player_.join();
    io_.stop();
    for (auto& t : threads_) t.join();
    input_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string exchange(const std::string& input) {
    return steward::testing::unixRoundTrip(dir_ / "steward.sock", input, false);
  }

  boost::asio::io_context io_;
  std::filesystem::path dir_;
  std::unique_ptr<input::SocketInput> input_;
  std::vector<std::string> submitted_;
  std::weak_ptr<ReplyWatcher> watcher_;
  std::thread player_;
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_F(OperatorInputTest, AnArrayIsSubmittedAsItIsAndAnsweredWithOneLine) {
  EXPECT_EQ(exchange("[{\"toNode\":\"a\"}]"), "{\"ok\":true,\"ids\":[7,8]}\n");
  ASSERT_EQ(submitted_.size(), 1u);
  EXPECT_EQ(submitted_[0], "[{\"toNode\":\"a\"}]");
  EXPECT_TRUE(watcher_.expired());
}

TEST_F(OperatorInputTest, FollowStreamsEveryReplyAfterTheIdsAndEndsWhenAllAreFinal) {
  std::atomic<bool> started{false};
  player_ = std::thread([&] {
    for (int i = 0; i < 500 && watcher_.expired(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (auto w = watcher_.lock()) {
      (*w)(ReplyNotice{7, "ship1", "REQCliCommand", {"up 3 days\n"}, "", true});
      (*w)(ReplyNotice{8, "ship2", "REQCliCommand", {}, "exit status 1", true, Code::methodFailed});
    }
    started = true;
  });
  const auto got = lines(exchange(R"({"messages":[{"toNode":"a"}],"follow":true})"));
  player_.join();
  ASSERT_TRUE(started);
  ASSERT_EQ(submitted_.size(), 1u);
  EXPECT_EQ(submitted_[0], R"([{"toNode":"a"}])");
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], R"({"ok":true,"ids":[7,8]})");
  EXPECT_EQ(got[1], R"({"requestId":7,"node":"ship1","method":"REQCliCommand","data":["early"],"error":"","final":false})");
  EXPECT_EQ(got[2], R"({"requestId":7,"node":"ship1","method":"REQCliCommand","data":["up 3 days\n"],"error":"","final":true})");
  EXPECT_EQ(got[3], R"({"requestId":8,"node":"ship2","method":"REQCliCommand","data":[],"error":"exit status 1","final":true,"code":"methodFailed"})");
  EXPECT_EQ(got[4], R"({"done":true})");
}

TEST_F(OperatorInputTest, FollowEndsAfterItsTimeoutAndTheWatchIsReleased) {
  const auto started = std::chrono::steady_clock::now();
  const auto got =
      lines(exchange(R"({"messages":[{"toNode":"a"}],"follow":true,"timeoutSeconds":1})"));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
  ASSERT_EQ(got.size(), 2u);  // the ids and the early partial, no "done"
  EXPECT_EQ(got[0], R"({"ok":true,"ids":[7,8]})");
  for (int i = 0; i < 200 && !watcher_.expired(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(watcher_.expired());
}

TEST_F(OperatorInputTest, ObjectFormErrorsSayWhatIsWrong) {
  EXPECT_EQ(exchange(R"({"messages":[],"follow":"yes"})"),
            "{\"ok\":false,\"error\":\"\\\"follow\\\" must be true or false\"}\n");
  EXPECT_NE(exchange(R"({"messages":[],"tail":1})").find("unknown key \\\"tail\\\""),
            std::string::npos);
  EXPECT_NE(exchange(R"({"follow":true})").find("needs \\\"messages\\\""), std::string::npos);
  EXPECT_NE(exchange(R"({"messages":[],"follow":true,"timeoutSeconds":0})").find("timeoutSeconds"),
            std::string::npos);
  EXPECT_EQ(exchange(R"({"messages":["refuse"],"follow":true})"),
            "{\"ok\":false,\"error\":\"message 0: refused\"}\n");
  EXPECT_TRUE(submitted_.size() == 1u);
}
