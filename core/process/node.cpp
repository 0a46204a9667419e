#include "core/process/node.hpp"

#include "core/message/codec.hpp"
#include "core/message/methods.hpp"
#include "core/process/reply.hpp"
#include "core/util/log.hpp"
#include "core/util/clock.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>

namespace steward::process {

namespace {

namespace methods = message::methods;

std::string describe(const message::Message& m) {
  return "message " + std::to_string(m.id) + " (" + m.method + " from " + m.fromNode + " to " +
         m.toNode + ")";
}

DeliveryPolicy policyOf(const store::OutboxEntry& e) {
  return DeliveryPolicy{e.ack, std::chrono::milliseconds(e.ackTimeoutMs), e.retries,
                        e.expiresUnixMs};
}

}  // namespace

Node::Node(config::Config config, boost::asio::io_context& io, transport::Transport& transport,
           plugin::PluginHost& plugins, store::Store& store, const observe::Audit& audit,
           NodeSecurity security)
    : config_(std::move(config)),
      io_(io),
      transport_(transport),
      plugins_(plugins),
      store_(store),
      audit_(audit),
      errors_(config_.nodeName, config_.centralNodeName, config_.errorMessageTimeout,
              config_.errorMessageRetries,
              [this](message::Message m) {
                if (auto r = send(std::move(m)); !r) {
                  observe::ErrorKernel::logOnly("cannot send error to central: " +
                                                r.error().message);
                }
              },
              {.perWindow = config_.errorReportsPerMinute}),
      pool_(config_.maxHandlerThreads),
      timerStrand_(boost::asio::make_strand(io)),
      helloTimer_(timerStrand_),
      errorsTimer_(timerStrand_),
      ids_(store, "nextId"),
      security_(security),
      keys_(config_.nodeName, config_.centralNodeName, security.trust, security.identity, *this, errors_) {
  // Errors held back in a flood are counted to central when their window ends.
  errors_.setSchedule([this](std::chrono::steady_clock::duration delay) {
    boost::asio::post(timerStrand_, [this, delay] {
      if (stopping()) return;
      errorsTimer_.expires_after(delay);
      errorsTimer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && !stopping()) errors_.flushHeldBack();
      });
    });
  });
}

bool Node::stopping() {
  std::lock_guard lock(mutex_);
  return stopped_;
}

Node::~Node() { stop(std::chrono::milliseconds(0)); }

void Node::start() {
  resumeOutbox();
  auto resumed = resumeInbox();
  for (const auto& [method, spec] : config_.startSub) {
    auto allowed = AllowedNodes::parse(spec);
    if (!allowed) {
      errors_.report("--startSub" + method + ": " + allowed.error().message);
      continue;
    }
    auto waiting = std::move(resumed[method]);
    resumed.erase(method);
    if (auto s = startSubscriber(method, allowed.value(), std::move(waiting)); !s) {
      errors_.report("cannot start subscriber for " + method + ": " +
                     s.error().message);
    }
  }
  for (const auto& [method, waiting] : resumed) {
    if (waiting.empty()) continue;
    errors_.report(std::to_string(waiting.size()) + " message(s) for " +
                   method + " wait in the inbox, but its subscriber is not started");
  }
  if (config_.startPubREQHello > 0) boost::asio::post(timerStrand_, [this] { sendHello(); });
}

// Messages accepted before the last stop go out again, oldest first, before anything new.
void Node::resumeOutbox() {
  auto loaded = store_.loadOutbox();
  for (const auto& e : loaded.damaged) errors_.report(e.message);
  for (auto& entry : loaded.entries) {
    auto m = message::decodeWire(entry.wire);
    if (!m) {
      errors_.report("outbox message " + std::to_string(entry.id) +
                     " is unreadable and was dropped: " + m.error().message);
      (void)store_.removeOutbox(entry.id);
      continue;
    }
    dispatch(Outgoing{std::move(m).value(), std::move(entry)});
  }
  if (!loaded.entries.empty()) {
    STEWARD_LOG(info) << "resumed " << loaded.entries.size() << " message(s) from the outbox";
  }
}

// A message whose run had started when the node stopped is not run again blindly (a command may
// have had its effect): it is answered as interrupted. The others wait for their subscriber.
std::map<std::string, std::vector<Inbound>> Node::resumeInbox() {
  std::map<std::string, std::vector<Inbound>> waiting;
  auto loaded = store_.loadInbox();
  for (const auto& e : loaded.damaged) errors_.report(e.message);
  for (auto& entry : loaded.entries) {
    auto m = message::decodeWire(entry.wire);
    if (!m) {
      errors_.report("inbox message at arrival " +
                     std::to_string(entry.arrival) + " is unreadable and was dropped: " +
                     m.error().message);
      (void)store_.finishInbound(entry.arrival, nullptr);
      continue;
    }
    Inbound in{entry.arrival, std::move(m).value()};
    if (entry.running) {
      audit_.record("interrupted", in.message);
      onHandled(in, "", "interrupted by a restart of " + config_.nodeName +
                            " while it ran; not run again");
    } else {
      waiting[entry.method].push_back(std::move(in));
    }
  }
  return waiting;
}

Status Node::startSubscriber(const std::string& method, const AllowedNodes& allowed,
                             std::vector<Inbound> resumed) {
  auto instance = plugins_.instantiate(method);
  if (!instance) return instance.error();
  SubscriberSettings settings;
  settings.nodeName = config_.nodeName;
  settings.dataFolder = config_.subscribersDataFolder;
  settings.defaultMethodTimeout = std::chrono::seconds(config_.defaultMethodTimeout);
  settings.allowed = allowed;
  settings.processId = nextProcessId_++;
  settings.verifier = security_.verifier;
  if (security_.trust != nullptr) {
    settings.authorize = [trust = security_.trust, commandData = instance.value()->method().commandData](
                             const message::Message& m) {
      return trust->authorize(m.fromNode, m.method, m.data, commandData);
    };
  }
  Subscriber::Events events;
  events.handled = [this](const Inbound& request, std::string output, std::string error) {
    onHandled(request, std::move(output), std::move(error));
  };
  events.problem = [this](const std::string& what) { errors_.report(what); };
  events.audit = [this](std::string_view event, const message::Message& m) {
    audit_.record(event, m);
  };
  events.operation = [this](std::string_view json) { return operate(json); };
  events.timed = handlerDuration_;
  events.partial = [this](const Inbound& request, std::string output) {
    return onPartial(request, std::move(output));
  };
  events.announced = [this](const message::Message& hello) { keys_.onHello(hello, nowUnixMs()); };
  auto subscriber = Subscriber::create(io_.get_executor(), transport_, pool_, store_,
                                       std::move(instance).value(), settings, events);
  const size_t count = resumed.size();
  if (auto s = subscriber->start(std::move(resumed)); !s) return s;
  STEWARD_LOG(info) << "started subscriber " << subscriber->subject()
                    << " allowed from: " << allowed.toString()
                    << (count > 0 ? ", resuming " + std::to_string(count) + " message(s)" : "");
  std::lock_guard lock(mutex_);
  if (stopped_ || subscribers_.count(method) != 0) {
    subscriber->stop();
    return Error{stopped_ ? "the node is stopping" : method + " is already running"};
  }
  subscribers_[method] = std::move(subscriber);
  return {};
}

void Node::stop(std::chrono::milliseconds grace) {
  std::map<std::string, std::shared_ptr<Subscriber>> subscribers;
  std::map<std::string, std::shared_ptr<Publisher>> publishers;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    subscribers.swap(subscribers_);
    publishers.swap(publishers_);
  }
  // The timers belong to their strand; one that fires after this sees stopped_ and ends.
  boost::asio::post(timerStrand_, [this] {
    helloTimer_.cancel();
    errorsTimer_.cancel();
  });
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
  pool_.stop();
  for (auto& [subject, p] : publishers) p->stop();
}

observe::NodeSample Node::sample() {
  observe::NodeSample s;
  for (const auto& p : plugins_.plugins()) s.pluginsLoaded += p.loaded ? 1 : 0;
  std::lock_guard lock(mutex_);
  for (const auto& [method, sub] : subscribers_) {
    s.inboxQueued += static_cast<double>(sub->queued());
    s.callsRunning += static_cast<double>(sub->running());
  }
  for (const auto& [subject, pub] : publishers_) s.outboxPending += static_cast<double>(pub->pending());
  s.subscribers = static_cast<double>(subscribers_.size());
  s.publishers = static_cast<double>(publishers_.size());
  return s;
}

void Node::brokerReconnected() {
  std::lock_guard lock(mutex_);
  for (auto& [subject, publisher] : publishers_) publisher->brokerReconnected();
}

Result<std::vector<uint64_t>> Node::submit(std::string_view json, const std::string& source,
                                           const std::shared_ptr<ReplyWatcher>& watcher) {
  auto refuse = [&](const Error& why) -> Error {
    errors_.report("input from " + source + " refused: " + why.message);
    return why;
  };
  auto batch = message::decodeInput(json);
  if (!batch) return refuse(batch.error());
  // A plugin put into the folder since the start is picked up when input first names its method.
  const bool unknown = std::any_of(batch->begin(), batch->end(), [&](const message::Message& m) {
    return (!m.method.empty() && !plugins_.find(m.method)) ||
           (!m.replyMethod.empty() && !plugins_.find(m.replyMethod));
  });
  if (unknown) {
    if (auto scanned = plugins_.loadAll()) {
      for (const auto& e : scanned.value()) errors_.report(e.message);
    }
  }
  for (size_t i = 0; i < batch->size(); ++i) {
    if (auto s = message::validate((*batch)[i], plugins_); !s) {
      return refuse(within("message " + std::to_string(i) + ": ", s.error()));
    }
  }
  // Everything is stamped, size-checked and written to the outbox in one write before the first
  // message is queued: the batch is taken whole or not at all.
  std::vector<Outgoing> ready;
  std::vector<store::OutboxEntry> entries;
  for (size_t i = 0; i < batch->size(); ++i) {
    for (auto& one : message::fanOut((*batch)[i])) {
      auto outgoing = prepare(std::move(one));
      if (!outgoing) return refuse(within("message " + std::to_string(i) + ": ", outgoing.error()));
      entries.push_back(outgoing->entry);
      ready.push_back(std::move(outgoing).value());
    }
  }
  if (auto s = store_.putOutbox(entries); !s) return refuse(s.error());
  std::vector<uint64_t> ids;
  for (const auto& o : ready) ids.push_back(o.message.id);
  // Watched before the first is sent, so no reply can come back unseen.
  if (watcher) replyWatch_.watch(ids, watcher);
  for (auto& o : ready) {
    audit_.record("accepted", o.message, 0, source);
    dispatch(std::move(o));
  }
  return ids;
}

Result<uint64_t> Node::send(message::Message m) {
  auto outgoing = prepare(std::move(m));
  if (!outgoing) return outgoing.error();
  if (auto s = store_.putOutbox({outgoing->entry}); !s) return s.error();
  const uint64_t id = outgoing->message.id;
  audit_.record("accepted", outgoing->message);
  dispatch(std::move(outgoing).value());
  return id;
}

Result<Node::Outgoing> Node::prepare(message::Message m) {
  const auto method = plugins_.find(m.method);
  if (!method) return Error{"unknown method \"" + m.method + "\""};
  auto id = ids_.next();
  if (!id) return id.error();
  m.id = id.value();
  m.fromNode = config_.nodeName;
  m.createdUnixMs = nowUnixMs();
  const size_t maxPayload = transport_.maxPayload();
  std::string wire = m.isReply ? encodeFitting(m, maxPayload) : message::encodeWire(m);
  if (wire.size() > maxPayload) {
    return Error{"message to " + m.toNode + " is " + std::to_string(wire.size()) +
                 " bytes encoded, more than the broker's max payload of " +
                 std::to_string(maxPayload)};
  }
  store::OutboxEntry entry;
  entry.id = m.id;
  entry.subject = message::subject(m.toNode, m.method, method->kind);
  entry.ack = message::needsAck(method->kind);
  entry.ackTimeoutMs = m.ackTimeout.value_or(config_.defaultMessageTimeout) * 1000;
  entry.retries = m.retries.value_or(config_.defaultMessageRetries);
  entry.expiresUnixMs = m.lifetime ? m.createdUnixMs + *m.lifetime * 1000 : 0;
  entry.wire = std::move(wire);
  return Outgoing{std::move(m), std::move(entry)};
}

void Node::dispatch(Outgoing o) {
  std::shared_ptr<Publisher> publisher;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      STEWARD_LOG(info) << describe(o.message) << " stays in the outbox: the node is stopping";
      return;
    }
    auto& slot = publishers_[o.entry.subject];
    if (!slot) {
      Publisher::Events events;
      events.settled = [this](const message::Message& msg, Outcome outcome, int attempts,
                              const std::string& detail) {
        onSettled(msg, outcome, attempts, detail);
      };
      events.sent = [this](const message::Message& msg, int attempt) {
        audit_.record(attempt == 1 ? "sent" : "retried", msg, attempt);
      };
      if (const security::Verifier* verifier = security_.verifier) {
        events.openAnswer = [verifier, receiver = o.message.toNode](const std::string& inbox,
                                                                   const std::string& payload) {
          auto opened = verifier->openAnswer(inbox, payload, receiver);
          if (!opened) return Result<OpenedAnswer>(opened.error());
          return Result<OpenedAnswer>(OpenedAnswer{std::move(opened->text), std::move(opened->skewNote)});
        };
      }
      slot = Publisher::create(io_.get_executor(), transport_, o.entry.subject, events,
                               nextProcessId_++);
    }
    publisher = slot;
  }
  STEWARD_LOG(debug) << "queued " << describe(o.message);
  const DeliveryPolicy policy = policyOf(o.entry);
  publisher->enqueue(std::move(o.message), std::move(o.entry.wire), policy);
}

void Node::onSettled(const message::Message& m, Outcome outcome, int attempts,
                     const std::string& detail) {
  // A stopped publisher leaves its messages in the outbox for the next start.
  if (outcome == Outcome::stopped) return;
  if (auto s = store_.removeOutbox(m.id); !s) observe::ErrorKernel::logOnly(s.error().message);
  audit_.record(outcome == Outcome::delivered ? "acked" : outcomeName(outcome), m, attempts,
                detail);
  if (outcome == Outcome::delivered) {
    STEWARD_LOG(debug) << describe(m) << " delivered after " << attempts << " send(s)";
    return;
  }
  std::string what = describe(m) + " " +
                     std::string(outcomeName(outcome)) + " after " + std::to_string(attempts) +
                     " send(s)" + (detail.empty() ? "" : ": " + detail);
  replyWatch_.notify(
      {.requestId = m.id, .node = m.toNode, .method = m.method, .data = {}, .error = what});
  if (outcome == Outcome::removed) {
    STEWARD_LOG(info) << describe(m) << " removed from the outbox by an operator";
    return;
  }
  // An error message that cannot reach central is only logged here, or errors would loop.
  if (m.method == methods::kErrorLog) {
    observe::ErrorKernel::logOnly(what);
  } else {
    errors_.report(what);
  }
}

std::optional<Result<Node::Outgoing>> Node::makeReply(const message::Message& request,
                                                      std::string output,
                                                      const std::string& error,
                                                      bool partial) {
  auto reply = replyTo(request, plugins_, std::move(output), error, partial);
  if (!reply) return std::nullopt;
  return prepare(std::move(*reply));
}

Status Node::onPartial(const Inbound& in, std::string output) {
  auto reply = makeReply(in.message, std::move(output), "", true);
  if (!reply) return Error{in.message.method + " gets no reply to send output with"};
  if (!*reply) return reply->error();
  if (auto s = store_.putOutbox({(*reply)->entry}); !s) return s;
  audit_.record("replied", (*reply)->message, 0, "partial");
  dispatch(std::move(*reply).value());
  return {};
}

void Node::onHandled(const Inbound& in, std::string output, std::string error) {
  const message::Message& request = in.message;
  if (!error.empty()) {
    std::string what = describe(request) + " failed: " + error;
    if (request.method == methods::kErrorLog) {
      observe::ErrorKernel::logOnly(what);
    } else {
      errors_.report(what);
    }
  }
  std::optional<Outgoing> reply;
  if (auto made = makeReply(request, std::move(output), error, false)) {
    if (*made) {
      reply = std::move(*made).value();
    } else {
      errors_.report("cannot reply to " + describe(request) + ": " +
                     made->error().message);
    }
  }
  // The request leaves the inbox and its reply enters the outbox in one write.
  if (auto s = store_.finishInbound(in.arrival, reply ? &reply->entry : nullptr); !s) {
    errors_.report(describe(request) + ": " + s.error().message);
  }
  if (reply) {
    audit_.record("replied", reply->message);
    dispatch(std::move(*reply));
  }
  if (request.method == methods::kHello) keys_.onHello(request, nowUnixMs());
  if (request.isReply) {
    replyWatch_.notify({.requestId = request.requestId,
                        .node = request.fromNode,
                        .method = request.requestMethod,
                        .data = request.data,
                        .error = request.requestError,
                        .final = !request.partial});
  }
}

// Runs on timerStrand_.
void Node::sendHello() {
  if (stopping()) return;
  message::Message hello;
  hello.toNode = config_.centralNodeName;
  hello.method = methods::kHello;
  hello.data = {config_.nodeName};
  // The key this node signs with, and the version of the trusted set it holds: central learns
  // new keys this way, and sends a newer set to a node that lacks it.
  if (security_.identity != nullptr && security_.trust != nullptr) {
    hello.data.push_back(security_.identity->publicKey());
    hello.data.push_back(std::to_string(security_.trust->version()));
  }
  hello.directory = "hello-messages";
  hello.fileName = "hello.log";
  if (auto r = send(std::move(hello)); !r) {
    observe::ErrorKernel::logOnly("cannot send hello: " + r.error().message);
  }
  helloTimer_.expires_after(std::chrono::seconds(config_.startPubREQHello));
  helloTimer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) sendHello();
  });
}

}  // namespace steward::process
