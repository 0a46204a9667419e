#include "core/process/publisher.hpp"

#include "core/process/ack.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

namespace steward::process {

namespace asio = boost::asio;

std::string_view outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::delivered: return "delivered";
    case Outcome::refused: return "refused";
    case Outcome::givenUp: return "given up";
    case Outcome::failed: return "failed";
    case Outcome::stopped: return "stopped";
  }
  return "unknown";
}

std::shared_ptr<Publisher> Publisher::create(asio::any_io_executor executor,
                                             transport::Transport& transport, std::string subject,
                                             Settled settled) {
  return std::shared_ptr<Publisher>(
      new Publisher(std::move(executor), transport, std::move(subject), std::move(settled)));
}

Publisher::Publisher(asio::any_io_executor executor, transport::Transport& transport,
                     std::string subject, Settled settled)
    : strand_(asio::make_strand(executor)),
      transport_(transport),
      subject_(std::move(subject)),
      settled_(std::move(settled)),
      timer_(strand_) {}

void Publisher::enqueue(message::Message message, std::string wire, DeliveryPolicy policy) {
  ++pending_;
  asio::post(strand_, [self = shared_from_this(), item = Item{std::move(message), policy,
                                                              std::move(wire)}]() mutable {
    if (self->stopped_) {
      --self->pending_;
      self->settled_(item.message, Outcome::stopped, 0, "publisher stopped");
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
      self->settled_(self->queue_.front().message, Outcome::stopped, self->attempts_,
                     "publisher stopped");
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
    if (!item.policy.ack) {
      attempts_ = 1;
      auto s = transport_.publish(subject_, item.wire);
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
  timer_.expires_after(item.policy.ackTimeout);
  timer_.async_wait(asio::bind_executor(
      strand_, [self = shared_from_this(), generation = generation_](boost::system::error_code ec) {
        if (!ec) self->onTimer(generation);
      }));
}

void Publisher::brokerReconnected() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->inFlight_ && !self->stopped_ && !self->attemptSent_) self->transmit();
  });
}

void Publisher::onTimer(uint64_t generation) {
  if (generation != generation_ || !inFlight_ || stopped_) return;
  if (attempts_ <= queue_.front().policy.retries) {
    attempt();
    return;
  }
  settle(Outcome::givenUp, "no ACK after " + std::to_string(attempts_) + " sends");
  sendNext();
}

void Publisher::onAnswer(uint64_t generation, const std::string& payload) {
  if (generation != generation_ || !inFlight_ || stopped_) return;
  auto ack = decodeAck(payload);
  if (!ack) return;  // not an answer we understand; keep waiting for a real one
  timer_.cancel();
  settle(ack->accepted ? Outcome::delivered : Outcome::refused, ack->error);
  sendNext();
}

void Publisher::settle(Outcome outcome, const std::string& detail) {
  Item item = std::move(queue_.front());
  queue_.pop_front();
  inFlight_ = false;
  inbox_.reset();
  ++generation_;
  --pending_;
  settled_(item.message, outcome, attempts_, detail);
}

}  // namespace steward::process
