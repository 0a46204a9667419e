// libFuzzer target: a file copy's chunk as it comes from the broker (REQCopyDst's data, checked
// by copy::Chunk::decode before anything is written). The bytes are split at newlines into the data
// items. Whatever they are, decode must return a chunk or an error, never crash, hang or leak, and a
// chunk it returns must be consistent: its bytes of the length its place says, matching its sha256.
#include "core/process/copy_chunk.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace steward::process::copy;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> items;
  size_t at = 0;
  while (items.size() < 12) {
    const size_t end = text.find('\n', at);
    items.push_back(text.substr(at, end == std::string::npos ? std::string::npos : end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  auto chunk = Chunk::decode(items, 1 << 20);
  if (chunk) {
    if (chunk->bytes.size() != chunk->expectedLength() || chunk->index >= chunk->chunks ||
        sha256Hex(chunk->bytes) != chunk->chunkSha256 || chunk->size > (1u << 20)) {
      std::abort();
    }
    if (Chunk::decode(chunk->encode(), 1 << 20).ok() == false) std::abort();
  }
  return 0;
}
