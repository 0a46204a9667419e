// What goes on the broker: every message is sealed by its sender's key at each send attempt.
//
//   SIG2 <sentUnixMs> <signer> <base64 signature>[ <base64 public key>]\n<the message's wire JSON>
//
// The signature covers "SIG2\n<subject>\n<sentUnixMs>\n<signer>\n<wire JSON>": the subject
// (receiver, method, kind), the signing node's name and every field of the message (id, fromNode,
// toNode, method, data, timestamps, reply fields), and the moment of this attempt. A resend is
// signed again with a new time, so a message that waits out a long outage is still fresh when it
// arrives; a copy recorded off the link and sent again carries its old time and signature, and is
// refused as a replay.
//
// The signer is named in the seal so a receiver checks the signature over the raw bytes before it
// parses a byte of JSON: whoever is not a trusted node cannot make it decode anything. Only a
// hello carries the public key too, so central can learn the key of a node it does not know yet.
//
// A relay forwards a message under a seal of its own around the origin's payload, untouched:
//
//   SIG2 <sentUnixMs> <relay> <signature>\nSIG2 <sentUnixMs> <origin> <signature>\n<wire JSON>
//
// (the relay's signature covers the subject and the origin's whole payload; sealing.hpp says how
// the two are checked).
#pragma once

#include "core/security/identity.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace steward::security {

// Room for the seal's line: tag, time, a node name of up to 255 characters, signature and key.
inline constexpr size_t kMaxSealBytes = 512;

// The payload to publish on `subject` for `wire`, signed by `identity` as node `signer` at
// `sentUnixMs`; with the public key when `withKey`.
std::string seal(const Identity& identity, std::string_view signer, std::string_view subject,
                 std::string_view wire, int64_t sentUnixMs, bool withKey = false);

struct Sealed {
  int64_t sentUnixMs = 0;
  std::string_view signer;
  std::string_view signature;
  std::string_view key;   // the signer's public key, when the seal carries it; else empty
  std::string_view wire;  // all of these point into the payload given to open()
};

// Whether a seal wraps another sealed payload instead of a message's JSON: a message carried by a
// relay, which seals the origin's payload again, fresh, as it forwards it (README, "Relays").
inline bool wrapsSealed(const Sealed& sealed) { return sealed.wire.substr(0, 5) == "SIG2 "; }

// Splits a payload into its seal and the wire JSON, looking only at the seal's line (at most
// kMaxSealBytes); an error for an unsigned or malformed one.
Result<Sealed> open(std::string_view payload);

// True when `sealed` was signed by `publicKey` for `subject`.
bool verify(std::string_view publicKey, std::string_view subject, const Sealed& sealed);

}  // namespace steward::security
