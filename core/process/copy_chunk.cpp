#include "core/process/copy_chunk.hpp"

#include "core/security/identity.hpp"

#include <sodium.h>

#include <charconv>
#include <cstdio>
#include <sys/types.h>
#include <unistd.h>

namespace steward::process::copy {
namespace {

static_assert(sizeof(crypto_hash_sha256_state) <= 512, "Sha256's state buffer is too small");

crypto_hash_sha256_state* stateOf(unsigned char* buffer) {
  return reinterpret_cast<crypto_hash_sha256_state*>(buffer);
}

std::string hexOf(const unsigned char (&digest)[crypto_hash_sha256_BYTES]) {
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

bool isSha256Hex(std::string_view text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

bool parseNumber(std::string_view text, uint64_t& out, int base) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

FileDigest digestOf(int fd) {
  Sha256 h;
  FileDigest digest;
  std::string buffer(1024 * 1024, '\0');
  for (ssize_t n; (n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(digest.bytes))) > 0;) {
    h.add(std::string_view(buffer.data(), static_cast<size_t>(n)));
    digest.bytes += static_cast<uint64_t>(n);
  }
  digest.sha256 = h.hex();
  return digest;
}

Sha256::Sha256() { crypto_hash_sha256_init(stateOf(state_)); }

void Sha256::add(std::string_view bytes) {
  crypto_hash_sha256_update(stateOf(state_), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string Sha256::hex() {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(stateOf(state_), digest);
  return hexOf(digest);
}

std::string sha256Hex(std::string_view bytes) {
  Sha256 h;
  h.add(bytes);
  return h.hex();
}

uint64_t Chunk::expectedLength() const {
  return index + 1 < chunks ? chunkSize : size - offset();
}

std::vector<std::string> Chunk::encode() const {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", mode_t{this->mode});
  return {std::to_string(copy),
          toPath,
          std::to_string(index),
          std::to_string(chunks),
          std::to_string(chunkSize),
          std::to_string(size),
          mode,
          fileSha256,
          chunkSha256,
          security::toBase64(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size())};
}

Result<Chunk> Chunk::decode(const std::vector<std::string>& data, uint64_t maxBytes) {
  auto bad = [](const std::string& what) { return Error{"copy chunk: " + what, Code::badField}; };
  if (data.size() != 10) return bad("data must be 10 items, not " + std::to_string(data.size()));
  Chunk c;
  uint64_t mode = 0;
  if (!parseNumber(data[0], c.copy) || !parseNumber(data[2], c.index) || !parseNumber(data[3], c.chunks) ||
      !parseNumber(data[4], c.chunkSize) || !parseNumber(data[5], c.size) || !parseNumber(data[6], mode, 8)) {
    return bad("copy, index, chunks, chunk size, size and mode must be numbers");
  }
  if (c.size > maxBytes) return bad("the file is " + std::to_string(c.size) + " bytes, more than copyMaxBytes " + std::to_string(maxBytes));
  if (c.chunkSize < kMinChunkSize || c.chunkSize > kMaxChunkSize) return bad("chunk size out of bounds");
  const uint64_t needed = c.size == 0 ? 1 : (c.size + c.chunkSize - 1) / c.chunkSize;
  if (c.chunks != needed || c.index >= c.chunks) return bad("chunk " + std::to_string(c.index) + " of " + std::to_string(c.chunks) + " does not fit the size");
  if (mode > 0777) return bad("mode must be at most 0777");
  c.mode = static_cast<uint32_t>(mode);
  c.toPath = data[1];
  if (c.toPath.empty() || c.toPath.size() > 4096 || c.toPath.find('\0') != std::string::npos) return bad("bad destination path");
  if (!isSha256Hex(data[7]) || !isSha256Hex(data[8])) return bad("sha256 must be 64 hex digits");
  c.fileSha256 = data[7];
  c.chunkSha256 = data[8];
  auto bytes = security::fromBase64(data[9]);
  if (!bytes) return bad("the bytes are not base64");
  c.bytes = std::move(bytes).value();
  if (c.bytes.size() != c.expectedLength()) {
    return bad("chunk " + std::to_string(c.index) + " holds " + std::to_string(c.bytes.size()) + " bytes, not " +
               std::to_string(c.expectedLength()));
  }
  if (sha256Hex(c.bytes) != c.chunkSha256) return bad("chunk " + std::to_string(c.index) + " does not match its sha256");
  return c;
}

}  // namespace steward::process::copy
