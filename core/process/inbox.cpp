#include "core/process/inbox.hpp"

#include "core/message/codec.hpp"
#include "core/message/methods.hpp"
#include "core/process/reply.hpp"
#include "core/util/clock.hpp"
#include "core/util/log.hpp"

#include <future>

namespace steward::process {

Inbox::Inbox(InboxSettings settings, boost::asio::any_io_executor executor,
             transport::Transport& transport, Catalog& catalog, store::Store& store,
             const observe::Audit& audit, const observe::ErrorKernel& errors, Outbox& outbox,
             TrustKeeper& keys, std::atomic<uint64_t>& processIds)
    : settings_(std::move(settings)),
      executor_(std::move(executor)),
      transport_(transport),
      catalog_(catalog),
      store_(store),
      audit_(audit),
      errors_(errors),
      outbox_(outbox),
      keys_(keys),
      processIds_(processIds),
      ownPool_(settings_.sharedHandlers == nullptr
                   ? std::make_unique<HandlerPool>(settings_.maxHandlerThreads)
                   : nullptr),
      ownIntake_(settings_.sharedIntake == nullptr ? std::make_unique<HandlerPool>(2, "stw-intake")
                                                   : nullptr),
      pool_(ownPool_ ? *ownPool_ : *settings_.sharedHandlers),
      intake_(ownIntake_ ? *ownIntake_ : *settings_.sharedIntake),
      // A due run is written to the store on an intake thread, not on the timer's io thread.
      repeats_(executor_, [this](store::ScheduledRun due) {
        intake_.submit([this, due = std::move(due)]() mutable { release(std::move(due)); });
      }) {}

Inbox::~Inbox() { stopAll(std::chrono::milliseconds(0)); }

// A message whose run had started when the node stopped is not run again blindly (a command may
// have had its effect): it is answered as interrupted. The others wait for their subscriber.
std::map<std::string, std::vector<Inbound>> Inbox::resume() {
  std::map<std::string, std::vector<Inbound>> waiting;
  // Repeating messages between runs: armed again (a run whose time passed while the node was
  // down runs now, once); a cancellation's mark ends its schedule when the run it marks ends.
  auto scheduled = store_.loadScheduled();
  for (const auto& e : scheduled.damaged) errors_.report(e.message);
  for (auto& run : scheduled.entries) {
    if (run.cancelled) {
      repeats_.cancel(run.schedule);
    } else {
      repeats_.arm(std::move(run));
    }
  }
  auto loaded = store_.loadInbox();
  for (const auto& e : loaded.damaged) errors_.report(e.message);
  for (auto& entry : loaded.entries) {
    auto m = message::decodeWire(entry.wire);
    if (!m) {
      errors_.report("inbox message at arrival " + std::to_string(entry.arrival) +
                     " is unreadable and was dropped: " + m.error().message);
      (void)store_.finishInbound(entry.arrival, nullptr);
      continue;
    }
    Inbound in = inboundOf(entry, std::move(m).value());
    const auto method = catalog_.find(entry.method);
    if (entry.running && !(method && method->rerunnable)) {
      audit_.record("interrupted", in.message);
      handled(in, "", "interrupted by a restart of " + settings_.nodeName +
                          " while it ran; not run again",
              nullptr);
    } else {
      // A rerunnable one that was running: its stream has passed its number already (the run
      // mark moved it on), so it runs again outside the stream, first, by its arrival.
      if (entry.running) in.message.seq = 0;
      waiting[entry.method].push_back(std::move(in));
    }
  }
  return waiting;
}

Result<uint64_t> Inbox::start(const std::string& method, const AllowedNodes& allowed,
                              std::vector<Inbound> resumed) {
  auto handler = catalog_.instantiate(method);
  if (!handler) return handler.error();
  SubscriberSettings settings;
  settings.nodeName = settings_.nodeName;
  settings.dataFolder = settings_.dataFolder;
  settings.defaultMethodTimeout = settings_.defaultMethodTimeout;
  settings.allowed = allowed;
  settings.processId = processIds_++;
  settings.verifier = settings_.verifier;
  settings.sendersAtOnce = settings_.sendersAtOnce;
  settings.moreHandlers = [catalog = &catalog_, method] { return catalog->instantiate(method); };
  if (settings_.trust != nullptr) {
    settings.authorize = [trust = settings_.trust,
                          commandData = handler.value()->method().commandData](const message::Message& m) {
      return trust->authorize(m.fromNode, m.method, m.data, commandData);
    };
  }
  auto subscriber = Subscriber::create(executor_, transport_, pool_, intake_, store_,
                                       std::move(handler).value(), settings, *this);
  const size_t count = resumed.size();
  if (auto s = subscriber->start(std::move(resumed)); !s) return s.error();
  STEWARD_LOG(info) << logging::nodeTag(settings_.nodeName) << "started subscriber " << subscriber->subject()
                    << " allowed from: " << allowed.toString()
                    << (count > 0 ? ", resuming " + std::to_string(count) + " message(s)" : "");
  std::lock_guard lock(mutex_);
  if (auto it = subscribers_.find(method); stopped_ || it != subscribers_.end()) {
    subscriber->stop();
    if (stopped_) return Error{"the node is stopping"};
    return Error{method + " is already running (process " +
                 std::to_string(it->second->processId()) + ")"};
  }
  subscribers_[method] = subscriber;
  return subscriber->processId();
}

// Drains before it lets go: no new messages are routed, running calls are cancelled and waited
// for, and the handler is destroyed (for a plugin: its destroy, and its library is released).
Result<uint64_t> Inbox::stop(const std::string& method, std::optional<uint64_t> id) {
  std::shared_ptr<Subscriber> subscriber;
  {
    std::lock_guard lock(mutex_);
    auto it = subscribers_.find(method);
    if (it == subscribers_.end()) return Error{method + " is not running on " + settings_.nodeName};
    if (id && it->second->processId() != *id) {
      return Error{method + " runs as process " + std::to_string(it->second->processId()) +
                   ", not " + std::to_string(*id)};
    }
    subscriber = it->second;
    subscribers_.erase(it);
  }
  const uint64_t processId = subscriber->processId();
  subscriber->stop();
  subscriber->cancelRunning();
  const bool drained = pollUntil([&] { return subscriber->running() == 0; }, std::chrono::seconds(30));
  std::weak_ptr<Subscriber> last = subscriber;
  subscriber.reset();
  const bool released = pollUntil([&] { return last.expired(); }, std::chrono::seconds(10));
  if (!drained || !released) {
    return Error{method + " (process " + std::to_string(processId) +
                     ") stopped taking messages, but a call did not end in time; its plugin "
                     "stays loaded until it does",
                 Code::timedOut};
  }
  return processId;
}

void Inbox::stopAll(std::chrono::milliseconds grace) {
  std::map<std::string, std::shared_ptr<Subscriber>> subscribers;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    subscribers.swap(subscribers_);
  }
  repeats_.stop();  // what is scheduled stays in the store for the next start
  for (auto& [method, s] : subscribers) s->stop();
  // Running calls may finish within the grace period; what is cancelled after it is answered
  // as interrupted at the next start.
  pollUntil(
      [&] {
        for (auto& [method, s] : subscribers) {
          if (s->running() > 0) return false;
        }
        return true;
      },
      grace, std::chrono::milliseconds(20));
  for (auto& [method, s] : subscribers) s->cancelRunning();
  if (ownPool_) ownPool_->stop();
  if (ownIntake_) ownIntake_->stop();
}

bool Inbox::remove(const store::InboxEntry& entry, const message::Message& m) {
  std::shared_ptr<Subscriber> subscriber;
  {
    std::lock_guard lock(mutex_);
    if (auto it = subscribers_.find(entry.method); it != subscribers_.end()) subscriber = it->second;
  }
  if (!subscriber) {
    // Its stream passes a sequenced message's number in turn.
    if (m.seq != 0) {
      return store_.removeInbound(entry.arrival, store::streamKey(entry.method, m.fromNode, m.epoch),
                                  m.seq)
          .ok();
    }
    return store_.removeInbound(entry.arrival).ok();
  }
  auto done = subscriber->remove(entry.arrival);
  return done.wait_for(std::chrono::seconds(10)) == std::future_status::ready && done.get();
}

std::map<std::string, std::shared_ptr<Subscriber>> Inbox::subscribers() {
  std::lock_guard lock(mutex_);
  return subscribers_;
}

void Inbox::announced(const message::Message& hello) { keys_.onHello(hello, nowUnixMs()); }

std::optional<Result<Outgoing>> Inbox::makeReply(const Inbound& in, CallOutput output,
                                                 const std::string& error, bool partial) {
  auto reply = replyTo(in.message, catalog_, std::move(output), error, partial);
  if (!reply) return std::nullopt;
  if (in.message.repeat) {
    reply->run = in.run;
    reply->runs = static_cast<uint64_t>(*in.message.repeat);
  }
  return outbox_.prepare(std::move(*reply));
}

std::optional<store::ScheduledRun> Inbox::nextRun(const Inbound& in) const {
  const message::Message& m = in.message;
  if (!m.repeat || !m.repeatInterval || m.isReply) return std::nullopt;
  if (*m.repeat != 0 && in.run >= static_cast<uint64_t>(*m.repeat)) return std::nullopt;
  store::ScheduledRun next;
  next.schedule = in.scheduleNumber();
  next.method = m.method;
  next.run = in.run + 1;
  next.atUnixMs = nowUnixMs() + *m.repeatInterval * 1000;
  // A lifetime bounds the schedule too: no run starts after it ends.
  if (m.lifetime && next.atUnixMs > m.createdUnixMs + *m.lifetime * 1000) return std::nullopt;
  message::Message copy = m;
  copy.seq = copy.epoch = copy.floor = copy.settledBelow = 0;  // its stream has passed it
  next.wire = message::encodeWire(copy);
  return next;
}

void Inbox::release(store::ScheduledRun due) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;  // armed again at the next start
  }
  auto m = message::decodeWire(due.wire);
  if (!m) {
    errors_.report("scheduled run " + std::to_string(due.run) + " of " + due.method +
                   " is unreadable; its schedule ends: " + m.error().message);
    (void)store_.cancelScheduled(due, false);
    return;
  }
  auto arrival = store_.releaseScheduled(due);
  if (!arrival) {
    errors_.report(describe(*m) + ": run " + std::to_string(due.run) + " cannot start: " +
                   arrival.error().message + "; tried again in 10 s");
    due.atUnixMs = nowUnixMs() + 10000;
    repeats_.arm(std::move(due));
    return;
  }
  audit_.record("repeated", *m, 0, "run " + std::to_string(due.run));
  Inbound in{arrival.value(), std::move(m).value(), true, due.run, due.schedule};
  std::shared_ptr<Subscriber> subscriber;
  {
    std::lock_guard lock(mutex_);
    if (auto it = subscribers_.find(due.method); it != subscribers_.end()) subscriber = it->second;
  }
  if (subscriber) {
    subscriber->inject(std::move(in));
  } else {
    errors_.report(describe(in.message) + ": run " + std::to_string(due.run) + " waits in the inbox of " +
                   settings_.nodeName + ": " + due.method + " is not started there");
  }
}

Result<std::string> Inbox::cancelSchedule(const store::ScheduledRun& run) {
  if (run.cancelled) return std::string("ends with the run going now");
  if (repeats_.disarm(run.schedule)) {
    if (auto s = store_.cancelScheduled(run, false); !s) return s.error();
    return std::string("removed");
  }
  // Its timer fired: the run is on its way into the inbox, and is the last.
  repeats_.cancel(run.schedule);
  if (auto s = store_.cancelScheduled(run, true); !s) return s.error();
  return std::string("ends with the run going now");
}

Status Inbox::partial(const Inbound& in, std::string output) {
  auto reply = makeReply(in, std::move(output), "", true);
  if (!reply) return Error{in.message.method + " gets no reply to send output with"};
  if (!*reply) return reply->error();
  std::vector<Outgoing> batch;
  batch.push_back(std::move(*reply).value());
  if (auto s = outbox_.commit(batch, [&](const Outbox::LastSeqs& last) {
        return store_.putOutbox({batch.front().entry}, last);
      });
      !s) {
    outbox_.discard(batch);
    return s;
  }
  audit_.record("replied", batch.front().message, 0, "partial");
  outbox_.dispatch(std::move(batch.front()));
  return {};
}

void Inbox::handled(const Inbound& in, CallOutput output, std::string error,
                    const store::Store::RunMark* next) {
  const message::Message& request = in.message;
  if (!error.empty()) {
    std::string what = describe(request) + " failed: " + error;
    // An error message that fails is only logged, or errors would loop.
    if (request.method == message::methods::kErrorLog) {
      observe::ErrorKernel::logOnly(what);
    } else {
      errors_.report(what);
    }
  }
  std::vector<Outgoing> reply;  // none or one
  const bool more = output.more;
  if (auto made = makeReply(in, std::move(output), error, more)) {
    if (*made) {
      reply.push_back(std::move(*made).value());
    } else {
      errors_.report("cannot reply to " + describe(request) + ": " + made->error().message);
    }
  }
  // A repeating message's next run is scheduled in the same write, unless it was cancelled.
  std::optional<store::ScheduledRun> later;
  store::Store::Repeat repeat;
  if (request.repeat && !request.isReply) {
    repeat.schedule = in.scheduleNumber();
    if (!repeats_.takeCancelled(repeat.schedule)) later = nextRun(in);
    repeat.next = later ? &*later : nullptr;
  }
  // The request leaves the inbox and its reply enters the outbox in one write.
  if (auto s = outbox_.commit(reply, [&](const Outbox::LastSeqs& last) {
        return store_.finishInbound(in.arrival, reply.empty() ? nullptr : &reply.front().entry,
                                    last, next, in.durable, request.repeat ? &repeat : nullptr);
      });
      !s) {
    errors_.report(describe(request) + ": " + s.error().message);
    outbox_.discard(reply);
    reply.clear();  // not in the outbox: not sent either
  } else if (later) {
    repeats_.arm(std::move(*later));
  }
  if (!reply.empty()) {
    audit_.record("replied", reply.front().message);
    outbox_.dispatch(std::move(reply.front()));
  }
  if (request.method == message::methods::kHello) {
    keys_.onHello(request, nowUnixMs());
    if (settings_.heardHello) settings_.heardHello(request);
  }
  if (request.isReply) {
    outbox_.replies().notify({.requestId = request.requestId,
                              .node = request.fromNode,
                              .method = request.requestMethod,
                              .data = request.data,
                              .error = request.requestError,
                              .final = message::endsRequest(request),
                              .code = request.requestError.empty() ? Code::unspecified
                                                                   : Code::methodFailed,
                              .result = request.result,
                              .run = request.run});
  }
}

}  // namespace steward::process
