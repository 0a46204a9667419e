// The startup folder: message files a node sends at every start, in name order (the spec's
// "services at startup": a startProc, a message announcing the node), and what the three methods
// that manage it from afar do (REQStartupFolderList, REQStartupFolderWrite,
// REQStartupFolderRemove; own_methods.cpp).
//
// The folder is the operator's (startupFolder); anyone with a shell may have put things in it, so
// it is read as hostile: a file is read only if it is a regular file directly in the folder (a
// link is never followed), its name is a plain `<name>.json`, and it is at most kMaxFileBytes;
// everything else is skipped and said, naming the file.
#pragma once

#include "core/util/result.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace steward::process {

class StartupFolder {
 public:
  static constexpr size_t kMaxFileBytes = 256 * 1024;
  static constexpr size_t kMaxFiles = 256;

  struct File {
    std::string name;  // e.g. "10-start-tail.json"
    std::string text;
  };

  // An empty `folder`: the node has none, and each method says so.
  explicit StartupFolder(std::filesystem::path folder) : folder_(std::move(folder)) {}

  // A name a file may have: 1 to 64 letters, digits, '.', '_' or '-', not starting with '.', ending
  // in ".json" — no path, nothing hidden.
  static bool validName(std::string_view name);

  // The message files, in name order; what is passed over is said in `skipped`, one line each.
  std::vector<File> read(std::vector<std::string>& skipped) const;

  // A JSON array of {"name","bytes","modifiedUnixMs"}, in name order; skipped files are listed
  // with a "skipped" reason instead.
  Result<std::string> list() const;

  // Writes (or replaces) `name` with `text` whole (files::replace), mode 0640; the folder is made
  // (0750) when missing. The caller has checked that `text` is input the node takes.
  Result<std::string> write(std::string_view name, std::string_view text);

  // Removes every one of `names`, or none when one is not there or is not a valid name.
  Result<std::string> remove(const std::vector<std::string>& names);

 private:
  Status usable() const;
  std::filesystem::path folder_;
};

}  // namespace steward::process
