// A subscriber process: one per started method. It listens on <node>.<method>.<kind>, refuses
// senders that are not allowed, stores what it takes in the inbox and only then ACKs, and runs
// the messages through the method's handler: concurrently for REQn…; one at a time for sequenced
// methods (REQ…), each sender's stream in its sequence order (an early arrival waits for the gap
// before it to be filled, or for the sender to say the gap will not be), and messages without a
// number in arrival order.
#pragma once

#include "core/message/message.hpp"
#include "core/security/sealing.hpp"
#include "core/process/batches.hpp"
#include "core/process/handler_pool.hpp"
#include "core/process/method_handler.hpp"
#include "core/process/reply.hpp"
#include "core/store/store.hpp"
#include "core/transport/transport.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <filesystem>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace steward::process {

// Who may send a method to this node: "*" (anyone) or a comma separated list of node names.
class AllowedNodes {
 public:
  AllowedNodes() = default;
  static Result<AllowedNodes> parse(std::string_view spec);
  bool allows(std::string_view node) const;
  std::string toString() const;

 private:
  bool all_ = false;
  std::set<std::string, std::less<>> nodes_;
};

struct SubscriberSettings {
  uint64_t processId = 0;  // shown by ps, named by stopProc
  std::string nodeName;
  std::filesystem::path dataFolder;
  std::chrono::seconds defaultMethodTimeout{10};
  AllowedNodes allowed;
  // Checks every arriving message's seal (sender's key, subject, freshness); none: messages are
  // taken unsealed (unit tests).
  const security::Verifier* verifier = nullptr;
  // Whether the sender may call this method with this data (the ACL); none: everyone allowed by
  // `allowed` may. Asked for commands only, not for events and replies.
  std::function<Status(const message::Message&)> authorize;
  // A sequenced method: how many senders' messages may run at once, each sender's stream still
  // one message at a time and in order, each run on a handler of its own (`moreHandlers` makes
  // them when needed). 1: one message of the method at a time on this node.
  size_t sendersAtOnce = 1;
  std::function<Result<std::unique_ptr<MethodHandler>>()> moreHandlers;
};

// A message taken into the inbox, with its arrival number there.
struct Inbound {
  uint64_t arrival = 0;
  message::Message message;
  // Its sender waits for an ACK: what the store writes of it is synced (with syncWrites). A
  // message without one is not (README, Delivery).
  bool durable = true;
  // A repeating message's run (1, 2, …) and its schedule (store::InboxEntry).
  uint64_t run = 1;
  uint64_t schedule = 0;
  // The schedule this run belongs to: a first run's is its own arrival.
  uint64_t scheduleNumber() const { return schedule != 0 ? schedule : arrival; }
};

// The inbox entry `entry` as it runs, `m` being its decoded wire.
inline Inbound inboundOf(const store::InboxEntry& entry, message::Message m) {
  return Inbound{entry.arrival, std::move(m), true, entry.run, entry.schedule};
}

// What a subscriber tells the receiving side of its node. Called from transport and handler
// threads.
class SubscriberEvents {
 public:
  // A message ran: its output and its error ("" when it succeeded). On a handler thread, before
  // the next message of a sequenced method starts; `next`, when given, is that message's run mark,
  // to be written in the same write that ends this one.
  virtual void handled(const Inbound& request, CallOutput output, std::string error,
                       const store::Store::RunMark* next) = 0;
  // A partial reply for a request that is still running (emit).
  virtual Status partial(const Inbound& request, std::string output) = 0;
  // Something went wrong that central should hear about (refused sender, bad message).
  virtual void problem(const std::string& what) = 0;
  // Audit: "received", "duplicate", "executed" and the like.
  virtual void audit(std::string_view event, const message::Message& m) = 0;
  // A hello sealed by a key this node does not trust (yet), announcing that key: it is only
  // recorded, never stored in the inbox nor run.
  virtual void announced(const message::Message& hello) = 0;
  // How long a run took, in seconds.
  virtual void timed(const std::string& method, double seconds) = 0;

 protected:
  ~SubscriberEvents() = default;
};

class Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  // `events` must outlive the subscriber's last run. Runs go to `pool`; storing what arrives to
  // `intake` (threads that only write to the store, so long runs never hold up an ACK).
  static std::shared_ptr<Subscriber> create(boost::asio::any_io_executor executor,
                                            transport::Transport& transport, HandlerPool& pool,
                                            HandlerPool& intake,
                                            store::Store& store,
                                            std::unique_ptr<MethodHandler> handler,
                                            SubscriberSettings settings, SubscriberEvents& events);

  // Queues `resumed` (messages from the inbox of an earlier run, in arrival order) ahead of
  // anything new, then subscribes to the method's subject.
  Status start(std::vector<Inbound> resumed = {});
  // Queues a message put into the inbox by the node itself (a repeating message's next run): it
  // runs like one that arrived now, outside any sequenced stream. Dropped once stopped (it stays
  // in the inbox for the next start). Thread-safe.
  void inject(Inbound in);
  // Unsubscribes and drops the in-memory queue (those messages stay in the inbox for the next
  // start). Running calls go on. Blocks until unsubscribed.
  void stop();
  // Cancels the calls still running.
  void cancelRunning();
  // Drops the message with this inbox arrival number if it is still waiting (not running); the
  // future says whether it was. Thread-safe.
  std::future<bool> remove(uint64_t arrival);
  size_t running() const { return runningCount_.load(); }
  size_t queued() const { return queuedCount_.load(); }

  const message::MethodInfo& method() const { return method_; }
  const std::string& subject() const { return subject_; }
  const AllowedNodes& allowed() const { return settings_.allowed; }
  uint64_t processId() const { return settings_.processId; }

 private:
  Subscriber(boost::asio::any_io_executor executor, transport::Transport& transport,
             HandlerPool& pool, HandlerPool& intake, store::Store& store,
             std::unique_ptr<MethodHandler> handler,
             SubscriberSettings settings, SubscriberEvents& events);
  void onIncoming(transport::Incoming in);
  // Answers a refusal (with its code) on `replyTo` and tells central.
  void refuse(const std::string& replyTo, const Error& why);
  // A message checked and ready to be taken into the inbox.
  struct Arrival {
    message::Message message;
    std::string wire;
    int64_t sealedUnixMs = 0;
    std::string replyTo;
  };
  void take(Arrival arrival);
  // Who is owed an ACK after one write: per sender process, each message's id and reply inbox.
  struct Owed {
    uint64_t id = 0;
    std::string replyTo;
  };
  using AckGroups = std::map<std::string, std::vector<Owed>>;  // by "<sender> <inbox prefix>"
  void acknowledge(const AckGroups& groups);
  void storeIntake();
  // A sequenced stream from one sender, on the strand.
  struct Stream {
    store::StreamState state;
    std::map<uint64_t, Inbound> waiting;  // by seq
    uint64_t readyAt = 0;  // the arrival of its first message while that one may run (in ready_)
  };
  struct Next {
    Inbound in;
    std::optional<store::StreamAdvance> advance;
  };
  // Queues a message taken in (or resumed): into its stream, or in arrival order. On the strand.
  void route(Inbound in);
  // A stream note: the numbers below `floor` that have not come never will. On the strand.
  void skip(const message::Message& note, const std::string& replyTo);
  // The message to run next, if one may run now. On the strand.
  std::optional<Next> takeNext();
  void pump();
  // A run about to start: its call (what cancel reaches) and its methodTimeout timer. On the
  // strand.
  struct Started {
    Next next;
    MethodHandler* handler = nullptr;
    std::shared_ptr<steward_host_call> call;
    std::shared_ptr<boost::asio::steady_timer> timer;
    int64_t deadlineMs = 0;
  };
  Started begin(Next next, MethodHandler& handler);
  // A sequenced method: a handler no run uses now (made if there are fewer than sendersAtOnce),
  // or null. On the strand.
  MethodHandler* idleHandler();
  // Undoes begin() for a run that ended or will not start. On the strand.
  void release(const std::shared_ptr<steward_host_call>& call,
               const std::shared_ptr<boost::asio::steady_timer>& timer);
  void run(Next next, MethodHandler& handler);
  // A sequenced run's lane is free: its stream may run its next message.
  void freeLane(const std::string& lane);
  // On a handler thread: runs `started` (writing its run mark first unless `marked`), then hands
  // its end over (finish).
  void perform(Started started, bool marked);
  // A sequenced run ended: picks the next message and has one handler task write this one's end
  // together with the next one's run mark, then run it. On the strand.
  void finish(Started done, CallOutput output, std::string error);
  void execute(const Started& started, bool marked);
  void countQueued();
  // Puts `stream` in ready_, moves it, or takes it out, as its first message now may run or not.
  void reconsider(const std::string& key, Stream& stream);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  transport::Transport& transport_;
  HandlerPool& pool_;
  HandlerPool& intakePool_;
  store::Store& store_;
  std::vector<std::unique_ptr<MethodHandler>> handlers_;  // the first serves every concurrent run
  std::vector<MethodHandler*> idle_;  // sequenced: handlers no run uses now
  SubscriberSettings settings_;
  SubscriberEvents& events_;
  std::string subject_;
  // A copy of what the method is, read from any thread: handlers_ grows on the strand (a new
  // lane), so it is no place to read it from elsewhere.
  const message::MethodInfo method_;
  std::unique_ptr<transport::Subscription> subscription_;
  Batches<Arrival> intake_;  // checked, waiting to be stored
  std::deque<Inbound> queue_;              // not sequenced, in arrival order
  std::map<std::string, Stream> streams_;  // sequenced, by store::streamKey
  // The streams whose first message may run, by that message's arrival: the next to run is found
  // without looking at every sender's stream (central has one per node of the fleet).
  std::set<std::pair<uint64_t, std::string>> ready_;
  size_t waiting_ = 0;                     // messages waiting in streams_
  // What runs now, with its handler and, for a sequenced method, its lane: the stream's key, or
  // "" for messages without a number (in arrival order, one at a time too).
  struct Running {
    MethodHandler* handler = nullptr;
    std::string lane;
  };
  std::map<std::shared_ptr<steward_host_call>, Running> running_;
  std::set<std::string> busy_;  // sequenced: the lanes running now
  std::atomic<size_t> runningCount_{0};
  std::atomic<size_t> queuedCount_{0};
  bool stopped_ = false;
};

}  // namespace steward::process
