// A node's identity: its ed25519 key pair (libsodium), created on the first start in
// <databaseFolder>/keys/node.key (the secret, readable by the daemon's user only) with the public
// key beside it in node.pub, as base64 text an operator can copy to other nodes.
#pragma once

#include "core/util/result.hpp"

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

namespace steward::security {

class Identity {
 public:
  // Loads the key pair in `folder`, or creates it there. A secret key file that others can read,
  // or one that is damaged, is an error that says so.
  static Result<Identity> loadOrCreate(const std::filesystem::path& folder);
  // A fresh key pair written to `folder` (used to provision nodes ahead of their first start).
  static Result<Identity> create(const std::filesystem::path& folder);

  Identity(const Identity&) = default;
  Identity& operator=(const Identity&) = default;
  ~Identity();  // wipes the secret key from memory

  const std::string& publicKey() const { return publicKey_; }  // base64 of 32 bytes
  // The detached signature of `bytes`, base64.
  std::string sign(std::string_view bytes) const;

 private:
  Identity() = default;
  std::array<unsigned char, 64> secret_{};
  std::string publicKey_;
};

// True when `signature` (base64) is `publicKey`'s (base64) signature of `bytes`.
bool verifySignature(std::string_view publicKey, std::string_view bytes, std::string_view signature);

// Base64 (the original alphabet, with padding) through libsodium.
std::string toBase64(const unsigned char* data, size_t size);
Result<std::string> fromBase64(std::string_view text);

}  // namespace steward::security
