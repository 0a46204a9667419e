// Transport over a NATS broker with nats.c.
#pragma once

#include "core/transport/transport.hpp"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
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

class NatsTransport : public Transport {
 public:
  // Told of every change of the connection: whether it is up now, and what happened.
  using StateListener = std::function<void(bool connected, const std::string& event)>;

  // Starts connecting. Returns at once when the broker is not up yet: the client keeps trying in
  // the background for ever, and subscriptions and publishes are sent once it is connected.
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
  NatsTransport() = default;
  static void onClosed(__natsConnection*, void* self);
  void onInboxMessage(const std::string& subject, std::string payload);

  __natsConnection* conn_ = nullptr;
  StateListener listener_;
  std::string inboxPrefix_;  // "_INBOX.<nuid>." — one wildcard subscription serves every inbox
  std::unique_ptr<Subscription> inboxSub_;
  std::mutex inboxMutex_;
  std::map<std::string, ReplyHandler, std::less<>> inboxes_;
  std::atomic<uint64_t> nextInbox_{1};
  // Set by nats.c's closed callback, the last one it runs for a connection.
  std::mutex statesMutex_;
  std::vector<std::shared_ptr<SubscriptionState>> states_;  // see subscribe()
  std::mutex closedMutex_;
  std::condition_variable closedCv_;
  bool closed_ = false;
};

}  // namespace steward::transport
