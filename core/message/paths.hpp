// Where a message's output may be written. No message can make a node write outside its data
// folder: ".." is refused anywhere, and an absolute directory is placed inside the data folder.
#pragma once

#include "core/util/result.hpp"

#include <filesystem>
#include <string_view>

namespace steward::message {

// A directory field: any depth, "/" separated, no ".." part, no NUL.
Status checkDirectory(std::string_view directory);
// A fileName field: one path part, not "." or "..", no "/" or NUL.
Status checkFileName(std::string_view fileName);

// <dataFolder>/<directory>/<node>/<fileName>, with directory's leading "/" and "." parts dropped.
Result<std::filesystem::path> resolveOutputPath(const std::filesystem::path& dataFolder,
                                                std::string_view directory, std::string_view node,
                                                std::string_view fileName);

}  // namespace steward::message
