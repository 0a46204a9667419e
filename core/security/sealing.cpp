#include "core/security/sealing.hpp"

#include "core/message/codec.hpp"

namespace steward::security {

namespace {

// Room for "SIG1 <time> <signature>\n".
constexpr size_t kSealBytes = 160;

constexpr const char* kHelloMethod = "REQHello";

std::string describe(const message::Message& m) {
  return "message " + std::to_string(m.id) + " (" + m.method + ") from " + m.fromNode;
}

}  // namespace

SealingTransport::SealingTransport(transport::Transport& inner, const Identity& identity,
                                   std::function<int64_t()> nowUnixMs)
    : inner_(inner), identity_(identity), now_(std::move(nowUnixMs)) {}

Status SealingTransport::publish(const std::string& subject, std::string_view payload,
                                 const std::string& replyTo) {
  return inner_.publish(subject, seal(identity_, subject, payload, now_()), replyTo);
}

Result<std::unique_ptr<transport::Subscription>> SealingTransport::subscribe(
    const std::string& subject, Handler handler) {
  return inner_.subscribe(subject, std::move(handler));
}

std::unique_ptr<transport::ReplyInbox> SealingTransport::openInbox(ReplyHandler handler) {
  return inner_.openInbox(std::move(handler));
}

size_t SealingTransport::maxPayload() const {
  const size_t inner = inner_.maxPayload();
  return inner > kSealBytes ? inner - kSealBytes : 0;
}

bool SealingTransport::connected() const { return inner_.connected(); }

Verifier::Verifier(Trust& trust, std::chrono::seconds window, std::function<int64_t()> nowUnixMs)
    : trust_(trust), window_(window), now_(std::move(nowUnixMs)) {}

Result<Opened> Verifier::open(const std::string& subject, std::string_view payload) const {
  auto sealed = security::open(payload);
  if (!sealed) return Error{"a message on " + subject + " is " + sealed.error().message};
  auto decoded = message::decodeWire(sealed->wire);
  if (!decoded) return Error{"a message on " + subject + " is unreadable: " + decoded.error().message};
  const message::Message& m = decoded.value();
  const auto key = trust_.keyOf(m.fromNode);
  bool announcement = false;
  if (!key || !verify(*key, subject, *sealed)) {
    const bool hello = m.method == kHelloMethod && m.data.size() >= 2;
    if (hello && !trust_.revoked(m.data[1]) && verify(m.data[1], subject, *sealed)) {
      announcement = true;
    } else if (!key) {
      for (const auto& revoked : trust_.revokedKeys()) {
        if (verify(revoked, subject, *sealed)) {
          return Error{describe(m) + ": it is signed by a revoked key (" + m.fromNode +
                       "'s key was revoked)"};
        }
      }
      return Error{describe(m) + ": " + trust_.whyUntrusted(m.fromNode)};
    } else {
      return Error{describe(m) + ": the signature does not match " + m.fromNode +
                   "'s trusted key (forged, or signed by another key)"};
    }
  }
  if (auto s = fresh(*sealed); !s) return Error{describe(m) + ": " + s.error().message};
  return Opened{std::move(decoded).value(), std::string(sealed->wire), sealed->sentUnixMs,
                announcement};
}

Result<std::string> Verifier::openAnswer(const std::string& inbox, std::string_view payload,
                                         const std::string& receiver) const {
  auto sealed = security::open(payload);
  if (!sealed) return Error{"an answer from " + receiver + " is " + sealed.error().message};
  const auto key = trust_.keyOf(receiver);
  if (!key) return Error{"an answer from " + receiver + ": " + trust_.whyUntrusted(receiver)};
  if (!verify(*key, inbox, *sealed)) {
    return Error{"an answer said to be from " + receiver + " is not sealed by its key (forged)"};
  }
  if (auto s = fresh(*sealed); !s) return Error{"an answer from " + receiver + ": " + s.error().message};
  return std::string(sealed->wire);
}

Status Verifier::fresh(const Sealed& sealed) const {
  const int64_t age = now_() - sealed.sentUnixMs;
  const int64_t window = std::chrono::milliseconds(window_).count();
  if (age > window || age < -window) {
    return Error{"sent " + std::to_string(std::abs(age) / 1000) + " s " +
                 (age > 0 ? "ago" : "in the future") + ", outside the " +
                 std::to_string(window_.count()) +
                 " s signature window (a recorded copy, or a clock that is off)"};
  }
  return {};
}

}  // namespace steward::security
