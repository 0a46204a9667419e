// Central's fleet view: its API behind the token and the loopback Host, and the page driven in a
// real headless Chromium (Debian's chromium and chromium-driver) against three real daemons: the
// nodes are listed, and a command sent from the form shows every node's result. A screenshot of
// the page is kept in <build>/test-artifacts/fleet-view.png.
#include "tests/e2e/harness.hpp"
#include "tests/e2e/webdriver.hpp"

#include <httplib.h>

#include <fstream>

namespace steward::e2e {
namespace {

class FleetView : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    port_ = freePort();
    central_ = &startNode("central", {"--fleetViewListener=127.0.0.1:" + std::to_string(port_)});
    for (const std::string name : {"ship1", "ship2", "ship3"}) {
      const fs::path facts = root_ / (name + "-facts");
      fs::create_directories(facts);
      std::ofstream(facts / "role") << "role=" << (name == "ship3" ? "web" : "db") << "\n";
      startNode(name, {"--startSubREQCliCommand=central", "--startPubREQHello=1", "--factsFolder=" + facts.string()});
    }
    ASSERT_TRUE(waitFor([&] { return fs::exists(central_->dir() / "db" / "fleet-view.token"); }, 10s));
    std::getline(std::ifstream(central_->dir() / "db" / "fleet-view.token"), token_);
    ASSERT_GE(token_.size(), 16u);
    ASSERT_TRUE(waitFor([&] {
      auto r = get("/api/fleet");
      return r && occurrences(r->body, "\"online\":true") >= 3;
    }, 20s)) << central_->log();
  }
  // A client that waits long enough for a daemon under a sanitizer on a busy machine.
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c;
  }
  httplib::Result get(const std::string& path, const std::string& host = "") {
    httplib::Client client = this->client();
    httplib::Headers headers{{"Authorization", "Bearer " + token_}};
    if (!host.empty()) headers.emplace("Host", host);
    return client.Get(path, headers);
  }

  uint16_t port_ = 0;
  StewardNode* central_ = nullptr;
  std::string token_;
};

TEST_F(FleetView, TheApiNeedsItsTokenAndItsOwnLoopbackNameAndRunsACommandOnATarget) {
  httplib::Client client = this->client();
  auto r = client.Get("/api/fleet");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = client.Get("/api/fleet", {{"Authorization", "Bearer " + std::string(token_.size(), 'x')}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // A page of another site whose name points here (DNS rebinding) sends its own Host.
  r = get("/api/fleet", "evil.example:" + std::to_string(port_));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = get("/api/fleet");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find(R"("node":"ship2")"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find(R"("queue":{"node":"central")"), std::string::npos) << r->body;
  // The page itself holds no data and comes with a strict policy.
  r = client.Get("/");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);

  httplib::Headers auth{{"Authorization", "Bearer " + token_}};
  r = client.Post("/api/run", auth, R"J({"target":"ship*","where":"role=db","command":"echo from $(hostname >/dev/null; echo node)"})J",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_NE(r->body.find(R"("nodes":["ship1","ship2"])"), std::string::npos) << r->body;
  ASSERT_TRUE(waitFor([&] {
    auto status = get("/api/run/1");
    return status && occurrences(status->body, R"("state":"ok","output":"from node\n")") == 2;
  }, 60s));
  r = client.Post("/api/run", auth, R"({"target":"boat*","command":"true"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("no node matches boat*"), std::string::npos) << r->body;
  r = client.Post("/api/run", auth, R"({"target":"ship1","command":""})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(FleetView, APageInHeadlessChromiumListsTheNodesAndShowsEachNodesResult) {
  if (!WebDriver::available()) GTEST_SKIP() << "Debian's chromium and chromium-driver are not installed";
  WebDriver browser(root_ / "browser");
  browser.go("http://127.0.0.1:" + std::to_string(port_) + "/#token=" + token_);
  const std::string rows = "return Array.from(document.querySelectorAll('#nodes tbody tr'))"
                           ".map(r => r.dataset.node + ':' + r.dataset.state).join(',')";
  ASSERT_TRUE(waitFor([&] {
    const std::string listed = browser.run(rows);
    return occurrences(listed, ":online") >= 3;
  }, 20s)) << browser.run(rows);
  // The token left the address bar once it was taken.
  EXPECT_EQ(browser.run("return location.hash"), "\"\"");

  const std::string command = browser.find("#command");
  ASSERT_FALSE(command.empty());
  browser.type(command, "echo fleet view says hi");
  const std::string target = browser.find("#target");
  browser.clear(target);
  browser.type(target, "ship*");
  browser.click(browser.find("#send"));
  const std::string results = "return Array.from(document.querySelectorAll('#results tbody tr'))"
                              ".map(r => r.dataset.node + ':' + r.dataset.state + ':' + r.querySelector('pre').textContent.trim()).join('|')";
  ASSERT_TRUE(waitFor([&] {
    return occurrences(browser.run(results), ":ok:fleet view says hi") == 3;
  }, 30s)) << browser.run(results);
  for (const char* ship : {"ship1", "ship2", "ship3"}) {
    EXPECT_NE(browser.run(results).find(std::string(ship) + ":ok:fleet view says hi"), std::string::npos);
  }

  const std::string png = browser.screenshot();
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const fs::path artifacts = fs::path(STEWARD_BUILD_DIR) / "test-artifacts";
  fs::create_directories(artifacts);
  std::ofstream(artifacts / "fleet-view.png", std::ios::binary) << png;
}

}  // namespace
}  // namespace steward::e2e
