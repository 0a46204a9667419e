#include "core/security/envelope.hpp"

#include <charconv>

namespace steward::security {

namespace {

constexpr std::string_view kTag = "SIG2";

std::string signedBytes(std::string_view subject, int64_t sentUnixMs, std::string_view signer,
                        std::string_view wire) {
  std::string bytes;
  bytes.reserve(kTag.size() + subject.size() + signer.size() + wire.size() + 32);
  bytes.append(kTag).append("\n").append(subject).append("\n");
  bytes.append(std::to_string(sentUnixMs)).append("\n").append(signer).append("\n").append(wire);
  return bytes;
}

// The next space-separated field of `line`, consumed.
std::string_view nextField(std::string_view& line) {
  const size_t space = line.find(' ');
  const std::string_view field = line.substr(0, space);
  line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  return field;
}

}  // namespace

std::string seal(const Identity& identity, std::string_view signer, std::string_view subject,
                 std::string_view wire, int64_t sentUnixMs, bool withKey) {
  std::string payload(kTag);
  payload.append(" ").append(std::to_string(sentUnixMs)).append(" ").append(signer).append(" ");
  payload.append(identity.sign(signedBytes(subject, sentUnixMs, signer, wire)));
  if (withKey) payload.append(" ").append(identity.publicKey());
  payload.append("\n").append(wire);
  return payload;
}

Result<Sealed> open(std::string_view payload) {
  if (payload.substr(0, 5) == "SIG1 ") {
    return Error{"sealed in the SIG1 format of an older steward, which this node no longer takes "
                 "(upgrade the sender)"};
  }
  if (payload.substr(0, kTag.size() + 1) != std::string(kTag) + " ") {
    return Error{"unsigned: it carries no SIG2 seal"};
  }
  const size_t newline = payload.substr(0, kMaxSealBytes).find('\n');
  if (newline == std::string_view::npos) {
    return Error{"malformed seal: no end of line within " + std::to_string(kMaxSealBytes) + " bytes"};
  }
  std::string_view line = payload.substr(kTag.size() + 1, newline - kTag.size() - 1);
  Sealed sealed;
  const std::string_view time = nextField(line);
  auto [end, ec] = std::from_chars(time.data(), time.data() + time.size(), sealed.sentUnixMs);
  if (time.empty() || ec != std::errc() || end != time.data() + time.size()) {
    return Error{"malformed seal: the time is not a number"};
  }
  sealed.signer = nextField(line);
  sealed.signature = nextField(line);
  sealed.key = nextField(line);
  if (sealed.signer.empty() || sealed.signature.empty() || !line.empty()) {
    return Error{"malformed seal: it needs a time, a signer, a signature and at most a key"};
  }
  sealed.wire = payload.substr(newline + 1);
  return sealed;
}

bool verify(std::string_view publicKey, std::string_view subject, const Sealed& sealed) {
  return verifySignature(publicKey, signedBytes(subject, sealed.sentUnixMs, sealed.signer, sealed.wire),
                         sealed.signature);
}

}  // namespace steward::security
