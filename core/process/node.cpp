#include "core/process/node.hpp"

#include "core/message/codec.hpp"
#include "core/message/methods.hpp"
#include "core/process/own_methods.hpp"
#include "core/util/clock.hpp"
#include "core/util/log.hpp"

#include <boost/asio/post.hpp>

#include <chrono>

namespace steward::process {
namespace {

// Where copies to this node land, made absolute once: a destination given as an absolute path is
// checked against it, whatever folder the daemon runs in.
std::filesystem::path copyFolderOf(const config::Config& c) {
  const std::filesystem::path folder = c.copyFolder.empty() ? c.subscribersDataFolder / "copies" : c.copyFolder;
  std::error_code ec;
  auto absolute = std::filesystem::absolute(folder, ec);
  return ec ? folder : absolute.lexically_normal();
}

}  // namespace

Node::Node(config::Config config, boost::asio::io_context& io, transport::Transport& transport,
           plugin::PluginHost& plugins, store::Store& store, const observe::Audit& audit,
           NodeSecurity security, NodeThreads threads)
    : config_(std::move(config)),
      io_(io),
      store_(store),
      security_(security),
      errors_(config_.nodeName, config_.centralNodeName, config_.errorMessageTimeout,
              config_.errorMessageRetries,
              [this](message::Message m) {
                if (auto r = outbox_.send(std::move(m)); !r) {
                  observe::ErrorKernel::logOnly("cannot send error to central: " +
                                                r.error().message);
                }
              },
              {.perWindow = config_.errorReportsPerMinute}),
      catalog_(plugins, config_.nodeName),
      fleet_(store, config_.nodeName == config_.centralNodeName),
      outbox_({.nodeName = config_.nodeName,
               .defaultMessageTimeout = config_.defaultMessageTimeout,
               .defaultMessageRetries = config_.defaultMessageRetries,
               .window = config_.sendWindow,
               .explainSilence =
                   [this](const std::string& node, const std::string& method) {
                     return fleet_.explain(node, method, nowUnixMs());
                   },
               .settled =
                   [this](const message::Message& m, bool delivered, const std::string& detail) {
                     if (m.method == message::methods::kCopyDst) copier_.settled(m, delivered, detail);
                   }},
              io.get_executor(), transport, catalog_, store, audit, errors_, security.verifier,
              processIds_),
      keys_(config_.nodeName, config_.centralNodeName, security.trust, security.identity, outbox_,
            errors_),
      inbox_({.nodeName = config_.nodeName,
              .dataFolder = config_.subscribersDataFolder,
              .defaultMethodTimeout = std::chrono::seconds(config_.defaultMethodTimeout),
              .maxHandlerThreads = config_.maxHandlerThreads,
              .sendersAtOnce = std::min(config_.maxHandlerThreads,
                                        config_.sendersAtOnce != 0                         ? config_.sendersAtOnce
                                        : config_.nodeName == config_.centralNodeName ? size_t{8}
                                                                                       : size_t{1}),
              .verifier = security.verifier,
              .trust = security.trust,
              .sharedHandlers = threads.handlers,
              .sharedIntake = threads.intake,
              .heardHello =
                  [this](const message::Message& hello) {
                    if (auto s = fleet_.onHello(hello, nowUnixMs()); !s) errors_.report(s.error().message);
                  }},
             io.get_executor(), transport, catalog_, store, audit, errors_, outbox_, keys_,
             processIds_),
      operations_(config_.nodeName, catalog_, store, outbox_, inbox_, keys_, fleet_, errors_),
      startup_(config_.startupFolder),
      copier_({.nodeName = config_.nodeName, .maxBytes = static_cast<uint64_t>(config_.copyMaxBytes)}, store, outbox_,
              catalog_, errors_),
      copyWriter_(copyFolderOf(config_), static_cast<uint64_t>(config_.copyMaxBytes), store.options().sync),
      timerStrand_(boost::asio::make_strand(io)),
      helloTimer_(timerStrand_),
      errorsTimer_(timerStrand_) {
  addOwnMethods(catalog_, {.operations = operations_,
                           .keys = keys_,
                           .startup = startup_,
                           .checkInput = [this](std::string_view json) -> Status {
                             if (auto batch = check(json); !batch) return batch.error();
                             return {};
                           },
                           .stepHandlers = [this](const message::Message& step) { return stepHandler(step); },
                           .copier = copier_,
                           .copyWriter = copyWriter_});
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

Node::~Node() { stop(std::chrono::milliseconds(0)); }

bool Node::stopping() {
  std::lock_guard lock(mutex_);
  return stopped_;
}

void Node::start() {
  outbox_.resume();
  copier_.resume();
  auto resumed = inbox_.resume();
  for (const auto& [method, spec] : config_.startSub) {
    auto allowed = AllowedNodes::parse(spec);
    if (!allowed) {
      errors_.report("--startSub" + method + ": " + allowed.error().message);
      continue;
    }
    auto waiting = std::move(resumed[method]);
    resumed.erase(method);
    if (auto s = inbox_.start(method, allowed.value(), std::move(waiting)); !s) {
      errors_.report("cannot start subscriber for " + method + ": " + s.error().message);
    }
  }
  for (const auto& [method, waiting] : resumed) {
    if (waiting.empty()) continue;
    errors_.report(std::to_string(waiting.size()) + " message(s) for " + method +
                   " wait in the inbox, but its subscriber is not started");
  }
  if (config_.startPubREQHello > 0) boost::asio::post(timerStrand_, [this] { sendHello(); });
}

void Node::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  // The timers belong to their strand; one that fires after this sees stopped_ and ends.
  boost::asio::post(timerStrand_, [this] {
    helloTimer_.cancel();
    errorsTimer_.cancel();
  });
  // Copies queue no more chunks; what is queued stays, and the next start goes on from there.
  copier_.stop();
  // Replies of calls that finish within the grace period stay in the outbox for the next start.
  outbox_.close();
  inbox_.stopAll(grace);
  outbox_.stop();
}

observe::NodeSample Node::sample() {
  observe::NodeSample s;
  for (const auto& p : catalog_.plugins()) s.pluginsLoaded += p.loaded ? 1 : 0;
  const auto subscribers = inbox_.subscribers();
  for (const auto& [method, sub] : subscribers) {
    s.inboxQueued += static_cast<double>(sub->queued());
    s.callsRunning += static_cast<double>(sub->running());
  }
  const auto publishers = outbox_.publishers();
  for (const auto& pub : publishers) s.outboxPending += static_cast<double>(pub->pending());
  s.subscribers = static_cast<double>(subscribers.size());
  s.publishers = static_cast<double>(publishers.size());
  s.syncedWrites = static_cast<double>(store_.syncedWrites());
  return s;
}

Result<std::vector<message::Message>> Node::check(std::string_view json) {
  auto batch = message::decodeInput(json);
  if (!batch) return batch.error();
  // A plugin put into the folder since the start is picked up when input first names its method.
  std::vector<std::string_view> named;
  for (const auto& m : *batch) {
    named.push_back(m.method);
    named.push_back(m.replyMethod);
  }
  if (auto scanned = catalog_.knowAll(named)) {
    for (const auto& e : scanned.value()) errors_.report(e.message);
  }
  for (size_t i = 0; i < batch->size(); ++i) {
    if (auto s = message::validate((*batch)[i], catalog_); !s) {
      return within("message " + std::to_string(i) + ": ", s.error());
    }
  }
  return batch;
}

Result<std::unique_ptr<MethodHandler>> Node::stepHandler(const message::Message& step) {
  const auto subscribers = inbox_.subscribers();
  const auto it = subscribers.find(step.method);
  if (it == subscribers.end()) return Error{step.method + " is not started on " + config_.nodeName, Code::notAllowed};
  if (!it->second->allowed().allows(step.fromNode)) {
    return Error{config_.nodeName + " does not take " + step.method + " from " + step.fromNode, Code::notAllowed};
  }
  if (security_.trust != nullptr) {
    if (auto s = security_.trust->authorize(step.fromNode, step.method, step.data, it->second->method().commandData); !s) {
      return s.error();
    }
  }
  return catalog_.instantiate(step.method);
}

void Node::submitStartupFiles() {
  std::vector<std::string> skipped;
  for (const auto& file : startup_.read(skipped)) {
    const std::string source = "startup file " + (config_.startupFolder / file.name).string();
    // A refused file is reported by submit itself, naming the file as the source.
    if (auto ids = submit(file.text, source)) STEWARD_LOG(info) << source << ": " << ids->size() << " message(s)";
  }
  for (const auto& line : skipped) errors_.report(line);
}

Result<std::vector<uint64_t>> Node::submit(std::string_view json, const std::string& source,
                                           const std::shared_ptr<ReplyWatcher>& watcher) {
  auto refuse = [&](const Error& why) -> Error {
    errors_.report("input from " + source + " refused: " + why.message);
    return why;
  };
  auto batch = check(json);
  if (!batch) return refuse(batch.error());
  // Everything is stamped and size-checked before the batch is written to the outbox in one
  // write: it is taken whole or not at all.
  std::vector<Outgoing> ready;
  for (size_t i = 0; i < batch->size(); ++i) {
    for (auto& one : message::fanOut((*batch)[i])) {
      auto outgoing = outbox_.prepare(std::move(one));
      if (!outgoing) {
        outbox_.discard(ready);
        return refuse(within("message " + std::to_string(i) + ": ", outgoing.error()));
      }
      ready.push_back(std::move(outgoing).value());
    }
  }
  auto ids = outbox_.accept(std::move(ready), source, watcher);
  if (!ids) return refuse(ids.error());
  return ids;
}

// Runs on timerStrand_.
void Node::sendHello() {
  if (stopping()) return;
  message::Message hello;
  hello.toNode = config_.centralNodeName;
  hello.method = message::methods::kHello;
  hello.data = {config_.nodeName};
  // The key this node signs with, and the version of the trusted set it holds: central learns
  // new keys this way, and sends a newer set to a node that lacks it.
  const bool signs = security_.identity != nullptr && security_.trust != nullptr;
  hello.data.push_back(signs ? security_.identity->publicKey() : "");
  hello.data.push_back(signs ? std::to_string(security_.trust->version()) : "0");
  // How it is doing: central keeps it for steward-ctl nodes and for targeting by facts.
  NodeStatus status;
  status.helloSeconds = config_.startPubREQHello;
  const auto now = sample();
  status.inbox = static_cast<uint64_t>(now.inboxQueued);
  status.outbox = static_cast<uint64_t>(now.outboxPending);
  for (const auto& [method, subscriber] : inbox_.subscribers()) status.methods.push_back(method);
  std::vector<std::string> problems;
  status.facts = folderFacts(config_.factsFolder, problems);
  for (auto& [key, value] : machineFacts()) status.facts[key] = std::move(value);
  for (const auto& p : problems) observe::ErrorKernel::logOnly(p);
  hello.data.push_back(encodeStatus(status));
  hello.directory = "hello-messages";
  hello.fileName = "hello.log";
  if (auto r = outbox_.send(std::move(hello)); !r) {
    observe::ErrorKernel::logOnly("cannot send hello: " + r.error().message);
  }
  helloTimer_.expires_after(std::chrono::seconds(config_.startPubREQHello));
  helloTimer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) sendHello();
  });
}

}  // namespace steward::process
