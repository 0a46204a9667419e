// The sending side of a node. Every message the node sends (operator input, replies, errors,
// hellos, trusted sets) is stamped here with id, sender and time, encoded and checked against the
// broker's limit, written to the outbox and handed to the publisher of its (toNode, method). When
// a publisher settles a message (ACKed, refused, given up, expired, removed) it leaves the outbox,
// the operator watching it hears of a failure, and central of anything but success.
#pragma once

#include "core/message/message.hpp"
#include "core/observe/audit.hpp"
#include "core/observe/error_kernel.hpp"
#include "core/process/fleet.hpp"
#include "core/process/message_sender.hpp"
#include "core/process/publisher.hpp"
#include "core/process/reply_watch.hpp"
#include "core/security/sealing.hpp"
#include "core/store/store.hpp"
#include "core/transport/transport.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace steward::process {

struct OutboxSettings {
  std::string nodeName;
  int64_t defaultMessageTimeout = 10;  // seconds to wait for an ACK
  int64_t defaultMessageRetries = 1;
  // How many messages of one (toNode, method) may wait for their ACK at once.
  size_t window = 1;
  // A (toNode, method)'s publisher with nothing to send for this long goes (central talks to
  // thousands of nodes; most are quiet most of the time); the next message makes a new one.
  std::chrono::milliseconds retireIdleAfter = std::chrono::minutes(5);
  // Why nobody listens for `method` on `node` (Fleet::explain); none: "noResponders".
  std::function<Silence(const std::string& node, const std::string& method)> explainSilence = {};
  // Told of every message settled (delivered or not, with what the publisher said), after the
  // outbox let it go, on the publisher's thread: file copies queue their next chunks.
  std::function<void(const message::Message& m, bool delivered, const std::string& detail)> settled = {};
};

// A message stamped, encoded and ready for the outbox.
struct Outgoing {
  message::Message message;
  store::OutboxEntry entry;
  // A sequenced method with an ACK: accept() numbers it in its stream.
  bool sequenced = false;
};

class Outbox final : public MessageSender, private PublisherEvents {
 public:
  // `verifier` opens the sealed ACKs (none: answers are taken as they are, for unit tests).
  // `processIds` numbers the publishers for ps, shared with the subscribers.
  Outbox(OutboxSettings settings, boost::asio::any_io_executor executor,
         transport::Transport& transport, const message::MethodCatalog& methods,
         store::Store& store, const observe::Audit& audit, const observe::ErrorKernel& errors,
         const security::Verifier* verifier, std::atomic<uint64_t>& processIds);
  ~Outbox() override;

  // Messages accepted before the last stop go out again, oldest first, before anything new.
  void resume();
  // Stamps `message` from this node and encodes it; nothing is stored yet.
  Result<Outgoing> prepare(message::Message message);
  // Writes every message of `batch` to the outbox in one write, then queues them; a `watcher`
  // is told of the replies to them. Their ids, in order.
  Result<std::vector<uint64_t>> accept(std::vector<Outgoing> batch, const std::string& source,
                                       const std::shared_ptr<ReplyWatcher>& watcher = nullptr);
  // The last sequence numbers a write gives, by subject: they go into the same store write as
  // the messages.
  using LastSeqs = std::vector<std::pair<std::string, uint64_t>>;
  // Numbers the sequenced messages of `batch` in their streams, and has `write` store them (with
  // the LastSeqs) in one write: numbers are given and stored under one lock, so a stream has no
  // gaps. Nothing is queued yet: dispatch each afterwards.
  Status commit(std::vector<Outgoing>& batch, const std::function<Status(const LastSeqs&)>& write);
  // Queues a message that is in the outbox already (a reply, written with its request's end).
  void dispatch(Outgoing outgoing);
  // prepare and accept for one message of the node's own (errors, hellos). Thread-safe.
  Result<uint64_t> send(message::Message message) override;
  // Prepared messages that will not be accepted after all (the batch was refused): their ids are
  // no longer open.
  void discard(const std::vector<Outgoing>& batch);

  // Settles message `entry.id` as removed, whether its publisher holds it or not; false when it
  // was settled meanwhile. Blocks up to 10 s for the publisher.
  bool remove(const store::OutboxEntry& entry);
  // The broker is reachable again: messages waiting for it go out now. Thread-safe.
  void brokerReconnected();
  // Queues nothing new from now on (it stays in the outbox for the next start); what is in
  // flight may still be settled until stop().
  void close();
  // Closes, and stops the publishers; what is not settled stays in the outbox.
  void stop();

  // How many messages to each receiver are not settled yet (in the outbox, or on their way in).
  std::map<std::string, size_t> unsettledByReceiver();
  // The publishers now, for ps and metrics.
  std::vector<std::shared_ptr<Publisher>> publishers();
  // Operators waiting for replies: the receiving side tells it of replies that arrive.
  ReplyWatch& replies() { return replies_; }

 private:
  void settled(const std::string& subject, const message::Message& m, Outcome outcome,
               int attempts, const std::string& detail, Code code) override;
  void sent(const message::Message& m, int attempt) override;
  void unheard(const message::Message& m, int64_t queuedUntilUnixMs) override;
  Result<OpenedAnswer> openAnswer(const message::Message& m, const std::string& inbox,
                                  const std::string& payload) override;
  // Numbers the sequenced messages of `batch` in their streams and encodes them again; the
  // streams' last numbers to store with them. Caller holds streamsMutex_.
  Result<LastSeqs> number(std::vector<Outgoing>& batch);
  // The wire encoding of `m`, checked against the broker's limit.
  Result<std::string> encode(message::Message& m) const;
  // Tells the receiver of `subject` that the numbers of its stream below `floor` that have not
  // come will not.
  void sendSkip(const std::string& subject, uint64_t floor);

  const OutboxSettings settings_;
  boost::asio::any_io_executor executor_;
  transport::Transport& transport_;
  const message::MethodCatalog& methods_;
  store::Store& store_;
  const observe::Audit& audit_;
  const observe::ErrorKernel& errors_;
  const security::Verifier* verifier_;
  std::atomic<uint64_t>& processIds_;
  store::IdSource ids_;
  ReplyWatch replies_;

  // The streams of sequenced messages this node sends, by subject.
  struct Stream {
    bool loaded = false;          // `last` read from the store
    uint64_t last = 0;            // the last number given
    std::set<uint64_t> unsettled; // numbers in the outbox, not settled yet
    // The highest number that may have been delivered: ACKed since the start, or given before it.
    uint64_t delivered = 0;
    // The highest number settled without delivery (given up, expired, removed) that the
    // receiver has not been told to skip yet; 0: none.
    uint64_t lostUpTo = 0;
  };
  // Reads a stream's last number and lost one at the first need after a start: every number
  // given before may have been delivered. streamsMutex_ held.
  void loadStream(const std::string& subject, Stream& stream, const std::map<std::string, uint64_t>& lost);
  // The floor to announce once a lost number can be passed over (and clears it, setting
  // `record` to the lostUpTo to store). streamsMutex_ held.
  std::optional<uint64_t> skipDue(Stream& stream, std::optional<uint64_t>& record);
  std::mutex streamsMutex_;
  uint64_t epoch_ = 0;
  std::map<std::string, Stream> streams_;

  // By receiver, the ids of the messages to it that are not settled (given out by prepare and
  // not yet settled, discarded or failed): the lowest is each message's settledBelow. An id is
  // given and entered under one lock, so no lower id can still be on its way when a message
  // says everything below it is settled.
  std::mutex openMutex_;
  std::map<std::string, std::set<uint64_t>> open_;
  void opened(const std::string& toNode, uint64_t id);
  void closed(const std::string& toNode, uint64_t id);

  // Every retireIdleAfter: a publisher that had nothing pending at the last sweep and was given
  // nothing since goes.
  void sweep();
  boost::asio::steady_timer sweeper_;
  // What the sweeper's timer handler reaches the outbox through: emptied (under its lock) when
  // the outbox stops, so a handler that runs later touches nothing of it.
  struct SweepGuard {
    std::mutex mutex;
    Outbox* outbox = nullptr;
  };
  std::shared_ptr<SweepGuard> sweepGuard_ = std::make_shared<SweepGuard>();

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Publisher>> publishers_;  // by subject
  std::map<std::string, uint64_t> idleAt_;  // by subject: enqueued() of a publisher found idle
  bool closed_ = false;
};

// "message 12 (REQCliCommand from central to ship1)": how logs and errors name a message.
std::string describe(const message::Message& m);

}  // namespace steward::process
