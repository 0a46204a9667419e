#include "core/security/envelope.hpp"

#include <charconv>

namespace steward::security {

namespace {

constexpr std::string_view kTag = "SIG1";

std::string signedBytes(std::string_view subject, int64_t sentUnixMs, std::string_view wire) {
  std::string bytes;
  bytes.reserve(kTag.size() + subject.size() + wire.size() + 32);
  bytes.append(kTag).append("\n").append(subject).append("\n");
  bytes.append(std::to_string(sentUnixMs)).append("\n").append(wire);
  return bytes;
}

}  // namespace

std::string seal(const Identity& identity, std::string_view subject, std::string_view wire,
                 int64_t sentUnixMs) {
  std::string payload(kTag);
  payload.append(" ").append(std::to_string(sentUnixMs)).append(" ");
  payload.append(identity.sign(signedBytes(subject, sentUnixMs, wire))).append("\n");
  payload.append(wire);
  return payload;
}

Result<Sealed> open(std::string_view payload) {
  if (payload.substr(0, kTag.size() + 1) != std::string(kTag) + " ") {
    return Error{"unsigned: it carries no SIG1 seal"};
  }
  const size_t newline = payload.find('\n');
  if (newline == std::string_view::npos) return Error{"malformed seal: no end of line"};
  const std::string_view header = payload.substr(kTag.size() + 1, newline - kTag.size() - 1);
  const size_t space = header.find(' ');
  if (space == std::string_view::npos) return Error{"malformed seal: no signature"};
  Sealed sealed;
  const std::string_view time = header.substr(0, space);
  auto [end, ec] = std::from_chars(time.data(), time.data() + time.size(), sealed.sentUnixMs);
  if (ec != std::errc() || end != time.data() + time.size()) {
    return Error{"malformed seal: the time is not a number"};
  }
  sealed.signature = std::string(header.substr(space + 1));
  sealed.wire = payload.substr(newline + 1);
  return sealed;
}

bool verify(std::string_view publicKey, std::string_view subject, const Sealed& sealed) {
  return verifySignature(publicKey, signedBytes(subject, sealed.sentUnixMs, sealed.wire),
                         sealed.signature);
}

}  // namespace steward::security
