#include "core/process/outbox.hpp"

#include "core/message/codec.hpp"
#include "core/message/methods.hpp"
#include "core/process/reply.hpp"
#include "core/util/clock.hpp"
#include "core/util/log.hpp"

#include <steward/util.hpp>

#include <algorithm>
#include <future>
#include <optional>

namespace steward::process {

std::string describe(const message::Message& m) {
  return "message " + std::to_string(m.id) + " (" + m.method + " from " + m.fromNode + " to " +
         m.toNode + ")";
}

namespace {

// The node a subject "<toNode>.<method>.<kind>" goes to.
std::string receiverOf(const std::string& subject) {
  auto parts = message::parseSubject(subject);
  return parts ? parts->node : subject;
}

DeliveryPolicy policyOf(const store::OutboxEntry& e) {
  return DeliveryPolicy{e.ack, std::chrono::milliseconds(e.ackTimeoutMs), e.retries,
                        e.expiresUnixMs};
}

// A new database numbers its messages from the time it was made, in microseconds: a node whose
// database was lost and made anew (a reinstall, a new disk) sends ids above every id its old one
// gave (the old one would have had to send a million messages a second), so its receivers never
// take its new messages for copies of old ones, and its first settledBelow lets them forget what
// they remember of the old ones. (A clock far behind would undo that, and have the node's seals refused anyway.)
uint64_t firstIdOfNewDatabase() {
  return std::max<uint64_t>(1, static_cast<uint64_t>(std::max<int64_t>(nowUnixMs(), 0)) * 1000);
}

}  // namespace

Outbox::Outbox(OutboxSettings settings, boost::asio::any_io_executor executor,
               transport::Transport& transport, const message::MethodCatalog& methods,
               store::Store& store, const observe::Audit& audit,
               const observe::ErrorKernel& errors, const security::Verifier* verifier,
               std::atomic<uint64_t>& processIds)
    : settings_(std::move(settings)),
      executor_(std::move(executor)),
      transport_(transport),
      methods_(methods),
      store_(store),
      audit_(audit),
      errors_(errors),
      verifier_(verifier),
      processIds_(processIds),
      ids_(store, "nextId", 1000, firstIdOfNewDatabase()),
      sweeper_(executor_) {}

Outbox::~Outbox() { stop(); }

void Outbox::resume() {
  auto lost = store_.loadLost();
  auto loaded = store_.loadOutbox();
  for (const auto& e : loaded.damaged) errors_.report(e.message);
  // Every id still in the outbox is open again before anything new is prepared: a message sent
  // from now on must not say these are settled.
  for (const auto& entry : loaded.entries) opened(receiverOf(entry.subject), entry.id);
  for (auto& entry : loaded.entries) {
    auto m = message::decodeWire(entry.wire);
    if (!m) {
      errors_.report("outbox message " + std::to_string(entry.id) +
                     " is unreadable and was dropped: " + m.error().message);
      (void)store_.removeOutbox(entry.id);
      closed(receiverOf(entry.subject), entry.id);
      continue;
    }
    if (m->seq != 0) {
      std::lock_guard lock(streamsMutex_);
      Stream& stream = streams_[entry.subject];
      stream.unsettled.insert(m->seq);
      if (!stream.loaded) loadStream(entry.subject, stream, lost);
    }
    dispatch(Outgoing{std::move(m).value(), std::move(entry)});
  }
  // A gap announced to nobody before the stop may hold a receiver: see to it now.
  for (const auto& [subject, upTo] : lost) {
    std::optional<uint64_t> skipBelow, record;
    {
      std::lock_guard lock(streamsMutex_);
      Stream& stream = streams_[subject];
      if (!stream.loaded) loadStream(subject, stream, lost);
      skipBelow = skipDue(stream, record);
    }
    if (skipBelow) sendSkip(subject, *skipBelow);
    if (record) {
      if (auto s = store_.putLost(subject, *record); !s) errors_.report(s.error().message);
    }
  }
  {
    std::lock_guard guardLock(sweepGuard_->mutex);
    std::lock_guard lock(mutex_);
    if (!closed_) {
      sweepGuard_->outbox = this;
      sweep();
    }
  }
  if (!loaded.entries.empty()) {
    STEWARD_LOG(info) << logging::nodeTag(settings_.nodeName) << "resumed " << loaded.entries.size() << " message(s) from the outbox";
  }
}

// streamsMutex_ held.
void Outbox::loadStream(const std::string& subject, Stream& stream, const std::map<std::string, uint64_t>& lost) {
  // Numbers given before the stop that left the outbox may have been delivered, so the receiver
  // may hold them: a gap behind them is announced (skipDue).
  auto last = store_.lastSeq(subject);
  if (!last) return;
  stream.last = last.value();
  stream.delivered = last.value();
  if (auto it = lost.find(subject); it != lost.end()) stream.lostUpTo = it->second;
  stream.loaded = true;
}

// A reply's output is cut to fit the broker; anything else too large is refused.
Result<std::string> Outbox::encode(message::Message& m) const {
  const size_t maxPayload = transport_.maxPayload();
  std::string wire = m.isReply ? encodeFitting(m, maxPayload) : message::encodeWire(m);
  if (wire.size() > maxPayload) {
    return Error{"message to " + m.toNode + " is " + std::to_string(wire.size()) +
                     " bytes encoded, more than the broker's max payload of " +
                     std::to_string(maxPayload),
                 Code::tooLarge};
  }
  return wire;
}

Result<Outgoing> Outbox::prepare(message::Message m) {
  const auto method = methods_.find(m.method);
  if (!method) return Error{"unknown method \"" + m.method + "\"", Code::unknownMethod};
  {
    std::lock_guard lock(openMutex_);
    auto id = ids_.next();
    if (!id) return id.error();
    m.id = id.value();
    auto& open = open_[m.toNode];
    open.insert(m.id);
    m.settledBelow = *open.begin();
  }
  m.fromNode = settings_.nodeName;
  m.createdUnixMs = nowUnixMs();
  auto wire = encode(m);
  if (!wire) {
    closed(m.toNode, m.id);
    return wire.error();
  }
  store::OutboxEntry entry;
  entry.id = m.id;
  entry.subject = message::subject(m.toNode, m.method, method->kind);
  entry.ack = message::needsAck(method->kind);
  entry.ackTimeoutMs = m.ackTimeout.value_or(settings_.defaultMessageTimeout) * 1000;
  entry.retries = m.retries.value_or(settings_.defaultMessageRetries);
  entry.expiresUnixMs = m.lifetime ? m.createdUnixMs + *m.lifetime * 1000 : 0;
  entry.wire = std::move(wire).value();
  const bool sequenced = method->ordered && entry.ack && m.floor == 0 && m.seq == 0;
  return Outgoing{std::move(m), std::move(entry), sequenced};
}

Result<Outbox::LastSeqs> Outbox::number(std::vector<Outgoing>& batch) {
  LastSeqs last;
  if (std::none_of(batch.begin(), batch.end(), [](const Outgoing& o) { return o.sequenced; })) {
    return last;
  }
  if (epoch_ == 0) {
    auto epoch = store_.epoch();
    if (!epoch) return epoch.error();
    epoch_ = epoch.value();
  }
  std::map<std::string, uint64_t> next;  // by subject: the last number given in this batch
  std::map<std::string, uint64_t> firstInBatch;  // by subject: the first
  for (auto& o : batch) {
    if (!o.sequenced) continue;
    auto [at, fresh] = next.try_emplace(o.entry.subject, 0);
    if (fresh) {
      Stream& stream = streams_[o.entry.subject];
      if (!stream.loaded) {
        auto stored = store_.lastSeq(o.entry.subject);
        if (!stored) return stored.error();
        stream.last = stored.value();
        stream.loaded = true;
      }
      at->second = stream.last;
    }
    o.message.seq = ++at->second;
    o.message.epoch = epoch_;
    // Everything below the lowest number still unsettled (in the outbox, or earlier in this
    // batch) is settled: delivered, or never will be.
    auto [first, none] = firstInBatch.try_emplace(o.entry.subject, o.message.seq);
    (void)none;
    const auto& unsettled = streams_[o.entry.subject].unsettled;
    o.message.floor = unsettled.empty() ? first->second : std::min(first->second, *unsettled.begin());
    auto wire = encode(o.message);
    if (!wire) return wire.error();
    o.entry.wire = std::move(wire).value();
  }
  for (const auto& [subject, seq] : next) last.emplace_back(subject, seq);
  return last;
}

Result<std::vector<uint64_t>> Outbox::accept(std::vector<Outgoing> batch, const std::string& source,
                                             const std::shared_ptr<ReplyWatcher>& watcher) {
  std::vector<uint64_t> ids;
  auto stored = commit(batch, [&](const LastSeqs& last) {
    std::vector<store::OutboxEntry> entries;
    for (const auto& o : batch) entries.push_back(o.entry);
    return store_.putOutbox(entries, last);
  });
  if (!stored) {
    discard(batch);
    return stored.error();
  }
  for (const auto& o : batch) ids.push_back(o.message.id);
  // Watched before the first is sent, so no reply can come back unseen.
  if (watcher) replies_.watch(ids, watcher);
  for (auto& o : batch) {
    audit_.record("accepted", o.message, 0, source);
    dispatch(std::move(o));
  }
  return ids;
}

Status Outbox::commit(std::vector<Outgoing>& batch,
                      const std::function<Status(const LastSeqs&)>& write) {
  // Nothing to number: no lock, so concurrent writes share LevelDB's group commit.
  if (std::none_of(batch.begin(), batch.end(), [](const Outgoing& o) { return o.sequenced; })) {
    return write({});
  }
  std::lock_guard lock(streamsMutex_);
  auto last = number(batch);
  if (!last) return last.error();
  if (auto s = write(last.value()); !s) return s;
  for (const auto& [subject, seq] : last.value()) streams_[subject].last = seq;
  for (const auto& o : batch) {
    if (o.sequenced) streams_[o.entry.subject].unsettled.insert(o.message.seq);
  }
  return {};
}

Result<uint64_t> Outbox::send(message::Message m) {
  auto outgoing = prepare(std::move(m));
  if (!outgoing) return outgoing.error();
  std::vector<Outgoing> one;
  one.push_back(std::move(outgoing).value());
  auto ids = accept(std::move(one), "");
  if (!ids) return ids.error();
  return ids->front();
}

void Outbox::opened(const std::string& toNode, uint64_t id) {
  std::lock_guard lock(openMutex_);
  open_[toNode].insert(id);
}

void Outbox::closed(const std::string& toNode, uint64_t id) {
  std::lock_guard lock(openMutex_);
  auto it = open_.find(toNode);
  if (it == open_.end()) return;
  it->second.erase(id);
  if (it->second.empty()) open_.erase(it);
}

std::map<std::string, size_t> Outbox::unsettledByReceiver() {
  std::lock_guard lock(openMutex_);
  std::map<std::string, size_t> counts;
  for (const auto& [toNode, ids] : open_) counts.emplace(toNode, ids.size());
  return counts;
}

void Outbox::discard(const std::vector<Outgoing>& batch) {
  for (const auto& o : batch) closed(o.message.toNode, o.message.id);
}

void Outbox::dispatch(Outgoing o) {
  // Enqueued under the lock, so sweep() never retires a publisher a message is on its way to.
  std::lock_guard lock(mutex_);
  if (closed_) {
    STEWARD_LOG(info) << logging::nodeTag(settings_.nodeName) << describe(o.message) << " stays in the outbox: the node is stopping";
    return;
  }
  auto& publisher = publishers_[o.entry.subject];
  if (!publisher) {
    publisher = Publisher::create(executor_, transport_, o.entry.subject, *this, processIds_++,
                                  settings_.window);
  }
  STEWARD_LOG(debug) << "queued " << describe(o.message);
  const DeliveryPolicy policy = policyOf(o.entry);
  publisher->enqueue(std::move(o.message), std::move(o.entry.wire), policy);
}

// mutex_ held (the timer is only touched under it).
void Outbox::sweep() {
  for (auto it = publishers_.begin(); it != publishers_.end();) {
    const auto& [subject, publisher] = *it;
    const uint64_t enqueued = publisher->enqueued();
    auto idle = idleAt_.find(subject);
    if (publisher->pending() == 0 && idle != idleAt_.end() && idle->second == enqueued) {
      STEWARD_LOG(debug) << "publisher " << subject << " retired: nothing to send for a while";
      publisher->stop();
      idleAt_.erase(idle);
      it = publishers_.erase(it);
      continue;
    }
    if (publisher->pending() == 0) {
      idleAt_[subject] = enqueued;
    } else if (idle != idleAt_.end()) {
      idleAt_.erase(idle);
    }
    ++it;
  }
  sweeper_.expires_after(settings_.retireIdleAfter);
  sweeper_.async_wait([guard = sweepGuard_](boost::system::error_code ec) {
    if (ec) return;
    std::lock_guard guardLock(guard->mutex);
    if (guard->outbox == nullptr) return;
    std::lock_guard lock(guard->outbox->mutex_);
    if (!guard->outbox->closed_) guard->outbox->sweep();
  });
}

bool Outbox::remove(const store::OutboxEntry& entry) {
  std::shared_ptr<Publisher> publisher;
  {
    std::lock_guard lock(mutex_);
    if (auto it = publishers_.find(entry.subject); it != publishers_.end()) publisher = it->second;
  }
  if (!publisher) {
    closed(receiverOf(entry.subject), entry.id);
    return store_.removeOutbox(entry.id).ok();
  }
  auto done = publisher->remove(entry.id);
  return done.wait_for(std::chrono::seconds(10)) == std::future_status::ready && done.get();
}

void Outbox::brokerReconnected() {
  std::lock_guard lock(mutex_);
  for (auto& [subject, publisher] : publishers_) publisher->brokerReconnected();
}

void Outbox::close() {
  std::lock_guard guardLock(sweepGuard_->mutex);
  std::lock_guard lock(mutex_);
  closed_ = true;
  sweepGuard_->outbox = nullptr;
  sweeper_.cancel();
}

void Outbox::stop() {
  close();
  std::map<std::string, std::shared_ptr<Publisher>> publishers;
  {
    std::lock_guard lock(mutex_);
    publishers.swap(publishers_);
  }
  for (auto& [subject, p] : publishers) p->stop();
}

std::vector<std::shared_ptr<Publisher>> Outbox::publishers() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Publisher>> out;
  for (const auto& [subject, p] : publishers_) out.push_back(p);
  return out;
}

void Outbox::sent(const message::Message& m, int attempt) {
  audit_.record(attempt == 1 ? "sent" : "retried", m, attempt);
}

void Outbox::unheard(const message::Message& m, int64_t queuedUntilUnixMs) {
  Silence why = settings_.explainSilence
                    ? settings_.explainSilence(m.toNode, m.method)
                    : Silence{"noResponders", "nobody listens for " + m.method + " on " + m.toNode};
  STEWARD_LOG(info) << logging::nodeTag(settings_.nodeName) << describe(m) << ": " << why.note;
  const auto until = std::chrono::system_clock::time_point{std::chrono::milliseconds{queuedUntilUnixMs}};
  replies_.notify({.requestId = m.id,
                   .node = m.toNode,
                   .method = m.method,
                   .final = false,
                   .state = std::move(why.state),
                   .note = why.note + "; message " + std::to_string(m.id) + " stays queued until " +
                           sdk::utcTimestamp(until) + " (steward-ctl cancel " +
                           std::to_string(m.id) + " withdraws it)"});
}

Result<OpenedAnswer> Outbox::openAnswer(const message::Message& m, const std::string& inbox,
                                        const std::string& payload) {
  if (verifier_ == nullptr) return OpenedAnswer{payload, {}};
  auto opened = verifier_->openAnswer(inbox, payload, m.toNode);
  if (!opened) return opened.error();
  return OpenedAnswer{std::move(opened->text), std::move(opened->skewNote)};
}

void Outbox::settled(const std::string& subject, const message::Message& m, Outcome outcome,
                     int attempts, const std::string& detail, Code code) {
  // A stopped publisher leaves its messages in the outbox for the next start.
  if (outcome == Outcome::stopped) return;
  if (auto s = store_.removeOutbox(m.id); !s) observe::ErrorKernel::logOnly(s.error().message);
  closed(m.toNode, m.id);
  if (m.seq != 0) {
    std::optional<uint64_t> skipBelow;
    std::optional<uint64_t> record;  // lostUpTo to store
    {
      std::lock_guard lock(streamsMutex_);
      auto& stream = streams_[subject];
      stream.unsettled.erase(m.seq);
      if (outcome == Outcome::delivered) {
        stream.delivered = std::max(stream.delivered, m.seq);
      } else if (m.seq > stream.lostUpTo) {
        stream.lostUpTo = m.seq;
        record = m.seq;
      }
      skipBelow = skipDue(stream, record);
    }
    if (skipBelow) sendSkip(subject, *skipBelow);
    // After the note is stored: a stop in between announces the gap again, which is harmless.
    if (record) {
      if (auto s = store_.putLost(subject, *record); !s) errors_.report(s.error().message);
    }
  }
  audit_.record(outcome == Outcome::delivered ? "acked" : outcomeName(outcome), m, attempts,
                detail);
  if (settings_.settled) {
    settings_.settled(m, outcome == Outcome::delivered,
                      std::string(outcomeName(outcome)) + (detail.empty() ? "" : ": " + detail));
  }
  if (outcome == Outcome::delivered) {
    STEWARD_LOG(debug) << describe(m) << " delivered after " << attempts << " send(s)";
    return;
  }
  std::string what = describe(m) + " " + std::string(outcomeName(outcome)) + " after " +
                     std::to_string(attempts) + " send(s)" + (detail.empty() ? "" : ": " + detail);
  replies_.notify({.requestId = m.id,
                   .node = m.toNode,
                   .method = m.method,
                   .data = {},
                   .error = what,
                   .final = true,
                   .code = code});
  if (outcome == Outcome::removed) {
    STEWARD_LOG(info) << logging::nodeTag(settings_.nodeName) << describe(m) << " removed from the outbox by an operator";
    return;
  }
  // An error message that cannot reach central is only logged here, or errors would loop.
  if (m.method == message::methods::kErrorLog) {
    observe::ErrorKernel::logOnly(what);
  } else {
    errors_.report(what);
  }
}

// streamsMutex_ held.
std::optional<uint64_t> Outbox::skipDue(Stream& stream, std::optional<uint64_t>& record) {
  // A later number the receiver took would wait for a lost one, and so would a later one
  // still queued (numbered with the lost one below it) once it is taken. Once no earlier number
  // is unsettled and a later one was delivered, the receiver is told to pass over the gap; when
  // every later one is settled undelivered too, nothing waits and nothing needs saying (messages
  // numbered from then on carry their floor themselves).
  if (stream.lostUpTo == 0) return std::nullopt;
  const uint64_t lowest = stream.unsettled.empty() ? stream.last + 1 : *stream.unsettled.begin();
  if (lowest <= stream.lostUpTo) return std::nullopt;
  std::optional<uint64_t> skipBelow;
  if (stream.delivered > stream.lostUpTo) skipBelow = lowest;
  if (skipBelow || stream.unsettled.empty()) {
    stream.lostUpTo = 0;
    record = 0;
  }
  return skipBelow;
}

void Outbox::sendSkip(const std::string& subject, uint64_t floor) {
  auto parts = message::parseSubject(subject);
  if (!parts) return;
  message::Message note;
  note.toNode = parts->node;
  note.method = parts->method;
  {
    std::lock_guard lock(streamsMutex_);
    if (epoch_ == 0) {
      if (auto epoch = store_.epoch()) epoch_ = epoch.value();
    }
    note.epoch = epoch_;
  }
  note.directory = "steward";
  // Resent until it is taken: a receiver that never learns of the gap would hold the stream.
  note.lifetime = 30LL * 24 * 3600;
  note.floor = floor;
  if (auto r = send(std::move(note)); !r) {
    errors_.report("cannot tell " + parts->node + " to pass over the numbers of " + subject + " below " +
                   std::to_string(floor) + " that did not come: " + r.error().message);
  }
}

}  // namespace steward::process
