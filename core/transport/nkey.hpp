// NATS nkeys: the ed25519 keys nats-server authenticates clients with (the spec's nkeySeedFile).
// A seed ("SU…") and a public key ("U…") are base32 of a prefix, the key bytes and a CRC-16, as
// in the nkeys specification. nats.c signs the server's nonce with the seed itself; what steward
// needs is the public key that goes with a seed file, and, for tests and first setup, new seeds.
#pragma once

#include "core/util/result.hpp"

#include <filesystem>
#include <string>

namespace steward::transport {

struct NKeyUser {
  std::string seed;       // "SU…"
  std::string publicKey;  // "U…"
};

// The user key pair of an encoded seed; an error says what is wrong with it.
Result<NKeyUser> nkeyFromSeed(std::string_view seed);

// A new random user key pair (libsodium's random source).
NKeyUser newNKeyUser();

// Reads a seed file: the first line that starts with "SU" (nk writes the seed alone; creds files
// hold it among other lines). Refused when the file can be read by group or others: the seed is
// the node's broker identity.
Result<NKeyUser> readSeedFile(const std::filesystem::path& file);

}  // namespace steward::transport
