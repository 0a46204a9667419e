#include "core/process/publisher.hpp"

#include "core/util/log.hpp"

#include "core/process/ack.hpp"
#include "core/util/clock.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

namespace steward::process {

namespace asio = boost::asio;

std::string_view outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::delivered: return "delivered";
    case Outcome::refused: return "refused";
    case Outcome::givenUp: return "given up";
    case Outcome::expired: return "expired";
    case Outcome::failed: return "failed";
    case Outcome::stopped: return "stopped";
    case Outcome::removed: return "removed";
  }
  return "unknown";
}

Code outcomeCode(Outcome outcome, Code refusal) {
  switch (outcome) {
    case Outcome::refused: return refusal == Code::unspecified ? Code::refused : refusal;
    case Outcome::givenUp:
    case Outcome::expired: return Code::undelivered;
    case Outcome::failed: return Code::broker;
    case Outcome::removed: return Code::removed;
    case Outcome::delivered:
    case Outcome::stopped: return Code::unspecified;
  }
  return Code::unspecified;
}

std::shared_ptr<Publisher> Publisher::create(asio::any_io_executor executor,
                                             transport::Transport& transport, std::string subject,
                                             PublisherEvents& events, uint64_t processId,
                                             size_t window) {
  return std::shared_ptr<Publisher>(new Publisher(std::move(executor), transport,
                                                  std::move(subject), events, processId, window));
}

Publisher::Publisher(asio::any_io_executor executor, transport::Transport& transport,
                     std::string subject, PublisherEvents& events, uint64_t processId,
                     size_t window)
    : strand_(asio::make_strand(executor)),
      transport_(transport),
      subject_(std::move(subject)),
      processId_(processId),
      window_(std::max<size_t>(1, window)),
      events_(events) {}

bool Publisher::expired(const Item& item) const {
  return item.policy.expiresUnixMs > 0 && nowUnixMs() >= item.policy.expiresUnixMs;
}

// Without a lifetime every send waits ackTimeout. With one, the wait doubles after each send up
// to kMaxBackoff, and never runs past the lifetime.
std::chrono::milliseconds Publisher::waitAfter(const Item& item) const {
  const auto base = item.policy.ackTimeout;
  if (item.policy.expiresUnixMs == 0) return base;
  auto wait = base;
  for (int i = 1; i < item.attempts && wait < kMaxBackoff; ++i) wait *= 2;
  wait = std::min(wait, std::max(base, kMaxBackoff));
  const auto left = std::chrono::milliseconds(item.policy.expiresUnixMs - nowUnixMs());
  return std::max(std::chrono::milliseconds(1), std::min(wait, left));
}

void Publisher::enqueue(message::Message message, std::string wire, DeliveryPolicy policy) {
  ++pending_;
  ++enqueued_;
  asio::post(strand_, [self = shared_from_this(), message = std::move(message), policy,
                       wire = std::move(wire)]() mutable {
    if (self->stopped_) {
      --self->pending_;
      self->events_.settled(self->subject_, message, Outcome::stopped, 0, "publisher stopped",
                            Code::unspecified);
      return;
    }
    Item& item = self->queue_.emplace_back();
    item.message = std::move(message);
    item.policy = policy;
    item.wire = std::move(wire);
    self->sendNext();
  });
}

void Publisher::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->inFlight_ = 0;
    while (!self->queue_.empty()) {
      Item& item = self->queue_.front();
      if (item.timer) item.timer->cancel();
      item.inbox.reset();
      --self->pending_;
      self->events_.settled(self->subject_, item.message, Outcome::stopped, item.attempts,
                            "publisher stopped",
                            Code::unspecified);
      self->queue_.pop_front();
    }
  });
}

// Messages start in queue order; at most window_ wait for their ACK at once.
void Publisher::sendNext() {
  auto it = queue_.begin();
  while (!stopped_ && inFlight_ < window_) {
    while (it != queue_.end() && it->inFlight) ++it;
    if (it == queue_.end()) return;
    auto current = it++;
    start(current);
  }
}

void Publisher::start(Items::iterator it) {
  Item& item = *it;
  item.generation = ++generation_;
  if (expired(item)) {
    settle(it, Outcome::expired, "lifetime over before it could be sent");
    return;
  }
  if (!item.policy.ack) {
    item.attempts = 1;
    auto s = transport_.publish(subject_, item.wire);
    if (s) events_.sent(item.message, 1);
    settle(it, s ? Outcome::delivered : Outcome::failed, s ? "" : s.error().message);
    return;
  }
  item.inFlight = true;
  ++inFlight_;
  const uint64_t id = item.message.id;
  const uint64_t generation = item.generation;
  std::weak_ptr<Publisher> weak = weak_from_this();
  item.inbox = transport_.openInbox([weak, id, generation](std::string payload, bool noResponders) {
    if (auto self = weak.lock()) {
      asio::post(self->strand_, [self, id, generation, payload = std::move(payload), noResponders] {
        if (noResponders) {
          self->onNoResponders(id, generation);
        } else {
          self->onAnswer(id, generation, payload);
        }
      });
    }
  });
  item.timer = std::make_unique<asio::steady_timer>(strand_);
  ++item.attempts;
  transmit(item);
}

// While the broker is unreachable the client would only pile another copy of the message into
// its reconnect buffer, to be flushed as duplicates later: the attempt counts toward `retries`,
// the bytes are not queued. A failed publish counts as a send that got no ACK.
void Publisher::transmit(Item& item) {
  item.attemptSent = transport_.connected() &&
                     transport_.publish(subject_, item.wire, item.inbox->subject()).ok();
  if (item.attemptSent) events_.sent(item.message, item.attempts);
  item.timer->expires_after(waitAfter(item));
  item.timer->async_wait(asio::bind_executor(
      strand_, [self = shared_from_this(), id = item.message.id,
                generation = item.generation](boost::system::error_code ec) {
        if (!ec) self->onTimer(id, generation);
      }));
}

Publisher::Items::iterator Publisher::find(uint64_t id, uint64_t generation) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->message.id == id) return it->inFlight && it->generation == generation ? it : queue_.end();
  }
  return queue_.end();
}

std::future<bool> Publisher::remove(uint64_t id) {
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  asio::post(strand_, [self = shared_from_this(), id, done] {
    for (auto it = self->queue_.begin(); it != self->queue_.end(); ++it) {
      if (it->message.id != id) continue;
      self->settle(it, Outcome::removed, "removed by an operator");
      self->sendNext();
      done->set_value(true);
      return;
    }
    done->set_value(false);
  });
  return result;
}

void Publisher::brokerReconnected() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->stopped_) return;
    for (auto& item : self->queue_) {
      if (item.inFlight && !item.attemptSent) self->transmit(item);
    }
  });
}

void Publisher::onTimer(uint64_t id, uint64_t generation) {
  if (stopped_) return;
  auto it = find(id, generation);
  if (it == queue_.end()) return;
  Item& item = *it;
  if (item.policy.expiresUnixMs > 0) {
    if (!expired(item)) {
      ++item.attempts;
      transmit(item);
      return;
    }
    settle(it, Outcome::expired,
           "no ACK within its lifetime, after " + std::to_string(item.attempts) + " sends");
  } else if (item.attempts <= item.policy.retries) {
    ++item.attempts;
    transmit(item);
    return;
  } else {
    settle(it, Outcome::givenUp, "no ACK after " + std::to_string(item.attempts) + " sends");
  }
  sendNext();
}

void Publisher::onNoResponders(uint64_t id, uint64_t generation) {
  if (stopped_) return;
  auto it = find(id, generation);
  if (it == queue_.end() || it->unheardTold) return;
  it->unheardTold = true;
  // The sends left, each waiting out its ACKTimeout (the lifetime's end when it has one).
  const Item& item = *it;
  const int64_t left = std::max<int64_t>(0, item.policy.retries + 1 - item.attempts);
  const int64_t until = item.policy.expiresUnixMs > 0
                            ? item.policy.expiresUnixMs
                            : nowUnixMs() + (left + 1) * item.policy.ackTimeout.count();
  events_.unheard(item.message, until);
}

void Publisher::onAnswer(uint64_t id, uint64_t generation, const std::string& payload) {
  if (stopped_) return;
  auto it = find(id, generation);
  if (it == queue_.end()) return;
  auto opened = events_.openAnswer(it->message, it->inbox->subject(), payload);
  if (!opened) {
    // Not the receiver's word: it settles nothing.
    STEWARD_LOG(warning) << subject_ << ": ignored " << opened.error().message;
    return;
  }
  const OpenedAnswer answer = std::move(opened).value();
  auto ack = decodeAck(answer.text);
  if (!ack) return;  // not an answer we understand; keep waiting for a real one
  if (!answer.note.empty()) STEWARD_LOG(warning) << subject_ << ": " << answer.note;
  std::string detail = ack->error;
  if (!answer.note.empty()) detail += (detail.empty() ? "" : "; ") + answer.note;
  settle(it, ack->accepted ? Outcome::delivered : Outcome::refused, detail, ack->code);
  // The same sealed answer ACKs the others the receiver took in the same write (whatever send
  // of theirs it saw); an id this publisher no longer waits for is passed over.
  for (const uint64_t other : ack->also) {
    for (auto o = queue_.begin(); o != queue_.end(); ++o) {
      if (o->message.id != other || !o->inFlight) continue;
      settle(o, Outcome::delivered, answer.note);
      break;
    }
  }
  sendNext();
}

void Publisher::settle(Items::iterator it, Outcome outcome, const std::string& detail,
                       Code refusal) {
  if (it->inFlight) --inFlight_;
  if (it->timer) it->timer->cancel();
  const message::Message message = std::move(it->message);
  const int attempts = it->attempts;
  queue_.erase(it);
  --pending_;
  events_.settled(subject_, message, outcome, attempts, detail, outcomeCode(outcome, refusal));
}

}  // namespace steward::process
