#include "core/process/relay.hpp"

#include "core/process/ack.hpp"
#include "core/util/clock.hpp"
#include "core/util/log.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace steward::process {

namespace asio = boost::asio;

namespace {

// A message as the audit log names it, without its data (which the relay never needs).
message::Message aboutOf(const std::string& fromNode, uint64_t id, const message::SubjectParts& to) {
  message::Message about;
  about.fromNode = fromNode;
  about.id = id;
  about.toNode = to.node;
  about.method = to.method;
  return about;
}

}  // namespace

Relay::Relay(asio::io_context& io, transport::Transport& near, transport::Transport& far,
             const security::Verifier& verifier, store::Store& store, const observe::Audit& audit,
             const observe::ErrorKernel& errors, RelaySettings settings)
    : io_(io),
      near_(near),
      far_(far),
      verifier_(verifier),
      store_(store),
      audit_(audit),
      errors_(errors),
      settings_(std::move(settings)),
      numbers_(store, "carry") {}

Status Relay::start() {
  auto loaded = store_.loadCarried();
  for (const auto& e : loaded.damaged) errors_.report("relay: " + e.message);
  {
    std::lock_guard lock(mutex_);
    for (auto& entry : loaded.entries) {
      auto to = message::parseSubject(entry.subject);
      if (!to) continue;  // written by this node, so never; skipped rather than trusted
      const uint64_t number = entry.number;
      byIdentity_[{entry.fromNode, entry.subject, entry.id}] = number;
      heldBytes_ += entry.payload.size();
      Held h{std::move(entry), {}, {}, 0, 0};
      h.about = aboutOf(h.entry.fromNode, h.entry.id, *to);
      held_.emplace(number, std::move(h));
    }
    stopped_ = false;
  }
  if (!loaded.entries.empty()) {
    STEWARD_LOG(info) << "relay: holding " << loaded.entries.size() << " message(s) from before the restart";
  }
  std::weak_ptr<Relay> weak = weak_from_this();
  // On this node's broker: the subjects of the nodes behind the relay.
  for (const auto& node : settings_.farNodes) {
    auto sub = near_.subscribe(node + ".>", [weak](transport::Incoming in) {
      if (auto self = weak.lock()) self->onArrival(false, std::move(in));
    });
    if (!sub) return within("relay: cannot listen for " + node + ": ", sub.error());
    subscriptions_.push_back(std::move(sub).value());
  }
  // On the far broker: everything; what is not for a node on this node's side is passed over.
  auto sub = far_.subscribe(">", [weak](transport::Incoming in) {
    if (auto self = weak.lock()) self->onArrival(true, std::move(in));
  });
  if (!sub) return within("relay: cannot listen on the far broker: ", sub.error());
  subscriptions_.push_back(std::move(sub).value());
  timer_ = std::make_unique<asio::steady_timer>(io_);
  asio::post(io_, [weak] {
    if (auto self = weak.lock()) self->onTick();
  });
  return {};
}

void Relay::stop() {
  std::vector<std::unique_ptr<transport::Subscription>> subscriptions;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    subscriptions.swap(subscriptions_);
  }
  // Waits for handlers that run now; they find the relay stopped. Then what they handed over is
  // stored (and ACKed) before the writer ends.
  subscriptions.clear();
  writer_.stop();
  std::lock_guard lock(mutex_);
  if (timer_) timer_->cancel();
  for (auto& [number, h] : held_) h.inbox.reset();
  inFlight_[0] = inFlight_[1] = 0;
}

size_t Relay::held() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

void Relay::refuse(bool fromFar, const std::string& replyTo, const Error& why) {
  STEWARD_LOG(warning) << why.message;
  if (!replyTo.empty()) (void)side(fromFar).publish(replyTo, encodeAck(Ack::refuse(why.message, why.code)));
}

// On a transport thread: checked here, then handed to the writer.
void Relay::onArrival(bool fromFar, transport::Incoming in) {
  if (in.subject.rfind("_INBOX.", 0) == 0) return;  // answers, not messages
  auto to = message::parseSubject(in.subject);
  if (!to) return;  // not a node's subject: nothing steward sent
  const bool forFar = settings_.farNodes.count(to->node) != 0;
  // From the far side only what leaves it; this node's own subjects are its subscribers' alone.
  if (forFar == fromFar || to->node == settings_.nodeName) return;
  const std::string who = "relay " + settings_.nodeName + " refused ";
  auto opened = verifier_.open(in.subject, in.payload);
  if (!opened) return refuse(fromFar, in.replyTo, within(who, opened.error()));
  const message::Message& m = opened->message;
  if (m.toNode != to->node || m.method != to->method) {
    return refuse(fromFar, in.replyTo,
                  Error{who + "message " + std::to_string(m.id) + " from " + m.fromNode + ": it is for " +
                            m.toNode + "/" + m.method + ", not the subject's " + to->node + "/" + to->method,
                        Code::wrongReceiver});
  }
  std::string origin = in.payload.substr(opened->originOffset);
  if (!message::needsAck(to->kind)) {
    // Its sender sends it once and waits for nobody: so does the relay.
    (void)side(!fromFar).publish(in.subject, origin);
    return;
  }
  const int64_t ackTimeoutMs = std::clamp<int64_t>(m.ackTimeout.value_or(10), 1, 60) * 1000;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    if (auto it = byIdentity_.find({m.fromNode, in.subject, m.id}); it != byIdentity_.end()) {
      // Sent again before the relay's ACK reached its sender: held already (ACKed again), or
      // being stored now (the first copy's ACK follows; an ACK before the write would be a lie).
      if (it->second != 0 && !in.replyTo.empty()) {
        (void)side(fromFar).publish(in.replyTo, encodeAck(Ack::accept()));
      }
      return;
    }
    if (held_.size() + taking_ >= settings_.maxHeld ||
        heldBytes_ + takingBytes_ + origin.size() > settings_.maxHeldBytes) {
      // No ACK: the sender keeps it and sends it again later.
      STEWARD_LOG(warning) << "relay: holds " << held_.size() + taking_ << " messages ("
                           << heldBytes_ + takingBytes_ << " bytes), its most: message " << m.id
                           << " from " << m.fromNode << " waits at its sender";
      return;
    }
    byIdentity_[{m.fromNode, in.subject, m.id}] = 0;
    ++taking_;
    takingBytes_ += origin.size();
  }
  Arrival arrival{store::CarriedEntry{.subject = in.subject,
                                      .toFar = !fromFar,
                                      .fromNode = m.fromNode,
                                      .id = m.id,
                                      .takenUnixMs = nowUnixMs(),
                                      .ackTimeoutMs = ackTimeoutMs,
                                      .payload = std::move(origin)},
                  aboutOf(m.fromNode, m.id, *to), std::move(in.replyTo)};
  {
    std::lock_guard lock(intakeMutex_);
    intake_.push_back(std::move(arrival));
    if (intakeBusy_) return;
    intakeBusy_ = true;
  }
  writer_.submit([self = shared_from_this()] { self->storeIntake(); });
}

// On the writer's thread. Each write takes every arrival waiting, with one sync; then they are
// ACKed. One that cannot be stored is not ACKed: its sender keeps it and sends it again.
void Relay::storeIntake() {
  for (;;) {
    std::vector<Arrival> batch;
    {
      std::lock_guard lock(intakeMutex_);
      batch.swap(intake_);
      if (batch.empty()) {
        intakeBusy_ = false;
        return;
      }
    }
    std::vector<store::CarriedEntry> entries;
    for (auto& a : batch) {
      auto number = numbers_.next();
      if (!number) {
        errors_.report("relay: " + number.error().message);
        break;
      }
      a.entry.number = *number;
      entries.push_back(a.entry);
    }
    bool stored = entries.size() == batch.size();
    if (stored) {
      if (auto s = store_.putCarried(entries); !s) {
        errors_.report("relay: " + s.error().message);
        stored = false;
      }
    }
    {
      std::lock_guard lock(mutex_);
      for (auto& a : batch) {
        store::CarriedEntry& e = a.entry;
        --taking_;
        takingBytes_ -= e.payload.size();
        if (!stored) {
          byIdentity_.erase({e.fromNode, e.subject, e.id});
          continue;
        }
        byIdentity_[{e.fromNode, e.subject, e.id}] = e.number;
        heldBytes_ += e.payload.size();
        const uint64_t number = e.number;
        held_.emplace(number, Held{std::move(e), a.about, {}, 0, 0});  // (a moved entry keeps its side, a bool)
      }
    }
    if (!stored) continue;
    for (const auto& a : batch) {
      // The side it came from is the side its sender waits on.
      if (!a.replyTo.empty()) (void)side(!a.entry.toFar).publish(a.replyTo, encodeAck(Ack::accept()));
      audit_.record("carried", a.about);
    }
    std::lock_guard lock(mutex_);
    if (!stopped_) pump(nowUnixMs());
  }
}

// Sends what waits, oldest first, while each side's window has room and its broker is there.
void Relay::pump(int64_t now) {
  const bool up[2] = {near_.connected(), far_.connected()};
  for (auto& [number, h] : held_) {
    const bool far = h.entry.toFar;
    if (h.inbox || now < h.dueMs || !up[far] || inFlight_[far] >= settings_.window) continue;
    send(h, now);
    if (inFlight_[0] >= settings_.window && inFlight_[1] >= settings_.window) return;
  }
}

// On an io thread, every tick: gives up what was held too long, frees the window of what was not
// ACKed in time (it goes again), and sends what waits.
void Relay::onTick() {
  std::vector<std::string> reports;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    const int64_t now = nowUnixMs();
    const int64_t holdMs = std::chrono::milliseconds(settings_.hold).count();
    for (auto it = held_.begin(); it != held_.end();) {
      Held& h = it->second;
      if (now - h.entry.takenUnixMs > holdMs) {
        const std::string why = "no ACK from " + h.about.toNode + " after holding it " +
                                std::to_string(settings_.hold.count()) + " s (" +
                                std::to_string(h.attempts) + " sends)";
        reports.push_back("relay: gave up message " + std::to_string(h.entry.id) + " (" +
                          h.about.method + ") from " + h.entry.fromNode + ": " + why);
        settle(it++, "given up", why);
        continue;
      }
      if (h.inbox && now >= h.dueMs) {
        h.inbox.reset();
        --inFlight_[h.entry.toFar];
        h.dueMs = now;
      }
      ++it;
    }
    pump(now);
    timer_->expires_after(settings_.tick);
    timer_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->onTick();
    });
  }
  for (const auto& r : reports) errors_.report(r);
}

void Relay::send(Held& h, int64_t now) {
  const bool far = h.entry.toFar;
  const uint64_t number = h.entry.number;
  const int attempt = ++h.attempts;
  h.inbox = side(far).openInbox([weak = weak_from_this(), number, attempt](std::string payload, bool noResponders) {
    if (auto self = weak.lock()) self->onAnswer(number, attempt, std::move(payload), noResponders);
  });
  h.dueMs = now + h.entry.ackTimeoutMs;
  ++inFlight_[far];
  if (auto s = side(far).publish(h.entry.subject, h.entry.payload, h.inbox->subject()); !s) {
    STEWARD_LOG(debug) << "relay: cannot send " << h.entry.subject << " now: " << s.error().message;
    h.inbox.reset();
    --inFlight_[far];
    h.dueMs = now + 1000;
  }
}

// On a transport thread.
void Relay::onAnswer(uint64_t number, int attempt, std::string payload, bool noResponders) {
  std::lock_guard lock(mutex_);
  auto it = held_.find(number);
  if (stopped_ || it == held_.end() || !it->second.inbox || it->second.attempts != attempt) return;
  Held& h = it->second;
  if (noResponders) {
    // Nobody listens there now (the node is away, or the method not started): later.
    h.inbox.reset();
    --inFlight_[h.entry.toFar];
    h.dueMs = nowUnixMs() + h.entry.ackTimeoutMs;
    return;
  }
  auto opened = verifier_.openAnswer(h.inbox->subject(), payload, h.about.toNode);
  if (!opened) {
    STEWARD_LOG(warning) << "relay: ignored " << opened.error().message;
    return;
  }
  auto ack = decodeAck(opened->text);
  if (!ack) return;
  const std::string fromNode = h.entry.fromNode;
  const std::string subject = h.entry.subject;
  if (ack->accepted || ack->code == Code::replayed) {
    // (replayed: a copy sent earlier, or a newer one, was taken already.)
    settle(it, "forwarded", opened->skewNote);
  } else {
    STEWARD_LOG(info) << "relay: " << h.about.toNode << " refused message " << h.entry.id << " from "
                      << fromNode << ": " << ack->error;
    settle(it, "refused", ack->error);
  }
  // One answer may stand for others the receiver took in the same write.
  for (const uint64_t other : ack->also) {
    auto found = byIdentity_.find({fromNode, subject, other});
    if (found == byIdentity_.end()) continue;
    auto o = held_.find(found->second);
    if (o != held_.end() && o->second.inbox) settle(o, "forwarded", {});
  }
  pump(nowUnixMs());
}

void Relay::settle(std::map<uint64_t, Held>::iterator it, std::string_view event, std::string_view detail) {
  Held& h = it->second;
  if (h.inbox) --inFlight_[h.entry.toFar];
  audit_.record(event, h.about, h.attempts, detail);
  if (auto s = store_.removeCarried(h.entry.number); !s) STEWARD_LOG(warning) << "relay: " << s.error().message;
  byIdentity_.erase({h.entry.fromNode, h.entry.subject, h.entry.id});
  heldBytes_ -= h.entry.payload.size();
  held_.erase(it);
}

}  // namespace steward::process
