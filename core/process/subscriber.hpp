// A subscriber process: one per started method. It listens on <node>.<method>.<kind>, refuses
// senders that are not allowed, ACKs what it takes, and runs the messages through the method's
// plugin: one at a time in arrival order for sequenced methods (REQ…), concurrently for REQn….
#pragma once

#include "core/message/message.hpp"
#include "core/plugin/host.hpp"
#include "core/process/handler_pool.hpp"
#include "core/process/seen_messages.hpp"
#include "core/transport/transport.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>

namespace steward::process {

// Who may send a method to this node: "*" (anyone) or a comma separated list of node names.
class AllowedNodes {
 public:
  AllowedNodes() = default;
  static Result<AllowedNodes> parse(std::string_view spec);
  static AllowedNodes anyone();
  bool allows(std::string_view node) const;
  std::string toString() const;

 private:
  bool all_ = false;
  std::set<std::string, std::less<>> nodes_;
};

struct SubscriberSettings {
  std::string nodeName;
  std::filesystem::path dataFolder;
  std::chrono::seconds defaultMethodTimeout{10};
  AllowedNodes allowed;
};

class Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  struct Events {
    // A message ran: its output and its error ("" when it succeeded). On the process's strand.
    std::function<void(const message::Message& request, std::string output, std::string error)>
        handled;
    // Something went wrong that central should hear about (refused sender, bad message).
    std::function<void(const std::string& what)> problem;
  };

  static std::shared_ptr<Subscriber> create(boost::asio::any_io_executor executor,
                                            transport::Transport& transport, HandlerPool& pool,
                                            SeenMessages& seen,
                                            std::unique_ptr<plugin::MethodInstance> instance,
                                            SubscriberSettings settings, Events events);

  // Subscribes to the method's subject.
  Status start();
  // Unsubscribes, cancels running calls and drops what is queued. Blocks until unsubscribed.
  void stop();

  const message::MethodInfo& method() const { return instance_->method(); }
  const std::string& subject() const { return subject_; }
  const AllowedNodes& allowed() const { return settings_.allowed; }

 private:
  Subscriber(boost::asio::any_io_executor executor, transport::Transport& transport,
             HandlerPool& pool, SeenMessages& seen,
             std::unique_ptr<plugin::MethodInstance> instance,
             SubscriberSettings settings, Events events);
  void onIncoming(transport::Incoming in);
  void refuse(const transport::Incoming& in, const std::string& why);
  void pump();
  void run(message::Message message);
  void execute(const message::Message& m, steward_call& call, int64_t deadlineMs);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  transport::Transport& transport_;
  HandlerPool& pool_;
  SeenMessages& seen_;
  std::unique_ptr<plugin::MethodInstance> instance_;
  SubscriberSettings settings_;
  Events events_;
  std::string subject_;
  std::unique_ptr<transport::Subscription> subscription_;
  std::deque<message::Message> queue_;
  std::set<std::shared_ptr<steward_call>> running_;
  bool stopped_ = false;
};

}  // namespace steward::process
