#include "tests/e2e/webdriver.hpp"

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>

#include <stdexcept>
#include <thread>

namespace steward::e2e {

namespace {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kDriver = "/usr/bin/chromedriver";

std::string quoted(const std::string& text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string valueOf(const std::string& answer) {
  rapidjson::Document d;
  d.Parse(answer.c_str(), answer.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("value")) {
    throw std::runtime_error("webdriver answered: " + answer.substr(0, 500));
  }
  const auto& v = d["value"];
  if (v.IsObject() && v.HasMember("error")) {
    throw std::runtime_error("webdriver error: " + answer.substr(0, 500));
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  v.Accept(w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

bool WebDriver::available() { return fs::exists(kChromium) && fs::exists(kDriver); }

WebDriver::WebDriver(const fs::path& dir) {
  port_ = freePort();
  fs::create_directories(dir / "chromium");
  driver_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kDriver, "--port=" + std::to_string(port_), "--allowed-ips=127.0.0.1"},
      dir, dir / "chromedriver.log");
  const bool up = waitFor([&] {
    httplib::Client client("127.0.0.1", port_);
    return static_cast<bool>(client.Get("/status"));
  }, 15s);
  if (!up) throw std::runtime_error("chromedriver did not start");
  // Headless, as root in a container (no sandbox), and quiet on a machine without internet.
  const std::string options = R"({"capabilities":{"alwaysMatch":{"browserName":"chrome","goog:chromeOptions":{"binary":")" +
                              std::string(kChromium) + R"(","args":["--headless=new","--no-sandbox","--disable-gpu",)"
                              R"("--disable-dev-shm-usage","--no-first-run","--disable-background-networking",)"
                              R"("--disable-component-update","--disable-sync","--disable-quic","--window-size=1280,900",)"
                              R"("--user-data-dir=)" + (dir / "chromium").string() + R"("]}}}})";
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60, 0);
  auto answer = client.Post("/session", options, "application/json");
  if (!answer) throw std::runtime_error("chromedriver: no answer to a new session");
  rapidjson::Document d;
  d.Parse(answer->body.c_str());
  if (d.HasParseError() || !d.HasMember("value") || !d["value"].HasMember("sessionId")) {
    throw std::runtime_error("chromedriver refused a session: " + answer->body.substr(0, 500));
  }
  session_ = d["value"]["sessionId"].GetString();
}

WebDriver::~WebDriver() {
  if (!session_.empty()) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(15, 0);
    client.Delete("/session/" + session_);
  }
  if (driver_) driver_->terminate(5s);
}

std::string WebDriver::call(const std::string& method, const std::string& path, const std::string& body) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(30, 0);
  const std::string target = "/session/" + session_ + path;
  auto answer = method == "GET" ? client.Get(target) : client.Post(target, body, "application/json");
  if (!answer) throw std::runtime_error("chromedriver: no answer to " + method + " " + path);
  return valueOf(answer->body);
}

void WebDriver::go(const std::string& url) { call("POST", "/url", R"({"url":)" + quoted(url) + "}"); }

std::string WebDriver::run(const std::string& script) {
  return call("POST", "/execute/sync", R"({"script":)" + quoted(script) + R"(,"args":[]})");
}

std::string WebDriver::find(const std::string& css) {
  const std::string found = call("POST", "/elements", R"({"using":"css selector","value":)" + quoted(css) + "}");
  rapidjson::Document d;
  d.Parse(found.c_str());
  if (!d.IsArray() || d.Empty() || !d[0].IsObject() || d[0].MemberCount() == 0) return "";
  return d[0].MemberBegin()->value.GetString();
}

void WebDriver::clear(const std::string& element) { call("POST", "/element/" + element + "/clear"); }

void WebDriver::type(const std::string& element, const std::string& text) {
  call("POST", "/element/" + element + "/value", R"({"text":)" + quoted(text) + "}");
}

void WebDriver::click(const std::string& element) { call("POST", "/element/" + element + "/click"); }

std::string WebDriver::screenshot() {
  std::string base64 = call("GET", "/screenshot");
  base64 = base64.substr(1, base64.size() - 2);  // the JSON string's quotes
  std::string png(base64.size(), '\0');
  size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(png.data()), png.size(), base64.c_str(), base64.size(),
                        nullptr, &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    throw std::runtime_error("the screenshot is not base64");
  }
  png.resize(length);
  return png;
}

}  // namespace steward::e2e
