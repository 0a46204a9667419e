// Signing on the way out and checking on the way in.
//
// SealingTransport wraps the broker transport: everything published is sealed with this node's
// key at the moment it is sent (envelope.hpp), ACKs included: a forged "taken" would make the
// sender drop a message it still owns.
//
// Verifier opens what a subscriber receives, cheapest check first (SECURITY.md, "The checks in
// order"): its size; the seal's line; the signature over the raw bytes, by the key this node
// trusts for the signer the seal names, for the subject it arrived on; freshness (sent within the
// window); only then is the JSON decoded (bounded, json.hpp), and its fromNode must be the
// signer. The one exception to a trusted key is a hello sealed by the (not revoked) key it
// carries in its seal: how a new node makes its key known to central. Such an announcement is
// only recorded, never run (Opened::announcement).
//
// A message carried by a relay (README, "Relays") has two seals: the relay's, made as it forwards
// the message, outside; the origin's, made when the origin sent it, inside. The outer one is
// checked like any seal (trusted key, subject, freshness) and its signer must be a carrier this
// node takes that origin's messages from (Carriers); the inner one is checked for the origin's key
// and the same subject, but not for freshness: the relay may have held the message for hours. A
// copy replayed by a carrier is still recognised by its id (the inbox remembers them).
#pragma once

#include "core/message/carriers.hpp"
#include "core/message/message.hpp"
#include "core/security/envelope.hpp"
#include "core/security/trust.hpp"
#include "core/transport/transport.hpp"

#include <chrono>
#include <functional>

namespace steward::security {

class SealingTransport : public transport::Transport {
 public:
  // Seals as node `signer`; hellos (subjects <node>.REQHello.…) carry the public key too.
  SealingTransport(transport::Transport& inner, const Identity& identity, std::string signer,
                   std::function<int64_t()> nowUnixMs);

  Status publish(const std::string& subject, std::string_view payload,
                 const std::string& replyTo = {}) override;
  Result<std::unique_ptr<transport::Subscription>> subscribe(const std::string& subject,
                                                             Handler handler) override;
  std::unique_ptr<transport::ReplyInbox> openInbox(ReplyHandler handler) override;
  // The broker's limit less room for the seal.
  size_t maxPayload() const override;
  bool connected() const override;

 private:
  transport::Transport& inner_;
  const Identity& identity_;
  const std::string signer_;
  std::function<int64_t()> now_;
};

struct Opened {
  message::Message message;
  std::string wire;         // the message's JSON, as stored in the inbox
  int64_t sentUnixMs = 0;   // when this copy was sealed (a carried one: by its relay)
  // A hello from a node not trusted (yet) with that key, sealed by the key it announces: taken
  // only so central learns the key (data: [node, key, trusted set version]); never stored or run.
  bool announcement = false;
  // A carried message: the relay that brought it, and where in the payload the origin's own
  // sealed bytes begin (what a relay forwards). Empty and 0 for a message sent straight here.
  std::string carrier;
  size_t originOffset = 0;
};

class Verifier {
 public:
  Verifier(Trust& trust, std::chrono::seconds window, std::function<int64_t()> nowUnixMs,
           message::Carriers carriers = {});
  // The message in `payload`, which arrived on `subject`, once it passes every check; else an
  // error saying who sent what and why it is refused.
  Result<Opened> open(const std::string& subject, std::string_view payload) const;
  // The ACK in `payload`, answered on `inbox` for a message sent to `receiver`: it must be sealed
  // by the receiver's trusted key for that inbox. An inbox belongs to one message (a random
  // prefix per start, a counter per message), so a copy replayed onto it can only be an answer to
  // that very message: an answer sealed outside the window is taken, and `skewNote` says how far
  // off the receiver's clock seems. A carrier of the receiver may answer for it: it holds the
  // message then, and owes the delivery. Otherwise a node whose clock is off could never tell central
  // that it refuses central's messages as stale.
  struct Answer {
    std::string text;
    std::string skewNote;  // empty when the answer was fresh
  };
  Result<Answer> openAnswer(const std::string& inbox, std::string_view payload,
                            const std::string& receiver) const;

 private:
  // Whether a seal made at `sentUnixMs` is within the window of now.
  Status fresh(int64_t sentUnixMs) const;
  // The message under one seal, checked as open() says; freshness only when `checkFresh`.
  Result<Opened> openSealed(const std::string& subject, const Sealed& sealed, bool checkFresh) const;

  Trust& trust_;
  std::chrono::seconds window_;
  std::function<int64_t()> now_;
  message::Carriers carriers_;
};

}  // namespace steward::security
