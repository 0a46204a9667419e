#include "core/input/socket_input.hpp"

#include "tests/support/posix.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

using namespace steward;
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


namespace {

// A socket input with small limits, answering "taken <bytes>".
class LimitedSocketInput : public ::testing::Test {
 protected:
  void start(net::ConnectionLimits limits) {
    dir_ = std::filesystem::temp_directory_path() / ("sock-limits-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    input_ = std::make_unique<input::SocketInput>(
        io_, dir_ / "steward.sock",
        input::answerOnce([](std::string_view in) { return "taken " + std::to_string(in.size()); }), limits);
    ASSERT_TRUE(input_->start().ok());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    input_->stop();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    input_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Reads one line from `fd` (blocking).
  static std::string readLine(int fd) {
    std::string line;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
    return line;
  }
  std::filesystem::path socket() const { return dir_ / "steward.sock"; }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::filesystem::path dir_;
  std::unique_ptr<input::SocketInput> input_;
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_F(LimitedSocketInput, TooDeepIsRefusedAtTheLimitWithoutWaitingForTheRest) {
  start({});
  const int fd = steward::testing::connectUnix(socket());
  ASSERT_GE(fd, 0);
  const std::string deep(100, '[');
  ASSERT_EQ(::write(fd, deep.data(), deep.size()), 100);
  const std::string answer = readLine(fd);
  ::close(fd);
  EXPECT_NE(answer.find("input nests deeper than 32 levels of arrays and objects (at byte 32)"), std::string::npos)
      << answer;
}

TEST_F(LimitedSocketInput, AnInputOverTheSizeLimitIsRefused) {
  start({.maxInputBytes = 100});
  const std::string answer = unixRoundTrip(socket(), "[" + std::string(200, ' '), false);
  EXPECT_NE(answer.find("input is larger than 100 bytes"), std::string::npos) << answer;
  EXPECT_EQ(unixRoundTrip(socket(), "[1]", false), "taken 3\n");
}

TEST_F(LimitedSocketInput, AnInputNotCompleteWithinItsTimeIsRefusedWhateverTrickles) {
  start({.inputTimeout = std::chrono::seconds(1)});
  const int fd = steward::testing::connectUnix(socket());
  ASSERT_GE(fd, 0);
  // A byte every 200 ms for up to 10 s: a deadline reset by every byte would not expire before
  // the trickle ends, so the answer must come while it still goes on.
  std::atomic<bool> answered{false};
  std::atomic<int> sent{0};
  std::thread trickle([&] {
    for (int i = 0; i < 50 && !answered; ++i) {
      if (::send(fd, " ", 1, MSG_NOSIGNAL) != 1) return;
      ++sent;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  const std::string answer = readLine(fd);
  answered = true;
  const int sentBeforeAnswer = sent;
  trickle.join();
  ::close(fd);
  EXPECT_NE(answer.find("input timed out: no complete JSON within 1 s"), std::string::npos) << answer;
  EXPECT_LT(sentBeforeAnswer, 50) << "the deadline waited for the trickle to end";
}

TEST_F(LimitedSocketInput, AFullListenerClosesTheSlowestSenderToServeANewClient) {
  start({.maxConnections = 2});
  const int first = steward::testing::connectUnix(socket());
  const int second = steward::testing::connectUnix(socket());
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  ASSERT_EQ(::write(first, "[", 1), 1);
  ASSERT_EQ(::write(second, "[", 1), 1);
  // Both taken in, in this order: their bytes are held.
  for (int i = 0; i < 500 && input_->connections().buffered() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(input_->connections().buffered(), 2u);
  EXPECT_EQ(unixRoundTrip(socket(), "[1]", false), "taken 3\n");
  const std::string evicted = readLine(first);
  EXPECT_NE(evicted.find("too many connections (2): this one was the slowest to send its input"), std::string::npos)
      << evicted;
  ::close(first);
  ::close(second);
}
