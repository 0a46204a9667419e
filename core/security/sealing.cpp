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

Verifier::Verifier(Trust& trust, std::chrono::seconds window, std::function<int64_t()> nowUnixMs,
                   message::Carriers carriers)
    : trust_(trust), window_(window), now_(std::move(nowUnixMs)), carriers_(std::move(carriers)) {}

Result<Opened> Verifier::open(const std::string& subject, std::string_view payload) const {
  const message::Limits limits;
  // Room for two seals: a carried message has the relay's around the origin's.
  const size_t maxBytes = message::maxWireBytes(limits) + 2 * kMaxSealBytes;
  if (payload.size() > maxBytes) {
    return Error{"a message on " + subject + " is larger than " + std::to_string(maxBytes) +
                     " bytes (" + std::to_string(payload.size()) + ")",
                 Code::tooLarge};
  }
  auto sealed = security::open(payload);
  if (!sealed) return Error{"a message on " + subject + " is " + sealed.error().message, Code::unsignedMessage};
  if (!wrapsSealed(*sealed)) return openSealed(subject, *sealed, true);

  // Carried: the relay's seal first, like any seal, then the origin's inside it.
  const std::string carrier(sealed->signer);
  if (auto s = message::checkNodeName(carrier); !s) {
    return Error{"a message on " + subject + " has a malformed seal: " + s.error().message, Code::unsignedMessage};
  }
  const std::string who = "a message on " + subject + " carried by " + carrier;
  const auto key = trust_.keyOf(carrier);
  if (!key) return Error{who + ": " + trust_.whyUntrusted(carrier), Code::unknownKey};
  if (!verify(*key, subject, *sealed)) {
    return Error{who + ": the relay's seal does not match " + carrier + "'s trusted key", Code::forged};
  }
  if (auto s = fresh(sealed->sentUnixMs); !s) return Error{who + ": " + s.error().message, Code::stale};
  auto inner = security::open(sealed->wire);
  if (!inner) return Error{who + ": the origin's payload is " + inner.error().message, Code::unsignedMessage};
  if (wrapsSealed(*inner)) {
    return Error{who + ": it is sealed by relays twice (a relay forwards the origin's seal only)",
                 Code::malformed};
  }
  if (!carriers_.carries(carrier, inner->signer)) {
    return Error{who + " from " + std::string(inner->signer.substr(0, 64)) + ": " + carrier +
                     " is not a carrier this node takes that node's messages from (carriers: " +
                     carriers_.toString() + ")",
                 Code::notAllowed};
  }
  auto opened = openSealed(subject, *inner, false);
  if (!opened) return within(who + ": ", opened.error());
  opened->carrier = carrier;
  // The copy is as old as the relay's seal: a relay's resend is a newer copy, a recording of
  // one of its sends a replay.
  opened->sentUnixMs = sealed->sentUnixMs;
  opened->originOffset = static_cast<size_t>(sealed->wire.data() - payload.data());
  return opened;
}

Result<Opened> Verifier::openSealed(const std::string& subject, const Sealed& sealed, bool checkFresh) const {
  const message::Limits limits;
  const std::string signer(sealed.signer);
  if (auto s = message::checkNodeName(signer); !s) {
    return Error{"a message on " + subject + " has a malformed seal: " + s.error().message, Code::unsignedMessage};
  }
  const std::string who = "a message on " + subject + " signed as " + signer;
  const auto key = trust_.keyOf(signer);
  bool announcement = false;
  if (!key || !verify(*key, subject, sealed)) {
    const std::string announced(sealed.key);
    if (!announced.empty() && isHelloSubject(subject) && !trust_.revoked(announced) &&
        verify(announced, subject, sealed)) {
      announcement = true;
    } else if (!key) {
      for (const auto& revoked : trust_.revokedKeys()) {
        if (verify(revoked, subject, sealed)) {
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
  if (checkFresh) {
    if (auto s = fresh(sealed.sentUnixMs); !s) return Error{who + ": " + s.error().message, Code::stale};
  }
  // Signed by a node this one trusts (or a hello by the key it carries): now it may be decoded.
  auto decoded = message::decodeWire(sealed.wire, limits);
  if (!decoded) return within(who + " is unreadable: ", decoded.error());
  const message::Message& m = decoded.value();
  if (m.fromNode != signer) {
    return Error{who + " says it is message " + std::to_string(m.id) + " from " + m.fromNode +
                     ": a node may only send as itself",
                 Code::forged};
  }
  if (announcement && (m.data.size() < 2 || m.data[1] != sealed.key)) {
    return Error{who + ": a hello must announce the key that sealed it", Code::forged};
  }
  Opened opened;
  opened.message = std::move(decoded).value();
  opened.wire = std::string(sealed.wire);
  opened.sentUnixMs = sealed.sentUnixMs;
  opened.announcement = announcement;
  return opened;
}

Result<Verifier::Answer> Verifier::openAnswer(const std::string& inbox, std::string_view payload,
                                              const std::string& receiver) const {
  if (payload.size() > 64 * 1024 + kMaxSealBytes) {
    return Error{"an answer from " + receiver + " is larger than an answer can be"};
  }
  auto sealed = security::open(payload);
  if (!sealed) return Error{"an answer from " + receiver + " is " + sealed.error().message};
  // The receiver's own answer, or its carrier's (which holds the message now).
  const bool byCarrier = sealed->signer != receiver && carriers_.carries(sealed->signer, receiver);
  const std::string signer = byCarrier ? std::string(sealed->signer) : receiver;
  const auto key = trust_.keyOf(signer);
  if (!key) return Error{"an answer from " + signer + ": " + trust_.whyUntrusted(signer)};
  if (sealed->signer != signer || !verify(*key, inbox, *sealed)) {
    return Error{"an answer said to be from " + receiver + " is not sealed by its key (forged)"};
  }
  Answer answer{std::string(sealed->wire), {}};
  if (auto s = fresh(sealed->sentUnixMs); !s) {
    answer.skewNote = signer + "'s answer was " + s.error().message;
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
