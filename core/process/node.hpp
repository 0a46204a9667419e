// A node: the processes of one steward daemon and the rules that tie them together. Operator input
// is validated as a whole batch, written to the outbox, fanned out and queued to a publisher per
// (toNode, method); what a subscriber's handler outputs becomes a reply, written to the outbox in
// the same write that removes the request from the inbox; every failure goes to the error kernel.
#pragma once

#include "core/config/config.hpp"
#include "core/message/message.hpp"
#include "core/observe/audit.hpp"
#include "core/observe/error_kernel.hpp"
#include "core/observe/metrics.hpp"
#include "core/plugin/host.hpp"
#include "core/process/handler_pool.hpp"
#include "core/process/message_sender.hpp"
#include "core/process/publisher.hpp"
#include "core/process/reply_watch.hpp"
#include "core/process/subscriber.hpp"
#include "core/process/trust_keeper.hpp"
#include "core/store/store.hpp"
#include "core/transport/transport.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <rapidjson/document.h>

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace steward::process {

struct QueueFilter;

// What the node signs and checks with (none: unsigned, for tests that do not need it).
struct NodeSecurity {
  const security::Verifier* verifier = nullptr;
  security::Trust* trust = nullptr;
  const security::Identity* identity = nullptr;
};

class Node : public MessageSender {
 public:
  // `transport` seals what the node sends (security::SealingTransport in the daemon); the
  // verifier checks the seal of everything its subscribers take; trust and identity serve hellos
  // (the key they announce) and the keys operations.
  Node(config::Config config, boost::asio::io_context& io, transport::Transport& transport,
       plugin::PluginHost& plugins, store::Store& store, const observe::Audit& audit,
       NodeSecurity security = {});
  ~Node() override;

  // Resumes the outbox, answers messages whose run a stop interrupted, starts the configured
  // subscribers (each first resuming its queued inbox messages, in arrival order) and the hello
  // timer. What cannot start is reported; the node serves the rest.
  void start();
  // Stops taking messages, lets running calls finish for up to `grace`, cancels the rest, and
  // stops the publishers. Everything not yet settled stays in the store for the next start.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  // Operator input: a JSON array of messages. All are checked and written to the outbox in one
  // write before any is sent; one bad message refuses the batch with an error naming its index
  // and field. Returns the ids given, in order. A `watcher` is told of the replies to them (and
  // of refusals and failed deliveries), from any thread; it is held weakly.
  Result<std::vector<uint64_t>> submit(std::string_view json, const std::string& source,
                                       const std::shared_ptr<ReplyWatcher>& watcher = nullptr);

  // Queues a message from this node (errors, hellos). The method must be known.
  Result<uint64_t> send(message::Message message) override;

  // The broker is reachable again: messages waiting for it go out now. Thread-safe.
  void brokerReconnected();

  // REQOpCommand's operations on this node: ps, listQueue, removeQueued. The result is text
  // (JSON) for the reply. Thread-safe; blocks while queues are changed.
  Result<std::string> operate(std::string_view operationJson);

  // What metrics sample at a scrape. Thread-safe.
  observe::NodeSample sample();
  // Told how long each method run took. Set before start().
  void onHandlerDuration(std::function<void(const std::string& method, double seconds)> f) {
    handlerDuration_ = std::move(f);
  }

  const observe::ErrorKernel& errors() const { return errors_; }
  const config::Config& config() const { return config_; }

 private:
  // A message stamped with id, sender and time, encoded, and checked against the broker's limit.
  struct Outgoing {
    message::Message message;
    store::OutboxEntry entry;
  };
  Result<Outgoing> prepare(message::Message message);
  void dispatch(Outgoing outgoing);

  void resumeOutbox();
  std::map<std::string, std::vector<Inbound>> resumeInbox();
  Status startSubscriber(const std::string& method, const AllowedNodes& allowed,
                         std::vector<Inbound> resumed);
  // Turns a handled message into its reply (if it gets one) and settles it in the store.
  void onHandled(const Inbound& request, std::string output, std::string error);
  // A partial reply of a request still running: queued like any message from this node.
  Status onPartial(const Inbound& request, std::string output);
  // The reply to `request` carrying `output` and `error`, stamped and encoded; nullopt when the
  // request gets no reply (it is a reply or an event).
  std::optional<Result<Outgoing>> makeReply(const message::Message& request, std::string output,
                                            const std::string& error, bool partial);
  void onSettled(const message::Message& m, Outcome outcome, int attempts,
                 const std::string& detail);
  void sendHello();
  std::string ps();
  std::string listQueue(const std::string& queue);
  std::string removeQueued(const std::string& queue, const QueueFilter& filter);
  Result<std::string> startProc(const std::string& method, const std::string& allowed);
  Result<std::string> stopProc(const std::string& method, std::optional<uint64_t> id);
  bool stopping();

  config::Config config_;
  boost::asio::io_context& io_;
  transport::Transport& transport_;
  plugin::PluginHost& plugins_;
  store::Store& store_;
  const observe::Audit& audit_;
  observe::ErrorKernel errors_;
  HandlerPool pool_;
  boost::asio::strand<boost::asio::io_context::executor_type> timerStrand_;
  boost::asio::steady_timer helloTimer_;
  boost::asio::steady_timer errorsTimer_;
  store::IdSource ids_;
  ReplyWatch replyWatch_;
  NodeSecurity security_;
  TrustKeeper keys_;

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Publisher>> publishers_;   // by subject
  std::map<std::string, std::shared_ptr<Subscriber>> subscribers_; // by method
  std::atomic<uint64_t> nextProcessId_{1};
  std::function<void(const std::string& method, double seconds)> handlerDuration_;
  bool stopped_ = false;
};

}  // namespace steward::process
