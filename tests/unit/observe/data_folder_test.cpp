#include "core/observe/data_folder.hpp"

#include "tests/support/posix.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>

#include <fstream>
#include <thread>

using namespace steward;
namespace fs = std::filesystem;

namespace {

class DataFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("datafolder-test-" + std::to_string(getpid()));
    fs::create_directories(root_ / "data" / "ship1");
    std::ofstream(root_ / "data" / "ship1" / "reply.log") << "hello from ship1\n";
    std::ofstream(root_ / "secret.txt") << "outside\n";
    fs::create_symlink(root_ / "secret.txt", root_ / "data" / "leak.txt");
    fs::create_symlink(root_, root_ / "data" / "up");
    server_ = std::make_unique<observe::DataFolderServer>(io_, root_ / "data", "127.0.0.1:0");
    ASSERT_TRUE(server_->start().ok());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    fs::remove_all(root_);
  }
  // A raw request, so no client library tidies the path first.
  std::string raw(const std::string& path) {
    return steward::testing::tcpRoundTrip(
        server_->port(), "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        false);
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  fs::path root_;
  std::unique_ptr<observe::DataFolderServer> server_;
};

}  // namespace

TEST_F(DataFolder, ServesFilesAndListsFolders) {
  httplib::Client client("127.0.0.1", server_->port());
  auto file = client.Get("/ship1/reply.log");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->status, 200);
  EXPECT_EQ(file->body, "hello from ship1\n");
  auto list = client.Get("/");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_NE(list->body.find("<a href=\"ship1/\">ship1/</a>"), std::string::npos) << list->body;
  auto folder = client.Get("/ship1/");
  ASSERT_TRUE(folder);
  EXPECT_NE(folder->body.find("reply.log"), std::string::npos) << folder->body;
  auto redirect = client.Get("/ship1");
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->status, 302);
  EXPECT_EQ(redirect->get_header_value("Location"), "ship1/");
  auto missing = client.Get("/nothing.log");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(DataFolder, RefusesDotDotInAnyForm) {
  for (const char* path : {"/../secret.txt", "/ship1/../../secret.txt", "/%2e%2e/secret.txt",
                           "/ship1/%2E%2E/%2e%2e/secret.txt", "/..", "/ship1/.."}) {
    const std::string answer = raw(path);
    EXPECT_NE(answer.find(" 403 "), std::string::npos) << path << ": " << answer;
    EXPECT_EQ(answer.find("outside"), std::string::npos) << path;
  }
}

TEST_F(DataFolder, DoesNotFollowLinksOutOfTheFolder) {
  for (const char* path : {"/leak.txt", "/up/secret.txt", "/up/"}) {
    const std::string answer = raw(path);
    EXPECT_NE(answer.find(" 404 "), std::string::npos) << path << ": " << answer;
    EXPECT_EQ(answer.find("outside"), std::string::npos) << path;
  }
}

TEST_F(DataFolder, IsReadOnly) {
  httplib::Client client("127.0.0.1", server_->port());
  auto put = client.Put("/ship1/reply.log", "overwritten", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_NE(put->status, 200);
  auto del = client.Delete("/ship1/reply.log");
  ASSERT_TRUE(del);
  EXPECT_NE(del->status, 200);
  std::ifstream in(root_ / "data" / "ship1" / "reply.log");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "hello from ship1\n");
}

TEST(DataFolderStart, BadAddressOrFolderIsAClearError) {
  boost::asio::io_context io;
  observe::DataFolderServer noPort(io, "/tmp", "localhost");
  EXPECT_NE(noPort.start().error().message.find("exposeDataFolder: \"localhost\" is not host:port"),
            std::string::npos);
  observe::DataFolderServer noFolder(io, "/no/such/folder", "127.0.0.1:0");
  EXPECT_NE(noFolder.start().error().message.find("cannot open /no/such/folder"), std::string::npos);
}
