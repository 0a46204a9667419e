#include "core/process/publisher.hpp"

#include "core/util/log.hpp"

#include "core/process/ack.hpp"
#include "core/util/clock.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

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
                                             PublisherEvents& events, uint64_t processId) {
  return std::shared_ptr<Publisher>(
      new Publisher(std::move(executor), transport, std::move(subject), events, processId));
}

Publisher::Publisher(asio::any_io_executor executor, transport::Transport& transport,
                     std::string subject, PublisherEvents& events, uint64_t processId)
    : strand_(asio::make_strand(executor)),
      transport_(transport),
      subject_(std::move(subject)),
      processId_(processId),
      events_(events),
      timer_(strand_) {}

bool Publisher::expired(const Item& item) const {
  return item.policy.expiresUnixMs > 0 && nowUnixMs() >= item.policy.expiresUnixMs;
}

// Without a lifetime every send waits ackTimeout. With one, the wait doubles after each send up
// to kMaxBackoff, and never runs past the lifetime.
std::chrono::milliseconds Publisher::waitAfter(const Item& item) const {
  const auto base = item.policy.ackTimeout;
  if (item.policy.expiresUnixMs == 0) return base;
  auto wait = base;
  for (int i = 1; i < attempts_ && wait < kMaxBackoff; ++i) wait *= 2;
  wait = std::min(wait, std::max(base, kMaxBackoff));
  const auto left = std::chrono::milliseconds(item.policy.expiresUnixMs - nowUnixMs());
  return std::max(std::chrono::milliseconds(1), std::min(wait, left));
}

void Publisher::enqueue(message::Message message, std::string wire, DeliveryPolicy policy) {
  ++pending_;
  asio::post(strand_, [self = shared_from_this(), item = Item{std::move(message), policy,
                                                              std::move(wire)}]() mutable {
    if (self->stopped_) {
      --self->pending_;
      self->events_.settled(item.message, Outcome::stopped, 0, "publisher stopped", Code::unspecified);
      return;
    }
    self->queue_.push_back(std::move(item));
    self->sendNext();
  });
}

void Publisher::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
    self->inbox_.reset();
    self->inFlight_ = false;
    while (!self->queue_.empty()) {
      --self->pending_;
      self->events_.settled(self->queue_.front().message, Outcome::stopped, self->attempts_,
                            "publisher stopped", Code::unspecified);
      self->queue_.pop_front();
      self->attempts_ = 0;
    }
  });
}

void Publisher::sendNext() {
  while (!inFlight_ && !stopped_ && !queue_.empty()) {
    Item& item = queue_.front();
    attempts_ = 0;
    ++generation_;
    if (expired(item)) {
      settle(Outcome::expired, "lifetime over before it could be sent");
      continue;
    }
    if (!item.policy.ack) {
      attempts_ = 1;
      auto s = transport_.publish(subject_, item.wire);
      if (s) events_.sent(item.message, 1);
      settle(s ? Outcome::delivered : Outcome::failed, s ? "" : s.error().message);
      continue;
    }
    inFlight_ = true;
    const uint64_t generation = generation_;
    std::weak_ptr<Publisher> weak = weak_from_this();
    inbox_ = transport_.openInbox([weak, generation](std::string payload) {
      if (auto self = weak.lock()) {
        asio::post(self->strand_, [self, generation, payload = std::move(payload)] {
          self->onAnswer(generation, payload);
        });
      }
    });
    attempt();
  }
}

void Publisher::attempt() {
  ++attempts_;
  transmit();
}

// While the broker is unreachable the client would only pile another copy of the message into
// its reconnect buffer, to be flushed as duplicates later: the attempt counts toward `retries`,
// the bytes are not queued. A failed publish counts as a send that got no ACK.
void Publisher::transmit() {
  const Item& item = queue_.front();
  attemptSent_ = transport_.connected() &&
                 transport_.publish(subject_, item.wire, inbox_->subject()).ok();
  if (attemptSent_) events_.sent(item.message, attempts_);
  timer_.expires_after(waitAfter(item));
  timer_.async_wait(asio::bind_executor(
      strand_, [self = shared_from_this(), generation = generation_](boost::system::error_code ec) {
        if (!ec) self->onTimer(generation);
      }));
}

std::future<bool> Publisher::remove(uint64_t id) {
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  asio::post(strand_, [self = shared_from_this(), id, done] {
    for (auto it = self->queue_.begin(); it != self->queue_.end(); ++it) {
      if (it->message.id != id) continue;
      if (it == self->queue_.begin() && self->inFlight_) {
        self->timer_.cancel();
        self->settle(Outcome::removed, "removed by an operator");
        self->sendNext();
      } else {
        message::Message m = std::move(it->message);
        self->queue_.erase(it);
        --self->pending_;
        self->events_.settled(m, Outcome::removed, 0, "removed by an operator", Code::removed);
      }
      done->set_value(true);
      return;
    }
    done->set_value(false);
  });
  return result;
}

void Publisher::brokerReconnected() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->inFlight_ && !self->stopped_ && !self->attemptSent_) self->transmit();
  });
}

void Publisher::onTimer(uint64_t generation) {
  if (generation != generation_ || !inFlight_ || stopped_) return;
  const Item& item = queue_.front();
  if (item.policy.expiresUnixMs > 0) {
    if (!expired(item)) {
      attempt();
      return;
    }
    settle(Outcome::expired, "no ACK within its lifetime, after " + std::to_string(attempts_) +
                                 " sends");
  } else if (attempts_ <= item.policy.retries) {
    attempt();
    return;
  } else {
    settle(Outcome::givenUp, "no ACK after " + std::to_string(attempts_) + " sends");
  }
  sendNext();
}

void Publisher::onAnswer(uint64_t generation, const std::string& payload) {
  if (generation != generation_ || !inFlight_ || stopped_) return;
  auto opened = events_.openAnswer(queue_.front().message, inbox_->subject(), payload);
  if (!opened) {
    // Not the receiver's word: it settles nothing.
    STEWARD_LOG(warning) << subject_ << ": ignored " << opened.error().message;
    return;
  }
  const OpenedAnswer answer = std::move(opened).value();
  auto ack = decodeAck(answer.text);
  if (!ack) return;  // not an answer we understand; keep waiting for a real one
  timer_.cancel();
  if (!answer.note.empty()) STEWARD_LOG(warning) << subject_ << ": " << answer.note;
  std::string detail = ack->error;
  if (!answer.note.empty()) detail += (detail.empty() ? "" : "; ") + answer.note;
  settle(ack->accepted ? Outcome::delivered : Outcome::refused, detail, ack->code);
  sendNext();
}

void Publisher::settle(Outcome outcome, const std::string& detail, Code refusal) {
  Item item = std::move(queue_.front());
  queue_.pop_front();
  inFlight_ = false;
  inbox_.reset();
  ++generation_;
  --pending_;
  events_.settled(item.message, outcome, attempts_, detail, outcomeCode(outcome, refusal));
}

}  // namespace steward::process
