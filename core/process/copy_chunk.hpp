// File copy (REQCopySrc at the node that has the file, REQCopyDst at the one that receives it):
// what one chunk message carries, in its data, and what the receiver answers.
#pragma once

#include "core/util/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace steward::process::copy {

inline constexpr uint64_t kDefaultChunkSize = 256 * 1024;
inline constexpr uint64_t kMinChunkSize = 4 * 1024;
// Base64 makes a chunk 4/3 larger: 512 KiB stays under the 900 KiB a message may carry.
inline constexpr uint64_t kMaxChunkSize = 512 * 1024;

// data: [copy, toPath, index, chunks, chunkSize, size, mode (octal), file sha256, chunk sha256,
// base64 of the bytes]. Every chunk says all of it, so each is checked on its own.
struct Chunk {
  uint64_t copy = 0;  // the copy's number at the sending node
  std::string toPath;
  uint64_t index = 0;
  uint64_t chunks = 0;
  uint64_t chunkSize = 0;
  uint64_t size = 0;
  uint32_t mode = 0600;
  std::string fileSha256;
  std::string chunkSha256;
  std::string bytes;  // decoded

  std::vector<std::string> encode() const;
  // Checks every field and the chunk's own sha256; `maxBytes`: the largest file taken.
  static Result<Chunk> decode(const std::vector<std::string>& data, uint64_t maxBytes);
  // Where the chunk starts in the file, and how long it must be.
  uint64_t offset() const { return index * chunkSize; }
  uint64_t expectedLength() const;
};

// A number written whole in `text` (nothing before or after it), in `base`.
bool parseNumber(std::string_view text, uint64_t& out, int base = 10);

// Hex sha256 of `bytes`, and a running one.
std::string sha256Hex(std::string_view bytes);
class Sha256 {
 public:
  Sha256();
  void add(std::string_view bytes);
  std::string hex();

 private:
  alignas(16) unsigned char state_[512];
};

// The sha256 of what `fd` holds from its start, and how many bytes that was.
struct FileDigest {
  std::string sha256;
  uint64_t bytes = 0;
};
FileDigest digestOf(int fd);

}  // namespace steward::process::copy
