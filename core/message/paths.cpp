#include "core/message/paths.hpp"

#include "core/message/message.hpp"

#include <vector>

namespace steward::message {
namespace {

// Splits on "/" and drops empty and "." parts, so "/var/x/./y/" is {"var","x","y"}.
std::vector<std::string_view> parts(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const auto part = path.substr(start, end - start);
    if (!part.empty() && part != ".") out.push_back(part);
    start = end + 1;
  }
  return out;
}

}  // namespace

Status checkDirectory(std::string_view directory) {
  if (directory.find('\0') != std::string_view::npos) return Error{"must not contain NUL"};
  for (auto part : parts(directory)) {
    if (part == "..") {
      return Error{"\"" + std::string(directory) +
                   "\" contains \"..\"; a directory must stay inside the data folder"};
    }
  }
  return {};
}

Status checkFileName(std::string_view fileName) {
  if (fileName.empty()) return Error{"is empty"};
  if (fileName == "." || fileName == "..") {
    return Error{"\"" + std::string(fileName) + "\" is not a file name"};
  }
  if (fileName.find('/') != std::string_view::npos) {
    return Error{"\"" + std::string(fileName) + "\" must be a single name without '/'"};
  }
  if (fileName.find('\0') != std::string_view::npos) return Error{"must not contain NUL"};
  return {};
}

Result<std::filesystem::path> resolveOutputPath(const std::filesystem::path& dataFolder,
                                                std::string_view directory, std::string_view node,
                                                std::string_view fileName) {
  if (auto s = checkDirectory(directory); !s) return Error{"directory: " + s.error().message};
  if (auto s = checkNodeName(node); !s) return Error{"node: " + s.error().message};
  if (auto s = checkFileName(fileName); !s) return Error{"fileName: " + s.error().message};
  std::filesystem::path out = dataFolder;
  for (auto part : parts(directory)) out /= std::string(part);
  out /= std::string(node);
  out /= std::string(fileName);
  return out;
}

}  // namespace steward::message
