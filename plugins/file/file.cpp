// REQToFile and REQToFileAppend: write a reply's data to
// <subscribersDataFolder>/<directory>/<node that ran the method>/<fileName>.
#include <steward/plugin.hpp>
#include <steward/util.hpp>

#include <mutex>

namespace {

class FileWriter {
 public:
  FileWriter(steward::sdk::Host, std::string_view method) : append_(method == "REQToFileAppend") {}

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call&) {
    std::string content = steward::sdk::joinLines(req.data());
    if (!req.requestError().empty()) {
      content += "error: " + std::string(req.requestMethod()) + " (id " +
                 std::to_string(req.requestId()) + ") on " + std::string(req.fromNode()) +
                 ": " + std::string(req.requestError()) + "\n";
    }
    return steward::sdk::writeFileBeneath(std::string(req.dataFolder()), std::string(req.outputPath()),
                                          content, append_ ? steward::sdk::WriteMode::append
                                                           : steward::sdk::WriteMode::truncate);
  }

 private:
  bool append_;
};

}  // namespace

STEWARD_PLUGIN(FileWriter, "file", "1.0.0", steward::sdk::replyMethod("REQToFile"),
               steward::sdk::replyMethod("REQToFileAppend"))
