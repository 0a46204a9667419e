// A relay: store and forward between this node's broker and a far one (README, "Relays").
//
// A node that reaches two brokers — central's, and a ship's own that central cannot reach —
// carries messages between them. On its own broker it listens on the subjects of the nodes
// behind it (relayNodes); on the far broker, on every subject but theirs and its own. What
// arrives is checked like anything from a broker (the origin's seal by a trusted key, fresh, the
// subject its own), written to this node's store, and only then ACKed: the relay holds it now, as
// a receiver would, and its sender's outbox lets it go. The relay forwards the origin's sealed
// bytes, sealed once more by itself on the way out (the receiver checks both: the origin's for
// who sent it, the relay's for freshness, since the relay may have held it for hours). A receiver
// runs a message once however often it arrives (its inbox remembers ids), so a resend after a
// lost ACK or a restart of the relay costs a link's bytes, never a second run.
//
// Order. Every message tells its receiver what its sender has settled (settledBelow; a
// sequenced one's floor): "of mine to you, everything below this that has not reached you never
// will". A sender counts a message the relay ACKed as settled, so a later message of the same
// sender to the same receiver may say so of one the relay still holds, and a receiver that took
// the later one first would never run the earlier. So the messages of one (sender, receiver)
// pair go in the order the relay took them, and one goes only while it says nothing of those
// before it that the receiver has not ACKed yet: a batch sent at once (which settles none of its
// own) goes as a window; a message sent after the relay ACKed the one before waits for the
// receiver's ACK of it. Pairs go side by side, up to a window on each side.
//
// Giving up. On its hop a message keeps its own policy: `retries` sends after the first (the
// relay's default when it does not say), or until the end of its `lifetime` when it has one —
// counting only sends made while the next broker is reachable, so a link that is down costs no
// tries. And nothing is held longer than the hold time. Central is told of each given up.
//
// Messages whose sender waits for no ACK (…NACK kinds, hellos) are forwarded once, not stored,
// as their sender sends them, unless they would pass one of their pair held here: then they go.
#pragma once

#include "core/message/message.hpp"
#include "core/observe/audit.hpp"
#include "core/observe/error_kernel.hpp"
#include "core/process/batches.hpp"
#include "core/process/handler_pool.hpp"
#include "core/security/sealing.hpp"
#include "core/store/store.hpp"
#include "core/transport/transport.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace steward::process {

struct RelaySettings {
  std::string nodeName;  // the relay's own name: its subjects are never carried
  // The nodes on the far broker: messages to them are taken on this node's broker.
  std::set<std::string, std::less<>> farNodes;
  // Sends after the first, for a message that does not say (defaultMessageRetries).
  int64_t defaultRetries = 3;
  // The longest a message is held, whatever its policy says; then central is told.
  std::chrono::seconds hold{7 * 24 * 3600};
  // Beyond these, an arrival gets no ACK: its sender keeps it and sends it again later.
  size_t maxHeld = 10000;
  size_t maxHeldBytes = 256 * 1024 * 1024;
  // Messages waiting for their ACK at once: on each side, and of one pair.
  size_t window = 64;
  size_t pairWindow = 16;
  std::chrono::milliseconds tick{250};
};

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  // `near` and `far` seal what they publish with this node's key (security::SealingTransport).
  Relay(boost::asio::io_context& io, transport::Transport& near, transport::Transport& far,
        const security::Verifier& verifier, store::Store& store, const observe::Audit& audit,
        const observe::ErrorKernel& errors, RelaySettings settings);

  // Takes up what the store holds from before, subscribes on both brokers and starts
  // forwarding; an error when a subscription cannot be made.
  Status start();
  // Unsubscribes, stores what arrived before and stops forwarding; what is held stays in the
  // store for the next start. Called before the last reference to the relay goes.
  void stop();
  // Messages held now, waiting for their receiver's ACK.
  size_t held() const;

 private:
  struct Held {
    store::CarriedEntry entry;
    message::Message about;  // id, fromNode, toNode, method: for the audit log
    std::unique_ptr<transport::ReplyInbox> inbox;  // while a send waits for its ACK
    int64_t dueMs = 0;        // when that send times out, or (not in flight) the next may go
    int64_t attempts = 0;
  };
  struct Arrival {
    store::CarriedEntry entry;
    message::Message about;
    std::string replyTo;
  };
  // (origin, subject, id): one message however many copies of it come.
  using Identity = std::tuple<std::string, std::string, uint64_t>;
  // (origin, receiver): what goes one at a time, in order.
  using Pair = std::pair<std::string, std::string>;
  using HeldMap = std::map<uint64_t, Held>;

  void onArrival(bool fromFar, transport::Incoming in);
  void refuse(bool fromFar, const std::string& replyTo, const Error& why);
  void storeIntake();
  void onTick();
  // With mutex_ held.
  void hold(store::CarriedEntry entry, message::Message about);
  void pump(int64_t now);
  // The lowest id of a pair's held messages; UINT64_MAX when none is held.
  uint64_t lowestHeldId(const Pair& pair) const;
  void send(Held& h, int64_t now);
  // A send that got no ACK (timed out, or nobody listens): the next one at `nextMs`, or given up
  // when it was the last its policy allows.
  void unanswered(HeldMap::iterator it, int64_t nextMs, std::vector<std::string>& reports);
  void settle(HeldMap::iterator it, std::string_view event, std::string_view detail);
  void onAnswer(uint64_t number, int64_t attempt, std::string payload, bool noResponders);
  transport::Transport& side(bool far) const { return far ? far_ : near_; }

  boost::asio::io_context& io_;
  transport::Transport& near_;
  transport::Transport& far_;
  const security::Verifier& verifier_;
  store::Store& store_;
  const observe::Audit& audit_;
  const observe::ErrorKernel& errors_;
  const RelaySettings settings_;
  store::IdSource numbers_;
  boost::asio::steady_timer timer_;

  mutable std::mutex mutex_;
  HeldMap held_;  // by arrival number
  std::map<Pair, std::deque<uint64_t>> queues_;  // each pair's held numbers, oldest first
  std::map<Identity, uint64_t> byIdentity_;  // 0: being stored now
  size_t heldBytes_ = 0;
  size_t taking_ = 0;  // arrivals handed to the writer, not held yet
  size_t takingBytes_ = 0;
  size_t inFlight_[2] = {0, 0};  // near, far
  bool stopped_ = true;

  // Checked arrivals, stored in batches by the writer: a thread of its own (ended when idle), so
  // the broker's delivery threads go on handing over arrivals meanwhile.
  Batches<Arrival> intake_;
  HandlerPool writer_{1, "stw-relay"};

  std::vector<std::unique_ptr<transport::Subscription>> subscriptions_;
};

}  // namespace steward::process
