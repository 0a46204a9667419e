// The broker seen from a node: publish, subscribe, and reply inboxes unique to one message.
// An interface so the delivery logic can be tested against a mock; NatsTransport is the real one.
#pragma once

#include "core/util/result.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace steward::transport {

struct Incoming {
  std::string subject;
  std::string replyTo;  // empty when the sender expects no answer
  std::string payload;
  // The broker's word that nobody listens on the subject a request went to (no payload). Only
  // reply inboxes are told; other subscriptions never see these.
  bool noResponders = false;
};

// A live subscription; destroying it unsubscribes and waits until its handler no longer runs.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

// A reply subject that belongs to one message. Answers to it reach the handler given to
// openInbox until this object is destroyed.
class ReplyInbox {
 public:
  ReplyInbox(std::string subject, std::function<void()> close)
      : subject_(std::move(subject)), close_(std::move(close)) {}
  ~ReplyInbox() {
    if (close_) close_();
  }
  ReplyInbox(const ReplyInbox&) = delete;
  ReplyInbox& operator=(const ReplyInbox&) = delete;
  const std::string& subject() const { return subject_; }

 private:
  std::string subject_;
  std::function<void()> close_;
};

class Transport {
 public:
  using Handler = std::function<void(Incoming)>;
  // An answer on a reply inbox; `noResponders` (empty payload): the broker says nobody listens
  // on the subject the request went to.
  using ReplyHandler = std::function<void(std::string payload, bool noResponders)>;

  virtual ~Transport() = default;

  // Sends payload on subject, with replyTo as the answer address if not empty. Succeeds while
  // disconnected too, as long as the client can buffer the message for the reconnect.
  virtual Status publish(const std::string& subject, std::string_view payload,
                         const std::string& replyTo = {}) = 0;

  // Subscribes to subject. The handler runs on a transport thread and must not block.
  virtual Result<std::unique_ptr<Subscription>> subscribe(const std::string& subject,
                                                          Handler handler) = 0;

  // Opens a reply inbox for one message. The handler runs on a transport thread.
  virtual std::unique_ptr<ReplyInbox> openInbox(ReplyHandler handler) = 0;

  // The largest payload the broker accepts, in bytes.
  virtual size_t maxPayload() const = 0;

  // Whether the broker is reachable right now.
  virtual bool connected() const = 0;
};

}  // namespace steward::transport
