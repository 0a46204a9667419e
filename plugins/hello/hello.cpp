// REQHello: nodes say hello to central every startPubREQHello seconds. Central keeps the time it
// last heard from each node in <subscribersDataFolder>/hello-messages/last-seen.json:
//   {"ship1": {"lastSeen": "2026-11-24T21:30:05Z", "unixSeconds": 1795987805}, ...}
// The times are kept in memory; the file is a snapshot written at most once a second (and when
// the plugin stops), so 10,000 nodes do not cost a rewrite of the whole file per hello. While
// hellos keep coming it is at most a second behind; a hello after a quiet second is written at
// once.
#include <steward/plugin.hpp>
#include <steward/util.hpp>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

namespace {

namespace fs = std::filesystem;

class Hello {
 public:
  Hello(steward::sdk::Host host, std::string_view) : host_(host) {}
  ~Hello() {
    if (dirty_) (void)save();
  }

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call&) {
    if (!loaded_) {
      root_ = std::string(req.dataFolder());
      file_ = root_ / "hello-messages" / "last-seen.json";
      load();
    }
    lastSeen_[std::string(req.fromNode())] = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    dirty_ = true;
    const auto now = std::chrono::steady_clock::now();
    if (now - lastSave_ < std::chrono::seconds(1)) return steward::sdk::Status::ok();
    lastSave_ = now;
    return save();
  }

 private:
  // Keeps what an earlier run recorded; a damaged file is logged and started afresh.
  void load() {
    const fs::path& root = root_;
    const fs::path& file = file_;
    loaded_ = true;
    std::string error;
    steward::sdk::UniqueFd fd = steward::sdk::openBeneath(root, file, O_RDONLY, error);
    if (!fd.valid()) {
      if (errno != ENOENT) host_.warning("ignoring " + file.string() + ": " + error);
      return;
    }
    std::string text;
    char chunk[64 * 1024];
    for (ssize_t n; (n = ::read(fd.get(), chunk, sizeof chunk)) > 0 && text.size() < kMaxFileBytes;) {
      text.append(chunk, static_cast<size_t>(n));
    }
    // Iterative: the file is this plugin's own, but a damaged one must not take the node down.
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      host_.warning("ignoring damaged " + file.string());
      return;
    }
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
      if (it->value.IsObject() && it->value.HasMember("unixSeconds") &&
          it->value["unixSeconds"].IsInt64()) {
        lastSeen_[it->name.GetString()] = it->value["unixSeconds"].GetInt64();
      }
    }
  }

  // Written to a temporary file and renamed, so a reader never sees half a file.
  steward::sdk::Status save() {
    dirty_ = false;
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    for (const auto& [node, seconds] : lastSeen_) {
      w.Key(node.c_str());
      w.StartObject();
      w.Key("lastSeen");
      w.String(steward::sdk::utcTimestamp(std::chrono::system_clock::time_point{std::chrono::seconds{seconds}}).c_str());
      w.Key("unixSeconds");
      w.Int64(seconds);
      w.EndObject();
    }
    w.EndObject();
    std::string content(buffer.GetString(), buffer.GetSize());
    content.push_back('\n');
    return steward::sdk::writeFileBeneath(root_, file_, content, steward::sdk::WriteMode::replace);
  }

  static constexpr size_t kMaxFileBytes = 256 * 1024 * 1024;

  steward::sdk::Host host_;
  fs::path root_, file_;
  bool loaded_ = false;
  bool dirty_ = false;  // a time not in the file yet
  std::chrono::steady_clock::time_point lastSave_{};
  std::map<std::string, int64_t> lastSeen_;
};

}  // namespace

STEWARD_PLUGIN(Hello, "hello", "1.0.0",
               steward::sdk::event("REQHello", steward::sdk::Delivery::nack))
