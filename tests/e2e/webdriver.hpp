// A WebDriver client for end-to-end tests of pages: chromedriver (Debian's chromium-driver) and a
// headless Debian Chromium, started in a folder of the test's and stopped with this object.
#pragma once

#include "tests/e2e/harness.hpp"

#include <memory>
#include <optional>
#include <string>

namespace steward::e2e {

class WebDriver {
 public:
  // Whether Chromium and chromedriver are installed (scripts/common.sh installs them).
  static bool available();
  // Starts chromedriver on a free port and a headless Chromium session; logs go to `dir`.
  explicit WebDriver(const fs::path& dir);
  ~WebDriver();

  void go(const std::string& url);
  // Runs `script` in the page (WebDriver's execute/sync; `return …` gives a value) and gives the
  // value as JSON text.
  std::string run(const std::string& script);
  // The first element `css` selects, or "" when none does.
  std::string find(const std::string& css);
  void clear(const std::string& element);
  void type(const std::string& element, const std::string& text);
  void click(const std::string& element);
  // A PNG of the window as it is.
  std::string screenshot();

 private:
  // A WebDriver command: `body` (JSON) to session path `path`; the answer's "value" as JSON text.
  std::string call(const std::string& method, const std::string& path, const std::string& body = "{}");

  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> driver_;
  std::string session_;
};

}  // namespace steward::e2e
