#include "core/security/sealing.hpp"

#include "core/message/codec.hpp"
#include "core/message/methods.hpp"

namespace steward::security {

namespace {

// Whether the method token of `subject` (<node>.<method>.<kind>) is REQHello. Asked at every
// publish, so it only looks at the token; what arrives is checked in full elsewhere.
bool isHelloSubject(std::string_view subject) {
  const size_t kindDot = subject.rfind('.');
  if (kindDot == std::string_view::npos || kindDot == 0) return false;
  const size_t methodDot = subject.rfind('.', kindDot - 1);
  if (methodDot == std::string_view::npos) return false;
  return subject.substr(methodDot + 1, kindDot - methodDot - 1) == message::methods::kHello;
}

}  // namespace

SealingTransport::SealingTransport(transport::Transport& inner, const Identity& identity,
                                   std::string signer, std::function<int64_t()> nowUnixMs)
    : inner_(inner), identity_(identity), signer_(std::move(signer)), now_(std::move(nowUnixMs)) {}

Status SealingTransport::publish(const std::string& subject, std::string_view payload,
                                 const std::string& replyTo) {
  return inner_.publish(subject, seal(identity_, signer_, subject, payload, now_(), isHelloSubject(subject)),
                        replyTo);
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
  return inner > kMaxSealBytes ? inner - kMaxSealBytes : 0;
}

bool SealingTransport::connected() const { return inner_.connected(); }

Verifier::Verifier(Trust& trust, std::chrono::seconds window, std::function<int64_t()> nowUnixMs)
    : trust_(trust), window_(window), now_(std::move(nowUnixMs)) {}

Result<Opened> Verifier::open(const std::string& subject, std::string_view payload) const {
  const message::Limits limits;
  const size_t maxBytes = message::maxWireBytes(limits) + kMaxSealBytes;
  if (payload.size() > maxBytes) {
    return Error{"a message on " + subject + " is larger than " + std::to_string(maxBytes) +
                     " bytes (" + std::to_string(payload.size()) + ")",
                 Code::tooLarge};
  }
  auto sealed = security::open(payload);
  if (!sealed) return Error{"a message on " + subject + " is " + sealed.error().message, Code::unsignedMessage};
  const std::string signer(sealed->signer);
  if (auto s = message::checkNodeName(signer); !s) {
    return Error{"a message on " + subject + " has a malformed seal: " + s.error().message, Code::unsignedMessage};
  }
  const std::string who = "a message on " + subject + " signed as " + signer;
  const auto key = trust_.keyOf(signer);
  bool announcement = false;
  if (!key || !verify(*key, subject, *sealed)) {
    const std::string announced(sealed->key);
    if (!announced.empty() && isHelloSubject(subject) && !trust_.revoked(announced) &&
        verify(announced, subject, *sealed)) {
      announcement = true;
    } else if (!key) {
      for (const auto& revoked : trust_.revokedKeys()) {
        if (verify(revoked, subject, *sealed)) {
          return Error{who + ": it is signed by a revoked key (" + signer + "'s key was revoked)", Code::revokedKey};
        }
      }
      return Error{who + ": " + trust_.whyUntrusted(signer), Code::unknownKey};
    } else {
      return Error{who + ": the signature does not match " + signer +
                       "'s trusted key (forged, or signed by another key)",
                   Code::forged};
    }
  }
  if (auto s = fresh(sealed->sentUnixMs); !s) return Error{who + ": " + s.error().message, Code::stale};
  // Signed by a node this one trusts (or a hello by the key it carries): now it may be decoded.
  auto decoded = message::decodeWire(sealed->wire, limits);
  if (!decoded) return within(who + " is unreadable: ", decoded.error());
  const message::Message& m = decoded.value();
  if (m.fromNode != signer) {
    return Error{who + " says it is message " + std::to_string(m.id) + " from " + m.fromNode +
                     ": a node may only send as itself",
                 Code::forged};
  }
  if (announcement && (m.data.size() < 2 || m.data[1] != sealed->key)) {
    return Error{who + ": a hello must announce the key that sealed it", Code::forged};
  }
  return Opened{std::move(decoded).value(), std::string(sealed->wire), sealed->sentUnixMs,
                announcement};
}

Result<Verifier::Answer> Verifier::openAnswer(const std::string& inbox, std::string_view payload,
                                              const std::string& receiver) const {
  if (payload.size() > 64 * 1024 + kMaxSealBytes) {
    return Error{"an answer from " + receiver + " is larger than an answer can be"};
  }
  auto sealed = security::open(payload);
  if (!sealed) return Error{"an answer from " + receiver + " is " + sealed.error().message};
  const auto key = trust_.keyOf(receiver);
  if (!key) return Error{"an answer from " + receiver + ": " + trust_.whyUntrusted(receiver)};
  if (sealed->signer != receiver || !verify(*key, inbox, *sealed)) {
    return Error{"an answer said to be from " + receiver + " is not sealed by its key (forged)"};
  }
  Answer answer{std::string(sealed->wire), {}};
  if (auto s = fresh(sealed->sentUnixMs); !s) {
    answer.skewNote = receiver + "'s answer was " + s.error().message;
  }
  return answer;
}

Status Verifier::fresh(int64_t sentUnixMs) const {
  const int64_t age = now_() - sentUnixMs;
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
