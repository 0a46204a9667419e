// REQErrorLog: central's error log. Every error a node reports is appended as one line,
// "<UTC time> <node>: <text>", to <subscribersDataFolder>/errorLog/errors.log.
#include <steward/plugin.hpp>
#include <steward/util.hpp>

#include <filesystem>

namespace {

class ErrorLog {
 public:
  ErrorLog(steward::sdk::Host, std::string_view) {}

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call&) {
    std::string line = steward::sdk::utcTimestamp() + " " + std::string(req.fromNode()) + ":";
    for (auto d : req.data()) {
      line.push_back(' ');
      for (char c : d) line.push_back(c == '\n' ? ' ' : c);  // one error, one line
    }
    line.push_back('\n');
    const auto path = std::filesystem::path(std::string(req.dataFolder())) / "errorLog" / "errors.log";
    return steward::sdk::writeFileBeneath(std::string(req.dataFolder()), path, line,
                                          steward::sdk::WriteMode::append);
  }
};

}  // namespace

STEWARD_PLUGIN(ErrorLog, "errorlog", "1.0.0", steward::sdk::event("REQErrorLog"))
