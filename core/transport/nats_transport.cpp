#include "core/transport/nats_transport.hpp"

#include "core/util/thread_name.hpp"

#include "core/transport/nkey.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>

namespace steward::transport {

// What nats.c calls back with for one nats.c subscription.
struct SubscriptionState {
  std::shared_ptr<Transport::Handler> handler;
  bool takesStatus = false;  // no-responders are passed on (the reply inbox), else dropped
  std::mutex mutex;
  std::condition_variable cv;
  bool complete = false;
};

// One nats.c connection and what its callbacks need; lives until that connection is destroyed.
struct Link {
  NatsTransport* owner = nullptr;
  std::mutex mutex;
  std::condition_variable cv;
  bool closed = false;  // nats.c's closed callback ran, the last it runs for the connection
  std::string reason;   // why nats.c closed it
  std::atomic<bool> installed{false};      // the transport uses this connection now
  std::atomic<bool> everConnected{false};  // it reached the broker at least once
  std::atomic<bool> toldConnected{false};  // its first connection was reported

  // Tells the transport's listener, once the transport uses this connection.
  void tell(bool connected, const std::string& event) const;
  // Tells of the first connection, once: nats.c's callback and open() may both see it.
  void tellConnected();
  // nats.c closed the connection (its last callback).
  void markClosed(const std::string& why);
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

// nats.c frees a received message on its collector thread, woken for each one destroyed while it
// sleeps: one more hand-off per message. Received messages are copied out at once and destroyed
// here in batches (at most 32 or 256 KiB kept), so the collector wakes once per batch.
class ReceivedBin {
 public:
  void drop(natsMsg* msg) {
    std::vector<natsMsg*> full;
    {
      std::lock_guard lock(mutex_);
      bytes_ += static_cast<size_t>(natsMsg_GetDataLength(msg));
      kept_.push_back(msg);
      if (kept_.size() < kMessages && bytes_ < kBytes) return;
      full.swap(kept_);
      bytes_ = 0;
    }
    for (natsMsg* m : full) natsMsg_Destroy(m);
  }
  void empty() {
    std::vector<natsMsg*> all;
    {
      std::lock_guard lock(mutex_);
      all.swap(kept_);
      bytes_ = 0;
    }
    for (natsMsg* m : all) natsMsg_Destroy(m);
  }

 private:
  static constexpr size_t kMessages = 32;
  static constexpr size_t kBytes = 256 * 1024;
  std::mutex mutex_;
  std::vector<natsMsg*> kept_;
  size_t bytes_ = 0;
};

ReceivedBin& receivedBin() {
  static ReceivedBin bin;
  return bin;
}

void onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* state = static_cast<SubscriptionState*>(closure);
  Incoming in;
  in.subject = natsMsg_GetSubject(msg);
  if (const char* reply = natsMsg_GetReply(msg)) in.replyTo = reply;
  in.payload.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  in.noResponders = natsMsg_IsNoResponders(msg);
  receivedBin().drop(msg);
  // "No responders" is the broker saying nobody listens where a request went: news for the
  // sender's reply inbox (offline, or the method not started there). Anywhere else it is noise.
  if (in.noResponders && !state->takesStatus) return;
  (*state->handler)(std::move(in));
}

// Runs after the handler returned for the last time: when the subscription was unsubscribed,
// or its connection closed.
void onComplete(void* closure) {
  auto* state = static_cast<SubscriptionState*>(closure);
  std::lock_guard lock(state->mutex);
  state->complete = true;
  state->cv.notify_all();
}

}  // namespace

class NatsSubscription : public Subscription {
 public:
  NatsSubscription(NatsTransport& transport, uint64_t id) : transport_(transport), id_(id) {}
  ~NatsSubscription() override { transport_.detach(id_); }

 private:
  NatsTransport& transport_;
  uint64_t id_;
};

namespace {

void onDisconnected(natsConnection*, void* closure) {
  static_cast<Link*>(closure)->tell(false, "disconnected from broker");
}
void onReconnected(natsConnection*, void* closure) {
  auto* link = static_cast<Link*>(closure);
  link->everConnected = true;
  link->tell(true, "reconnected to broker");
}
// With retry on a failed first connect, nats.c reports that first connection here.
void onConnected(natsConnection*, void* closure) {
  auto* link = static_cast<Link*>(closure);
  link->everConnected = true;
  link->tellConnected();
}
void onClosed(natsConnection* conn, void* closure) {
  auto* link = static_cast<Link*>(closure);
  const char* why = nullptr;
  natsConnection_GetLastError(conn, &why);
  link->markClosed(why != nullptr && *why != '\0' ? why : "no reason given");
}

// "a:4222,nats://b:4222" -> {"nats://a:4222", "nats://b:4222"}; empty entries are skipped.
std::vector<std::string> toUrls(const std::string& addresses) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= addresses.size()) {
    size_t end = addresses.find(',', start);
    if (end == std::string::npos) end = addresses.size();
    std::string one = addresses.substr(start, end - start);
    if (!one.empty()) out.push_back(one.find("://") == std::string::npos ? "nats://" + one : one);
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
Status secure(natsOptions* opts, const NatsSettings& settings, const std::string& urls) {
  if (!settings.nkeySeedFile.empty()) {
    auto user = readSeedFile(settings.nkeySeedFile);
    if (!user) return user.error();
    const natsStatus s = natsOptions_SetNKeyFromSeed(opts, user->publicKey.c_str(),
                                                     settings.nkeySeedFile.c_str());
    if (s != NATS_OK) return Error{"nkeySeedFile: " + statusText(s), Code::broker};
  }
  if (!settings.rootCAPath.empty()) {
    natsStatus s = natsOptions_SetSecure(opts, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(opts, settings.rootCAPath.c_str());
    const std::string host = brokerHostName(urls);
    if (s == NATS_OK && !host.empty()) s = natsOptions_SetExpectedHostname(opts, host.c_str());
    if (s != NATS_OK) {
      return Error{"rootCAPath " + settings.rootCAPath.string() + ": " + statusText(s), Code::broker};
    }
  }
  return {};
}

}  // namespace

void Link::tell(bool connected, const std::string& event) const {
  if (installed) owner->listener_(connected, event);
}

void Link::markClosed(const std::string& why) {
  // Under the lock to the end: whoever waits for `closed` may destroy the link then.
  std::lock_guard lock(mutex);
  closed = true;
  reason = why;
  owner->linkClosed(this);
  cv.notify_all();
}

void Link::tellConnected() {
  if (installed && !toldConnected.exchange(true)) owner->listener_(true, "connected to broker " + owner->urls_);
}

Result<std::unique_ptr<NatsTransport>> NatsTransport::connect(const NatsSettings& settings,
                                                              StateListener listener) {
  std::unique_ptr<NatsTransport> t(new NatsTransport());
  t->settings_ = settings;
  t->servers_ = toUrls(settings.brokerAddress);
  if (t->servers_.empty()) return Error{"no broker address given (brokerAddress)", Code::broker};
  for (const auto& server : t->servers_) t->urls_ += (t->urls_.empty() ? "" : ",") + server;
  t->listener_ = std::move(listener);
  if (!t->listener_) t->listener_ = [](bool, const std::string&) {};
  if (auto opened = t->open(); !opened) return opened.error();

  natsInbox* inbox = nullptr;
  if (natsInbox_Create(&inbox) != NATS_OK) return Error{"cannot create a NATS inbox", Code::broker};
  // "_INBOX.<node>.<nuid>.": a broker can then let each node subscribe to its own replies only
  // (subscribe allow "_INBOX.<node>.>").
  std::string unique(inbox);
  unique.erase(0, unique.find('.') + 1);
  t->inboxPrefix_ = "_INBOX." + (settings.nodeName.empty() ? "" : settings.nodeName + ".") + unique + ".";
  natsInbox_Destroy(inbox);
  NatsTransport* self = t.get();
  auto sub = t->subscribe(t->inboxPrefix_ + "*", [self](Incoming in) {
    self->onInboxMessage(in.subject, std::move(in.payload), in.noResponders);
  }, true);
  if (!sub) return sub.error();
  t->inboxSub_ = std::move(sub).value();
  return t;
}

Status NatsTransport::open() {
  auto link = std::make_unique<Link>();
  link->owner = this;
  natsOptions* raw = nullptr;
  if (auto s = natsOptions_Create(&raw); s != NATS_OK) {
    return Error{"cannot create NATS options: " + statusText(s), Code::broker};
  }
  std::unique_ptr<natsOptions, OptionsDeleter> opts(raw);
  Link* l = link.get();
  // Every address is a server of one cluster: nats.c tries them (in random order, spreading a
  // fleet over the cluster) at start and at each reconnect, and adds those the cluster announces.
  std::vector<const char*> serverList;
  for (const auto& server : servers_) serverList.push_back(server.c_str());
  natsStatus s = natsOptions_SetServers(opts.get(), serverList.data(), static_cast<int>(serverList.size()));
  if (s == NATS_OK && !settings_.clientName.empty()) {
    s = natsOptions_SetName(opts.get(), settings_.clientName.c_str());
  }
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), settings_.reconnectWaitMs);
  // Replies and ACKs are published from callbacks; without this each waits for the flusher.
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts.get(), true);
  // Messages of every subscription are handed to the callbacks by nats.c's shared delivery
  // thread, not by a thread per subscription: an idle node keeps a few threads, and a message
  // crosses one hand-off less. The callbacks only check and queue, so one thread keeps up.
  if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(opts.get(), true);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts.get(), true, onConnected, l);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts.get(), onDisconnected, l);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts.get(), onReconnected, l);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts.get(), onClosed, l);
  if (s != NATS_OK) return Error{"invalid broker settings \"" + urls_ + "\": " + statusText(s), Code::broker};
  if (auto secured = secure(opts.get(), settings_, urls_); !secured) return secured.error();

  natsConnection* conn = nullptr;
  s = natsConnection_Connect(&conn, opts.get());
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    return Error{"cannot connect to broker " + urls_ + ": " + statusText(s), Code::broker};
  }

  // In place of the old connection, which nats.c closed: every subscription moves over.
  natsConnection* old = nullptr;
  std::unique_ptr<Link> oldLink;
  {
    std::lock_guard subsLock(subsMutex_);
    {
      std::unique_lock connLock(connMutex_);
      old = std::exchange(conn_, conn);
      oldLink = std::exchange(link_, std::move(link));
    }
    for (auto& [id, entry] : subs_) {
      if (entry.sub != nullptr) natsSubscription_Destroy(std::exchange(entry.sub, nullptr));
      entry.state.reset();
      if (auto attached = attach(entry); !attached) listener_(false, attached.error().message);
    }
  }
  {
    std::lock_guard lock(keeperMutex_);
    currentLink_ = l;
  }
  l->installed = true;
  bool closedAlready;
  {
    std::lock_guard lock(l->mutex);
    closedAlready = l->closed;
  }
  if (closedAlready) {
    linkClosed(l);
  } else if (s == NATS_NOT_YET_CONNECTED) {
    listener_(false, "broker " + urls_ + " not reachable yet; retrying in the background");
  }
  if (natsConnection_Status(conn) == NATS_CONN_STATUS_CONNECTED) l->tellConnected();
  if (old != nullptr) natsConnection_Destroy(old);
  return {};
}

Status NatsTransport::attach(Entry& entry) {
  auto state = std::make_shared<SubscriptionState>();
  state->handler = entry.handler;
  state->takesStatus = entry.takesStatus;
  natsSubscription* sub = nullptr;
  natsStatus s;
  {
    std::shared_lock connLock(connMutex_);
    s = natsConnection_Subscribe(&sub, conn_, entry.subject.c_str(), onMessage, state.get());
    // A connection nats.c gave up: the next one takes the subscription.
    if (s == NATS_CONNECTION_CLOSED) return {};
    if (s != NATS_OK) return Error{"cannot subscribe to " + entry.subject + ": " + statusText(s), Code::broker};
    // Generous pending limits: a node that was offline may receive a burst.
    natsSubscription_SetPendingLimits(sub, 1000000, 512 * 1024 * 1024);
    s = natsSubscription_SetOnCompleteCB(sub, onComplete, state.get());
    if (s != NATS_OK) {
      const bool closed = natsConnection_IsClosed(conn_);
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
      // Closed between the two calls: nats.c may still call back, so the state stays.
      keep(std::move(state));
      if (closed) return {};
      return Error{"cannot watch subscription " + entry.subject + ": " + statusText(s), Code::broker};
    }
  }
  keep(state);
  entry.sub = sub;
  entry.state = std::move(state);
  return {};
}

void NatsTransport::keep(std::shared_ptr<SubscriptionState> state) {
  // Released states are let go once the list has doubled since the last look, so keeping one
  // costs O(1) on average however many subscriptions live (steward-sim makes 80,000).
  if (states_.size() >= 2 * statesKept_) {
    std::erase_if(states_, [](const std::shared_ptr<SubscriptionState>& st) {
      std::lock_guard stLock(st->mutex);
      return st->complete && st.use_count() == 1;
    });
    statesKept_ = std::max<size_t>(states_.size(), 16);
  }
  states_.push_back(std::move(state));
}

Result<std::unique_ptr<Subscription>> NatsTransport::subscribe(const std::string& subject,
                                                               Handler handler) {
  return subscribe(subject, std::move(handler), false);
}

Result<std::unique_ptr<Subscription>> NatsTransport::subscribe(const std::string& subject,
                                                               Handler handler, bool takesStatus) {
  std::lock_guard lock(subsMutex_);
  const uint64_t id = nextSub_++;
  Entry& entry = subs_[id];
  entry.subject = subject;
  entry.handler = std::make_shared<Handler>(std::move(handler));
  entry.takesStatus = takesStatus;
  if (auto attached = attach(entry); !attached) {
    subs_.erase(id);
    return attached.error();
  }
  return std::unique_ptr<Subscription>(new NatsSubscription(*this, id));
}

void NatsTransport::detach(uint64_t id) {
  natsSubscription* sub = nullptr;
  std::shared_ptr<SubscriptionState> state;
  {
    std::lock_guard lock(subsMutex_);
    auto it = subs_.find(id);
    if (it == subs_.end()) return;
    sub = it->second.sub;
    state = std::move(it->second.state);
    subs_.erase(it);
  }
  if (sub == nullptr) return;
  // Outside the lock: a handler still running may subscribe. The subscription holds its
  // connection, so this is safe even if the keeper replaces that connection meanwhile.
  if (natsSubscription_Unsubscribe(sub) == NATS_OK) {
    std::unique_lock lock(state->mutex);
    state->cv.wait_for(lock, std::chrono::seconds(5), [&] { return state->complete; });
  }
  natsSubscription_Destroy(sub);
}

// The keeper thread starts the first time nats.c gives a connection up (it never does while it
// can reconnect), so a node whose broker is fine has no thread waiting for it.
void NatsTransport::linkClosed(const Link* link) {
  std::lock_guard lock(keeperMutex_);
  if (link != currentLink_ || stopping_) return;
  currentClosed_ = true;
  if (!keeper_.joinable()) {
    keeper_ = std::thread([this] {
      nameThisThread("stw-broker");
      keepConnected();
    });
  }
  keeperCv_.notify_all();
}

void NatsTransport::keepConnected() {
  using std::chrono::milliseconds;
  const milliseconds first(std::max(settings_.reconnectWaitMs, 1));
  const milliseconds longest(60000);
  milliseconds wait = first;
  std::unique_lock lock(keeperMutex_);
  for (;;) {
    keeperCv_.wait(lock, [&] { return stopping_ || currentClosed_; });
    if (stopping_) return;
    currentClosed_ = false;
    lock.unlock();
    // link_ changes only here (and in connect() before this thread starts).
    std::string why;
    {
      std::lock_guard linkLock(link_->mutex);
      why = link_->reason;
    }
    const bool hadConnected = link_->everConnected;
    if (hadConnected) wait = first;
    listener_(false, std::string(hadConnected ? "the NATS client gave the broker connection up ("
                                              : "the NATS client gave up connecting to the broker (") +
                         why + "); a new connection in " + std::to_string(wait.count()) + " ms");
    lock.lock();
    if (keeperCv_.wait_for(lock, wait, [&] { return stopping_; })) return;
    lock.unlock();
    wait = std::min(wait * 2, longest);
    auto opened = open();
    lock.lock();
    if (!opened) {
      lock.unlock();
      listener_(false, opened.error().message);
      lock.lock();
      currentClosed_ = true;  // the old one stays; try again after the next wait
    }
  }
}

NatsTransport::~NatsTransport() {
  std::thread keeper;
  {
    std::lock_guard lock(keeperMutex_);
    stopping_ = true;
    keeper = std::move(keeper_);
  }
  keeperCv_.notify_all();
  if (keeper.joinable()) keeper.join();
  inboxSub_.reset();
  if (conn_ != nullptr) {
    // Close runs the disconnected and closed callbacks on nats.c's own thread; wait for the
    // last of them so none runs after this object is gone.
    natsConnection_Close(conn_);
    {
      std::unique_lock lock(link_->mutex);
      link_->cv.wait_for(lock, std::chrono::seconds(5), [this] { return link_->closed; });
    }
    natsConnection_Destroy(conn_);
  }
  receivedBin().empty();
}

Status NatsTransport::publish(const std::string& subject, std::string_view payload,
                              const std::string& replyTo) {
  std::shared_lock connLock(connMutex_);
  natsStatus s;
  if (replyTo.empty()) {
    s = natsConnection_Publish(conn_, subject.c_str(), payload.data(),
                               static_cast<int>(payload.size()));
  } else {
    s = natsConnection_PublishRequest(conn_, subject.c_str(), replyTo.c_str(), payload.data(),
                                      static_cast<int>(payload.size()));
  }
  if (s != NATS_OK) return Error{"publish on " + subject + " failed: " + statusText(s), Code::broker};
  return {};
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

void NatsTransport::onInboxMessage(const std::string& subject, std::string payload,
                                   bool noResponders) {
  if (subject.size() <= inboxPrefix_.size()) return;
  const std::string_view token = std::string_view(subject).substr(inboxPrefix_.size());
  ReplyHandler handler;
  {
    std::lock_guard lock(inboxMutex_);
    auto it = inboxes_.find(token);
    if (it == inboxes_.end()) return;  // a late answer for a message already settled
    handler = it->second;
  }
  handler(std::move(payload), noResponders);
}

size_t NatsTransport::maxPayload() const {
  std::shared_lock connLock(connMutex_);
  const int64_t n = natsConnection_GetMaxPayload(conn_);
  return n > 0 ? static_cast<size_t>(n) : 1024 * 1024;
}

bool NatsTransport::connected() const {
  std::shared_lock connLock(connMutex_);
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

}  // namespace steward::transport
