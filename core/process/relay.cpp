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

std::string described(const message::Message& about) {
  return "message " + std::to_string(about.id) + " (" + about.method + ") from " + about.fromNode;
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
      numbers_(store, "carry"),
      timer_(io) {}

Status Relay::start() {
  auto loaded = store_.loadCarried();
  for (const auto& e : loaded.damaged) errors_.report("relay: " + e.message);
  size_t resumed = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto& entry : loaded.entries) {  // in the order taken
      auto to = message::parseSubject(entry.subject);
      if (!to) continue;  // written by this node, so never; skipped rather than trusted
      byIdentity_[{entry.fromNode, entry.subject, entry.id}] = entry.number;
      message::Message about = aboutOf(entry.fromNode, entry.id, *to);
      hold(std::move(entry), std::move(about));
      ++resumed;
    }
    stopped_ = false;
  }
  if (resumed > 0) STEWARD_LOG(info) << "relay: holding " << resumed << " message(s) from before the restart";
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
  timer_.cancel();
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
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  if (!message::needsAck(to->kind)) {
    // Its sender sends it once and waits for nobody: so does the relay, unless it would pass
    // one of the same pair still held here.
    if (m.settledBelow <= lowestHeldId({m.fromNode, to->node})) {
      (void)side(!fromFar).publish(in.subject, origin);
    }
    return;
  }
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
  Arrival arrival{
      store::CarriedEntry{
          .subject = in.subject,
          .toFar = !fromFar,
          .fromNode = m.fromNode,
          .id = m.id,
          .takenUnixMs = nowUnixMs(),
          .ackTimeoutMs = std::clamp<int64_t>(m.ackTimeout.value_or(10), 1, 60) * 1000,
          .retries = m.retries.value_or(settings_.defaultRetries),
          .expiresUnixMs = m.lifetime ? m.createdUnixMs + *m.lifetime * 1000 : 0,
          .settledBelow = m.settledBelow,
          .seq = m.seq,
          .epoch = m.epoch,
          .floor = m.floor,
          .payload = std::move(origin)},
      aboutOf(m.fromNode, m.id, *to), std::move(in.replyTo)};
  if (intake_.add(std::move(arrival))) writer_.submit([self = shared_from_this()] { self->storeIntake(); });
}

// On the writer's thread. Each write takes every arrival waiting, with one sync; then they are
// ACKed. One that cannot be stored is not ACKed: its sender keeps it and sends it again.
void Relay::storeIntake() {
  for (;;) {
    std::vector<Arrival> batch = intake_.next();
    if (batch.empty()) return;
    // The entries move out for the write and on into what is held; the arrivals keep the rest.
    std::vector<store::CarriedEntry> entries;
    entries.reserve(batch.size());
    bool stored = true;
    for (auto& a : batch) {
      auto number = numbers_.next();
      if (!number) {
        errors_.report("relay: " + number.error().message);
        stored = false;
        break;
      }
      a.entry.number = *number;
      entries.push_back(std::move(a.entry));
    }
    if (stored) {
      if (auto s = store_.putCarried(entries); !s) {
        errors_.report("relay: " + s.error().message);
        stored = false;
      }
    }
    std::vector<std::pair<bool, std::string>> answers;  // (the side its sender waits on, inbox)
    {
      std::lock_guard lock(mutex_);
      for (size_t i = 0; i < batch.size(); ++i) {
        const store::CarriedEntry& e = i < entries.size() ? entries[i] : batch[i].entry;
        --taking_;
        takingBytes_ -= e.payload.size();
        const Identity identity{e.fromNode, e.subject, e.id};
        if (!stored) {
          byIdentity_.erase(identity);
          continue;
        }
        byIdentity_[identity] = e.number;
        if (!batch[i].replyTo.empty()) answers.emplace_back(!e.toFar, std::move(batch[i].replyTo));
        hold(std::move(entries[i]), batch[i].about);
      }
    }
    if (!stored) continue;
    for (const auto& [fromFar, inbox] : answers) (void)side(fromFar).publish(inbox, encodeAck(Ack::accept()));
    for (const auto& a : batch) audit_.record("carried", a.about);
    std::lock_guard lock(mutex_);
    if (!stopped_) pump(nowUnixMs());
  }
}

void Relay::hold(store::CarriedEntry entry, message::Message about) {
  const uint64_t number = entry.number;
  heldBytes_ += entry.payload.size();
  queues_[{entry.fromNode, about.toNode}].push_back(number);
  held_.emplace(number, Held{std::move(entry), std::move(about), {}, 0, 0});
}

// Sends what may go of each pair, oldest first: a message whose word on what its sender settled
// passes none of the pair's messages before it that the receiver has not ACKed (all still held
// are such), while its pair's and its side's windows have room and its broker is there.
void Relay::pump(int64_t now) {
  const bool up[2] = {near_.connected(), far_.connected()};
  for (const auto& [pair, numbers] : queues_) {
    uint64_t lowestId = UINT64_MAX;  // of the pair's messages before this one
    std::map<std::pair<std::string_view, uint64_t>, uint64_t> lowestSeq;  // by stream (subject, epoch)
    size_t inFlight = 0;
    for (const uint64_t number : numbers) {
      Held& h = held_.at(number);
      const store::CarriedEntry& e = h.entry;
      if (!h.inbox && now >= h.dueMs) {
        const auto stream = lowestSeq.find({e.subject, e.epoch});
        const bool passes = e.settledBelow > lowestId ||
                            (e.floor != 0 && stream != lowestSeq.end() && e.floor > stream->second);
        const bool far = e.toFar;
        if (passes || !up[far] || inFlight_[far] >= settings_.window || inFlight >= settings_.pairWindow) break;
        send(h, now);
      }
      if (h.inbox) ++inFlight;
      lowestId = std::min(lowestId, e.id);
      if (e.seq != 0) {
        auto [at, fresh] = lowestSeq.try_emplace({e.subject, e.epoch}, e.seq);
        if (!fresh) at->second = std::min(at->second, e.seq);
      }
    }
  }
}

uint64_t Relay::lowestHeldId(const Pair& pair) const {
  uint64_t lowest = UINT64_MAX;
  if (auto it = queues_.find(pair); it != queues_.end()) {
    for (const uint64_t number : it->second) lowest = std::min(lowest, held_.at(number).entry.id);
  }
  return lowest;
}

void Relay::send(Held& h, int64_t now) {
  const bool far = h.entry.toFar;
  const uint64_t number = h.entry.number;
  const int64_t attempt = ++h.attempts;
  h.inbox = side(far).openInbox([weak = weak_from_this(), number, attempt](std::string payload, bool noResponders) {
    if (auto self = weak.lock()) self->onAnswer(number, attempt, std::move(payload), noResponders);
  });
  h.dueMs = now + h.entry.ackTimeoutMs;
  ++inFlight_[far];
  if (auto s = side(far).publish(h.entry.subject, h.entry.payload, h.inbox->subject()); !s) {
    // Not a send: the client would not even buffer it. Tried again shortly, not counted.
    STEWARD_LOG(debug) << "relay: cannot send " << h.entry.subject << " now: " << s.error().message;
    h.inbox.reset();
    --inFlight_[far];
    --h.attempts;
    h.dueMs = now + 1000;
  }
}

void Relay::unanswered(HeldMap::iterator it, int64_t nextMs, std::vector<std::string>& reports) {
  Held& h = it->second;
  h.inbox.reset();
  --inFlight_[h.entry.toFar];
  h.dueMs = nextMs;
  // With a lifetime it goes on until that ends (onTick); else its retries are its sends.
  if (h.entry.expiresUnixMs == 0 && h.attempts > h.entry.retries) {
    const std::string why = "no ACK from " + h.about.toNode + " after " + std::to_string(h.attempts) + " sends";
    reports.push_back("relay: gave up " + described(h.about) + ": " + why);
    settle(it, "given up", why);
  }
}

// On an io thread, every tick: gives up what was held too long or outlived its lifetime, marks
// what was not ACKed in time (it goes again, or is given up), and sends what may go.
void Relay::onTick() {
  std::vector<std::string> reports;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    const int64_t now = nowUnixMs();
    const int64_t holdMs = std::chrono::milliseconds(settings_.hold).count();
    for (auto it = held_.begin(); it != held_.end();) {
      auto next = std::next(it);
      Held& h = it->second;
      if (h.entry.expiresUnixMs > 0 && now > h.entry.expiresUnixMs) {
        const std::string why = "its lifetime ended before " + h.about.toNode + " ACKed it (" +
                                std::to_string(h.attempts) + " sends)";
        reports.push_back("relay: " + described(h.about) + " expired: " + why);
        settle(it, "expired", why);
      } else if (now - h.entry.takenUnixMs > holdMs) {
        const std::string why = "no ACK from " + h.about.toNode + " after holding it " +
                                std::to_string(settings_.hold.count()) + " s (" +
                                std::to_string(h.attempts) + " sends)";
        reports.push_back("relay: gave up " + described(h.about) + ": " + why);
        settle(it, "given up", why);
      } else if (h.inbox && now >= h.dueMs) {
        unanswered(it, now, reports);  // it waited its ACKTimeout already: again at once
      }
      it = next;
    }
    pump(now);
    timer_.expires_after(settings_.tick);
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->onTick();
    });
  }
  for (const auto& r : reports) errors_.report(r);
}

// On a transport thread.
void Relay::onAnswer(uint64_t number, int64_t attempt, std::string payload, bool noResponders) {
  std::vector<std::string> reports;
  {
    std::lock_guard lock(mutex_);
    auto it = held_.find(number);
    if (stopped_ || it == held_.end() || !it->second.inbox || it->second.attempts != attempt) return;
    Held& h = it->second;
    const int64_t now = nowUnixMs();
    if (noResponders) {
      // Nobody listens there now (the node is away, or the method not started): again after
      // its ACKTimeout, as if it had waited for one.
      unanswered(it, now + h.entry.ackTimeoutMs, reports);
    } else {
      auto opened = verifier_.openAnswer(h.inbox->subject(), payload, h.about.toNode);
      if (!opened) {
        STEWARD_LOG(warning) << "relay: ignored " << opened.error().message;
        return;
      }
      auto ack = decodeAck(opened->text);
      if (!ack) return;
      if (ack->accepted || ack->code == Code::replayed) {
        // (replayed: a copy sent earlier, or a newer one, was taken already.)
        const std::string fromNode = h.entry.fromNode;
        const std::string subject = h.entry.subject;
        settle(it, "forwarded", opened->skewNote);
        // One answer may stand for others of the pair the receiver took in the same write.
        for (const uint64_t other : ack->also) {
          auto found = byIdentity_.find({fromNode, subject, other});
          if (found == byIdentity_.end()) continue;
          auto o = held_.find(found->second);
          if (o != held_.end() && o->second.inbox) settle(o, "forwarded", opened->skewNote);
        }
      } else {
        // The receiver tells central itself why; sending again would not change its mind.
        STEWARD_LOG(info) << "relay: " << h.about.toNode << " refused " << described(h.about) << ": " << ack->error;
        settle(it, "refused", ack->error);
      }
    }
    pump(now);
  }
  for (const auto& r : reports) errors_.report(r);
}

void Relay::settle(HeldMap::iterator it, std::string_view event, std::string_view detail) {
  Held& h = it->second;
  if (h.inbox) --inFlight_[h.entry.toFar];
  audit_.record(event, h.about, static_cast<int>(h.attempts), detail);
  if (auto s = store_.removeCarried(h.entry.number); !s) STEWARD_LOG(warning) << "relay: " << s.error().message;
  byIdentity_.erase({h.entry.fromNode, h.entry.subject, h.entry.id});
  heldBytes_ -= h.entry.payload.size();
  const Pair pair{h.entry.fromNode, h.about.toNode};
  auto& queue = queues_[pair];
  queue.erase(std::find(queue.begin(), queue.end(), h.entry.number));
  if (queue.empty()) queues_.erase(pair);
  held_.erase(it);
}

}  // namespace steward::process
