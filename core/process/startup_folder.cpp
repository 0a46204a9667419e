#include "core/process/startup_folder.hpp"

#include "core/util/files.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <system_error>

namespace fs = std::filesystem;

namespace steward::process {
namespace {

constexpr std::string_view kSuffix = ".json";

// The entries directly in `folder` whose names end in .json, in name order, at most `limit` + 1
// (the caller says when there are more).
std::vector<fs::path> entries(const fs::path& folder, size_t limit, std::error_code& ec) {
  std::vector<fs::path> out;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() >= kSuffix.size() && name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
      out.push_back(it->path());
      if (out.size() > limit) break;
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool StartupFolder::validName(std::string_view name) {
  if (name.size() <= kSuffix.size() || name.size() > 64 || name.front() == '.') return false;
  if (name.substr(name.size() - kSuffix.size()) != kSuffix) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

Status StartupFolder::usable() const {
  if (folder_.empty()) return Error{"this node has no startup folder (startupFolder is not set)", Code::badField};
  return {};
}

std::vector<StartupFolder::File> StartupFolder::read(std::vector<std::string>& skipped) const {
  std::vector<File> files;
  if (folder_.empty()) return files;
  std::error_code ec;
  auto paths = entries(folder_, kMaxFiles, ec);
  if (ec) {
    if (ec != std::errc::no_such_file_or_directory) skipped.push_back("startup folder " + folder_.string() + ": " + ec.message());
    return files;
  }
  if (paths.size() > kMaxFiles) {
    skipped.push_back("startup folder " + folder_.string() + ": more than " + std::to_string(kMaxFiles) +
                      " files; only the first are sent");
    paths.resize(kMaxFiles);
  }
  for (const auto& path : paths) {
    const std::string name = path.filename().string();
    if (!validName(name)) {
      skipped.push_back("startup file " + path.string() + ": the name is not 1 to 64 letters, digits, '.', '_' or '-' (skipped)");
      continue;
    }
    auto text = files::readRegular(path, kMaxFileBytes);
    if (!text) {
      skipped.push_back("startup file " + path.string() + ": " + text.error().message);
      continue;
    }
    files.push_back({name, std::move(text).value()});
  }
  return files;
}

Result<std::string> StartupFolder::list() const {
  if (auto s = usable(); !s) return s.error();
  std::error_code ec;
  auto paths = entries(folder_, kMaxFiles, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Error{"cannot list startup folder " + folder_.string() + ": " + ec.message()};
  }
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.StartArray();
  for (const auto& path : paths) {
    const std::string name = path.filename().string();
    w.StartObject();
    w.Key("name");
    w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
    const auto status = fs::symlink_status(path, ec);
    std::string skipped;
    if (!validName(name)) {
      skipped = "not a valid name";
    } else if (ec || !fs::is_regular_file(status)) {
      skipped = fs::is_symlink(status) ? "a link" : "not a regular file";
    } else if (const auto bytes = fs::file_size(path, ec); !ec) {
      w.Key("bytes");
      w.Uint64(bytes);
      if (bytes > kMaxFileBytes) skipped = "larger than " + std::to_string(kMaxFileBytes) + " bytes";
      const auto modified = fs::last_write_time(path, ec);
      if (!ec) {
        const auto since = std::chrono::file_clock::to_sys(modified).time_since_epoch();
        w.Key("modifiedUnixMs");
        w.Int64(std::chrono::duration_cast<std::chrono::milliseconds>(since).count());
      }
    }
    if (!skipped.empty()) {
      w.Key("skipped");
      w.String(skipped.c_str(), static_cast<rapidjson::SizeType>(skipped.size()));
    }
    w.EndObject();
  }
  w.EndArray();
  return std::string(out.GetString(), out.GetSize());
}

Result<std::string> StartupFolder::write(std::string_view name, std::string_view text) {
  if (auto s = usable(); !s) return s.error();
  if (!validName(name)) {
    return Error{"startup file name \"" + std::string(name.substr(0, 80)) +
                     "\": 1 to 64 letters, digits, '.', '_' or '-', ending in .json, not starting with '.'",
                 Code::badField};
  }
  if (text.size() > kMaxFileBytes) {
    return Error{"startup file " + std::string(name) + " is larger than " + std::to_string(kMaxFileBytes) + " bytes",
                 Code::badField};
  }
  std::error_code ec;
  if (!fs::exists(folder_, ec)) {
    fs::create_directories(folder_, ec);
    if (ec) return Error{"cannot make startup folder " + folder_.string() + ": " + ec.message()};
    fs::permissions(folder_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  }
  const fs::path file = folder_ / std::string(name);
  const bool replacing = fs::exists(fs::symlink_status(file, ec));
  if (!replacing && entries(folder_, kMaxFiles, ec).size() >= kMaxFiles) {
    return Error{"startup folder " + folder_.string() + " already has " + std::to_string(kMaxFiles) + " files"};
  }
  if (auto s = files::replace(file, text, 0640); !s) return s.error();
  return std::string(replacing ? "replaced " : "wrote ") + "startup file " + file.string() + " (" +
         std::to_string(text.size()) + " bytes); it is sent at every start";
}

Result<std::string> StartupFolder::remove(const std::vector<std::string>& names) {
  if (auto s = usable(); !s) return s.error();
  if (names.empty()) return Error{"name the startup files to remove (data)", Code::badField};
  std::error_code ec;
  for (const auto& name : names) {
    if (!validName(name)) return Error{"\"" + name.substr(0, 80) + "\" is not a startup file name", Code::badField};
    if (!fs::exists(fs::symlink_status(folder_ / name, ec))) {
      return Error{"there is no startup file " + name + " in " + folder_.string() + "; nothing removed"};
    }
  }
  std::string removed;
  for (const auto& name : names) {
    if (!fs::remove(folder_ / name, ec) && ec) {
      return Error{"cannot remove startup file " + name + ": " + ec.message() +
                   (removed.empty() ? std::string() : " (removed before it:" + removed + ")")};
    }
    removed += " " + name;
  }
  return "removed" + removed;
}

}  // namespace steward::process
