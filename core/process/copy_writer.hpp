// The receiving side of a file copy (REQCopyDst, served by the node): each chunk is written at its
// place in a part file beside the destination; the last one is checked against the whole file's
// sha256, given the file's mode, and renamed into place. Writing a chunk again writes the same
// bytes at the same place, so a chunk whose run a crash interrupted simply runs again (the method
// is marked rerunnable), and the file arrives once.
//
// The destination is confined to copyFolder: a relative path is taken within it, an absolute one
// must lie inside it, ".." is refused, and no link below the folder is followed at any level.
#pragma once

#include "core/process/copy_chunk.hpp"

#include <filesystem>
#include <string>

namespace steward::process {

class CopyWriter {
 public:
  // `sync`: each chunk is synced to disk before it is answered (syncWrites).
  CopyWriter(std::filesystem::path folder, uint64_t maxBytes, bool sync)
      : folder_(std::move(folder)), maxBytes_(maxBytes), sync_(sync) {}

  // Writes the chunk `data` (copy::Chunk's layout) from `fromNode`. The answer is a JSON object
  // naming the copy and chunk ({"copy","chunk","chunks","done", and when done "path", "bytes",
  // "sha256"}), with `error` set when the chunk could not be written or the file did not arrive whole.
  struct Answer {
    std::string json;
    std::string error;
  };
  Answer write(const std::string& fromNode, const std::vector<std::string>& data);

 private:
  const std::filesystem::path folder_;
  const uint64_t maxBytes_;
  const bool sync_;
};

}  // namespace steward::process
