// REQToConsole: print a reply's data on the daemon's standard output.
#include <steward/plugin.hpp>
#include <steward/util.hpp>

#include <unistd.h>

#include <string>

namespace {

class Console {
 public:
  Console(steward::sdk::Host, std::string_view) {}

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call&) {
    std::string text = steward::sdk::joinLines(req.data());
    if (!req.requestError().empty()) {
      text += "error from " + std::string(req.fromNode()) + ": " +
              std::string(req.requestError()) + "\n";
    }
    // One write call per message keeps concurrent messages from interleaving mid-line.
    std::string_view rest = text;
    while (!rest.empty()) {
      const ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
      if (n <= 0) return steward::sdk::Status::error("cannot write to standard output");
      rest.remove_prefix(static_cast<size_t>(n));
    }
    return steward::sdk::Status::ok();
  }
};

}  // namespace

STEWARD_PLUGIN(Console, "console", "1.0.0", steward::sdk::replyMethod("REQToConsole"))
