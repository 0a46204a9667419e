// REQToFile and REQToFileAppend: write a reply's data to
// <subscribersDataFolder>/<directory>/<node that ran the method>/<fileName>.
//
// The request's replyOpts (checked by the sending node, and again here): "mode", the file's mode as
// an octal string ("0640"); REQToFileAppend also "timestamp": true, each line written starting with
// the UTC time, as "2026-12-02T10:00:00Z ".
#include <steward/plugin.hpp>
#include <steward/util.hpp>

#include <rapidjson/document.h>

#include <ctime>
#include <optional>

namespace {

struct Options {
  std::optional<mode_t> mode;
  bool timestamp = false;
};

// The options steward's own checks let through; anything else is an error naming it.
steward::sdk::Status readOptions(std::string_view json, bool append, Options& out) {
  if (json.empty()) return steward::sdk::Status::ok();
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return steward::sdk::Status::error("replyOpts is not a JSON object");
  for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
    const std::string name = it->name.GetString();
    const auto& v = it->value;
    if (name == "mode" && v.IsString()) {
      const std::string text = v.GetString();
      const bool octal = text.size() >= 3 && text.size() <= 4 && text.find_first_not_of("01234567") == std::string::npos;
      const auto mode = octal ? static_cast<mode_t>(std::stoul(text, nullptr, 8)) : mode_t{07777};
      if ((mode & ~mode_t{0666}) != 0 || (mode & 0600) != 0600) {
        return steward::sdk::Status::error("replyOpts.mode \"" + text + "\" is not a read-write file mode");
      }
      out.mode = mode;
    } else if (name == "timestamp" && append && v.IsBool()) {
      out.timestamp = v.GetBool();
    } else {
      return steward::sdk::Status::error("replyOpts." + name + " is not an option of " +
                                         std::string(append ? "REQToFileAppend" : "REQToFile"));
    }
  }
  return steward::sdk::Status::ok();
}

// `text` with the time at the start of each of its lines.
std::string stamped(const std::string& text) {
  char now[32];
  const std::time_t t = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ ", &utc);
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    const size_t stop = end == std::string::npos ? text.size() : end + 1;
    out += now;
    out.append(text, at, stop - at);
    at = stop;
  }
  return out;
}

class FileWriter {
 public:
  FileWriter(steward::sdk::Host, std::string_view method) : append_(method == "REQToFileAppend") {}

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call&) {
    Options options;
    if (auto s = readOptions(req.replyOptionsJson(), append_, options); !s.isOk()) return s;
    std::string content = steward::sdk::joinLines(req.data());
    if (!req.requestError().empty()) {
      content += "error: " + std::string(req.requestMethod()) + " (id " +
                 std::to_string(req.requestId()) + ") on " + std::string(req.fromNode()) +
                 ": " + std::string(req.requestError()) + "\n";
    }
    if (options.timestamp) content = stamped(content);
    return steward::sdk::writeFileBeneath(std::string(req.dataFolder()), std::string(req.outputPath()),
                                          content, append_ ? steward::sdk::WriteMode::append
                                                           : steward::sdk::WriteMode::truncate,
                                          options.mode);
  }

 private:
  bool append_;
};

}  // namespace

STEWARD_PLUGIN(FileWriter, "file", "1.0.0", steward::sdk::replyMethod("REQToFile"),
               steward::sdk::replyMethod("REQToFileAppend"))
