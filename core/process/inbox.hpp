// The receiving side of a node: a subscriber per started method takes messages into the inbox
// and runs them; what a run outputs becomes its reply, written to the outbox in the same write
// that removes the request from the inbox. Messages a stop left behind are resumed here: those
// that waited run, those whose run had started are answered as interrupted.
#pragma once

#include "core/message/message.hpp"
#include "core/observe/audit.hpp"
#include "core/observe/error_kernel.hpp"
#include "core/process/catalog.hpp"
#include "core/process/handler_pool.hpp"
#include "core/process/outbox.hpp"
#include "core/process/repeats.hpp"
#include "core/process/subscriber.hpp"
#include "core/process/trust_keeper.hpp"
#include "core/security/sealing.hpp"
#include "core/security/trust.hpp"
#include "core/store/store.hpp"
#include "core/transport/transport.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace steward::process {

struct InboxSettings {
  std::string nodeName;
  std::filesystem::path dataFolder;
  std::chrono::seconds defaultMethodTimeout{10};
  size_t maxHandlerThreads = 32;
  // Sequenced methods: senders whose messages run at once (SubscriberSettings::sendersAtOnce).
  size_t sendersAtOnce = 1;
  // Checks every arriving message's seal, and the ACL (none: unsealed, everyone allowed by the
  // subscriber's list; unit tests).
  const security::Verifier* verifier = nullptr;
  security::Trust* trust = nullptr;
  // Pools shared by several nodes in one process (steward-sim), so threads do not grow with the
  // nodes; null: the inbox makes its own. A shared pool belongs to the caller, who stops it after
  // every node using it stopped and before any of them is destroyed (a queued task may still
  // reach its node).
  HandlerPool* sharedHandlers = nullptr;
  HandlerPool* sharedIntake = nullptr;
  // Told of every hello this node took (at central: process::Fleet).
  std::function<void(const message::Message& hello)> heardHello;
};

class Inbox final : private SubscriberEvents {
 public:
  Inbox(InboxSettings settings, boost::asio::any_io_executor executor,
        transport::Transport& transport, Catalog& catalog, store::Store& store,
        const observe::Audit& audit, const observe::ErrorKernel& errors, Outbox& outbox,
        TrustKeeper& keys, std::atomic<uint64_t>& processIds);
  ~Inbox();

  // Answers the messages whose run a stop interrupted, and returns those that waited, by method.
  std::map<std::string, std::vector<Inbound>> resume();
  // Starts the subscriber of `method` for senders `allowed`; `resumed` runs first. Its process id.
  Result<uint64_t> start(const std::string& method, const AllowedNodes& allowed,
                         std::vector<Inbound> resumed);
  // Stops the subscriber of `method` (process `id` if given), cancels its running calls and waits
  // for them (up to 30 s) and for its handler to be released. Its process id.
  Result<uint64_t> stop(const std::string& method, std::optional<uint64_t> id);
  // Stops every subscriber: running calls may finish within `grace`, then they are cancelled
  // (and answered as interrupted at the next start).
  void stopAll(std::chrono::milliseconds grace);

  // Drops a message that waits in the inbox (not running), `m` being its decoded wire; false
  // when it started meanwhile. Blocks up to 10 s for its subscriber.
  bool remove(const store::InboxEntry& entry, const message::Message& m);
  // The subscribers now, by method, for ps and metrics.
  std::map<std::string, std::shared_ptr<Subscriber>> subscribers();

  // Ends a repeating message's schedule (`run` as loadScheduled gave it): its next run does not
  // come. "removed" when it was waiting for that run; "ends with the run going now" when a run of
  // it is going or starting (a mark in the store keeps that across a restart).
  Result<std::string> cancelSchedule(const store::ScheduledRun& run);

  // Told how long each method run took. Set before the first start.
  void onHandlerDuration(std::function<void(const std::string& method, double seconds)> f) {
    handlerDuration_ = std::move(f);
  }

 private:
  void handled(const Inbound& request, CallOutput output, std::string error,
               const store::Store::RunMark* next) override;
  Status partial(const Inbound& request, std::string output) override;
  void problem(const std::string& what) override { errors_.report(what); }
  void audit(std::string_view event, const message::Message& m) override {
    audit_.record(event, m);
  }
  void announced(const message::Message& hello) override;
  void timed(const std::string& method, double seconds) override {
    if (handlerDuration_) handlerDuration_(method, seconds);
  }
  // The reply to `in`, stamped and encoded; nullopt when the request gets none (it is a reply or
  // an event).
  std::optional<Result<Outgoing>> makeReply(const Inbound& in, CallOutput output, const std::string& error,
                                            bool partial);
  // A repeating message's run after `in`, or nullopt when `in` was its last (its count reached,
  // its lifetime over).
  std::optional<store::ScheduledRun> nextRun(const Inbound& in) const;
  // On an intake thread: a scheduled run whose time came goes into the inbox and to its method.
  void release(store::ScheduledRun due);

  const InboxSettings settings_;
  boost::asio::any_io_executor executor_;
  transport::Transport& transport_;
  Catalog& catalog_;
  store::Store& store_;
  const observe::Audit& audit_;
  const observe::ErrorKernel& errors_;
  Outbox& outbox_;
  TrustKeeper& keys_;
  std::atomic<uint64_t>& processIds_;
  // Its own pools, unless the settings name shared ones.
  std::unique_ptr<HandlerPool> ownPool_;
  std::unique_ptr<HandlerPool> ownIntake_;
  HandlerPool& pool_;
  HandlerPool& intake_;  // stores what arrives (process/subscriber.hpp)
  std::function<void(const std::string& method, double seconds)> handlerDuration_;

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Subscriber>> subscribers_;  // by method
  bool stopped_ = false;
  Repeats repeats_;  // last: its timers reach the members above
};

}  // namespace steward::process
