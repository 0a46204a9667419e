#include "core/process/subscriber.hpp"

#include "core/message/codec.hpp"
#include "core/message/paths.hpp"
#include "core/util/log.hpp"
#include "core/process/ack.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

namespace steward::process {

namespace asio = boost::asio;

Result<AllowedNodes> AllowedNodes::parse(std::string_view spec) {
  AllowedNodes out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view node = spec.substr(start, end - start);
    while (!node.empty() && node.front() == ' ') node.remove_prefix(1);
    while (!node.empty() && node.back() == ' ') node.remove_suffix(1);
    if (node == "*") {
      out.all_ = true;
    } else if (!node.empty()) {
      if (auto s = message::checkNodeName(node); !s) return s.error();
      out.nodes_.emplace(node);
    }
    start = end + 1;
  }
  if (!out.all_ && out.nodes_.empty()) return Error{"no node allowed: give \"*\" or node names"};
  return out;
}

bool AllowedNodes::allows(std::string_view node) const {
  return all_ || nodes_.find(node) != nodes_.end();
}

std::string AllowedNodes::toString() const {
  if (all_) return "*";
  std::string out;
  for (const auto& n : nodes_) out += (out.empty() ? "" : ",") + n;
  return out;
}

std::shared_ptr<Subscriber> Subscriber::create(asio::any_io_executor executor,
                                               transport::Transport& transport, HandlerPool& pool,
                                               HandlerPool& intake,
                                               store::Store& store,
                                               std::unique_ptr<MethodHandler> handler,
                                               SubscriberSettings settings,
                                               SubscriberEvents& events) {
  return std::shared_ptr<Subscriber>(new Subscriber(std::move(executor), transport, pool, intake, store,
                                                    std::move(handler), std::move(settings),
                                                    events));
}

Subscriber::Subscriber(asio::any_io_executor executor, transport::Transport& transport,
                       HandlerPool& pool, HandlerPool& intake, store::Store& store,
                       std::unique_ptr<MethodHandler> handler, SubscriberSettings settings,
                       SubscriberEvents& events)
    : strand_(asio::make_strand(executor)),
      transport_(transport),
      pool_(pool),
      intakePool_(intake),
      store_(store),
      settings_(std::move(settings)),
      events_(events),
      subject_(message::subject(settings_.nodeName, handler->method().name, handler->method().kind)),
      method_(handler->method()) {
  handlers_.push_back(std::move(handler));
  idle_.push_back(handlers_.front().get());
}

Status Subscriber::start(std::vector<Inbound> resumed) {
  asio::post(strand_, [self = shared_from_this(), resumed = std::move(resumed)]() mutable {
    if (self->method().ordered) {
      for (auto& [key, state] : self->store_.loadStreams(self->method().name)) {
        self->streams_[key].state = std::move(state);
      }
    }
    for (auto& in : resumed) self->route(std::move(in));
    self->pump();
  });
  std::weak_ptr<Subscriber> weak = weak_from_this();
  auto sub = transport_.subscribe(subject_, [weak](transport::Incoming in) {
    if (auto self = weak.lock()) self->onIncoming(std::move(in));
  });
  if (!sub) return sub.error();
  subscription_ = std::move(sub).value();
  return {};
}

void Subscriber::inject(Inbound in) {
  in.message.seq = 0;  // a later run is not its stream's to order
  asio::post(strand_, [self = shared_from_this(), in = std::move(in)]() mutable {
    if (self->stopped_) return;
    self->route(std::move(in));
    self->pump();
  });
}

void Subscriber::stop() {
  subscription_.reset();
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->queue_.clear();
    self->streams_.clear();
    self->ready_.clear();
    self->countQueued();
  });
}

void Subscriber::cancelRunning() {
  asio::post(strand_, [self = shared_from_this()] {
    for (const auto& [call, run] : self->running_) run.handler->cancel(*call);
  });
}

std::future<bool> Subscriber::remove(uint64_t arrival) {
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  asio::post(strand_, [self = shared_from_this(), arrival, done] {
    auto drop = [&](const message::Message& m, const std::string& stream) {
      if (auto s = self->store_.removeInbound(arrival, stream, m.seq); !s) {
        self->events_.problem(s.error().message);
      }
      self->events_.audit("removed", m);
      self->countQueued();
      done->set_value(true);
    };
    for (auto it = self->queue_.begin(); it != self->queue_.end(); ++it) {
      if (it->arrival != arrival) continue;
      const message::Message m = std::move(it->message);
      self->queue_.erase(it);
      return drop(m, {});
    }
    // A sequenced message's number is remembered as gone, so its stream passes it in turn.
    for (auto& [key, stream] : self->streams_) {
      for (auto it = stream.waiting.begin(); it != stream.waiting.end(); ++it) {
        if (it->second.arrival != arrival) continue;
        const message::Message m = std::move(it->second.message);
        stream.waiting.erase(it);
        stream.state.gone.insert(m.seq);
        --self->waiting_;
        self->reconsider(key, stream);
        return drop(m, key);
      }
    }
    done->set_value(false);
  });
  return result;
}

void Subscriber::countQueued() { queuedCount_ = queue_.size() + waiting_; }

void Subscriber::refuse(const std::string& replyTo, const Error& why) {
  if (!replyTo.empty()) (void)transport_.publish(replyTo, encodeAck(Ack::refuse(why.message, why.code)));
  events_.problem(why.message);
}

// Runs on a transport thread: decode, check and store here, then hand over to the strand.
void Subscriber::onIncoming(transport::Incoming in) {
  // A sealed message is checked before anything else is believed of it; what is stored is the
  // message's own JSON.
  int64_t sealedUnixMs = 0;
  std::string wire;
  message::Message m;
  if (settings_.verifier != nullptr) {
    auto opened = settings_.verifier->open(subject_, in.payload);
    if (!opened) {
      refuse(in.replyTo, within("node " + settings_.nodeName + " refused ", opened.error()));
      return;
    }
    if (opened->announcement) {
      // Not from a trusted node: nothing of it is kept or run, only the key it announces.
      events_.announced(opened->message);
      return;
    }
    m = std::move(opened->message);
    wire = std::move(opened->wire);
    sealedUnixMs = opened->sentUnixMs;
  } else {
    auto decoded = message::decodeWire(in.payload);
    if (!decoded) {
      refuse(in.replyTo, within("node " + settings_.nodeName + " refused a message on " + subject_ + ": ",
                        decoded.error()));
      return;
    }
    m = std::move(decoded).value();
    wire = std::move(in.payload);
  }
  if (m.toNode != settings_.nodeName || m.method != method().name) {
    refuse(in.replyTo, Error{"node " + settings_.nodeName + " refused message " + std::to_string(m.id) +
                         " from " + m.fromNode + ": it is for " + m.toNode + "/" + m.method +
                         ", not " + settings_.nodeName + "/" + method().name,
                     Code::wrongReceiver});
    return;
  }
  if (!settings_.allowed.allows(m.fromNode)) {
    refuse(in.replyTo, Error{"node " + settings_.nodeName + " refused message " + std::to_string(m.id) +
                         " from " + m.fromNode + ": " + m.fromNode + " is not allowed to send " +
                         m.method + " (allowed: " + settings_.allowed.toString() + ")",
                     Code::notAllowed});
    return;
  }
  const bool command = !m.isReply && !method().replyMethod &&
                       (method().kind == message::Kind::CommandACK ||
                        method().kind == message::Kind::CommandNACK);
  if (command && settings_.authorize) {
    if (auto s = settings_.authorize(m); !s) {
      refuse(in.replyTo, Error{"node " + settings_.nodeName + " refused message " + std::to_string(m.id) +
                           " (" + m.method + ") from " + m.fromNode + ": " + s.error().message,
                       Code::notAllowed});
      return;
    }
  }
  if (m.floor != 0 && m.seq == 0) {
    // A stream note is kept in the stream's state, never in the inbox; ACKed once it is.
    asio::post(strand_, [self = shared_from_this(), m = std::move(m), replyTo = in.replyTo] {
      self->skip(m, replyTo);
    });
    return;
  }
  // The ACK means "this node owns it now", so the message is in the inbox first.
  take(Arrival{std::move(m), std::move(wire), sealedUnixMs, std::move(in.replyTo)});
}

// Arrivals queue here while the one writer stores the ones before: each write takes all that
// wait, with one sync, so a window of messages in flight shares it.
void Subscriber::take(Arrival arrival) {
  if (intake_.add(std::move(arrival))) intakePool_.submit([self = shared_from_this()] { self->storeIntake(); });
}

// On a handler thread.
void Subscriber::storeIntake() {
  for (;;) {
    std::vector<Arrival> batch = intake_.next();
    if (batch.empty()) return;
    std::vector<store::Store::Arriving> arriving;
    for (const auto& a : batch) {
      arriving.push_back({a.message.fromNode, a.message.id, a.message.method, a.wire, a.sealedUnixMs,
                          a.message.settledBelow});
    }
    auto taken = store_.acceptInbound(arriving, message::needsAck(method().kind));
    AckGroups acks;
    for (size_t i = 0; i < batch.size(); ++i) {
      message::Message& m = batch[i].message;
      const std::string& replyTo = batch[i].replyTo;
      if (!taken) {
        // No ACK: the sender keeps the message and tries again.
        events_.problem("node " + settings_.nodeName + " cannot take message " +
                        std::to_string(m.id) + " from " + m.fromNode + ": " + taken.error().message);
        continue;
      }
      const store::Store::Taken& t = taken.value()[i];
      if (t.replayed) {
        refuse(replyTo, Error{"node " + settings_.nodeName + " refused message " + std::to_string(m.id) +
                                  " (" + m.method + ") from " + m.fromNode +
                                  ": replayed: this copy (same seal) or a newer one was already taken",
                              Code::replayed});
        continue;
      }
      // A message taken before (its ACK was lost, or a copy was resent) is ACKed again but not
      // run again.
      if (!replyTo.empty()) {
        if (t.arrival == 0) {
          // A copy of one taken before: the sender may have settled it and closed its inbox, so
          // it carries no one else's ACK.
          (void)transport_.publish(replyTo, encodeAck(Ack::accept()));
        } else {
          // Grouped by the sender's process (its inboxes share a prefix): one that restarted
          // meanwhile never gets an answer on an inbox of the one before.
          acks[m.fromNode + " " + replyTo.substr(0, replyTo.rfind('.') + 1)].push_back({m.id, replyTo});
        }
      }
      if (t.arrival == 0) {
        events_.audit("duplicate", m);
        STEWARD_LOG(debug) << "duplicate message " << m.id << " from " << m.fromNode << " on "
                           << subject_ << ": ACKed again, not run";
        continue;
      }
      events_.audit("received", m);
      asio::post(strand_, [self = shared_from_this(), in = Inbound{t.arrival, std::move(m)}]() mutable {
        if (self->stopped_) return;  // it waits in the inbox for the next start
        self->route(std::move(in));
        self->pump();
      });
    }
    acknowledge(acks);
  }
}

// One sealed ACK per sender's process for what one write took of it for the first time: on the
// last message's inbox, naming the others (at most kMaxAckAlso each), so a window of messages
// costs one seal and one check.
void Subscriber::acknowledge(const AckGroups& groups) {
  for (const auto& [sender, taken] : groups) {
    for (size_t first = 0; first < taken.size(); first += kMaxAckAlso + 1) {
      const size_t last = std::min(taken.size(), first + kMaxAckAlso + 1) - 1;
      Ack ack = Ack::accept();
      for (size_t i = first; i < last; ++i) ack.also.push_back(taken[i].id);
      (void)transport_.publish(taken[last].replyTo, encodeAck(ack));
    }
  }
}

void Subscriber::route(Inbound in) {
  in.durable = message::needsAck(method().kind);
  const message::Message& m = in.message;
  if (!method().ordered || m.seq == 0) {
    queue_.push_back(std::move(in));
    countQueued();
    return;
  }
  const std::string key = store::streamKey(method().name, m.fromNode, m.epoch);
  Stream& stream = streams_[key];
  if (m.seq < stream.state.next || stream.state.gone.count(m.seq) != 0 ||
      stream.waiting.count(m.seq) != 0) {
    // Its number ran already (or was passed, or waits in another copy): this copy goes.
    STEWARD_LOG(debug) << "message " << m.id << " from " << m.fromNode << " is number " << m.seq
                       << " of a stream at " << stream.state.next << ": not run again";
    if (auto s = store_.removeInbound(in.arrival); !s) events_.problem(s.error().message);
    events_.audit("duplicate", m);
    return;
  }
  // What the sender knew when it numbered this one: the numbers below its floor are settled.
  stream.state.floor = std::max(stream.state.floor, m.floor);
  const uint64_t seq = m.seq;
  stream.waiting.emplace(seq, std::move(in));
  ++waiting_;
  reconsider(key, stream);
  countQueued();
}

void Subscriber::skip(const message::Message& note, const std::string& replyTo) {
  const std::string key = store::streamKey(method().name, note.fromNode, note.epoch);
  Stream& stream = streams_[key];
  if (note.floor > stream.state.floor) {
    if (auto s = store_.putFloor(key, note.floor); !s) {
      // No ACK: the sender tries again.
      events_.problem("node " + settings_.nodeName + " cannot record a gap in the stream " + key +
                      ": " + s.error().message);
      return;
    }
    stream.state.floor = note.floor;
    reconsider(key, stream);
    STEWARD_LOG(info) << "stream " << key << ": numbers below " << note.floor
                      << " that have not come will not";
  }
  if (!replyTo.empty()) (void)transport_.publish(replyTo, encodeAck(Ack::accept()));
  if (!stopped_) pump();
}

// Sequenced: the earliest arrival among the messages allowed to run: one without a number, or a
// stream's lowest number when it is the stream's next, or every number before it will not come
// (below the floor) or was removed.
std::optional<Subscriber::Next> Subscriber::takeNext() {
  auto fromQueue = [this]() -> std::optional<Next> {
    if (queue_.empty()) return std::nullopt;
    Next next{std::move(queue_.front()), std::nullopt};
    queue_.pop_front();
    countQueued();
    return next;
  };
  if (!method().ordered) return fromQueue();
  // Messages without a number take turns with the streams, as one more stream of their own.
  const bool queueOpen = !queue_.empty() && busy_.count("") == 0;
  if (ready_.empty() || (queueOpen && queue_.front().arrival < ready_.begin()->first)) {
    if (!queueOpen) return std::nullopt;
    busy_.insert("");
    return fromQueue();
  }
  const std::string chosenKey = ready_.begin()->second;
  busy_.insert(chosenKey);
  Stream* chosen = &streams_.at(chosenKey);
  auto first = chosen->waiting.begin();
  Next next{std::move(first->second), store::StreamAdvance{chosenKey, first->first + 1, {}}};
  chosen->waiting.erase(first);
  --waiting_;
  auto& state = chosen->state;
  while (!state.gone.empty() && *state.gone.begin() < next.advance->next) {
    next.advance->passed.push_back(*state.gone.begin());
    state.gone.erase(state.gone.begin());
  }
  state.next = next.advance->next;
  reconsider(chosenKey, *chosen);
  countQueued();
  return next;
}

void Subscriber::reconsider(const std::string& key, Stream& stream) {
  uint64_t readyAt = 0;
  if (!stream.waiting.empty() && busy_.count(key) == 0) {
    const auto& [seq, in] = *stream.waiting.begin();
    uint64_t next = stream.state.next;
    while (stream.state.gone.count(next) != 0) ++next;
    if (seq == next || seq <= stream.state.floor) readyAt = in.arrival;
  }
  if (readyAt == stream.readyAt) return;
  if (stream.readyAt != 0) ready_.erase({stream.readyAt, key});
  if (readyAt != 0) ready_.emplace(readyAt, key);
  stream.readyAt = readyAt;
}

MethodHandler* Subscriber::idleHandler() {
  if (idle_.empty() && handlers_.size() < std::max<size_t>(settings_.sendersAtOnce, 1) &&
      settings_.moreHandlers) {
    auto made = settings_.moreHandlers();
    if (!made) {
      events_.problem("node " + settings_.nodeName + ": " + subject_ +
                      " runs one sender at a time for now: " + made.error().message);
      settings_.moreHandlers = nullptr;
      return nullptr;
    }
    handlers_.push_back(std::move(made).value());
    idle_.push_back(handlers_.back().get());
  }
  if (idle_.empty()) return nullptr;
  MethodHandler* handler = idle_.back();
  idle_.pop_back();
  return handler;
}

void Subscriber::pump() {
  while (!stopped_) {
    if (!method().ordered) {
      auto next = takeNext();
      if (!next) return;
      run(std::move(*next), *handlers_.front());
      continue;
    }
    MethodHandler* handler = idleHandler();
    if (handler == nullptr) return;
    auto next = takeNext();
    if (!next) {
      idle_.push_back(handler);
      return;
    }
    run(std::move(*next), *handler);
  }
}

Subscriber::Started Subscriber::begin(Next next, MethodHandler& handler) {
  Started started;
  started.handler = &handler;
  started.call = std::make_shared<steward_host_call>();
  // The request is copied: the call may emit from the handler thread at any time.
  started.call->emit = [events = &events_, request = next.in](std::string output) {
    return events->partial(request, std::move(output));
  };
  running_.emplace(started.call,
                   Running{&handler, next.advance ? next.advance->key : std::string()});
  ++runningCount_;
  const auto& m = next.in.message;
  const auto timeout = m.methodTimeout && *m.methodTimeout > 0 ? std::chrono::seconds(*m.methodTimeout)
                                                               : settings_.defaultMethodTimeout;
  started.timer = std::make_shared<asio::steady_timer>(strand_, timeout);
  started.timer->async_wait(asio::bind_executor(
      strand_, [self = shared_from_this(), call = started.call,
                handler = &handler](boost::system::error_code ec) {
        if (!ec) handler->cancel(*call);  // `self` keeps the handler
      }));
  started.deadlineMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                           (std::chrono::system_clock::now() + timeout).time_since_epoch())
                           .count();
  started.next = std::move(next);
  return started;
}

void Subscriber::release(const std::shared_ptr<steward_host_call>& call,
                         const std::shared_ptr<asio::steady_timer>& timer) {
  timer->cancel();
  if (auto it = running_.find(call); it != running_.end()) {
    if (method().ordered) {
      freeLane(it->second.lane);
      idle_.push_back(it->second.handler);
    }
    running_.erase(it);
  }
  --runningCount_;
}

void Subscriber::freeLane(const std::string& lane) {
  busy_.erase(lane);
  if (auto stream = streams_.find(lane); stream != streams_.end()) reconsider(lane, stream->second);
}

void Subscriber::run(Next next, MethodHandler& handler) {
  auto started = std::make_shared<Started>(begin(std::move(next), handler));
  if (!pool_.submit([self = shared_from_this(), started] { self->perform(std::move(*started), false); })) {
    // The node stops: the message stays in the inbox, unmarked, for the next start.
    release(started->call, started->timer);
  }
}

void Subscriber::perform(Started started, bool marked) {
  const Inbound& in = started.next.in;
  const auto at = std::chrono::steady_clock::now();
  execute(started, marked);
  events_.timed(in.message.method,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - at).count());
  std::string error;
  CallOutput output;
  {
    std::lock_guard lock(started.call->mutex);
    error = started.call->error;
    output.text = std::move(started.call->output);
    output.result = std::move(started.call->result);
    output.more = started.call->more;
  }
  events_.audit("executed", in.message);
  if (method().ordered) {
    // Its end is written with the next run's mark.
    asio::post(strand_, [self = shared_from_this(), started = std::move(started),
                         output = std::move(output), error = std::move(error)]() mutable {
      self->finish(std::move(started), std::move(output), std::move(error));
    });
    return;
  }
  events_.handled(in, std::move(output), std::move(error), nullptr);
  asio::post(strand_, [self = shared_from_this(), call = started.call, timer = started.timer] {
    self->release(call, timer);
    self->pump();
  });
}

void Subscriber::finish(Started done, CallOutput output, std::string error) {
  // Not release(): the run counts as running until its end is written (a stop waits for that).
  // Its lane is free now, and its handler goes on with the next message to run, whichever
  // sender's it is.
  done.timer->cancel();
  if (auto it = running_.find(done.call); it != running_.end()) {
    freeLane(it->second.lane);
    running_.erase(it);
  }
  MethodHandler& handler = *done.handler;
  struct Handover {
    Started done;
    CallOutput output;
    std::string error;
    std::optional<Started> next;
  };
  auto handover = std::make_shared<Handover>(Handover{std::move(done), std::move(output), std::move(error), {}});
  if (!stopped_) {
    if (auto taken = takeNext()) handover->next = begin(std::move(*taken), handler);
  }
  if (!handover->next) idle_.push_back(&handler);
  auto complete = [self = shared_from_this(), handover] {
    store::Store::RunMark mark;
    if (handover->next) {
      mark.arrival = handover->next->next.in.arrival;
      mark.advance = handover->next->next.advance ? &*handover->next->next.advance : nullptr;
    }
    self->events_.handled(handover->done.next.in, std::move(handover->output),
                          std::move(handover->error), handover->next ? &mark : nullptr);
    --self->runningCount_;
    if (handover->next) self->perform(std::move(*handover->next), true);
  };
  if (!pool_.submit(complete)) {
    // The pool takes no more tasks once the node stops: the end is written here, and the next
    // message (not marked) waits in the inbox for the next start.
    if (handover->next) {
      release(handover->next->call, handover->next->timer);
      handover->next.reset();
    }
    complete();
    return;
  }
  // Other senders' messages may run beside it.
  if (!stopped_) pump();
}

// Runs on a handler thread.
void Subscriber::execute(const Started& started, bool marked) {
  const Inbound& in = started.next.in;
  const store::StreamAdvance* advance = started.next.advance ? &*started.next.advance : nullptr;
  steward_host_call& call = *started.call;
  const int64_t deadlineMs = started.deadlineMs;
  const message::Message& m = in.message;
  auto fail = [&](const std::string& why) {
    std::lock_guard lock(call.mutex);
    call.error = why;
  };
  // Once this is on disk a restart answers "interrupted" instead of running it again, and its
  // stream goes on after it.
  if (!marked) {
    if (auto s = store_.markRunning(in.arrival, advance, in.durable); !s) return fail(s.error().message);
  }
  const std::string fileName = m.fileName.empty() ? m.method + ".log" : m.fileName;
  auto output = message::resolveOutputPath(settings_.dataFolder, m.directory, m.fromNode, fileName);
  if (!output) return fail("cannot place output: " + output.error().message);
  const plugin::CallContext context{settings_.nodeName, settings_.dataFolder.string(),
                                    output->string(), fileName, deadlineMs};
  if (!started.handler->handle(m, context, call)) {
    std::lock_guard lock(call.mutex);
    if (call.error.empty()) call.error = m.method + " failed without saying why";
  }
}

}  // namespace steward::process
