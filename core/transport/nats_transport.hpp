// Transport over a NATS broker with nats.c.
#pragma once

#include "core/transport/transport.hpp"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

struct __natsConnection;
struct __natsSubscription;

namespace steward::transport {

struct NatsSettings {
  // "host:port" or a nats:// URL; several may be given comma separated.
  std::string brokerAddress = "127.0.0.1:4222";
  std::string clientName;
  // Names this node's reply inboxes: "_INBOX.<nodeName>.…".
  std::string nodeName;
  // Wait between reconnect attempts. Reconnects go on forever.
  int reconnectWaitMs = 1000;
  // nkey authentication (the spec's nkeySeedFile): the file holding this node's user seed.
  std::filesystem::path nkeySeedFile;
  // TLS (the spec's rootCAPath): the CA that signed the broker's certificate. When the broker is
  // named by a host name, the certificate must be for that name; an IP address is checked against
  // the CA only.
  std::filesystem::path rootCAPath;
};

struct SubscriptionState;
struct Link;

class NatsTransport : public Transport {
 public:
  // Told of every change of the connection: whether it is up now, and what happened.
  using StateListener = std::function<void(bool connected, const std::string& event)>;

  // Starts connecting. Returns at once when the broker is not up yet: the client keeps trying in
  // the background for ever, and subscriptions and publishes are sent once it is connected.
  // Should nats.c give a connection up (it does after the same authentication error twice, and
  // after a first handshake that failed once the TCP connection was made), a new one is opened,
  // after a wait that doubles up to a minute, with every subscription made again on it.
  static Result<std::unique_ptr<NatsTransport>> connect(const NatsSettings& settings,
                                                        StateListener listener);
  ~NatsTransport() override;

  Status publish(const std::string& subject, std::string_view payload,
                 const std::string& replyTo = {}) override;
  Result<std::unique_ptr<Subscription>> subscribe(const std::string& subject,
                                                  Handler handler) override;
  std::unique_ptr<ReplyInbox> openInbox(ReplyHandler handler) override;
  size_t maxPayload() const override;

  bool connected() const override;

 private:
  friend class NatsSubscription;
  friend struct Link;

  // One subscription as the transport's user sees it; `sub` is its nats.c subscription on the
  // current connection (null while none could be made), `state` what that one calls back with.
  struct Entry {
    std::string subject;
    std::shared_ptr<Handler> handler;
    bool takesStatus = false;  // the reply inbox: told of no-responders
    __natsSubscription* sub = nullptr;
    std::shared_ptr<SubscriptionState> state;
  };

  NatsTransport() = default;
  // Opens a connection and puts it in place of the current one, subscriptions included.
  Status open();
  // `takesStatus`: the handler is also told of no-responders (the reply inbox's subscription).
  Result<std::unique_ptr<Subscription>> subscribe(const std::string& subject, Handler handler,
                                                  bool takesStatus);
  // Subscribes `entry` on the current connection. subsMutex_ held.
  Status attach(Entry& entry);
  void detach(uint64_t id);
  // Holds `state` while nats.c may call back with it. subsMutex_ held.
  void keep(std::shared_ptr<SubscriptionState> state);
  // The keeper thread: opens a new connection whenever nats.c gave the current one up.
  void keepConnected();
  void linkClosed(const Link* link);
  void onInboxMessage(const std::string& subject, std::string payload, bool noResponders);

  NatsSettings settings_;
  std::vector<std::string> servers_;  // the broker addresses as nats:// URLs, one per server
  std::string urls_;                  // the same, comma separated, for messages
  StateListener listener_;

  // Lock order: subsMutex_, then connMutex_.
  mutable std::shared_mutex connMutex_;  // shared to use conn_, exclusive to replace it
  __natsConnection* conn_ = nullptr;
  std::unique_ptr<Link> link_;

  std::mutex subsMutex_;
  std::map<uint64_t, Entry> subs_;
  uint64_t nextSub_ = 1;
  // nats.c may call back until a subscription completes, and never completes one whose
  // connection it closed: each state is kept until complete and released, or the transport goes.
  std::vector<std::shared_ptr<SubscriptionState>> states_;
  size_t statesKept_ = 16;  // states_ after its last pruning

  std::string inboxPrefix_;  // "_INBOX.<node>.<nuid>." — one wildcard subscription serves every inbox
  std::unique_ptr<Subscription> inboxSub_;
  std::mutex inboxMutex_;
  std::map<std::string, ReplyHandler, std::less<>> inboxes_;
  std::atomic<uint64_t> nextInbox_{1};

  std::mutex keeperMutex_;
  std::condition_variable keeperCv_;
  const Link* currentLink_ = nullptr;
  bool currentClosed_ = false;
  bool stopping_ = false;
  std::thread keeper_;
};

}  // namespace steward::transport
