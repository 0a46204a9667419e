#include "core/process/node.hpp"

#include "core/message/codec.hpp"
#include "core/observe/log.hpp"

#include <boost/asio/post.hpp>

#include <chrono>

namespace steward::process {

namespace {

constexpr const char* kDefaultReplyMethod = "REQToFileAppend";
constexpr const char* kHelloMethod = "REQHello";

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Cuts a reply's output until its encoding fits the broker's max payload, and says so in it.
// Each round removes at least the overflow (escaping only makes the encoding larger than the
// raw bytes), so a few rounds always suffice.
std::string fitReply(message::Message& m, size_t maxPayload) {
  std::string wire = message::encodeWire(m);
  for (int round = 0; round < 16 && wire.size() > maxPayload && !m.data.empty(); ++round) {
    std::string& out = m.data.front();
    const size_t overflow = wire.size() - maxPayload + 128;
    const size_t keep = out.size() > overflow ? std::min(out.size() - overflow, out.size() / 8 * 7)
                                              : 0;
    out.resize(keep);
    out += "\n[steward: output cut to fit the broker's max payload of " +
           std::to_string(maxPayload) + " bytes]\n";
    wire = message::encodeWire(m);
  }
  return wire;
}

std::string describe(const message::Message& m) {
  return "message " + std::to_string(m.id) + " (" + m.method + " from " + m.fromNode + " to " +
         m.toNode + ")";
}

}  // namespace

Node::Node(config::Config config, boost::asio::io_context& io, transport::Transport& transport,
           plugin::PluginHost& plugins, store::Store& store)
    : config_(std::move(config)),
      io_(io),
      transport_(transport),
      plugins_(plugins),
      errors_(config_.centralNodeName, config_.errorMessageTimeout, config_.errorMessageRetries,
              [this](message::Message m) {
                if (auto r = send(std::move(m)); !r) {
                  observe::ErrorKernel::logOnly("cannot send error to central: " +
                                                r.error().message);
                }
              }),
      pool_(config_.maxHandlerThreads),
      helloStrand_(boost::asio::make_strand(io)),
      helloTimer_(helloStrand_),
      ids_(store) {}

Node::~Node() { stop(); }

void Node::start() {
  for (const auto& [method, spec] : config_.startSub) {
    auto allowed = AllowedNodes::parse(spec);
    if (!allowed) {
      errors_.report(config_.nodeName + ": --startSub" + method + ": " + allowed.error().message);
      continue;
    }
    if (auto s = startSubscriber(method, allowed.value()); !s) {
      errors_.report(config_.nodeName + ": cannot start subscriber for " + method + ": " +
                     s.error().message);
    }
  }
  if (config_.startPubREQHello > 0) boost::asio::post(helloStrand_, [this] { sendHello(); });
}

Status Node::startSubscriber(const std::string& method, const AllowedNodes& allowed) {
  auto instance = plugins_.instantiate(method);
  if (!instance) return instance.error();
  SubscriberSettings settings;
  settings.nodeName = config_.nodeName;
  settings.dataFolder = config_.subscribersDataFolder;
  settings.defaultMethodTimeout = std::chrono::seconds(config_.defaultMethodTimeout);
  settings.allowed = allowed;
  Subscriber::Events events;
  events.handled = [this](const message::Message& request, std::string output, std::string error) {
    onHandled(request, std::move(output), std::move(error));
  };
  events.problem = [this](const std::string& what) { errors_.report(what); };
  auto subscriber = Subscriber::create(io_.get_executor(), transport_, pool_, seen_,
                                       std::move(instance).value(), settings, events);
  if (auto s = subscriber->start(); !s) return s;
  STEWARD_LOG(info) << "started subscriber " << subscriber->subject()
                    << " allowed from: " << allowed.toString();
  std::lock_guard lock(mutex_);
  subscribers_[method] = std::move(subscriber);
  return {};
}

void Node::stop() {
  std::map<std::string, std::shared_ptr<Subscriber>> subscribers;
  std::map<std::string, std::shared_ptr<Publisher>> publishers;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    subscribers.swap(subscribers_);
    publishers.swap(publishers_);
  }
  // The timer belongs to its strand; a hello that fires after this sees stopped_ and ends.
  boost::asio::post(helloStrand_, [this] { helloTimer_.cancel(); });
  for (auto& [method, s] : subscribers) s->stop();
  pool_.stop();
  for (auto& [subject, p] : publishers) p->stop();
}

void Node::brokerReconnected() {
  std::lock_guard lock(mutex_);
  for (auto& [subject, publisher] : publishers_) publisher->brokerReconnected();
}

Result<std::vector<uint64_t>> Node::submit(std::string_view json, const std::string& source) {
  auto refuse = [&](const std::string& why) -> Error {
    errors_.report(config_.nodeName + ": input from " + source + " refused: " + why);
    return Error{why};
  };
  auto batch = message::decodeInput(json);
  if (!batch) return refuse(batch.error().message);
  for (size_t i = 0; i < batch->size(); ++i) {
    if (auto s = message::validate((*batch)[i], plugins_); !s) {
      return refuse("message " + std::to_string(i) + ": " + s.error().message);
    }
  }
  // Everything is stamped and size-checked before the first message is queued.
  std::vector<Outgoing> ready;
  for (size_t i = 0; i < batch->size(); ++i) {
    for (auto& one : message::fanOut((*batch)[i])) {
      auto outgoing = prepare(std::move(one));
      if (!outgoing) return refuse("message " + std::to_string(i) + ": " + outgoing.error().message);
      ready.push_back(std::move(outgoing).value());
    }
  }
  std::vector<uint64_t> ids;
  for (auto& o : ready) ids.push_back(dispatch(std::move(o)));
  return ids;
}

Result<uint64_t> Node::send(message::Message m) {
  auto outgoing = prepare(std::move(m));
  if (!outgoing) return outgoing.error();
  return dispatch(std::move(outgoing).value());
}

Result<Node::Outgoing> Node::prepare(message::Message m) {
  const message::MethodInfo* method = plugins_.find(m.method);
  if (method == nullptr) return Error{"unknown method \"" + m.method + "\""};
  auto id = ids_.next();
  if (!id) return id.error();
  m.id = id.value();
  m.fromNode = config_.nodeName;
  m.createdUnixMs = nowUnixMs();
  const size_t maxPayload = transport_.maxPayload();
  std::string wire = m.isReply ? fitReply(m, maxPayload) : message::encodeWire(m);
  if (wire.size() > maxPayload) {
    return Error{"message to " + m.toNode + " is " + std::to_string(wire.size()) +
                 " bytes encoded, more than the broker's max payload of " +
                 std::to_string(maxPayload)};
  }
  DeliveryPolicy policy;
  policy.ack = message::needsAck(method->kind);
  policy.ackTimeout = std::chrono::seconds(m.ackTimeout.value_or(config_.defaultMessageTimeout));
  policy.retries = m.retries.value_or(config_.defaultMessageRetries);
  std::string subject = message::subject(m.toNode, m.method, method->kind);
  return Outgoing{std::move(m), std::move(wire), policy, std::move(subject)};
}

uint64_t Node::dispatch(Outgoing o) {
  std::shared_ptr<Publisher> publisher;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      observe::ErrorKernel::logOnly(describe(o.message) + " not sent: the node is stopping");
      return o.message.id;
    }
    auto& slot = publishers_[o.subject];
    if (!slot) {
      slot = Publisher::create(io_.get_executor(), transport_, o.subject,
                               [this](const message::Message& msg, Outcome outcome, int attempts,
                                      const std::string& detail) {
                                 onSettled(msg, outcome, attempts, detail);
                               });
    }
    publisher = slot;
  }
  const uint64_t id = o.message.id;
  STEWARD_LOG(debug) << "queued " << describe(o.message);
  publisher->enqueue(std::move(o.message), std::move(o.wire), o.policy);
  return id;
}

void Node::onSettled(const message::Message& m, Outcome outcome, int attempts,
                     const std::string& detail) {
  if (outcome == Outcome::delivered) {
    STEWARD_LOG(debug) << describe(m) << " delivered after " << attempts << " send(s)";
    return;
  }
  std::string what = config_.nodeName + ": " + describe(m) + " " +
                     std::string(outcomeName(outcome)) + " after " + std::to_string(attempts) +
                     " send(s)" + (detail.empty() ? "" : ": " + detail);
  // An error message that cannot reach central is only logged here, or errors would loop.
  if (m.method == observe::kErrorLogMethod || outcome == Outcome::stopped) {
    observe::ErrorKernel::logOnly(what);
  } else {
    errors_.report(what);
  }
}

void Node::onHandled(const message::Message& request, std::string output, std::string error) {
  const message::MethodInfo* method = plugins_.find(request.method);
  if (!error.empty()) {
    std::string what = config_.nodeName + ": " + describe(request) + " failed: " + error;
    if (request.method == observe::kErrorLogMethod) {
      observe::ErrorKernel::logOnly(what);
    } else {
      errors_.report(what);
    }
  }
  // A reply never causes a reply, and events do not answer.
  if (request.isReply || method == nullptr || method->replyMethod ||
      method->kind == message::Kind::EventACK || method->kind == message::Kind::EventNACK) {
    return;
  }
  message::Message reply;
  reply.toNode = request.fromNode;
  reply.method = request.replyMethod.empty() ? kDefaultReplyMethod : request.replyMethod;
  reply.data = {std::move(output)};
  reply.ackTimeout = request.replyAckTimeout;
  reply.retries = request.replyRetries;
  reply.directory = request.directory;
  reply.fileName = request.fileName.empty() ? request.method + ".log" : request.fileName;
  reply.isReply = true;
  reply.requestId = request.id;
  reply.requestMethod = request.method;
  reply.requestError = error;
  if (auto r = send(std::move(reply)); !r) {
    errors_.report(config_.nodeName + ": cannot reply to " + describe(request) + ": " +
                   r.error().message);
  }
}

// Runs on helloStrand_.
void Node::sendHello() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
  }
  message::Message hello;
  hello.toNode = config_.centralNodeName;
  hello.method = kHelloMethod;
  hello.data = {config_.nodeName};
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
