// What goes on the broker: every message is sealed by its sender's key at each send attempt.
//
//   SIG1 <sentUnixMs> <base64 signature>\n<the message's wire JSON>
//
// The signature covers "SIG1\n<subject>\n<sentUnixMs>\n<wire JSON>": the subject (receiver,
// method, kind) and every field of the message (id, fromNode, toNode, method, data, timestamps,
// reply fields), and the moment of this attempt. A resend is signed again with a new time, so a
// message that waits out a long outage is still fresh when it arrives; a copy recorded off the
// link and sent again carries its old time and signature, and is refused as a replay.
#pragma once

#include "core/security/identity.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace steward::security {

// The payload to publish on `subject` for `wire`, signed by `identity` at `sentUnixMs`.
std::string seal(const Identity& identity, std::string_view subject, std::string_view wire,
                 int64_t sentUnixMs);

struct Sealed {
  int64_t sentUnixMs = 0;
  std::string signature;
  std::string_view wire;  // into the payload given to open()
};

// Splits a payload into its seal and the wire JSON; an error for an unsigned or malformed one.
Result<Sealed> open(std::string_view payload);

// True when `sealed` was signed by `publicKey` for `subject`.
bool verify(std::string_view publicKey, std::string_view subject, const Sealed& sealed);

}  // namespace steward::security
