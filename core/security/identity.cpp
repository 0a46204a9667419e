#include "core/security/identity.hpp"

#include "core/util/files.hpp"

#include <sodium.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace steward::security {

namespace {

constexpr const char* kSecretFile = "node.key";
constexpr const char* kPublicFile = "node.pub";

Status ready() {
  if (sodium_init() < 0) return Error{"libsodium cannot start"};
  return {};
}

}  // namespace

std::string toBase64(const unsigned char* data, size_t size) {
  std::string out(sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<std::string> fromBase64(std::string_view text) {
  std::string out(text.size(), '\0');
  size_t size = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &size, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Error{"not base64"};
  }
  out.resize(size);
  return out;
}

Identity::~Identity() { sodium_memzero(secret_.data(), secret_.size()); }

Result<Identity> Identity::create(const fs::path& folder) {
  if (auto s = ready(); !s) return s.error();
  std::error_code ec;
  fs::create_directories(folder, ec);
  ::chmod(folder.c_str(), 0700);
  Identity id;
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk{};
  crypto_sign_keypair(pk.data(), id.secret_.data());
  id.publicKey_ = toBase64(pk.data(), pk.size());
  const std::string secret = toBase64(id.secret_.data(), id.secret_.size());
  if (auto s = files::writeNew(folder / kSecretFile, secret + "\n", 0600); !s) return s.error();
  if (auto s = files::writeNew(folder / kPublicFile, id.publicKey_ + "\n", 0644); !s) return s.error();
  return id;
}

Result<Identity> Identity::loadOrCreate(const fs::path& folder) {
  if (auto s = ready(); !s) return s.error();
  const fs::path file = folder / kSecretFile;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return create(folder);
  if ((st.st_mode & 077) != 0) {
    return Error{file.string() + " can be read by group or others: chmod 600 it (it is the node's "
                 "identity; anyone who reads it can sign as this node)"};
  }
  std::ifstream in(file);
  std::string text;
  std::getline(in, text);
  auto secret = fromBase64(text);
  if (!secret || secret->size() != crypto_sign_SECRETKEYBYTES) {
    return Error{file.string() + " is damaged: not a base64 ed25519 secret key"};
  }
  Identity id;
  std::copy(secret->begin(), secret->end(), id.secret_.begin());
  sodium_memzero(secret->data(), secret->size());
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk{};
  crypto_sign_ed25519_sk_to_pk(pk.data(), id.secret_.data());
  id.publicKey_ = toBase64(pk.data(), pk.size());
  return id;
}

std::string Identity::sign(std::string_view bytes) const {
  std::array<unsigned char, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(bytes.data()),
                       bytes.size(), secret_.data());
  return toBase64(sig.data(), sig.size());
}

bool verifySignature(std::string_view publicKey, std::string_view bytes, std::string_view signature) {
  if (sodium_init() < 0) return false;
  auto pk = fromBase64(publicKey);
  auto sig = fromBase64(signature);
  if (!pk || !sig || pk->size() != crypto_sign_PUBLICKEYBYTES || sig->size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     bytes.size(),
                                     reinterpret_cast<const unsigned char*>(pk->data())) == 0;
}

}  // namespace steward::security
