#include "core/transport/nats_transport.hpp"

#include "core/security/nkey.hpp"

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>

namespace steward::transport {

// What nats.c calls back with for one subscription.
struct SubscriptionState {
  Transport::Handler handler;
  std::mutex mutex;
  std::condition_variable cv;
  bool complete = false;
};

namespace {

std::string statusText(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  natsStatus ignored;
  const char* last = nats_GetLastError(&ignored);
  if (last != nullptr && *last != '\0') text += std::string(" (") + last + ")";
  return text;
}

struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};

// Owned by the subscription's dispatcher: freed by nats.c's on-complete callback, which runs
// after the handler returned for the last time, so a late message never sees freed state.

void onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* state = static_cast<SubscriptionState*>(closure);
  Incoming in;
  in.subject = natsMsg_GetSubject(msg);
  if (const char* reply = natsMsg_GetReply(msg)) in.replyTo = reply;
  in.payload.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  const bool noResponders = natsMsg_IsNoResponders(msg);
  natsMsg_Destroy(msg);
  // "No responders" is the broker saying nobody listens; the sender's ACK timer handles that.
  if (noResponders) return;
  state->handler(std::move(in));
}

void onComplete(void* closure) {
  auto* state = static_cast<SubscriptionState*>(closure);
  {
    std::lock_guard lock(state->mutex);
    state->complete = true;
  }
  state->cv.notify_all();
}

class NatsSubscription : public Subscription {
 public:
  NatsSubscription(natsSubscription* sub, std::shared_ptr<SubscriptionState> state)
      : sub_(sub), state_(std::move(state)) {}
  ~NatsSubscription() override {
    if (natsSubscription_Unsubscribe(sub_) == NATS_OK) {
      std::unique_lock lock(state_->mutex);
      state_->cv.wait_for(lock, std::chrono::seconds(5), [&] { return state_->complete; });
    }
    natsSubscription_Destroy(sub_);
  }

 private:
  natsSubscription* sub_;
  std::shared_ptr<SubscriptionState> state_;
};

void onDisconnected(natsConnection*, void* closure) {
  (*static_cast<NatsTransport::StateListener*>(closure))(false, "disconnected from broker");
}
void onReconnected(natsConnection*, void* closure) {
  (*static_cast<NatsTransport::StateListener*>(closure))(true, "reconnected to broker");
}
void onConnected(natsConnection*, void* closure) {
  (*static_cast<NatsTransport::StateListener*>(closure))(true, "connected to broker");
}

std::string toUrls(const std::string& addresses) {
  std::string out;
  size_t start = 0;
  while (start <= addresses.size()) {
    size_t end = addresses.find(',', start);
    if (end == std::string::npos) end = addresses.size();
    std::string one = addresses.substr(start, end - start);
    if (!one.empty()) {
      if (one.find("://") == std::string::npos) one = "nats://" + one;
      if (!out.empty()) out += ",";
      out += one;
    }
    start = end + 1;
  }
  return out;
}

// The host of the first broker address, when it is a name rather than an IP address.
std::string brokerHostName(const std::string& urls) {
  std::string first = urls.substr(0, urls.find(','));
  if (auto scheme = first.find("://"); scheme != std::string::npos) first.erase(0, scheme + 3);
  if (auto at = first.rfind('@'); at != std::string::npos) first.erase(0, at + 1);
  if (!first.empty() && first[0] == '[') return {};  // IPv6 literal
  first = first.substr(0, first.rfind(':'));
  const bool ipv4 = !first.empty() && first.find_first_not_of("0123456789.") == std::string::npos;
  return ipv4 ? std::string() : first;
}

// nkey authentication and TLS, as the settings ask.
Status secure(natsOptions* opts, const NatsSettings& settings) {
  if (!settings.nkeySeedFile.empty()) {
    auto user = security::readSeedFile(settings.nkeySeedFile);
    if (!user) return user.error();
    const natsStatus s = natsOptions_SetNKeyFromSeed(opts, user->publicKey.c_str(),
                                                     settings.nkeySeedFile.c_str());
    if (s != NATS_OK) return Error{"nkeySeedFile: " + statusText(s)};
  }
  if (!settings.rootCAPath.empty()) {
    natsStatus s = natsOptions_SetSecure(opts, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(opts, settings.rootCAPath.c_str());
    const std::string host = brokerHostName(toUrls(settings.brokerAddress));
    if (s == NATS_OK && !host.empty()) s = natsOptions_SetExpectedHostname(opts, host.c_str());
    if (s != NATS_OK) {
      return Error{"rootCAPath " + settings.rootCAPath.string() + ": " + statusText(s) + " " +
                   nats_GetLastError(nullptr)};
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<NatsTransport>> NatsTransport::connect(const NatsSettings& settings,
                                                              StateListener listener) {
  std::unique_ptr<NatsTransport> t(new NatsTransport());
  t->listener_ = std::move(listener);
  if (!t->listener_) t->listener_ = [](bool, const std::string&) {};

  natsOptions* raw = nullptr;
  if (auto s = natsOptions_Create(&raw); s != NATS_OK) {
    return Error{"cannot create NATS options: " + statusText(s)};
  }
  std::unique_ptr<natsOptions, OptionsDeleter> opts(raw);
  const std::string urls = toUrls(settings.brokerAddress);
  natsStatus s = natsOptions_SetURL(opts.get(), urls.c_str());
  if (s == NATS_OK && !settings.clientName.empty()) {
    s = natsOptions_SetName(opts.get(), settings.clientName.c_str());
  }
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), settings.reconnectWaitMs);
  // Replies and ACKs are published from callbacks; without this each waits for the flusher.
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts.get(), true);
  if (s == NATS_OK) {
    s = natsOptions_SetRetryOnFailedConnect(opts.get(), true, onConnected, &t->listener_);
  }
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts.get(), onDisconnected, &t->listener_);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts.get(), onReconnected, &t->listener_);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts.get(), &NatsTransport::onClosed, t.get());
  if (s != NATS_OK) return Error{"invalid broker settings \"" + urls + "\": " + statusText(s)};
  if (auto secured = secure(opts.get(), settings); !secured) return secured.error();

  s = natsConnection_Connect(&t->conn_, opts.get());
  if (s == NATS_NOT_YET_CONNECTED) {
    t->listener_(false, "broker " + urls + " not reachable yet; retrying in the background");
  } else if (s != NATS_OK) {
    return Error{"cannot connect to broker " + urls + ": " + statusText(s)};
  } else {
    t->listener_(true, "connected to broker " + urls);
  }

  natsInbox* inbox = nullptr;
  if (natsInbox_Create(&inbox) != NATS_OK) return Error{"cannot create a NATS inbox"};
  // "_INBOX.<node>.<nuid>.": a broker can then let each node subscribe to its own replies only
  // (subscribe allow "_INBOX.<node>.>").
  std::string unique(inbox);
  unique.erase(0, unique.find('.') + 1);
  t->inboxPrefix_ = "_INBOX." + (settings.nodeName.empty() ? "" : settings.nodeName + ".") + unique + ".";
  natsInbox_Destroy(inbox);
  NatsTransport* self = t.get();
  auto sub = t->subscribe(t->inboxPrefix_ + "*", [self](Incoming in) {
    self->onInboxMessage(in.subject, std::move(in.payload));
  });
  if (!sub) return sub.error();
  t->inboxSub_ = std::move(sub).value();
  return t;
}

void NatsTransport::onClosed(natsConnection*, void* self) {
  auto* t = static_cast<NatsTransport*>(self);
  {
    std::lock_guard lock(t->closedMutex_);
    t->closed_ = true;
  }
  t->closedCv_.notify_all();
}

NatsTransport::~NatsTransport() {
  inboxSub_.reset();
  if (conn_ != nullptr) {
    // Close runs the disconnected and closed callbacks on nats.c's own thread; wait for the
    // last of them so none runs after this object is gone.
    natsConnection_Close(conn_);
    std::unique_lock lock(closedMutex_);
    closedCv_.wait_for(lock, std::chrono::seconds(5), [this] { return closed_; });
    lock.unlock();
    natsConnection_Destroy(conn_);
  }
}

Status NatsTransport::publish(const std::string& subject, std::string_view payload,
                              const std::string& replyTo) {
  natsStatus s;
  if (replyTo.empty()) {
    s = natsConnection_Publish(conn_, subject.c_str(), payload.data(),
                               static_cast<int>(payload.size()));
  } else {
    s = natsConnection_PublishRequest(conn_, subject.c_str(), replyTo.c_str(), payload.data(),
                                      static_cast<int>(payload.size()));
  }
  if (s != NATS_OK) return Error{"publish on " + subject + " failed: " + statusText(s)};
  return {};
}

Result<std::unique_ptr<Subscription>> NatsTransport::subscribe(const std::string& subject,
                                                               Handler handler) {
  auto state = std::make_shared<SubscriptionState>();
  state->handler = std::move(handler);
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_Subscribe(&sub, conn_, subject.c_str(), onMessage, state.get());
  if (s != NATS_OK) return Error{"cannot subscribe to " + subject + ": " + statusText(s)};
  // nats.c may call back until the subscription completes, and never completes it when the
  // connection closes under it (e.g. the broker refused our credentials): the transport keeps
  // each state until it is complete and released, or the connection is gone.
  {
    std::lock_guard lock(statesMutex_);
    std::erase_if(states_, [](const std::shared_ptr<SubscriptionState>& st) {
      std::lock_guard stLock(st->mutex);
      return st->complete && st.use_count() == 1;
    });
    states_.push_back(state);
  }
  SubscriptionState* closure = state.get();
  // Generous pending limits: a node that was offline may receive a burst.
  natsSubscription_SetPendingLimits(sub, 1000000, 512 * 1024 * 1024);
  if (natsSubscription_SetOnCompleteCB(sub, onComplete, closure) != NATS_OK) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return Error{"cannot watch subscription " + subject};
  }
  return std::unique_ptr<Subscription>(new NatsSubscription(sub, std::move(state)));
}

std::unique_ptr<ReplyInbox> NatsTransport::openInbox(ReplyHandler handler) {
  std::string token = std::to_string(nextInbox_++);
  {
    std::lock_guard lock(inboxMutex_);
    inboxes_.emplace(token, std::move(handler));
  }
  return std::make_unique<ReplyInbox>(inboxPrefix_ + token, [this, token] {
    std::lock_guard lock(inboxMutex_);
    inboxes_.erase(token);
  });
}

void NatsTransport::onInboxMessage(const std::string& subject, std::string payload) {
  if (subject.size() <= inboxPrefix_.size()) return;
  const std::string_view token = std::string_view(subject).substr(inboxPrefix_.size());
  ReplyHandler handler;
  {
    std::lock_guard lock(inboxMutex_);
    auto it = inboxes_.find(token);
    if (it == inboxes_.end()) return;  // a late answer for a message already settled
    handler = it->second;
  }
  handler(std::move(payload));
}

size_t NatsTransport::maxPayload() const {
  const int64_t n = natsConnection_GetMaxPayload(conn_);
  return n > 0 ? static_cast<size_t>(n) : 1024 * 1024;
}

bool NatsTransport::connected() const {
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

}  // namespace steward::transport
