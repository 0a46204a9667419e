// A publisher process: one per (toNode, method). It owns a queue of messages for that subject and
// sends them in order: ACK kinds as a request on an inbox of their own, resent every ACKTimeout up
// to `retries` times, with up to `window` of them in flight at once (the receiver runs sequenced
// methods in their sequence order, whatever order they arrive in); NACK kinds published once.
// Everything runs on the process's strand, and waiting is a timer, never a sleeping thread.
#pragma once

#include "core/message/message.hpp"
#include "core/transport/transport.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <list>
#include <future>
#include <memory>
#include <string>

namespace steward::process {

struct DeliveryPolicy {
  bool ack = true;
  std::chrono::milliseconds ackTimeout{10000};
  int64_t retries = 3;  // resends after the first send
  // With a lifetime: resent until this time (ms since the epoch) whatever `retries` says, the
  // wait doubling from ackTimeout up to kMaxBackoff. 0: no lifetime.
  int64_t expiresUnixMs = 0;
};

// The longest wait between two sends of a message with a lifetime.
inline constexpr std::chrono::milliseconds kMaxBackoff{60000};

enum class Outcome {
  delivered,  // ACKed, or published once for NACK kinds
  refused,    // the receiver answered that it will not take it; no more retries
  givenUp,    // no ACK after retries+1 sends
  expired,    // no ACK within the message's lifetime
  failed,     // could not be handed to the broker at all (NACK kinds)
  stopped,    // the process stopped before it was settled
  removed,    // an operator removed it from the queue
};

std::string_view outcomeName(Outcome outcome);
// The code an outcome gives the operator: undelivered, removed, broker (could not be handed
// over), the receiver's own code for a refusal (`refusal`; refused when it gave none), and
// unspecified for delivered and stopped.
Code outcomeCode(Outcome outcome, Code refusal = Code::unspecified);

struct OpenedAnswer {
  std::string text;
  std::string note;  // said with the outcome when not empty
};

// What a publisher tells the sending side of its node. On the publisher's strand.
class PublisherEvents {
 public:
  // A message for `subject` is settled. `attempts` counts sends; `code` is outcomeCode's.
  virtual void settled(const std::string& subject, const message::Message& m, Outcome outcome,
                       int attempts, const std::string& detail, Code code) = 0;
  // A send of `m` was handed to the broker (attempt 1 is the first send).
  virtual void sent(const message::Message& m, int attempt) = 0;
  // The broker said nobody listens on the subject `m` went to (its node is offline, or the method
  // is not started there); `m` stays queued, resent until about `queuedUntilUnixMs`. Told once
  // per message.
  virtual void unheard(const message::Message& m, int64_t queuedUntilUnixMs) = 0;
  // Opens an answer to `m` that arrived on its inbox: the ACK text when the receiver sealed it
  // (and a note when something about it is off, e.g. its time), an error (the answer is ignored,
  // the message stays in flight) otherwise.
  virtual Result<OpenedAnswer> openAnswer(const message::Message& m, const std::string& inbox,
                                          const std::string& payload) = 0;

 protected:
  ~PublisherEvents() = default;
};

class Publisher : public std::enable_shared_from_this<Publisher> {
 public:
  // `window`: how many ACK kind messages may wait for their ACK at once (at least 1).
  static std::shared_ptr<Publisher> create(boost::asio::any_io_executor executor,
                                           transport::Transport& transport, std::string subject,
                                           PublisherEvents& events, uint64_t processId = 0,
                                           size_t window = 1);

  // Queues a message and its wire encoding; thread-safe.
  void enqueue(message::Message message, std::string wire, DeliveryPolicy policy);
  // Settles whatever is queued as `stopped` and sends nothing more; thread-safe.
  void stop();
  // Settles message `id` as removed if it is still queued or in flight; the future says whether
  // it was. Thread-safe.
  std::future<bool> remove(uint64_t id);
  // The broker is back: send the message in flight now if its last attempt could not be sent,
  // instead of waiting out its ACKTimeout. Thread-safe.
  void brokerReconnected();

  const std::string& subject() const { return subject_; }
  uint64_t processId() const { return processId_; }
  // Messages queued or in flight.
  size_t pending() const { return pending_.load(); }
  // Messages enqueued since it was made: unchanged, and none pending, means idle since.
  uint64_t enqueued() const { return enqueued_.load(); }

 private:
  // A queued message, and while it is in flight, its sends, inbox and timer.
  struct Item {
    message::Message message;
    DeliveryPolicy policy;
    std::string wire;
    bool inFlight = false;
    int attempts = 0;
    bool attemptSent = false;  // whether the last attempt reached the client's send buffer
    bool unheardTold = false;  // events_.unheard was called for it
    uint64_t generation = 0;   // tells a stale timer or late answer from the current one
    std::unique_ptr<transport::ReplyInbox> inbox;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  using Items = std::list<Item>;

  Publisher(boost::asio::any_io_executor executor, transport::Transport& transport,
            std::string subject, PublisherEvents& events, uint64_t processId, size_t window);
  bool expired(const Item& item) const;
  std::chrono::milliseconds waitAfter(const Item& item) const;
  // Starts queued messages until the window is full.
  void sendNext();
  void start(Items::iterator item);
  void transmit(Item& item);
  Items::iterator find(uint64_t id, uint64_t generation);
  void onTimer(uint64_t id, uint64_t generation);
  void onAnswer(uint64_t id, uint64_t generation, const std::string& payload);
  void onNoResponders(uint64_t id, uint64_t generation);
  void settle(Items::iterator item, Outcome outcome, const std::string& detail,
              Code refusal = Code::unspecified);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  transport::Transport& transport_;
  const std::string subject_;
  const uint64_t processId_;
  const size_t window_;
  PublisherEvents& events_;
  Items queue_;
  size_t inFlight_ = 0;
  bool stopped_ = false;
  uint64_t generation_ = 0;
  std::atomic<size_t> pending_{0};
  std::atomic<uint64_t> enqueued_{0};
};

}  // namespace steward::process
