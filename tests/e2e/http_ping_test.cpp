// REQHttpGet against a local HTTP server on 127.0.0.1, and REQPing / REQPong.
#include "tests/e2e/harness.hpp"

#include <httplib.h>

#include <thread>

namespace steward::e2e {
namespace {

class HttpGet : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    server_.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("<html>hello from the web</html>", "text/html");
    });
    server_.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content("not here", "text/plain");
    });
    server_.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(3s);
      res.set_content("too late", "text/plain");
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(2 * 1024 * 1024, 'x'), "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startSubREQHttpGet=central"});
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
    E2eTest::TearDown();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Sends a REQHttpGet and returns the reply file's content once it has arrived.
  std::string get(const std::string& data, const std::string& file, int methodTimeout = 10) {
    const std::string answer = central_->submit(
        R"([{"toNode":"ship1","method":"REQHttpGet","data":[)" + data + R"(],"fileName":")" + file +
        R"(","methodTimeout":)" + std::to_string(methodTimeout) + "}]");
    EXPECT_TRUE(accepted(answer)) << answer;
    const auto reply = central_->dataFolder() / "ship1" / file;
    waitFor([&] { return !readFile(reply).empty(); }, 30s);
    return readFile(reply);
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
};

TEST_F(HttpGet, TheBodyOfA200IsTheReply) {
  EXPECT_EQ(get("\"" + url("/ok") + "\"", "ok.html"), "<html>hello from the web</html>\n");
}

TEST_F(HttpGet, ANon2xxStatusIsAnErrorThatSaysSo) {
  const std::string reply = get("\"" + url("/missing") + "\"", "missing.html");
  EXPECT_NE(reply.find("HTTP status 404"), std::string::npos) << reply;
  EXPECT_TRUE(waitFor([&] { return central_->errorLog().find("HTTP status 404") != std::string::npos; }, 10s));
}

TEST_F(HttpGet, ASlowServerIsCutOffAtMethodTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const std::string reply = get("\"" + url("/slow") + "\"", "slow.html", 1);
  EXPECT_NE(reply.find(url("/slow")), std::string::npos) << reply;
  EXPECT_EQ(reply.find("too late"), std::string::npos) << reply;
  EXPECT_TRUE(reply.find("methodTimeout") != std::string::npos ||
              reply.find("cancelled") != std::string::npos) << reply;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s) << "the reply waited for the slow server";
}

TEST_F(HttpGet, ABodyOverTheLimitIsAnError) {
  const std::string reply = get("\"" + url("/big") + "\"", "big.html");
  EXPECT_NE(reply.find("body larger than the limit of 524288 bytes"), std::string::npos) << reply;
  const std::string small = get("\"" + url("/ok") + "\",\"10\"", "small.html");
  EXPECT_NE(small.find("body larger than the limit of 10 bytes"), std::string::npos) << small;
}

TEST_F(HttpGet, OnlyHttpAndHttpsAreFetched) {
  const std::string reply = get("\"file:///etc/hostname\"", "file.html");
  EXPECT_NE(reply.find("error: REQHttpGet"), std::string::npos) << reply;
  EXPECT_NE(reply.find("file"), std::string::npos) << reply;
}

class Ping : public E2eTest {};

TEST_F(Ping, APingIsRecordedByTheReceiverAndAnsweredWithAPong) {
  auto& central = startNode("central");
  auto& ship1 = startNode("ship1", {"--startSubREQPing=central"});
  ASSERT_TRUE(accepted(central.submit(
      R"([{"toNode":"ship1","method":"REQPing","directory":"ping","fileName":"ping.log"}])")));
  const auto pong = central.dataFolder() / "ping" / "ship1" / "ping.log";
  ASSERT_TRUE(waitFor([&] { return readFile(pong).find("pong received from ship1") != std::string::npos; }, 30s))
      << central.errorLog();
  EXPECT_NE(readFile(ship1.dataFolder() / "ping" / "central" / "ping.log").find("ping received from central"),
            std::string::npos);
}

}  // namespace
}  // namespace steward::e2e
