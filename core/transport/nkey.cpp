#include "core/transport/nkey.hpp"

#include <sodium.h>

#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <vector>

namespace steward::transport {

namespace {

constexpr uint8_t kPrefixSeed = 18 << 3;  // 'S'
constexpr uint8_t kPrefixUser = 20 << 3;  // 'U'
constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// CRC-16/XMODEM, as nkeys uses it.
uint16_t crc16(const uint8_t* data, size_t size) {
  uint16_t crc = 0;
  for (size_t i = 0; i < size; ++i) {
    crc ^= static_cast<uint16_t>(data[i]) << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::string base32(const std::vector<uint8_t>& bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32[(buffer << (5 - bits)) & 31]);
  return out;
}

Result<std::vector<uint8_t>> unbase32(std::string_view text) {
  std::vector<uint8_t> out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= '2' && c <= '7' ? c - '2' + 26 : -1;
    if (v < 0) return Error{std::string("\"") + c + "\" is not a base32 character"};
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  return out;
}

// Appends the CRC of everything so far, little-endian, and encodes.
std::string withChecksum(std::vector<uint8_t> raw) {
  const uint16_t crc = crc16(raw.data(), raw.size());
  raw.push_back(static_cast<uint8_t>(crc & 0xff));
  raw.push_back(static_cast<uint8_t>(crc >> 8));
  return base32(raw);
}

NKeyUser fromRawSeed(const std::array<uint8_t, 32>& seed) {
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  sodium_memzero(sk.data(), sk.size());
  std::vector<uint8_t> seedRaw{static_cast<uint8_t>(kPrefixSeed | (kPrefixUser >> 5)),
                               static_cast<uint8_t>((kPrefixUser & 31) << 3)};
  seedRaw.insert(seedRaw.end(), seed.begin(), seed.end());
  std::vector<uint8_t> pubRaw{kPrefixUser};
  pubRaw.insert(pubRaw.end(), pk.begin(), pk.end());
  return NKeyUser{withChecksum(std::move(seedRaw)), withChecksum(std::move(pubRaw))};
}

}  // namespace

Result<NKeyUser> nkeyFromSeed(std::string_view seed) {
  if (sodium_init() < 0) return Error{"libsodium cannot start"};
  auto raw = unbase32(seed);
  if (!raw) return Error{"nkey seed: " + raw.error().message};
  if (raw->size() != 2 + 32 + 2) return Error{"nkey seed: wrong length (is it a seed, \"SU…\"?)"};
  const uint16_t crc = crc16(raw->data(), raw->size() - 2);
  if ((*raw)[raw->size() - 2] != (crc & 0xff) || (*raw)[raw->size() - 1] != (crc >> 8)) {
    return Error{"nkey seed: checksum does not match (damaged or mistyped)"};
  }
  if (((*raw)[0] & 0xf8) != kPrefixSeed) return Error{"nkey seed: does not start with S"};
  const uint8_t type = static_cast<uint8_t>((((*raw)[0] & 7) << 5) | (((*raw)[1] & 0xf8) >> 3));
  if (type != kPrefixUser) return Error{"nkey seed: not a user seed (\"SU…\")"};
  std::array<uint8_t, 32> bytes{};
  std::copy(raw->begin() + 2, raw->begin() + 34, bytes.begin());
  NKeyUser user = fromRawSeed(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  sodium_memzero(raw->data(), raw->size());
  return user;
}

NKeyUser newNKeyUser() {
  if (sodium_init() < 0) std::abort();
  std::array<uint8_t, 32> seed{};
  randombytes_buf(seed.data(), seed.size());
  NKeyUser user = fromRawSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return user;
}

Result<NKeyUser> readSeedFile(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return Error{"nkeySeedFile " + file.string() + " cannot be read"};
  if ((st.st_mode & 077) != 0) {
    return Error{"nkeySeedFile " + file.string() +
                 " can be read by group or others: chmod 600 it (it is the node's broker identity)"};
  }
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line.compare(start, 2, "SU") != 0) continue;
    const auto end = line.find_last_not_of(" \t\r");
    auto user = nkeyFromSeed(std::string_view(line).substr(start, end - start + 1));
    if (!user) return Error{"nkeySeedFile " + file.string() + ": " + user.error().message};
    return user;
  }
  return Error{"nkeySeedFile " + file.string() + " holds no user seed (a line starting with SU)"};
}

}  // namespace steward::transport
