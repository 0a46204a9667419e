// A node: the parts of one steward daemon, put together. Each part has one job:
//
//   Outbox          the sending side: stamps, stores and delivers what this node sends
//   Inbox           the receiving side: a subscriber per method takes messages in and runs them;
//                   a run's output goes back as a reply through the outbox
//   NodeOperations  what REQOpCommand does on this node (ps, start/stop, queues, keys)
//   TrustKeeper     keys: hellos at central, the trusted set pushed and taken in
//   Fleet           at central: the nodes that say hello, their facts, who is offline
//   Catalog         every method this node can serve: its own and its plugins'
//
// The node itself takes operator input (a batch checked whole, then stored in one write), sends
// hellos, and starts and stops the parts in order. Failures go to the error kernel, which sends
// them to central through the outbox.
#pragma once

#include "core/config/config.hpp"
#include "core/message/message.hpp"
#include "core/observe/audit.hpp"
#include "core/observe/error_kernel.hpp"
#include "core/observe/metrics.hpp"
#include "core/plugin/host.hpp"
#include "core/process/catalog.hpp"
#include "core/process/copier.hpp"
#include "core/process/copy_writer.hpp"
#include "core/process/fleet.hpp"
#include "core/process/inbox.hpp"
#include "core/process/operations.hpp"
#include "core/process/outbox.hpp"
#include "core/process/reply_watch.hpp"
#include "core/process/startup_folder.hpp"
#include "core/process/trust_keeper.hpp"
#include "core/store/store.hpp"
#include "core/transport/transport.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace steward::process {

// What the node signs and checks with (none: unsigned, for tests that do not need it).
struct NodeSecurity {
  const security::Verifier* verifier = nullptr;
  security::Trust* trust = nullptr;
  const security::Identity* identity = nullptr;
};

// Threads several nodes in one process share (steward-sim: InboxSettings); null in a daemon.
struct NodeThreads {
  HandlerPool* handlers = nullptr;
  HandlerPool* intake = nullptr;
};

class Node {
 public:
  // `transport` seals what the node sends (security::SealingTransport in the daemon); the
  // verifier checks the seal of everything its subscribers take; trust and identity serve hellos
  // (the key they announce) and the keys operations.
  Node(config::Config config, boost::asio::io_context& io, transport::Transport& transport,
       plugin::PluginHost& plugins, store::Store& store, const observe::Audit& audit,
       NodeSecurity security = {}, NodeThreads threads = {});
  ~Node();

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
  // What submit checks before it takes anything: the messages of `json`, or the first error.
  Result<std::vector<message::Message>> check(std::string_view json);
  // Submits every file of the startup folder, in name order; a file skipped or refused is
  // reported to central by name, and the others go on.
  void submitStartupFiles();

  // The broker is reachable again: messages waiting for it go out now. Thread-safe.
  void brokerReconnected() { outbox_.brokerReconnected(); }
  // Runs an operation ({"opCmd":"nodes"}, as REQOpCommand takes it) on this node directly.
  Result<std::string> operate(std::string_view operationJson) { return operations_.run(operationJson); }

  // What metrics sample at a scrape. Thread-safe.
  observe::NodeSample sample();
  // Told how long each method run took. Set before start().
  void onHandlerDuration(std::function<void(const std::string& method, double seconds)> f) {
    inbox_.onHandlerDuration(std::move(f));
  }

  const observe::ErrorKernel& errors() const { return errors_; }
  const config::Config& config() const { return config_; }

 private:
  void sendHello();
  bool stopping();
  // REQWorkflow's gate: the handler of `step`, if its sender may call its method here (started
  // for that sender, and the ACL allows the data).
  Result<std::unique_ptr<MethodHandler>> stepHandler(const message::Message& step);

  config::Config config_;
  boost::asio::io_context& io_;
  store::Store& store_;
  NodeSecurity security_;
  observe::ErrorKernel errors_;
  std::atomic<uint64_t> processIds_{1};
  Catalog catalog_;
  Fleet fleet_;
  Outbox outbox_;
  TrustKeeper keys_;
  Inbox inbox_;
  NodeOperations operations_;
  StartupFolder startup_;
  Copier copier_;
  CopyWriter copyWriter_;
  boost::asio::strand<boost::asio::io_context::executor_type> timerStrand_;
  boost::asio::steady_timer helloTimer_;
  boost::asio::steady_timer errorsTimer_;

  std::mutex mutex_;
  bool stopped_ = false;
};

}  // namespace steward::process
