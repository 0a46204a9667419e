#include "core/process/facts.hpp"

#include "core/util/files.hpp"
#include "core/util/json.hpp"

#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <fstream>

namespace fs = std::filesystem;

namespace steward::process {

bool validFactKey(std::string_view key) {
  return !key.empty() && key.size() <= kMaxFactKey &&
         std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
         });
}

namespace {

std::string trimmed(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const size_t last = s.find_last_not_of(" \t\r");
  return std::string(s.substr(first, last - first + 1));
}

// The values of /etc/os-release (its first 100 lines), unquoted.
std::map<std::string, std::string, std::less<>> osRelease() {
  std::map<std::string, std::string, std::less<>> values;
  std::ifstream in("/etc/os-release");
  std::string line;
  for (int lines = 0; lines < 100 && std::getline(in, line); ++lines) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string value = trimmed(std::string_view(line).substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    values[line.substr(0, eq)] = value.substr(0, kMaxFactValue);
  }
  return values;
}

}  // namespace

Facts machineFacts() {
  Facts facts;
  const auto release = osRelease();
  for (const auto& [fact, key] : {std::pair{"os", "PRETTY_NAME"}, {"osId", "ID"}, {"osVersion", "VERSION_ID"}}) {
    if (auto it = release.find(key); it != release.end() && !it->second.empty()) facts[fact] = it->second;
  }
  utsname u{};
  if (::uname(&u) == 0) {
    facts["kernel"] = u.release;
    facts["arch"] = u.machine;
    facts["hostname"] = std::string(u.nodename).substr(0, kMaxFactValue);
  }
  facts["stewardVersion"] = STEWARD_VERSION;
  struct sysinfo si {};
  if (::sysinfo(&si) == 0) facts["uptimeSeconds"] = std::to_string(si.uptime);
  return facts;
}

Facts folderFacts(const fs::path& folder, std::vector<std::string>& problems) {
  Facts facts;
  if (folder.empty()) return facts;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    files.push_back(it->path());
    if (files.size() > kMaxFactFiles) break;
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    problems.push_back("facts folder " + folder.string() + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  if (files.size() > kMaxFactFiles) {
    problems.push_back("facts folder " + folder.string() + ": more than " + std::to_string(kMaxFactFiles) +
                       " files; only the first are read");
    files.resize(kMaxFactFiles);
  }
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    if (name.empty() || name[0] == '.' || name.back() == '~') continue;  // hidden, editor backups
    auto read = files::readRegular(file, kMaxFactFileBytes);
    if (!read) {
      problems.push_back(file.string() + ": " + read.error().message);
      continue;
    }
    const std::string& text = read.value();
    size_t lineNo = 0;
    for (size_t at = 0; at < text.size();) {
      const size_t end = std::min(text.find('\n', at), text.size());
      const std::string line = trimmed(std::string_view(text).substr(at, end - at));
      at = end + 1;
      ++lineNo;
      if (line.empty() || line[0] == '#') continue;
      const std::string where = file.string() + ":" + std::to_string(lineNo) + ": ";
      const size_t eq = line.find('=');
      if (eq == std::string::npos) {
        problems.push_back(where + "not key=value");
        continue;
      }
      const std::string key = trimmed(std::string_view(line).substr(0, eq));
      const std::string value = trimmed(std::string_view(line).substr(eq + 1));
      if (!validFactKey(key)) {
        problems.push_back(where + "a key is 1 to 64 letters, digits, '.', '_' or '-'");
      } else if (value.size() > kMaxFactValue) {
        problems.push_back(where + "the value of " + key + " is longer than " + std::to_string(kMaxFactValue) + " bytes");
      } else if (facts.size() >= kMaxFacts && facts.count(key) == 0) {
        problems.push_back(where + "more than " + std::to_string(kMaxFacts) + " facts; " + key + " skipped");
      } else {
        facts[key] = value;
      }
    }
  }
  return facts;
}

std::string encodeStatus(const NodeStatus& status) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("helloSeconds");
  w.Int64(status.helloSeconds);
  w.Key("inbox");
  w.Uint64(status.inbox);
  w.Key("outbox");
  w.Uint64(status.outbox);
  w.Key("methods");
  w.StartArray();
  for (const auto& m : status.methods) w.String(m.c_str(), static_cast<rapidjson::SizeType>(m.size()));
  w.EndArray();
  w.Key("facts");
  json::writeStrings(w, status.facts);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<NodeStatus> readStatus(const rapidjson::Value& v) {
  if (!v.IsObject()) return Error{"the node's status is not a JSON object"};
  NodeStatus status;
  for (const auto& member : v.GetObject()) {
    const std::string_view key(member.name.GetString(), member.name.GetStringLength());
    const auto& value = member.value;
    if (key == "helloSeconds") {
      if (!value.IsInt64() || value.GetInt64() < 0) return Error{"status.helloSeconds must be a whole number of seconds"};
      status.helloSeconds = value.GetInt64();
    } else if (key == "inbox" || key == "outbox") {
      if (!value.IsUint64()) return Error{"status." + std::string(key) + " must be a count"};
      (key == "inbox" ? status.inbox : status.outbox) = value.GetUint64();
    } else if (key == "methods") {
      if (!value.IsArray() || value.Size() > kMaxStatusMethods) {
        return Error{"status.methods must be an array of at most " + std::to_string(kMaxStatusMethods) + " method names"};
      }
      for (const auto& m : value.GetArray()) {
        if (!m.IsString() || !validFactKey(std::string_view(m.GetString(), m.GetStringLength()))) {
          return Error{"status.methods must hold method names"};
        }
        status.methods.emplace_back(m.GetString(), m.GetStringLength());
      }
    } else if (key == "facts") {
      if (!value.IsObject()) return Error{"status.facts must be an object of strings"};
      if (value.MemberCount() > kMaxFacts) return Error{"status.facts has more than " + std::to_string(kMaxFacts) + " facts"};
      for (const auto& fact : value.GetObject()) {
        const std::string_view name(fact.name.GetString(), fact.name.GetStringLength());
        if (!validFactKey(name)) return Error{"status.facts: \"" + std::string(name.substr(0, kMaxFactKey)) + "\" is not a fact name"};
        if (!fact.value.IsString() || fact.value.GetStringLength() > kMaxFactValue) {
          return Error{"status.facts." + std::string(name) + " must be a string of at most " + std::to_string(kMaxFactValue) + " bytes"};
        }
        status.facts.emplace(std::string(name), std::string(fact.value.GetString(), fact.value.GetStringLength()));
      }
    }
    // Other keys are a newer node's; they are passed over.
  }
  return status;
}

Result<NodeStatus> decodeStatus(std::string_view text) {
  auto parsed = json::parse(text, "the node's status", {.maxBytes = kMaxStatusBytes, .maxDepth = 4});
  if (!parsed) return parsed.error();
  return readStatus(parsed.value());
}

}  // namespace steward::process
