// Signing on the way out and checking on the way in.
//
// SealingTransport wraps the broker transport: everything published is sealed with this node's
// key at the moment it is sent (envelope.hpp), ACKs included: a forged "taken" would make the
// sender drop a message it still owns.
//
// Verifier opens what a subscriber receives: it must be sealed, by the key this node trusts for
// the message's fromNode, for the subject it arrived on, and fresh (sent within the window). The
// one exception is a hello sealed by the (not revoked) key it announces: how a new node makes its
// key known to central.
#pragma once

#include "core/message/message.hpp"
#include "core/security/envelope.hpp"
#include "core/security/trust.hpp"
#include "core/transport/transport.hpp"

#include <chrono>
#include <functional>

namespace steward::security {

class SealingTransport : public transport::Transport {
 public:
  SealingTransport(transport::Transport& inner, const Identity& identity,
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
  std::function<int64_t()> now_;
};

struct Opened {
  message::Message message;
  std::string wire;         // the message's JSON, as stored in the inbox
  int64_t sentUnixMs = 0;   // when this copy was sealed
  // A hello from a node not trusted (yet) with that key, sealed by the key it announces: taken
  // only so central learns the key (data: [node, key, trusted set version]).
  bool announcement = false;
};

class Verifier {
 public:
  Verifier(Trust& trust, std::chrono::seconds window, std::function<int64_t()> nowUnixMs);
  // The message in `payload`, which arrived on `subject`, once it passes every check; else an
  // error saying who sent what and why it is refused.
  Result<Opened> open(const std::string& subject, std::string_view payload) const;
  // The ACK in `payload`, answered on `inbox` for a message sent to `receiver`: it must be sealed
  // by the receiver's trusted key for that inbox, and fresh.
  Result<std::string> openAnswer(const std::string& inbox, std::string_view payload,
                                 const std::string& receiver) const;

 private:
  // Whether the seal was made within the window of now.
  Status fresh(const Sealed& sealed) const;

  Trust& trust_;
  std::chrono::seconds window_;
  std::function<int64_t()> now_;
};

}  // namespace steward::security
